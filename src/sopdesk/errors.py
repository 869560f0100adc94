"""The one error type users see.

Every layer raises `SopdeskError` (or a subclass) for a problem the user can act on.
The CLI prints `Error: <message>` and exits 1; the API renders RFC 9457 problem+json;
pages show the message. Anything else is a bug.
"""

from __future__ import annotations

from typing import Any


class SopdeskError(Exception):
    """A problem the user can fix, with a stable code and an HTTP status."""

    code: str = "error"
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
        **data: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.hint = hint
        self.data = data

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class NotFound(SopdeskError):
    code = "not_found"
    status = 404


class Conflict(SopdeskError):
    code = "conflict"
    status = 409


class InvalidInput(SopdeskError):
    code = "invalid_input"
    status = 422


class PermissionDenied(SopdeskError):
    code = "forbidden"
    status = 403
