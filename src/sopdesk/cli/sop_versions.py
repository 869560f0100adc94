"""CLI commands: sop_versions (being written)."""
