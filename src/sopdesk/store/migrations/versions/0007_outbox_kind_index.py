"""An outbox index that leads with the kind of delivery.

Workers claim e-mails and webhook deliveries separately, by kind, status and due
instant. With only `ix_outbox_status_next_attempt_at`, claiming webhooks walked every
queued e-mail (a mail backlog, or a worker without SMTP settings, holds thousands) in
every round; this index lets each claim read its own kind only. The status index stays
for the lease reclaim and the queue status, which do not filter by kind.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_kind_status_next_attempt_at", "outbox", ["kind", "status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_kind_status_next_attempt_at", table_name="outbox")
