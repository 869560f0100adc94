"""`sopdesk demo`: load seeded, realistic customers and cases for every built-in SOP."""

from __future__ import annotations

from typing import Annotated

import typer

from sopdesk.actions.demo import demo_loaded, do_load_demo
from sopdesk.cli.app import app
from sopdesk.cli.db import open_session
from sopdesk.settings import Settings


@app.command("demo")
def demo_command(
    seed: Annotated[int, typer.Option("--seed", help="Seed for names and choices.")] = 7,
    if_new: Annotated[
        bool,
        typer.Option(
            "--if-new", help="If the demo is already loaded, say so and succeed (for make demo)."
        ),
    ] = False,
) -> None:
    """Load a few weeks of a small shop's support into the database (after 'sopdesk init').

    Open, pending, breached and resolved cases, follow-ups sent and due, a repeat
    customer, onboarding and loyalty cases: every SOP of the built-in library runs.
    Refuses to load twice.
    """
    with open_session() as session:
        if if_new and demo_loaded(session):
            typer.echo("the demo data is already loaded; nothing to do")
            return
        report = do_load_demo(session, seed=seed, settings=Settings())
    typer.echo(
        f"loaded {len(report.cases)} cases and {report.customers} new customers; "
        f"{report.timers_fired} timers fired; SOPs: {', '.join(sorted(report.sops))}"
    )
    typer.echo("try: sopdesk case list   then   sopdesk case show " + report.cases[0])
