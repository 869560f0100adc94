"""Named calendars: the calendars file (YAML, TOML or JSON text) and name resolution.

The file holds a `calendars:` mapping of name -> the plain dict of `Calendar.to_config`
(a top-level mapping of names is accepted too). `resolve_calendar` is the one lookup
every shell uses; it takes the configs from wherever they were stored (file, database).
Pure: callers read the file and hand over its text.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping

import yaml

from sopdesk.calendar.model import Calendar, CalendarError, default_calendar
from sopdesk.errors import NotFound

FORMATS = ("yaml", "toml", "json")
DEFAULT_NAME = "default"


def load_calendars_text(text: str, fmt: str = "yaml") -> dict[str, Calendar]:
    """Parse a calendars file into named calendars; every error names the calendar."""
    return {
        name: Calendar.from_config(name, config)
        for name, config in configs_from_text(text, fmt).items()
    }


def configs_from_text(text: str, fmt: str = "yaml") -> dict[str, Mapping[str, object]]:
    """The raw per-calendar config mappings of a calendars file."""
    data = _parse(text, fmt.lower().lstrip("."))
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise CalendarError("a calendars file must be a mapping", hint="start with 'calendars:'")
    section = data.get("calendars", data) if isinstance(data.get("calendars"), Mapping) else data
    configs: dict[str, Mapping[str, object]] = {}
    for name, config in section.items():
        if not isinstance(config, Mapping):
            raise CalendarError(
                f"calendar {name!r} must be a mapping of settings",
                hint="e.g. timezone: America/New_York, hours: mon-fri 09:00-17:00",
            )
        configs[str(name)] = config
    return configs


def _parse(text: str, fmt: str) -> object:
    try:
        if fmt in {"yaml", "yml"}:
            return yaml.safe_load(text)
        if fmt == "toml":
            return tomllib.loads(text)
        if fmt == "json":
            return json.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CalendarError(f"the calendars file is not valid {fmt.upper()}: {exc}") from None
    raise CalendarError(f"unknown calendars file format {fmt!r}", hint="use yaml, toml or json")


def resolve_calendar(
    name: str, configs: Mapping[str, Mapping[str, object]], default_tz: str = "UTC"
) -> Calendar:
    """The calendar called `name`: from `configs`, else the built-in "default" in `default_tz`."""
    if name in configs:
        return Calendar.from_config(name, configs[name])
    if name == DEFAULT_NAME:
        return default_calendar(default_tz)
    known = ", ".join(sorted({*configs, DEFAULT_NAME}))
    raise NotFound(f"no calendar named {name!r}", hint=f"known calendars: {known}")
