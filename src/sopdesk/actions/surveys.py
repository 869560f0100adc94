"""The customer survey behind the signed link e-mailed after a case, and the review click.

`read_answer` is the pure rule for what a survey form may hold (CSAT 1..5, solved yes,
no or unsaid, a comment of at most `MAX_COMMENT` characters); a form that breaks it is
an `InvalidInput` and nothing is stored. A survey is about a `SurveySubject`: a case
(the link names its reference), or a customer and an SOP (a customer sequence's e-mail,
onboarding or loyalty, has no case). `do_answer_survey` keeps one row per subject (a
second answer replaces the first: people change their minds, and counting both would
skew CSAT) and logs `survey.answered`, which webhooks and metrics read. `list_surveys`
pages the answers newest first with an opaque keyset cursor, like the case list.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.store.tables import CaseRow, CustomerAddressRow, CustomerRow, Sop, SurveyResponseRow

RATINGS = (1, 2, 3, 4, 5)
RATING_LABELS = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neither satisfied nor dissatisfied",
    4: "Satisfied",
    5: "Very satisfied",
}
MAX_COMMENT = 5000
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_YES, _NO = frozenset({"yes", "true", "1"}), frozenset({"no", "false", "0"})


@dataclass(frozen=True)
class SurveyAnswer:
    """A valid answer: `resolved` None when the customer left the question open."""

    rating: int
    resolved: bool | None
    comment: str


def parse_rating(value: object) -> int | None:
    """The rating `value` names ("4", 4), or None when it is not one of 1..5."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in RATINGS else None
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) == 1):
        return None
    number = int(text)
    return number if number in RATINGS else None


def read_answer(rating: object, resolved: object, comment: object) -> SurveyAnswer:
    """The answer a survey form holds, or `InvalidInput` saying what is wrong with it."""
    number = parse_rating(rating)
    if number is None:
        raise InvalidInput(
            "choose how satisfied you are, from 1 to 5", hint="pick one of the five answers"
        )
    said = resolved.strip().lower() if isinstance(resolved, str) else ""
    if said and said not in _YES | _NO:
        raise InvalidInput("answer yes or no to “Did we solve your problem?”")
    text = comment if isinstance(comment, str) else ""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput(f"the comment may have at most {MAX_COMMENT:,} characters")
    if "\x00" in text:
        raise InvalidInput("the comment holds a character that cannot be stored")
    return SurveyAnswer(number, (said in _YES) if said else None, text)


def case_for_reference(session: Session, reference: str) -> CaseRow:
    """The case a link names by its reference; `NotFound` when it no longer exists."""
    case = session.scalar(select(CaseRow).where(CaseRow.reference == reference))
    if case is None:
        raise NotFound("there is no case for this link")
    return case


@dataclass(frozen=True)
class SurveySubject:
    """What a survey link asks about: a case, or (`case_id` None) a customer and an SOP."""

    customer_id: int
    sop_id: str | None
    title: str  # what the page names: the case's subject, or the SOP's title
    case_id: int | None = None
    reference: str = ""


def subject_for_link(session: Session, payload: Mapping[str, Any]) -> SurveySubject:
    """The subject a verified link payload names (`{"case": ref}` or `{"customer": id,
    "sop": id}`); `NotFound` when what it names no longer exists."""
    reference = payload.get("case")
    if isinstance(reference, str) and reference:
        case = case_for_reference(session, reference)
        return SurveySubject(case.customer_id, case.sop_id, case.subject, case.id, reference)
    customer_id, sop_id = _linked_customer(session, payload), payload.get("sop")
    if not isinstance(sop_id, str) or not sop_id:
        raise NotFound("this link does not say what the survey is about")
    title = session.scalar(select(Sop.title).where(Sop.id == sop_id))
    return SurveySubject(customer_id, sop_id, title or sop_id)


def customer_for_link(session: Session, payload: Mapping[str, Any]) -> int:
    """The id of the customer a verified link payload is about (its case's customer, or
    the customer it names); `NotFound` when that no longer exists."""
    reference = payload.get("case")
    if isinstance(reference, str) and reference:
        return case_for_reference(session, reference).customer_id
    return _linked_customer(session, payload)


def _linked_customer(session: Session, payload: Mapping[str, Any]) -> int:
    customer_id = payload.get("customer")
    found = customer_now(session, customer_id) if type(customer_id) is int else None
    if found is None:
        raise NotFound("there is no customer for this link")
    return found


def customer_now(session: Session, customer_id: int) -> int | None:
    """The customer a link sent to `customer_id` is about now: that customer, or the one
    they were merged into; None when neither exists."""
    if session.get(CustomerRow, customer_id) is not None:
        return customer_id
    merged_into = select(CustomerAddressRow.customer_id).where(
        CustomerAddressRow.merged_from == customer_id
    )
    return session.scalar(merged_into.limit(1))


