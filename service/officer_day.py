"""The placement officer's day, read from the store for the officer's region: which
monitored households have nobody in work yet, hires and retention by month (the home
page's chart), and the names of the workers a list shows. (Follow-ups and the
re-placement list are :mod:`service.domain_followups`'.)

The worker's ``status`` (job-seeking, employed, to re-place) is kept by
:mod:`service.lifecycle` from the recorded outcomes; these lists read it, so the home
page, the search and the nightly plan count the same people. Lists that show names are
audited like any other read of personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit, lifecycle
from service.auth import Principal, Role
from service.store.models import Event, Worker


def _scope(principal: Principal) -> list[Any]:
    if principal.role == Role.OFFICER:
        return [Worker.home_region.startswith(principal.region_prefix or "")]
    return []


def _listed(
    session: Session,
    principal: Principal,
    conditions: list[Any],
    order: list[Any],
    limit: int,
    purpose: str,
    path: str,
) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` workers meeting ``conditions`` (audited) and how many there are."""
    conditions = [*_scope(principal), *conditions]
    count = session.scalar(select(func.count()).select_from(Worker).where(*conditions)) or 0
    rows = session.execute(
        select(
            Worker.worker_id,
            Worker.name,
            Worker.home_region,
            Worker.skills,
            Worker.status_reason,
            Worker.status_since,
        )
        .where(*conditions)
        .order_by(*order, Worker.worker_id)
        .limit(limit)
    ).all()
    items = [
        {
            "worker_id": r[0],
            "name": r[1],
            "home_region": r[2],
            "skills": r[3],
            "reason": r[4],
            "since": r[5],
        }
        for r in rows
    ]
    audit.record(session, principal, "list_workers", [str(r[0]) for r in rows], purpose, path)
    return items, int(count)


def unplaced_monitored(
    session: Session, principal: Principal, *, limit: int = 10, path: str = "/officer"
) -> tuple[list[dict[str, Any]], int]:
    """Job-seekers of monitored households (监测户): nobody of them is in work yet."""
    return _listed(
        session,
        principal,
        [Worker.household_status == "monitored", lifecycle.seeking_condition()],
        [Worker.registered_at],
        limit,
        "monitored households not placed",
        path,
    )


def monthly(session: Session, principal: Principal, months: int = 6) -> list[dict[str, Any]]:
    """Hires and 3-month retentions per month for the region over the last ``months``
    months that have any (oldest first): ``{month, hired, retained}``."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=31 * (months + 6))
    stmt = (
        select(Event.event, Event.occurred_at)
        .join(Worker, Worker.worker_id == Event.worker_id)
        .where(
            Event.event.in_(("hired", "retained_3m")),
            Event.occurred_at >= since,
            *_scope(principal),
        )
    )
    counts: dict[str, dict[str, int]] = {}
    for event, at in session.execute(stmt):
        row = counts.setdefault(at.strftime("%Y-%m"), {"hired": 0, "retained": 0})
        row["hired" if event == "hired" else "retained"] += 1
    return [{"month": k, **counts[k]} for k in sorted(counts)[-months:]]


def names(
    session: Session, principal: Principal, worker_ids: list[str], purpose: str, path: str
) -> dict[str, str]:
    """``worker_id -> name`` of the workers in the principal's scope (an audited read)."""
    if not worker_ids:
        return {}
    rows = session.execute(
        select(Worker.worker_id, Worker.name).where(
            Worker.worker_id.in_(worker_ids), *_scope(principal)
        )
    ).all()
    audit.record(session, principal, "list_workers", [str(r[0]) for r in rows], purpose, path)
    return {str(r[0]): r[1] or str(r[0]) for r in rows}
