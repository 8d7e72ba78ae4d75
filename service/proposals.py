"""The employer side of a placement: workers proposed for a vacancy, the employer's answer,
idle vacancies closed with a notice, and how fast employers answer.

* An officer proposes a worker of their region for an open vacancy (:func:`propose`).
* The employer sees its vacancy's proposals under opaque candidate references with the
  documented employer view of the profile (age band, home county, skills, languages,
  work history; never a name, phone, id number, wage expectation or preference) and
  their status: proposed, interested, not_suitable, or hired once an officer recorded
  the hire (:func:`employer_view`). It answers interested or not suitable with a reason
  (:func:`answer`).
* An open vacancy with no action for ``IDLE_DAYS`` days -- not changed by its employer,
  no proposal answered -- is closed (``closed_reason`` ``idle``) and the employer gets a
  notice saying so and how to reopen it (:func:`close_idle`).
* Officers see per employer the reply rate and the median time to answer
  (:func:`reply_stats`).

Nothing here imports FastAPI; refusals are ``service.domain_errors`` (turned into HTTP
statuses by ``service.api.errors``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from matcher.data.schema import EventType
from service import clock
from service.auth import Principal, Role
from service.domain_errors import Conflict, Forbidden, Invalid, field_error, not_found
from service.store.models import Employer, Event, Notice, Proposal, Vacancy, Worker

IDLE_DAYS = 30
MAX_PAGE = 500


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    INTERESTED = "interested"
    NOT_SUITABLE = "not_suitable"
    HIRED = "hired"  # shown only: an officer recorded the hire


class Answer(StrEnum):
    INTERESTED = "interested"
    NOT_SUITABLE = "not_suitable"


class NotSuitableReason(StrEnum):
    SKILLS = "skills"  # 技能不符
    EXPERIENCE = "experience"  # 经验不足
    LANGUAGE = "language"  # 语言沟通困难
    LOCATION = "location"  # 路程或住宿不合适
    FILLED = "filled"  # 岗位已招满
    UNREACHABLE = "unreachable"  # 联系不上
    OTHER = "other"  # 其他（须写明）


def _vacancy(session: Session, vacancy_id: str) -> Vacancy:
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise not_found("vacancy", vacancy_id)
    return vacancy


def propose(
    session: Session, principal: Principal, worker_id: str, vacancy_id: str, note: str | None
) -> Proposal:
    """An officer proposes a worker of their region for an open vacancy."""
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise Invalid([field_error("worker_id", f"unknown worker {worker_id!r}", "value_error")])
    if not principal.sees_region(worker.home_region):
        raise Forbidden(f"worker {worker_id} lives outside your region {principal.region_prefix}")
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise Invalid([field_error("vacancy_id", f"unknown vacancy {vacancy_id!r}", "value_error")])
    if (vacancy.status or "open") != "open" or (vacancy.headcount or 0) < 1:
        raise Invalid(
            [
                field_error(
                    "vacancy_id",
                    f"vacancy {vacancy_id} is not open (status {vacancy.status})",
                    "value_error",
                )
            ]
        )
    existing = session.scalar(
        select(Proposal).where(Proposal.worker_id == worker_id, Proposal.vacancy_id == vacancy_id)
    )
    if existing is not None:
        raise Conflict(
            f"worker {worker_id} was proposed for {vacancy_id} already "
            f"on {existing.proposed_at:%Y-%m-%d} (status {existing.status})"
        )
    proposal = Proposal(
        worker_id=worker_id,
        vacancy_id=vacancy_id,
        employer_id=vacancy.employer_id,
        proposed_at=clock.now_utc(),
        proposed_by=f"key:{principal.key_id}",
        status=ProposalStatus.PROPOSED.value,
        note=note,
    )
    session.add(proposal)
    session.flush()
    return proposal


def _hired_pairs(session: Session, proposals: list[Proposal]) -> set[tuple[str, str]]:
    if not proposals:
        return set()
    stmt = select(Event.worker_id, Event.vacancy_id).where(
        Event.event == EventType.HIRED.value,
        Event.vacancy_id.in_({p.vacancy_id for p in proposals}),
        Event.worker_id.in_({p.worker_id for p in proposals}),
    )
    return {(w, v) for w, v in session.execute(stmt)}


def _shown_status(p: Proposal, hired: set[tuple[str, str]]) -> str:
    return ProposalStatus.HIRED.value if (p.worker_id, p.vacancy_id) in hired else p.status


def employer_view(
    session: Session,
    principal: Principal,
    vacancy_id: str,
    *,
    profiles: dict[str, dict[str, Any]] | None,
    candidate_ref: Any,
) -> list[dict[str, Any]]:
    """The proposals of one vacancy as its employer sees them (no personal data).

    ``profiles`` maps worker ids to the documented candidate profile; ``candidate_ref``
    makes the opaque reference (both from ``service.domain``)."""
    vacancy = _vacancy(session, vacancy_id)
    if principal.role == Role.EMPLOYER and vacancy.employer_id != principal.employer_id:
        raise Forbidden(f"vacancy {vacancy_id} belongs to another employer")
    rows = list(
        session.scalars(
            select(Proposal).where(Proposal.vacancy_id == vacancy_id).order_by(Proposal.proposed_at)
        )
    )
    hired = _hired_pairs(session, rows)
    profiles = profiles or {}
    return [
        {
            "proposal_id": p.id,
            "candidate_ref": candidate_ref(vacancy_id, p.worker_id),
            "proposed_at": p.proposed_at,
            "status": _shown_status(p, hired),
            "answered_at": p.answered_at,
            "reason": p.reason,
            "note": p.note if p.answered_at is not None else None,  # the employer's own
            **profiles.get(p.worker_id, {}),
        }
        for p in rows
    ]


def answer(
    session: Session,
    principal: Principal,
    proposal_id: int,
    decision: Answer,
    reason: NotSuitableReason | None,
    note: str | None,
) -> Proposal:
    """The employer answers a proposal of one of its vacancies (once)."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise not_found("proposal", str(proposal_id))
    if principal.role != Role.ADMIN and proposal.employer_id != principal.employer_id:
        raise Forbidden(f"proposal {proposal_id} is for another employer's vacancy")
    if proposal.status != ProposalStatus.PROPOSED:
        raise Conflict(f"proposal {proposal_id} was answered already ({proposal.status})")
    if decision == Answer.NOT_SUITABLE and reason is None:
        raise Invalid(
            [field_error("reason", "say why the candidate is not suitable", "value_error")]
        )
    if reason == NotSuitableReason.OTHER and not (note or "").strip():
        raise Invalid(
            [field_error("note", "describe the reason when it is 'other'", "value_error")]
        )
    proposal.status = decision.value
    proposal.reason = reason.value if decision == Answer.NOT_SUITABLE and reason else None
    proposal.note = note
    proposal.answered_at = clock.now_utc()
    vacancy = session.get(Vacancy, proposal.vacancy_id)
    if vacancy is not None:
        vacancy.updated_at = proposal.answered_at  # an action on the vacancy
    session.flush()
    return proposal


