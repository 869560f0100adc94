"""CLI commands: sop_library (being written)."""
