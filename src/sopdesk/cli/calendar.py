"""CLI commands: calendar (being written)."""
