"""The built-in library's SOP front matter, parsed once, for routing tests."""

from __future__ import annotations

from functools import cache

from sopdesk import library
from sopdesk.sop.model import FrontMatter, Trigger
from sopdesk.sop.parser import parse_sop


@cache
def library_sops() -> tuple[FrontMatter, ...]:
    metas = []
    for entry in library.templates():
        document = parse_sop(library.template_text(entry.id), entry.path.name).document
        assert document is not None, entry.id
        metas.append(document.meta)
    return tuple(metas)


def case_sops() -> list[FrontMatter]:
    return [meta for meta in library_sops() if meta.applies_to.trigger is Trigger.CASE]
