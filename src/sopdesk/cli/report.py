"""`sopdesk report kpis`: whether the SOPs work, measured, from the command line.

Opens the configured database, asks `sopdesk.actions.reports` for the KPIs of the
period and prints them: one block per group in words, or `--format json` (the same
shape as GET /api/v1/reports/kpis). Definitions: docs/metrics.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from sopdesk.actions.reports import kpi_report, period_of
from sopdesk.cli.app import app
from sopdesk.cli.db import open_session
from sopdesk.metrics import Dimension, Kpis, Report
from sopdesk.metrics.present import lines, report_dict

report_app = typer.Typer(help="Measure whether the SOPs work: KPIs.", no_args_is_help=True)
app.add_typer(report_app, name="report")


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


DATE_FORMATS = ["%Y-%m-%d"]


@report_app.command("kpis")
def kpis_command(
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", formats=DATE_FORMATS, metavar="DATE", help="First day counted (UTC)."
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(
            "--until", formats=DATE_FORMATS, metavar="DATE", help="First day not counted (UTC)."
        ),
    ] = None,
    by: Annotated[
        Dimension, typer.Option("--by", help="Group by SOP, SOP version, channel or assignee.")
    ] = Dimension.OVERALL,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TEXT,
) -> None:
    """CSAT, first contact resolution, response and resolution times, SLA attainment,
    repeat complaints, repeat contacts and repeat business of the cases opened in
    [--since, --until)."""
    period = period_of(since.date() if since else None, until.date() if until else None)
    with open_session() as session:
        report = kpi_report(session, period, by)
    if fmt is Format.JSON:
        typer.echo(json.dumps(report_dict(report), indent=2, ensure_ascii=False))
        return
    for line in render_text(report):
        typer.echo(line)


def render_text(report: Report) -> list[str]:
    """The report for a terminal: the period, then each group's KPIs with their detail."""
    since = report.period.since.date().isoformat() if report.period.since else "the start"
    until = report.period.until.date().isoformat() if report.period.until else "now"
    out = [f"Cases opened from {since} until {until} (not included)"]
    out += _block("All cases", report.overall)
    for group in report.groups:
        out += _block(f"{report.by.value}: {group.label}", group.kpis)
    return out


def _block(title: str, kpis: Kpis) -> list[str]:
    out = ["", f"{title} — {kpis.cases} cases, {kpis.resolved} resolved"]
    out += [f"  {line.name:<26} {line.value:>10}  {line.detail}" for line in lines(kpis)]
    return out
