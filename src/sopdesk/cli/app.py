"""The Typer application objects every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="sopdesk",
    help="Customer-service SOPs that run: documents, cases, deadlines, measurement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sop_app = typer.Typer(
    help="Write, lint, score, import, version and render SOP documents.", no_args_is_help=True
)
calendar_app = typer.Typer(help="Business calendars and deadline math.", no_args_is_help=True)

app.add_typer(sop_app, name="sop")
app.add_typer(calendar_app, name="calendar")
