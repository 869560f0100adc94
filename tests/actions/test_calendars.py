"""Calendars are stored in their canonical form and checked by the calendar package."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from sopdesk.actions.calendars import (
    do_save_calendar,
    find_calendar,
    get_calendar,
    list_calendars,
)
from sopdesk.calendar.model import Calendar
from sopdesk.errors import InvalidInput, NotFound

UK = {"timezone": "Europe/London", "hours": "mon-fri 09:00-17:00", "holidays": "GB-ENG"}


def test_save_and_read_back(session: Session, now: datetime) -> None:
    row = do_save_calendar(session, "uk-office", UK, now=now)
    assert row.config == Calendar.from_config("uk-office", UK).to_config()
    assert row.config["holidays"] == ["GB-ENG"]
    session.expire_all()
    calendar = get_calendar(session, "uk-office")
    assert calendar == Calendar.from_config("uk-office", UK)
    assert [c.name for c in list_calendars(session)] == ["uk-office"]


def test_saving_again_replaces_and_keeps_created_at(session: Session, now: datetime) -> None:
    do_save_calendar(session, "default", {"timezone": "UTC"}, now=now)
    later = now + timedelta(days=3)
    row = do_save_calendar(session, "default", UK, now=later)
    assert (row.created_at, row.updated_at) == (now, later)
    assert get_calendar(session, "default").tz == "Europe/London"


def test_unknown_and_invalid_calendars(session: Session, now: datetime) -> None:
    with pytest.raises(NotFound, match="no calendar named 'nope'"):
        get_calendar(session, "nope")
    assert find_calendar(session, "nope") is None
    with pytest.raises(InvalidInput, match="is not a calendar name"):
        do_save_calendar(session, "Bad Name", UK, now=now)
    with pytest.raises(InvalidInput):
        do_save_calendar(session, "mars", {"timezone": "Mars/Olympus"}, now=now)
    assert list_calendars(session) == []
