"""CLI commands: db (being written)."""
