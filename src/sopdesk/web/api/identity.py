"""/api/v1 users, groups and the caller's own API tokens.

Thin: each operation checks its action, calls one `sopdesk.actions.users` function and
shapes the answer. A token is returned in full only by the call that creates it.
The groups operations are in `web.api.groups`, included here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from sopdesk.actions import users
from sopdesk.auth.permissions import SCOPES, Principal, Role
from sopdesk.auth.tokens import display
from sopdesk.store.tables import ApiTokenRow, UserRow
from sopdesk.web.api import groups
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.api.errors import Problem
from sopdesk.web.security import DbSession

router = APIRouter()

UsersReader = Annotated[Principal, Depends(require("users.read"))]
UsersManager = Annotated[Principal, Depends(require("users.manage"))]
Email = Annotated[
    str,
    Path(
        max_length=254,
        description="The user's e-mail address (any case).",
        examples=["ann@example.com"],
    ),
]
USER_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No user with this e-mail address."},
}


class UserOut(BaseModel):
    """A person who signs in, with what they may do (their role) and whether they may."""

    id: int
    email: str
    name: str
    role: Role = Field(description="owner, manager or agent: what the user may do")
    active: bool = Field(
        description="False: the user cannot sign in and their API tokens do not work"
    )
    groups: list[str] = Field(description="The groups (tiers) the user is a member of")
    created_at: datetime
    last_sign_in_at: datetime | None


class UserPatch(BaseModel):
    """Only the members sent (and not null) change; the rest stay as they are."""

    name: m.Text | None = Field(None, min_length=1, max_length=120, examples=["Ann Lee"])
    role: Role | None = Field(
        None, description="A new role; it applies from the user's next request"
    )
    active: bool | None = Field(
        None,
        description="false ends the user's sessions and stops their API tokens; "
        "true lets them sign in again",
    )


class NewUser(BaseModel):
    email: str = Field(max_length=254, examples=["ann@example.com"])
    role: Role
    name: str = Field("", max_length=120)
    password: str | None = Field(
        None,
        max_length=1024,
        description="Omit to create an account that cannot sign in until a password is set",
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    display: str = Field(description="The prefix with the secret elided: sd_1a2b3c4d_…")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class NewToken(BaseModel):
    name: str = Field("", max_length=80)
    scopes: list[str] = Field(
        default_factory=list,
        description=f"Any of {', '.join(SCOPES)}; none means admin (all the user may do)",
    )
    expires_days: int | None = Field(None, ge=1, le=users.MAX_TOKEN_DAYS)


class CreatedTokenOut(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again")


def _user_out(session: DbSession, row: UserRow) -> UserOut:
    return UserOut(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        active=row.active,
        groups=users.user_groups(session, row.id),
        created_at=row.created_at,
        last_sign_in_at=row.last_sign_in_at,
    )


def _token_out(row: ApiTokenRow) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "display": display(row.prefix),
        "scopes": list(row.scopes),
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
    }


@router.get(
    "/users",
    response_model=list[UserOut],
    tags=["users"],
    summary="List users",
    openapi_extra={"x-permission": "users.read"},
)
def list_users(_who: UsersReader, session: DbSession) -> list[UserOut]:
    """Every user, by email, with their role and groups."""
    return [_user_out(session, row) for row in users.list_users(session)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    summary="Add a user",
    openapi_extra={"x-permission": "users.manage"},
)
def create_user(body: NewUser, _who: UsersManager, session: DbSession) -> UserOut:
    """Add an owner, manager or agent. 409 if the email is taken."""
    row = users.do_create_user(
        session, body.email, role=body.role, password=body.password, name=body.name
    )
    return _user_out(session, row)


@router.get(
    "/users/{email}",
    response_model=UserOut,
    tags=["users"],
    summary="Get a user",
    openapi_extra={"x-permission": "users.read"},
    responses=USER_ERRORS,
)
def get_user(email: Email, _who: UsersReader, session: DbSession) -> UserOut:
    """One user, by e-mail address, with their role, state and groups."""
    return _user_out(session, users.get_user(session, email))


@router.patch(
    "/users/{email}",
    response_model=UserOut,
    tags=["users"],
    summary="Change a user's name, role or state",
    openapi_extra={"x-permission": "users.manage"},
    responses={
        **USER_ERRORS,
        409: {
            "model": Problem,
            "description": "The change would leave no active owner (code `last_owner`).",
        },
    },
)
def update_user(email: Email, body: UserPatch, _who: UsersManager, session: DbSession) -> UserOut:
    """Rename, change the role, deactivate (`active: false`: their sessions end and
    their tokens stop working) or reactivate a user. A new role applies from the
    user's next request. The last active owner can be neither demoted nor deactivated
    (409)."""
    row = users.do_update_user(session, email, name=body.name, role=body.role, active=body.active)
    return _user_out(session, row)


@router.get(
    "/me/tokens",
    response_model=list[TokenOut],
    tags=["account"],
    summary="List my API tokens",
    openapi_extra={"x-permission": "tokens.manage"},
)
def list_my_tokens(
    who: Annotated[Principal, Depends(require("tokens.manage"))], session: DbSession
) -> list[dict[str, object]]:
    """The caller's tokens, revoked and expired ones included; never the secrets."""
    return [
        _token_out(row) for row in users.list_tokens(session, users.get_user(session, who.email))
    ]


@router.post(
    "/me/tokens",
    response_model=CreatedTokenOut,
    status_code=201,
    tags=["account"],
    summary="Create an API token",
    openapi_extra={"x-permission": "tokens.manage"},
)
def create_my_token(
    body: NewToken,
    who: Annotated[Principal, Depends(require("tokens.manage"))],
    session: DbSession,
) -> dict[str, object]:
    """A new token for the caller; the answer's `token` is the only time it is shown."""
    created = users.do_create_token(
        session, who.email, name=body.name, scopes=body.scopes, expires_days=body.expires_days
    )
    return {**_token_out(created.row), "token": created.token}


@router.delete(
    "/me/tokens/{token_id}",
    status_code=204,
    tags=["account"],
    summary="Revoke one of my API tokens",
    openapi_extra={"x-permission": "tokens.manage"},
    responses={404: {"model": Problem, "description": "No such token of yours."}},
)
def revoke_my_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The token's id.")],
    who: Annotated[Principal, Depends(require("tokens.manage"))],
    session: DbSession,
) -> Response:
    """Revoke the token at once (idempotent); 404 if it is not the caller's."""
    users.do_revoke_token(session, token_id, user_id=who.user_id)
    return Response(status_code=204)


router.include_router(groups.router)
