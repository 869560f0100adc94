"""CLI commands: sop_import (being written)."""
