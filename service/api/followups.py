"""Follow-ups of hired workers, the re-placement list and employers' risk figures (officers
of the region, admins; employers never)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from service import domain_followups as loop
from service import employer_risk
from service import retention as retention_curves
from service.api.params import EmployerIdPath, Offset, RowIdPath
from service.auth import OfficerPrincipal, SessionDep
from service.domain_errors import not_found
from service.followups import Findings, FollowUpStatus
from service.schemas import (
    EmployerRiskPublic,
    FlaggedEmployersPublic,
    FollowUpComplete,
    FollowUpCounts,
    FollowUpPublic,
    FollowUpsPublic,
    ReplacementsPublic,
    RetentionPublic,
    WallTime,
)
from service.store.models import Employer

router = APIRouter(tags=["follow-ups"])


def _zone(request: Request) -> str:
    return request.app.state.settings.office_timezone


@router.get("/follow-ups", response_model=FollowUpsPublic)
def list_follow_ups(
    session: SessionDep,
    principal: OfficerPrincipal,
    request: Request,
    worker_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    due_before: Annotated[
        WallTime | None,
        Query(description="due before this time (without a zone: office time)"),
    ] = None,
    status_: Annotated[FollowUpStatus | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=loop.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """Follow-ups of the workers of your region, soonest due first, with the placement."""
    flt = loop.FollowUpFilter(
        worker_id=worker_id,
        due_before=due_before,
        status=status_,
        region=region,
        limit=limit,
        offset=offset,
    )
    data, count = loop.list_follow_ups(session, principal, flt, zone=_zone(request))
    return {"data": data, "count": count}


@router.get("/follow-ups/summary", response_model=FollowUpCounts)
def follow_up_counts(session: SessionDep, principal: OfficerPrincipal, request: Request) -> dict:
    """How many follow-ups of your region are overdue, due today, open and done."""
    return loop.follow_up_counts(session, principal, zone=_zone(request))


@router.get("/follow-ups/{follow_up_id}", response_model=FollowUpPublic)
def get_follow_up(
    follow_up_id: RowIdPath, session: SessionDep, principal: OfficerPrincipal, request: Request
) -> dict:
    """One follow-up with its placement and findings."""
    return loop.get_follow_up(session, principal, follow_up_id, zone=_zone(request))


@router.post("/follow-ups/{follow_up_id}/complete", response_model=FollowUpPublic)
def complete_follow_up(
    follow_up_id: RowIdPath,
    body: FollowUpComplete,
    session: SessionDep,
    principal: OfficerPrincipal,
    request: Request,
) -> dict:
    """Record what a follow-up found. Not employed, unpaid or injured puts the worker on
    the re-placement list (recorded as the outcomes left / wage_arrears / injury)."""
    data = body.model_dump(exclude={"visited_at"})
    return loop.complete_follow_up(
        session,
        principal,
        follow_up_id,
        Findings(**data),
        visited_at=body.visited_at,
        zone=_zone(request),
        days=request.app.state.settings.followup_days,
        path=request.url.path,
    )


@router.get("/re-placements", response_model=ReplacementsPublic)
def replacement_list(
    session: SessionDep,
    principal: OfficerPrincipal,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=loop.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """Workers of your region to re-place (left, unpaid or injured), monitored households
    first, then the longest waiting (the read is audited)."""
    data, count = loop.replacement_list(
        session, principal, limit=limit, offset=offset, path=request.url.path
    )
    return {"data": data, "count": count}


@router.get("/employer-risk", response_model=FlaggedEmployersPublic)
def flagged_employers(session: SessionDep, principal: OfficerPrincipal, request: Request) -> dict:
    """Employers whose wage-arrears and no-contract cases within a year reach the threshold
    (JOBMATCH_EMPLOYER_RISK_THRESHOLD): to report to the labour inspectorate."""
    data = employer_risk.flagged(
        session, threshold=request.app.state.settings.employer_risk_threshold
    )
    return {"data": data, "count": len(data)}


@router.get("/employer-risk/{employer_id}", response_model=EmployerRiskPublic)
def employer_risk_evidence(
    employer_id: EmployerIdPath, session: SessionDep, principal: OfficerPrincipal, request: Request
) -> dict:
    """An employer's risk figures and the evidence behind them (dates, jobs, home
    counties; a worker's id only when the worker lives in your region)."""
    if session.get(Employer, employer_id) is None:
        raise not_found("employer", employer_id)
    return employer_risk.evidence(
        session,
        principal,
        employer_id,
        threshold=request.app.state.settings.employer_risk_threshold,
    )


@router.get("/retention", response_model=RetentionPublic)
def retention(
    session: SessionDep,
    principal: OfficerPrincipal,
    by: Literal["province", "employer"] = "province",
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
) -> dict:
    """Retention by month since hire of your region's placements (Kaplan–Meier), overall
    and per destination province or per employer."""
    return retention_curves.curves(session, principal, by=by, region=region, months=months)
