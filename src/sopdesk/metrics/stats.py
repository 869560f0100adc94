"""Small, total statistics: a share, a mean, a nearest-rank percentile.

Every function answers None for no data instead of 0 or a ZeroDivisionError, because
"no answers yet" and "nobody was satisfied" are different findings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sopdesk.metrics.model import Durations


def share(part: int, whole: int) -> float | None:
    """`part / whole`, or None when `whole` is 0."""
    if part < 0 or part > whole:
        raise ValueError(f"a share needs 0 <= part <= whole, got {part}/{whole}")
    return part / whole if whole else None


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values (`math.fsum`: exact for small sets)."""
    return math.fsum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `q` of the values at
    or below it (rank `ceil(q * n)`, at least 1). Always one of `values`, so it never
    invents a duration nobody waited; None for no values."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    # the epsilon keeps 0.9 * 10 (= 9.000000000000002 for some n) at rank 9, not 10
    rank = min(len(ordered), max(1, math.ceil(q * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def durations(hours: Sequence[float]) -> Durations:
    """Count, mean, p50 and p90 of durations in hours."""
    return Durations(
        count=len(hours),
        mean_hours=mean(hours),
        p50_hours=percentile(hours, 0.5),
        p90_hours=percentile(hours, 0.9),
    )
