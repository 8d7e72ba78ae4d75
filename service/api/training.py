"""Training suggestions: the courses that would raise a worker's or a county's expected
stable placements the most (officers of the region and admins; never employers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from service import domain_training
from service.api.params import WorkerIdPath
from service.auth import OfficerPrincipal, SessionDep
from service.schemas import CountyTrainingPublic, CoursesPublic, TrainingSuggestionsPublic

router = APIRouter(tags=["training"])

K = Annotated[
    int,
    Query(
        ge=1,
        le=domain_training.MAX_K,
        description="proposals per worker the expected placements are counted over",
    ),
]


@router.get("/training-courses", response_model=CoursesPublic)
def training_courses(principal: OfficerPrincipal) -> dict:
    """The training catalogue: courses, what each grants, duration and providers."""
    data = domain_training.catalogue()
    return {"data": data, "count": len(data)}


@router.get("/workers/{worker_id}/training-suggestions", response_model=TrainingSuggestionsPublic)
def worker_training_suggestions(
    worker_id: WorkerIdPath,
    request: Request,
    session: SessionDep,
    principal: OfficerPrincipal,
    k: K = domain_training.DEFAULT_K,
) -> dict:
    """Courses for a worker, the largest rise in expected stable placements first."""
    return domain_training.worker_suggestions(
        session,
        principal,
        request.app.state.models,
        request.app.state.catalogue_sync,
        worker_id,
        k,
    )


@router.get("/counties/{region}/training-suggestions", response_model=CountyTrainingPublic)
def county_training_suggestions(
    region: Annotated[str, Path(pattern=r"^\d{6}$", description="county code (GB/T 2260)")],
    request: Request,
    session: SessionDep,
    principal: OfficerPrincipal,
    k: K = domain_training.DEFAULT_K,
    sample: Annotated[
        int,
        Query(
            ge=domain_training.MIN_SAMPLE,
            le=domain_training.MAX_SAMPLE,
            description="job-seekers re-scored (a seeded sample when the county has more)",
        ),
    ] = domain_training.DEFAULT_SAMPLE,
) -> dict:
    """Courses ranked by their estimated total effect over a county's job-seekers."""
    return domain_training.county_suggestions(
        session,
        principal,
        request.app.state.models,
        request.app.state.catalogue_sync,
        region,
        sample,
        k,
    )
