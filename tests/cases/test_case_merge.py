"""Merging a case into another, on SQLite and PostgreSQL: the customer wrote twice about
the same return. The messages move, the merged case is closed and stops, mail and
links that name it reach the case that goes on, and reports count one case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions.case_merge import do_merge_cases
from sopdesk.actions.case_reads import surviving_case
from sopdesk.actions.customer_replies import do_customer_reply
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.reports import load_facts
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.metrics.model import Period
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, MessageRow, SopRunRow, TimerRow
from tests.cases.conftest import MONDAY, email, events, fire_due, outbox, start_return

AGENT = "sam@shop.example"


def _again(
    session: Session, settings: Settings, *, sender: str = "Ann Lee <ann@customer.example>"
) -> int:
    """The same customer writes again, as a new conversation (no In-Reply-To)."""
    raw = email(
        "Return of my shoes, order 55",
        "I wrote before: the shoes are too small, please refund.",
        sender=sender,
        message_id="<m2@customer.example>",
    )
    result = do_receive_email(
        session, raw, received_at=MONDAY + timedelta(hours=1), settings=settings
    )
    assert result.outcome == "new_case" and result.case_id is not None
    return result.case_id


def _case(session: Session, case_id: int) -> CaseRow:
    session.expire_all()
    row = session.get(CaseRow, case_id)
    assert row is not None
    return row


def _messages(session: Session, case_id: int) -> list[MessageRow]:
    query = select(MessageRow).where(MessageRow.case_id == case_id).order_by(MessageRow.id)
    return list(session.scalars(query))


def test_a_case_merged_into_another_moves_its_messages_and_stops(
    library: Session, settings: Settings
) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    second_messages = {row.id for row in _messages(library, second)}
    assert second_messages  # the customer's message and the acknowledgement
    first_timers = {
        t.key: t.status for t in library.scalars(select(TimerRow).where(TimerRow.case_id == first))
    }
    at = MONDAY + timedelta(hours=2)
    merged = do_merge_cases(library, f"SD-{first}", second, by=AGENT, now=at, settings=settings)
    assert merged.messages == len(second_messages)
    kept, gone = _case(library, first), _case(library, second)
    assert (merged.case.id, merged.merged.id) == (first, second)
    assert second_messages < {row.id for row in _messages(library, first)}
    assert _messages(library, second) == []
    [note] = [row for row in _messages(library, first) if row.kind == "note"]
    assert note.author == AGENT
    assert note.text == (
        f"SD-{second} (Return of my shoes, order 55) was merged into this case by {AGENT}: "
        f"its {len(second_messages)} message(s) are in this thread."
    )
    assert (gone.status, gone.merged_into, gone.closed_at, gone.next_due_at) == (
        "closed",
        first,
        at,
        None,
    )
    assert kept.status != "closed" and kept.merged_into is None
    runs = library.scalars(select(SopRunRow.status).where(SopRunRow.case_id == second))
    assert list(runs) == ["cancelled"]
    gone_timers = library.scalars(select(TimerRow).where(TimerRow.case_id == second)).all()
    assert gone_timers and all(t.status in {"cancelled", "done"} for t in gone_timers)
    assert {t.last_error for t in gone_timers if t.status == "cancelled"} == {
        f"merged into SD-{first}"
    }
    still = {
        t.key: t.status for t in library.scalars(select(TimerRow).where(TimerRow.case_id == first))
    }
    assert {key: still[key] for key in first_timers} == first_timers  # its SOP goes on
    [logged] = events(library, first, "case.merged")
    assert logged.actor == AGENT and logged.data == {
        "merged": f"SD-{second}",
        "messages": len(second_messages),
    }
    assert [e.data["into"] for e in events(library, second, "case.merged_into")] == [f"SD-{first}"]
    assert [e.data["after"] for e in events(library, second, "status.changed")][-1] == "closed"
    # nothing more happens to the merged case, however long we wait
    sent_before = len(outbox(library, second))
    fire_due(library, MONDAY + timedelta(days=30), settings)
    assert len(outbox(library, second)) == sent_before


def test_mail_and_links_that_name_the_merged_case_reach_the_case_that_goes_on(
    library: Session, settings: Settings
) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    do_merge_cases(library, first, second, by=AGENT, now=MONDAY + timedelta(hours=2))
    by_token = email(
        f"Re: Return of my shoes [SD-{second}]",
        "Any news?",
        message_id="<m3@customer.example>",
    )
    answer = do_receive_email(
        library, by_token, received_at=MONDAY + timedelta(hours=3), settings=settings
    )
    assert (answer.outcome, answer.case_id) == ("reply", first)
    acknowledged = next(
        row.payload["message_id"]
        for row in outbox(library, second)
        if row.payload.get("message_id")
    )
    to_the_ack = email(
        "Re: your return",
        "Thanks.",
        message_id="<m4@customer.example>",
        headers=f"In-Reply-To: {acknowledged}\n",
    )
    answer = do_receive_email(
        library, to_the_ack, received_at=MONDAY + timedelta(hours=3), settings=settings
    )
    assert (answer.outcome, answer.case_id, answer.threaded_via) == ("reply", first, "message_id")
    reply = do_customer_reply(
        library,
        f"SD-{second}",
        "Still waiting for the label.",
        key="k" * 24,
        settings=settings,
        now=MONDAY + timedelta(hours=4),
    )
    assert reply.case_id == first
    assert surviving_case(library, _case(library, second)).id == first
    cases = library.scalar(select(func.count()).select_from(CaseRow))
    assert cases == 2  # no third case


def test_a_chain_of_merges_reaches_the_last_case(library: Session, settings: Settings) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    raw = email("Third time", "Hello?", message_id="<m9@customer.example>")
    third = do_receive_email(
        library, raw, received_at=MONDAY + timedelta(hours=2), settings=settings
    )
    assert third.case_id is not None
    do_merge_cases(library, first, second, by=AGENT, now=MONDAY + timedelta(hours=3))
    do_merge_cases(library, third.case_id, first, by=AGENT, now=MONDAY + timedelta(hours=4))
    assert surviving_case(library, _case(library, second)).id == third.case_id
    token = email(f"Re: [SD-{second}]", "Hi", message_id="<m10@customer.example>")
    answer = do_receive_email(
        library, token, received_at=MONDAY + timedelta(hours=5), settings=settings
    )
    assert answer.case_id == third.case_id
    assert len(_messages(library, third.case_id)) >= 5  # all three conversations


def test_reports_count_the_merged_case_once(library: Session, settings: Settings) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    period = Period(MONDAY - timedelta(days=1), MONDAY + timedelta(days=1))
    assert {case.case_id for case in load_facts(library, period).cases} == {first, second}
    do_merge_cases(library, first, second, by=AGENT, now=MONDAY + timedelta(hours=2))
    assert {case.case_id for case in load_facts(library, period).cases} == {first}


def test_what_cannot_be_merged_is_refused(library: Session, settings: Settings) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    other = _again_from_someone_else(library, settings)
    with pytest.raises(InvalidInput, match="cannot be merged into itself"):
        do_merge_cases(library, first, f"SD-{first}", by=AGENT)
    with pytest.raises(Conflict, match="different customers' cases") as refused:
        do_merge_cases(library, first, other, by=AGENT)
    assert refused.value.hint == "if they are one person, merge the customers first"
    do_merge_cases(library, first, second, by=AGENT, now=MONDAY + timedelta(hours=2))
    with pytest.raises(Conflict, match="merged into another case already"):
        do_merge_cases(library, second, first, by=AGENT)
    with pytest.raises(Conflict, match="merged into another case already"):
        do_merge_cases(library, first, second, by=AGENT)
    assert _case(library, first).merged_into is None


def _again_from_someone_else(session: Session, settings: Settings) -> int:
    raw = email(
        "My return", "Refund please.", sender="Bo <bo@customer.example>", message_id="<b1@x>"
    )
    result = do_receive_email(
        session, raw, received_at=MONDAY + timedelta(hours=1), settings=settings
    )
    assert result.case_id is not None
    return result.case_id


def test_a_closed_case_is_history_and_is_not_merged(library: Session, settings: Settings) -> None:
    first = start_return(library, settings)
    second = _again(library, settings)
    _case(library, second).status = "closed"
    library.commit()
    with pytest.raises(Conflict, match="is closed"):
        do_merge_cases(library, first, second, by=AGENT)
    assert _messages(library, second)  # nothing moved


def test_a_merged_case_takes_no_more_work(library: Session, settings: Settings) -> None:
    from sopdesk.actions import cases as changes

    first = start_return(library, settings)
    second = _again(library, settings)
    do_merge_cases(library, first, second, by=AGENT, now=MONDAY + timedelta(hours=2))
    attempts = {
        "reply": lambda: changes.do_reply(
            library, second, author=AGENT, text="Hi", settings=settings
        ),
        "note": lambda: changes.do_add_note(library, second, author=AGENT, text="x"),
        "reopen": lambda: changes.do_change_status(library, second, "open", by=AGENT),
        "assign": lambda: changes.do_assign(library, second, AGENT, by=AGENT),
        "start": lambda: changes.do_start_sop(library, second, "returns-and-refunds", by=AGENT),
    }
    for name, attempt in attempts.items():
        with pytest.raises(Conflict, match=f"SD-{second} was merged into SD-{first}") as refused:
            attempt()
        assert refused.value.hint == f"work on SD-{first} instead", name
    assert _case(library, second).status == "closed"
