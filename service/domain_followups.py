"""What the follow-up and re-placement routes do, in domain terms (see ``service.domain``).

Officers see the follow-ups and re-placement cases of the workers of their region only;
admins see all. Employers never reach these functions. Errors are raised with the
helpers of ``service.domain`` (the one place that turns them into HTTP statuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from service import audit, clock, followups, lifecycle
from service.auth import Principal, Role
from service.domain import forbidden, not_found, region_label, unprocessable
from service.domain_errors import Conflict
from service.followups import FollowUpStatus, day_end_utc, local_date, status_of, to_utc
from service.store.models import Employer, FollowUp, Placement, Vacancy, Worker

MAX_PAGE = 500


def _scope(principal: Principal) -> list[ColumnElement[bool]]:
    if principal.role == Role.OFFICER:
        return [Worker.home_region.startswith(principal.region_prefix or "")]
    return []


@dataclass(frozen=True)
class FollowUpFilter:
    worker_id: str | None = None
    due_before: datetime | None = None  # naive: office time; aware: converted
    status: FollowUpStatus | None = None
    region: str | None = None
    limit: int = 50
    offset: int = 0


def _conditions(
    principal: Principal, flt: FollowUpFilter, now: datetime, zone: str
) -> list[ColumnElement[bool]]:
    cond = _scope(principal)
    if flt.region:
        if principal.role == Role.OFFICER and not (
            flt.region.startswith(principal.region_prefix or "")
            or (principal.region_prefix or "").startswith(flt.region)
        ):
            raise forbidden(f"region {flt.region} is outside your region {principal.region_prefix}")
        cond.append(Worker.home_region.startswith(flt.region))
    if flt.worker_id:
        cond.append(FollowUp.worker_id == flt.worker_id)
    if flt.due_before is not None:
        cond.append(FollowUp.due_at < to_utc(flt.due_before, zone))
    if flt.status == FollowUpStatus.OVERDUE:
        cond += [FollowUp.status == FollowUpStatus.OPEN.value, FollowUp.due_at < now]
    elif flt.status == FollowUpStatus.OPEN:
        cond += [FollowUp.status == FollowUpStatus.OPEN.value, FollowUp.due_at >= now]
    elif flt.status is not None:
        cond.append(FollowUp.status == flt.status.value)
    return cond


_COLUMNS = (
    FollowUp,
    Worker.home_region,
    Worker.household_status,
    Placement.vacancy_id,
    Placement.employer_id,
    Placement.started_at,
    Placement.ended_at,
    Placement.end_reason,
    Vacancy.title,
    Vacancy.region.label("vacancy_region"),
    Employer.name.label("employer_name"),
)


def _joined(stmt: Any) -> Any:
    return (
        stmt.join(Worker, Worker.worker_id == FollowUp.worker_id)
        .join(Placement, Placement.id == FollowUp.placement_id)
        .join(Vacancy, Vacancy.vacancy_id == Placement.vacancy_id)
        .outerjoin(Employer, Employer.employer_id == Placement.employer_id)
    )


def list_follow_ups(
    session: Session,
    principal: Principal,
    flt: FollowUpFilter,
    *,
    zone: str,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Follow-ups in scope, soonest due first (overdue ones first of all)."""
    now = now or clock.now_utc()
    if flt.worker_id:
        _scoped_worker_region(session, principal, flt.worker_id)
    cond = _conditions(principal, flt, now, zone)
    count = session.scalar(_joined(select(func.count()).select_from(FollowUp)).where(*cond)) or 0
    rows = session.execute(
        _joined(select(*_COLUMNS))
        .where(*cond)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(max(1, min(flt.limit, MAX_PAGE)))
        .offset(max(flt.offset, 0))
    ).all()
    return [follow_up_view(r, now, zone) for r in rows], int(count)


def follow_up_view(row: Any, now: datetime, zone: str) -> dict[str, Any]:
    f: FollowUp = row[0]
    return {
        "id": f.id,
        "worker_id": f.worker_id,
        "home_region": row.home_region,
        "home_region_name": region_label(row.home_region),
        "household_status": row.household_status,
        "day": f.day,
        "due_at": f.due_at,
        "due_date": local_date(f.due_at, zone),
        "status": status_of(f, now).value,
        "placement": {
            "placement_id": f.placement_id,
            "vacancy_id": row.vacancy_id,
            "vacancy_title": row.title,
            "vacancy_region": row.vacancy_region,
            "vacancy_region_name": region_label(row.vacancy_region),
            "employer_id": row.employer_id,
            "employer_name": row.employer_name,
            "started_at": row.started_at,
            "ended_at": row.ended_at,
            "end_reason": row.end_reason,
        },
        "completed_at": f.completed_at,
        "completed_by": "outcomes" if f.completed_by == followups.BY_OUTCOMES else f.completed_by,
        "findings": None
        if f.status != FollowUpStatus.DONE
        else {
            "still_employed": f.still_employed,
            "paid_on_time": f.paid_on_time,
            "contract_signed": f.contract_signed,
            "social_insurance": f.social_insurance,
            "left_reason": f.left_reason,
            "arrears_months": f.arrears_months,
            "arrears_amount": f.arrears_amount,
            "injury": f.injury,
            "note": f.note,
        },
    }


