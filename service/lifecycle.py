"""A worker's employment lifecycle: job-seeking, employed (在岗), to be re-placed (待重新安置).

The recorded outcomes (``events``) are the truth; the worker's ``status`` column and the
``placements`` table are kept in line with them by replaying a worker's outcomes in time
order (:func:`replay`), whenever an outcome is recorded and after every import:

* ``hired`` opens a placement (worker, vacancy, employer, start = the hire's time) and the
  worker is **employed** (out of the job-seeking pool). A hire elsewhere while employed
  ends the earlier placement (``moved``).
* ``left``, ``wage_arrears`` or ``injury`` on the vacancy of the open placement (or any
  vacancy when there is none) ends it and the worker **needs re-placement**, with that
  outcome as the reason. Such a worker is looking for work again.
* other outcomes (applied, retained, ...) change nothing.

An officer may set a worker ``inactive`` (no longer looking: moved away, studying, ...);
replays keep that status. Job-seekers are the workers whose status is in
:data:`SEEKING_STATUSES`; the nightly plan, the dashboard and the search count exactly
those (``seeking_condition``).

Times are naive UTC, as everywhere in the store. Nothing here imports FastAPI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from matcher.data.schema import EventType
from service.store.models import Event, Placement, Vacancy, Worker
from service.store.repository import chunks


class WorkerStatus(StrEnum):
    """The bookkeeping ``workers.status``."""

    ACTIVE = "active"  # looking for work (求职中)
    EMPLOYED = "employed"  # in a job recorded as hired (在岗)
    NEEDS_REPLACEMENT = "to_replace"  # left / unpaid / injured: re-place (待重新安置)
    INACTIVE = "inactive"  # set by an officer: not looking (不再求职)


#: Statuses of the workers who look for a job (the nightly plan's pool).
SEEKING_STATUSES: tuple[str, ...] = (WorkerStatus.ACTIVE, WorkerStatus.NEEDS_REPLACEMENT)
#: Statuses an officer may set by hand; the others follow from recorded outcomes.
SETTABLE_STATUSES: tuple[str, ...] = (WorkerStatus.ACTIVE, WorkerStatus.INACTIVE)


class EndReason(StrEnum):
    """Why a placement ended (and, but for ``moved``, why the worker needs re-placement)."""

    LEFT = "left"
    WAGE_ARREARS = "wage_arrears"
    INJURY = "injury"
    MOVED = "moved"  # hired elsewhere


#: Outcomes that end a placement, with the reason they give.
ENDING_EVENTS: dict[str, EndReason] = {
    EventType.LEFT.value: EndReason.LEFT,
    EventType.WAGE_ARREARS.value: EndReason.WAGE_ARREARS,
    EventType.INJURY.value: EndReason.INJURY,
}
#: Outcomes a replay reads.
LIFECYCLE_EVENTS: tuple[str, ...] = (EventType.HIRED.value, *ENDING_EVENTS)


def seeking_condition() -> ColumnElement[bool]:
    """SQL condition: the worker is looking for a job."""
    return Worker.status.in_(SEEKING_STATUSES)


@dataclass(frozen=True)
class Outcome:
    """One recorded outcome, as a replay reads it."""

    vacancy_id: str
    event: str
    occurred_at: datetime


@dataclass
class Spell:
    """A placement a replay derives: where, from when, until when and why it ended."""

    vacancy_id: str
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


@dataclass
class Life:
    """The replayed lifecycle of one worker: placements in time order and the state now."""

    spells: list[Spell] = field(default_factory=list)
    status: WorkerStatus = WorkerStatus.ACTIVE
    reason: str | None = None
    since: datetime | None = None

    @property
    def current(self) -> Spell | None:
        return self.spells[-1] if self.spells and self.spells[-1].ended_at is None else None


def replay(outcomes: Iterable[Outcome]) -> Life:
    """The lifecycle that ``outcomes`` (one worker's, any order) imply; see the module doc.

    Outcomes at the same time are taken hires first, so "hired and left the same day"
    ends with the worker to be re-placed; of endings at the same time the most telling
    names the reason (injury, then wage arrears, then left).
    """
    order = {
        EventType.HIRED.value: 0,
        EventType.INJURY.value: 1,
        EventType.WAGE_ARREARS.value: 2,
        EventType.LEFT.value: 3,
    }
    life = Life()
    for o in sorted(outcomes, key=lambda o: (o.occurred_at, order.get(o.event, 4))):
        current = life.current
        if o.event == EventType.HIRED.value:
            if current is not None and current.vacancy_id == o.vacancy_id:
                continue  # the same hire recorded twice: the first start counts
            if current is not None:
                current.ended_at, current.end_reason = o.occurred_at, EndReason.MOVED.value
            life.spells.append(Spell(o.vacancy_id, o.occurred_at))
            life.status, life.reason, life.since = WorkerStatus.EMPLOYED, None, o.occurred_at
        elif o.event in ENDING_EVENTS:
            reason = ENDING_EVENTS[o.event]
            if current is not None and current.vacancy_id != o.vacancy_id:
                continue  # about an earlier job: the current one goes on
            if current is not None:
                current.ended_at, current.end_reason = o.occurred_at, reason.value
            elif life.status == WorkerStatus.NEEDS_REPLACEMENT:
                continue  # already flagged; keep the first reason and time
            life.status, life.reason, life.since = (
                WorkerStatus.NEEDS_REPLACEMENT,
                reason.value,
                o.occurred_at,
            )
    return life


@dataclass(frozen=True)
class RebuildSummary:
    workers: int
    employed: int
    needs_replacement: int
    placements: int


def rebuild(session: Session, worker_ids: Sequence[str] | None = None) -> RebuildSummary:
    """Bring ``workers.status`` and ``placements`` in line with the recorded outcomes.

    Parameters
    ----------
    session : Session
        The caller's transaction (nothing is committed here).
    worker_ids : sequence of str, optional
        The workers to replay; None replays every worker that has a lifecycle outcome
        or a non-default status.

    Returns
    -------
    RebuildSummary
        Counts over the replayed workers.
    """
    stmt = select(Event.worker_id, Event.vacancy_id, Event.event, Event.occurred_at).where(
        Event.event.in_(LIFECYCLE_EVENTS)
    )
    if worker_ids is not None:
        ids = list(dict.fromkeys(worker_ids))
        outcomes = _outcomes_by_worker(session, stmt, ids)
    else:
        outcomes = _outcomes_by_worker(session, stmt, None)
        flagged = session.scalars(
            select(Worker.worker_id).where(
                Worker.status.in_((WorkerStatus.EMPLOYED, WorkerStatus.NEEDS_REPLACEMENT))
            )
        ).all()
        ids = sorted(set(outcomes) | set(flagged))
    employer_of = _employers(session, {o.vacancy_id for os in outcomes.values() for o in os})
    stored = _stored_placements(session, ids)
    employed = replace = n_placements = 0
    new_rows: list[dict] = []
    states: list[dict] = []
    for chunk in chunks(ids, 500):
        current = {
            row.worker_id: row
            for row in session.execute(
                select(
                    Worker.worker_id, Worker.status, Worker.status_reason, Worker.status_since
                ).where(Worker.worker_id.in_(chunk))
            )
        }
        for worker_id in chunk:
            row = current.get(worker_id)
            if row is None:
                continue
            life = replay(outcomes.get(worker_id, ()))
            _sync_placements(
                session, worker_id, life, stored.get(worker_id, {}), employer_of, new_rows
            )
            n_placements += len(life.spells)
            status = row.status
            if status != WorkerStatus.INACTIVE:
                status = life.status.value
                if (row.status, row.status_reason, row.status_since) != (
                    status,
                    life.reason,
                    life.since,
                ):
                    states.append(
                        {
                            "worker_id": worker_id,
                            "status": status,
                            "status_reason": life.reason,
                            "status_since": life.since,
                        }
                    )
            employed += status == WorkerStatus.EMPLOYED
            replace += status == WorkerStatus.NEEDS_REPLACEMENT
    session.flush()
    conn = session.connection()  # Core executemany: the ORM's bulk path costs 3x more
    if new_rows:
        conn.execute(insert(cast(Table, Placement.__table__)), new_rows)
    if states:
        t = cast(Table, Worker.__table__)
        conn.execute(
            update(t)
            .where(t.c.worker_id == bindparam("b_worker_id"))
            .values(
                status=bindparam("b_status"),
                status_reason=bindparam("b_status_reason"),
                status_since=bindparam("b_status_since"),
            ),
            [{f"b_{k}": v for k, v in row.items()} for row in states],
        )
        session.expire_all()  # objects the caller holds reload on next access
    return RebuildSummary(len(ids), employed, replace, n_placements)


def _outcomes_by_worker(session: Session, stmt, ids: list[str] | None) -> dict[str, list[Outcome]]:
    out: dict[str, list[Outcome]] = defaultdict(list)
    batches = (
        [stmt] if ids is None else [stmt.where(Event.worker_id.in_(c)) for c in chunks(ids, 500)]
    )
    for batch in batches:
        for worker_id, vacancy_id, event, at in session.execute(batch):
            out[worker_id].append(Outcome(vacancy_id, event, at))
    return out


def _employers(session: Session, vacancy_ids: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in chunks(sorted(vacancy_ids), 500):
        stmt = select(Vacancy.vacancy_id, Vacancy.employer_id).where(Vacancy.vacancy_id.in_(chunk))
        out.update({v: e for v, e in session.execute(stmt)})
    return out


def _stored_placements(
    session: Session, ids: list[str]
) -> dict[str, dict[tuple[str, datetime], Placement]]:
    out: dict[str, dict[tuple[str, datetime], Placement]] = defaultdict(dict)
    for chunk in chunks(ids, 500):
        for p in session.scalars(select(Placement).where(Placement.worker_id.in_(chunk))):
            out[p.worker_id][(p.vacancy_id, p.started_at)] = p
    return out


def _sync_placements(
    session: Session,
    worker_id: str,
    life: Life,
    stored: dict[tuple[str, datetime], Placement],
    employer_of: dict[str, str],
    new_rows: list[dict],
) -> None:
    """Update and delete the worker's stored placements; new ones go to ``new_rows``
    (inserted in bulk by the caller)."""
    keep = set()
    for spell in life.spells:
        key = (spell.vacancy_id, spell.started_at)
        keep.add(key)
        row = stored.get(key)
        if row is None:
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
        elif (row.ended_at, row.end_reason) != (spell.ended_at, spell.end_reason):
            row.ended_at, row.end_reason = spell.ended_at, spell.end_reason
    for key, row in stored.items():
        if key not in keep:  # its hire is no longer recorded
            session.delete(row)


def current_placement(session: Session, worker_id: str) -> Placement | None:
    """The worker's open placement (the job they are in), or None."""
    return session.scalar(
        select(Placement)
        .where(Placement.worker_id == worker_id, Placement.ended_at.is_(None))
        .order_by(Placement.started_at.desc())
        .limit(1)
    )


def last_placement(session: Session, worker_id: str) -> Placement | None:
    """The worker's latest placement, open or ended, or None."""
    return session.scalar(
        select(Placement)
        .where(Placement.worker_id == worker_id)
        .order_by(Placement.started_at.desc(), Placement.id.desc())
        .limit(1)
    )


# --------------------------------------------------------------------------- re-placement

#: Reasons (as a placement's end reason) in the words officers read.
REASON_WORDS: dict[str, str] = {
    EndReason.LEFT: "离职",
    EndReason.WAGE_ARREARS: "欠薪",
    EndReason.INJURY: "工伤",
    EndReason.MOVED: "换岗",
}
#: Reasons after which the previous employer's vacancies are not recommended at all (the
#: others rank them after every other vacancy).
EXCLUDING_REASONS: frozenset[str] = frozenset({EndReason.WAGE_ARREARS, EndReason.INJURY})


@dataclass(frozen=True)
class PreviousEmployer:
    """The employer a worker to re-place just left, and what fresh recommendations do
    with its vacancies: ``excluded`` (unpaid or injured there) or ``ranked_lower`` (left)."""

    employer_id: str
    vacancy_id: str
    reason: str
    ended_at: datetime

    @property
    def action(self) -> str:
        return "excluded" if self.reason in EXCLUDING_REASONS else "ranked_lower"

    @property
    def message(self) -> str:
        words = REASON_WORDS.get(self.reason, self.reason)
        day = f"{self.ended_at:%Y-%m-%d}"
        if self.action == "excluded":
            return f"上一份工作在该企业因{words}结束（{day}），不再推荐该企业的岗位"
        return f"上一份工作在该企业，{day}{words}：该企业的岗位排在其他岗位之后"


def previous_employer(
    session: Session, worker_id: str, status: str | None = None
) -> PreviousEmployer | None:
    """For a worker to re-place: the employer of the placement that ended, else None.
    ``status``: the worker's status when the caller read it already."""
    if status is None:
        status = session.scalar(select(Worker.status).where(Worker.worker_id == worker_id))
    if status != WorkerStatus.NEEDS_REPLACEMENT:
        return None
    last = last_placement(session, worker_id)
    if last is None or last.ended_at is None or last.end_reason is None:
        return None
    return PreviousEmployer(last.employer_id, last.vacancy_id, last.end_reason, last.ended_at)


def apply_previous_employer(items: list[dict], previous: PreviousEmployer, k: int) -> list[dict]:
    """Recommendation items (ranked dicts with ``employer_id``, ``warnings``, ``rank``)
    with the previous employer's vacancies dropped or moved after the others, each kept
    one warned why; ranks renumbered, at most ``k``."""
    others = [x for x in items if x.get("employer_id") != previous.employer_id]
    theirs = [x for x in items if x.get("employer_id") == previous.employer_id]
    kept = others if previous.action == "excluded" else others + theirs
    kept = kept[:k]
    for rank, item in enumerate(kept, start=1):
        item["rank"] = rank
        if item.get("employer_id") == previous.employer_id:
            item["warnings"] = [previous.message, *item.get("warnings", [])]
    return kept
