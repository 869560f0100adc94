"""Merging a case into another: the customer wrote twice about the same thing.

The merged case's messages (with their files) move to the case that goes on, where an
internal note says what was merged and by whom; the merged case is closed with
`merged_into` set, its SOP run is cancelled with its pending timers and waiting
follow-ups (no survey for it), and nothing else about it changes: its history stays,
readable, and says where it went. Mail that threads onto the merged case (its token in
a subject) and links sent for it reach the case that goes on
(`case_reads.surviving_case`).

The case that goes on keeps its SOP run and clocks as they were: like a comment added
by an agent, a merge neither answers the customer nor starts a new response clock. Both
cases must be the same customer's (merge the customers first), the merged case must
not be closed, and neither may have been merged already.

Merged cases are left out of the reports (`actions.reports`): they are duplicates, not
cases the team resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.case_runs import status_events
from sopdesk.actions.case_state import LoadedCase, atomic_case, load_case, log_event
from sopdesk.actions.replies import add_note
from sopdesk.actions.unsubscribe import cancel_waiting_messages
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseRow,
    CaseStatusValue,
    MessageRow,
    OutboxRow,
    RunStatus,
    TimerRow,
    TimerStatus,
)


@dataclass(frozen=True)
class MergedCases:
    case: CaseRow  # the case that goes on
    merged: CaseRow  # the case merged into it, now closed
    messages: int  # the messages that moved


@atomic_case
def do_merge_cases(
    session: Session,
    keep: int | str,
    merge: int | str,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> MergedCases:
    """Merge case `merge` into case `keep` (each by id or reference)."""
    moment, settings = resolve_now(now), settings or Settings()
    kept, gone = _locked(session, get_case(session, keep).id, get_case(session, merge).id, settings)
    _check(kept.case, gone.case)
    moved = session.execute(
        update(MessageRow)
        .where(MessageRow.case_id == gone.case.id)
        .values(case_id=kept.case.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    _close(session, gone, kept.case, moment, by)
    text = (
        f"{gone.case.reference} ({gone.case.subject or 'no subject'}) was merged into this "
        f"case by {by}: its {moved} message(s) are in this thread."
    )
    add_note(session, kept, by, text, moment)
    log_event(
        session,
        "case.merged",
        moment,
        case_id=kept.case.id,
        customer_id=kept.case.customer_id,
        actor=by,
        merged=gone.case.reference,
        messages=moved,
    )
    return MergedCases(kept.case, gone.case, int(moved or 0))


def _locked(
    session: Session, keep_id: int, merge_id: int, settings: Settings
) -> tuple[LoadedCase, LoadedCase]:
    """Both cases loaded and locked, the lower id first (no deadlock with a merge the
    other way round)."""
    if keep_id == merge_id:
        raise InvalidInput("a case cannot be merged into itself", hint="name the other case")
    first, second = sorted((keep_id, merge_id))
    loaded = {first: load_case(session, first, settings)}
    loaded[second] = load_case(session, second, settings)
    return loaded[keep_id], loaded[merge_id]


def _check(kept: CaseRow, gone: CaseRow) -> None:
    if kept.customer_id != gone.customer_id:
        raise Conflict(
            f"{gone.reference} and {kept.reference} are different customers' cases",
            hint="if they are one person, merge the customers first",
        )
    for case in (kept, gone):
        if case.merged_into is not None:
            raise Conflict(
                f"{case.reference} was merged into another case already",
                hint="merge into the case it went to",
            )
    if gone.status == CaseStatusValue.CLOSED.value:
        raise Conflict(f"{gone.reference} is closed", hint="a closed case is history; leave it")


def _close(session: Session, gone: LoadedCase, kept: CaseRow, now: datetime, by: str) -> None:
    """Close the merged case and stop everything its SOP still had to do."""
    case = gone.case
    reason = f"merged into {kept.reference}"
    session.execute(
        update(TimerRow)
        .where(TimerRow.case_id == case.id, TimerRow.status == TimerStatus.PENDING.value)
        .values(status=TimerStatus.CANCELLED.value, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    cancel_waiting_messages(session, OutboxRow.case_id == case.id, reason)
    if gone.run is not None:
        gone.run.status, gone.run.updated_at = RunStatus.CANCELLED.value, now
    before = case.status
    case.status, case.closed_at, case.next_due_at = CaseStatusValue.CLOSED.value, now, None
    case.merged_into, case.updated_at = kept.id, now
    status_events(session, case, before, now, by)
    log_event(
        session,
        "case.merged_into",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        actor=by,
        into=kept.reference,
    )
