"""Plain text to an outline.

Headings are lines in ALL CAPS, short lines ending with ':', numbered headings
(`2. SCOPE`) or lines underlined with `===`/`---`; lists are lines starting with `1.`,
`1)`, `-`, `*`, `•`, `o`, their depth from the indentation. Other lines join into
paragraphs until a blank line. Positions are line numbers.
"""

from __future__ import annotations

import re

from sopdesk.sop.importers.heuristics import clean, looks_like_heading, split_marker
from sopdesk.sop.importers.outline import Block, Loc, Outline, heading, item, paragraph

_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")


def _indent(line: str) -> int:
    expanded = line.replace("\t", "    ")
    return len(expanded) - len(expanded.lstrip(" \u00a0"))


def _depths(indents: list[int]) -> dict[int, int]:
    """Indentation widths -> nesting depths (0, 1, 2 ...) in order of width."""
    return {width: depth for depth, width in enumerate(sorted(set(indents)))}


def read_text(text: str) -> Outline:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    marker_indents = [_indent(line) for line in lines if split_marker(line.strip())]
    depth_of = _depths(marker_indents)
    blocks: list[Block] = []
    prose: list[str] = []
    prose_start = 0

    def flush() -> None:
        if prose:
            blocks.append(paragraph(clean("\n".join(prose)), Loc("line", prose_start)))
            prose.clear()

    for number, raw in enumerate(lines, start=1):
        line = clean(raw)
        if not line:
            flush()
            continue
        if _UNDERLINE.match(raw) and len(prose) == 1 and len(line) >= 3:
            title = prose.pop()
            blocks.append(heading(title, Loc("line", prose_start), 1 if "=" in line else 2))
            continue
        marker = split_marker(line)
        if marker is not None:
            flush()
            depth = depth_of.get(_indent(raw), 0) + marker.depth
            blocks.append(item(marker.rest, Loc("line", number), depth, ordered=marker.ordered))
            continue
        if looks_like_heading(line) or (blocks and _continues_item(raw, blocks[-1], prose)):
            flush()
            if looks_like_heading(line):
                blocks.append(heading(line.rstrip(":").strip(), Loc("line", number), 2, weak=True))
            else:
                last = blocks.pop()
                blocks.append(
                    item(f"{last.text} {line}", last.loc, last.level, ordered=last.ordered)
                )
            continue
        if not prose:
            prose_start = number
        prose.append(line)
    flush()
    return Outline(tuple(blocks), format="text")


def _continues_item(raw: str, last: Block, prose: list[str]) -> bool:
    """An indented line right after a list item continues that item."""
    return not prose and last.kind.value == "item" and _indent(raw) > 0
