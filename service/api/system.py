"""Health, readiness, metrics and who-am-I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service import domain
from service.api.deps import HolderDep
from service.auth import CurrentPrincipal
from service.observability import CONTENT_TYPE
from service.schemas import Health, Me, Readiness

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health)
def health() -> dict:
    """The process answers (no key needed)."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(request: Request, holder: HolderDep) -> JSONResponse:
    """Ready to serve recommendations: the store answers and a model is loaded (no key needed)."""
    db_problem = domain.database_status(request.app.state.engine)
    loaded = holder.current()
    reasons = [r for r in (db_problem, holder.reason) if r]
    body = Readiness(
        ready=not reasons,
        database="ok" if db_problem is None else db_problem,
        model_loaded=loaded is not None,
        model_version=loaded.version if loaded is not None else None,
        reason="; ".join(reasons) or None,
    )
    headers = {"X-Model-Version": loaded.version if loaded is not None else "none"}
    return JSONResponse(body.model_dump(), status_code=200 if not reasons else 503, headers=headers)


@router.get("/metrics", include_in_schema=True, response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus metrics in the text format (also at /metrics)."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/me", response_model=Me)
def me(principal: CurrentPrincipal) -> dict:
    """The role and scope of your key."""
    return {
        "role": principal.role.value,
        "key_id": principal.key_id,
        "region_prefix": principal.region_prefix,
        "employer_id": principal.employer_id,
        "name": principal.name,
    }
