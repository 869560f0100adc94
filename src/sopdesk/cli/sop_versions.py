"""`sopdesk sop list|show|versions|history|diff|submit|publish|retire|reviewed|due|sync|export`.

The governance commands: SOPs stored in the database with immutable published
versions. Each command opens the configured database, calls one action, and prints
the result; `--format json` gives machine-readable output where a list is printed.
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from sopdesk.actions import sops
from sopdesk.actions.base import utcnow
from sopdesk.actions.sop_files import Outcome, SyncReport, do_sync_directory, export_directory
from sopdesk.actions.sops import LibraryRow
from sopdesk.cli.app import sop_app
from sopdesk.cli.db import open_session
from sopdesk.errors import InvalidInput
from sopdesk.sop.diff import diff_texts
from sopdesk.store.tables import SopVersion


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


class ExportStatus(StrEnum):
    PUBLISHED = "published"
    ALL = "all"


FORMAT = typer.Option(Format.TEXT, "--format", help="Output format.")
VERSION = typer.Option(None, "--version", "-v", min=1, help="Version number.")
NOTE = typer.Option("", "--note", "-m", help="A note for the audit log.")


def _me() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


BY = typer.Option(None, "--by", help="Who does this (default: your user name).")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _version_dict(row: SopVersion) -> dict[str, Any]:
    return {
        "id": row.sop_id,
        "version": row.version,
        "status": row.status,
        "title": row.title,
        "author": row.author,
        "note": row.note,
        "material": row.material,
        "parses": row.parses,
        "content_hash": row.content_hash,
        "created_at": row.created_at.isoformat(),
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "approved_by": row.approved_by,
        "review_due": row.review_due.isoformat() if row.review_due else None,
    }


def _version_label(row: LibraryRow) -> str:
    shown = str(row.published_version) if row.published_version else "-"
    if row.latest_version != row.published_version and row.latest_status != "retired":
        shown += f" (v{row.latest_version} {row.latest_status})"
    return shown


@sop_app.command("list")
def list_command(output: Format = FORMAT) -> None:
    """List the SOPs in the database: status, version in force, review date."""
    with open_session() as session:
        rows = sops.list_library(session)
    if output is Format.JSON:
        _echo_json([row.as_dict() for row in rows])
        return
    if not rows:
        typer.echo("No SOPs yet. Run 'sopdesk init' or 'sopdesk sop sync DIR'.")
        return
    table = [("ID", "STATUS", "VERSION", "REVIEW DUE", "OWNER", "TITLE")]
    table += [
        (
            r.id,
            r.status,
            _version_label(r),
            r.review_due.isoformat() if r.review_due else "-",
            r.owner,
            r.title,
        )
        for r in rows
    ]
    _print_table(table)


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]).rstrip())


@sop_app.command("show")
def show_command(
    sop_id: str = typer.Argument(..., help="The SOP id."),
    version: int | None = VERSION,
    raw: bool = typer.Option(False, "--raw", help="Print only the exact source text."),
    output: Format = FORMAT,
) -> None:
    """Show a version (default: the one in force, else the latest) with its text."""
    with open_session() as session:
        row = sops.get_version(session, sop_id, version)
    if raw:
        typer.echo(row.source, nl=False)
        return
    if output is Format.JSON:
        _echo_json({**_version_dict(row), "source": row.source})
        return
    typer.echo(f"{row.sop_id} version {row.version} ({row.status}) - {row.title or '?'}")
    typer.echo(f"  author {row.author}, {_when(row.created_at)}: {row.note or '(no note)'}")
    if row.published_at:
        kind = "material change" if row.material else "editorial change"
        typer.echo(
            f"  published {_when(row.published_at)} by {row.approved_by} ({kind}); "
            f"review due {row.review_due}"
        )
    typer.echo("")
    typer.echo(row.source, nl=not row.source.endswith("\n"))


@sop_app.command("versions")
def versions_command(
    sop_id: str = typer.Argument(..., help="The SOP id."), output: Format = FORMAT
) -> None:
    """List every version of an SOP with its status, author and note."""
    with open_session() as session:
        rows = sops.list_versions(session, sop_id)
    if output is Format.JSON:
        _echo_json([_version_dict(row) for row in rows])
        return
    table = [("VERSION", "STATUS", "CREATED", "AUTHOR", "PUBLISHED", "APPROVER", "CHANGE", "NOTE")]
    table += [
        (
            str(r.version),
            r.status,
            _when(r.created_at),
            r.author,
            _when(r.published_at),
            r.approved_by or "-",
            ("material" if r.material else "editorial") if r.published_at else "-",
            r.note or "-",
        )
        for r in rows
    ]
    _print_table(table)


@sop_app.command("history")
def history_command(
    sop_id: str = typer.Argument(..., help="The SOP id."), output: Format = FORMAT
) -> None:
    """The audit log of an SOP: who did what to which version, when."""
    with open_session() as session:
        events = sops.list_events(session, sop_id)
    if output is Format.JSON:
        _echo_json(
            [
                {
                    "at": e.at.isoformat(),
                    "version": e.version,
                    "action": e.action,
                    "actor": e.actor,
                    "note": e.note,
                    "data": e.data,
                }
                for e in events
            ]
        )
        return
    for e in events:
        note = f": {e.note}" if e.note else ""
        typer.echo(f"{_when(e.at)}  v{e.version}  {e.action:<10}  {e.actor}{note}")


@sop_app.command("diff")
def diff_command(
    first: str = typer.Argument(..., help="An SOP id, or the first file."),
    second: str = typer.Argument(..., help="The first version number, or the second file."),
    third: str | None = typer.Argument(None, help="The second version number."),
) -> None:
    """Compare two versions (`diff ID V1 V2`) or two files (`diff A.md B.md`)."""
    if third is None:
        old, new = Path(first), Path(second)
        for path in (old, new):
            if not path.is_file():
                raise InvalidInput(
                    f"{path} is not a file",
                    hint="compare two files, or an SOP's versions: sopdesk sop diff ID 1 2",
                )
        result = diff_texts(
            _read_text(old), _read_text(new), old_label=str(old), new_label=str(new)
        )
    else:
        v1, v2 = _version_number(second), _version_number(third)
        with open_session() as session:
            a = sops.get_version(session, first, v1)
            b = sops.get_version(session, first, v2)
        result = diff_texts(
            a.source, b.source, old_label=f"{first} v{v1} ({a.status})",
            new_label=f"{first} v{v2} ({b.status})",
        )  # fmt: skip
    typer.echo(result.render(), nl=False)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text", hint="re-save it as UTF-8") from None


def _version_number(text: str) -> int:
    number = text.removeprefix("v")
    if not number.isdigit() or int(number) < 1:
        raise InvalidInput(f"{text!r} is not a version number", hint="e.g. 1, 2 or v3")
    return int(number)


@sop_app.command("submit")
def submit_command(
    sop_id: str = typer.Argument(..., help="The SOP id."),
    version: int | None = VERSION,
    by: str | None = BY,
    note: str = NOTE,
) -> None:
    """Send the draft (or --version N) for review; its text must parse."""
    with open_session() as session:
        row = sops.do_submit_for_review(session, sop_id, version, actor=by or _me(), note=note)
    typer.echo(f"{row.sop_id} version {row.version} is now in review.")


@sop_app.command("publish")
def publish_command(
    sop_id: str = typer.Argument(..., help="The SOP id."),
    version: int | None = VERSION,
    approver: str = typer.Option(..., "--approver", help="Who approves this version."),
    note: str = NOTE,
    material: bool = typer.Option(
        True,
        "--material/--editorial",
        help="Material: the team must re-read it. Editorial: wording only.",
    ),
) -> None:
    """Publish the open version (or --version N); it supersedes the version in force."""
    with open_session() as session:
        before = sops.get_sop(session, sop_id).published_version
        row = sops.do_publish(
            session, sop_id, version, approver=approver, note=note, material=material
        )
    kind = "material change" if row.material else "editorial change"
    typer.echo(
        f"Published {row.sop_id} version {row.version} ({kind}), approved by "
        f"{row.approved_by}; review due {row.review_due}."
    )
    if before is not None:
        typer.echo(f"Version {before} is retired.")


@sop_app.command("retire")
def retire_command(
    sop_id: str = typer.Argument(..., help="The SOP id."),
    version: int | None = VERSION,
    by: str | None = BY,
    note: str = NOTE,
) -> None:
    """Retire the SOP (every live version), or only --version N."""
    with open_session() as session:
        rows = sops.do_retire(session, sop_id, version, actor=by or _me(), note=note)
    numbers = ", ".join(str(row.version) for row in rows)
    typer.echo(f"Retired {sop_id} version{'s' if len(rows) > 1 else ''} {numbers}.")


@sop_app.command("reviewed")
def reviewed_command(
    sop_id: str = typer.Argument(..., help="The SOP id."),
    by: str | None = BY,
    note: str = NOTE,
) -> None:
    """Record a review that changed nothing; the next review is one cadence away."""
    with open_session() as session:
        row = sops.do_mark_reviewed(session, sop_id, reviewer=by or _me(), note=note)
    typer.echo(f"{sop_id} version {row.version} reviewed; next review due {row.review_due}.")


@sop_app.command("due")
def due_command(
    today: str | None = typer.Option(None, "--today", help="Date to check (YYYY-MM-DD)."),
    output: Format = FORMAT,
) -> None:
    """List published SOPs whose review is due on or before today."""
    day = _parse_day(today) if today else utcnow().date()  # review dates are UTC days
    with open_session() as session:
        rows = sops.due_reviews(session, day)
    if output is Format.JSON:
        _echo_json([row.as_dict() for row in rows])
        return
    if not rows:
        typer.echo(f"No reviews due on or before {day}.")
        return
    table = [("ID", "VERSION", "REVIEW DUE", "OVERDUE", "OWNER", "TITLE")]
    table += [
        (r.sop_id, str(r.version), str(r.review_due), _days(r.days_overdue), r.owner, r.title)
        for r in rows
    ]
    _print_table(table)


def _days(count: int) -> str:
    return "due today" if count == 0 else f"{count} day{'s' if count != 1 else ''}"


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date", hint="write it as YYYY-MM-DD") from None


@sop_app.command("sync")
def sync_command(
    directory: Annotated[Path, typer.Argument(help="Folder of SOP .md files.")],
    publish: bool = typer.Option(False, "--publish", help="Publish what is loaded."),
    author: str | None = typer.Option(None, "--author", help="Author of new versions."),
    approver: str | None = typer.Option(
        None, "--approver", help="Approver when publishing (default: the author)."
    ),
    note: str = NOTE,
    retire_missing: bool = typer.Option(
        False,
        "--retire-missing",
        help="Retire SOPs whose file is not in the folder (skipped if a file's id is unreadable).",
    ),
    output: Format = FORMAT,
) -> None:
    """Load a folder of SOP files: new file, new SOP; changed file, new version.

    Invalid files are reported with their findings and not loaded (exit 1); the
    valid ones are still loaded, all in one transaction.
    """
    with open_session() as session:
        report = do_sync_directory(
            session,
            directory,
            author or _me(),
            publish=publish,
            approver=approver,
            note=note,
            retire_missing=retire_missing,
        )
    if output is Format.JSON:
        _echo_json([item.as_dict() for item in report.items])
    else:
        _print_sync(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_sync(report: SyncReport) -> None:
    for item in report.items:
        if item.outcome is Outcome.INVALID:
            typer.echo(f"invalid    {item.path}", err=True)
            for finding in item.findings:
                typer.echo(f"  {finding}", err=True)
        else:
            where = item.path or "(no file in the folder)"
            typer.echo(
                f"{item.outcome.value:<10} {item.sop_id} v{item.version} ({item.status})  {where}"
            )
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Outcome if report.count(o))
    typer.echo(counts or "No SOP files found.")


@sop_app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write <id>.md files into.")],
    status: Annotated[
        ExportStatus,
        typer.Option(
            "--status",
            help="published: each SOP's version in force; all: each SOP's latest version.",
        ),
    ] = ExportStatus.PUBLISHED,
) -> None:
    """Write each SOP's current version to DIR/<id>.md, byte for byte as stored."""
    with open_session() as session:
        rows = export_directory(session, directory, status=status.value)
    for row in rows:
        typer.echo(f"{row.sop_id}.md  v{row.version} ({row.status})")
    typer.echo(f"Wrote {len(rows)} SOP file{'s' if len(rows) != 1 else ''} to {directory}.")
