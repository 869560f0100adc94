"""CLI commands: sop_render (being written)."""
