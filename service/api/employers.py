"""Employers: admins register them; an employer reads its own record; officers read all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from service import domain
from service.api.params import EmployerIdPath, Offset
from service.auth import (
    AdminPrincipal,
    CurrentPrincipal,
    Principal,
    Role,
    SessionDep,
    require_roles,
)
from service.schemas import EmployerCreate, EmployerPublic, EmployersPublic

router = APIRouter(prefix="/employers", tags=["employers"])

StaffPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER))]


@router.post("", response_model=EmployerPublic, status_code=status.HTTP_201_CREATED)
def create_employer(body: EmployerCreate, session: SessionDep, principal: AdminPrincipal):
    """Register an employer (an employers record of the data contract)."""
    return domain.create_employer(session, body)


@router.get("", response_model=EmployersPublic)
def list_employers(
    session: SessionDep,
    principal: StaffPrincipal,
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=domain.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """List employers, optionally by region prefix."""
    rows, count = domain.list_employers(session, region, limit, offset)
    return {"data": rows, "count": count}


@router.get("/{employer_id}", response_model=EmployerPublic)
def get_employer(employer_id: EmployerIdPath, session: SessionDep, principal: CurrentPrincipal):
    """One employer (an employer's key reads only its own)."""
    return domain.get_employer(session, principal, employer_id)
