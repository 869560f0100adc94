"""Word (.docx) to an outline, with python-docx.

Headings come from `Heading N`/`Title` styles or an outline level; list items from
numbering (`numPr`, bullet or number format looked up in the numbering part) or from
`List Bullet`/`List Number` styles, their depth from the list level; tables become
rows (merged cells once). Paragraphs that are all bold are marked, so the core can
treat short ones as headings; list markers typed as text (`1)`, `•`) are left to the
core. Header and footer text is noted and ignored. Positions are paragraph numbers
(every body paragraph counts, empty ones too) and table numbers.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from sopdesk.errors import InvalidInput
from sopdesk.sop.importers.heuristics import clean
from sopdesk.sop.importers.outline import Block, Loc, Outline, heading, item, paragraph, table

MAX_UNCOMPRESSED = 100_000_000
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"^list\s+(bullet|number|continue)(?:\s+(\d))?$", re.IGNORECASE)


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            size = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise InvalidInput(
            "the file is not a valid .docx (it is not a zip archive)",
            hint="open it in Word and save it again as a Word document (.docx)",
        ) from None
    if "word/document.xml" not in names:
        raise InvalidInput(
            "the file is a zip archive but not a Word document",
            hint="import .docx, .md, .txt or .html files",
        )
    if size > MAX_UNCOMPRESSED:
        raise InvalidInput(
            f"the document unpacks to {size:,} bytes, more than {MAX_UNCOMPRESSED:,}",
            hint="remove large images or split the document",
        )


def read_docx(data: bytes) -> Outline:
    _check_zip(data)
    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types for damaged files
        raise InvalidInput(
            f"cannot read the Word document: {type(exc).__name__}",
            hint="open it in Word and save it again as a Word document (.docx)",
        ) from None
    formats = _number_formats(document)
    blocks: list[Block] = []
    paragraphs = tables = 0
    for part in document.iter_inner_content():
        if isinstance(part, Paragraph):
            paragraphs += 1
            block = _paragraph(part, Loc("paragraph", paragraphs), formats)
            if block is not None:
                blocks.append(block)
        elif isinstance(part, Table):
            tables += 1
            rows = _rows(part)
            if rows:
                blocks.append(table(rows, Loc("table", tables)))
    title = clean(document.core_properties.title or "") or None
    return Outline(tuple(blocks), title=title, format="docx", notes=_margins(document))


def _number_formats(document: Any) -> dict[tuple[str, str], str]:
    """(numId, ilvl) -> numFmt (`bullet`, `decimal`, ...) from the numbering part."""
    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return {}
    abstract: dict[str, dict[str, str]] = {}
    for node in numbering.findall(qn("w:abstractNum")):
        levels = {
            lvl.get(qn("w:ilvl")): (
                fmt.get(qn("w:val")) if (fmt := lvl.find(qn("w:numFmt"))) is not None else "decimal"
            )
            for lvl in node.findall(qn("w:lvl"))
        }
        abstract[node.get(qn("w:abstractNumId"))] = levels
    formats: dict[tuple[str, str], str] = {}
    for num in numbering.findall(qn("w:num")):
        ref = num.find(qn("w:abstractNumId"))
        if ref is None:
            continue
        for ilvl, fmt in abstract.get(ref.get(qn("w:val")), {}).items():
            formats[(num.get(qn("w:numId")), ilvl)] = fmt or "decimal"
    return formats


def _num_pr(paragraph_: Paragraph) -> tuple[str, str, bool] | None:
    """(numId, ilvl, set on the paragraph itself?) from the paragraph or its style; None
    when not numbered."""
    own = paragraph_._p
    for element in (own, getattr(paragraph_.style, "element", None)):
        ppr = element.find(qn("w:pPr")) if element is not None else None
        num_pr = ppr.find(qn("w:numPr")) if ppr is not None else None
        if num_pr is None:
            continue
        num_id = num_pr.find(qn("w:numId"))
        ilvl = num_pr.find(qn("w:ilvl"))
        if num_id is None or num_id.get(qn("w:val")) == "0":
            return None
        level = ilvl.get(qn("w:val")) if ilvl is not None else "0"
        return num_id.get(qn("w:val")), level, element is own
    return None


def _outline_level(paragraph_: Paragraph) -> int | None:
    ppr = paragraph_._p.find(qn("w:pPr"))
    node = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
    if node is None:
        return None
    level = int(node.get(qn("w:val"), "9"))
    return level + 1 if level < 9 else None


def _bold(paragraph_: Paragraph) -> bool:
    runs = [run for run in paragraph_.runs if run.text.strip()]
    if not runs:
        return False
    style_bold = bool(paragraph_.style is not None and paragraph_.style.font.bold)
    return all(
        run.bold or (run.bold is None and (style_bold or bool(run.style and run.style.font.bold)))
        for run in runs
    )


def _indent_depth(paragraph_: Paragraph) -> int:
    indent = paragraph_.paragraph_format.left_indent
    return int(indent.inches // 0.5) if indent else 0


def _paragraph(
    paragraph_: Paragraph, loc: Loc, formats: dict[tuple[str, str], str]
) -> Block | None:
    text = clean(paragraph_.text)
    if not text:
        return None
    style = paragraph_.style.name if paragraph_.style is not None else ""
    style = style or ""
    if style.lower() == "title":
        return heading(text, loc, 0)
    match = _HEADING_STYLE.match(style)
    level = int(match[1]) if match else _outline_level(paragraph_)
    if level is not None:
        return heading(text, loc, level)
    list_style = _LIST_STYLE.match(style)
    style_depth = int(list_style[2]) - 1 if list_style and list_style[2] else 0
    numbered = _num_pr(paragraph_)
    if numbered is not None:
        num_id, ilvl, own = numbered
        fmt = formats.get((num_id, ilvl), "decimal")
        depth = int(ilvl) if own else max(int(ilvl), style_depth)
        return item(text, loc, depth, ordered=fmt not in {"bullet", "none"})
    if list_style and list_style[1].lower() != "continue":
        return item(text, loc, style_depth, ordered=list_style[1].lower() == "number")
    block = paragraph(text, loc, strong=_bold(paragraph_))
    depth = _indent_depth(paragraph_)
    return Block(block.kind, block.text, loc, level=depth, strong=block.strong)


def _rows(table_: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table_.rows:
        seen: set[int] = set()
        cells: list[str] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(clean(cell.text).replace("\n", " "))
        if any(cells):
            rows.append(cells)
    return rows


def _margins(document: Any) -> tuple[tuple[Loc | None, str], ...]:
    notes: list[tuple[Loc | None, str]] = []
    seen: set[str] = set()
    for section in document.sections:
        for name, part in (("header", section.header), ("footer", section.footer)):
            if part.is_linked_to_previous and notes:
                continue
            text = " / ".join(clean(p.text) for p in part.paragraphs if clean(p.text))
            if text and text not in seen:
                seen.add(text)
                notes.append((None, f"{name} text ignored: {text!r}"))
    return tuple(notes)
