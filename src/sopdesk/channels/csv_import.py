"""CSV intake, the pure half: ticket exports from Zendesk, Freshdesk or sopdesk, as cases.

Owns reading a CSV text stream (delimiter sniffed from the header line, a byte-order
mark stripped, quoted multi-line cells), recognising the columns of a Zendesk or a
Freshdesk ticket export or sopdesk's own plain format, and mapping every row to an
`ImportedCase` — or to row-level `RowProblem`s. A bad row is reported, never silently
dropped, and never stops the rows after it: an *error* keeps the row out (it is listed
in `problems`), a *warning* keeps it in with the fallback named in the message.

Instants are returned in UTC; a time without an offset is read in `default_tz`.
Pure: no database, no clock; the caller opens the file and stores the result.
Must not import `sopdesk.store`, `sopdesk.web` or `sopdesk.actions`.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from itertools import chain
from typing import Any, TextIO

from sopdesk.engine.state import CaseStatus
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import ID_PATTERN

FIELD_SIZE_LIMIT = 16 * 1024 * 1024
"""Largest cell accepted (a long ticket description); csv's own default is 128 KiB."""

DELIMITERS = ",;\t|"
SUBJECT_FROM_BODY = 120


class SourceSystem(StrEnum):
    ZENDESK = "zendesk"
    FRESHDESK = "freshdesk"
    SOPDESK = "sopdesk"


class Severity(StrEnum):
    ERROR = "error"  # the row is not imported
    WARNING = "warning"  # the row is imported with the fallback the message names


class CsvImportError(InvalidInput):
    """The file as a whole cannot be read: no header, unknown format, missing columns."""

    code = "csv_import"


@dataclass(frozen=True)
class RowProblem:
    """Something wrong in one row: its spreadsheet row number (header = 1) and column."""

    row: int
    column: str | None
    message: str
    severity: Severity = Severity.WARNING
    line: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.severity.value}: {self.message}"


@dataclass(frozen=True)
class ImportedCustomer:
    email: str | None
    name: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class ImportedCase:
    """One ticket as a sopdesk case; `source` and `external_id` identify it for dedup."""

    row: int
    source: SourceSystem
    external_id: str | None
    customer: ImportedCustomer
    subject: str
    body: str
    channel: str
    status: CaseStatus
    priority: str
    tags: tuple[str, ...] = ()
    case_type: str | None = None
    source_type: str | None = None
    source_status: str | None = None
    group: str | None = None
    assignee: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def dedup_key(self) -> tuple[str, str] | None:
        return (self.source.value, self.external_id) if self.external_id else None


