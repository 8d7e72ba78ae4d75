"""The audit log of reads of workers' personal data: who, when, what and why.

Every service function that returns a worker's personal fields calls :func:`record`
in the same transaction, one row per worker read (so "who saw worker W?" is one
query). The purpose is what the caller stated (``X-Purpose`` header or ``purpose``
query parameter), else the route's default. Rows never hold the personal data itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.auth import Principal
from service.store.models import AuditEntry


def record(
    session: Session,
    principal: Principal,
    action: str,
    worker_ids: Sequence[str],
    purpose: str | None,
    path: str | None,
) -> int:
    """Write one audit row per worker read; returns how many were written."""
    rows = [
        AuditEntry(
            api_key_id=principal.key_id,
            role=principal.role.value,
            action=action[:64],
            worker_id=worker_id,
            purpose=(purpose or "")[:300] or None,
            path=(path or "")[:300] or None,
        )
        for worker_id in worker_ids
    ]
    session.add_all(rows)
    return len(rows)


def entries(
    session: Session,
    *,
    worker_id: str | None = None,
    api_key_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """Audit rows, newest first, optionally for one worker or one key."""
    conditions = []
    if worker_id:
        conditions.append(AuditEntry.worker_id == worker_id)
    if api_key_id is not None:
        conditions.append(AuditEntry.api_key_id == api_key_id)
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(max(1, min(limit, 1000)))
        .offset(max(offset, 0))
    ).all()
    return list(rows), int(count)
