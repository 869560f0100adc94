"""Agents' changes to a case: the completion gate, steps, replies, notes, status, re-timing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import cases as changes
from sopdesk.actions.calendars import do_save_calendar
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.cases import do_open_case
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import MessageRow, StepStateRow
from tests.cases.conftest import MONDAY, events, outbox, timers


def open_case(session: Session, settings: Settings, **extra: object) -> int:
    values: dict[str, object] = {
        "customer_email": "ann@customer.example",
        "customer_name": "Ann Lee",
        "subject": "Return my shoes",
        "body": "I want a refund.",
        "channel": "web",
        "now": MONDAY,
        "settings": settings,
    }
    values.update(extra)
    return do_open_case(session, **values).id  # type: ignore[arg-type]


def later(hours: float) -> dict[str, object]:
    return {"now": MONDAY + timedelta(hours=hours)}


def test_resolving_through_the_gate_is_a_clean_conflict(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings)
    with pytest.raises(Conflict, match="cannot be resolved") as info:
        changes.do_resolve(library, case_id, by="sam", settings=settings, **later(1))
    assert info.value.status == 409
    assert get_case(library, case_id).status == "new"
    assert events(library, case_id, "status.changed") == []


def test_a_critical_step_cannot_be_skipped_and_skips_need_a_reason(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings, fields={"item_received": True})
    with pytest.raises(Conflict, match="critical"):
        changes.do_skip_step(
            library, case_id, "refund", reason="no", by="sam", settings=settings, **later(1)
        )
    with pytest.raises(InvalidInput, match="say why"):
        changes.do_skip_step(
            library, case_id, "label", reason=" ", by="sam", settings=settings, **later(1)
        )
    with pytest.raises(NotFound):
        changes.do_complete_step(library, case_id, "nope", by="sam", settings=settings)


def test_overrides_are_logged_with_their_reason(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    changes.do_override_step(
        library,
        case_id,
        "label",
        reason="collected in store",
        by="sam",
        settings=settings,
        **later(1),
    )
    [logged] = events(library, case_id, "step.overridden")
    assert (logged.actor, logged.data["reason"]) == ("sam", "collected in store")
    step = library.scalar(select(StepStateRow).where(StepStateRow.step_id == "label"))
    assert step is not None and (step.status, step.reason) == ("overridden", "collected in store")


def test_a_reply_threads_on_the_customer_message_and_counts_as_first_response(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings)
    first = library.scalar(select(MessageRow).where(MessageRow.kind == "inbound"))
    assert first is not None
    first.message_id = "m1@customer.example"
    library.commit()
    message = changes.do_reply(
        library, case_id, author="Sam Lee", text="We are on it.", settings=settings, **later(1)
    )
    assert message.in_reply_to == "m1@customer.example"
    [row] = [r for r in outbox(library, case_id) if ":reply:" in r.key]
    assert row.payload["automatic"] is False and row.payload["subject"] == "Re: Return my shoes"
    case = get_case(library, case_id)
    assert case.first_response_at == MONDAY + timedelta(hours=1)
    assert case.status == "open"
    assert f"{case.reference}:metric:first_response" not in {
        k for k, t in timers(library, case_id).items() if t.status == "pending"
    }


def test_a_template_reply_is_rendered_with_the_agent(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    message = changes.do_reply(
        library,
        case_id,
        author="Sam Lee",
        template_id="return-label",
        settings=settings,
        **later(1),
    )
    assert "Sam, Shop Example" in message.text
    assert "https://help.shop.example/l/case/" in message.text  # links.return_label fallback
    with pytest.raises(NotFound):
        changes.do_reply(library, case_id, author="sam", template_id="nope", settings=settings)
    with pytest.raises(InvalidInput):
        changes.do_reply(library, case_id, author="sam", text=" ", settings=settings)


def test_a_note_is_never_sent(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    before = len(outbox(library, case_id))
    note = changes.do_add_note(
        library, case_id, author="sam", text="Called her.", settings=settings, **later(1)
    )
    assert note.kind == "note" and len(outbox(library, case_id)) == before
    assert get_case(library, case_id).first_response_at is None


def test_pending_pauses_the_clocks_until_the_customer_writes(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings)
    changes.do_change_status(library, case_id, "pending", by="sam", settings=settings, **later(1))
    assert get_case(library, case_id).next_due_at is None
    changes.do_change_status(library, case_id, "open", by="sam", settings=settings, **later(30))
    assert get_case(library, case_id).next_due_at is not None
    with pytest.raises(InvalidInput):
        changes.do_change_status(library, case_id, "sleeping", by="sam", settings=settings)


def test_fields_start_conditional_steps(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    refund = library.scalar(select(StepStateRow).where(StepStateRow.step_id == "refund"))
    assert refund is not None and refund.due_at is None
    changes.do_record_event(
        library, case_id, "item_received", by="warehouse", settings=settings, **later(2)
    )
    library.expire_all()
    refund = library.scalar(select(StepStateRow).where(StepStateRow.step_id == "refund"))
    assert refund is not None and refund.due_at is not None
    assert get_case(library, case_id).fields["item_received"] is True
    with pytest.raises(InvalidInput, match="not an event"):
        changes.do_record_event(library, case_id, "party", by="x", settings=settings)


def test_assign_and_reopen(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    changes.do_assign(library, case_id, "priya", by="lead", settings=settings, **later(1))
    assert get_case(library, case_id).assignee == "priya"
    with pytest.raises(Conflict, match="not resolved or closed"):
        changes.do_reopen(library, case_id, by="lead", settings=settings)
    for step in ("check-eligibility", "label"):
        changes.do_complete_step(library, case_id, step, by="priya", settings=settings, **later(2))
    changes.do_resolve(library, case_id, by="priya", settings=settings, **later(3))
    changes.do_reopen(library, case_id, by="lead", settings=settings, **later(4))
    case = get_case(library, case_id)
    assert (case.status, case.reopen_count, case.resolved_at) == ("open", 1, None)
    assert {e.data["followup_id"] for e in events(library, case_id, "followup.cancelled")} == {
        "survey",
        "review",
    }


def test_a_triage_case_takes_replies_and_can_be_given_an_sop(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings, subject="Hello", body="Call me back please.")
    changes.do_reply(library, case_id, author="sam", text="Sure", settings=settings, **later(1))
    assert get_case(library, case_id).first_response_at == MONDAY + timedelta(hours=1)
    with pytest.raises(Conflict, match="no SOP run"):
        changes.do_complete_step(library, case_id, "label", by="sam", settings=settings)
    changes.do_start_sop(
        library, case_id, "inquiry-response", by="lead", settings=settings, **later(2)
    )
    case = get_case(library, case_id)
    assert case.sop_id == "inquiry-response" and case.group_name is None
    assert case.status == "open"  # the reply opened it; starting the SOP keeps that
    with pytest.raises(Conflict, match="already runs"):
        changes.do_start_sop(library, case_id, "inquiry-response", by="lead", settings=settings)
    assert case.route["source"] == "manual" and case.route["sop_id"] == "inquiry-response"
    assert case.route["explain"].endswith("chosen by lead from the triage queue")
    [triaged] = events(library, case_id, "case.triaged")
    assert (triaged.actor, triaged.data["sop_id"]) == ("lead", "inquiry-response")


def test_only_an_open_triage_case_and_a_published_sop_can_be_started(
    library: Session, settings: Settings
) -> None:
    case_id = open_case(library, settings, subject="Hello", body="Call me back please.")
    with pytest.raises(NotFound):
        changes.do_start_sop(library, case_id, "no-such-sop", by="lead", settings=settings)
    changes.do_change_status(library, case_id, "closed", by="lead", settings=settings)
    with pytest.raises(Conflict, match="is closed"):
        changes.do_start_sop(library, case_id, "inquiry-response", by="lead", settings=settings)
    assert get_case(library, case_id).sop_id is None


def test_a_calendar_change_retimes_open_cases(library: Session, settings: Settings) -> None:
    case_id = open_case(library, settings)
    label = f"{get_case(library, case_id).reference}:step:label"
    before = timers(library, case_id)[label].due_at
    do_save_calendar(
        library, "default", {"timezone": "UTC", "hours": "mon-fri 09:00-13:00"}, now=MONDAY
    )
    assert (
        changes.do_retime_open_cases(library, MONDAY + timedelta(hours=1), settings=settings) == 1
    )
    library.expire_all()
    assert timers(library, case_id)[label].due_at != before
    assert events(library, case_id, "case.retimed")
