"""Follow-ups: the follow_ups table, scheduled for the placements a store already holds.

Existing placements get their follow-ups at the default 7 / 30 / 90 / 180 days after the
hire (none after a placement's end); re-importing the outcomes then answers the past
ones the outcomes answer (``service.followups.settle_from_outcomes``).

Revision ID: 0003_follow_ups
Revises: 0002_worker_lifecycle
Create Date: 2026-12-06 05:30:00

"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003_follow_ups"
down_revision: str | Sequence[str] | None = "0002_worker_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS = (7, 30, 90, 180)


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by", sa.String(length=64), nullable=True),
        sa.Column("still_employed", sa.Boolean(), nullable=True),
        sa.Column("paid_on_time", sa.Boolean(), nullable=True),
        sa.Column("contract_signed", sa.Boolean(), nullable=True),
        sa.Column("social_insurance", sa.Boolean(), nullable=True),
        sa.Column("left_reason", sa.String(length=200), nullable=True),
        sa.Column("arrears_months", sa.Integer(), nullable=True),
        sa.Column("arrears_amount", sa.Float(), nullable=True),
        sa.Column("injury", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["placement_id"], ["placements.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.worker_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("placement_id", "day", name="uq_follow_up"),
    )
    op.create_index(op.f("ix_follow_ups_placement_id"), "follow_ups", ["placement_id"])
    op.create_index(op.f("ix_follow_ups_worker_id"), "follow_ups", ["worker_id"])
    op.create_index(op.f("ix_follow_ups_due_at"), "follow_ups", ["due_at"])
    op.create_index(op.f("ix_follow_ups_status"), "follow_ups", ["status"])

    conn = op.get_bind()
    placements = sa.table(
        "placements",
        sa.column("id"),
        sa.column("worker_id"),
        sa.column("started_at", sa.DateTime()),
        sa.column("ended_at", sa.DateTime()),
    )
    follow_ups = sa.table(
        "follow_ups",
        sa.column("placement_id"),
        sa.column("worker_id"),
        sa.column("day"),
        sa.column("due_at", sa.DateTime()),
        sa.column("status"),
    )
    rows = []
    for pid, worker_id, started, ended in conn.execute(sa.select(placements)):
        for day in DAYS:
            due = started + timedelta(days=day)
            if ended is None or due <= ended:
                rows.append(
                    {
                        "placement_id": pid,
                        "worker_id": worker_id,
                        "day": day,
                        "due_at": due,
                        "status": "open",
                    }
                )
    if rows:
        conn.execute(follow_ups.insert(), rows)


def downgrade() -> None:
    for name in ("status", "due_at", "worker_id", "placement_id"):
        op.drop_index(op.f(f"ix_follow_ups_{name}"), table_name="follow_ups")
    op.drop_table("follow_ups")
