"""Resolved cases close by themselves, `close_resolved_after_days` after their resolution.

A customer who writes again soon after a case was resolved is still talking about it:
their message reopens the case (its SOP's clocks resume, the reopen is counted). One who
writes weeks later is almost always starting something new, and reopening a case long
since done would charge a reopen to the agent who solved it and wake a finished SOP. So
once the window has passed the case counts as closed: a message from the customer opens
a follow-up case (`fields.follow_up_of` names the old one), as for a case someone closed.
Zendesk closes solved tickets after 4 days by default (28 at most); our default is 14.

The rule (`past_reopen_window`) is exact at any instant, so intake never depends on
when the sweep last ran. The worker's sweep (`do_close_resolved`) then records the close
(status `closed`, `closed_at`, `status.changed` by `system`) so lists and reports show it.
Follow-ups already scheduled (the review request 7 days after resolution) still go: a
close does not cancel them, as it does not in the engine.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.case_changes import change_case_status
from sopdesk.actions.case_state import atomic_case, load_for_work
from sopdesk.engine import CaseStatus
from sopdesk.errors import SopdeskError
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, CaseStatusValue

log = logging.getLogger("sopdesk.worker")

SWEEP_LIMIT = 500
"""Cases one sweep closes at most (one transaction each); the rest wait for the next."""


def past_reopen_window(status: str, resolved_at: datetime | None, now: datetime, days: int) -> bool:
    """True when a resolved case resolved at `resolved_at` counts as closed at `now`:
    `days` (> 0) have passed since. A case in any other status, or `days` 0, never."""
    if days <= 0 or status != CaseStatusValue.RESOLVED.value or resolved_at is None:
        return False
    return now >= resolved_at + timedelta(days=days)


def counts_as_closed(status: str, resolved_at: datetime | None, now: datetime, days: int) -> bool:
    """True when a customer's message must open a follow-up case instead of joining this
    one: the case is closed, or resolved `days` or more ago."""
    closed = status == CaseStatusValue.CLOSED.value
    return closed or past_reopen_window(status, resolved_at, now, days)


def do_close_resolved(
    session: Session, now: datetime, *, settings: Settings, limit: int = SWEEP_LIMIT
) -> int:
    """Close the resolved cases whose reopen window has passed, oldest resolution first,
    each in its own transaction; the number closed. A case that changed meanwhile (a
    reply reopened it) is left as it is."""
    days = settings.close_resolved_after_days
    if days <= 0:
        return 0
    due = session.scalars(
        select(CaseRow.id)
        .where(
            CaseRow.status == CaseStatusValue.RESOLVED.value,
            CaseRow.resolved_at <= now - timedelta(days=days),
        )
        .order_by(CaseRow.resolved_at, CaseRow.id)
        .limit(limit)
    ).all()
    session.rollback()  # the read's transaction ends; each close takes its own
    closed = 0
    for case_id in due:
        try:
            closed += close_if_due(session, case_id, now, settings=settings)
        except SopdeskError as exc:  # one case the engine refuses must not stop the rest
            log.warning("case %s was not closed: %s", case_id, exc.message)
    return closed


@atomic_case
def close_if_due(session: Session, case_id: int, now: datetime, *, settings: Settings) -> bool:
    """Close one case, locked, if its reopen window has passed; False if it has not (a
    reply reopened it since it was chosen)."""
    loaded = load_for_work(session, case_id, settings)
    case = loaded.case
    if not past_reopen_window(
        case.status, case.resolved_at, now, settings.close_resolved_after_days
    ):
        return False
    change_case_status(session, loaded, CaseStatus.CLOSED, now, "system")
    return True
