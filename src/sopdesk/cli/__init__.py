"""The `sopdesk` command line: a thin shell over the core and the actions layer.

Errors are translated here and only here: a `SopdeskError` prints `Error: ...` and exits
1; a setting that does not parse names its environment variable and exits 1 (not its
value: it may be a password); an unexpected exception prints a one-line message (the
traceback only with SOPDESK_DEBUG=1), never customer data.
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

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
from sopdesk.settings import Settings, settings_problems


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
        if isinstance(exc, SettingsError) or (
            isinstance(exc, ValidationError) and exc.title == Settings.__name__
        ):
            for problem in settings_problems(exc):
                typer.echo(f"Error: {problem}", err=True)
            typer.echo("  hint: fix the environment variable and run again", err=True)
            sys.exit(1)
        if os.environ.get("SOPDESK_DEBUG"):
            raise
        typer.echo(
            f"Error: unexpected {type(exc).__name__}; run again with SOPDESK_DEBUG=1 "
            "for details and report it",
            err=True,
        )
        sys.exit(2)
