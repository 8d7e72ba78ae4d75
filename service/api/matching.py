"""Recommendations for a worker and candidates for a vacancy, from the serving model.

Without a trained model these routes answer **503** with the reason in ``detail``
("no model trained yet: run `jobmatch train`"); every answer names the model version
in ``model_version`` and in the ``X-Model-Version`` header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from service import domain
from service.api.deps import HolderDep, MetricsDep, ServingDep, StoreDep, SyncDep
from service.api.params import VacancyIdPath, WorkerIdPath
from service.auth import CurrentPrincipal, OfficerPrincipal, Role, SessionDep
from service.schemas import (
    EmployerCandidatesPublic,
    OfficerCandidatesPublic,
    Problem,
    RecommendationsPublic,
)

router = APIRouter(tags=["matching"])

_NO_MODEL: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "no model trained or loaded yet"}
}


@router.get(
    "/workers/{worker_id}/recommendations",
    response_model=RecommendationsPublic,
    responses=_NO_MODEL,
)
async def worker_recommendations(
    worker_id: WorkerIdPath,
    store: StoreDep,
    principal: OfficerPrincipal,
    serving: ServingDep,
    response: Response,
    k: Annotated[int, Query(ge=1, le=domain.MAX_K)] = 10,
) -> dict:
    """The k best open vacancies for a worker, with score, reasons and warnings."""
    result = await store.run(
        domain.recommendations,
        principal,
        serving.holder,
        serving.sync,
        worker_id,
        k,
        serving.recommend,
        serving.risk_threshold,
        serving.cache,
    )
    response.headers["X-Model-Version"] = result["model_version"]
    response.headers["X-Recommendation-Source"] = result["source"]
    # an answer from the precomputed lists this process had already re-ranked for the
    # same model, worker and k (service.serving_cache.RankedAnswers): 1, else 0
    response.headers["X-Recommendation-Reused"] = "1" if result["reused"] else "0"
    serving.metrics.served.labels(kind="recommendations", source=result["source"]).inc()
    return result


@router.get(
    "/vacancies/{vacancy_id}/candidates",
    response_model=OfficerCandidatesPublic | EmployerCandidatesPublic,
    responses=_NO_MODEL,
)
def vacancy_candidates(
    vacancy_id: VacancyIdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    holder: HolderDep,
    sync: SyncDep,
    metrics: MetricsDep,
    response: Response,
    k: Annotated[int, Query(ge=1, le=domain.MAX_K)] = 20,
) -> OfficerCandidatesPublic | EmployerCandidatesPublic:
    """The k best workers for a vacancy; employers get them without personal data."""
    result = domain.candidates(session, principal, holder, sync, vacancy_id, k)
    response.headers["X-Model-Version"] = result["model_version"]
    metrics.served.labels(kind="candidates", source="live").inc()
    if principal.role == Role.EMPLOYER:
        return EmployerCandidatesPublic.model_validate(result)
    return OfficerCandidatesPublic.model_validate(result)
