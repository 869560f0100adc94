"""Parser policies that bound header values before the stdlib ever parses them.

The stdlib's parameter parsing (`email.message._parseparam`) is quadratic in the
length of a Content-Type or Content-Disposition value, so a hostile 100 KB header can
stall a worker for minutes. These policies cut every header value at a fixed size as
the parser reads it (top-level and MIME-part headers alike). The raw bytes the caller
keeps are untouched. Pure; no I/O.
"""

from __future__ import annotations

from email.policy import Compat32, EmailPolicy

MAX_STRUCTURAL_HEADER_CHARS = 4096
MAX_OTHER_HEADER_CHARS = 65536
_STRUCTURAL = frozenset(
    {"content-type", "content-disposition", "content-transfer-encoding", "content-id"}
)


def bound_header(name: str, value: str) -> str:
    """`value` cut to the limit for header `name`."""
    structural = name.strip().lower() in _STRUCTURAL
    limit = MAX_STRUCTURAL_HEADER_CHARS if structural else MAX_OTHER_HEADER_CHARS
    return value if len(value) <= limit else value[:limit]


class BoundedEmailPolicy(EmailPolicy):
    """`email.policy.default` with bounded header values."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, bound_header(name, value)


class BoundedCompat32(Compat32):
    """`email.policy.compat32` with bounded header values."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, bound_header(name, value)


BOUNDED_DEFAULT = BoundedEmailPolicy()
BOUNDED_COMPAT32 = BoundedCompat32()
