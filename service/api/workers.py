"""Workers: officers (inside their region) and admins register, change, read and search them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from service import domain, lifecycle
from service.api.params import Offset, WorkerIdPath
from service.auth import OfficerPrincipal, PurposeDep, SessionDep
from service.schemas import (
    CountyCountsPublic,
    OutcomesPublic,
    WorkerCreate,
    WorkerPublic,
    WorkersPublic,
    WorkerUpdate,
)

WorkerStatusFilter = StrEnum(  # type: ignore[misc]
    "WorkerStatusFilter", {s: s for s in (domain.SEEKING, *lifecycle.WorkerStatus)}
)

router = APIRouter(prefix="/workers", tags=["workers"])


@router.post("", response_model=WorkerPublic, status_code=status.HTTP_201_CREATED)
def create_worker(
    body: WorkerCreate, session: SessionDep, principal: OfficerPrincipal, request: Request
) -> dict:
    """Register a worker (a workers record of the data contract)."""
    return domain.create_worker(session, principal, body, path=request.url.path)


@router.get("", response_model=WorkersPublic)
def list_workers(
    session: SessionDep,
    principal: OfficerPrincipal,
    purpose: PurposeDep,
    request: Request,
    region: Annotated[
        str | None, Query(pattern=r"^\d{1,6}$", description="home region prefix")
    ] = None,
    status_: Annotated[
        WorkerStatusFilter | None,
        Query(
            alias="status",
            description="seeking (active or to re-place) | active | employed | "
            "to_replace | inactive",
        ),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="text in skills or work history")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=domain.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """Search workers by home region prefix, status and skill text (reads are audited)."""
    flt = domain.WorkerFilter(
        region=region, status=status_.value if status_ else None, q=q, limit=limit, offset=offset
    )
    data, count = domain.list_workers(
        session, principal, flt, purpose=purpose, path=request.url.path
    )
    return {"data": data, "count": count}


@router.get("/by-county", response_model=CountyCountsPublic)
def workers_by_county(session: SessionDep, principal: OfficerPrincipal) -> dict:
    """Workers per home county inside your region: registered, job-seeking, employed, to re-place."""
    data = domain.workers_by_county(session, principal)
    return {"data": data, "count": len(data)}


@router.get("/{worker_id}", response_model=WorkerPublic)
def get_worker(
    worker_id: WorkerIdPath,
    session: SessionDep,
    principal: OfficerPrincipal,
    purpose: PurposeDep,
    request: Request,
) -> dict:
    """One worker with personal data (the read is audited with its purpose)."""
    return domain.get_worker(session, principal, worker_id, purpose=purpose, path=request.url.path)


@router.patch("/{worker_id}", response_model=WorkerPublic)
def update_worker(
    worker_id: WorkerIdPath,
    body: WorkerUpdate,
    session: SessionDep,
    principal: OfficerPrincipal,
    request: Request,
) -> dict:
    """Change some fields of a worker; fields not sent keep their value."""
    return domain.update_worker(session, principal, worker_id, body, path=request.url.path)


@router.get("/{worker_id}/outcomes", response_model=OutcomesPublic)
def worker_outcomes(
    worker_id: WorkerIdPath,
    session: SessionDep,
    principal: OfficerPrincipal,
    limit: Annotated[int, Query(ge=1, le=domain.MAX_PAGE)] = 100,
) -> dict:
    """Outcomes recorded for a worker, newest first."""
    rows, count = domain.list_outcomes(session, principal, worker_id, limit=limit)
    return {"data": rows, "count": count}
