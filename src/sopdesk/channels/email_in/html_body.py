"""HTML mail bodies: plain text for agents and rules, sanitised HTML for display.

`html_to_text` only tokenises (stdlib `html.parser`): nothing is executed, loaded or
fetched. `sanitise_html` uses nh3 with an allow-list; remote images are dropped unless
the caller opts in, so that opening a message never pings a tracker. Pure; no I/O.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from copy import deepcopy
from html.parser import HTMLParser

import nh3

from sopdesk.channels.email_in.text import clean_text

_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "object"})
_PARAGRAPH = frozenset(
    {
        "p", "ul", "ol", "dl", "table", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr",
        "section", "article", "header", "footer", "address", "center", "form", "blockquote",
    }
)  # fmt: skip
_LINE = frozenset({"div", "li", "tr", "dt", "dd", "caption"})
_MAX_QUOTE_MARKS = 8
_BLANKS = re.compile(r"[ \t\r\n\f\xa0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>")

_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
        "text-align", "text-decoration", "vertical-align", "white-space", "border",
        "border-collapse", "padding", "margin", "width", "height", "line-height",
    }
)  # fmt: skip
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})


class _TextExtractor(HTMLParser):
    """Collects visible text; `<blockquote>` content is prefixed with "> " per level."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0

    def flush(self, *, keep_empty: bool = False) -> None:
        text = "".join(self.current)
        text = text.rstrip() if self.pre else text.strip()
        if text or keep_empty:
            self.lines.append(("> " * min(self.quote, _MAX_QUOTE_MARKS) + text).rstrip())
        self.current = []

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append(">" * bool(self.quote))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.flush(keep_empty=True)
        elif tag in _PARAGRAPH:
            self.blank()
            self.quote += tag == "blockquote"
            self.pre += tag == "pre"
        elif tag in _LINE:
            self.flush()
            if tag == "li":
                self.current.append("- ")
        elif tag in ("td", "th"):
            self.current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH:
            self.flush()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            self.blank()
        elif tag in _LINE:
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            self.current.append(_BLANKS.sub(" ", data))
            return
        first, *rest = data.replace("\r\n", "\n").split("\n")
        self.current.append(first)
        for line in rest:
            self.flush(keep_empty=True)
            self.current.append(line)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body; quotes become "> " lines, scripts and styles vanish."""
    parser = _TextExtractor()
    try:
        parser.feed(clean_text(markup))
        parser.close()
        parser.flush()
        text = "\n".join(parser.lines)
    except Exception:  # html.parser has raised on odd markup in past releases
        text = html_lib.unescape(_TAG.sub(" ", markup))
        text = "\n".join(_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    lines = text.replace("\xa0", " ").split("\n")
    while lines and not lines[-1].strip("> "):
        lines.pop()
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _attribute_filter(allow_remote_images: bool) -> Callable[[str, str, str], str | None]:
    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return value
            remote = lowered.startswith(("http://", "https://"))
            return value if remote and allow_remote_images else None
        return value

    return keep


def sanitise_html(markup: str, *, allow_remote_images: bool = False) -> str:
    """HTML safe to show in the agent UI: allow-listed tags, attributes, styles and schemes.

    `<img src="cid:...">` is kept so the UI can point it at the inline attachment;
    remote images are removed unless `allow_remote_images` is set.
    """
    attributes = deepcopy(nh3.ALLOWED_ATTRIBUTES)
    for tag in ("p", "div", "span", "td", "th", "table", "tr", "font", "a", "img"):
        attributes.setdefault(tag, set()).add("style")
    return nh3.clean(
        clean_text(markup),
        tags=set(nh3.ALLOWED_TAGS) | {"span", "font"},
        attributes=attributes,
        attribute_filter=_attribute_filter(allow_remote_images),
        filter_style_properties=set(_STYLE_PROPERTIES),
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
