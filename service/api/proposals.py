"""The employer side: proposed candidates per vacancy, the employer's answers, notices, and
employers' reply rates for officers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from service import domain, proposals
from service.api.params import Offset, RecordIdQuery, RowIdPath, VacancyIdPath
from service.auth import CurrentPrincipal, EmployerPrincipal, OfficerPrincipal, Role, SessionDep
from service.domain_errors import Forbidden
from service.schemas import (
    EmployerProposalsPublic,
    EmployerReplyStatsPublic,
    NoticesPublic,
    OfficerProposal,
    OfficerProposalsPublic,
    ProposalAnswer,
    ProposalAnswered,
    ProposalCreate,
)

router = APIRouter(tags=["proposals"])


@router.post("/proposals", response_model=OfficerProposal, status_code=status.HTTP_201_CREATED)
def propose(body: ProposalCreate, session: SessionDep, principal: OfficerPrincipal) -> dict:
    """Propose a worker of your region for an open vacancy (the employer then answers)."""
    p = proposals.propose(session, principal, body.worker_id, body.vacancy_id, body.note)
    rows, _ = proposals.officer_list(
        session, principal, worker_id=p.worker_id, vacancy_id=p.vacancy_id
    )
    return rows[0]


@router.get("/proposals", response_model=OfficerProposalsPublic)
def officer_proposals(
    session: SessionDep,
    principal: OfficerPrincipal,
    worker_id: RecordIdQuery = None,
    vacancy_id: RecordIdQuery = None,
    status_: Annotated[proposals.ProposalStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=proposals.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """Proposals of the workers of your region, newest first, with the employer's answer."""
    data, count = proposals.officer_list(
        session,
        principal,
        worker_id=worker_id,
        vacancy_id=vacancy_id,
        status=status_,
        limit=limit,
        offset=offset,
    )
    return {"data": data, "count": count}


@router.get("/vacancies/{vacancy_id}/proposals", response_model=EmployerProposalsPublic)
def vacancy_proposals(
    vacancy_id: VacancyIdPath, session: SessionDep, principal: EmployerPrincipal
) -> dict:
    """The candidates proposed for your vacancy and their status (no personal data)."""
    proposals.close_idle(session)
    ids = proposals.proposed_workers(session, vacancy_id)
    data = proposals.employer_view(
        session,
        principal,
        vacancy_id,
        profiles=domain.candidate_profiles(session, ids),
        candidate_ref=domain.candidate_ref,
    )
    return {"vacancy_id": vacancy_id, "data": data, "count": len(data)}


@router.post("/proposals/{proposal_id}/answer", response_model=ProposalAnswered)
def answer_proposal(
    proposal_id: RowIdPath, body: ProposalAnswer, session: SessionDep, principal: EmployerPrincipal
) -> dict:
    """Answer a proposed candidate: interested, or not suitable with a reason."""
    p = proposals.answer(
        session,
        principal,
        proposal_id,
        proposals.Answer(body.answer),
        proposals.NotSuitableReason(body.reason) if body.reason else None,
        body.note,
    )
    return {
        "proposal_id": p.id,
        "status": p.status,
        "reason": p.reason,
        "answered_at": p.answered_at,
    }


@router.get("/employer-replies", response_model=EmployerReplyStatsPublic)
def employer_replies(session: SessionDep, principal: OfficerPrincipal) -> dict:
    """Per employer: how many proposals it answered and how fast (for officers)."""
    data = proposals.reply_stats(session)
    return {"data": data, "count": len(data)}


@router.get("/notices", response_model=NoticesPublic)
def notices(session: SessionDep, principal: CurrentPrincipal) -> dict:
    """Notices to your employer (e.g. a vacancy closed after 30 days without action);
    admins see all."""
    if principal.role == Role.OFFICER:
        raise Forbidden("notices are for employers; officers see employer-replies")
    proposals.close_idle(session)
    rows = proposals.notices(session, principal)
    return {"data": rows, "count": len(rows)}
