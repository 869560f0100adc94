"""The public support form's spam limits: one row per request sent through it, kept
for an hour, the client and e-mail addresses hashed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_form_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ip_key", sa.String(64), nullable=False),
        sa.Column("email_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_form_posts")),
    )
    op.create_index("ix_support_form_posts_ip_key_at", "support_form_posts", ["ip_key", "at"])
    op.create_index(
        "ix_support_form_posts_email_key_at", "support_form_posts", ["email_key", "at"]
    )
    op.create_index("ix_support_form_posts_at", "support_form_posts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_support_form_posts_at", table_name="support_form_posts")
    op.drop_index("ix_support_form_posts_email_key_at", table_name="support_form_posts")
    op.drop_index("ix_support_form_posts_ip_key_at", table_name="support_form_posts")
    op.drop_table("support_form_posts")
