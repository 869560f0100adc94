"""Sequences not tied to a case: onboarding on customer creation, loyalty at the Nth purchase."""

from __future__ import annotations

import pytest

from sopdesk.engine import (
    CancelFollowup,
    Customer,
    CustomerEvent,
    OpenTask,
    ScheduleFollowup,
    SendTemplate,
    customer_sequence,
    release_sequence_followup,
)
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import Trigger
from tests.engine.conftest import at, make_sop

ONBOARDING = make_sop(
    id="onboarding",
    applies_to={"trigger": "customer_created"},
    steps=[
        {"id": "welcome", "title": "Send the welcome email", "owner": "system", "send": "welcome"},
        {"id": "call", "title": "Welcome call", "owner": "success", "within": "2 business days"},
        {
            "id": "vip-gift",
            "title": "Send a gift",
            "owner": "success",
            "when": "customer.tier == 'vip'",
        },
    ],
    followups=[
        {"id": "tips", "send": "getting-started", "after": "3 days"},
        {
            "id": "check-in",
            "send": "check-in",
            "after": "14 days",
            "unless": "customer.purchases > 0",
        },
    ],
    templates={"welcome": {"body": "Welcome!"}},
)
LOYALTY = make_sop(
    id="loyalty",
    applies_to={"trigger": "purchase", "when": "customer.purchases == 5"},
    steps=[{"id": "thank", "title": "Thank a loyal customer", "owner": "system", "send": "thanks"}],
    followups=[{"id": "offer", "send": "loyalty-offer", "after": "2 days"}],
)
CREATED = at(2, 10)


def customer(**fields) -> Customer:
    return Customer("cu1", CREATED, **fields)


def test_onboarding_series(calendar):
    event = CustomerEvent(Trigger.CUSTOMER_CREATED, CREATED)
    decisions = customer_sequence(ONBOARDING, customer(), event, CREATED, calendar)
    base = "customer:cu1:onboarding:created"
    assert decisions == [
        SendTemplate(f"{base}:step:welcome:send", "welcome", "email", "step:welcome"),
        OpenTask(f"{base}:step:call", "call", "Welcome call", "success", at(4, 10)),
        ScheduleFollowup(f"{base}:followup:tips", "tips", "getting-started", "email", at(5, 10)),
        ScheduleFollowup(f"{base}:followup:check-in", "check-in", "check-in", "email", at(16, 10)),
    ]


def test_onboarding_conditional_step(calendar):
    event = CustomerEvent(Trigger.CUSTOMER_CREATED, CREATED)
    decisions = customer_sequence(ONBOARDING, customer(tier="vip"), event, CREATED, calendar)
    assert "vip-gift" in [d.step_id for d in decisions if isinstance(d, OpenTask)]


@pytest.mark.parametrize(("purchases", "sends"), [(0, True), (2, False)])
def test_sequence_followup_checks_unless_at_send_time(calendar, purchases, sends):
    event = CustomerEvent(Trigger.CUSTOMER_CREATED, CREATED)
    scheduled = customer_sequence(ONBOARDING, customer(), event, CREATED, calendar)[-1]
    released = release_sequence_followup(ONBOARDING, customer(purchases=purchases), scheduled)
    assert isinstance(released, SendTemplate if sends else CancelFollowup)
    assert released.key == scheduled.key


@pytest.mark.parametrize(("purchases", "runs"), [(4, False), (5, True), (6, False)])
def test_loyalty_recognition_at_the_fifth_purchase(calendar, purchases, runs):
    event = CustomerEvent(Trigger.PURCHASE, at(9, 12), id="order-77")
    decisions = customer_sequence(
        LOYALTY, customer(purchases=purchases), event, at(9, 12), calendar
    )
    if not runs:
        assert decisions == []
        return
    assert decisions == [
        SendTemplate(
            "customer:cu1:loyalty:order-77:step:thank:send", "thanks", "email", "step:thank"
        ),
        ScheduleFollowup(
            "customer:cu1:loyalty:order-77:followup:offer",
            "offer",
            "loyalty-offer",
            "email",
            at(11, 12),
        ),
    ]


@pytest.mark.parametrize(
    ("sop", "trigger"),
    [
        (LOYALTY, Trigger.CUSTOMER_CREATED),
        (ONBOARDING, Trigger.PURCHASE),
        (ONBOARDING, Trigger.CASE),
    ],
)
def test_other_triggers_do_not_start_the_sequence(calendar, sop, trigger):
    event = CustomerEvent(trigger, CREATED)
    assert customer_sequence(sop, customer(purchases=5), event, CREATED, calendar) == []


def test_replaying_an_event_decides_the_same_keys(calendar):
    event = CustomerEvent(Trigger.CUSTOMER_CREATED, CREATED)
    first = customer_sequence(ONBOARDING, customer(), event, CREATED, calendar)
    assert customer_sequence(ONBOARDING, customer(), event, at(20), calendar) == first


def test_an_event_from_the_future_is_refused(calendar):
    event = CustomerEvent(Trigger.CUSTOMER_CREATED, at(3))
    with pytest.raises(InvalidInput):
        customer_sequence(ONBOARDING, customer(), event, at(2), calendar)
