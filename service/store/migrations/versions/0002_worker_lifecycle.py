"""Worker lifecycle: workers.status_reason / status_since, the placements table.

Existing stores are brought in line with their recorded outcomes: every worker with a
hired / left / wage_arrears / injury event is replayed by ``service.lifecycle.replay``
(the same rule the service applies), which fills ``placements`` and sets ``status``
to employed or to_replace (``inactive`` workers keep their status).

Revision ID: 0002_worker_lifecycle
Revises: 0001
Create Date: 2026-12-06 04:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_worker_lifecycle"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of workers: SQLite would have to drop a table that
    # events reference)
    op.add_column("workers", sa.Column("status_reason", sa.String(length=32), nullable=True))
    op.add_column("workers", sa.Column("status_since", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_workers_status"), "workers", ["status"], unique=False)

    op.create_table(
        "placements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("vacancy_id", sa.String(length=64), nullable=False),
        sa.Column("employer_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["vacancy_id"], ["vacancies.vacancy_id"]),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.worker_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("worker_id", "vacancy_id", "started_at", name="uq_placement"),
    )
    op.create_index(op.f("ix_placements_employer_id"), "placements", ["employer_id"])
    op.create_index(op.f("ix_placements_worker_id"), "placements", ["worker_id"])

    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Replay each worker's lifecycle outcomes (tables as of this revision, not the models)."""
    from service.lifecycle import LIFECYCLE_EVENTS, WorkerStatus, Outcome, replay

    events = sa.table(
        "events",
        sa.column("worker_id"),
        sa.column("vacancy_id"),
        sa.column("event"),
        sa.column("occurred_at", sa.DateTime()),
    )
    vacancies = sa.table("vacancies", sa.column("vacancy_id"), sa.column("employer_id"))
    workers = sa.table(
        "workers",
        sa.column("worker_id"),
        sa.column("status"),
        sa.column("status_reason"),
        sa.column("status_since", sa.DateTime()),
    )
    placements = sa.table(
        "placements",
        sa.column("worker_id"),
        sa.column("vacancy_id"),
        sa.column("employer_id"),
        sa.column("started_at", sa.DateTime()),
        sa.column("ended_at", sa.DateTime()),
        sa.column("end_reason"),
    )
    by_worker: dict[str, list] = {}
    rows = conn.execute(
        sa.select(events.c.worker_id, events.c.vacancy_id, events.c.event, events.c.occurred_at)
        .where(events.c.event.in_(LIFECYCLE_EVENTS))
    )
    for worker_id, vacancy_id, event, at in rows:
        by_worker.setdefault(worker_id, []).append(Outcome(vacancy_id, event, at))
    if not by_worker:
        return
    employer_of = {
        v: e for v, e in conn.execute(sa.select(vacancies.c.vacancy_id, vacancies.c.employer_id))
    }
    inactive = set(
        conn.scalars(
            sa.select(workers.c.worker_id).where(workers.c.status == WorkerStatus.INACTIVE.value)
        )
    )
    new_rows, states = [], []
    for worker_id, outcomes in by_worker.items():
        life = replay(outcomes)
        for spell in life.spells:
            new_rows.append(
                {
                    "worker_id": worker_id,
                    "vacancy_id": spell.vacancy_id,
                    "employer_id": employer_of.get(spell.vacancy_id, ""),
                    "started_at": spell.started_at,
                    "ended_at": spell.ended_at,
                    "end_reason": spell.end_reason,
                }
            )
        if worker_id not in inactive:
            states.append(
                {
                    "wid": worker_id,
                    "status": life.status.value,
                    "status_reason": life.reason,
                    "status_since": life.since,
                }
            )
    if new_rows:
        conn.execute(placements.insert(), new_rows)
    if states:
        conn.execute(
            workers.update()
            .where(workers.c.worker_id == sa.bindparam("wid"))
            .values(
                status=sa.bindparam("status"),
                status_reason=sa.bindparam("status_reason"),
                status_since=sa.bindparam("status_since"),
            ),
            states,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_placements_worker_id"), table_name="placements")
    op.drop_index(op.f("ix_placements_employer_id"), table_name="placements")
    op.drop_table("placements")
    op.execute(
        sa.text("UPDATE workers SET status = 'active' WHERE status IN ('employed', 'to_replace')")
    )
    op.drop_index(op.f("ix_workers_status"), table_name="workers")
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("status_since")
        batch_op.drop_column("status_reason")
