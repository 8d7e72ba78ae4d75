"""CSCO 2022 occupation coding: classify, suggest, and officers' corrections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service import domain_occupations as occupations
from service.auth import CurrentPrincipal, OfficerPrincipal, SessionDep
from service.domain import field_error, unprocessable
from service.schemas import (
    ClassifyRequest,
    OccupationCorrectionCreate,
    OccupationCorrectionPublic,
    OccupationCorrectionsPublic,
    OccupationPublic,
    OccupationsPublic,
)

router = APIRouter(tags=["occupations"])


@router.post("/occupations/classify", response_model=OccupationPublic)
def classify(body: ClassifyRequest, principal: CurrentPrincipal) -> dict:
    """The CSCO 2022 code, name, level and confidence for a job title (never blank)."""
    return occupations.classify(body.text)


@router.post("/occupations/suggest", response_model=OccupationsPublic)
def suggest(body: ClassifyRequest, principal: CurrentPrincipal) -> dict:
    """The three most probable CSCO 2022 codes for a vacancy title, with names."""
    return occupations.suggest(body.text)


@router.post(
    "/vacancies/{vacancy_id}/occupation",
    response_model=OccupationCorrectionPublic,
    status_code=201,
)
def correct_vacancy(
    vacancy_id: str,
    body: OccupationCorrectionCreate,
    session: SessionDep,
    principal: OfficerPrincipal,
) -> dict:
    """Correct a vacancy's occupation code (officers of its region, admins); stored for training."""
    if body.text is not None:
        raise unprocessable(
            [field_error("text", "a vacancy correction takes only a code; its title is the text")]
        )
    return occupations.correct_vacancy(session, principal, vacancy_id, body.code)


@router.post(
    "/workers/{worker_id}/occupation",
    response_model=OccupationCorrectionPublic,
    status_code=201,
)
def correct_worker(
    worker_id: str,
    body: OccupationCorrectionCreate,
    session: SessionDep,
    principal: OfficerPrincipal,
) -> dict:
    """Record the occupation a line of a worker's skills or history names; stored for training."""
    if not body.text:
        raise unprocessable(
            [field_error("text", "give the line of skills or work history that names the code")]
        )
    return occupations.correct_worker(session, principal, worker_id, body.text, body.code)


@router.get("/occupations/corrections", response_model=OccupationCorrectionsPublic)
def list_corrections(
    session: SessionDep,
    principal: OfficerPrincipal,
    subject_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=occupations.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Officers' occupation code corrections, newest first (your region's records)."""
    data, count = occupations.list_corrections(session, principal, subject_id, limit, offset)
    return {"data": data, "count": count}
