"""Timers as the worker fires them, and the returns SOP on paper with a frozen, advanced clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import cases as changes
from sopdesk.actions import sops
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.sequences import do_create_customer, do_customer_created, do_purchase
from sopdesk.actions.timers import do_fire_timer
from sopdesk.links import verify_link
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    OutboxRow,
    SopRunRow,
    StepStateRow,
    TimerRow,
)
from tests.cases.conftest import LEAD, MONDAY, email, events, fire_due, outbox, start_return, timers


def hours(n: float) -> datetime:
    return MONDAY + timedelta(hours=n)


def rows(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count(OutboxRow.id))) or 0,
        session.scalar(select(func.count(CaseEventRow.id))) or 0,
        session.scalar(select(func.count(TimerRow.id))) or 0,
    )


def test_returns_sop_end_to_end_on_paper(library: Session, settings: Settings) -> None:
    case_id = start_return(library, settings)
    ref = get_case(library, case_id).reference
    assert [row.key for row in outbox(library, case_id)] == [f"{ref}:step:acknowledge:send"]

    # 13:00 — 75% of check-eligibility's 4 business hours: the lead is warned.
    fire_due(library, hours(3), settings)
    [warning] = events(library, case_id, "sla.warning")
    assert warning.data["target"] == "step:check-eligibility"
    notice = next(r for r in outbox(library, case_id) if r.key.endswith(":notify:support-lead"))
    assert notice.payload["to"][0]["address"] == LEAD
    assert get_case(library, case_id).assignee is None

    # 14:00 — the breach escalates: support-manager takes it over at high priority.
    fire_due(library, hours(4), settings)
    assert [e.data["target"] for e in events(library, case_id, "sla.breached")] == [
        "step:check-eligibility"
    ]
    case = get_case(library, case_id)
    assert (case.assignee, case.priority) == ("support-manager", "high")

    # The agent works the case; the warehouse records the item; the refund is paid.
    changes.do_reply(
        library,
        case_id,
        author="Sam Lee",
        template_id="return-label",
        now=hours(4.5),
        settings=settings,
    )
    for step in ("check-eligibility", "label"):
        changes.do_complete_step(
            library, case_id, step, by="sam", now=hours(4.5), settings=settings
        )
    changes.do_record_event(
        library, case_id, "item_received", by="warehouse", now=hours(24), settings=settings
    )
    for step in ("receive", "refund"):
        changes.do_complete_step(library, case_id, step, by="sam", now=hours(25), settings=settings)
    resolved_at = hours(26)
    changes.do_resolve(library, case_id, by="sam", now=resolved_at, settings=settings)
    scheduled = {
        e.data["followup_id"]: e.data["send_at"]
        for e in events(library, case_id, "followup.scheduled")
    }
    assert scheduled == {
        "survey": (resolved_at + timedelta(days=1)).isoformat(),
        "review": (resolved_at + timedelta(days=7)).isoformat(),
    }

    # +1 day: the survey goes out, with a signed survey link.
    fire_due(library, resolved_at + timedelta(days=1), settings)
    survey = next(r for r in outbox(library, case_id) if ":followup:survey:" in r.key)
    link = next(w for w in survey.payload["text"].split() if "/l/survey/" in w)
    token = link.rsplit("/", 1)[1]
    assert verify_link("test-secret", "survey", token, resolved_at)["case"] == ref
    assert survey.payload["in_reply_to"] == "m1@customer.example"

    # The customer writes back: the case reopens and the review request is cancelled.
    reply = email(f"Re: [{ref}]", "The refund has not arrived.", message_id="<m5@c.example>")
    do_receive_email(library, reply, received_at=resolved_at + timedelta(days=2), settings=settings)
    assert get_case(library, case_id).status == "open"
    [cancelled] = events(library, case_id, "followup.cancelled")
    assert cancelled.data["followup_id"] == "review"
    review_timer = timers(library, case_id)[f"{ref}:followup:review:r1"]
    assert review_timer.status == "cancelled"
    fire_due(library, resolved_at + timedelta(days=10), settings)
    assert not any(":followup:review:" in r.key for r in outbox(library, case_id))


def test_firing_a_timer_twice_is_a_no_op(library: Session, settings: Settings) -> None:
    case_id = start_return(library, settings)
    timer = min(timers(library, case_id).values(), key=lambda t: t.due_at)
    timer_id, due = timer.id, timer.due_at
    do_fire_timer(library, timer_id, now=due, worker_id="w1", settings=settings)
    after_first = rows(library)
    assert library.get(TimerRow, timer_id).fired_at == due  # type: ignore[union-attr]
    do_fire_timer(library, timer_id, now=due, worker_id="w1", settings=settings)
    do_fire_timer(
        library, timer_id, now=due + timedelta(minutes=1), worker_id="w2", settings=settings
    )
    assert rows(library) == after_first


def test_a_timer_that_is_not_due_or_locked_elsewhere_does_nothing(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    timer = min(timers(library, case_id).values(), key=lambda t: t.due_at)
    timer_id, due = timer.id, timer.due_at
    before = rows(library)
    do_fire_timer(library, timer_id, now=due - timedelta(seconds=1), settings=settings)
    assert rows(library) == before
    timer = library.get(TimerRow, timer_id)
    assert timer is not None
    timer.status, timer.locked_by, timer.locked_until = "running", "w1", due + timedelta(minutes=5)
    library.commit()
    do_fire_timer(library, timer_id, now=due, worker_id="w2", settings=settings)
    assert rows(library) == before
    do_fire_timer(library, timer_id, now=due, worker_id="w1", settings=settings)
    assert library.get(TimerRow, timer_id).status in ("done", "pending")  # type: ignore[union-attr]
    assert events(library, case_id, "sla.warning")


def case_of(session: Session, customer_id: int, sop_id: str) -> CaseRow:
    query = select(CaseRow).where(CaseRow.customer_id == customer_id, CaseRow.sop_id == sop_id)
    return session.scalars(query).one()


def steps_of(session: Session, case_id: int) -> dict[str, StepStateRow]:
    run = session.scalars(select(SopRunRow).where(SopRunRow.case_id == case_id)).one()
    query = select(StepStateRow).where(StepStateRow.run_id == run.id)
    return {row.step_id: row for row in session.scalars(query)}


def templates_sent(session: Session, case_id: int) -> list[str]:
    return [row.payload.get("template") for row in outbox(session, case_id)]


def test_onboarding_opens_a_case_that_welcomes_and_follows_up(
    library: Session, settings: Settings
) -> None:
    customer = do_create_customer(
        library, email="new@customer.example", name="Nia Obi", now=MONDAY, settings=settings
    )
    case = case_of(library, customer.id, "customer-onboarding")
    assert (case.channel, case.opened_at, case.status) == ("internal", MONDAY, "new")
    assert case.route["source"] == "trigger"
    assert case.route["explain"] == "started by the customer's creation"
    [welcome] = outbox(library)  # the system's step, at once; nobody else is written to
    assert welcome.case_id == case.id and welcome.customer_id == customer.id
    assert "Nia" in welcome.payload["text"] and welcome.payload["in_reply_to"] is None
    steps = steps_of(library, case.id)
    assert steps["welcome"].status == "done"
    assert steps["set-up-account"].status == "pending"
    assert steps["set-up-account"].due_at == MONDAY + timedelta(hours=4)  # 4 business hours
    fire_due(library, MONDAY + timedelta(days=15), settings)
    sent = templates_sent(library, case.id)
    assert sent[0] == "welcome"
    assert {"getting-started-tips", "two-week-check-in"} <= set(sent)
    assert events(library, case.id, "escalated")  # nobody set up the account in time
    before = rows(library)
    assert do_customer_created(library, customer.id, now=MONDAY, settings=settings) == 0
    assert rows(library) == before


def test_loyalty_opens_a_case_at_the_third_purchase_once(
    library: Session, settings: Settings
) -> None:
    customer = do_create_customer(
        library, email="loyal@customer.example", name="Lou Park", now=MONDAY, settings=settings
    )
    started = [
        do_purchase(library, customer.id, purchase_id=str(n), now=hours(n), settings=settings)
        for n in (1, 2, 3, 3)
    ]
    assert started == [0, 0, 1, 0]
    assert library.get(type(customer), customer.id).purchases == 3  # type: ignore[union-attr]
    kinds = library.scalars(
        select(CaseEventRow.data).where(CaseEventRow.kind == "sequence.started")
    )
    assert [d["sop_id"] for d in kinds] == ["customer-onboarding", "loyalty-recognition"]
    case = case_of(library, customer.id, "loyalty-recognition")
    assert case.opened_at == hours(3)
    assert case.route["explain"] == "started by purchase 3 (number 3)"
    assert {"check-history", "thank-you"} <= set(steps_of(library, case.id))
    # the agent chooses the reward, thanks the customer from the template, resolves
    agent = "agent@shop.example"
    changes.do_set_fields(
        library, case.id, {"reward": "15% off your next order", "reward_code": "LOU15"},
        by=agent, now=hours(4), settings=settings,
    )  # fmt: skip
    changes.do_complete_step(
        library, case.id, "check-history", by=agent, now=hours(4), settings=settings
    )
    changes.do_reply(
        library, case.id, author=agent, template_id="loyalty-thank-you", now=hours(5),
        settings=settings,
    )  # fmt: skip
    thanks = outbox(library, case.id)[-1]
    assert "15% off your next order" in thanks.payload["text"]
    assert "LOU15" in thanks.payload["text"]
    changes.do_complete_step(
        library, case.id, "thank-you", by=agent, now=hours(5), settings=settings
    )
    changes.do_resolve(library, case.id, by=agent, now=hours(6), settings=settings)
    fire_due(library, hours(6) + timedelta(days=31), settings)
    sent = templates_sent(library, case.id)
    assert {"reward-reminder", "loyalty-feedback"} <= set(sent)


WELCOME_SERIES = """---
id: welcome-series
title: Welcome e-mails
owner: support-lead
review: quarterly
applies_to:
  trigger: customer_created
  priority: 10
