"""`sopdesk sop import FILE -o OUT.md`: turn a Word, Markdown, text or HTML SOP into a draft.

A thin shell over `sopdesk.sop.importers`: read the file, write the draft (or print it
with `-o -`), and print what could not be mapped, what was assumed and a summary of
what was mapped. The report goes to stderr when the draft goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sopdesk.cli.app import sop_app
from sopdesk.errors import InvalidInput
from sopdesk.sop.importers import EntryKind, ImportReport, import_file

_LISTED = (
    (EntryKind.UNMAPPED, "Could not map"),
    (EntryKind.ASSUMED, "Assumed (check these)"),
    (EntryKind.MISSING, "Not in the source (write these)"),
    (EntryKind.IGNORED, "Ignored"),
)


def summary(report: ImportReport) -> list[str]:
    """What the CLI prints: the problems in full, the mapped entries as counts."""
    lines: list[str] = []
    for kind, title in _LISTED:
        entries = report.of(kind)
        if entries:
            lines.append(f"{title}:")
            lines.extend(f"  - {entry}" for entry in entries)
    lines.append(f"Mapped: {report.summary()}.")
    return lines


@sop_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A .docx, .md, .txt or .html file.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write the draft; '-' for stdout.")
    ],
    sop_id: Annotated[
        str | None, typer.Option("--id", help="The SOP id (default: from the file name).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
) -> None:
    """Import an existing SOP document as a draft SOP file and report what needs work."""
    target = None if output == "-" else Path(output)
    if target is not None and target.exists() and not force:
        raise InvalidInput(
            f"{target} already exists", hint="pass --force to overwrite it, or pick another -o"
        )
    result = import_file(file, sop_id=sop_id)
    if target is None:
        sys.stdout.write(result.text)
        sys.stdout.flush()
    else:
        try:
            target.write_text(result.text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot write {target}: {exc.strerror or exc}",
                hint="check the folder exists and is writable",
            ) from None
    err = target is None
    where = "stdout" if target is None else str(target)
    typer.echo(
        f"Imported {file.name} ({result.report.format}) as draft SOP '{result.sop_id}' -> {where}",
        err=err,
    )
    for line in summary(result.report):
        typer.echo(line, err=err)
    if target is not None:
        typer.echo(f"Next: edit the draft, then run 'sopdesk sop lint {target}'.")