def _answer_of(subject: SurveySubject) -> Any:
    row = SurveyResponseRow
    if subject.case_id is not None:
        return row.case_id == subject.case_id
    return and_(
        row.case_id.is_(None), row.customer_id == subject.customer_id, row.sop_id == subject.sop_id
    )


def survey_for(session: Session, subject: SurveySubject) -> SurveyResponseRow | None:
    """The answer given so far about `subject`, if any."""
    return session.scalar(select(SurveyResponseRow).where(_answer_of(subject)))


def survey_for_case(session: Session, case_id: int) -> SurveyResponseRow | None:
    return session.scalar(select(SurveyResponseRow).where(SurveyResponseRow.case_id == case_id))


@atomic_case
def do_answer_survey(
    session: Session,
    link: str | Mapping[str, Any],
    answer: SurveyAnswer,
    *,
    now: datetime | None = None,
) -> SurveyResponseRow:
    """Store the customer's answer about what `link` names (a case reference, or a
    verified link payload), replacing an earlier one.

    Two answers racing on a new row collide on the unique case id (or customer and SOP)
    and the later one gets a `Conflict` (the customer submits again), not a second row.
    """
    moment = resolve_now(now)
    subject = subject_for_link(session, {"case": link} if isinstance(link, str) else link)
    row = session.scalar(select(SurveyResponseRow).where(_answer_of(subject)).with_for_update())
    first = row is None
    if row is None:
        row = SurveyResponseRow(case_id=subject.case_id, answered_at=moment)
        session.add(row)
    row.customer_id, row.sop_id = subject.customer_id, subject.sop_id
    row.rating, row.resolved, row.comment = answer.rating, answer.resolved, answer.comment
    row.updated_at = moment
    session.flush()
    log_event(
        session,
        "survey.answered",
        moment,
        case_id=subject.case_id,
        customer_id=subject.customer_id,
        actor="customer",
        rating=answer.rating,
        resolved=answer.resolved,
        comment=answer.comment,
        first=first,
        sop_id=subject.sop_id,
    )
    return row


@atomic_case
def do_review_clicked(
    session: Session,
    *,
    reference: str | None = None,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Log `review.clicked` for the case (or customer) a review link names.

    A link whose case was deleted still counts for its customer when known; a link
    naming nothing that exists logs nothing (the customer still gets the page).
    """
    moment = resolve_now(now)
    case_id = None
    if reference:
        case = session.scalar(select(CaseRow).where(CaseRow.reference == reference))
        if case is not None:
            case_id, customer_id = case.id, case.customer_id
    if case_id is None and customer_id is not None:
        customer_id = customer_now(session, customer_id)
    if case_id is None and customer_id is None:
        return
    log_event(
        session,
        "review.clicked",
        moment,
        case_id=case_id,
        customer_id=customer_id,
        actor="customer",
    )


# --- the list the API pages through ---------------------------------------------------


@dataclass(frozen=True)
class SurveyFilters:
    sop_id: str | None = None
    rating_max: int | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class SurveyItem:
    response: SurveyResponseRow
    reference: str
    sop_id: str | None


@dataclass(frozen=True)
class SurveyPage:
    items: list[SurveyItem]
    next_cursor: str | None = None


def list_surveys(
    session: Session,
    filters: SurveyFilters | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> SurveyPage:
    """Answers newest first (by first answer, then id), a page at a time (keyset)."""
    filters = filters or SurveyFilters()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    answered, ident = SurveyResponseRow.answered_at, SurveyResponseRow.id
    query = (
        select(SurveyResponseRow, CaseRow.reference, SurveyResponseRow.sop_id)
        .outerjoin(CaseRow, CaseRow.id == SurveyResponseRow.case_id)
        .where(*_where(filters))
    )
    if cursor is not None:
        after_at, after_id = _read_cursor(cursor)
        query = query.where(or_(answered < after_at, and_(answered == after_at, ident < after_id)))
    rows = list(session.execute(query.order_by(answered.desc(), ident.desc()).limit(limit + 1)))
    more = len(rows) > limit
    items = [SurveyItem(row, reference or "", sop) for row, reference, sop in rows[:limit]]
    next_cursor = _make_cursor(items[-1].response) if more and items else None
    return SurveyPage(items, next_cursor)


def _where(filters: SurveyFilters) -> list[Any]:
    clauses: list[Any] = []
    if filters.sop_id is not None:
        clauses.append(SurveyResponseRow.sop_id == filters.sop_id)
    if filters.rating_max is not None:
        clauses.append(SurveyResponseRow.rating <= filters.rating_max)
    if filters.since is not None:
        clauses.append(SurveyResponseRow.answered_at >= filters.since)
    return clauses


def _make_cursor(row: SurveyResponseRow) -> str:
    raw = json.dumps([row.answered_at.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive instant")
        return moment, int(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "this page cursor is not valid", hint="start from the first page"
        ) from exc