def officer_list(
    session: Session,
    principal: Principal,
    *,
    worker_id: str | None = None,
    vacancy_id: str | None = None,
    status: ProposalStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Proposals of the officer's workers (admins: all), newest first."""
    cond = []
    if principal.role == Role.OFFICER:
        cond.append(Worker.home_region.startswith(principal.region_prefix or ""))
    if worker_id:
        cond.append(Proposal.worker_id == worker_id)
    if vacancy_id:
        cond.append(Proposal.vacancy_id == vacancy_id)
    if status is not None and status != ProposalStatus.HIRED:
        cond.append(Proposal.status == status.value)
    base = select(Proposal).join(Worker, Worker.worker_id == Proposal.worker_id).where(*cond)
    count = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = list(
        session.scalars(
            base.order_by(Proposal.proposed_at.desc(), Proposal.id.desc())
            .limit(max(1, min(limit, MAX_PAGE)))
            .offset(max(offset, 0))
        )
    )
    hired = _hired_pairs(session, rows)
    names = dict(
        session.execute(
            select(Employer.employer_id, Employer.name).where(
                Employer.employer_id.in_({p.employer_id for p in rows})
            )
        ).all()
    )
    out = [
        {
            "proposal_id": p.id,
            "worker_id": p.worker_id,
            "vacancy_id": p.vacancy_id,
            "employer_id": p.employer_id,
            "employer_name": names.get(p.employer_id),
            "proposed_at": p.proposed_at,
            "status": _shown_status(p, hired),
            "answered_at": p.answered_at,
            "reason": p.reason,
            "note": p.note,
        }
        for p in rows
    ]
    return out, int(count)


def reply_stats(
    session: Session, employer_ids: list[str] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per employer: proposals, answered, reply rate, median hours to answer, interested
    share of the answers, and how long the oldest unanswered one has waited."""
    now = now or clock.now_utc()
    stmt = select(Proposal.employer_id, Proposal.proposed_at, Proposal.answered_at, Proposal.status)
    if employer_ids is not None:
        stmt = stmt.where(Proposal.employer_id.in_(employer_ids))
    by: dict[str, list[tuple[datetime, datetime | None, str]]] = defaultdict(list)
    for employer_id, proposed, answered, status in session.execute(stmt):
        by[employer_id].append((proposed, answered, status))
    names = dict(
        session.execute(
            select(Employer.employer_id, Employer.name).where(Employer.employer_id.in_(list(by)))
        ).all()
    )
    out = []
    for employer_id, rows in sorted(by.items()):
        hours = [(a - p).total_seconds() / 3600 for p, a, _ in rows if a is not None]
        waiting = [p for p, a, _ in rows if a is None]
        interested = sum(1 for _, a, s in rows if a is not None and s == Answer.INTERESTED)
        out.append(
            {
                "employer_id": employer_id,
                "employer_name": names.get(employer_id),
                "proposed": len(rows),
                "answered": len(hours),
                "reply_rate": len(hours) / len(rows),
                "median_hours_to_answer": statistics.median(hours) if hours else None,
                "interested_share": interested / len(hours) if hours else None,
                "oldest_waiting_days": (now - min(waiting)).total_seconds() / 86400
                if waiting
                else None,
            }
        )
    return out


def close_idle(session: Session, now: datetime | None = None, days: int = IDLE_DAYS) -> int:
    """Close open vacancies without action for ``days`` days and notify their employers.

    Action: the vacancy was posted or changed (``updated_at``), or one of its proposals
    answered. Returns how many were closed; idempotent."""
    now = now or clock.now_utc()
    before = now - timedelta(days=days)
    last_answer = (
        select(Proposal.vacancy_id, func.max(Proposal.answered_at).label("at"))
        .group_by(Proposal.vacancy_id)
        .subquery()
    )
    idle = session.scalars(
        select(Vacancy)
        .outerjoin(last_answer, last_answer.c.vacancy_id == Vacancy.vacancy_id)
        .where(
            or_(Vacancy.status == "open", Vacancy.status.is_(None)),
            Vacancy.updated_at < before,
            or_(Vacancy.posted_at.is_(None), Vacancy.posted_at < before),
            or_(last_answer.c.at.is_(None), last_answer.c.at < before),
        )
    ).all()
    for v in idle:
        v.status = "closed"
        v.closed_reason = "idle"
        v.closes_at = v.closes_at if v.closes_at and v.closes_at < now else now
        session.add(
            Notice(
                employer_id=v.employer_id,
                vacancy_id=v.vacancy_id,
                kind="vacancy_closed_idle",
                message=(
                    f"岗位“{v.title}”（{v.vacancy_id}）{days} 天内没有任何操作（未更新、未答复推荐人选），"
                    "已自动关闭。如仍在招聘，请在岗位页面修改并重新开放。"
                ),
                created_at=now,
            )
        )
    session.flush()
    return len(idle)


def notices(session: Session, principal: Principal, *, limit: int = 50) -> list[Notice]:
    stmt = select(Notice)
    if principal.role == Role.EMPLOYER:
        stmt = stmt.where(Notice.employer_id == principal.employer_id)
    return list(
        session.scalars(stmt.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit))
    )


def proposed_workers(session: Session, vacancy_id: str) -> list[str]:
    return list(
        session.scalars(select(Proposal.worker_id).where(Proposal.vacancy_id == vacancy_id))
    )
