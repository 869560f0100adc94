"""Clock policy: in which statuses each clock stops counting, and which replies count.

The default follows the helpdesk consensus (Zendesk's requester wait, Freshdesk's
per-status timer toggle): every clock pauses while the case is `pending` (waiting on the
customer). `on_hold` (waiting on a third party) pauses too when a team says so, for all
clocks or per metric. Resolved and closed cases are never counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sopdesk.engine.state import FINISHED_STATUSES, CaseStatus


@dataclass(frozen=True)
class ClockPolicy:
    """`paused`: statuses that pause every clock; `per_metric` overrides it by metric name."""

    paused: frozenset[CaseStatus] = frozenset({CaseStatus.PENDING})
    per_metric: Mapping[str, frozenset[CaseStatus]] = field(default_factory=dict)
    automated_replies_count: bool = False
    """Whether sopdesk's own sends (acknowledgements) count as a reply for response metrics.
    Off by default, as in Zendesk: an auto-acknowledgement is not a first reply."""

    def halted(self, metric: str | None = None) -> frozenset[CaseStatus]:
        """Statuses in which a clock for `metric` (None for steps) does not count."""
        paused = self.per_metric.get(metric, self.paused) if metric else self.paused
        return frozenset(paused) | FINISHED_STATUSES


DEFAULT_POLICY = ClockPolicy()
PAUSE_ON_HOLD_TOO = ClockPolicy(paused=frozenset({CaseStatus.PENDING, CaseStatus.ON_HOLD}))
