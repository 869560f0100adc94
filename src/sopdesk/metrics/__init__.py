"""KPIs that say whether an SOP works: CSAT, first contact resolution, response and
resolution times, SLA attainment, repeat complaints, repeat contacts and repeat business,
overall and per SOP, SOP version, channel or assignee.

A pure core: `model` (plain facts in, a `Report` out), `stats` (share, mean, nearest-rank
percentile) and `kpis` (the definitions). No database, no clock: the shell
`sopdesk.actions.reports` loads the facts and calls `build_report`.
"""

from sopdesk.metrics.kpis import build_report
from sopdesk.metrics.model import (
    CaseFacts,
    Contact,
    Dimension,
    Facts,
    GroupKey,
    Kpis,
    Period,
    Purchase,
    Report,
    SurveyFacts,
)

__all__ = [
    "CaseFacts",
    "Contact",
    "Dimension",
    "Facts",
    "GroupKey",
    "Kpis",
    "Period",
    "Purchase",
    "Report",
    "SurveyFacts",
    "build_report",
]
