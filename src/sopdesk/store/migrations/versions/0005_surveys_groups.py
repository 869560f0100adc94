"""Survey answers, customers' unsubscribe, and groups' tier and shared address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "dead")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("sop_id", sa.String(80), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        _ts("answered_at"),
        _ts("updated_at"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_survey_responses_rating")),
        sa.CheckConstraint(
            "case_id IS NOT NULL OR customer_id IS NOT NULL", name=op.f("ck_survey_responses_about")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_survey_responses_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_survey_responses_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("case_id", name=op.f("uq_survey_responses_case_id")),
    )
    op.create_index(op.f("ix_survey_responses_customer_id"), "survey_responses", ["customer_id"])
    op.create_index(op.f("ix_survey_responses_answered_at"), "survey_responses", ["answered_at"])
    op.create_index(
        "uq_survey_responses_customer_sop",
        "survey_responses",
        ["customer_id", "sop_id"],
        unique=True,
        sqlite_where=sa.text("case_id IS NULL"),
        postgresql_where=sa.text("case_id IS NULL"),
    )
    with op.batch_alter_table("customers") as batch:
        batch.add_column(_ts("unsubscribed_at", nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_outbox_status"), f"status IN ({_quoted((*OUTBOX_STATUSES, 'cancelled'))})"
        )
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("tier", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("email")
        batch.drop_column("tier")
    op.execute("UPDATE outbox SET status = 'dead' WHERE status = 'cancelled'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_outbox_status"), f"status IN ({_quoted(OUTBOX_STATUSES)})"
        )
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("unsubscribed_at")
    op.drop_index("uq_survey_responses_customer_sop", table_name="survey_responses")
    op.drop_index(op.f("ix_survey_responses_answered_at"), table_name="survey_responses")
    op.drop_index(op.f("ix_survey_responses_customer_id"), table_name="survey_responses")
    op.drop_table("survey_responses")
