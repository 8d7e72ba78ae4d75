"""The employer side: proposed candidates per vacancy, the employer's answers, notices, and
employers' reply rates for officers."""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Query, status

from service import domain, proposals
from service.auth import CurrentPrincipal, EmployerPrincipal, OfficerPrincipal, SessionDep
from service.schemas import (
    EmployerProposalsPublic,
    EmployerReplyStatsPublic,
    NoticesPublic,
    OfficerProposal,
    OfficerProposalsPublic,
    ProposalAnswer,
    ProposalCreate,
)

router = APIRouter(tags=["proposals"])


def _http(exc: Exception) -> NoReturn:
    """The domain's errors as HTTP answers (field-level for bad input)."""
    if isinstance(exc, proposals.NotFound):
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if isinstance(exc, proposals.Forbidden):
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    if isinstance(exc, proposals.Conflict):
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if isinstance(exc, proposals.Invalid):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}],
        ) from None
    raise exc


_ERRORS = (proposals.NotFound, proposals.Forbidden, proposals.Conflict, proposals.Invalid)


@router.post("/proposals", response_model=OfficerProposal, status_code=status.HTTP_201_CREATED)
def propose(body: ProposalCreate, session: SessionDep, principal: OfficerPrincipal) -> dict:
    """Propose a worker of your region for an open vacancy (the employer then answers)."""
    try:
        p = proposals.propose(session, principal, body.worker_id, body.vacancy_id, body.note)
    except _ERRORS as exc:
        _http(exc)
    rows, _ = proposals.officer_list(
        session, principal, worker_id=p.worker_id, vacancy_id=p.vacancy_id
    )
    return rows[0]


@router.get("/proposals", response_model=OfficerProposalsPublic)
def officer_proposals(
    session: SessionDep,
    principal: OfficerPrincipal,
    worker_id: Annotated[str | None, Query(max_length=64)] = None,
    vacancy_id: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[proposals.ProposalStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
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
def vacancy_proposals(vacancy_id: str, session: SessionDep, principal: EmployerPrincipal) -> dict:
    """The candidates proposed for your vacancy and their status (no personal data)."""
    proposals.close_idle(session)
    try:
        ids = proposals.proposed_workers(session, vacancy_id)
        data = proposals.employer_view(
            session,
            principal,
            vacancy_id,
            profiles=domain.candidate_profiles(session, ids),
            candidate_ref=domain.candidate_ref,
        )
    except _ERRORS as exc:
        _http(exc)
    return {"vacancy_id": vacancy_id, "data": data, "count": len(data)}


@router.post("/proposals/{proposal_id}/answer", response_model=dict)
def answer_proposal(
    proposal_id: int, body: ProposalAnswer, session: SessionDep, principal: EmployerPrincipal
) -> dict:
    """Answer a proposed candidate: interested, or not suitable with a reason."""
    try:
        p = proposals.answer(
            session,
            principal,
            proposal_id,
            proposals.Answer(body.answer),
            proposals.NotSuitableReason(body.reason) if body.reason else None,
            body.note,
        )
    except _ERRORS as exc:
        _http(exc)
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
    if principal.role.value == "officer":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "notices are for employers")
    proposals.close_idle(session)
    rows = proposals.notices(session, principal)
    return {"data": rows, "count": len(rows)}