@dataclass(frozen=True)
class ImportResult:
    format: SourceSystem
    cases: tuple[ImportedCase, ...]
    problems: tuple[RowProblem, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    rows: int = 0

    @property
    def rejected_rows(self) -> tuple[int, ...]:
        errors = {p.row for p in self.problems if p.severity is Severity.ERROR}
        return tuple(sorted(errors))


# --- formats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """A known export: header aliases per sopdesk field, and the fields it must have."""

    system: SourceSystem
    aliases: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    tag_separator: str


_COMMON = {
    "subject": ("subject", "title"),
    "body": ("description", "body", "message", "comment"),
    "status": ("status",),
    "priority": ("priority",),
    "group": ("group",),
    "tags": ("tags",),
}

ZENDESK = Format(
    SourceSystem.ZENDESK,
    {
        **_COMMON,
        "external_id": ("id", "ticket id"),
        "name": ("requester", "requester name"),
        "email": ("requester email",),
        "company": ("organization", "organisation"),
        "assignee": ("assignee",),
        "channel": ("via", "channel"),
        "type": ("ticket type", "type"),
        "created_at": ("created at",),
        "updated_at": ("updated at",),
        "resolved_at": ("solved at",),
    },
    required=("external_id", "subject"),
    tag_separator=" ",
)

FRESHDESK = Format(
    SourceSystem.FRESHDESK,
    {
        **_COMMON,
        "external_id": ("ticket id",),
        "name": ("full name", "contact", "requester name", "contact name"),
        "email": ("email", "contact email", "requester email"),
        "company": ("company name", "company"),
        "assignee": ("agent",),
        "channel": ("source",),
        "type": ("type",),
        "created_at": ("created time",),
        "updated_at": ("last updated time", "updated time"),
        "resolved_at": ("resolved time",),
        "closed_at": ("closed time",),
    },
    required=("external_id", "subject"),
    tag_separator=",",
)

SOPDESK = Format(
    SourceSystem.SOPDESK,
    {
        "external_id": ("external_id", "id"),
        "email": ("customer_email", "email"),
        "name": ("customer_name", "name"),
        "company": ("customer_company", "company"),
        "subject": ("subject",),
        "body": ("body", "description"),
        "channel": ("channel",),
        "case_type": ("case_type", "type"),
        "created_at": ("created_at",),
        "resolved_at": ("resolved_at",),
        "status": ("status",),
        "priority": ("priority",),
        "tags": ("tags",),
        "assignee": ("assignee",),
    },
    required=("email", "subject"),
    tag_separator=",",
)

FORMATS: dict[SourceSystem, Format] = {f.system: f for f in (ZENDESK, FRESHDESK, SOPDESK)}

_SIGNATURES: dict[SourceSystem, frozenset[str]] = {
    SourceSystem.ZENDESK: frozenset(
        {"requester", "requester email", "via", "ticket type", "solved at", "created at"}
    ),
    SourceSystem.FRESHDESK: frozenset(
        {"ticket id", "full name", "source", "agent", "created time", "resolved time"}
    ),
    SourceSystem.SOPDESK: frozenset({"customer email", "customer name", "case type", "body"}),
}


def normalise_header(name: str) -> str:
    """`" Requester_Email "` -> `"requester email"`: case, spaces, `_` and `-` ignored."""
    return re.sub(r"[\s_\-]+", " ", name.replace("\ufeff", "")).strip().casefold()


def detect_format(headers: Sequence[str]) -> SourceSystem:
    """The export a header row most looks like; raises when it looks like none."""
    seen = {normalise_header(h) for h in headers}
    scores = {system: len(seen & signature) for system, signature in _SIGNATURES.items()}
    best = max(scores, key=lambda system: (scores[system], system == SourceSystem.SOPDESK))
    if scores[best] == 0:
        raise CsvImportError(
            "cannot tell which export this is from its columns: " + ", ".join(headers[:12]),
            hint="pass --format zendesk, freshdesk or sopdesk",
        )
    return best


def map_columns(headers: Sequence[str], fmt: Format) -> dict[str, int]:
    """sopdesk field -> column index; raises with a 'did you mean' for missing columns."""
    positions = {normalise_header(h): i for i, h in reversed(list(enumerate(headers)))}
    mapping: dict[str, int] = {}
    for name, aliases in fmt.aliases.items():
        found = [positions[a] for a in map(normalise_header, aliases) if a in positions]
        if found:
            mapping[name] = found[0]
    missing = [name for name in fmt.required if name not in mapping]
    if missing:
        raise CsvImportError(
            f"a {fmt.system.value} export needs the column(s) "
            + ", ".join(_describe_missing(name, fmt, list(positions)) for name in missing),
            missing=missing,
        )
    return mapping


def _describe_missing(name: str, fmt: Format, present: list[str]) -> str:
    wanted = normalise_header(fmt.aliases[name][0])
    close = difflib.get_close_matches(wanted, present, n=1, cutoff=0.6)
    return f"{wanted!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


# --- values ----------------------------------------------------------------------------

STATUS_MAP: dict[str, CaseStatus] = {
    "new": CaseStatus.NEW,
    "open": CaseStatus.OPEN,
    "pending": CaseStatus.PENDING,
    "waiting on customer": CaseStatus.PENDING,
    "awaiting customer": CaseStatus.PENDING,
    "hold": CaseStatus.ON_HOLD,
    "on hold": CaseStatus.ON_HOLD,
    "waiting on third party": CaseStatus.ON_HOLD,
    "solved": CaseStatus.RESOLVED,
    "resolved": CaseStatus.RESOLVED,
    "closed": CaseStatus.CLOSED,
}

PRIORITY_MAP: dict[str, str] = {
    "low": "low",
    "1": "low",
    "normal": "normal",
    "medium": "normal",
    "2": "normal",
    "high": "high",
    "3": "high",
    "urgent": "urgent",
    "4": "urgent",
}

CHANNEL_MAP: dict[str, str] = {
    "email": "email",
    "mail": "email",
    "outbound email": "email",
    "web": "web",
    "web form": "web",
    "portal": "web",
    "feedback widget": "web",
    "web widget": "web",
    "help center": "web",
    "forum": "web",
    "api": "api",
    "web service": "api",
    "web service (api)": "api",
    "phone": "phone",
    "voice": "phone",
    "phone call (inbound)": "phone",
    "phone call (outbound)": "phone",
    "sms": "sms",
    "text": "sms",
    "chat": "chat",
    "messaging": "chat",
    "whatsapp": "chat",
    "twitter": "chat",
    "facebook": "chat",
    "mobihelp": "chat",
    "call": "call",
}

DEFAULT_TYPE_MAP: dict[str, str] = {
    "inquiry": "inquiry",
    "enquiry": "inquiry",
    "refund": "return",
    "return": "return",
    "complaint": "complaint",
}
"""Source ticket types that name a sopdesk case type; others are kept in `source_type`.

Zendesk's Question/Incident/Problem/Task say how a ticket is worked, not what it is
about, so they are not mapped: routing reads the text instead.
"""

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_OFFSET = re.compile(r"\s*([+-]\d{2}):?(\d{2})$")
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d %b %Y %H:%M",
    "%b %d, %Y %H:%M",
)


