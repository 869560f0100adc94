"""Indexes for the inbox and the case list at a million cases.

`ix_cases_next_due_at_id` serves the API's list order (next due instant, then id) over
every case, `ix_cases_assignee_next_due_at_id` the same order within one assignee's
cases; the two partial indexes hold open cases only — a few per cent of the table — for
the inbox views (by assignee, unassigned, or all of them, in due order) and their live
counts. The queries
that use the partial indexes spell the same predicate with literal values, so SQLite and
PostgreSQL can prove it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_CASES = "status NOT IN ('resolved', 'closed')"
UNASSIGNED_OPEN = f"{OPEN_CASES} AND assignee IS NULL"


def upgrade() -> None:
    op.create_index("ix_cases_next_due_at_id", "cases", ["next_due_at", "id"])
    op.create_index("ix_cases_assignee_next_due_at_id", "cases", ["assignee", "next_due_at", "id"])
    op.create_index(
        "ix_cases_open_assignee_due",
        "cases",
        ["assignee", "next_due_at", "id", "status"],
        sqlite_where=sa.text(OPEN_CASES),
        postgresql_where=sa.text(OPEN_CASES),
    )
    op.create_index(
        "ix_cases_open_due",
        "cases",
        ["next_due_at", "id", "status"],
        sqlite_where=sa.text(OPEN_CASES),
        postgresql_where=sa.text(OPEN_CASES),
    )
    op.create_index(
        "ix_cases_open_unassigned_due",
        "cases",
        ["next_due_at", "id", "status"],
        sqlite_where=sa.text(UNASSIGNED_OPEN),
        postgresql_where=sa.text(UNASSIGNED_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_unassigned_due", table_name="cases")
    op.drop_index("ix_cases_open_due", table_name="cases")
    op.drop_index("ix_cases_open_assignee_due", table_name="cases")
    op.drop_index("ix_cases_assignee_next_due_at_id", table_name="cases")
    op.drop_index("ix_cases_next_due_at_id", table_name="cases")
