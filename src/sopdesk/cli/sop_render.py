"""`sopdesk sop render`: an SOP file to one self-contained HTML page (screen and print).

A thin shell over `sopdesk.sop.render.render_html`: it reads the SOP and the calendars
file, resolves the business calendar, parses the example start, and writes the page.
An SOP with parse errors prints its findings and exits 1; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from sopdesk.calendar.config import configs_from_text, resolve_calendar
from sopdesk.calendar.model import Calendar
from sopdesk.cli.app import sop_app
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.sop.findings import has_errors
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import load_sop
from sopdesk.sop.render import render_html

STDOUT = "-"


@sop_app.command("render")
def render_command(
    file: Annotated[Path, typer.Argument(help="The SOP file (Markdown with front matter).")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the HTML; '-' for standard output. "
            "Default: the SOP's path with .html instead of .md.",
        ),
    ] = None,
    example_start: Annotated[
        str | None,
        typer.Option(
            "--example-start",
            help="When the worked example's case opens, ISO 8601 (2025-03-14T16:30; "
            "without an offset it is read in the calendar's timezone). "
            "Default: Friday 14 March 2025 16:30.",
        ),
    ] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            "--calendar", help="Business calendar name. Default: the SOP's 'calendar' key."
        ),
    ] = None,
    calendars_file: Annotated[
        Path | None,
        typer.Option(
            "--calendars-file",
            help="Calendars file (YAML, TOML or JSON). Default: SOPDESK_CALENDARS_FILE.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA timezone of the built-in 'default' calendar. Default: SOPDESK_TIMEZONE "
            "or UTC.",
        ),
    ] = None,
    with_findings: Annotated[
        bool,
        typer.Option("--with-findings", help="List the SOP's lint findings at the top."),
    ] = False,
) -> None:
    """Render an SOP as a self-contained HTML page with a print stylesheet."""
    result = load_sop(file)
    if result.document is None or has_errors(result.findings):
        for finding in result.findings:
            typer.echo(str(finding), err=True)
        typer.echo(f"{file}: not rendered; fix the errors above first", err=True)
        raise typer.Exit(1)
    settings = Settings()
    business_calendar = _calendar(
        calendar or result.document.meta.calendar,
        calendars_file or settings.calendars_file,
        timezone or settings.timezone,
    )
    html = render_html(
        result.document,
        calendar=business_calendar,
        example_start=_parse_start(example_start),
        findings=lint(result) if with_findings else None,
    )
    _write(html, output, file)


def _calendar(name: str, calendars_file: Path | None, timezone: str) -> Calendar:
    configs = {}
    if calendars_file is not None:
        try:
            text = calendars_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"cannot read the calendars file {calendars_file}: {exc}",
                hint="check --calendars-file or SOPDESK_CALENDARS_FILE",
            ) from None
        suffix = calendars_file.suffix.lower().lstrip(".")
        configs = configs_from_text(text, suffix if suffix in {"toml", "json"} else "yaml")
    return resolve_calendar(name, configs, default_tz=timezone)


def _parse_start(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--example-start {text!r} is not an ISO 8601 date and time",
            hint="write e.g. 2025-03-14T16:30 or 2025-03-14T16:30-04:00",
        ) from None


def _write(html: str, output: str | None, source: Path) -> None:
    if output == STDOUT:
        typer.echo(html, nl=False)
        return
    target = Path(output) if output else source.with_suffix(".html")
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {target}: {exc.strerror or exc}") from None
    typer.echo(f"Wrote {target}", err=True)
