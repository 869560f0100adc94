"""sopdesk: customer-service SOPs that run.

One SOP document trains the team, drives every case it applies to and measures
whether it works. See DESIGN notes in docs/architecture.md for the layout.
"""

__version__ = "0.1.0"
