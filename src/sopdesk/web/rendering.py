"""Jinja2 set-up for the pages, and the SOP document view (the renderer's page, framed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

import sopdesk
from sopdesk.sop.model import SopDocument
from sopdesk.sop.render import render_html

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["version"] = sopdesk.__version__

STATUS_LABELS = {
    "draft": "Draft",
    "in_review": "In review",
    "published": "Published",
    "retired": "Retired",
}
TEMPLATES.env.filters["status_label"] = lambda value: STATUS_LABELS.get(value, value)
TEMPLATES.env.filters["long_date"] = lambda day: (
    f"{day.day} {day:%B %Y}" if isinstance(day, date) else "—"
)


def file_size(size: int) -> str:
    """`812 bytes`, `14 KB`, `2.4 MB`."""
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


TEMPLATES.env.filters["filesize"] = file_size


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def error_page(request: Request, status: int, message: str, hint: str | None) -> HTMLResponse:
    titles = {404: "Not found", 409: "Conflict", 422: "Invalid input", 503: "Unavailable"}
    context = {"status": status, "title": titles.get(status, "Error"), "message": message}
    return page(request, "error.html", {**context, "hint": hint}, status)


def framed_document(document: SopDocument, bar: str, *, calendar: Any = None) -> str:
    """The renderer's self-contained page with the site's version bar added at the top.

    The renderer owns the document's look; the bar carries its own scoped styles, so
    neither stylesheet needs to know the other. `calendar` (the SOP's stored business
    calendar, if any) drives the worked example of due times; None means the default.
    """
    rendered = str(render_html(document, calendar=calendar))
    head_end, body = rendered.find("</head>"), rendered.find("<body>")
    if head_end < 0 or body < head_end:
        raise ValueError("the SOP renderer's page has no <head>/<body>")
    style = TEMPLATES.get_template("_bar_style.html").render()
    at = body + len("<body>")
    return rendered[:head_end] + style + rendered[head_end:at] + "\n" + bar + rendered[at:]


def render_bar(context: dict[str, Any]) -> str:
    """The version bar as HTML text (autoescaped by its template)."""
    return TEMPLATES.get_template("_version_bar.html").render(context)
