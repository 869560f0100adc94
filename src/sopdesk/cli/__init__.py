"""The `sopdesk` command line: a thin shell over the core and the actions layer.

Errors are translated here and only here: a `SopdeskError` prints `Error: ...` and exits
1; an unexpected exception prints a one-line message (the traceback only with
SOPDESK_DEBUG=1), never customer data.
"""

from __future__ import annotations

import os
import sys

import typer

# Each module registers its commands on the shared apps when imported.
from sopdesk.cli import (  # noqa: F401  (imported for their commands)
    calendar,
    cases,
    customers,
    db,
    demo,
    mail,
    report,
    serve,
    sop_import,
    sop_library,
    sop_lint,
    sop_render,
    sop_versions,
    users,
    worker,
)
from sopdesk.cli.app import app
from sopdesk.errors import SopdeskError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `sopdesk` console script.

    Click's standalone mode handles usage errors (exit 2), `Exit(n)` and Ctrl-C; what
    escapes it is either a `SopdeskError` (exit 1 with its message) or a bug.
    """
    try:
        app(args=argv, prog_name="sopdesk")
    except SopdeskError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("SOPDESK_DEBUG"):
            raise
        typer.echo(
            f"Error: unexpected {type(exc).__name__}; run again with SOPDESK_DEBUG=1 "
            "for details and report it",
            err=True,
        )
        sys.exit(2)
