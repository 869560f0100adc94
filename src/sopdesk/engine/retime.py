"""Re-timing: a calendar or SOP changed, so every open due instant is computed again.

Nothing is stored as a deadline, so re-timing is deciding again with the new inputs:
timers and scheduled follow-ups move to their new instants. History is never
rewritten: breaches and escalations already recorded stay recorded (a due instant that
moves later does not un-breach a step, and a level that fired does not fire again),
settled steps stay settled, and steps the new SOP version no longer has keep their
recorded state but no longer run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.decide import decide
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.state import CaseState, Run, StepState
from sopdesk.engine.transitions import Outcome
from sopdesk.sop.model import FrontMatter


def repin(state: CaseState, sop: FrontMatter, version: int | None, now: datetime) -> CaseState:
    """The run pinned to `sop` (at `version`, default the next one), with new steps pending."""
    if sop == state.run.sop and version in (None, state.run.version):
        return state
    known = {s.step_id for s in state.steps}
    added = tuple(StepState(step.id) for step in sop.steps if step.id not in known)
    run = Run(sop, version if version is not None else state.run.version + 1, state.run.started_at)
    return replace(state, run=run, steps=(*state.steps, *added))


def retime(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    *,
    version: int | None = None,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Re-decide the case under `sop` and `calendar`; the run is re-pinned if `sop` changed."""
    state = repin(state, sop, version, now)
    decisions = tuple(decide(state, sop, calendar, now, policy))
    return Outcome(record(state, decisions, now), decisions)
