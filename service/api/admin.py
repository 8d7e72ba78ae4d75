"""Admin operations: reload the promoted model, read the audit log, manage API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from service import audit, auth
from service.api.deps import HolderDep
from service.api.params import ID_LENGTH, Offset, RecordIdQuery, RowIdPath, RowIdQuery
from service.auth import AdminPrincipal, SessionDep
from service.domain_errors import Conflict, Invalid, field_error, not_found
from service.model_holder import ModelLoadError
from service.schemas import ModelStatus, Timestamp
from service.store.models import ApiKey

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


class KeyCreate(BaseModel):
    """A new API key: its role, its scope and, optionally, when it expires."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["admin", "officer", "employer"]
    region_prefix: str | None = Field(
        None, pattern=r"^\d{2,6}$", description="an officer's region code prefix, e.g. 5424"
    )
    employer_id: str | None = Field(
        None, min_length=1, max_length=ID_LENGTH, description="an employer key's employer"
    )
    name: str | None = Field(None, max_length=200, description="who holds the key")
    expires_at: Timestamp | None = Field(None, description="end of validity (default: none)")


class KeyPublic(BaseModel):
    """An API key as the store keeps it: never the key itself."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    role: str
    region_prefix: str | None = None
    employer_id: str | None = None
    name: str | None = None
    created_at: Timestamp
    expires_at: Timestamp | None = None
    revoked_at: Timestamp | None = None
    state: Literal["active", "expired", "revoked"]


class KeyCreated(KeyPublic):
    key: str = Field(description="the key, shown this once: store it now")


class KeysPublic(BaseModel):
    data: list[KeyPublic]
    count: int


def _key_view(row: ApiKey) -> dict:
    return {
        "id": row.id,
        "role": row.role,
        "region_prefix": row.region_prefix,
        "employer_id": row.employer_id,
        "name": row.name,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
        "state": auth.key_state(row),
    }


def _status(holder, request: Request) -> dict:
    loaded = holder.peek()
    serving = request.app.state.serving_state
    decision = serving.decision()
    return {
        "model_loaded": loaded is not None,
        "model_version": loaded.version if loaded else None,
        "path": str(loaded.path) if loaded and loaded.path else None,
        "loaded_at": loaded.loaded_at if loaded else None,
        "reason": holder.reason,
        "decided_version": decision.version if decision else None,
        "processes": serving.processes(),
    }


@router.get("/model", response_model=ModelStatus)
def model_status(principal: AdminPrincipal, holder: HolderDep, request: Request) -> dict:
    """Which model this process serves, since when, or why none; the version the store
    says to serve, and which version every live server process serves."""
    return _status(holder, request)


@router.post("/reload-model", response_model=ModelStatus)
def reload_model(
    principal: AdminPrincipal, holder: HolderDep, request: Request, response: Response
) -> dict:
    """Load the promoted model and swap it in; every other server process follows within
    seconds (the version is recorded in the store). Requests in flight finish on the
    model they started with."""
    try:
        loaded = holder.load()
    except ModelLoadError as exc:
        serving = holder.peek()
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{exc}; still serving {serving.version if serving else 'no model'}",
        ) from None
    if loaded is not None:
        request.app.state.serving_state.decide(loaded.version, by=principal.label)
    body = _status(holder, request)
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


@router.get("/keys", response_model=KeysPublic)
def list_keys(
    session: SessionDep,
    principal: AdminPrincipal,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict:
    """API keys (id, role, scope, holder, created, expiry, revocation), never the keys."""
    count = session.scalar(select(func.count()).select_from(ApiKey)) or 0
    rows = session.scalars(select(ApiKey).order_by(ApiKey.id).limit(limit).offset(offset)).all()
    return {"data": [_key_view(r) for r in rows], "count": int(count)}


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, session: SessionDep, principal: AdminPrincipal) -> dict:
    """Create an API key; the answer holds the key, and nothing will show it again."""
    try:
        new = auth.create_key(
            session,
            body.role,
            region_prefix=body.region_prefix,
            employer_id=body.employer_id,
            name=body.name,
            expires_at=body.expires_at,
        )
    except ValueError as exc:
        field = "expires_at" if "expiry" in str(exc) else "role"
        raise Invalid([field_error(field, str(exc), "value_error")]) from None
    row = session.get(ApiKey, new.row_id)
    assert row is not None
    return {**_key_view(row), "key": new.key}


@router.post("/keys/{key_id}/revoke", response_model=KeyPublic)
def revoke_key(key_id: RowIdPath, session: SessionDep, principal: AdminPrincipal) -> dict:
    """Revoke a key: it stops working at once here, within seconds in other processes."""
    if key_id == principal.key_id:
        raise Conflict(
            "this is the key you are using: revoke it with another admin key "
            "(or `jobmatch keys revoke`), so that no one locks themselves out"
        )
    row = auth.revoke_key(session, key_id)
    if row is None:
        raise not_found("key", str(key_id))
    return _key_view(row)
