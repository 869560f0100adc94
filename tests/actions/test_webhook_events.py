"""Webhook emission (actions/webhook_events.py): the pure mapping and payloads without a
database, then the deliveries a returns case queues through `log_event` on SQLite and
PostgreSQL, the subscription cache, and `sop.published`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from sopdesk.actions import cases as changes
from sopdesk.actions import webhook_events
from sopdesk.actions.case_import import do_import_cases
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.sop_files import do_load_library
from sopdesk.actions.sops import do_create_draft, do_publish
from sopdesk.actions.webhook_events import (
    case_payload,
    delivery_rows,
    event_id,
    sop_payload,
    webhook_event,
)
from sopdesk.actions.webhooks import do_create_webhook, do_delete_webhook
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseEventRow, OutboxRow
from tests.cases.conftest import MONDAY, email, fire_due
from tests.channels.test_csv_import import FRESHDESK_EXPORT
from tests.conftest import sop_text

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CASE = {"id": 7, "reference": "SD-7", "subject": "Refund", "status": "open"}


# --- pure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("case.opened", {}, "case.created"),
        ("sla.warning", {"target": "step:refund"}, "step.due_soon"),
        ("sla.warning", {"target": "metric:first_response"}, None),
        ("sla.warning", {}, None),
        ("sla.breached", {"target": "metric:first_response"}, "sla.breached"),
        ("case.resolved", {}, "case.resolved"),
        ("survey.answered", {"rating": 5}, "survey.answered"),
        ("customer.merged", {"cases": 1}, "customer.merged"),
        ("case.merged", {"merged": "SD-2"}, "case.merged"),
        ("message.delivery_failed", {"message": 3}, "message.delivery_failed"),
        ("case.merged_into", {"into": "SD-1"}, None),
        ("customer.updated", {}, "customer.updated"),
        ("customer.created", {"via": "email"}, "customer.created"),
        ("case.closed", {}, None),
        ("status.changed", {"after": "resolved"}, None),
        ("message.received", {}, None),
    ],
)
def test_case_event_kinds_map_to_webhook_events(
    kind: str, data: dict[str, object], expected: str | None
) -> None:
    assert webhook_event(kind, data) == expected


def test_case_payloads_are_stable_and_carry_the_event_details() -> None:
    warning = {"target": "step:refund", "due_at": "2026-03-02T14:00:00+00:00", "level": 1}
    first_id, payload = case_payload("step.due_soon", AT, CASE, warning | {"key": "k1"})
    again_id, _ = case_payload("step.due_soon", AT + timedelta(hours=1), CASE, {"key": "k1"})
    assert first_id == again_id == payload["id"]  # the escalation key names the event
    assert first_id.startswith("evt_") and len(first_id) == 36
    assert payload == {
        "event": "step.due_soon",
        "id": first_id,
        "occurred_at": "2026-03-02T10:00:00+00:00",
        "data": {
            "case": CASE,
            "step_id": "refund",
            "target": "step:refund",
            "due_at": "2026-03-02T14:00:00+00:00",
            "level": 1,
        },
    }
    created_a, _ = case_payload("case.created", AT, CASE, {})
    created_b, _ = case_payload("case.created", AT + timedelta(days=1), CASE, {})
    assert created_a == created_b  # a case is created once
    breach = {"target": "step:refund", "due_at": "x"}
    assert (
        case_payload("sla.breached", AT, CASE, breach)[0]
        != case_payload("sla.breached", AT, CASE, breach | {"due_at": "y"})[0]
    )  # breached again after a reopen: a new event
    resolved = [case_payload("case.resolved", AT + timedelta(days=d), CASE, {})[0] for d in (0, 1)]
    assert resolved[0] != resolved[1]
    _, survey = case_payload("survey.answered", AT, CASE, {"rating": 4, "token": "secret"})
    assert survey["data"] == {"case": CASE, "rating": 4}  # only the documented fields


def test_sop_payload_and_rows_per_endpoint() -> None:
    identifier, payload = sop_payload("refunds", 3, "Handling refunds", "ann", AT, material=True)
    assert identifier == event_id("sop.published:refunds:3")
    assert payload["data"] == {
        "sop": {
            "id": "refunds",
            "version": 3,
            "title": "Handling refunds",
            "published_by": "ann",
            "material": True,
        }
    }
    rows = delivery_rows([1, 2], payload, AT)
    assert [r["key"] for r in rows] == [f"webhook:1:{identifier}", f"webhook:2:{identifier}"]
    assert [r["payload"]["webhook_id"] for r in rows] == [1, 2]
    assert {r["kind"] for r in rows} == {"webhook"} and {r["status"] for r in rows} == {"pending"}
    assert all(r["payload"]["id"] == identifier for r in rows)


# --- against the database -------------------------------------------------------------


@pytest.fixture
def settings() -> Settings:
    return Settings(
        company_name="Shop Example",
        support_address="support@shop.example",
        public_base_url="https://help.shop.example",
        role_addresses={"support-lead": "lead@shop.example"},
        secret_key="test-secret",
    )


@pytest.fixture
def library(session: Session) -> Iterator[Session]:
    do_load_library(session, now=MONDAY - timedelta(days=30))
    webhook_events.invalidate_subscriptions()
    yield session
    webhook_events.invalidate_subscriptions()


def hook(session: Session, *events: str, url: str = "https://hooks.example.com/x") -> int:
    return do_create_webhook(session, url, events, created_by="owner@example.com").row.id


def deliveries(session: Session) -> list[OutboxRow]:
    session.expire_all()
    query = select(OutboxRow).where(OutboxRow.kind == "webhook").order_by(OutboxRow.id)
    return list(session.scalars(query))


def start(session: Session, settings: Settings) -> int:
    raw = email("I want to return my shoes", "Wrong size, I would like a refund please.")
    result = do_receive_email(session, raw, received_at=MONDAY, settings=settings)
    assert result.case_id is not None
    return result.case_id


def test_a_returns_case_queues_each_subscribed_event_once(
    library: Session, settings: Settings
) -> None:
    all_events = ("case.created", "step.due_soon", "sla.breached", "case.resolved")
    everything = hook(library, *all_events)
    breaches = hook(library, "sla.breached")
    case_id = start(library, settings)
    fire_due(library, MONDAY + timedelta(hours=4), settings)
    for step in ("check-eligibility", "label", "receive", "refund"):
        changes.do_complete_step(
            library, case_id, step, by="sam", now=MONDAY + timedelta(hours=5), settings=settings
        )
    changes.do_resolve(
        library, case_id, by="sam", now=MONDAY + timedelta(hours=6), settings=settings
    )

    rows = deliveries(library)
    sent_to = [(r.payload["webhook_id"], r.payload["event"]) for r in rows]
    assert sent_to == [
        (everything, "case.created"),
        (everything, "step.due_soon"),
        (everything, "sla.breached"),
        (breaches, "sla.breached"),
        (everything, "case.resolved"),
    ]
    created, due_soon, breached, _, resolved = (r.payload for r in rows)
    case = created["data"]["case"]
    assert case["reference"] == f"SD-{case_id}" and case["subject"] == "I want to return my shoes"
    assert case["customer"]["email"] == "ann@customer.example"
    assert case["sop_id"] == "returns-and-refunds" and case["status"] == "new"
    assert case["next_due_at"] is not None  # the payload shows the case after the change
    assert created["occurred_at"] == MONDAY.isoformat() and created["data"]["channel"] == "email"
    assert due_soon["data"]["step_id"] == "check-eligibility"
    assert breached["data"]["target"] == "step:check-eligibility"
    assert breached["data"]["case"]["priority"] == "high"  # the escalation's change
    assert resolved["data"]["case"]["status"] == "resolved"
    assert all(r.case_id == case_id and r.status == "pending" for r in rows)
    assert len({r.key for r in rows}) == len(rows)
    assert rows[2].payload["id"] == rows[3].payload["id"]  # one event, two endpoints


def test_no_endpoint_or_no_subscriber_queues_nothing_and_reads_little(
    library: Session, settings: Settings, engine: Engine
) -> None:
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM webhooks" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        start(library, settings)
        fire_due(library, MONDAY + timedelta(hours=4), settings)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert deliveries(library) == []
    assert len(reads) <= 1  # cached: at most one read per SUBSCRIPTION_TTL

    hook(library, "survey.answered", "sop.published")
    start(library, settings)  # another case: events nobody subscribed to
    assert deliveries(library) == []


def test_removing_an_endpoint_stops_its_events_at_once(
    library: Session, settings: Settings
) -> None:
    webhook_id = hook(library, "case.created")
    start(library, settings)
    assert len(deliveries(library)) == 1
    do_delete_webhook(library, webhook_id)
    assert deliveries(library) == []  # its queued delivery went with it
    raw = email("Another return", "Refund please.", message_id="<m9@customer.example>")
    do_receive_email(library, raw, received_at=MONDAY, settings=settings)
    assert deliveries(library) == []


def test_publishing_an_sop_queues_sop_published(library: Session) -> None:
    webhook_id = hook(library, "sop.published")
    draft = do_create_draft(library, sop_text("refunds"), author="ann", note="first")
    do_publish(library, "refunds", draft.version, approver="boss@example.com", now=MONDAY)
    [row] = deliveries(library)
    assert row.key == f"webhook:{webhook_id}:{row.payload['id']}"
    assert row.payload["event"] == "sop.published"
    assert row.payload["data"]["sop"] == {
        "id": "refunds",
        "version": 1,
        "title": "Handling refunds",
        "published_by": "boss@example.com",
        "note": "",
        "material": True,
    }


def test_imported_history_sends_no_webhooks_and_new_cases_still_do(
    library: Session, settings: Settings
) -> None:
    hook(library, "case.created", "case.resolved")
    report = do_import_cases(library, FRESHDESK_EXPORT, now=MONDAY, settings=settings)
    assert report.imported  # cases were opened (some resolved) without a delivery
    assert deliveries(library) == []
    case_id = start(library, settings)
    assert [(r.case_id, r.payload["event"]) for r in deliveries(library)] == [
        (case_id, "case.created")
    ]


def test_a_merge_queues_customer_merged_with_both_customers(
    library: Session, settings: Settings
) -> None:
    from sopdesk.actions.customer_merge import do_merge_customers
    from sopdesk.actions.sequences import do_add_customer

    merges = hook(library, "customer.merged")
    hook(library, "case.created")
    kept = do_add_customer(library, email="ann@work.example", name="Ann", now=MONDAY).customer.id
    gone = do_add_customer(library, email="ann@home.example", name="A. Lee", now=MONDAY).customer.id
    before = len(deliveries(library))
    do_merge_customers(library, kept, gone, by="lead", now=MONDAY + timedelta(hours=1))
    [row] = deliveries(library)[before:]
    assert row.customer_id == kept and row.case_id is None
    payload = row.payload
    assert (payload["webhook_id"], payload["event"]) == (merges, "customer.merged")
    assert payload["occurred_at"] == (MONDAY + timedelta(hours=1)).isoformat()
    assert payload["data"] == {
        "customer": {
            "id": kept,
            "email": "ann@work.example",
            "name": "Ann",
            "phone": None,
            "tier": "standard",
            "tags": [],
            "purchases": 0,
            "created_at": MONDAY.isoformat(),
        },
        "merged": {"id": gone, "email": "ann@home.example", "name": "A. Lee"},
        "cases": 1,  # the onboarding case the built-in library opened for them
    }
    assert payload["id"] == event_id(f"customer.merged:{kept}:{gone}")


def test_a_case_merge_queues_case_merged_about_the_case_that_goes_on(
    library: Session, settings: Settings
) -> None:
    from sopdesk.actions.case_merge import do_merge_cases

    merges = hook(library, "case.merged")
    first = start(library, settings)
    again = email("Shoes again", "Any news on my refund?", message_id="<m2@customer.example>")
    second = do_receive_email(library, again, received_at=MONDAY, settings=settings).case_id
    assert second is not None
    do_merge_cases(library, first, second, by="sam", now=MONDAY + timedelta(hours=1))
    [row] = deliveries(library)
    assert (row.payload["webhook_id"], row.payload["event"]) == (merges, "case.merged")
    assert row.case_id == first
    data = row.payload["data"]
    assert data["case"]["reference"] == f"SD-{first}"
    assert data["merged"] == f"SD-{second}" and data["messages"] >= 1


def test_a_new_customer_and_a_change_to_them_queue_customer_events_for_a_crm(
    library: Session, settings: Settings
) -> None:
    from sopdesk.actions.customer_changes import CustomerChange, do_update_customer
    from sopdesk.actions.sequences import do_add_customer

    crm = hook(library, "customer.created", "customer.updated")
    case_id = start(library, settings)  # Ann Lee e-mails in: a new customer
    again = email("Shoes", "One more thing.", message_id="<m9@customer.example>")
    do_receive_email(library, again, received_at=MONDAY, settings=settings)  # known: no event
    [created] = deliveries(library)
    ann = created.customer_id
    assert created.case_id is None and created.payload["webhook_id"] == crm
    assert created.payload["event"] == "customer.created"
    assert created.payload["id"] == event_id(f"customer.created:{ann}")
    data = created.payload["data"]
    assert data["via"] == "email" and data["customer"]["email"] == "ann@customer.example"
    assert data["customer"]["name"] == "Ann Lee" and data["customer"]["tier"] == "standard"
    assert case_id is not None

    later = MONDAY + timedelta(hours=2)
    change = CustomerChange(tier="gold", tags=["vip"])
    do_update_customer(library, ann, change, by="lead@shop.example", now=later)
    do_update_customer(library, ann, change, by="lead@shop.example", now=later)  # no change
    added = do_add_customer(library, email="bo@customer.example", by="lead@shop.example", now=later)
    updated, bo = deliveries(library)[1:]
    assert updated.payload["event"] == "customer.updated"
    assert updated.payload["data"]["customer"]["tags"] == ["vip"]
    assert updated.payload["data"]["changes"] == {
        "tier": ["standard", "gold"],
        "tags": [[], ["vip"]],
    }
    assert (bo.payload["event"], bo.customer_id) == ("customer.created", added.customer.id)
    assert bo.payload["data"]["via"] == "added"
    logged = library.scalars(
        select(CaseEventRow).where(
            CaseEventRow.kind == "customer.created", CaseEventRow.customer_id == added.customer.id
        )
    ).one()
    assert logged.actor == "lead@shop.example"
