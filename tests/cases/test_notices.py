"""One notice per recipient and fire: a fire that crosses several thresholds of a case
at once (the worker catching up on a case nobody watched) tells each recipient once,
listing every threshold, while each threshold keeps its own event."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import groups, users
from sopdesk.actions.timers import do_fire_timers
from sopdesk.settings import Settings
from sopdesk.store.tables import OutboxRow, TimerRow, TimerStatus
from tests.cases.conftest import LEAD, MONDAY, events, outbox, start_return

ANN, BO = "ann@shop.example", "bo@shop.example"
LATE = MONDAY + timedelta(days=3)
"""Thursday: every step of the returns SOP and its first response are past due."""


def catch_up(session: Session, at: datetime, settings: Settings) -> None:
    """A worker that was down: every timer due by `at` fired at `at`, in one batch."""
    due = select(TimerRow.id).where(
        TimerRow.status == TimerStatus.PENDING.value, TimerRow.due_at <= at
    )
    results = do_fire_timers(session, list(session.scalars(due)), now=at, settings=settings)
    assert not any(results.values())


def notices(session: Session, case_id: int) -> list[OutboxRow]:
    return [row for row in outbox(session, case_id) if ":notify:" in row.key]


def alerts(session: Session, case_id: int) -> list[dict[str, object]]:
    found = events(session, case_id, "escalated") + events(session, case_id, "sla.warning")
    return [row.data for row in found]


def test_a_late_fire_tells_the_lead_once_of_every_threshold(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    catch_up(library, LATE, settings)

    crossed = alerts(library, case_id)
    assert len(crossed) >= 3  # the steps and the first response, each its own event
    [notice] = notices(library, case_id)
    assert notice.payload["to"][0]["address"] == LEAD
    text = notice.payload["text"]
    assert text.startswith(f"{len(crossed)} alerts for case ")
    for alert in crossed:
        assert f"{alert['target']} is due at " in text
        assert alert["notified"] == ["support-lead"]
    assert f"and {len(crossed) - 1} more alerts" in notice.payload["subject"]
    assert notice.payload["subject"].startswith("Escalation level 2: ")
    assert notice.key.startswith(f"{crossed[0]['key']}+")
    assert notice.key.endswith(":notify:support-lead")


def test_a_group_told_person_by_person_gets_one_notice_each(
    library: Session, settings: Settings
) -> None:
    for address, name in ((ANN, "Ann"), (BO, "Bo")):
        users.do_create_user(library, address, role="agent", password=None, name=name)
    groups.do_create_group(library, "support-lead", tier=3)
    for address in (ANN, BO):
        groups.do_add_member(library, "support-lead", address)
    case_id = start_return(library, settings)
    catch_up(library, LATE, settings)

    sent = sorted(row.payload["to"][0]["address"] for row in notices(library, case_id))
    assert sent == [ANN, BO]


def test_firing_again_tells_nobody_twice(library: Session, settings: Settings) -> None:
    case_id = start_return(library, settings)
    catch_up(library, LATE, settings)
    before = [row.key for row in outbox(library, case_id)]
    catch_up(library, LATE + timedelta(minutes=1), settings)
    assert [row.key for row in outbox(library, case_id)] == before


def test_thresholds_crossed_one_fire_apart_are_told_apart(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    catch_up(library, MONDAY + timedelta(hours=3), settings)  # 13:00: a warning only
    [warning] = notices(library, case_id)
    assert warning.payload["subject"].startswith("Warning: ")
    assert " due " in warning.payload["subject"]  # one alert: its due time is in the subject
    catch_up(library, LATE, settings)
    assert len(notices(library, case_id)) == 2
