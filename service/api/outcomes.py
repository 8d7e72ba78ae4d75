"""Outcomes officers record (applied, hired, left, retained, wage arrears, injury)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from service import domain
from service.auth import OfficerPrincipal, SessionDep
from service.schemas import OutcomeCreate, OutcomePublic

router = APIRouter(prefix="/outcomes", tags=["outcomes"])


@router.post("", response_model=OutcomePublic, status_code=status.HTTP_201_CREATED)
def record_outcome(
    body: OutcomeCreate, session: SessionDep, principal: OfficerPrincipal, request: Request
):
    """Record an outcome for a worker in your region and a vacancy (stored as an event).

    ``hired`` makes the worker employed and schedules the follow-up visits; ``left``,
    ``wage_arrears`` and ``injury`` put the worker on the re-placement list."""
    days = request.app.state.settings.followup_days
    return domain.record_outcome(session, principal, body, days)
