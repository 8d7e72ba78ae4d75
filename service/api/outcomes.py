"""Outcomes officers record (applied, hired, left, retained, wage arrears, injury)."""

from __future__ import annotations

from fastapi import APIRouter, status

from service import domain
from service.auth import OfficerPrincipal, SessionDep
from service.schemas import OutcomeCreate, OutcomePublic

router = APIRouter(prefix="/outcomes", tags=["outcomes"])


@router.post("", response_model=OutcomePublic, status_code=status.HTTP_201_CREATED)
def record_outcome(body: OutcomeCreate, session: SessionDep, principal: OfficerPrincipal):
    """Record an outcome for a worker in your region and a vacancy (stored as an event)."""
    return domain.record_outcome(session, principal, body)
