"""The pure workflow rules: status moves, review dates, SOP status, content hash."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sopdesk.actions import lifecycle
from sopdesk.actions.lifecycle import DRAFT, IN_REVIEW, PUBLISHED, RETIRED
from sopdesk.errors import Conflict
from sopdesk.sop.timephrase import Cadence, parse_cadence
from sopdesk.store.tables import SopStatus

ALLOWED = {
    (DRAFT, IN_REVIEW),
    (DRAFT, PUBLISHED),
    (DRAFT, RETIRED),
    (IN_REVIEW, DRAFT),
    (IN_REVIEW, PUBLISHED),
    (IN_REVIEW, RETIRED),
    (PUBLISHED, RETIRED),
}
ALL = [DRAFT, IN_REVIEW, PUBLISHED, RETIRED]


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_every_status_move_is_allowed_or_refused_with_a_hint(current, target) -> None:
    if (current, target) in ALLOWED:
        lifecycle.check_transition("s", 1, current, target)
        return
    with pytest.raises(Conflict) as info:
        lifecycle.check_transition("s", 1, current, target)
    assert f"is {current.value}; it cannot become {target.value}" in info.value.message
    assert info.value.hint
    assert info.value.status == 409


def test_only_drafts_and_reviews_are_editable() -> None:
    lifecycle.check_editable("s", 1, DRAFT)
    lifecycle.check_editable("s", 1, IN_REVIEW)
    for status in (PUBLISHED, RETIRED):
        with pytest.raises(Conflict, match="text cannot change"):
            lifecycle.check_editable("s", 2, status)


@pytest.mark.parametrize(
    ("start", "cadence", "due"),
    [
        (date(2026, 1, 15), "quarterly", date(2026, 4, 15)),
        (date(2026, 11, 30), "quarterly", date(2027, 2, 28)),
        (date(2027, 11, 30), "quarterly", date(2028, 2, 29)),
        (date(2026, 1, 31), "monthly", date(2026, 2, 28)),
        (date(2026, 12, 31), "monthly", date(2027, 1, 31)),
        (date(2026, 3, 2), "annually", date(2027, 3, 2)),
        (date(2028, 2, 29), "annually", date(2029, 2, 28)),
        (date(2026, 3, 2), "every 2 weeks", date(2026, 3, 16)),
        (date(2026, 12, 25), "weekly", date(2027, 1, 1)),
        (date(2026, 5, 31), "every 6 months", date(2026, 11, 30)),
    ],
)
def test_review_due_adds_the_cadence_to_the_publication_day(start, cadence, due) -> None:
    assert lifecycle.add_cadence(start, parse_cadence(cadence)) == due


def test_review_due_counts_from_the_utc_day() -> None:
    published = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert lifecycle.review_due(published, Cadence(months=1)) == date(2026, 4, 30)


@pytest.mark.parametrize(
    ("published", "open_status", "expected"),
    [
        (3, None, SopStatus.PUBLISHED),
        (3, DRAFT, SopStatus.PUBLISHED),
        (None, DRAFT, SopStatus.DRAFT),
        (None, IN_REVIEW, SopStatus.IN_REVIEW),
        (None, None, SopStatus.RETIRED),
    ],
)
def test_sop_status_follows_the_version_in_force(published, open_status, expected) -> None:
    assert lifecycle.sop_status(published, open_status) is expected


def test_content_hash_sees_every_byte() -> None:
    assert lifecycle.content_hash("a\n") != lifecycle.content_hash("a\r\n")
    assert lifecycle.content_hash("a") != lifecycle.content_hash("\ufeffa")
    assert len(lifecycle.content_hash("")) == 64
