"""The model version the service serves, kept in the store, and which version each
server process serves.

``serving_model`` has one row: the version every process should serve and when (and
by whom) it was decided; ``serving_processes`` one row per server process
(``host:pid:start``) with the version it serves and when it was last seen.

Revision ID: 0008_serving_state
Revises: 0007_occupation_corrections
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_serving_state"
down_revision: str | Sequence[str] | None = "0007_occupation_corrections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "serving_model",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=160), nullable=True),
    )
    op.create_table(
        "serving_processes",
        sa.Column("process", sa.String(length=160), primary_key=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("loaded_at", sa.DateTime(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("serving_processes")
    op.drop_table("serving_model")
