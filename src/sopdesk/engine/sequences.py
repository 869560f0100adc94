"""SOPs started by something a customer did, not by a message: onboarding, loyalty.

An SOP whose `applies_to.trigger` is `customer_created` or `purchase` starts once per
such event for the customer, if `applies_to.when` holds (e.g. `customer.purchases == 5`
for recognition at the fifth purchase; `sequence_applies`). One with a step a person
owns opens a proactive case that runs it like any case (`runs_as_case`; the shell opens
it). One whose steps are all the system's runs here, as a sequence not tied to a case:
its time limits count from the event (`opened` is the event's instant), a step that
sends a template sends at once, and each follow-up anchored on the event is scheduled
`after` its delay. Keys are derived from the customer, the SOP and the event, so
replaying the same event decides the same keys. At a follow-up's instant,
`release_sequence_followup` checks its `unless`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sopdesk import calendar as business_time
from sopdesk.engine.conditions import customer_context, holds
from sopdesk.engine.decisions import (
    CancelFollowup,
    Decision,
    OpenTask,
    ScheduleFollowup,
    SendTemplate,
)
from sopdesk.engine.followups import followup_id, release_followup
from sopdesk.engine.phrases import read_limit
from sopdesk.engine.state import Customer
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import SYSTEM_OWNER, FrontMatter, Step, Trigger
from sopdesk.sop.timephrase import OPENED


@dataclass(frozen=True)
class CustomerEvent:
    """Something that happened to a customer: `customer_created` or `purchase` (with an id)."""

    trigger: Trigger
    at: datetime
    id: str = "created"


def sequence_context(sop: FrontMatter, customer: Customer) -> dict[str, Any]:
    return {
        "customer": customer_context(customer),
        "sop": {"id": sop.id, "title": sop.title},
    }


def sequence_applies(
    sop: FrontMatter, customer: Customer, event: CustomerEvent, now: datetime
) -> bool:
    """Whether `event` starts `sop` for the customer: its trigger, and its `when`."""
    if event.at > now:
        raise InvalidInput(f"the {event.trigger.value} event at {event.at} has not happened yet")
    if sop.applies_to.trigger is not event.trigger:
        return False
    return holds(sop.applies_to.when, sequence_context(sop, customer))


def runs_as_case(sop: FrontMatter) -> bool:
    """Whether a triggered SOP opens a proactive case instead of running as a sequence.

    A step that a person owns needs what a case gives: a place in the inbox, the
    checklist with its due time, the SOP's fields and templates, escalation, and
    follow-ups anchored on that step or on resolution. An SOP whose steps are all the
    system's (a welcome series) runs as a sequence of e-mails and follow-ups.
    """
    return any(step.owner != SYSTEM_OWNER for step in sop.steps)


def customer_sequence(
    sop: FrontMatter,
    customer: Customer,
    event: CustomerEvent,
    now: datetime,
    calendar: business_time.Calendar | None = None,
) -> list[Decision]:
    """The sends, tasks and follow-ups `event` starts under `sop`; [] if it does not apply."""
    if not sequence_applies(sop, customer, event, now):
        return []
    context = sequence_context(sop, customer)
    calendar = calendar or business_time.default_calendar()
    base = f"customer:{customer.id}:{sop.id}:{event.id}"
    decisions: list[Decision] = [
        _step_decision(step, sop, base, event.at, calendar)
        for step in sop.steps
        if holds(step.when, context)
    ]
    for index, followup in enumerate(sop.followups):
        limit = read_limit(followup.after)
        if limit.anchor != OPENED:
            continue  # a sequence has no resolution or steps to wait for
        ident = followup_id(followup, index)
        send_at = business_time.add(calendar, event.at, limit.duration)
        decisions.append(
            ScheduleFollowup(
                f"{base}:followup:{ident}", ident, followup.send, followup.channel.value, send_at
            )
        )
    return decisions


def _step_decision(
    step: Step, sop: FrontMatter, base: str, started: datetime, calendar: business_time.Calendar
) -> Decision:
    if step.owner == SYSTEM_OWNER and step.send:
        template = sop.templates.get(step.send)
        channel = template.channel.value if template else "email"
        return SendTemplate(f"{base}:step:{step.id}:send", step.send, channel, f"step:{step.id}")
    limit = read_limit(step.within) if step.within else None
    due = business_time.add(calendar, started, limit.duration) if limit else None
    return OpenTask(f"{base}:step:{step.id}", step.id, step.title, step.owner, due)


def release_sequence_followup(
    sop: FrontMatter, customer: Customer, scheduled: ScheduleFollowup
) -> SendTemplate | CancelFollowup:
    """At its instant: send the follow-up, or cancel it if its `unless` holds now."""
    followup = next(
        f for i, f in enumerate(sop.followups) if followup_id(f, i) == scheduled.followup_id
    )
    return release_followup(followup, scheduled, sequence_context(sop, customer))
