"""CLI commands: sop_lint (being written)."""
