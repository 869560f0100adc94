"""From a reader's blocks to the document's title and its sections.

`normalise` turns list markers typed as text into list items and short bold, ALL CAPS
or `Label:` lines into (weak) headings; `pick_title` finds the document title;
`group_blocks` cuts the blocks into sections, each matched to a standard SOP section or
kept under its own heading. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from sopdesk.sop.importers.heuristics import (
    fold,
    is_all_caps,
    looks_like_heading,
    match_section,
    split_label,
    split_marker,
)
from sopdesk.sop.importers.outline import Block, Kind, Loc, heading, item, paragraph
from sopdesk.sop.model import SectionKey


@dataclass
class Group:
    """A run of blocks under one heading; `key` is None when no standard section fits."""

    key: SectionKey | None
    title: str
    loc: Loc | None
    level: int
    how: str = ""
    blocks: list[Block] = field(default_factory=list)


def _split_marker_lines(block: Block) -> list[Block]:
    """A paragraph whose lines start with typed markers becomes several blocks."""
    out: list[Block] = []
    prose: list[str] = []
    for line in block.text.split("\n"):
        marker = split_marker(line)
        if marker is None:
            prose.append(line)
            continue
        if prose:
            out.append(replace(block, text="\n".join(prose)))
            prose = []
        out.append(item(marker.rest, block.loc, block.level + marker.depth, ordered=marker.ordered))
    if prose:
        out.append(replace(block, text="\n".join(prose)))
    return out


def _expand(block: Block) -> list[Block]:
    if block.kind is Kind.ITEM:
        marker = split_marker(block.text)
        return [replace(block, text=marker.rest)] if marker else [block]
    if block.kind is not Kind.PARAGRAPH:
        return [block]
    return _split_marker_lines(block)


def _heading_item(block: Block, following: Block | None) -> bool:
    """`1. PURPOSE`, `Process Steps:` typed as a list item is a heading."""
    text = block.text.strip()
    if "\n" in text or len(text.split()) > 5:
        return False
    if not (text.endswith(":") or is_all_caps(text) or block.ordered):
        return False
    matched = match_section(text)
    if matched is None or matched.how != "synonym":
        return False
    if text.endswith(":") or is_all_caps(text):
        return True
    same_level = following is not None and following.kind is Kind.ITEM
    return not (same_level and following is not None and following.level <= block.level)


def _named_section(text: str) -> bool:
    """A line that is only a section name: `Procedure`, `Roles and responsibilities`."""
    if "\n" in text or len(text.split()) > 4:
        return False
    matched = match_section(text)
    return matched is not None and matched.how == "synonym"


def _promote(block: Block, following: Block | None) -> Block:
    heading_like = looks_like_heading(block.text, strong=block.strong)
    if block.kind is Kind.PARAGRAPH and (heading_like or _named_section(block.text)):
        return heading(block.text.rstrip(":").strip(), block.loc, 2, weak=True)
    if block.kind is Kind.ITEM and _heading_item(block, following):
        return replace(heading(block.text.rstrip(":").strip(), block.loc, 2, weak=True), level=2)
    return block


def normalise(blocks: list[Block]) -> list[Block]:
    """Typed list markers to items, heading-like lines to weak headings; drop empties."""
    expanded = [
        part for block in blocks for part in _expand(block) if part.text.strip() or part.rows
    ]
    return [
        _promote(block, expanded[index + 1] if index + 1 < len(expanded) else None)
        for index, block in enumerate(expanded)
    ]


def _title_candidate(block: Block) -> bool:
    if block.kind is Kind.HEADING:
        matched = match_section(block.text)
        top = block.level <= 1 or block.weak
        return top and (matched is None or matched.how.startswith("key word"))
    if block.kind is Kind.PARAGRAPH:
        text = block.text.strip()
        short = "\n" not in text and len(text.split()) <= 12 and not text.endswith((".", ":"))
        return short and match_section(text) is None
    return False


def _outline_title(blocks: list[Block]) -> int | None:
    """An SOP written as one nested list: `• Handling Returns` over `• Purpose: ...` and
    `• Process Steps:` items. Returns the index of the title item."""
    for index, block in enumerate(blocks[:3]):
        if block.kind is not Kind.ITEM:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        short = len(block.text.split()) <= 8 and not block.text.endswith((".", ":"))
        if not short or following is None or following.kind is not Kind.ITEM:
            return None
        label = split_label(following.text) or (following.text.rstrip(":"), "")
        matched = match_section(label[0])
        nested = following.level > block.level
        return index if nested and matched is not None and matched.how == "synonym" else None
    return None


def pick_title(
    blocks: list[Block], declared: str | None
) -> tuple[str | None, Loc | None, list[Block]]:
    """The title (declared, a `Title` style, the top of an outline-style list, or the first
    heading) and the other blocks."""
    listed = None if declared else _outline_title(blocks)
    if listed is not None:
        block = blocks[listed]
        return block.text.strip(), block.loc, blocks[:listed] + blocks[listed + 1 :]
    for index, block in enumerate(blocks):
        if block.kind is Kind.HEADING and block.level == 0:
            return declared or block.text, block.loc, blocks[:index] + blocks[index + 1 :]
    if blocks and declared and fold(blocks[0].text) == fold(declared):
        return declared, blocks[0].loc, blocks[1:]
    if declared:
        return declared, None, blocks
    if blocks and _title_candidate(blocks[0]):
        return blocks[0].text.strip(), blocks[0].loc, blocks[1:]
    return None, None, blocks


_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) > 3]
    if not words:
        return bool(_WORD.findall(text)) and text[:1].isupper()
    return sum(w[0].isupper() for w in words) * 3 >= len(words) * 2


def _starts_section(block: Block, current: Group, has_strong: bool) -> bool:
    """Whether an unmapped heading opens a new section or is a sub-heading."""
    if current.key is None and current.level == 0:
        return True
    if not block.weak:
        return block.level <= current.level
    if has_strong:
        return False
    return is_all_caps(block.text) or _title_case(block.text)


def _label_switch(block: Block, current: Group) -> tuple[Group, Block] | None:
    """`Purpose: Ensure returns are ...` opens the Purpose section with that text."""
    if block.kind not in {Kind.PARAGRAPH, Kind.ITEM} or "\n" in block.text:
        return None
    if block.kind is Kind.ITEM and current.key is SectionKey.PROCEDURE:
        return None
    parts = split_label(block.text)
    if parts is None or not parts[1]:
        return None
    matched = match_section(parts[0])
    if matched is None or matched.how != "synonym" or matched.key == current.key:
        return None
    group = Group(matched.key, parts[0], block.loc, current.level or 2, "label")
    return group, paragraph(parts[1], block.loc)


def group_blocks(blocks: list[Block]) -> list[Group]:
    """Cut blocks into sections. The first group (key None, level 0) is the preamble."""
    has_strong = any(b.kind is Kind.HEADING and not b.weak for b in blocks)
    groups = [Group(None, "", None, 0)]
    for block in blocks:
        current = groups[-1]
        switched = _label_switch(block, current)
        if switched:
            groups.append(switched[0])
            switched[0].blocks.append(switched[1])
            continue
        if block.kind is not Kind.HEADING:
            current.blocks.append(block)
            continue
        matched = match_section(block.text)
        if matched is not None:
            groups.append(Group(matched.key, block.text, block.loc, block.level, matched.how))
        elif _starts_section(block, current, has_strong):
            groups.append(Group(None, block.text, block.loc, block.level))
        else:
            current.blocks.append(block)
    return groups
