"""The HTML alternative of a plain-text email: everything escaped, web links clickable.

Only `http://`, `https://` and `www.` links become anchors, so no `javascript:` URL
can. Blank lines separate paragraphs; single line breaks are kept. Pure.
"""

from __future__ import annotations

import re
from html import escape

_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_DOCUMENT = (
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n</head>\n'
    '<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body>\n</html>\n'
)


def _split_trailing(url: str) -> tuple[str, str]:
    """Leave sentence punctuation and an unbalanced ")" outside the link."""
    end = len(url)
    while end > 0:
        char = url[end - 1]
        if char in _TRAILING or (char == ")" and url.count("(", 0, end) < url.count(")", 0, end)):
            end -= 1
            continue
        break
    return url[:end], url[end:]


def _anchor(url: str) -> str:
    href = url if "://" in url else f"https://{url}"
    return f'<a href="{escape(href, quote=True)}">{escape(url, quote=False)}</a>'


def linkify(text: str) -> str:
    """`text` HTML-escaped, with its web links as anchors."""
    parts: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        url, _trailing = _split_trailing(match.group(0))
        if "." not in url.split("://", 1)[-1]:
            continue  # "http://" alone or a hostless fragment: leave as text
        parts.append(escape(text[pos : match.start()], quote=False))
        parts.append(_anchor(url))
        pos = match.start() + len(url)
    parts.append(escape(text[pos:], quote=False))
    return "".join(parts)


def text_to_html(text: str) -> str:
    """A complete HTML document showing `text` as it reads in plain text."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(normalised) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(linkify(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )
    return _DOCUMENT.format(body=body)
