"""Settings → groups: the tiers and teams SOP escalation matrices notify and assign.

The page shows who each group reaches and which published SOPs name it, and flags
names used by SOPs that no group answers to (nobody is told unless the environment
gives the role an address). Everyone with users.read may look; users.manage changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sopdesk.actions import groups
from sopdesk.actions import users as user_actions
from sopdesk.auth.permissions import Principal, allowed
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.web.ui import CSRF, DbSession, back_to, person, ui_page

router = APIRouter()
UsersReader = person("users.read")
UsersManager = person("users.manage")
FormText = Annotated[str, Form()]

DONE = {
    "created": "The group is created.",
    "saved": "The group is saved.",
    "deleted": "The group is deleted; SOPs that name it no longer reach anyone through it.",
    "added": "The member is added.",
    "removed": "The member is removed.",
}


def reach(group: groups.Group, role_addresses: dict[str, str]) -> str:
    """In words, who a notice to this group goes to (the rule of `groups.recipients`)."""
    if group.email:
        return f"the shared mailbox {group.email}"
    active = [member.email for member in group.members if member.active]
    if active:
        return "each active member"
    if group.name in role_addresses:
        return f"{role_addresses[group.name]} (SOPDESK_ROLE_ADDRESSES)"
    return ""


def _page(
    request: Request,
    session: Session,
    me: Principal,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    done: str = "",
) -> HTMLResponse:
    found = groups.list_groups(session)
    role_addresses = dict(request.app.state.settings.role_addresses)
    context = {
        "groups": found,
        "reach": {group.name: reach(group, role_addresses) for group in found},
        "usage": groups.escalation_usage(session, found),
        "role_addresses": role_addresses,
        "users": user_actions.list_users(session) if allowed(me, "users.manage") else [],
        "min_tier": groups.MIN_TIER,
        "max_tier": groups.MAX_TIER,
        "error": error,
        "values": values or {},
        "done": DONE.get(done, ""),
        "active": "settings",
        "section": "groups",
    }
    return ui_page(request, "ui/settings_groups.html", me, context, 422 if error else 200)


def _refused(
    request: Request, session: Session, me: Principal, exc: InvalidInput | Conflict, **values: str
) -> HTMLResponse:
    session.rollback()
    return _page(request, session, me, error=exc.message, values=values)


@router.get("/settings/groups", response_class=HTMLResponse)
def groups_page(request: Request, session: DbSession, me: UsersReader, done: str = "") -> Response:
    return _page(request, session, me, done=done)


@router.post("/settings/groups", dependencies=CSRF)
def create_group(
    request: Request,
    session: DbSession,
    me: UsersManager,
    name: FormText = "",
    description: FormText = "",
    tier: FormText = "",
    email: FormText = "",
) -> Response:
    try:
        groups.do_create_group(session, name, description=description, tier=tier, email=email)
    except (InvalidInput, Conflict) as exc:
        values = {"name": name, "description": description, "tier": tier, "email": email}
        return _refused(request, session, me, exc, **values)
    return back_to("/settings/groups?done=created")


@router.post("/settings/groups/{name}", dependencies=CSRF)
def edit_group(
    request: Request,
    session: DbSession,
    me: UsersManager,
    name: str,
    new_name: FormText = "",
    description: FormText = "",
    tier: FormText = "",
    email: FormText = "",
) -> Response:
    """Save the edit form: every field is sent, so an empty tier or e-mail clears it."""
    try:
        groups.do_update_group(
            session,
            name,
            new_name=new_name or name,
            description=description,
            tier=tier,
            email=email,
        )
    except (InvalidInput, Conflict) as exc:
        return _refused(request, session, me, exc)
    return back_to("/settings/groups?done=saved")


@router.post("/settings/groups/{name}/delete", dependencies=CSRF)
def delete_group(request: Request, session: DbSession, me: UsersManager, name: str) -> Response:
    groups.do_delete_group(session, name)
    return back_to("/settings/groups?done=deleted")


@router.post("/settings/groups/{name}/members", dependencies=CSRF)
def add_member(
    request: Request, session: DbSession, me: UsersManager, name: str, email: FormText = ""
) -> Response:
    try:
        groups.do_add_member(session, name, email)
    except (InvalidInput, Conflict) as exc:
        return _refused(request, session, me, exc)
    return back_to("/settings/groups?done=added")


@router.post("/settings/groups/{name}/members/remove", dependencies=CSRF)
def remove_member(
    request: Request, session: DbSession, me: UsersManager, name: str, email: FormText = ""
) -> Response:
    groups.do_remove_member(session, name, email)
    return back_to("/settings/groups?done=removed")
