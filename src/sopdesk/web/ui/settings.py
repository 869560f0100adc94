"""Settings: business calendars (view the week and next holidays, edit with validation),
users (list, add with a role; owners rename, change roles, deactivate and reactivate),
your API tokens (create, shown once; revoke), and the e-mail configuration, which
comes from the environment and is shown read-only with its secret masked. Groups,
webhooks and the e-mail page have modules of their own (`settings_groups`,
`settings_webhooks`, `settings_email`), included at the end.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sopdesk.actions import groups
from sopdesk.actions import users as user_actions
from sopdesk.actions.base import utcnow
from sopdesk.actions.calendars import do_save_calendar, find_calendar, list_calendars
from sopdesk.actions.webhooks import list_webhooks
from sopdesk.auth.permissions import SCOPE_HELP, Principal, Role, allowed
from sopdesk.calendar.describe import upcoming_special_days, week_lines
from sopdesk.errors import Conflict, InvalidInput, NotFound, SopdeskError
from sopdesk.settings import Settings
from sopdesk.web.ui import (
    CSRF,
    DbSession,
    back_to,
    person,
    settings_email,
    settings_groups,
    settings_webhooks,
    ui_page,
)

router = APIRouter()
SettingsReader = person("settings.read")
SettingsWriter = person("settings.write")
UsersReader = person("users.read")
UsersManager = person("users.manage")
TokenHolder = person("tokens.manage")
FormText = Annotated[str, Form()]
MASK = "••••••"


def masked_url(url: str | None) -> str:
    """A URL with its password replaced by dots (`smtp://me:••••••@host:587`)."""
    if not url:
        return "not set"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def email_settings(settings: Settings) -> list[tuple[str, str]]:
    """What the environment configures for mail in and out, secrets masked."""
    return [
        ("Outgoing mail (SOPDESK_SMTP_URL)", masked_url(settings.smtp_url)),
        ("Support address (SOPDESK_SUPPORT_ADDRESS)", settings.support_address),
        ("Other addresses of ours", ", ".join(settings.support_addresses) or "none"),
        ("Company name", settings.company_name),
        ("Public address of this sopdesk", settings.public_base_url),
        ("Incoming mail", "'sopdesk mail serve' (SMTP) or 'sopdesk mail poll' (IMAP)"),
    ]


@router.get("/settings", response_class=HTMLResponse)
def overview(request: Request, session: DbSession, me: SettingsReader) -> HTMLResponse:
    context = {
        "calendars": list_calendars(session),
        "email": email_settings(request.app.state.settings),
        "users": user_actions.list_users(session) if allowed(me, "users.read") else [],
        "groups": groups.list_groups(session) if allowed(me, "users.read") else [],
        "webhooks": list_webhooks(session),
        "active": "settings",
        "section": "overview",
    }
    return ui_page(request, "ui/settings.html", me, context)


# --- calendars -----------------------------------------------------------------------


def _calendar_page(
    request: Request,
    session: DbSession,
    me: Principal,
    name: str,
    *,
    text: str | None = None,
    error: str | None = None,
    saved: bool = False,
) -> HTMLResponse:
    calendar = find_calendar(session, name)
    if calendar is None and text is None:
        raise NotFound(f"no calendar named {name!r}")
    stored = yaml.safe_dump(calendar.to_config(), sort_keys=False) if calendar else ""
    today = utcnow().date()
    context = {
        "name": name,
        "calendar": calendar,
        "week": week_lines(calendar) if calendar else [],
        "special": upcoming_special_days(calendar, today, 8) if calendar else [],
        "text": stored if text is None else text,
        "error": error,
        "saved": saved,
        "today": today,
        "active": "settings",
        "section": "overview",
    }
    return ui_page(request, "ui/settings_calendar.html", me, context, 422 if error else 200)


@router.get("/settings/calendars/{name}", response_class=HTMLResponse)
def calendar_page(
    request: Request, session: DbSession, me: SettingsReader, name: str, saved: str = ""
) -> HTMLResponse:
    return _calendar_page(request, session, me, name, saved=bool(saved))


@router.post("/settings/calendars", dependencies=CSRF)
def save_calendar(
    request: Request,
    session: DbSession,
    me: SettingsWriter,
    name: FormText = "",
    config: FormText = "",
) -> Response:
    """Create or replace a calendar from its YAML; the calendar package validates it."""
    name = name.strip()
    try:
        mapping = _yaml_mapping(config)
        do_save_calendar(session, name, mapping)
    except InvalidInput as exc:
        session.rollback()
        return _calendar_page(request, session, me, name or "new", text=config, error=exc.message)
    return back_to(f"/settings/calendars/{name}?saved=1")


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        value = yaml.safe_load(text or "{}")
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the calendar is not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("the calendar must be a YAML mapping (key: value lines)")
    return value


# --- users ---------------------------------------------------------------------------


USER_DONE = {
    "saved": "{email} is saved; a new role applies from their next page or API call.",
    "deactivated": "{email} is deactivated: their sessions have ended and their API "
    "tokens no longer work.",
    "activated": "{email} is active again and may sign in.",
}


def _users_page(
    request: Request,
    session: DbSession,
    me: Principal,
    *,
    values: dict[str, str] | None = None,
    error: SopdeskError | None = None,
    added: str | None = None,
    done: str = "",
    email: str = "",
    status: int = 422,
) -> HTMLResponse:
    """The users page; `status` is the answer's when `error` is given."""
    # Only a real user's address goes into the message: a crafted link cannot make
    # the page announce something about anybody else.
    user = user_actions.find_user(session, email) if done in USER_DONE else None
    message = USER_DONE[done].format(email=user.email) if user else ""
    context = {
        "users": user_actions.list_users(session),
        "roles": [role.value for role in Role],
        "values": values or {},
        "error": error.message if error else None,
        "hint": error.hint if error else None,
        "added": added,
        "done": message,
        "active": "settings",
        "section": "users",
    }
    return ui_page(request, "ui/settings_users.html", me, context, status if error else 200)


