"""The SOP version workflow as pure rules: allowed status moves and review dates.

No database, no clock: the `do_*` actions in `sops.py` load state, ask these
functions, and write the result.

    draft ──submit──▶ in_review ──publish──▶ published ──retire──▶ retired
      ▲                  │                        ▲
      └────── edit ──────┘                        │
      └──────────────── publish (no review) ──────┘

- Editing a version under review sends it back to draft: the review was of other text.
- A draft may be published directly. Small teams often have one owner who writes and
  approves; the approver is still required and the audit log records the skipped review.
- Publishing a new version retires the version it supersedes (one version in force).
- A draft or a version in review may be retired: it is withdrawn.
- Nothing leaves `retired`; start a new draft instead.
- Only drafts and versions in review can be edited: published text is immutable.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import date, datetime

from sopdesk.errors import Conflict
from sopdesk.sop.timephrase import Cadence
from sopdesk.store.tables import SopStatus, VersionStatus

DRAFT, IN_REVIEW, PUBLISHED, RETIRED = (
    VersionStatus.DRAFT,
    VersionStatus.IN_REVIEW,
    VersionStatus.PUBLISHED,
    VersionStatus.RETIRED,
)

TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    DRAFT: frozenset({IN_REVIEW, PUBLISHED, RETIRED}),
    IN_REVIEW: frozenset({DRAFT, PUBLISHED, RETIRED}),
    PUBLISHED: frozenset({RETIRED}),
    RETIRED: frozenset(),
}
EDITABLE = frozenset({DRAFT, IN_REVIEW})
OPEN = EDITABLE

_HINTS: dict[tuple[VersionStatus, VersionStatus], str] = {
    (PUBLISHED, IN_REVIEW): "published text is final; create a new draft and submit that",
    (PUBLISHED, DRAFT): "published text is final; create a new draft instead",
    (PUBLISHED, PUBLISHED): "it is already the version in force",
    (IN_REVIEW, IN_REVIEW): "it is already waiting for review; publish it with an approver",
    (RETIRED, PUBLISHED): "retired versions stay retired; create a new draft from its text",
}


def check_transition(
    sop_id: str, version: int, current: VersionStatus, target: VersionStatus
) -> None:
    """Raise `Conflict` with a hint unless `current -> target` is allowed."""
    if target in TRANSITIONS[current]:
        return
    hint = _HINTS.get((current, target))
    if hint is None:
        allowed = sorted(s.value for s in TRANSITIONS[current]) or ["nothing"]
        hint = f"from {current.value} it can move to: {', '.join(allowed)}"
    raise Conflict(
        f"{sop_id} version {version} is {current.value}; it cannot become {target.value}",
        hint=hint,
        sop_id=sop_id,
        version=version,
    )


def check_editable(sop_id: str, version: int, current: VersionStatus) -> None:
    """Only drafts and versions in review take new text."""
    if current not in EDITABLE:
        raise Conflict(
            f"{sop_id} version {version} is {current.value}; its text cannot change",
            hint="create a new draft version with the change",
            sop_id=sop_id,
            version=version,
        )


def add_cadence(day: date, cadence: Cadence) -> date:
    """`day` plus the cadence; a month end clamps (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + cadence.months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    shifted = date(year, month, min(day.day, last))
    return date.fromordinal(shifted.toordinal() + cadence.days)


def review_due(published_at: datetime, cadence: Cadence) -> date:
    """The date a published version is due for review, counted in UTC days."""
    return add_cadence(published_at.date(), cadence)


def sop_status(published_version: int | None, open_status: VersionStatus | None) -> SopStatus:
    """An SOP is published while a version is in force, else its open draft's status."""
    if published_version is not None:
        return SopStatus.PUBLISHED
    if open_status is not None:
        return SopStatus(open_status.value)
    return SopStatus.RETIRED


def content_hash(text: str) -> str:
    """SHA-256 of the exact UTF-8 text: equal hashes mean byte-identical files."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
