"""Admin operations: reload the promoted model, read the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict

from service import audit
from service.api.deps import HolderDep
from service.api.params import Offset, RecordIdQuery, RowIdQuery
from service.auth import AdminPrincipal, SessionDep
from service.model_holder import ModelLoadError
from service.schemas import ModelStatus, Timestamp

router = APIRouter(prefix="/admin", tags=["admin"])


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: Timestamp
    api_key_id: int | None
    role: str
    action: str
    worker_id: str | None
    purpose: str | None
    path: str | None


class AuditEntriesPublic(BaseModel):
    data: list[AuditEntryPublic]
    count: int


def _status(holder) -> dict:
    loaded = holder.peek()
    return {
        "model_loaded": loaded is not None,
        "model_version": loaded.version if loaded else None,
        "path": str(loaded.path) if loaded and loaded.path else None,
        "loaded_at": loaded.loaded_at if loaded else None,
        "reason": holder.reason,
    }


@router.get("/model", response_model=ModelStatus)
def model_status(principal: AdminPrincipal, holder: HolderDep) -> dict:
    """Which model this process serves, since when, or why none."""
    return _status(holder)


@router.post("/reload-model", response_model=ModelStatus)
def reload_model(principal: AdminPrincipal, holder: HolderDep, response: Response) -> dict:
    """Load the promoted model and swap it in; requests in flight finish on the old one."""
    try:
        holder.load()
    except ModelLoadError as exc:
        serving = holder.peek()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{exc}; still serving {serving.version if serving else 'no model'}",
        ) from None
    body = _status(holder)
    response.headers["X-Model-Version"] = body["model_version"] or "none"
    return body


@router.get("/audit", response_model=AuditEntriesPublic)
def audit_log(
    session: SessionDep,
    principal: AdminPrincipal,
    worker_id: RecordIdQuery = None,
    api_key_id: RowIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict:
    """Reads of personal data, newest first (for one worker or one key)."""
    rows, count = audit.entries(
        session, worker_id=worker_id, api_key_id=api_key_id, limit=limit, offset=offset
    )
    return {"data": rows, "count": count}