def parse_instant(text: str, default_tz: tzinfo, *, day_first: bool = True) -> datetime:
    """A timestamp from an export, in UTC; raises ValueError when it is not one.

    ISO 8601 (with `Z` or an offset), `2024-03-05 14:22[:01] [+0100]`, `05.03.2024`,
    and slashed dates (`05/03/2024`, day first unless `day_first=False`). A time with
    no offset is read in `default_tz`.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace(" Z", "Z"))
    except ValueError:
        parsed = _parse_with_formats(value, day_first)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed.astimezone(UTC)


def _parse_with_formats(value: str, day_first: bool) -> datetime:
    offset = _OFFSET.search(value)
    suffix: timezone | None = None
    if offset and ":" in value[: offset.start()]:
        sign = -1 if offset.group(1).startswith("-") else 1
        hours, minutes = int(offset.group(1)[1:]), int(offset.group(2))
        suffix = timezone(sign * timedelta(hours=hours, minutes=minutes))
        value = value[: offset.start()]
    slashed = ("%d/%m/%Y", "%m/%d/%Y") if day_first else ("%m/%d/%Y", "%d/%m/%Y")
    patterns = [*_DATE_FORMATS]
    for order in slashed:
        patterns += [f"{order} %H:%M:%S", f"{order} %H:%M", f"{order} %I:%M %p", order]
    for pattern in patterns:
        try:
            parsed = datetime.strptime(value.strip(), pattern)  # noqa: DTZ007 - tz added below
        except ValueError:
            continue
        return parsed.replace(tzinfo=suffix) if suffix else parsed
    raise ValueError(f"not a date and time: {value!r}")


def split_tags(text: str, separator: str) -> tuple[str, ...]:
    """Tags from a cell: Zendesk separates with spaces, Freshdesk and sopdesk with commas."""
    parts = text.split(",") if separator == "," else re.split(r"[\s,]+", text)
    seen: dict[str, None] = {}
    for part in parts:
        tag = part.strip().casefold()
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


# --- reading ---------------------------------------------------------------------------


def sniff_delimiter(header_line: str) -> str:
    """The delimiter that splits the header line most (`,` when nothing does)."""
    counts = {d: _count_outside_quotes(header_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best]:
        return best
    try:
        return csv.Sniffer().sniff(header_line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    return sum(part.count(delimiter) for part in line.split('"')[::2])


def decode(data: bytes) -> str:
    """Text from an uploaded file's bytes: UTF-8 (with or without BOM), UTF-16, or cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@dataclass(frozen=True)
class _Row:
    """One record: its spreadsheet row number, the file line it starts on, its cells."""

    number: int
    line: int
    cells: list[str]
    unreadable: str | None = None


def _rows(stream: TextIO) -> tuple[list[str], Iterator[_Row]]:
    """The header row and an iterator over the data rows that follow it."""
    first = stream.readline().lstrip("\ufeff")
    skipped = 0
    while first and not first.strip():
        first, skipped = stream.readline(), skipped + 1
    if not first.strip():
        raise CsvImportError("the file is empty: it has no header row")
    delimiter = sniff_delimiter(first)
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
    reader = csv.reader(chain([first], stream), delimiter=delimiter)
    headers = next(reader)
    return headers, _records(reader, skipped)


