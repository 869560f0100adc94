"""/api/v1/groups: the tiers and teams SOP escalation matrices notify and assign.

Thin: each operation checks its action (users.read to look, users.manage to change),
calls one `sopdesk.actions.groups` function and shapes the answer. Included by
`web.api.identity`, next to the users the groups hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from sopdesk.actions import groups
from sopdesk.auth.permissions import Principal
from sopdesk.sop.model import ID_PATTERN
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.api.idempotent import IdempotentRoute, idempotency_key
from sopdesk.web.security import DbSession

router = APIRouter(
    prefix="/groups", tags=["groups"], responses=m.ERROR_RESPONSES, route_class=IdempotentRoute
)

UsersReader = Annotated[Principal, Depends(require("users.read"))]
UsersManager = Annotated[Principal, Depends(require("users.manage"))]
Name = Annotated[
    str,
    Path(pattern=ID_PATTERN, max_length=groups.MAX_NAME, examples=["support-lead"]),
]
Email = Annotated[str, Path(max_length=254, examples=["ann@example.com"])]
Tier = Annotated[int, Field(ge=groups.MIN_TIER, le=groups.MAX_TIER)]


class MemberOut(BaseModel):
    email: str
    name: str
    active: bool = Field(description="Disabled users stay members but are not notified")


class GroupOut(BaseModel):
    name: str = Field(description="The name SOP escalation matrices use (notify, assign)")
    description: str
    tier: int | None
    email: str | None = Field(description="Shared mailbox; when set, notices go only there")
    members: list[MemberOut]
    created_at: datetime


class GroupIn(BaseModel):
    name: m.Text = Field(max_length=groups.MAX_NAME, examples=["support-lead"])
    description: m.Text = Field("", max_length=groups.MAX_DESCRIPTION)
    tier: Tier | None = None
    email: m.Text | None = Field(None, max_length=254, examples=["leads@shop.example"])


class GroupPatch(BaseModel):
    """Only the members sent change; `null` clears `tier` or `email`."""

    name: m.Text | None = Field(None, max_length=groups.MAX_NAME)
    description: m.Text | None = Field(None, max_length=groups.MAX_DESCRIPTION)
    tier: Tier | None = None
    email: m.Text | None = Field(None, max_length=254)


def _out(group: groups.Group) -> GroupOut:
    return GroupOut(
        name=group.name,
        description=group.description,
        tier=group.tier,
        email=group.email,
        members=[MemberOut(email=p.email, name=p.name, active=p.active) for p in group.members],
        created_at=group.created_at,
    )


@router.get(
    "",
    response_model=list[GroupOut],
    summary="List groups",
    openapi_extra={"x-permission": "users.read"},
)
def list_groups(who: UsersReader, session: DbSession) -> list[GroupOut]:
    """Every group by name, with its tier, shared mailbox and members."""
    return [_out(group) for group in groups.list_groups(session)]


@router.post(
    "",
    response_model=GroupOut,
    status_code=201,
    summary="Create a group",
    dependencies=[Depends(idempotency_key)],
    openapi_extra={"x-permission": "users.manage"},
)
def create_group(body: GroupIn, who: UsersManager, session: DbSession) -> GroupOut:
    """A new, empty group; its name must be an SOP identifier (409 if taken)."""
    created = groups.do_create_group(
        session, body.name, description=body.description, tier=body.tier, email=body.email
    )
    return _out(created)


@router.get(
    "/{name}",
    response_model=GroupOut,
    summary="Get a group",
    openapi_extra={"x-permission": "users.read"},
)
def get_group(name: Name, who: UsersReader, session: DbSession) -> GroupOut:
    """One group with its members."""
    return _out(groups.get_group(session, name))


@router.patch(
    "/{name}",
    response_model=GroupOut,
    summary="Rename or edit a group",
    openapi_extra={"x-permission": "users.manage"},
)
def update_group(name: Name, body: GroupPatch, who: UsersManager, session: DbSession) -> GroupOut:
    """Change the members of the body that are present. Renaming does not edit SOPs:
    an SOP naming the old name reaches nobody in this group until it is changed."""
    sent = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in sent and body.name is not None:
        changes["new_name"] = body.name
    if "description" in sent:
        changes["description"] = body.description or ""
    if "tier" in sent:
        changes["tier"] = body.tier
    if "email" in sent:
        changes["email"] = body.email
    return _out(groups.do_update_group(session, name, **changes))


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a group",
    openapi_extra={"x-permission": "users.manage"},
)
def delete_group(name: Name, who: UsersManager, session: DbSession) -> Response:
    """Remove the group and its memberships; the users stay."""
    groups.do_delete_group(session, name)
    return Response(status_code=204)


@router.put(
    "/{name}/members/{email}",
    response_model=GroupOut,
    summary="Add a member to a group",
    openapi_extra={"x-permission": "users.manage"},
)
def add_member(name: Name, email: Email, who: UsersManager, session: DbSession) -> GroupOut:
    """Put an existing user in the group (idempotent); 404 if either does not exist."""
    return _out(groups.do_add_member(session, name, email))


@router.delete(
    "/{name}/members/{email}",
    status_code=204,
    summary="Remove a member from a group",
    openapi_extra={"x-permission": "users.manage"},
)
def remove_member(name: Name, email: Email, who: UsersManager, session: DbSession) -> Response:
    """Take the user out of the group; 404 if they are not in it."""
    groups.do_remove_member(session, name, email)
    return Response(status_code=204)
