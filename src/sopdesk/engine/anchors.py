"""Anchors: the instant a time limit counts from, read from the case's history.

`opened` is when the case opened; `resolved` and `closed` the current resolution (none
while the case is open again); `reopened` the latest reopening; `first_response` the
first public reply; a step id the instant that step was settled (done, skipped or
overridden); any other name the first recording of that event. An anchor that has not
happened yet has no instant, and whatever counts from it is unscheduled.
"""

from __future__ import annotations

from datetime import datetime

from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.state import (
    CaseState,
    CaseStatus,
    Message,
    MessageKind,
    closings,
    is_finished,
    reopenings,
    resolutions,
)
from sopdesk.sop.model import FrontMatter
from sopdesk.sop.timephrase import OPENED

RESOLUTION_ANCHORS = frozenset({"resolved", "closed"})


def replies(state: CaseState, policy: ClockPolicy = DEFAULT_POLICY) -> list[Message]:
    """Public replies that count for response metrics, oldest first."""
    return sorted(
        (
            m
            for m in state.messages
            if m.kind is MessageKind.PUBLIC
            and (policy.automated_replies_count or not m.automated)
            and m.at >= state.case.opened_at
        ),
        key=lambda m: m.at,
    )


def first_response_at(state: CaseState, policy: ClockPolicy = DEFAULT_POLICY) -> datetime | None:
    found = replies(state, policy)
    return found[0].at if found else None


def event_at(state: CaseState, name: str) -> datetime | None:
    instants = [e.at for e in state.events if e.name == name]
    return min(instants) if instants else None


def anchor_instant(
    state: CaseState, sop: FrontMatter, anchor: str, policy: ClockPolicy = DEFAULT_POLICY
) -> datetime | None:
    """The instant `anchor` happened on this case, or None if it has not (yet)."""
    if anchor == OPENED:
        return state.case.opened_at
    if anchor == "resolved":
        found = resolutions(state)
        return found[-1] if found and is_finished(state) else None
    if anchor == "closed":
        found = closings(state)
        return found[-1] if found and state.case.status is CaseStatus.CLOSED else None
    if anchor == "reopened":
        found = reopenings(state)
        return found[-1] if found else None
    if anchor == "first_response":
        return first_response_at(state, policy)
    if any(step.id == anchor for step in sop.steps):
        step = state.step(anchor)
        return step.completed_at if step.settled else None
    return event_at(state, anchor)


def resolution_generation(state: CaseState) -> int:
    """How many times the case has been resolved: follow-ups are keyed per resolution."""
    return len(resolutions(state))
