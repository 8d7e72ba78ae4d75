"""Vacancies: employers post, change and close their own; officers and admins see all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from service import domain
from service.api.params import Offset, RecordIdQuery, VacancyIdPath
from service.auth import CurrentPrincipal, EmployerPrincipal, SessionDep
from service.schemas import VacanciesPublic, VacancyCreate, VacancyPublic, VacancyUpdate

router = APIRouter(prefix="/vacancies", tags=["vacancies"])


@router.post("", response_model=VacancyPublic, status_code=status.HTTP_201_CREATED)
def create_vacancy(body: VacancyCreate, session: SessionDep, principal: EmployerPrincipal) -> dict:
    """Post a vacancy (a vacancies record); a blank occupation_code is inferred from the title."""
    return domain.create_vacancy(session, principal, body)


@router.get("", response_model=VacanciesPublic)
def list_vacancies(
    session: SessionDep,
    principal: CurrentPrincipal,
    employer_id: RecordIdQuery = None,
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    status_: Annotated[str | None, Query(alias="status", pattern="^(open|filled|closed)$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=domain.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> dict:
    """List vacancies (an employer's key sees only its own)."""
    flt = domain.VacancyFilter(
        employer_id=employer_id, region=region, status=status_, q=q, limit=limit, offset=offset
    )
    data, count = domain.list_vacancies(session, principal, flt)
    return {"data": data, "count": count}


@router.get("/{vacancy_id}", response_model=VacancyPublic)
def get_vacancy(
    vacancy_id: VacancyIdPath, session: SessionDep, principal: CurrentPrincipal
) -> dict:
    """One vacancy, with its occupation and how the code was obtained."""
    return domain.get_vacancy(session, principal, vacancy_id)


@router.patch("/{vacancy_id}", response_model=VacancyPublic)
def update_vacancy(
    vacancy_id: VacancyIdPath,
    body: VacancyUpdate,
    session: SessionDep,
    principal: EmployerPrincipal,
) -> dict:
    """Change some fields of your vacancy; fields not sent keep their value."""
    return domain.update_vacancy(session, principal, vacancy_id, body)


@router.post("/{vacancy_id}/close", response_model=VacancyPublic)
def close_vacancy(
    vacancy_id: VacancyIdPath, session: SessionDep, principal: EmployerPrincipal
) -> dict:
    """Close your vacancy: it is no longer recommended."""
    return domain.close_vacancy(session, principal, vacancy_id)
