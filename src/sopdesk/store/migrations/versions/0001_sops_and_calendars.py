"""SOPs, their versions, the SOP audit log, and business calendars.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'draft', 'in_review', 'published', 'retired'"


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sops",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_sops_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sops")),
    )
    op.create_index(op.f("ix_sops_status"), "sops", ["status"])
    op.create_table(
        "sop_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sop_id", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("parses", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("submitted_at", nullable=True),
        _ts("published_at", nullable=True),
        sa.Column("approved_by", sa.String(120), nullable=True),
        sa.Column("approval_note", sa.Text(), nullable=True),
        _ts("retired_at", nullable=True),
        sa.Column("review_cadence", sa.String(40), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        _ts("reviewed_at", nullable=True),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_sop_versions_status")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_sop_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["sop_id"],
            ["sops.id"],
            name=op.f("fk_sop_versions_sop_id_sops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_versions")),
        sa.UniqueConstraint("sop_id", "version", name=op.f("uq_sop_versions_sop_version")),
    )
    op.create_index(
        "ix_sop_versions_status_review_due", "sop_versions", ["status", "review_due"]
    )
    op.create_table(
        "sop_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sop_id", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        _ts("at"),
        sa.ForeignKeyConstraint(
            ["sop_id"],
            ["sops.id"],
            name=op.f("fk_sop_events_sop_id_sops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sop_events")),
    )
    op.create_index("ix_sop_events_sop_id_at", "sop_events", ["sop_id", "at"])
    op.create_table(
        "calendars",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("config", _json(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_calendars")),
    )


def downgrade() -> None:
    op.drop_table("calendars")
    op.drop_index("ix_sop_events_sop_id_at", table_name="sop_events")
    op.drop_table("sop_events")
    op.drop_index("ix_sop_versions_status_review_due", table_name="sop_versions")
    op.drop_table("sop_versions")
    op.drop_index(op.f("ix_sops_status"), table_name="sops")
    op.drop_table("sops")
