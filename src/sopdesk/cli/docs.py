"""The command-line reference (docs/cli.md), generated from the Typer app's own help.

    python -m sopdesk.cli.docs > docs/cli.md

Walks every command of `sopdesk.cli.app.app` and writes its usage, help, arguments and
options as Markdown. `tests/cli/test_docs.py` fails when the committed file differs from
what this prints, so the reference cannot drift from the code. Output depends only on
the commands, never on the terminal width.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer

import sopdesk.cli  # noqa: F401  (registers every command on the shared apps)
from sopdesk.cli.app import app

REGENERATE = "python -m sopdesk.cli.docs > docs/cli.md"


@dataclass(frozen=True)
class Entry:
    """One command or command group, with the context its help is computed in."""

    path: str
    command: Any
    context: Any

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")

    @property
    def anchor(self) -> str:
        return self.path.replace(" ", "-")


def walk(command: Any, context: Any) -> Iterator[Entry]:
    """The command and, depth first in registration order, every visible subcommand."""
    yield Entry(context.command_path, command, context)
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        yield from walk(sub, command.context_class(sub, info_name=name, parent=context))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _help(command: Any) -> str:
    text = inspect.cleandoc(command.help or "").split("\f", 1)[0].strip()
    return text or "(no description)"


def _usage(entry: Entry) -> str:
    pieces = ["[OPTIONS]"] if _options(entry) else []
    for param in entry.command.get_params(entry.context):
        if param.param_type_name == "argument":
            name = (param.name or "").upper() + ("..." if param.nargs == -1 else "")
            pieces.append(name if param.required else f"[{name}]")
    if entry.is_group and getattr(entry.command, "invoke_without_command", False):
        pieces.append("[COMMAND [ARGS]...]")
    elif entry.is_group:
        pieces.append("COMMAND [ARGS]...")
    return " ".join([entry.path, *pieces])


def _options(entry: Entry) -> list[tuple[str, str]]:
    rows = []
    for param in entry.command.get_params(entry.context):
        if param.param_type_name != "option" or param.name == "help" or param.hidden:
            continue
        record = param.get_help_record(entry.context)
        if record:
            rows.append((record[0], record[1]))
    return rows


def _arguments(entry: Entry) -> list[tuple[str, str]]:
    rows = []
    for param in entry.command.get_params(entry.context):
        if param.param_type_name == "argument":
            description = getattr(param, "help", None) or ""
            if param.required:
                description = f"{description} [required]".strip()
            rows.append(((param.name or "").upper(), description))
    return rows


def _table(heading: str, rows: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return []
    lines = ["", f"| {heading} | Description |", "| --- | --- |"]
    lines += [f"| `{_cell(name)}` | {_cell(text)} |" for name, text in rows]
    return lines


def _section(entry: Entry) -> list[str]:
    level = "##" if entry.path.count(" ") <= 1 else "###"
    lines = ["", f"{level} `{entry.path}`", "", _help(entry.command), "", "```text"]
    lines += [_usage(entry), "```"]
    lines += _table("Argument", _arguments(entry))
    lines += _table("Option", _options(entry))
    if entry.is_group:
        lines += ["", "Commands:", ""]
        for name in entry.command.list_commands(entry.context):
            sub = entry.command.get_command(entry.context, name)
            if sub is not None and not getattr(sub, "hidden", False):
                short = _cell(_help(sub).split("\n\n", 1)[0])
                lines.append(f"- [`{name}`](#{entry.anchor}-{name}): {short}")
    return lines


def entries() -> list[Entry]:
    root = typer.main.get_command(app)
    return list(walk(root, root.context_class(root, info_name="sopdesk")))


def reference() -> str:
    """docs/cli.md as it should be for the commands registered right now."""
    lines = [
        "# Command-line reference",
        "",
        f"Generated from the commands' own help by `{REGENERATE}`; do not edit by hand.",
        "Every command also takes `--help`, which prints the same text.",
        "Errors print one line, `Error: …`, to standard error and exit 1;",
        "an unexpected failure exits 2 (set `SOPDESK_DEBUG=1` for the traceback).",
    ]
    for entry in entries():
        lines += _section(entry)
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
