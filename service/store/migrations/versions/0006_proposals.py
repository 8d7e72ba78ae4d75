"""Employer side: proposals (a worker proposed for a vacancy, the employer's answer) and
notices to employers (e.g. a vacancy closed after 30 days without action).

Revision ID: 0006_proposals
Revises: 0005_run_owner_key_expiry
Create Date: 2026-12-06 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_proposals"
down_revision: str | Sequence[str] | None = "0005_run_owner_key_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("vacancy_id", sa.String(length=64), nullable=False),
        sa.Column("employer_id", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["vacancy_id"], ["vacancies.vacancy_id"]),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.worker_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("worker_id", "vacancy_id", name="uq_proposal"),
    )
    op.create_index(op.f("ix_proposals_employer_id"), "proposals", ["employer_id"])
    op.create_index(op.f("ix_proposals_vacancy_id"), "proposals", ["vacancy_id"])
    op.create_index(op.f("ix_proposals_worker_id"), "proposals", ["worker_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employer_id", sa.String(length=64), nullable=False),
        sa.Column("vacancy_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_notices_employer_id"), "notices", ["employer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notices_employer_id"), table_name="notices")
    op.drop_table("notices")
    for name in ("worker_id", "vacancy_id", "employer_id"):
        op.drop_index(op.f(f"ix_proposals_{name}"), table_name="proposals")
    op.drop_table("proposals")
