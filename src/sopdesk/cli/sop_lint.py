"""`sopdesk sop lint` and `sopdesk sop score`: check SOP files like a compiler.

A thin shell over `sopdesk.sop.lint` and `sopdesk.sop.score`: it finds the files,
prints findings as text or JSON, and sets the exit code (1 when any error is found).
A path that does not exist or cannot be read is reported as a finding, never a
traceback.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sopdesk.cli.app import sop_app
from sopdesk.errors import InvalidInput
from sopdesk.sop.findings import Finding, Severity, has_errors
from sopdesk.sop.lint import lint, sop_files
from sopdesk.sop.parser import load_sop
from sopdesk.sop.score import score


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


PathsArgument = Annotated[
    list[Path], typer.Argument(help="SOP files, or directories to search for *.md files.")
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="text for people, json for tools.")
]


@sop_app.command("lint")
def lint_command(paths: PathsArgument, output: FormatOption = OutputFormat.TEXT) -> None:
    """Report every error and warning in SOP files; exit 1 when there is an error."""
    findings = _lint_all(paths)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2, ensure_ascii=False))
    else:
        _print_text(findings, len(_files(paths)))
    if has_errors(findings):
        raise typer.Exit(1)


@sop_app.command("score")
def score_command(
    path: Annotated[Path, typer.Argument(help="One SOP file.")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Rate one SOP from 0 to 100 and say how to raise the score."""
    if path.is_dir():
        raise InvalidInput(
            f"{path} is a directory; score one SOP file at a time",
            hint=f"run 'sopdesk sop lint {path}' to check a whole folder",
        )
    result = score(load_sop(path))
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"{path}: {result.score}/100")
    for reason in result.reasons:
        typer.echo(f"  {reason}")


def _files(paths: list[Path]) -> list[Path]:
    files = sop_files(paths)
    empty = [p for p in paths if p.is_dir() and not any(f.is_relative_to(p) for f in files)]
    if empty:
        raise InvalidInput(
            f"no SOP files (*.md) under {empty[0]}",
            hint="pass SOP files, or a folder that contains them",
        )
    return files


def _lint_all(paths: list[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for file in _files(paths):
        findings.extend(lint(load_sop(file)))
    return findings


def _print_text(findings: list[Finding], file_count: int) -> None:
    for finding in findings:
        typer.echo(str(finding))
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    files = "file" if file_count == 1 else "files"
    if findings:
        typer.echo(f"{errors} error(s), {warnings} warning(s) in {file_count} {files}")
    else:
        typer.echo(f"{file_count} {files} checked: no problems found")
