"""Why a vacancy closed (deadline / employer / filled) and an officer's note on an outcome.

The pages show a vacancy past its deadline as 已截止 with the reason instead of letting
it vanish, and the outcome form takes a note; both are store bookkeeping, not part of
data contract v1.

Revision ID: 0004_close_reason_note
Revises: 0003_follow_ups
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_close_reason_note"
down_revision: str | Sequence[str] | None = "0003_follow_ups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vacancies") as batch:
        batch.add_column(sa.Column("closed_reason", sa.String(length=16), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("vacancies") as batch:
        batch.drop_column("closed_reason")
