"""Resolved cases close by themselves after the reopen window, on SQLite and PostgreSQL:
a reply inside the window reopens the case, one after it opens a follow-up case, the
worker's sweep records the close, and follow-ups already scheduled still go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from sopdesk.actions import auto_close
from sopdesk.actions import cases as changes
from sopdesk.actions.auto_close import close_if_due, do_close_resolved, past_reopen_window
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.intake import do_receive_email
from sopdesk.errors import Conflict
from sopdesk.settings import Settings
from tests.cases.conftest import MONDAY, email, events, fire_due, outbox

RESOLVED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "after", "days", "expected"),
    [
        ("resolved", timedelta(days=14), 14, True),  # the window is over at its last instant
        ("resolved", timedelta(days=14) - timedelta(seconds=1), 14, False),
        ("resolved", timedelta(days=400), 0, False),  # 0: never
        ("open", timedelta(days=400), 14, False),  # only resolved cases
        ("closed", timedelta(days=400), 14, False),
    ],
)
def test_the_reopen_window(status: str, after: timedelta, days: int, expected: bool) -> None:
    assert past_reopen_window(status, RESOLVED, RESOLVED + after, days) is expected
    assert past_reopen_window(status, None, RESOLVED + after, days) is False


def answered(session: Session, settings: Settings, subject: str = "Opening hours?") -> int:
    """A question e-mailed in on Monday, answered and resolved at 12:00."""
    raw = email(subject, "What are your opening hours?", message_id=f"<{subject}@c>")
    case_id = do_receive_email(session, raw, received_at=MONDAY, settings=settings).case_id
    assert case_id is not None
    for step in ("triage", "answer"):
        changes.do_complete_step(session, case_id, step, by="sam", now=RESOLVED, settings=settings)
    changes.do_resolve(session, case_id, by="sam", now=RESOLVED, settings=settings)
    return case_id


def reply(session: Session, settings: Settings, case_id: int, at: datetime, n: int) -> int:
    ref = get_case(session, case_id).reference
    raw = email(f"Re: [{ref}]", "One more thing.", message_id=f"<r{n}@customer.example>")
    result = do_receive_email(session, raw, received_at=at, settings=settings)
    assert result.case_id is not None
    return result.case_id


def test_a_reply_inside_the_window_reopens_and_one_after_it_opens_a_follow_up(
    library: Session, settings: Settings
) -> None:
    case_id = answered(library, settings)
    ref = get_case(library, case_id).reference
    inside = RESOLVED + timedelta(days=13)
    assert reply(library, settings, case_id, inside, 1) == case_id
    assert get_case(library, case_id).status == "open"
    changes.do_resolve(library, case_id, by="sam", now=inside, settings=settings)
    after = inside + timedelta(days=settings.close_resolved_after_days)
    follow_up = reply(library, settings, case_id, after, 2)
    assert follow_up != case_id
    assert get_case(library, follow_up).fields["follow_up_of"] == ref
    old = get_case(library, case_id)
    assert (old.status, old.reopen_count) == ("resolved", 1)  # the sweep closes it later


def test_with_no_window_a_resolved_case_reopens_whenever_the_customer_writes(
    library: Session, settings: Settings
) -> None:
    forever = settings.model_copy(update={"close_resolved_after_days": 0})
    case_id = answered(library, forever)
    assert reply(library, forever, case_id, RESOLVED + timedelta(days=400), 1) == case_id
    assert do_close_resolved(library, RESOLVED + timedelta(days=500), settings=forever) == 0


def test_the_sweep_closes_only_cases_past_their_window_and_follow_ups_still_go(
    library: Session, settings: Settings
) -> None:
    three = settings.model_copy(update={"close_resolved_after_days": 3})
    first = answered(library, three, "Opening hours?")
    second = answered(library, three, "Price of the shirt?")
    changes.do_reopen(library, second, by="sam", now=RESOLVED + timedelta(days=1), settings=three)
    third = answered(library, three, "In stock?")
    ref = get_case(library, first).reference

    assert do_close_resolved(library, RESOLVED + timedelta(days=2), settings=three) == 0
    fire_due(library, RESOLVED + timedelta(days=2), three)  # the survey after 1 day
    sweep_at = RESOLVED + timedelta(days=3)
    assert do_close_resolved(library, sweep_at, settings=three) == 2
    assert [get_case(library, c).status for c in (first, second, third)] == [
        "closed",
        "open",
        "closed",
    ]
    assert get_case(library, first).closed_at == sweep_at
    closed = events(library, first, "status.changed")[-1]
    assert (closed.actor, closed.data["before"], closed.data["after"]) == (
        "system",
        "resolved",
        "closed",
    )
    assert do_close_resolved(library, sweep_at, settings=three) == 0  # nothing left

    # a message after the close: a follow-up case, as before the sweep
    follow_up = reply(library, three, first, sweep_at + timedelta(hours=1), 1)
    assert get_case(library, follow_up).fields["follow_up_of"] == ref
    # the built-in inquiry SOP's survey went a day after resolution; closing cancels nothing
    assert any(":followup:survey:" in row.key for row in outbox(library, first))
    assert events(library, first, "followup.cancelled") == []


def test_a_case_reopened_after_it_was_chosen_is_not_closed(
    library: Session, settings: Settings
) -> None:
    case_id = answered(library, settings)
    later = RESOLVED + timedelta(days=settings.close_resolved_after_days)
    changes.do_reopen(library, case_id, by="sam", now=later, settings=settings)
    assert close_if_due(library, case_id, later, settings=settings) is False
    assert get_case(library, case_id).status == "open"


def test_a_resolved_case_in_triage_closes_too(library: Session, settings: Settings) -> None:
    raw = email("Hello", "Call me back please.", message_id="<t1@c>")
    case_id = do_receive_email(library, raw, received_at=MONDAY, settings=settings).case_id
    assert case_id is not None and get_case(library, case_id).sop_id is None
    changes.do_resolve(library, case_id, by="sam", now=RESOLVED, settings=settings)
    later = RESOLVED + timedelta(days=settings.close_resolved_after_days)
    assert do_close_resolved(library, later, settings=settings) == 1
    assert get_case(library, case_id).status == "closed"


def test_a_case_the_engine_refuses_to_close_does_not_stop_the_sweep(
    library: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck = answered(library, settings, "Opening hours?")
    fine = answered(library, settings, "Price of the shirt?")
    real = auto_close.close_if_due

    def refuse_the_first(session: Session, case_id: int, now: datetime, **kw: object) -> bool:
        if case_id == stuck:
            raise Conflict(f"case SD-{case_id} cannot be closed")
        return real(session, case_id, now, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(auto_close, "close_if_due", refuse_the_first)
    later = RESOLVED + timedelta(days=settings.close_resolved_after_days)
    with caplog.at_level("WARNING", logger="sopdesk.worker"):
        assert auto_close.do_close_resolved(library, later, settings=settings) == 1
    assert [get_case(library, c).status for c in (stuck, fine)] == ["resolved", "closed"]
    assert f"case {stuck} was not closed: case SD-{stuck} cannot be closed" in caplog.text
