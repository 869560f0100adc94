"""Follow-ups: messages sent a while after an anchor (`1 day after resolved`).

A follow-up anchored on `resolved` or `closed` belongs to one resolution: it is scheduled
when the case is resolved, cancelled if the case reopens, and scheduled afresh (with a
new key) on the next resolution. Other follow-ups are scheduled once their anchor has
happened. `unless` is checked when the follow-up falls due: if it holds, the follow-up is
cancelled instead of sent. A sent or cancelled follow-up is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.anchors import RESOLUTION_ANCHORS, anchor_instant, resolution_generation
from sopdesk.engine.conditions import holds
from sopdesk.engine.decisions import CancelFollowup, ScheduleFollowup, SendTemplate
from sopdesk.engine.phrases import read_limit
from sopdesk.engine.policy import ClockPolicy
from sopdesk.engine.state import CaseState, FollowupStatus, is_finished
from sopdesk.sop.model import Followup, FrontMatter

FollowupDecision = ScheduleFollowup | CancelFollowup | SendTemplate


def followup_id(followup: Followup, index: int) -> str:
    return followup.id or f"followup-{index + 1}"


def wanted_followups(
    state: CaseState, sop: FrontMatter, calendar: business_time.Calendar, policy: ClockPolicy
) -> dict[str, tuple[Followup, ScheduleFollowup]]:
    """Every follow-up the case should have now, by key, with its send instant."""
    wanted: dict[str, tuple[Followup, ScheduleFollowup]] = {}
    for index, followup in enumerate(sop.followups):
        limit = read_limit(followup.after)
        anchor_at = anchor_instant(state, sop, limit.anchor, policy)
        if anchor_at is None:
            continue
        ident = followup_id(followup, index)
        key = f"{state.case.id}:followup:{ident}"
        if limit.anchor in RESOLUTION_ANCHORS:
            key += f":r{resolution_generation(state)}"
        send_at = business_time.add(calendar, anchor_at, limit.duration)
        wanted[key] = (
            followup,
            ScheduleFollowup(key, ident, followup.send, followup.channel.value, send_at),
        )
    return wanted


@dataclass(frozen=True)
class FollowupPlan:
    decisions: tuple[FollowupDecision, ...]
    wake: dict[str, datetime]  # key -> send instant still ahead


def plan_followups(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    policy: ClockPolicy,
    context: dict,
    now: datetime,
) -> FollowupPlan:
    wanted = wanted_followups(state, sop, calendar, policy)
    decisions: list[FollowupDecision] = [
        CancelFollowup(recorded.key, recorded.followup_id, _why_dropped(state))
        for recorded in state.followups
        if recorded.status is FollowupStatus.SCHEDULED and recorded.key not in wanted
    ]
    wake: dict[str, datetime] = {}
    for key, (followup, schedule) in wanted.items():
        recorded = state.followup(key)
        if recorded is not None and recorded.status is not FollowupStatus.SCHEDULED:
            continue
        if schedule.send_at <= now:
            decisions.append(_release(followup, schedule, context))
            continue
        wake[key] = schedule.send_at
        if recorded is None or recorded.send_at != schedule.send_at:
            decisions.append(schedule)
    return FollowupPlan(tuple(decisions), wake)


def release_followup(
    followup: Followup, schedule: ScheduleFollowup, context: dict
) -> SendTemplate | CancelFollowup:
    """At its send instant: send, unless the follow-up's `unless` condition holds."""
    return _release(followup, schedule, context)


def _release(
    followup: Followup, schedule: ScheduleFollowup, context: dict
) -> SendTemplate | CancelFollowup:
    if followup.unless is not None and holds(followup.unless, context):
        return CancelFollowup(schedule.key, schedule.followup_id, f"unless {followup.unless}")
    target = f"followup:{schedule.followup_id}"
    return SendTemplate(schedule.key, schedule.template, schedule.channel, target)


def _why_dropped(state: CaseState) -> str:
    return "no longer applies" if is_finished(state) else "case reopened"
