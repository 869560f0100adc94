"""Which reader a file needs: by extension, checked against the content.

A `.txt` that is really a Word file, a `.docx` that is really HTML, a file without an
extension: the content decides. Formats we cannot read (old `.doc`, PDF, RTF, ODT,
other binaries) are refused with a hint saying what to do instead.
"""

from __future__ import annotations

import io
import re
import zipfile

from sopdesk.errors import InvalidInput

EXTENSIONS: dict[str, str] = {
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}
TEXT_FORMATS = frozenset({"markdown", "text", "html"})
_SUPPORTED = "Word (.docx), Markdown (.md), plain text (.txt) or HTML (.html)"
_REFUSED: tuple[tuple[bytes, str, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0",
        "an old Word 97-2003 (.doc) file",
        "in Word, Save As 'Word Document (.docx)'",
    ),
    (b"%PDF", "a PDF", "copy the text into a .txt file, or export the original as .docx"),
    (b"{\\rtf", "an RTF file", "in Word or TextEdit, save it as .docx or plain text"),
)
_HTML = re.compile(r"^\s*(<!doctype\s+html|<html\b|<\?xml[^>]*>\s*<html\b)", re.IGNORECASE)
_HTML_TAGS = re.compile(r"</?(p|div|h[1-6]|ul|ol|li|table|tr|td|body|br|span|strong)\b[^>]*>", re.I)
_MD_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)


def unsupported(what: str, hint: str) -> InvalidInput:
    return InvalidInput(
        f"cannot import {what}; sopdesk imports {_SUPPORTED}", code="import_unsupported", hint=hint
    )


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:80] if "mimetype" in names else b""
    except (zipfile.BadZipFile, KeyError, OSError):
        raise unsupported("a damaged zip archive", "save the document again as .docx") from None
    if "word/document.xml" in names:
        return "docx"
    if b"opendocument" in mimetype:
        raise unsupported("an OpenDocument (.odt) file", "save it as .docx (File > Save As)")
    raise unsupported("a zip archive", "import the document inside it, as .docx, .md or .txt")


def sniff(data: bytes) -> str:
    """The format the content says it is: docx, html, markdown or text; raises if binary."""
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    for magic, what, hint in _REFUSED:
        if data.startswith(magic):
            raise unsupported(what, hint)
    is_utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" in data[:8192] and not is_utf16:
        raise unsupported("a binary file", "save the document as .docx, .md, .txt or .html")
    head = decode_text(data[:20000])[0]
    if _HTML.match(head) or len(_HTML_TAGS.findall(head)) >= 3:
        return "html"
    if len(_MD_HEADING.findall(head)) >= 1:
        return "markdown"
    return "text"


def choose(filename: str, data: bytes) -> tuple[str, str | None]:
    """(format, note): the extension's format unless the content says otherwise."""
    match = re.search(r"(\.[A-Za-z0-9]+)$", filename)
    ext = match[1].lower() if match else ""
    sniffed = sniff(data)
    named = EXTENSIONS.get(ext)
    if named is None:
        note = f"no known extension ({ext or 'none'}); read as {sniffed} from its content"
        return sniffed, note
    if named == sniffed or (named in TEXT_FORMATS and sniffed == "text"):
        return named, None
    if named == "markdown" and sniffed == "html" and not _HTML.match(decode_text(data[:2000])[0]):
        return named, None  # Markdown may contain inline HTML
    return sniffed, f"named {ext} but the content is {sniffed}; read as {sniffed}"


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Text from bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "decoded as UTF-16"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        if len(data) - exc.start < 4 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8"), None  # a prefix cut mid-character
        return data.decode("cp1252", errors="replace"), "not UTF-8; decoded as Windows-1252"
