"""Importing tickets from a CSV export (Zendesk, Freshdesk or sopdesk's own format).

`channels.csv_import.read_cases` reads the file and reports bad rows; this action
stores the good ones in one transaction. Imported tickets are history: each becomes a
case with its first message, status, priority, tags, group, assignee and timestamps,
and `cases.route` records the SOP the rules would choose — but no SOP run starts, so
no customer is sent an acknowledgement for an old ticket, and no webhook endpoint is
sent `case.created` for one (`webhook_events.webhooks_muted`). A ticket id already
imported from the same system is skipped, so importing a file twice adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.actions.cases import CHANNELS, CaseRequest, existing_external, open_case
from sopdesk.actions.messages import NewMessage
from sopdesk.actions.webhook_events import webhooks_muted
from sopdesk.channels.csv_import import ImportedCase, RowProblem, read_cases
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, CaseStatusValue


@dataclass(frozen=True)
class ImportReport:
    format: str
    rows: int
    imported: tuple[str, ...]  # case references
    duplicates: tuple[int, ...]  # row numbers of tickets imported before
    problems: tuple[RowProblem, ...]
    rejected_rows: tuple[int, ...]


@atomic_case
def do_import_cases(
    session: Session,
    text: str,
    *,
    source_format: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Import every good row of a CSV export; bad rows are reported, none stop the rest."""
    moment, settings = resolve_now(now), settings or Settings()
    result = read_cases(text, source_format=source_format)
    imported: list[str] = []
    duplicates: list[int] = []
    with webhooks_muted(session):
        for ticket in result.cases:
            key = ticket.dedup_key
            if key is not None and existing_external(session, *key) is not None:
                duplicates.append(ticket.row)
                continue
            case = _import_one(session, ticket, moment, settings)
            imported.append(case.reference or "")
    return ImportReport(
        result.format.value,
        result.rows,
        tuple(imported),
        tuple(duplicates),
        result.problems,
        result.rejected_rows,
    )


def _import_one(
    session: Session, ticket: ImportedCase, now: datetime, settings: Settings
) -> CaseRow:
    opened = ticket.created_at or now
    email = ticket.customer.email or _placeholder(ticket)
    request = CaseRequest(
        customer_email=email,
        customer_name=ticket.customer.name or "",
        subject=ticket.subject,
        body=ticket.body,
        channel=ticket.channel if ticket.channel in CHANNELS else "csv",
        case_type=ticket.case_type,
        tags=ticket.tags,
        priority=ticket.priority,
        opened_at=opened,
        external_source=ticket.source.value,
        external_id=ticket.external_id,
        start_sop=False,
        message=NewMessage(text=ticket.body, subject=ticket.subject) if ticket.body else None,
    )
    case = open_case(session, request, now, settings)
    case.status = ticket.status.value
    case.assignee = ticket.assignee
    case.group_name = ticket.group or case.group_name
    finished = ticket.status.value in (CaseStatusValue.RESOLVED.value, "closed")
    case.resolved_at = (ticket.resolved_at or ticket.updated_at or opened) if finished else None
    case.closed_at = ticket.closed_at if ticket.status.value == "closed" else None
    case.updated_at = ticket.updated_at or now
    log_event(
        session,
        "case.imported",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        actor="import",
        source=ticket.source.value,
        external_id=ticket.external_id,
        row=ticket.row,
        source_status=ticket.source_status,
        source_type=ticket.source_type,
    )
    return case


def _placeholder(ticket: ImportedCase) -> str:
    """An address that marks a customer without one (`.invalid` is never delivered)."""
    ident = ticket.external_id or f"row{ticket.row}"
    safe = "".join(c if c.isalnum() else "-" for c in ident.lower())[:60]
    return f"unknown-{ticket.source.value}-{safe}@import.invalid"
