"""The permission model, as data: which role and which token scope may do which action.

A request is allowed when the user's role allows the action AND, for a request made with
an API token, one of the token's scopes covers it. A session (a person in the browser)
has no scopes: the role alone decides. `allowed` is pure and total over `ACTIONS`; an
unknown action name is a programming error and raises, so a typo cannot open a door.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from sopdesk.errors import InvalidInput, PermissionDenied


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    AGENT = "agent"


ACTIONS: Mapping[str, str] = {
    "profile.read": "See your own account (GET /api/v1/me)",
    "sop.read": "Read SOPs, their versions and diffs",
    "sop.acknowledge": "Acknowledge having read an SOP version",
    "sop.edit": "Create and edit SOP drafts, submit them for review",
    "sop.publish": "Publish or retire SOP versions",
    "case.read": "Read cases, their threads and checklists",
    "case.write": "Create cases, reply, add notes, complete steps, change status",
    "customer.read": "Read customers",
    "customer.write": "Create and edit customers",
    "report.read": "Read metrics and reports",
    "settings.read": "Read settings: calendars, email, webhooks",
    "settings.write": "Change settings: calendars, email, webhooks",
    "users.read": "List users and groups",
    "users.manage": "Add users, change roles and groups, reset passwords",
    "tokens.manage": "Create, list and revoke your own API tokens",
}

_EVERY_ROLE = frozenset(
    {
        "profile.read",
        "sop.read",
        "sop.acknowledge",
        "case.read",
        "case.write",
        "customer.read",
        "customer.write",
        "tokens.manage",
    }
)
_MANAGER = _EVERY_ROLE | {
    "sop.edit",
    "sop.publish",
    "report.read",
    "settings.read",
    "settings.write",
    "users.read",
}

ROLE_ACTIONS: Mapping[Role, frozenset[str]] = {
    Role.OWNER: frozenset(ACTIONS),
    Role.MANAGER: _MANAGER,
    Role.AGENT: _EVERY_ROLE,
}

SCOPES: Mapping[str, frozenset[str]] = {
    "cases:read": frozenset({"case.read", "customer.read"}),
    "cases": frozenset({"case.read", "case.write", "customer.read", "customer.write"}),
    "sops:read": frozenset({"sop.read"}),
    "sops": frozenset({"sop.read", "sop.acknowledge", "sop.edit", "sop.publish"}),
    "reports:read": frozenset({"report.read"}),
    "settings:read": frozenset({"settings.read"}),
    "settings": frozenset({"settings.read", "settings.write"}),
    "users:read": frozenset({"users.read"}),
    "admin": frozenset(ACTIONS),
}
"""Token scopes. `admin` covers every action; the token's user's role still bounds it."""

SCOPE_HELP: Mapping[str, str] = {
    "cases:read": "read cases and customers",
    "cases": "read and write cases and customers",
    "sops:read": "read SOPs",
    "sops": "read, acknowledge, edit and publish SOPs",
    "reports:read": "read metrics and reports",
    "settings:read": "read settings",
    "settings": "read and change settings",
    "users:read": "list users and groups",
    "admin": "everything the token's user may do",
}

ANY_TOKEN = frozenset({"profile.read"})
"""Actions every valid token may take, whatever its scopes."""

DEFAULT_SCOPES = ("admin",)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in person (`scopes` None) or an API token (its scopes)."""

    user_id: int
    email: str
    name: str
    role: Role
    scopes: frozenset[str] | None = None
    token_id: int | None = None

    @property
    def via(self) -> str:
        return "session" if self.scopes is None else "token"


def allowed(principal: Principal, action: str) -> bool:
    """True when `principal` may take `action` (see the module docstring)."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    if action not in ROLE_ACTIONS[principal.role]:
        return False
    if principal.scopes is None or action in ANY_TOKEN:
        return True
    return any(action in SCOPES.get(scope, ()) for scope in principal.scopes)


def require(principal: Principal, action: str) -> None:
    """Raise `PermissionDenied` unless `allowed(principal, action)`."""
    if allowed(principal, action):
        return
    if action not in ROLE_ACTIONS[principal.role]:
        article = "an" if principal.role is Role.AGENT or principal.role is Role.OWNER else "a"
        message = f"{article} {principal.role.value} may not do this ({action})"
    else:
        message = f"this API token's scopes do not cover {action}"
    raise PermissionDenied(message, action=action)


def allowed_actions(principal: Principal) -> list[str]:
    """Every action `principal` may take, in the order of `ACTIONS`."""
    return [action for action in ACTIONS if allowed(principal, action)]


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        roles = ", ".join(role.value for role in Role)
        raise InvalidInput(f"{value!r} is not a role", hint=f"use one of {roles}") from None


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scopes, de-duplicated in the order of `SCOPES`; `DEFAULT_SCOPES` if none."""
    wanted = {scope.strip().lower() for scope in scopes if scope.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidInput(
            f"unknown token scope {unknown[0]!r}", hint=f"use any of {', '.join(SCOPES)}"
        )
    return tuple(scope for scope in SCOPES if scope in wanted) or DEFAULT_SCOPES


def markdown_table() -> str:
    """The permission table as Markdown (docs/api.md holds a copy; a test compares)."""
    roles = list(Role)
    lines = [
        "| action | what it allows | " + " | ".join(r.value for r in roles) + " | token scopes |",
        "| --- | --- | " + " | ".join(":-:" for _ in roles) + " | --- |",
    ]
    for action, text in ACTIONS.items():
        marks = " | ".join("✓" if action in ROLE_ACTIONS[r] else "·" for r in roles)
        if action in ANY_TOKEN:
            scopes = "any"
        else:
            scopes = ", ".join(f"`{s}`" for s, covered in SCOPES.items() if action in covered)
        lines.append(f"| `{action}` | {text} | {marks} | {scopes} |")
    return "\n".join(lines) + "\n"
