"""CSCO 2022 occupation normalisation of free text."""

from __future__ import annotations

from fastapi import APIRouter

from service import domain
from service.auth import CurrentPrincipal
from service.schemas import ClassifyRequest, OccupationPublic

router = APIRouter(prefix="/occupations", tags=["occupations"])


@router.post("/classify", response_model=OccupationPublic)
def classify(body: ClassifyRequest, principal: CurrentPrincipal) -> dict:
    """The CSCO 2022 code, name and confidence for a job title or work-history line."""
    return domain.classify_occupation(body.text)
