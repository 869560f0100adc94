"""Every clock of a case at an instant: for the case page, the API and the tests.

One row per step or SLA metric target (one per cycle for next response and periodic
update), with when it started, when it stopped (met), its due instant, and whether it
has breached. Rebuilt from history, like everything else in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.conditions import case_context
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.state import CaseState
from sopdesk.engine.targets import TargetInputs, all_targets
from sopdesk.sop.model import FrontMatter


@dataclass(frozen=True)
class ClockStatus:
    target: str  # "step:refund", "metric:first_response", "metric:next_response:<msg>"
    kind: str
    name: str
    started_at: datetime
    due_at: datetime | None  # None while halted short of the allowance
    open: bool  # can still breach
    breached: bool  # due instant reached by `now` (or recorded earlier)
    used_minutes: int  # counted so far (business minutes for business allowances)
    remaining_minutes: int  # negative once overdue


def clock_statuses(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> tuple[ClockStatus, ...]:
    inputs = TargetInputs(state, sop, calendar, policy, case_context(state, policy))
    rows = []
    for target in all_targets(inputs):
        due = target.clock.due_at(now)
        breached = state.breached(target.key) or (due is not None and due <= now)
        reading = target.clock.reading(now)
        rows.append(
            ClockStatus(
                target=target.key,
                kind=target.kind,
                name=target.name,
                started_at=target.clock.start,
                due_at=due,
                open=target.open,
                breached=breached,
                used_minutes=reading.elapsed_minutes if reading else 0,
                remaining_minutes=reading.remaining_minutes if reading else 0,
            )
        )
    return tuple(rows)


def next_due_at(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> datetime | None:
    """The earliest due instant of the case's open clocks at `now`, or None.

    Equal to `min(c.due_at for c in clock_statuses(...) if c.open and c.due_at)`, without
    building the rows (no readings, no breach flags): the shell stores it on every save.
    """
    inputs = TargetInputs(state, sop, calendar, policy, case_context(state, policy))
    dues = [
        due for target in all_targets(inputs) if target.open and (due := target.clock.due_at(now))
    ]
    return min(dues, default=None)
