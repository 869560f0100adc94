"""Cached readers of SOP time phrases: a run reads the same few phrases on every decision.

`TimeLimit` and `EscalationPoint` are frozen values, so sharing them is safe.
"""

from __future__ import annotations

from functools import lru_cache

from sopdesk.sop.timephrase import (
    EscalationPoint,
    TimeLimit,
    parse_escalation_point,
    parse_limit,
)


@lru_cache(maxsize=4096)
def read_limit(text: str) -> TimeLimit:
    return parse_limit(text)


@lru_cache(maxsize=1024)
def read_escalation_point(text: str) -> EscalationPoint:
    return parse_escalation_point(text)
