"""Follow-ups: the visits due after a hire (7, 30, 90, 180 days by default) and their findings.

* :func:`schedule` gives every placement its follow-ups (``due_at`` = the hire's time plus
  N days, UTC) and cancels the open ones due after a placement ended (the worker is then
  on the re-placement list instead).
* :func:`settle_from_outcomes` answers past-due follow-ups the recorded outcomes already
  answer (an imported history: the worker had left by then, or was recorded as retained
  at or after that day); the others stay open for an officer.
* :func:`complete` records what an officer found. Findings that change the worker's
  situation become recorded outcomes (``left``, ``wage_arrears``, ``injury`` at the
  visit's time), so the lifecycle (``service.lifecycle``), the model's training data
  and the employer's risk figures all see them.

Statuses: ``open``, ``done``, ``cancelled``; an open follow-up past its ``due_at`` is
reported as ``overdue``. Times are stored naive UTC; "today" is a day in the office
time zone (``Settings.office_timezone``). Nothing here imports FastAPI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from matcher.data.schema import EventType
from matcher.models.features import RETAINED_EVENTS
from service import clock, lifecycle
from service.store.models import Event, FollowUp, Placement
from service.store.repository import chunks

DEFAULT_DAYS: tuple[int, ...] = (7, 30, 90, 180)


class FollowUpStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"  # reported only: an open follow-up past its due time
    DONE = "done"
    CANCELLED = "cancelled"


#: ``completed_by`` of follow-ups answered by the recorded outcomes.
BY_OUTCOMES = "outcomes"


def to_utc(value: datetime, zone: str) -> datetime:
    """Naive UTC of ``value``; a naive ``value`` is a wall-clock time in ``zone``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC).replace(tzinfo=None)


def day_end_utc(day: date, zone: str) -> datetime:
    """The first instant after ``day`` in ``zone``, as naive UTC (an exclusive bound)."""
    return to_utc(datetime.combine(day + timedelta(days=1), time()), zone)


def local_date(at: datetime, zone: str) -> date:
    """The calendar day of naive-UTC ``at`` in ``zone``."""
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()


def status_of(row: FollowUp, now: datetime) -> FollowUpStatus:
    if row.status == FollowUpStatus.OPEN and row.due_at < now:
        return FollowUpStatus.OVERDUE
    return FollowUpStatus(row.status)


def schedule(
    session: Session, worker_ids: Sequence[str], days: Sequence[int] = DEFAULT_DAYS
) -> int:
    """Create the missing follow-ups of the workers' placements; cancel the open ones due
    after their placement ended. Returns how many were created."""
    new_rows: list[dict] = []  # inserted in bulk at the end
    cancelled: list[dict] = []
    for chunk in chunks(list(dict.fromkeys(worker_ids)), 500):
        placements = session.execute(
            select(
                Placement.id, Placement.worker_id, Placement.started_at, Placement.ended_at
            ).where(Placement.worker_id.in_(chunk))
        ).all()
        if not placements:
            continue
        existing: dict[int, dict[int, Any]] = defaultdict(dict)
        ids = [p.id for p in placements]
        for f in session.execute(
            select(
                FollowUp.id, FollowUp.placement_id, FollowUp.day, FollowUp.status, FollowUp.due_at
            ).where(FollowUp.placement_id.in_(ids))
        ):
            existing[f.placement_id][f.day] = f
        for p in placements:
            have = existing.get(p.id, {})
            for day in days:
                due = p.started_at + timedelta(days=int(day))
                if day in have:
                    continue
                if p.ended_at is not None and due > p.ended_at:
                    continue  # ended before it was due: nothing to visit
                new_rows.append(
                    {
                        "placement_id": p.id,
                        "worker_id": p.worker_id,
                        "day": int(day),
                        "due_at": due,
                        "status": FollowUpStatus.OPEN.value,
                    }
                )
            if p.ended_at is not None:
                cancelled += [
                    {"id": f.id, "status": FollowUpStatus.CANCELLED.value}
                    for f in have.values()
                    if f.status == FollowUpStatus.OPEN and f.due_at > p.ended_at
                ]
    session.flush()
    _write(session, new_rows, cancelled)
    return len(new_rows)


