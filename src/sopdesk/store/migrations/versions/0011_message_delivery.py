"""Mail that did not arrive says so. An outbound message the relay refused for good, or
that a bounce came back for, keeps when and why (`messages.delivery_failed_at`,
`delivery_error`); a customer whose own address turned out not to exist keeps that too
(`customers.email_bounced_at`, `email_bounce`), so follow-ups stop going to it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("delivery_failed_at", sa.DateTime(timezone=True)))
    op.add_column("messages", sa.Column("delivery_error", sa.Text()))
    op.add_column("customers", sa.Column("email_bounced_at", sa.DateTime(timezone=True)))
    op.add_column("customers", sa.Column("email_bounce", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("email_bounce")
        batch.drop_column("email_bounced_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery_error")
        batch.drop_column("delivery_failed_at")
