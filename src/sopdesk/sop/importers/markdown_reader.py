"""Markdown to an outline, with markdown-it-py (CommonMark plus tables).

Headings keep their level; list items their depth and whether they are numbered;
a later paragraph of a list item joins its text; tables become rows; code blocks and
block quotes become paragraphs. Raw HTML is reduced to its text. A YAML front-matter
block is skipped and noted. Positions are line numbers.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from sopdesk.sop.importers.heuristics import clean
from sopdesk.sop.importers.outline import Block, Kind, Loc, Outline, heading, item, paragraph, table

_md = MarkdownIt("commonmark").enable("table")
_SCRIPT = re.compile(r"<(script|style|template|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>|<!--.*?-->", re.DOTALL)


def inline_text(token: Token) -> tuple[str, bool]:
    """The plain text of an inline token and whether all of it is bold."""
    parts: list[str] = []
    bold_depth = 0
    plain_seen = False
    for child in token.children or []:
        if child.type in {"strong_open", "strong_close"}:
            bold_depth += 1 if child.type == "strong_open" else -1
        elif child.type in {"text", "code_inline"}:
            parts.append(child.content)
            plain_seen = plain_seen or (bold_depth == 0 and bool(child.content.strip()))
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    text = clean("".join(parts))
    return text, bool(text) and not plain_seen


def _front_matter(text: str) -> tuple[str, int]:
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for index in range(1, min(len(lines), 500)):
            if lines[index].strip() in {"---", "..."}:
                return "\n".join(lines[index + 1 :]), index + 1
    return text, 0


def read_markdown(text: str) -> Outline:
    body, skipped = _front_matter(text.replace("\r\n", "\n"))
    notes: tuple[tuple[Loc | None, str], ...] = ()
    if skipped:
        notes = ((Loc("line", 1), f"YAML front matter (lines 1-{skipped}) skipped"),)
    tokens = _md.parse(body)
    blocks = _walk(tokens, skipped)
    return Outline(tuple(blocks), format="markdown", notes=notes)


def _line(token: Token, offset: int) -> Loc:
    return Loc("line", (token.map[0] if token.map else 0) + 1 + offset)


def _walk(tokens: list[Token], offset: int) -> list[Block]:
    blocks: list[Block] = []
    lists: list[bool] = []
    item_open: list[bool] = []
    rows: list[list[str]] = []
    table_loc: Loc | None = None
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in {"bullet_list_open", "ordered_list_open"}:
            lists.append(kind == "ordered_list_open")
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            lists.pop()
        elif kind == "list_item_open":
            item_open.append(True)
        elif kind == "list_item_close":
            item_open.pop()
        elif kind == "heading_open":
            text, _ = inline_text(tokens[index + 1])
            blocks.append(heading(text, _line(token, offset), int(token.tag[1:])))
        elif kind == "paragraph_open" and not _in_cell(tokens, index):
            text, strong = inline_text(tokens[index + 1])
            _paragraph(blocks, text, strong, _line(token, offset), lists, item_open)
        elif kind in {"fence", "code_block"}:
            blocks.append(paragraph(clean(token.content), _line(token, offset)))
        elif kind == "html_block":
            text = clean(_TAG.sub("", _SCRIPT.sub("", token.content)))
            if text:
                blocks.append(paragraph(text, _line(token, offset)))
        elif kind == "table_open":
            rows, table_loc = [], _line(token, offset)
        elif kind == "tr_open":
            rows.append([])
        elif kind in {"th_open", "td_open"}:
            rows[-1].append(inline_text(tokens[index + 1])[0])
        elif kind == "table_close" and table_loc is not None:
            blocks.append(table(rows, table_loc))
    return blocks


def _in_cell(tokens: list[Token], index: int) -> bool:
    return index > 0 and tokens[index - 1].type in {"th_open", "td_open"}


def _paragraph(
    blocks: list[Block], text: str, strong: bool, loc: Loc, lists: list[bool], open_: list[bool]
) -> None:
    if not text:
        return
    if not lists:
        blocks.append(paragraph(text, loc, strong=strong))
        return
    if open_ and open_[-1]:
        open_[-1] = False
        blocks.append(item(text, loc, len(lists) - 1, ordered=lists[-1]))
        return
    last = blocks[-1] if blocks else None
    if last is not None and last.kind is Kind.ITEM:
        blocks[-1] = Block(Kind.ITEM, f"{last.text}\n{text}", last.loc, last.level, last.ordered)
    else:
        blocks.append(paragraph(text, loc))