def settle_from_outcomes(
    session: Session, worker_ids: Sequence[str], now: datetime | None = None
) -> int:
    """Complete past-due open follow-ups that the recorded outcomes answer; returns how many.

    A follow-up due at ``t`` of a placement that ended at or before ``t`` found the worker
    gone (with the end's reason, and arrears / injury when that was the reason). One
    whose placement ended after ``t``, or has a retained outcome at or after ``t``
    (retained_3m, retained_6m), found the worker still employed. Nothing else is guessed.
    """
    now = now or clock.now_utc()
    answers: list[dict] = []
    for chunk in chunks(list(dict.fromkeys(worker_ids)), 500):
        rows = session.execute(
            select(
                FollowUp.id,
                FollowUp.due_at,
                Placement.worker_id,
                Placement.vacancy_id,
                Placement.ended_at,
                Placement.end_reason,
            )
            .join(Placement, Placement.id == FollowUp.placement_id)
            .where(
                FollowUp.worker_id.in_(chunk),
                FollowUp.status == FollowUpStatus.OPEN.value,
                FollowUp.due_at < now,
            )
        ).all()
        if not rows:
            continue
        retained = _retained_until(session, chunk)
        for f in rows:
            found: dict[str, Any] = {"still_employed": None, "left_reason": None}
            found.update(paid_on_time=None, injury=None)
            if f.ended_at is not None and f.ended_at <= f.due_at:
                found.update(
                    still_employed=False,
                    left_reason=f.end_reason,
                    injury=f.end_reason == lifecycle.EndReason.INJURY,
                )
                if f.end_reason == lifecycle.EndReason.WAGE_ARREARS:
                    found["paid_on_time"] = False
            elif (f.ended_at is not None and f.ended_at > f.due_at) or retained.get(
                (f.worker_id, f.vacancy_id), datetime.min
            ) >= f.due_at:
                found["still_employed"] = True
            else:
                continue
            answers.append(
                {
                    "id": f.id,
                    **found,
                    "status": FollowUpStatus.DONE.value,
                    "completed_at": f.due_at,
                    "completed_by": BY_OUTCOMES,
                }
            )
    if answers:
        session.flush()
        _write(session, [], answers)
    return len(answers)


def _write(session: Session, new_rows: list[dict], changes: list[dict]) -> None:
    """Insert follow-ups and update some by id with Core executemany (the ORM's bulk
    path costs about 3x more); objects the caller holds reload on next access."""
    conn = session.connection()
    t = cast(Table, FollowUp.__table__)
    if new_rows:
        conn.execute(insert(t), new_rows)
    by_keys: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    for row in changes:
        by_keys[tuple(sorted(k for k in row if k != "id"))].append(row)
    for keys, rows in by_keys.items():
        stmt = (
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in keys})
        )
        conn.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])
    if changes:
        session.expire_all()


def _retained_until(session: Session, worker_ids: list[str]) -> dict[tuple[str, str], datetime]:
    """Per (worker, vacancy): the day the latest retained outcome (``RETAINED_EVENTS``)
    says they were still there."""
    out: dict[tuple[str, str], datetime] = {}
    stmt = select(Event.worker_id, Event.vacancy_id, Event.occurred_at).where(
        Event.worker_id.in_(worker_ids),
        Event.event.in_([e.value for e in RETAINED_EVENTS]),
    )
    for worker_id, vacancy_id, at in session.execute(stmt):
        key = (worker_id, vacancy_id)
        out[key] = max(out.get(key, datetime.min), at)
    return out


@dataclass(frozen=True)
class Findings:
    """What a follow-up visit found (``complete``)."""

    still_employed: bool
    paid_on_time: bool | None = None
    contract_signed: bool | None = None
    social_insurance: bool | None = None
    left_reason: str | None = None
    arrears_months: int | None = None
    arrears_amount: float | None = None
    injury: bool = False
    note: str | None = None

    @property
    def arrears(self) -> bool:
        return self.paid_on_time is False or bool(self.arrears_months) or bool(self.arrears_amount)

    def outcomes(self) -> list[EventType]:
        """The outcomes to record for these findings."""
        out = []
        if self.injury:
            out.append(EventType.INJURY)
        if self.arrears:
            out.append(EventType.WAGE_ARREARS)
        if not self.still_employed:
            out.append(EventType.LEFT)
        return out


def complete(
    session: Session,
    follow_up: FollowUp,
    findings: Findings,
    *,
    visited_at: datetime,
    by: str,
    days: Sequence[int] = DEFAULT_DAYS,
) -> list[Event]:
    """Record ``findings`` on an open follow-up and the outcomes they imply; returns those
    outcomes (already added to the session). The caller checks scope and state."""
    for name in (
        "still_employed",
        "paid_on_time",
        "contract_signed",
        "social_insurance",
        "left_reason",
        "arrears_months",
        "arrears_amount",
        "injury",
        "note",
    ):
        setattr(follow_up, name, getattr(findings, name))
    follow_up.status = FollowUpStatus.DONE.value
    follow_up.completed_at = visited_at
    follow_up.completed_by = by
    placement = session.get(Placement, follow_up.placement_id)
    assert placement is not None
    events = []
    for kind in findings.outcomes():
        exists = session.scalar(
            select(Event.id).where(
                Event.worker_id == placement.worker_id,
                Event.vacancy_id == placement.vacancy_id,
                Event.event == kind.value,
                Event.occurred_at == visited_at,
            )
        )
        if exists is None:
            event = Event(
                worker_id=placement.worker_id,
                vacancy_id=placement.vacancy_id,
                event=kind.value,
                occurred_at=visited_at,
                source=by,
            )
            session.add(event)
            events.append(event)
    session.flush()
    if events:
        lifecycle.rebuild(session, [placement.worker_id])
        schedule(session, [placement.worker_id], days)
    return events
