"""Every write: load state, ask the pure core, commit the change in one transaction.

The web, API, CLI, mail intake and worker all call these `do_*` functions; nothing
else writes to user-facing tables.
"""
