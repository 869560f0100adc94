"""HTML to an outline, with the standard library's `html.parser`: nothing is fetched or run.

`<script>`, `<style>`, `<template>`, `<noscript>`, `<iframe>`, `<object>` and `<svg>`
are dropped with their content (and noted); `<title>` is the declared title; `h1`-`h6`
are headings, `ol`/`ul`/`li` lists with depth, `table` rows, `p`/`div`/`br` paragraph
and line breaks; a paragraph that is all `<b>`/`<strong>` is marked bold.
Positions are source line numbers.
"""

from __future__ import annotations

from html.parser import HTMLParser

from sopdesk.sop.importers.heuristics import clean
from sopdesk.sop.importers.outline import Block, Loc, Outline, heading, item, paragraph, table

_SKIP = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "blockquote",
        "pre",
        "address",
        "dd",
        "dt",
        "figcaption",
        "form",
        "fieldset",
        "hr",
        "body",
        "html",
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col", "area", "base", "wbr"})


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.notes: list[tuple[Loc | None, str]] = []
        self.title: str | None = None
        self._skip: list[str] = []
        self._in_title = False
        self._text: list[str] = []
        self._plain = False
        self._bold = 0
        self._start = 1
        self._lists: list[bool] = []
        self._heading: int | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._table_line = 1

    # -- text accumulation ---------------------------------------------------------------

    def _loc(self) -> Loc:
        return Loc("line", self._start)

    def _flush(self) -> None:
        text = clean("".join(self._text))
        strong = bool(text) and not self._plain
        self._text, self._plain = [], False
        if not text:
            return
        if self._heading is not None:
            self.blocks.append(heading(text, self._loc(), self._heading))
        elif self._lists:
            self.blocks.append(
                item(text, self._loc(), len(self._lists) - 1, ordered=self._lists[-1])
            )
        else:
            self.blocks.append(paragraph(text, self._loc(), strong=strong))

    def _mark(self) -> None:
        if not "".join(self._text).strip():
            self._start = self.getpos()[0]

    # -- parser callbacks ----------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._skip:
            self._in_title = True
            return
        if self._skip or tag in _SKIP:
            if tag in _SKIP and tag not in _VOID:
                self._skip.append(tag)
                self.notes.append((Loc("line", self.getpos()[0]), f"<{tag}> removed"))
            return
        if self._cell is not None and tag not in {"td", "th", "tr", "table"}:
            if tag == "br":
                self._cell.append(" ")
            return
        self._start_tag(tag)

    def _start_tag(self, tag: str) -> None:
        if tag == "br":
            self._text.append("\n")
        elif tag in {"b", "strong"}:
            self._bold += 1
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
            self._start = self.getpos()[0]
        elif tag in {"ul", "ol"}:
            self._flush()
            self._lists.append(tag == "ol")
        elif tag == "li":
            self._flush()
            self._start = self.getpos()[0]
        elif tag == "table":
            self._flush()
            self._rows, self._table_line = [], self.getpos()[0]
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in {"td", "th"} and self._rows is not None:
            self._cell = []
        elif tag in _BLOCK:
            self._flush()
            self._start = self.getpos()[0]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in {"td", "th"} and self._cell is not None and self._rows is not None:
            if not self._rows:
                self._rows.append([])
            self._rows[-1].append(clean("".join(self._cell)))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            rows = [row for row in self._rows if any(cell for cell in row)]
            if rows:
                self.blocks.append(table(rows, Loc("line", self._table_line)))
            self._rows = None
        elif self._cell is not None:
            return
        elif tag in {"b", "strong"}:
            self._bold = max(0, self._bold - 1)
        elif tag in _HEADINGS:
            self._flush()
            self._heading = None
        elif tag in {"ul", "ol"}:
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "li" or tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = clean(f"{self.title or ''} {data}") or None
            return
        if self._skip:
            return
        if self._cell is not None:
            self._cell.append(data)
            return
        self._mark()
        self._text.append(data)
        if data.strip() and not self._bold:
            self._plain = True

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(text: str) -> Outline:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return Outline(
        tuple(reader.blocks), title=reader.title, format="html", notes=tuple(reader.notes)
    )
