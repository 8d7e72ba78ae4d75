"""The placement officer's day, read from the store for the officer's region: who needs
re-placing, which monitored households have nobody placed yet, where each worker works
now, and placements and retention by month (the home page's chart).

No personal field is selected except where the officer's own page lists a worker, and
those reads are audited by the caller (:func:`service.domain.list_workers` style).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from service import audit
from service.auth import Principal, Role
from service.store.models import Event, Vacancy, Worker

#: events after which a worker has to be placed again
SETBACKS = ("left", "wage_arrears", "injury")
#: events that mean the worker holds the job
IN_WORK = ("hired", "retained_3m", "retained_6m")


def _scope(principal: Principal) -> list[Any]:
    if principal.role == Role.OFFICER:
        return [Worker.home_region.startswith(principal.region_prefix or "")]
    return []


@dataclass(frozen=True)
class Placement:
    """Where a worker works now (from the latest hire without a later setback)."""

    vacancy_id: str
    title: str | None
    employer_id: str | None
    region: str | None
    since: datetime
    retained: str | None  # latest retention milestone reached, if any


def latest_events(session: Session, worker_ids: list[str]) -> dict[str, tuple[str, datetime]]:
    """Each worker's latest hire-or-later event: ``worker_id -> (event, when)``."""
    if not worker_ids:
        return {}
    kinds = IN_WORK + SETBACKS
    rows = session.execute(
        select(Event.worker_id, Event.event, Event.occurred_at)
        .where(Event.worker_id.in_(worker_ids), Event.event.in_(kinds))
        .order_by(Event.worker_id, Event.occurred_at, Event.id)
    ).all()
    out: dict[str, tuple[str, datetime]] = {}
    for wid, event, at in rows:
        out[wid] = (event, at)
    return out


def lifecycle(event: str | None) -> str:
    """The worker's state from their latest hire-or-later event: ``in_work`` (在岗),
    ``to_replace`` (待重新安置) or ``seeking`` (求职中)."""
    if event in IN_WORK:
        return "in_work"
    if event in SETBACKS:
        return "to_replace"
    return "seeking"


def placement_of(session: Session, worker_id: str) -> Placement | None:
    """The job the worker holds now, or None (never hired, or left since)."""
    rows = session.execute(
        select(Event.vacancy_id, Event.event, Event.occurred_at)
        .where(Event.worker_id == worker_id, Event.event.in_(IN_WORK + SETBACKS))
        .order_by(Event.occurred_at, Event.id)
    ).all()
    current: tuple[str, datetime] | None = None
    retained: str | None = None
    for vacancy_id, event, at in rows:
        if event == "hired":
            current, retained = (vacancy_id, at), None
        elif event in SETBACKS:  # left, unpaid or injured: to be placed again
            current, retained = None, None
        elif event in ("retained_3m", "retained_6m") and current and current[0] == vacancy_id:
            retained = event
    if current is None:
        return None
    v = session.get(Vacancy, current[0])
    return Placement(
        vacancy_id=current[0],
        title=v.title if v else None,
        employer_id=v.employer_id if v else None,
        region=v.region if v else None,
        since=current[1],
        retained=retained,
    )


def to_replace(
    session: Session, principal: Principal, *, limit: int = 20, path: str = "/officer"
) -> tuple[list[dict[str, Any]], int]:
    """Workers whose latest hire-or-later event is a setback (left, unpaid, injured)."""
    last = (
        select(Event.worker_id, func.max(Event.occurred_at).label("at"))
        .where(Event.event.in_(IN_WORK + SETBACKS))
        .group_by(Event.worker_id)
        .subquery()
    )
    stmt = (
        select(Worker.worker_id, Worker.name, Worker.home_region, Event.event, Event.occurred_at)
        .join(last, last.c.worker_id == Worker.worker_id)
        .join(
            Event,
            and_(
                Event.worker_id == Worker.worker_id,
                Event.occurred_at == last.c.at,
                Event.event.in_(SETBACKS),
            ),
        )
        .where(*_scope(principal))
        .order_by(Event.occurred_at.desc())
    )
    rows = session.execute(stmt).all()
    seen: dict[str, dict[str, Any]] = {}
    for wid, name, region, event, at in rows:
        seen.setdefault(
            wid, {"worker_id": wid, "name": name, "home_region": region, "event": event, "at": at}
        )
    items = list(seen.values())
    shown = items[:limit]
    audit.record(
        session,
        principal,
        "list_workers",
        [w["worker_id"] for w in shown],
        "re-placement list",
        path,
    )
    return shown, len(items)


def unplaced_monitored(
    session: Session, principal: Principal, *, limit: int = 20, path: str = "/officer"
) -> tuple[list[dict[str, Any]], int]:
    """Workers of monitored households (监测户) nobody has placed yet (no hire recorded)."""
    hired = select(Event.worker_id).where(Event.event == "hired")
    conditions = [
        *_scope(principal),
        Worker.household_status == "monitored",
        Worker.worker_id.not_in(hired),
    ]
    count = session.scalar(select(func.count()).select_from(Worker).where(*conditions)) or 0
    rows = session.execute(
        select(Worker.worker_id, Worker.name, Worker.home_region, Worker.skills)
        .where(*conditions)
        .order_by(Worker.registered_at, Worker.worker_id)
        .limit(limit)
    ).all()
    items = [{"worker_id": r[0], "name": r[1], "home_region": r[2], "skills": r[3]} for r in rows]
    audit.record(
        session,
        principal,
        "list_workers",
        [str(r[0]) for r in rows],
        "monitored households not placed",
        path,
    )
    return items, int(count)


def monthly(session: Session, principal: Principal, months: int = 6) -> list[dict[str, Any]]:
    """Hires and 3-month retentions per month for the region, the last ``months`` months
    that have any (newest last): ``{month, hired, retained}``."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=31 * months + 200)
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
        key = at.strftime("%Y-%m")
        row = counts.setdefault(key, {"hired": 0, "retained": 0})
        row["hired" if event == "hired" else "retained"] += 1
    keys = sorted(counts)[-months:]
    return [{"month": k, **counts[k]} for k in keys]


def status_counts(session: Session, principal: Principal) -> dict[str, int]:
    """How many workers of the region are seeking work, in work, or to be re-placed
    (the same rule as the worker page and the search)."""
    ids = session.scalars(select(Worker.worker_id).where(*_scope(principal))).all()
    latest = latest_events(session, list(ids))
    out = {"seeking": 0, "in_work": 0, "to_replace": 0}
    for wid in ids:
        event = latest.get(wid, (None, None))[0]
        out[lifecycle(event)] += 1
    return out
