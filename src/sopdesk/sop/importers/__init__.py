"""Import the SOPs people already have — Word, Markdown, plain text, HTML — as drafts.

    result = import_file("Returns procedure.docx")
    result.text          # a draft SOP file that `sop.parser.parse_sop` accepts
    result.report        # what went where, what was assumed, what could not be mapped

Readers (`docx_reader`, `markdown_reader`, `text_reader`, `html_reader`) turn a file into
an `Outline`; `core.build_draft` maps the outline to the SOP format. Everything but
`import_file` is pure. Must not import `sopdesk.store`, `sopdesk.web` or the CLI.
"""

from __future__ import annotations

from pathlib import Path

from sopdesk.errors import InvalidInput
from sopdesk.sop.importers.core import DraftError, build_draft, sop_id_from, valid_id
from sopdesk.sop.importers.detect import choose, decode_text
from sopdesk.sop.importers.docx_reader import read_docx
from sopdesk.sop.importers.html_reader import read_html
from sopdesk.sop.importers.markdown_reader import read_markdown
from sopdesk.sop.importers.outline import Block, Kind, Loc, Outline
from sopdesk.sop.importers.report import EntryKind, ImportReport, ImportResult, ReportEntry
from sopdesk.sop.importers.text_reader import read_text

__all__ = [
    "MAX_IMPORT_BYTES",
    "Block",
    "DraftError",
    "EntryKind",
    "ImportReport",
    "ImportResult",
    "Kind",
    "Loc",
    "Outline",
    "ReportEntry",
    "build_draft",
    "import_bytes",
    "import_file",
    "read_outline",
]

MAX_IMPORT_BYTES = 20_000_000
_TEXT_READERS = {"markdown": read_markdown, "text": read_text, "html": read_html}


def read_outline(data: bytes, filename: str) -> Outline:
    """The outline of a file's bytes, read by the format its name and content agree on."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            f"{filename} is {len(data):,} bytes; the importer reads at most {MAX_IMPORT_BYTES:,}",
            code="import_too_large",
            hint="split the document, or remove embedded images and attachments",
        )
    if not data.strip():
        raise InvalidInput(f"{filename} is empty", code="import_empty", hint="pick the SOP file")
    kind, note = choose(filename, data)
    if kind == "docx":
        outline = read_docx(data)
    else:
        text, decoding = decode_text(data)
        outline = _TEXT_READERS[kind](text)
        note = "; ".join(part for part in (note, decoding) if part) or None
    if note:
        outline = Outline(
            outline.blocks, outline.title, outline.format, ((None, note), *outline.notes)
        )
    return outline


def import_bytes(data: bytes, filename: str, *, sop_id: str | None = None) -> ImportResult:
    """Import a document's bytes as a draft SOP; `filename` picks the format and the id."""
    ident = sop_id or sop_id_from(filename)
    if not valid_id(ident):
        raise InvalidInput(
            f"{ident!r} is not a valid SOP id",
            code="import_bad_id",
            hint="use lowercase letters, digits and '-', starting with a letter, e.g. returns",
        )
    return build_draft(read_outline(data, filename), sop_id=ident, source=filename)


def import_file(path: str | Path, *, sop_id: str | None = None) -> ImportResult:
    """Read a file and import it (the one function here that touches the disk)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise InvalidInput(
                f"{file.name} is {size:,} bytes; the importer reads at most {MAX_IMPORT_BYTES:,}",
                code="import_too_large",
                hint="split the document, or remove embedded images and attachments",
            )
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {file}: {exc.strerror or exc}",
            code="import_unreadable",
            hint="check the path and the file's permissions",
        ) from None
    return import_bytes(data, file.name, sop_id=sop_id)