@router.get("/settings/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: DbSession,
    me: UsersReader,
    added: str | None = None,
    done: str = "",
    email: str = "",
) -> HTMLResponse:
    return _users_page(request, session, me, added=added, done=done, email=email)


@router.post("/settings/users", dependencies=CSRF)
def add_user(
    request: Request,
    session: DbSession,
    me: UsersManager,
    email: FormText = "",
    name: FormText = "",
    role: FormText = "agent",
    password: FormText = "",
) -> Response:
    values = {"email": email, "name": name, "role": role}
    try:
        user = user_actions.do_create_user(
            session, email, role=role, password=password or None, name=name
        )
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _users_page(request, session, me, values=values, error=exc)
    return back_to(f"/settings/users?added={user.email}")


@router.post("/settings/users/edit", dependencies=CSRF)
def edit_user(
    request: Request,
    session: DbSession,
    me: UsersManager,
    email: FormText = "",
    name: FormText = "",
    role: FormText = "",
) -> Response:
    """Save one row's name and role; the e-mail is a form field, not part of the path.

    An empty name or role keeps the one stored. Demoting the last owner is refused with
    the reason on the page (409)."""
    try:
        user = user_actions.do_update_user(
            session, email, name=name.strip() or None, role=role.strip() or None
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        return _users_page(request, session, me, error=exc, status=exc.status)
    return back_to(f"/settings/users?done=saved&email={quote(user.email)}")


@router.post("/settings/users/active", dependencies=CSRF)
def set_user_active(
    request: Request,
    session: DbSession,
    me: UsersManager,
    email: FormText = "",
    active: FormText = "",
) -> Response:
    """Deactivate (`active=0`: their sessions end, their tokens stop) or reactivate
    (`active=1`) a user. Deactivating the last owner is refused on the page (409)."""
    if active not in ("0", "1"):
        return _users_page(request, session, me, error=InvalidInput("active must be 0 or 1"))
    try:
        user = user_actions.do_update_user(session, email, active=active == "1")
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        return _users_page(request, session, me, error=exc, status=exc.status)
    done = "activated" if user.active else "deactivated"
    return back_to(f"/settings/users?done={done}&email={quote(user.email)}")


# --- API tokens ----------------------------------------------------------------------


def _tokens_page(
    request: Request,
    session: DbSession,
    me: Principal,
    *,
    created: Any = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    user = user_actions.get_user(session, me.email)
    context = {
        "tokens": user_actions.list_tokens(session, user),
        "scopes": SCOPE_HELP,
        "created": created,
        "error": error,
        "now": utcnow(),
        "active": "settings",
        "section": "tokens",
    }
    return ui_page(request, "ui/settings_tokens.html", me, context, status)


@router.get("/settings/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, session: DbSession, me: TokenHolder) -> HTMLResponse:
    return _tokens_page(request, session, me)


@router.post("/settings/tokens", dependencies=CSRF)
def create_token(
    request: Request,
    session: DbSession,
    me: TokenHolder,
    name: FormText = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_days: FormText = "",
) -> Response:
    """A new token for yourself; its text is on this answer only (never stored)."""
    try:
        days = int(expires_days) if expires_days.strip() else None
        created = user_actions.do_create_token(
            session, me.email, name=name, scopes=scopes or (), expires_days=days
        )
    except ValueError:
        return _tokens_page(request, session, me, error="days must be a number", status=422)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _tokens_page(request, session, me, error=exc.message, status=422)
    return _tokens_page(request, session, me, created=created)


@router.post("/settings/tokens/{token_id}/revoke", dependencies=CSRF)
def revoke_token(request: Request, session: DbSession, me: TokenHolder, token_id: int) -> Response:
    user_actions.do_revoke_token(session, token_id, user_id=me.user_id)
    return back_to("/settings/tokens")


for _section in (settings_groups, settings_email, settings_webhooks):
    router.include_router(_section.router)