def _scoped_worker_region(session: Session, principal: Principal, worker_id: str) -> str:
    region = session.scalar(select(Worker.home_region).where(Worker.worker_id == worker_id))
    if region is None:
        raise not_found("worker", worker_id)
    if not principal.sees_region(region):
        raise forbidden(
            f"worker {worker_id} lives outside your region {principal.region_prefix}; "
            "ask the officer of that region or an admin"
        )
    return region


def get_follow_up(
    session: Session, principal: Principal, follow_up_id: int, *, zone: str
) -> dict[str, Any]:
    row = session.execute(_joined(select(*_COLUMNS)).where(FollowUp.id == follow_up_id)).first()
    if row is None:
        raise not_found("follow-up", str(follow_up_id))
    _scoped_worker_region(session, principal, row[0].worker_id)
    return follow_up_view(row, clock.now_utc(), zone)


def complete_follow_up(
    session: Session,
    principal: Principal,
    follow_up_id: int,
    findings: followups.Findings,
    *,
    visited_at: datetime | None,
    zone: str,
    days: Sequence[int],
    path: str,
) -> dict[str, Any]:
    """Record a visit's findings; outcomes they imply are recorded too (see followups)."""
    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise not_found("follow-up", str(follow_up_id))
    _scoped_worker_region(session, principal, follow_up.worker_id)
    if follow_up.status != FollowUpStatus.OPEN:
        raise Conflict(
            f"follow-up {follow_up_id} is {follow_up.status} already; "
            "record a new outcome for the worker instead"
        )
    now = clock.now_utc()
    at = to_utc(visited_at, zone) if visited_at is not None else now
    problems = []
    if not findings.still_employed and not (findings.left_reason or "").strip():
        problems.append(("left_reason", "say why the worker left (still_employed is false)"))
    if (at - now).total_seconds() > 300:
        problems.append(("visited_at", "a visit cannot be in the future"))
    placement = session.get(Placement, follow_up.placement_id)
    assert placement is not None
    if at < placement.started_at:
        problems.append(("visited_at", "the visit is before the hire it follows up"))
    if problems:
        raise unprocessable(
            [{"loc": ["body", f], "msg": m, "type": "value_error"} for f, m in problems]
        )
    followups.complete(
        session, follow_up, findings, visited_at=at, by=f"key:{principal.key_id}", days=days
    )
    audit.record(session, principal, "complete_follow_up", [follow_up.worker_id], "follow-up", path)
    return get_follow_up(session, principal, follow_up_id, zone=zone)


def follow_up_counts(
    session: Session, principal: Principal, *, zone: str, now: datetime | None = None
) -> dict[str, int]:
    """Counts for the officer's day: due today (office time), overdue, open, done."""
    now = now or clock.now_utc()
    end_of_today = day_end_utc(local_date(now, zone), zone)
    open_ = FollowUp.status == FollowUpStatus.OPEN.value
    stmt = (
        select(
            func.sum(case((open_ & (FollowUp.due_at < now), 1), else_=0)),
            func.sum(
                case(
                    (open_ & (FollowUp.due_at >= now) & (FollowUp.due_at < end_of_today), 1),
                    else_=0,
                )
            ),
            func.sum(case((open_, 1), else_=0)),
            func.sum(case((FollowUp.status == FollowUpStatus.DONE.value, 1), else_=0)),
        )
        .select_from(FollowUp)
        .join(Worker, Worker.worker_id == FollowUp.worker_id)
        .where(*_scope(principal))
    )
    overdue, today, open_n, done = session.execute(stmt).one()
    return {
        "overdue": int(overdue or 0),
        "due_today": int(today or 0),
        "open": int(open_n or 0),
        "done": int(done or 0),
    }


# --------------------------------------------------------------------------- re-placement

#: Household priority for re-placement: monitored households (防返贫监测户) first, then
#: households lifted out of poverty (脱贫户), then the others.
HOUSEHOLD_PRIORITY = {"monitored": 0, "lifted": 1}


def replacement_list(
    session: Session, principal: Principal, *, limit: int = 50, offset: int = 0, path: str
) -> tuple[list[dict[str, Any]], int]:
    """Workers to re-place in scope, by household priority, then longest waiting first."""
    cond = [*_scope(principal), Worker.status == lifecycle.WorkerStatus.NEEDS_REPLACEMENT.value]
    count = session.scalar(select(func.count()).select_from(Worker).where(*cond)) or 0
    priority = case(
        *((Worker.household_status == k, v) for k, v in HOUSEHOLD_PRIORITY.items()),
        else_=len(HOUSEHOLD_PRIORITY),
    )
    workers = session.scalars(
        select(Worker)
        .where(*cond)
        .order_by(priority, Worker.status_since, Worker.worker_id)
        .limit(max(1, min(limit, MAX_PAGE)))
        .offset(max(offset, 0))
    ).all()
    out = []
    for w in workers:
        last = lifecycle.last_placement(session, w.worker_id)
        employer = session.get(Employer, last.employer_id) if last else None
        out.append(
            {
                "worker_id": w.worker_id,
                "name": w.name,
                "home_region": w.home_region,
                "home_region_name": region_label(w.home_region),
                "household_status": w.household_status,
                "priority": HOUSEHOLD_PRIORITY.get(w.household_status or "", 2),
                "reason": w.status_reason,
                "since": w.status_since,
                "previous_employer_id": last.employer_id if last else None,
                "previous_employer_name": employer.name if employer else None,
                "previous_vacancy_id": last.vacancy_id if last else None,
            }
        )
    audit.record(
        session, principal, "replacement_list", [w.worker_id for w in workers], "re-placement", path
    )
    return out, int(count)
