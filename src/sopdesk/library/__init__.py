"""The built-in SOP library: ready SOP documents written from the seed material.

Each `*.md` file beside this module is one SOP whose front-matter `id` equals the file
stem. `templates()` lists them, `template_text(id)` returns one as text for
`sopdesk sop new` and `sopdesk init`. The files ship inside the package, so they are
read with `importlib.resources`; this module never writes anything.

Must not import `sopdesk.store`, `sopdesk.web` or the CLI.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from sopdesk.errors import NotFound
from sopdesk.sop.parser import parse_sop

__all__ = ["LibraryEntry", "template_path", "template_text", "templates"]

_SUFFIX = ".md"


@dataclass(frozen=True)
class LibraryEntry:
    """One built-in SOP: its id (the file stem), title, one-line summary and file path."""

    id: str
    title: str
    summary: str
    path: Path


def _package_dir() -> Traversable:
    return files(__name__)


def _resources() -> dict[str, Traversable]:
    """Every SOP file in the package, by id (the file stem)."""
    return {
        item.name.removesuffix(_SUFFIX): item
        for item in _package_dir().iterdir()
        if item.is_file() and item.name.endswith(_SUFFIX)
    }


@cache
def _entries() -> tuple[LibraryEntry, ...]:
    entries: list[LibraryEntry] = []
    for sop_id, resource in sorted(_resources().items()):
        text = resource.read_text(encoding="utf-8")
        result = parse_sop(text, resource.name)
        meta = result.document.meta if result.document else None
        entries.append(
            LibraryEntry(
                id=sop_id,
                title=meta.title if meta else sop_id,
                summary=(meta.summary or "") if meta else "",
                path=Path(str(resource)),
            )
        )
    return tuple(entries)


def templates() -> list[LibraryEntry]:
    """All built-in SOPs, sorted by id."""
    return list(_entries())


def _resource(sop_id: str) -> Traversable:
    resources = _resources()
    if sop_id in resources:
        return resources[sop_id]
    close = difflib.get_close_matches(sop_id, list(resources), n=3, cutoff=0.4)
    if not close:
        close = [known for known in sorted(resources) if sop_id and sop_id in known][:3]
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else "run 'sopdesk sop templates' to list the built-in SOPs"
    )
    raise NotFound(f"no built-in SOP template {sop_id!r}", hint=hint, id=sop_id)


def template_path(sop_id: str) -> Path:
    """The file of built-in SOP `sop_id`; raises `NotFound` with close ids as a hint."""
    return Path(str(_resource(sop_id)))


def template_text(sop_id: str) -> str:
    """The full Markdown text of built-in SOP `sop_id`; raises `NotFound` if unknown."""
    return _resource(sop_id).read_text(encoding="utf-8")
