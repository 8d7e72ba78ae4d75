"""Officers' corrections of occupation codes (training data for the occupation coder).

Revision ID: 0007_occupation_corrections
Revises: 0006_proposals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_occupation_corrections"
down_revision: str | Sequence[str] | None = "0006_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "occupation_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("previous_code", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("occupation_corrections") as batch:
        batch.create_index(
            batch.f("ix_occupation_corrections_subject_id"), ["subject_id"], unique=False
        )
        batch.create_index(
            batch.f("ix_occupation_corrections_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("occupation_corrections")
