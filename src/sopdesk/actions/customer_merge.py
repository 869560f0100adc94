"""Merging two customers who are one person (they wrote from two addresses, or were
added twice): everything of the merged customer becomes the kept customer's, and the
merged customer is gone.

What moves: every case (with its messages, run and history), every event, timer,
queued e-mail and survey answer. The merged customer's address, and their other
addresses, become the kept customer's other addresses, so mail from them keeps
arriving on the kept customer, and links sent to the merged customer still work.

What the kept customer's details become (`merged_details`, pure): their own name,
phone and tier win; a detail they lack is taken from the merged customer (a tier
counts as lacking when it is the default); tags are joined; purchases are added,
a purchase both counted (the same purchase id) once; the earlier `created_at` is kept;
if either had unsubscribed from follow-ups, the kept customer has (and their waiting
follow-ups are cancelled, as an unsubscribe does).

Sequences (onboarding, loyalty) are keyed by customer: the merged customer's are
renamed onto the kept customer, and where the kept customer has run the same one
already, the merged customer's pending steps are cancelled, so nobody gets the same
welcome series twice. A merge cannot be undone; it is logged on the kept customer as a
`customer.merged` event with who did it and what moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.actions.customer_changes import MAX_TAGS
from sopdesk.actions.customers import customer_by_key
from sopdesk.actions.unsubscribe import cancel_optional
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerAddressRow,
    CustomerRow,
    OutboxRow,
    SurveyResponseRow,
    TimerRow,
    TimerStatus,
)

DEFAULT_TIER = "standard"
DETAILS = ("name", "first_name", "last_name", "phone", "tier", "tags", "created_at")
_PURCHASE = "purchase:"


@dataclass(frozen=True)
class MergedCustomers:
    customer: CustomerRow  # the kept customer, as they are now
    merged_id: int
    merged_email: str
    merged_name: str
    cases: int  # the cases that moved
    changed: tuple[str, ...]  # the kept customer's details the merge changed


def merged_details(kept: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """The kept customer's details after the merge, from both customers' details (the
    columns of `DETAILS`, plus `purchases`, `unsubscribed_at`). Raises `InvalidInput`
    when the joined tags are more than a customer may have."""
    out = dict(kept)
    if not kept["name"]:
        out |= {key: merged[key] for key in ("name", "first_name", "last_name")}
    if not kept["phone"]:
        out["phone"] = merged["phone"]
    if kept["tier"] == DEFAULT_TIER:
        out["tier"] = merged["tier"]
    tags = list(kept["tags"]) + [tag for tag in merged["tags"] if tag not in kept["tags"]]
    if len(tags) > MAX_TAGS:
        raise InvalidInput(
            f"together the two customers have {len(tags)} tags; a customer has at most {MAX_TAGS}",
            hint="remove some tags from one of them first",
        )
    out["tags"] = tags
    out["created_at"] = min(kept["created_at"], merged["created_at"])
    stopped = [at for at in (kept["unsubscribed_at"], merged["unsubscribed_at"]) if at]
    out["unsubscribed_at"] = min(stopped) if stopped else None
    return out


@atomic_case
def do_merge_customers(
    session: Session,
    keep: int | str,
    merge: int | str,
    *,
    by: str,
    now: datetime | None = None,
) -> MergedCustomers:
    """Merge customer `merge` into customer `keep` (each by id or address)."""
    moment = resolve_now(now)
    kept, gone = _locked(session, customer_by_key(session, keep), customer_by_key(session, merge))
    before = {column: getattr(kept, column) for column in (*DETAILS, "unsubscribed_at")}
    merged = {column: getattr(gone, column) for column in (*DETAILS, "unsubscribed_at")}
    details = merged_details(before, merged)
    counted_twice = _move_sequences(session, kept.id, gone.id)
    cases = _move_rows(session, kept.id, gone.id)
    gone_id, gone_email, gone_name = gone.id, gone.email, gone.name
    purchases = kept.purchases + gone.purchases - counted_twice
    session.delete(gone)
    session.flush()
    session.add(
        CustomerAddressRow(
            address=gone_email, customer_id=kept.id, merged_from=gone_id, added_at=moment
        )
    )
    was = {**before, "purchases": kept.purchases}
    after = {**details, "purchases": purchases}
    changed = {
        column: [was[column], value] for column, value in after.items() if was[column] != value
    }
    for column, (_, value) in changed.items():
        setattr(kept, column, value)
    kept.updated_at = moment
    stopped: list[str] = []
    if "unsubscribed_at" in changed:  # the merged customer had said stop: so has this one
        outbox, timers = cancel_optional(session, kept, moment)
        stopped = [row.key for row in outbox] + [timer.key for timer in timers]
    log_event(
        session,
        "customer.merged",
        moment,
        customer_id=kept.id,
        actor=by,
        merged={"id": gone_id, "email": gone_email, "name": gone_name},
        cases=cases,
        changes=changed,
        followups_cancelled=stopped,
    )
    return MergedCustomers(kept, gone_id, gone_email, gone_name, cases, tuple(changed))


def _locked(
    session: Session, kept: CustomerRow, gone: CustomerRow
) -> tuple[CustomerRow, CustomerRow]:
    """Both customers, locked in id order (PostgreSQL; SQLite's write lock is held) and
    read again, so that a purchase counted meanwhile is not lost."""
    if kept.id == gone.id:
        raise InvalidInput(
            f"customer {kept.id} cannot be merged into themselves",
            hint="name the other customer, by id or e-mail address",
        )
    ids = sorted((kept.id, gone.id))
    query = select(CustomerRow).where(CustomerRow.id.in_(ids)).order_by(CustomerRow.id)
    rows = session.scalars(query.with_for_update().execution_options(populate_existing=True))
    by_id = {row.id: row for row in rows}
    return by_id[kept.id], by_id[gone.id]


def _move_sequences(session: Session, kept_id: int, gone_id: int) -> int:
    """Rename the merged customer's sequence keys (`customer:<id>:…`) onto the kept
    customer; where the kept customer has the same key, a pending step is cancelled and
    the key stays. Returns how many purchases both had counted."""
    old, new = f"customer:{gone_id}:", f"customer:{kept_id}:"
    timers = session.scalars(
        select(TimerRow).where(TimerRow.customer_id == gone_id, TimerRow.key.startswith(old))
    ).all()
    wanted = [new + timer.key.removeprefix(old) for timer in timers]
    taken = set(session.scalars(select(TimerRow.key).where(TimerRow.key.in_(wanted))))
    twice = 0
    for timer, key in zip(timers, wanted, strict=True):
        if key not in taken:
            timer.key = key
            continue
        twice += key.removeprefix(new).startswith(_PURCHASE)
        if timer.status == TimerStatus.PENDING.value:
            timer.status = TimerStatus.CANCELLED.value
    session.flush()
    return twice


def _move_rows(session: Session, kept_id: int, gone_id: int) -> int:
    """Give the merged customer's rows to the kept customer; how many cases moved."""
    moved = {
        table: session.execute(
            update(table).where(table.customer_id == gone_id).values(customer_id=kept_id),
            execution_options={"synchronize_session": False},
        ).rowcount
        for table in (CaseRow, CaseEventRow, TimerRow, OutboxRow, CustomerAddressRow)
    }
    _move_surveys(session, kept_id, gone_id)
    return int(moved[CaseRow] or 0)


def _move_surveys(session: Session, kept_id: int, gone_id: int) -> None:
    """Survey answers about a sequence (no case) are one per customer and SOP: where
    both answered about the same SOP, the later answer is kept."""
    row = SurveyResponseRow
    mine = select(row).where(row.customer_id == kept_id, row.case_id.is_(None))
    theirs = select(row).where(row.customer_id == gone_id, row.case_id.is_(None))
    kept_answers = {answer.sop_id: answer for answer in session.scalars(mine)}
    dropped: list[int] = []
    for answer in session.scalars(theirs).all():
        other = kept_answers.get(answer.sop_id)
        if other is None:
            continue
        older = answer if answer.answered_at <= other.answered_at else other
        dropped.append(older.id)
    if dropped:
        session.execute(
            delete(row).where(row.id.in_(dropped)),
            execution_options={"synchronize_session": False},
        )
    session.execute(
        update(row).where(row.customer_id == gone_id).values(customer_id=kept_id),
        execution_options={"synchronize_session": False},
    )
