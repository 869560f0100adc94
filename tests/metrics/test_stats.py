"""The statistics under the KPIs: exact examples, then properties (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.metrics import stats

values = st.lists(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False), max_size=60
)
quantiles = st.floats(min_value=0, max_value=1)


def test_nearest_rank_percentiles_match_the_textbook_example() -> None:
    data = [15.0, 20.0, 35.0, 40.0, 50.0]  # the classic nearest-rank example
    assert [stats.percentile(data, q) for q in (0.05, 0.3, 0.4, 0.5, 1.0)] == [
        15.0,
        20.0,
        20.0,
        35.0,
        50.0,
    ]
    ten = [float(n) for n in range(10, 0, -1)]
    assert stats.percentile(ten, 0.5) == 5.0 and stats.percentile(ten, 0.9) == 9.0
    assert stats.percentile([7.0], 0.0) == 7.0


def test_no_data_is_none_not_zero() -> None:
    assert stats.percentile([], 0.5) is None
    assert stats.mean([]) is None
    assert stats.share(0, 0) is None
    assert stats.share(0, 4) == 0.0
    empty = stats.durations([])
    assert (empty.count, empty.mean_hours, empty.p50_hours, empty.p90_hours) == (
        0,
        None,
        None,
        None,
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        stats.percentile([1.0], 1.5)
    with pytest.raises(ValueError):
        stats.share(3, 2)


def test_durations_summarise() -> None:
    summary = stats.durations([1.0, 2.0, 3.0, 10.0])
    assert summary.count == 4 and summary.mean_hours == 4.0
    assert summary.p50_hours == 2.0 and summary.p90_hours == 10.0


@given(values, quantiles)
def test_a_percentile_is_an_observed_value_within_min_and_max(data: list[float], q: float) -> None:
    result = stats.percentile(data, q)
    if not data:
        assert result is None
        return
    assert result is not None and min(data) <= result <= max(data) and result in data


@given(values, quantiles, quantiles)
def test_percentiles_are_monotone_in_the_quantile(data: list[float], a: float, b: float) -> None:
    low, high = sorted((a, b))
    first, second = stats.percentile(data, low), stats.percentile(data, high)
    if data:
        assert first is not None and second is not None and first <= second


@given(values)
def test_the_mean_lies_between_min_and_max(data: list[float]) -> None:
    result = stats.mean(data)
    if data:
        assert result is not None
        assert min(data) <= result or math.isclose(result, min(data))
        assert result <= max(data) or math.isclose(result, max(data))


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_shares_lie_between_zero_and_one(a: int, b: int) -> None:
    part, whole = sorted((a, b))
    result = stats.share(part, whole)
    assert (result is None) == (whole == 0)
    assert result is None or 0.0 <= result <= 1.0
