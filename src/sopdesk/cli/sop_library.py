"""`sopdesk sop templates` and `sopdesk sop new`: start an SOP from the built-in library.

A thin shell over `sopdesk.library`: it lists the built-in SOPs and writes a copy of
one under a new id and title. The copy keeps the template's comments and layout (only
the `id:` and `title:` lines of the front matter change) and is parsed before it is
written, so a file `sop new` writes always loads.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sopdesk import library
from sopdesk.cli.app import sop_app
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.sop.model import ID_PATTERN
from sopdesk.sop.parser import parse_sop


class ListFormat(StrEnum):
    """Output formats of `sopdesk sop templates`."""

    TEXT = "text"
    JSON = "json"


_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)\s*$", re.MULTILINE)


def slugify(text: str) -> str:
    """Turn a file stem such as `My Returns_SOP` into an SOP id such as `my-returns-sop`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    if not slug:
        return "my-sop"
    if not slug[0].isalpha():
        slug = f"sop-{slug}"
    return slug[:80].rstrip("-")


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def rewrite_header(text: str, *, new_id: str, new_title: str | None) -> str:
    """Replace the top-level `id:` (and `title:`) lines inside the front matter of `text`."""
    if not text.startswith("---"):
        raise InvalidInput("the template has no front matter")
    end = _FRONT_MATTER_END.search(text, pos=text.index("\n") + 1)
    if end is None:
        raise InvalidInput("the template's front matter is not closed")
    head, tail = text[: end.start()], text[end.start() :]
    head, count = re.subn(r"(?m)^id:[^\n]*$", f"id: {new_id}", head, count=1)
    if count != 1:
        raise InvalidInput("the template's front matter has no top-level 'id:' line")
    if new_title is not None:
        head = re.sub(r"(?m)^title:[^\n]*$", f"title: {_yaml_string(new_title)}", head, count=1)
    return head + tail


@sop_app.command("templates")
def list_templates(
    output: Annotated[
        ListFormat,
        typer.Option("--format", "-f", help="text (a table) or json (a list of objects)."),
    ] = ListFormat.TEXT,
) -> None:
    """List the built-in SOP templates."""
    entries = library.templates()
    if output is ListFormat.JSON:
        payload = [{"id": e.id, "title": e.title, "summary": e.summary} for e in entries]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    width = max((len(e.id) for e in entries), default=2)
    for entry in entries:
        typer.echo(f"{entry.id.ljust(width)}  {entry.title}")
    typer.echo(
        f"\n{len(entries)} templates. Start one with: sopdesk sop new FILE --from TEMPLATE_ID"
    )


@sop_app.command("new")
def new_sop(
    file: Annotated[
        Path,
        typer.Argument(help="The SOP file to write; '.md' is added when it has no suffix."),
    ],
    template: Annotated[
        str, typer.Option("--from", help="The built-in template id (see 'sop templates').")
    ],
    sop_id: Annotated[
        str | None,
        typer.Option("--id", help="The new SOP's id; defaults to the file name, slugified."),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="The new SOP's title; defaults to the template's.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Write a new SOP file from a built-in template, ready to edit, lint and publish."""
    path = file if file.suffix else file.with_suffix(".md")
    new_id = sop_id if sop_id is not None else slugify(path.stem)
    if not re.match(ID_PATTERN, new_id) or len(new_id) > 80:
        raise InvalidInput(
            f"{new_id!r} is not a valid SOP id",
            hint="use lowercase letters, digits and '-', starting with a letter, "
            "e.g. --id my-returns",
        )
    if title is not None and not 3 <= len(title.strip()) <= 200:
        raise InvalidInput("the title must be 3 to 200 characters long")
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory", hint="give a file name such as my-sop.md")
    if path.exists() and not force:
        raise Conflict(f"{path} already exists", hint="use --force to overwrite it")
    text = rewrite_header(library.template_text(template), new_id=new_id, new_title=title)
    result = parse_sop(text, path)
    if not result.ok:
        problems = "; ".join(f"{f.line}:{f.column} {f.message}" for f in result.findings[:3])
        raise InvalidInput(f"the new SOP would not load: {problems}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {path} (id {new_id}, from template {template}).")
    typer.echo(f"Next: edit it, then run 'sopdesk sop lint {shlex.quote(str(path))}'.")
