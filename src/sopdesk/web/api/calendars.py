"""/api/v1/calendars: the business calendars SOP time limits count in (settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path

from sopdesk.actions.calendars import do_save_calendar, list_calendars
from sopdesk.auth.permissions import Principal
from sopdesk.errors import NotFound
from sopdesk.sop.model import ID_PATTERN
from sopdesk.store.tables import CalendarRow
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.security import DbSession

router = APIRouter(prefix="/calendars", tags=["calendars"], responses=m.ERROR_RESPONSES)

SettingsReader = Annotated[Principal, Depends(require("settings.read"))]
SettingsWriter = Annotated[Principal, Depends(require("settings.write"))]
Name = Annotated[str, Path(pattern=ID_PATTERN, max_length=80, examples=["uk-office"])]


def _out(row: CalendarRow) -> m.CalendarOut:
    return m.CalendarOut(
        name=row.name, config=dict(row.config), created_at=row.created_at, updated_at=row.updated_at
    )


@router.get(
    "",
    response_model=list[m.CalendarOut],
    summary="List calendars",
    openapi_extra={"x-permission": "settings.read"},
)
def calendars(who: SettingsReader, session: DbSession) -> list[m.CalendarOut]:
    """Every stored calendar by name, with its canonical configuration."""
    return [_out(row) for row in list_calendars(session)]


@router.get(
    "/{name}",
    response_model=m.CalendarOut,
    summary="Get a calendar",
    openapi_extra={"x-permission": "settings.read"},
)
def calendar(name: Name, who: SettingsReader, session: DbSession) -> m.CalendarOut:
    """One calendar's configuration: timezone, opening hours, holidays and closed days."""
    row = session.get(CalendarRow, name)
    if row is None:
        raise NotFound(f"no calendar named {name!r}")
    return _out(row)


@router.put(
    "/{name}",
    response_model=m.CalendarOut,
    summary="Create or replace a calendar",
    openapi_extra={"x-permission": "settings.write"},
)
def save_calendar(
    name: Name,
    config: Annotated[
        m.JsonObject,
        Body(examples=[{"timezone": "Europe/London", "hours": "mon-fri 09:00-17:30"}]),
    ],
    who: SettingsWriter,
    session: DbSession,
) -> m.CalendarOut:
    """Store a calendar (e.g. `{"timezone": "Europe/London", "hours": "mon-fri 09:00-17:30",
    "holidays": ["GB"]}`); it is checked first, and an invalid one is a 422 problem naming
    the mistake. Open cases keep their due times until re-timed."""
    return _out(do_save_calendar(session, name, config))
