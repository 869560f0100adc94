"""Structured logs: one JSON object per line on stderr, with the context of the moment.

Every long-running process (`sopdesk serve`, its worker processes, `sopdesk worker`,
`sopdesk mail serve` and `mail poll`) calls `configure()` once. A record carries
`timestamp` (ISO 8601, UTC), `level`, `logger` and `message`, then the fields bound to
the current request or job (`bind`, `log_context`: request id, route, user id, batch
sizes...) and any `extra=` fields of the call. Fields whose name says they hold a
secret (passwords, tokens, cookies, authorization, message bodies) are written as
"[redacted]": a log line is read by more people than the database is. `text` is the
same record for people at a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("auto", "json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REDACTED = "[redacted]"
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "body",
    "html",
    "raw",
)
"""A field whose lower-cased name contains one of these is never written."""

QUIETER = {
    "httpx": logging.WARNING,  # logs every URL it fetches, query string (and secrets) too
    "httpcore": logging.WARNING,
    "alembic": logging.WARNING,  # /healthz checks the schema: two INFO lines per probe
}
"""Libraries whose INFO lines are noise or leak URLs: only their warnings and errors."""

_RECORD_ATTRS = frozenset(
    set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)))
    | {"message", "asctime", "taskName", "color_message"}  # Uvicorn's ANSI copy of the message
)
_context: ContextVar[dict[str, Any] | None] = ContextVar("sopdesk_log_context", default=None)
_HANDLER_MARK = "_sopdesk_handler"


# --- context --------------------------------------------------------------------------


def bind(**fields: Any) -> None:
    """Add fields to the current context (the request being served, the job being run).

    The context is a dict shared by the whole request, so a field bound deep inside it
    (say the user id, once the token is checked, in a thread-pool dependency) is on the
    request's access log line too.
    """
    current = _context.get()
    if current is None:
        _context.set(dict(fields))
    else:
        current.update(fields)


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """A new context (the outer one's fields plus `fields`) for the `with` block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield _context.get() or {}
    finally:
        _context.reset(token)


def context_fields() -> dict[str, Any]:
    """A copy of the fields bound to the current context."""
    return dict(_context.get() or {})


# --- formatting (pure) ----------------------------------------------------------------


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` with every secret-named field replaced by "[redacted]"."""
    return {name: REDACTED if is_secret(name) else value for name, value in fields.items()}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What one record says, as a flat dict: the fixed keys, then context, then extras."""
    data: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        ),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    context = getattr(record, "sopdesk_context", None) or {}
    extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}
    extras.pop("sopdesk_context", None)
    for name, value in redact({**context, **extras}).items():
        data.setdefault(name, value)
    if record.exc_info and record.exc_info[0] is not None:
        data["error"] = record.exc_info[0].__name__
        data["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        data["traceback"] = record.exc_text
    return data


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`timestamp LEVEL logger message key=value ...` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        data = record_fields(record)
        head = f"{data.pop('timestamp')} {data.pop('level'):<7} {data.pop('logger')}: "
        head += str(data.pop("message"))
        trace = data.pop("traceback", None)
        tail = " ".join(f"{k}={v}" for k, v in data.items())
        line = f"{head}  {tail}" if tail else head
        return f"{line}\n{trace}" if trace else line


class _ContextFilter(logging.Filter):
    """Copies the context onto the record when it is made (in the caller's thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "sopdesk_context"):
            record.sopdesk_context = context_fields()
        return True


# --- set-up (the shell) ---------------------------------------------------------------


def resolve_format(log_format: str, stream: TextIO) -> str:
    """`auto` is `text` at a terminal and `json` everywhere else (services, containers)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(FORMATS)}")
    if log_format != "auto":
        return log_format
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


class _StderrHandler(logging.StreamHandler):
    """Writes to `sys.stderr` as it is at each record, not as it was at set-up: a
    command run in-process (tests, a REPL) may find it swapped and closed later."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(
    log_format: str = "auto", level: str = "INFO", *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) in `log_format`, from `level` up.

    Replaces the handler an earlier call installed (and nothing else), so calling it
    again — `serve` and then the app factory in the same process — is harmless.
    Uvicorn's loggers propagate to it; its access log is turned off by `serve`, whose
    own middleware writes one line per request.
    """
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    chosen = resolve_format(log_format, stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    for uvicorn_logger in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(uvicorn_logger)
        logger.handlers.clear()
        logger.propagate = True
    for chatty, least in QUIETER.items():
        logging.getLogger(chatty).setLevel(max(least, logging.getLevelName(name)))
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    return handler
