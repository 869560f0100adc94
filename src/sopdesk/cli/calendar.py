"""CLI commands: `sopdesk calendar due|elapsed|show|list`.

A thin shell: it reads the calendars file and the clock, and leaves every rule to
`sopdesk.calendar`. Named calendars come from `--config PATH`, else
SOPDESK_CALENDARS_FILE, else DATA_DIR/calendars.yaml (or .yml, .toml, .json) if it
exists; then the calendars stored in the database (`sopdesk calendar load FILE` saves
them there); then the built-in `default` (Mon-Fri 09:00-17:00 in SOPDESK_TIMEZONE).
A calendar in the file wins over a stored one of the same name, so a git-kept file
can be tried before it is loaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from sopdesk.actions.calendars import do_save_calendar, list_calendars
from sopdesk.calendar import Calendar, add, elapsed
from sopdesk.calendar.config import configs_from_text, resolve_calendar
from sopdesk.calendar.describe import upcoming_special_days, week_lines
from sopdesk.calendar.ics import import_ics
from sopdesk.cli.app import calendar_app
from sopdesk.cli.db import open_session
from sopdesk.errors import InvalidInput, SopdeskError
from sopdesk.settings import Settings
from sopdesk.sop.timephrase import TimePhraseError, parse_limit

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Calendars file (YAML, TOML or JSON).")
]
CalendarOption = Annotated[
    str | None, typer.Option("--calendar", "-c", help="Name of a configured calendar.")
]
TzOption = Annotated[str | None, typer.Option("--tz", help="IANA timezone of an ad-hoc calendar.")]
HoursOption = Annotated[
    str | None,
    typer.Option(
        "--hours", help='Ad-hoc hours, e.g. "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00".'
    ),
]
HolidaysOption = Annotated[
    str | None,
    typer.Option("--holidays", help="Ad-hoc public holidays: US, US-CA, GB-SCT (comma-separated)."),
]
IcsOption = Annotated[
    Path | None, typer.Option("--ics", help="An .ics file whose events close whole days.")
]
CALENDAR_FILE_NAMES = ("calendars.yaml", "calendars.yml", "calendars.toml", "calendars.json")


def calendars_file(config: Path | None, settings: Settings) -> Path | None:
    """The calendars file to read, or None when there is none."""
    if config is not None:
        if not config.is_file():
            raise InvalidInput(f"calendars file {config} does not exist")
        return config
    if settings.calendars_file is not None:
        if not settings.calendars_file.is_file():
            raise InvalidInput(
                f"calendars file {settings.calendars_file} does not exist",
                hint="fix SOPDESK_CALENDARS_FILE",
            )
        return settings.calendars_file
    candidates = (settings.data_dir / name for name in CALENDAR_FILE_NAMES)
    return next((path for path in candidates if path.is_file()), None)


def read_configs(path: Path | None) -> dict[str, Mapping[str, object]]:
    """The file's calendars over the database's (see the module docstring)."""
    stored = stored_configs()
    if path is None:
        return stored
    return stored | configs_from_text(file_text(path), path.suffix.lstrip(".") or "yaml")


def file_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read calendars file {path}: {exc}") from None


def stored_configs() -> dict[str, Mapping[str, object]]:
    """Calendars saved in the database; none when there is no initialised database."""
    try:
        with open_session() as session:
            return {row.name: row.config for row in list_calendars(session)}
    except SopdeskError:
        return {}


def choose_calendar(
    name: str | None,
    tz: str | None,
    hours: str | None,
    holidays: str | None,
    config: Path | None,
    ics: Path | None = None,
) -> Calendar:
    """A named calendar, or an ad-hoc one from --tz/--hours/--holidays, plus --ics closures."""
    settings = Settings()
    if name is not None and (tz or hours or holidays):
        raise InvalidInput(
            "give either --calendar or --tz/--hours/--holidays, not both",
            hint="an ad-hoc calendar is built from --tz, --hours and --holidays",
        )
    if hours is not None or holidays is not None:
        ad_hoc: dict[str, object] = {"timezone": tz or settings.timezone}
        ad_hoc.update({"hours": hours} if hours is not None else {})
        ad_hoc.update({"holidays": holidays} if holidays is not None else {})
        calendar = Calendar.from_config("ad-hoc", ad_hoc)
    else:
        configs = read_configs(calendars_file(config, settings))
        calendar = resolve_calendar(name or "default", configs, tz or settings.timezone)
    if ics is not None:
        calendar = import_ics(calendar, ics.read_bytes())
    return calendar


def parse_instant(text: str | None, calendar: Calendar, option: str) -> dt.datetime:
    """ISO 8601; without an offset it is read in the calendar's timezone; absent means now."""
    if text is None:
        return dt.datetime.now(dt.UTC).astimezone(calendar.zone)  # noqa: TID251 (the shell's clock)
    try:
        instant = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is not an ISO 8601 date and time",
            hint="e.g. 2024-03-08T16:30 or 2024-03-08T16:30:00-05:00",
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=calendar.zone)


