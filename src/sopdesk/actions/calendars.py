"""Business calendars: store and read each calendar's configuration.

The calendar package owns the meaning: `Calendar.from_config(name, mapping)` checks a
mapping and `to_config()` gives its canonical JSON-safe form, which is what is stored,
one row per name. An invalid mapping is refused with the calendar package's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.calendar.model import Calendar
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.sop.model import ID_PATTERN
from sopdesk.store.tables import CalendarRow


def get_calendar(session: Session, name: str) -> Calendar:
    """The stored calendar `name`, built by the calendar package."""
    row = session.get(CalendarRow, name)
    if row is None:
        raise NotFound(f"no calendar named {name!r}", hint="save one with do_save_calendar")
    return Calendar.from_config(row.name, row.config)


def find_calendar(session: Session, name: str) -> Calendar | None:
    """Like `get_calendar`, but None when no calendar of that name is stored."""
    row = session.get(CalendarRow, name)
    return None if row is None else Calendar.from_config(row.name, row.config)


def list_calendars(session: Session) -> list[CalendarRow]:
    return list(session.scalars(select(CalendarRow).order_by(CalendarRow.name)))


@atomic
def do_save_calendar(
    session: Session, name: str, mapping: Mapping[str, Any], *, now: datetime | None = None
) -> CalendarRow:
    """Create or replace calendar `name`; stores the canonical `to_config()` mapping."""
    config = _canonical(name, mapping)
    moment = resolve_now(now)
    row = session.get(CalendarRow, name)
    if row is None:
        row = CalendarRow(name=name, config=config, created_at=moment, updated_at=moment)
        session.add(row)
    elif row.config != config:
        row.config, row.updated_at = config, moment
    return row


def _canonical(name: str, mapping: Mapping[str, Any]) -> dict[str, Any]:
    if len(name) > 80 or not re.match(ID_PATTERN, name):
        raise InvalidInput(
            f"{name!r} is not a calendar name",
            hint="use lower-case letters, digits and dashes, e.g. 'default' or 'uk-office'",
        )
    if not isinstance(mapping, Mapping):
        raise InvalidInput(f"calendar {name!r} must be a mapping of settings")
    return dict(Calendar.from_config(name, mapping).to_config())