def _records(reader: Any, skipped: int) -> Iterator[_Row]:
    """Data rows numbered as a spreadsheet shows them; rows with no value are skipped."""
    number = skipped + 1
    while True:
        line = skipped + reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield _Row(number, line, [], unreadable=str(exc))
            continue
        number += 1
        if any(cell.strip() for cell in cells):
            yield _Row(number, line, cells)


# --- mapping one row -------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    default_tz: tzinfo = UTC
    default_channel: str = "email"
    day_first: bool = True
    type_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TYPE_MAP))


class _RowReader:
    """Reads named cells of one row and records the row's problems as it goes."""

    def __init__(
        self, row: _Row, headers: Sequence[str], columns: Mapping[str, int], options: Options
    ) -> None:
        self.row = row
        self.headers = headers
        self.columns = columns
        self.options = options
        self.problems: list[RowProblem] = []

    def header(self, name: str) -> str | None:
        index = self.columns.get(name)
        return self.headers[index] if index is not None else None

    def get(self, name: str) -> str:
        index = self.columns.get(name)
        if index is None or index >= len(self.row.cells):
            return ""
        return self.row.cells[index].replace("\x00", "").strip()

    def note(self, name: str | None, message: str, severity: Severity = Severity.WARNING) -> None:
        column = self.header(name) if name else None
        self.problems.append(RowProblem(self.row.number, column, message, severity, self.row.line))

    def instant(self, name: str) -> datetime | None:
        text = self.get(name)
        if not text:
            return None
        try:
            return parse_instant(text, self.options.default_tz, day_first=self.options.day_first)
        except ValueError:
            self.note(name, f"{text!r} is not a date and time; left empty")
            return None

    def mapped(self, name: str, table: Mapping[str, str], fallback: str, what: str) -> str:
        text = self.get(name)
        if not text:
            return fallback
        value = table.get(normalise_header(text))
        if value is None:
            self.note(name, f"unknown {what} {text!r}; imported as {fallback!r}")
            return fallback
        return value


def _customer(reader: _RowReader) -> ImportedCustomer:
    email = reader.get("email").casefold() or None
    if email is None:
        reader.note("email", "no customer email; the customer cannot be matched or written to")
    elif not _EMAIL.match(email):
        reader.note("email", f"{email!r} is not an email address; left empty")
        email = None
    return ImportedCustomer(email, reader.get("name") or None, reader.get("company") or None)


def _status(reader: _RowReader) -> CaseStatus:
    text = reader.get("status")
    if not text:
        return CaseStatus.OPEN
    status = STATUS_MAP.get(normalise_header(text)) or _sopdesk_status(text)
    if status is None:
        reader.note("status", f"unknown status {text!r}; imported as 'open'")
        return CaseStatus.OPEN
    return status


def _sopdesk_status(text: str) -> CaseStatus | None:
    value = normalise_header(text).replace(" ", "_")
    return CaseStatus(value) if value in {status.value for status in CaseStatus} else None


def _resolved_at(
    reader: _RowReader, status: CaseStatus, updated: datetime | None
) -> datetime | None:
    resolved = reader.instant("resolved_at") or (
        reader.instant("closed_at") if status is CaseStatus.CLOSED else None
    )
    if resolved is None and status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and updated:
        reader.note("resolved_at", "solved with no solved time; used the updated time")
        return updated
    return resolved


def _case_type(reader: _RowReader, fmt: Format) -> tuple[str | None, str | None]:
    """(sopdesk case type, the source system's own type)."""
    if fmt.system is SourceSystem.SOPDESK:
        raw = reader.get("case_type") or None
        value = normalise_header(raw).replace(" ", "_") if raw else None
        if value is not None and not re.match(ID_PATTERN, value):
            reader.note("case_type", f"{raw!r} is not a case type (a-z, 0-9, - or _); left empty")
            value = None
        return value, raw
    raw = reader.get("type") or None
    mapped = reader.options.type_map.get(normalise_header(raw)) if raw else None
    return mapped, raw


def _well_formed(reader: _RowReader, content: str) -> bool:
    """False (with an error noted) when the row cannot be imported at all."""
    row, width = reader.row, len(reader.headers)
    if row.unreadable is not None:
        reader.note(None, f"unreadable CSV: {row.unreadable}", Severity.ERROR)
        return False
    if len(row.cells) < width and "\n" in row.cells[-1]:
        message = "the row ends inside a quoted cell: is a closing quote missing?"
        reader.note(None, message, Severity.ERROR)
        return False
    if len(row.cells) > width:
        reader.note(None, f"{len(row.cells) - width} cell(s) more than the header; ignored")
    if not content:
        reader.note("subject", "no subject and no description: nothing to import", Severity.ERROR)
        return False
    return True


