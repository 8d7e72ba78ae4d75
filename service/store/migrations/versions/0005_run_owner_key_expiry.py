"""Who runs a nightly run (so a killed one is found and marked failed) and when an API
key expires.

``match_runs.owner`` is ``host:pid:start`` of the process running it and
``heartbeat_at`` the last time it reported progress; ``api_keys.expires_at`` is the
end of a key's validity (null: no end).

Revision ID: 0005_run_owner_key_expiry
Revises: 0004_close_reason_note
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_run_owner_key_expiry"
down_revision: str | Sequence[str] | None = "0004_close_reason_note"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("match_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("match_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
