"""`sopdesk case open|list|show|merge|start-sop|import`: cases from the command line.

Each command opens the configured database, calls one action from
`sopdesk.actions`, and prints the result (`--format json` for machines).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from sopdesk.actions.case_import import do_import_cases
from sopdesk.actions.case_merge import do_merge_cases
from sopdesk.actions.case_reads import CaseFilters, case_timeline, get_case, list_cases
from sopdesk.actions.cases import do_open_case, do_start_sop
from sopdesk.channels.csv_import import decode
from sopdesk.cli.app import app
from sopdesk.cli.db import open_session
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow

case_app = typer.Typer(
    help="Open, list, show, merge, take out of triage and import customer cases.",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


class ImportFormat(StrEnum):
    ZENDESK = "zendesk"
    FRESHDESK = "freshdesk"
    SOPDESK = "sopdesk"


FORMAT = typer.Option(Format.TEXT, "--format", help="Output format.")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _summary(case: CaseRow) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "status": case.status,
        "priority": case.priority,
        "subject": case.subject,
        "customer": case.customer.email,
        "sop": case.sop_id,
        "case_type": case.case_type,
        "assignee": case.assignee,
        "group": case.group_name,
        "opened_at": case.opened_at.isoformat(),
        "next_due_at": case.next_due_at.isoformat() if case.next_due_at else None,
    }


@case_app.command("open")
def open_command(
    email: Annotated[str, typer.Option("--email", help="The customer's e-mail address.")],
    subject: Annotated[str, typer.Option("--subject", help="What the case is about.")],
    name: Annotated[str, typer.Option("--name", help="The customer's name.")] = "",
    body: Annotated[str, typer.Option("--body", help="The customer's message.")] = "",
    channel: Annotated[str, typer.Option("--channel", help="email, web, api, phone…")] = "api",
    case_type: Annotated[
        str | None, typer.Option("--type", help="Case type, e.g. return (skips guessing).")
    ] = None,
    sop: Annotated[str | None, typer.Option("--sop", help="Run this SOP (skips routing).")] = None,
    fmt: Format = FORMAT,
) -> None:
    """Open a case: the customer is created if new, the case is routed and its SOP starts."""
    with open_session() as session:
        case = do_open_case(
            session,
            customer_email=email,
            customer_name=name,
            subject=subject,
            body=body,
            channel=channel,
            case_type=case_type,
            sop_id=sop,
            settings=Settings(),
        )
        if fmt is Format.JSON:
            typer.echo(json.dumps(_summary(case), indent=2))
            return
        typer.echo(f"opened {case.reference}: {case.subject}")
        typer.echo(f"  {case.route.get('explain', '')}")


@case_app.command("list")
def list_command(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Only this agent.")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Include resolved and closed cases.")
    ] = False,
    triage: Annotated[
        bool, typer.Option("--triage", help="Only cases no SOP runs on (see start-sop).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many.")] = 50,
    fmt: Format = FORMAT,
) -> None:
    """Cases, most urgent first (earliest due first); open cases unless --all or --status."""
    filters = CaseFilters(
        status=tuple(status or ()),
        assignee=assignee,
        open_only=not (everything or status),
        triage=triage,
    )
    with open_session() as session:
        page = list_cases(session, filters, limit=limit)
        rows = [_summary(case) for case in page.cases]
    if fmt is Format.JSON:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no cases")
        return
    for row in rows:
        due = _when(_parse(row["next_due_at"]))
        typer.echo(
            f"{row['reference']:<9} {row['status']:<8} {row['priority']:<7} due {due:<16} "
            f"{(row['sop'] or 'triage'):<22} {row['customer']:<28} {row['subject'][:50]}"
        )


def _parse(value: str | None) -> Any:
    return datetime.fromisoformat(value) if value else None


@case_app.command("show")
def show_command(
    reference: Annotated[str, typer.Argument(help="The case reference, e.g. SD-12.")],
    fmt: Format = FORMAT,
) -> None:
    """One case: its route, steps with due times, messages, events and queued mail."""
    with open_session() as session:
        timeline = case_timeline(session, reference)
        if fmt is Format.JSON:
            typer.echo(json.dumps(_timeline_json(timeline), indent=2, ensure_ascii=False))
            return
        _print_timeline(timeline)


@case_app.command("merge")
def merge_command(
    keep: Annotated[str, typer.Argument(help="The case that goes on, e.g. SD-12.")],
    other: Annotated[str, typer.Argument(help="The case to merge into it, e.g. SD-15.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; a merge is final.")] = False,
    fmt: Format = FORMAT,
) -> None:
    """Merge OTHER into KEEP: the customer wrote twice about the same thing.

    OTHER's messages and files move to KEEP, with an internal note; OTHER is closed and
    its SOP stops. Mail and links naming OTHER reach KEEP. Both must be the same
    customer's.
    """
    if not yes:
        typer.confirm(f"Merge case {other} into case {keep}? This cannot be undone", abort=True)
    with open_session() as session:
        merged = do_merge_cases(session, keep, other, by="cli", settings=Settings())
        kept, gone = merged.case, merged.merged
        if fmt is Format.JSON:
            out = {"case": kept.reference, "merged": gone.reference, "messages": merged.messages}
            typer.echo(json.dumps(out))
            return
        typer.echo(
            f"merged {gone.reference} into {kept.reference}: {merged.messages} message(s) "
            f"moved; {gone.reference} is closed"
        )


@case_app.command("start-sop")
def start_sop_command(
    reference: Annotated[str, typer.Argument(help="A case in triage, e.g. SD-12.")],
    sop_id: Annotated[str, typer.Argument(help="The published SOP to run, e.g. inquiry-response.")],
    fmt: Format = FORMAT,
) -> None:
    """Take a case out of triage: run SOP_ID on it (its acknowledgement goes out, its
    clocks count from now). `case list` shows the cases in triage."""
    with open_session() as session:
        case = get_case(session, reference)
        case = do_start_sop(session, case.id, sop_id, by="cli", settings=Settings())
        if fmt is Format.JSON:
            typer.echo(json.dumps(_summary(case)))
            return
        typer.echo(f"{case.reference} runs {case.sop_id} from now on")


def _timeline_json(timeline: Any) -> dict[str, Any]:
    return {
        **_summary(timeline.case),
        "route": timeline.case.route,
        "steps": [
            {"step": s.step_id, "status": s.status, "due_at": _iso(s.due_at), "owner": s.owner}
            for s in timeline.steps
        ],
        "messages": [
            {"kind": m.kind, "author": m.author, "subject": m.subject, "at": _iso(m.created_at)}
            for m in timeline.messages
        ],
        "events": [{"kind": e.kind, "at": _iso(e.at), "data": e.data} for e in timeline.events],
        "outbox": [{"key": o.key, "status": o.status} for o in timeline.outbox],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _print_timeline(timeline: Any) -> None:
    case = timeline.case
    typer.echo(f"{case.reference}  {case.subject}")
    typer.echo(
        f"  {case.status}, {case.priority} priority, customer {case.customer.email}, "
        f"assignee {case.assignee or '-'}, SOP {case.sop_id or '-'}"
    )
    typer.echo(f"  {case.route.get('explain', '')}")
    if timeline.steps:
        typer.echo("steps:")
        for step in timeline.steps:
            typer.echo(f"  {step.status:<10} {step.step_id:<24} due {_when(step.due_at)}")
    typer.echo("messages:")
    for message in timeline.messages:
        typer.echo(f"  {_when(message.created_at)} {message.kind:<8} {message.subject[:60]}")
    typer.echo("events:")
    for event in timeline.events:
        typer.echo(f"  {_when(event.at)} {event.kind}")
    if timeline.outbox:
        typer.echo("outbox:")
        for row in timeline.outbox:
            typer.echo(f"  {row.status:<8} {row.key}")


@case_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A CSV export of tickets.", exists=True)],
    source_format: Annotated[
        ImportFormat | None,
        typer.Option("--format", help="The export's format (default: detected)."),
    ] = None,
) -> None:
    """Import tickets from a Zendesk, Freshdesk or sopdesk CSV; bad rows are reported."""
    if not file.is_file():
        raise InvalidInput(f"{file} is not a file")
    text = decode(file.read_bytes())
    with open_session() as session:
        report = do_import_cases(
            session, text, source_format=source_format.value if source_format else None
        )
    typer.echo(
        f"{report.format}: {report.rows} rows, {len(report.imported)} imported, "
        f"{len(report.duplicates)} already imported, {len(report.rejected_rows)} rejected"
    )
    for problem in report.problems:
        typer.echo(f"  {file.name}: {problem}")