def _map_row(
    row: _Row, headers: Sequence[str], columns: Mapping[str, int], fmt: Format, options: Options
) -> tuple[ImportedCase | None, list[RowProblem]]:
    """One CSV row as a case (None when it has an error), with its problems."""
    reader = _RowReader(row, headers, columns, options)
    subject, body = reader.get("subject"), reader.get("body")
    if not _well_formed(reader, subject or body):
        return None, reader.problems
    external_id = reader.get("external_id") or None
    if external_id is None and fmt.system is not SourceSystem.SOPDESK:
        reader.note("external_id", "no ticket id; re-importing the file will duplicate it")
    status = _status(reader)
    created, updated = reader.instant("created_at"), reader.instant("updated_at")
    if "created_at" in columns and not reader.get("created_at"):
        reader.note("created_at", "no creation time; the import time will be used")
    case_type, source_type = _case_type(reader, fmt)
    case = ImportedCase(
        row=row.number,
        source=fmt.system,
        external_id=external_id,
        customer=_customer(reader),
        subject=subject or body.splitlines()[0][:SUBJECT_FROM_BODY],
        body=body,
        channel=reader.mapped("channel", CHANNEL_MAP, options.default_channel, "channel"),
        status=status,
        priority=reader.mapped("priority", PRIORITY_MAP, "normal", "priority"),
        tags=split_tags(reader.get("tags"), fmt.tag_separator),
        case_type=case_type,
        source_type=source_type,
        source_status=reader.get("status") or None,
        group=reader.get("group") or None,
        assignee=reader.get("assignee") or None,
        created_at=created,
        updated_at=updated,
        resolved_at=_resolved_at(reader, status, updated),
        closed_at=reader.instant("closed_at"),
    )
    return case, reader.problems


# --- the whole file ----------------------------------------------------------------------


def read_cases(
    source: TextIO | str,
    *,
    source_format: SourceSystem | str | None = None,
    default_tz: tzinfo = UTC,
    default_channel: str = "email",
    day_first: bool = True,
    type_map: Mapping[str, str] | None = None,
) -> ImportResult:
    """Every row of an export as a case or as a reported problem.

    `source_format` forces `zendesk`, `freshdesk` or `sopdesk`; by default it is detected from
    the header row. Raises `CsvImportError` only when the file as a whole is unusable.
    """
    stream = io.StringIO(source) if isinstance(source, str) else source
    problems: list[RowProblem] = []
    headers, rows = _rows(stream)
    fmt = FORMATS[_system(source_format) or detect_format(headers)]
    columns = map_columns(headers, fmt)
    types = dict(DEFAULT_TYPE_MAP) if type_map is None else type_map
    options = Options(default_tz, default_channel, day_first, types)
    cases: list[ImportedCase] = []
    first_seen: dict[str, int] = {}
    count = 0
    for row in rows:
        count += 1
        case, row_problems = _map_row(row, headers, columns, fmt, options)
        if case is not None and case.external_id is not None:
            earlier = first_seen.setdefault(case.external_id, row.number)
            if earlier != row.number:
                row_problems = [_duplicate(row, headers, columns, earlier)]
                case = None
        problems.extend(row_problems)
        if case is not None:
            cases.append(case)
    problems.sort(key=lambda problem: problem.row)
    used = set(columns.values())
    ignored = tuple(h for i, h in enumerate(headers) if i not in used and h.strip())
    names = {name: headers[index] for name, index in columns.items()}
    return ImportResult(fmt.system, tuple(cases), tuple(problems), names, ignored, count)


def _system(name: SourceSystem | str | None) -> SourceSystem | None:
    if name is None or isinstance(name, SourceSystem):
        return name
    try:
        return SourceSystem(name.strip().casefold())
    except ValueError:
        known = ", ".join(system.value for system in SourceSystem)
        raise CsvImportError(f"unknown import format {name!r}; use one of {known}") from None


def _duplicate(
    row: _Row, headers: Sequence[str], columns: Mapping[str, int], earlier: int
) -> RowProblem:
    column = headers[columns["external_id"]]
    message = f"the same ticket id as row {earlier}; this row was not imported"
    return RowProblem(row.number, column, message, Severity.ERROR, row.line)