def describe(calendar: Calendar) -> str:
    config = calendar.to_config()
    holidays = ", ".join(calendar.holidays) or "none"
    return f"calendar {calendar.name} ({calendar.tz}; {config['hours']}; holidays {holidays})"


@calendar_app.command("due")
def due_command(
    phrase: Annotated[str, typer.Argument(help='A limit such as "24 business hours".')],
    start: Annotated[
        str | None, typer.Option("--from", help="ISO 8601 start; default now.")
    ] = None,
    calendar_name: CalendarOption = None,
    tz: TzOption = None,
    hours: HoursOption = None,
    holidays: HolidaysOption = None,
    config: ConfigOption = None,
    ics: IcsOption = None,
) -> None:
    """Print when PHRASE, counted from --from, is due; the last line is the due instant."""
    calendar = choose_calendar(calendar_name, tz, hours, holidays, config, ics)
    try:
        limit = parse_limit(phrase)
    except TimePhraseError as exc:
        raise InvalidInput(str(exc)) from None
    begin = parse_instant(start, calendar, "--from")
    due = add(calendar, begin, limit.duration)
    typer.echo(describe(calendar))
    typer.echo(f"from  {begin.astimezone(calendar.zone).isoformat()}")
    typer.echo(f"limit {limit.duration}")
    typer.echo(due.isoformat())


@calendar_app.command("elapsed")
def elapsed_command(
    start: Annotated[str, typer.Option("--from", help="ISO 8601 start.")],
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601 end; default now.")] = None,
    calendar_name: CalendarOption = None,
    tz: TzOption = None,
    hours: HoursOption = None,
    holidays: HolidaysOption = None,
    config: ConfigOption = None,
    ics: IcsOption = None,
) -> None:
    """Print the business minutes between --from and --to; the last line is the number."""
    calendar = choose_calendar(calendar_name, tz, hours, holidays, config, ics)
    begin = parse_instant(start, calendar, "--from")
    finish = parse_instant(end, calendar, "--to")
    minutes = elapsed(calendar, begin, finish)
    typer.echo(describe(calendar))
    typer.echo(f"{minutes // 60} business hours {minutes % 60} minutes")
    typer.echo(str(minutes))


@calendar_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Calendar name.")] = "default",
    since: Annotated[
        str | None, typer.Option("--from", help="List special days from this date; default today.")
    ] = None,
    count: Annotated[int, typer.Option("--count", min=1, help="How many special days.")] = 10,
    config: ConfigOption = None,
    ics: IcsOption = None,
) -> None:
    """Print a calendar's week and its next holidays, closures and special days."""
    calendar = choose_calendar(name, None, None, None, config, ics)
    first_day = parse_instant(since, calendar, "--from").date() if since else None
    first_day = first_day or parse_instant(None, calendar, "--from").date()
    typer.echo(f"{calendar.name}  ({calendar.tz})")
    for line in week_lines(calendar):
        typer.echo(f"  {line}")
    typer.echo(f"holidays: {', '.join(calendar.holidays) or 'none'}")
    typer.echo(f"next holidays and special days from {first_day.isoformat()}:")
    special = upcoming_special_days(calendar, first_day, count)
    for day in special:
        effect = day.hours if day.changes_hours else f"{day.hours} anyway"
        typer.echo(f"  {day.day.isoformat()} {day.day:%a}  {day.label}  [{effect}]")
    if not special:
        typer.echo("  none")


@calendar_app.command("list")
def list_command(config: ConfigOption = None) -> None:
    """List the named calendars (the calendars file plus the built-in default)."""
    settings = Settings()
    configs = read_configs(calendars_file(config, settings))
    for name in sorted({*configs, "default"}):
        typer.echo(describe(resolve_calendar(name, configs, settings.timezone)))


@calendar_app.command("load")
def load_command(
    path: Annotated[Path, typer.Argument(help="Calendars file (YAML, TOML or JSON).")],
) -> None:
    """Save every calendar in a calendars file into the database (replacing same names)."""
    configs = configs_from_text(file_text(path), path.suffix.lstrip(".") or "yaml")
    if not configs:
        raise InvalidInput(f"{path} defines no calendars", hint="start the file with 'calendars:'")
    for name, mapping in configs.items():
        Calendar.from_config(name, mapping)  # all valid before any is saved
    with open_session() as session:
        for name, mapping in sorted(configs.items()):
            do_save_calendar(session, name, mapping)
    typer.echo(f"Saved {len(configs)} calendar(s): {', '.join(sorted(configs))}")