steps:
  - id: hello
    title: Say hello
    owner: system
    send: hello
    within: immediately
followups:
  - id: tips
    send: tips
    after: 3 days
templates:
  hello:
    subject: "Hello {{ customer.first_name }}"
    body: |
      Welcome aboard, {{ customer.first_name }}.
  tips:
    subject: "Three tips"
    body: |
      Here are three tips, {{ customer.first_name }}.
---
# Purpose

Every new customer hears from us at once and again after three days.

# Procedure

The system sends both e-mails.
"""


def test_an_sop_of_system_steps_runs_as_a_sequence_without_a_case(
    library: Session, settings: Settings
) -> None:
    sops.do_create_draft(library, WELCOME_SERIES, "ann", now=MONDAY - timedelta(days=1))
    sops.do_publish(library, "welcome-series", approver="bob", now=MONDAY - timedelta(days=1))
    customer = do_create_customer(
        library, email="seq@customer.example", name="Sam Lee", now=MONDAY, settings=settings
    )
    cases = library.scalars(select(CaseRow.sop_id).where(CaseRow.customer_id == customer.id))
    assert list(cases) == ["customer-onboarding"]  # the series opened none
    series = [row for row in outbox(library) if row.key.startswith(f"customer:{customer.id}:")]
    [hello] = series
    assert hello.case_id is None and "Welcome aboard, Sam." in hello.payload["text"]
    [tips] = [t for t in library.scalars(select(TimerRow)) if t.kind == "sequence"]
    assert tips.due_at == MONDAY + timedelta(days=3)
    fire_due(library, MONDAY + timedelta(days=4), settings)
    sent = [row for row in outbox(library) if row.key.startswith(f"customer:{customer.id}:")]
    assert [row.payload["subject"] for row in sent] == ["Hello Sam", "Three tips"]


def test_a_role_without_an_address_is_logged_not_mailed(library: Session) -> None:
    plain = Settings(support_address="support@shop.example", secret_key="test-secret")
    case_id = start_return(library, plain)
    fire_due(library, hours(3), plain)
    [warning] = events(library, case_id, "sla.warning")
    assert (warning.data["notify"], warning.data["notified"]) == (["support-lead"], [])
    assert not any(":notify:" in row.key for row in outbox(library, case_id))


def test_a_template_with_an_unfilled_field_is_not_sent(
    library: Session, settings: Settings
) -> None:
    case = do_open_case(
        library,
        customer_email="bo@customer.example",
        subject="New order",
        body="order",
        channel="web",
        case_type="order",
        now=MONDAY,
        settings=settings,
    )
    assert case.sop_id == "order-processing"
    [failed] = events(library, case.id, "message.failed")
    assert failed.data["template"] == "order-confirmation"
    assert "order_number" in failed.data["reason"]
    assert outbox(library, case.id) == []
