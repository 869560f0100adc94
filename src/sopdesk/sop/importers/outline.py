"""The intermediate outline every reader produces and the mapping core consumes.

A reader (Word, Markdown, text, HTML) turns a file into a flat list of `Block`s —
headings, paragraphs, list items with their depth, tables — each with the place it
came from, so the import report can point the author back at their own document.
Plain data only: no parsing, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class Loc:
    """Where a block came from: `paragraph 12`, `line 40`, `table 2 row 3`."""

    unit: str
    number: int
    row: int | None = None

    def __str__(self) -> str:
        text = f"{self.unit} {self.number}"
        return text if self.row is None else f"{text} row {self.row}"


class Kind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    ITEM = "item"
    TABLE = "table"
    SCRIPT = "script"  # an email script the core turned into a template; text = its id


@dataclass(frozen=True)
class Block:
    """One unit of the source document.

    `level` is the heading level (1 = top) for headings and the nesting depth
    (0 = top) for list items. `weak` marks a heading guessed from its look (bold,
    ALL CAPS, trailing colon) rather than declared by a style or markup. `strong`
    marks a paragraph whose text is entirely bold. `text` may hold line breaks.
    """

    kind: Kind
    text: str
    loc: Loc
    level: int = 0
    ordered: bool = False
    weak: bool = False
    strong: bool = False
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Outline:
    """A document as blocks, with its declared title and notes from the reader."""

    blocks: tuple[Block, ...]
    title: str | None = None
    format: str = "text"
    notes: tuple[tuple[Loc | None, str], ...] = field(default_factory=tuple)


def heading(text: str, loc: Loc, level: int = 1, *, weak: bool = False) -> Block:
    return Block(Kind.HEADING, text, loc, level=level, weak=weak)


def paragraph(text: str, loc: Loc, *, strong: bool = False) -> Block:
    return Block(Kind.PARAGRAPH, text, loc, strong=strong)


def item(text: str, loc: Loc, depth: int = 0, *, ordered: bool = False) -> Block:
    return Block(Kind.ITEM, text, loc, level=depth, ordered=ordered)


def table(rows: list[list[str]], loc: Loc) -> Block:
    return Block(Kind.TABLE, "", loc, rows=tuple(tuple(row) for row in rows))
