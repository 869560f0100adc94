"""The completion gate: may this case be resolved now?

Every pending step that applies to the case (its `when` holds) stands in the way,
except steps that run after the resolution (anchored on `resolved` or `closed`). A
critical step blocks until it is done; any other pending step must first be overridden
with a reason, which goes into the case's records.
"""

from __future__ import annotations

from dataclasses import dataclass

from sopdesk.engine.anchors import RESOLUTION_ANCHORS
from sopdesk.engine.conditions import case_context
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.state import CaseState
from sopdesk.engine.targets import step_applies, step_limit
from sopdesk.sop.model import FrontMatter, Step


@dataclass(frozen=True)
class Gate:
    """`blocking`: critical steps not done; `needs_override`: other steps still pending."""

    blocking: tuple[str, ...] = ()
    needs_override: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.blocking and not self.needs_override

    def explain(self) -> str:
        parts = []
        if self.blocking:
            parts.append(f"critical steps not done: {', '.join(self.blocking)}")
        if self.needs_override:
            parts.append(f"steps to complete or override: {', '.join(self.needs_override)}")
        return "; ".join(parts) or "every step is settled"


def runs_after_resolution(step: Step) -> bool:
    limit = step_limit(step)
    return limit is not None and limit.anchor in RESOLUTION_ANCHORS


def can_resolve(state: CaseState, sop: FrontMatter, policy: ClockPolicy = DEFAULT_POLICY) -> Gate:
    context = case_context(state, policy)
    outstanding = [
        step
        for step in sop.steps
        if not state.step(step.id).settled
        and not runs_after_resolution(step)
        and step_applies(step, context)
    ]
    return Gate(
        blocking=tuple(s.id for s in outstanding if s.critical),
        needs_override=tuple(s.id for s in outstanding if not s.critical),
    )
