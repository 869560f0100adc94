"""Shared fixtures for the engine tests: the returns SOP, calendars and instants.

All instants are in March 2026 (UTC). 2 March 2026 is a Monday; the default calendar
opens Monday to Friday, 09:00-17:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sopdesk.calendar import Calendar, default_calendar
from sopdesk.sop.model import FrontMatter
from sopdesk.sop.parser import load_sop

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "sopdesk" / "library"


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant on `day` March 2026, UTC (2 = Monday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def make_sop(**fields: Any) -> FrontMatter:
    """A minimal valid SOP with the given front-matter fields."""
    base: dict[str, Any] = {
        "id": "test-sop",
        "title": "Test SOP",
        "owner": "lead",
        "review": "quarterly",
    }
    return FrontMatter.model_validate({**base, **fields})


@pytest.fixture(scope="session")
def returns_sop() -> FrontMatter:
    result = load_sop(LIBRARY / "returns-and-refunds.md")
    assert result.document is not None, result.findings
    return result.document.meta


@pytest.fixture(scope="session")
def calendar() -> Calendar:
    return default_calendar()
