"""Opening a case: customer, case, first message, route, SOP run and first decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions.case_reads import (
    CaseFilters,
    case_timeline,
    customer_history,
    get_case,
    list_cases,
)
from sopdesk.actions.cases import do_open_case, do_reply
from sopdesk.actions.context import outgoing_email
from sopdesk.channels.email_out import compose
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, CustomerRow, SopRunRow, StepStateRow
from tests.cases.conftest import MONDAY, events, outbox, timers
from tests.conftest import statements_sent


def open_return(session: Session, settings: Settings, **overrides: object) -> int:
    values: dict[str, object] = {
        "customer_email": "Ann@Customer.Example",
        "customer_name": "Ann Lee",
        "subject": "Return my shoes",
        "body": "They are the wrong size, I want a refund.",
        "channel": "web",
        "now": MONDAY,
        "settings": settings,
    }
    values.update(overrides)
    return do_open_case(session, **values).id  # type: ignore[arg-type]


def test_a_return_starts_the_returns_sop_with_its_ack_queued(
    library: Session, settings: Settings
) -> None:
    case_id = open_return(library, settings)
    case = get_case(library, case_id)
    assert case.reference == f"SD-{case.id}"
    assert (case.sop_id, case.case_type, case.status) == ("returns-and-refunds", "return", "new")
    assert case.customer.email == "ann@customer.example"
    assert case.customer.first_name == "Ann"
    assert case.route["source"] == "rules" and "return" in case.route["explain"]
    [ack] = outbox(library, case_id)
    assert ack.key == f"{case.reference}:step:acknowledge:send"
    assert ack.status == "pending" and ack.next_attempt_at == MONDAY
    assert ack.payload["to"] == [{"address": "ann@customer.example", "name": "Ann Lee"}]
    assert ack.payload["subject"] == "We're here to help – Return my shoes"
    assert "Dear Ann," in ack.payload["text"] and "Shop Example" in ack.payload["text"]
    assert ack.payload["automatic"] is True
    run = library.scalar(select(SopRunRow).where(SopRunRow.case_id == case_id))
    assert run is not None and run.sop_version.sop_id == "returns-and-refunds"
    steps = {s.step_id: s for s in library.scalars(select(StepStateRow))}
    assert steps["acknowledge"].status == "done" and steps["acknowledge"].actor == "system"
    assert steps["label"].due_at == MONDAY + timedelta(days=1)
    assert case.next_due_at == steps["check-eligibility"].due_at == MONDAY + timedelta(hours=4)
    warning = timers(library, case_id)[f"{case.reference}:step:check-eligibility"]
    assert warning.due_at == MONDAY + timedelta(hours=3)  # 75% of 4 business hours
    kinds = [e.kind for e in events(library, case_id)]
    assert kinds[:4] == ["case.opened", "message.received", "case.routed", "sop.started"]
    assert {"step.completed", "message.queued"} <= set(kinds)


def test_the_reference_goes_out_with_the_insert(library: Session, settings: Settings) -> None:
    """`SD-<id>` everywhere; the id is known first (a sequence on PostgreSQL, the
    largest id plus one under SQLite's write lock), so no UPDATE rewrites the new case
    row (and every index of the table) for it."""
    bind = library.get_bind()
    with statements_sent(bind) as statements:
        case_ids = [open_return(library, settings, customer_email=f"r{i}@x.example") for i in "ab"]
    cases = [library.get(CaseRow, case_id) for case_id in case_ids]
    assert [case.reference for case in cases if case] == [f"SD-{i}" for i in case_ids]
    assert case_ids[1] > case_ids[0]
    rewrites = [s for s in statements if s.startswith("UPDATE cases SET reference")]
    assert rewrites == []


def test_the_outbox_payload_composes_with_the_stored_message_id(
    library: Session, settings: Settings
) -> None:
    case_id = open_return(library, settings)
    [row] = outbox(library, case_id)
    message = compose(outgoing_email(row.key, row.payload), now=MONDAY, secret="test-secret")
    assert message["Message-ID"] == f"<{row.payload['message_id']}>"
    assert message["Message-ID"] == f"<{row.message_id}>"
    assert f"[{get_case(library, case_id).reference}]" in message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"


def test_no_matching_sop_leaves_the_case_in_triage(library: Session, settings: Settings) -> None:
    case_id = open_return(library, settings, subject="Hello", body="Please call me back.")
    case = get_case(library, case_id)
    assert case.sop_id is None and case.group_name == "triage"
    assert case.route["source"] == "triage"
    assert outbox(library, case_id) == [] and timers(library, case_id) == {}


def test_a_chosen_sop_skips_routing(library: Session, settings: Settings) -> None:
    case_id = open_return(library, settings, sop_id="faq-upkeep", channel="internal")
    case = get_case(library, case_id)
    assert case.sop_id == "faq-upkeep" and case.route["source"] == "manual"


def test_an_unpublished_sop_cannot_be_chosen(library: Session, settings: Settings) -> None:
    with pytest.raises(NotFound):
        open_return(library, settings, sop_id="no-such-sop")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"customer_email": "not an address"}, "not an e-mail address"),
        ({"channel": "pigeon"}, "unknown channel"),
        ({"priority": "meh"}, "unknown priority"),
        ({"subject": " ", "body": ""}, "needs a subject or a message"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(
    library: Session, settings: Settings, override: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_return(library, settings, **override)
    assert library.scalar(select(func.count(CustomerRow.id))) == 0


def test_a_repeat_customer_is_found_not_duplicated(library: Session, settings: Settings) -> None:
    first = open_return(library, settings)
    second = open_return(library, settings, customer_email="ann@customer.example", subject="Again")
    assert get_case(library, first).customer_id == get_case(library, second).customer_id
    assert library.scalar(select(func.count(CustomerRow.id))) == 1


def test_list_cases_pages_most_urgent_first(library: Session, settings: Settings) -> None:
    ids = [open_return(library, settings, now=MONDAY + timedelta(hours=h)) for h in range(5)]
    ids.append(open_return(library, settings, subject="Hello", body="Call me."))  # no due
    seen: list[int] = []
    cursor = None
    while True:
        page = list_cases(library, CaseFilters(open_only=True), cursor=cursor, limit=2)
        seen += [case.id for case in page.cases]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids
    assert list_cases(library, CaseFilters(status=("resolved",))).cases == []
    with pytest.raises(InvalidInput):
        list_cases(library, cursor="garbage!")


def test_the_timeline_has_messages_steps_events_and_mail(
    library: Session, settings: Settings
) -> None:
    case_id = open_return(library, settings)
    timeline = case_timeline(library, get_case(library, case_id).reference or "")
    assert [m.kind for m in timeline.messages] == ["inbound", "outbound"]
    assert [s.step_id for s in timeline.steps][:3] == ["acknowledge", "check-eligibility", "label"]
    assert timeline.outbox and timeline.timers and timeline.events
    with pytest.raises(NotFound):
        case_timeline(library, "SD-999999")


def test_opening_twice_with_a_clashing_key_is_a_conflict(
    library: Session, settings: Settings
) -> None:
    case_id = open_return(library, settings)
    do_reply(library, case_id, author="sam", text="Hi", key="k-1", now=MONDAY, settings=settings)
    with pytest.raises(Conflict):
        do_reply(
            library, case_id, author="sam", text="Hi", key="k-1", now=MONDAY, settings=settings
        )


def test_a_customer_history_has_their_cases_and_events(
    library: Session, settings: Settings
) -> None:
    first = open_return(library, settings)
    second = open_return(
        library, settings, subject="Hello", body="Call me back.", now=MONDAY + timedelta(days=1)
    )
    history = customer_history(library, "ANN@customer.example")
    assert [case.id for case in history.cases] == [second, first]
    assert {"case.opened", "message.queued"} <= {event.kind for event in history.events}
    assert customer_history(library, history.customer.id).customer.email == "ann@customer.example"
    with pytest.raises(NotFound):
        customer_history(library, "nobody@customer.example")
