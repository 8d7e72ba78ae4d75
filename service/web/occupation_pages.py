"""Page controls of occupation coding: officers correct a code on the vacancy and worker
pages; the vacancy form asks for the three most probable codes of the title typed.

Corrections go through :mod:`service.domain_occupations` (the same rules as the API)
and become training data for ``jobmatch occupation train``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from service import domain_occupations as occupations
from service.auth import SessionDep, WebPrincipal
from service.domain_errors import DomainError
from service.web import labels
from service.web.pages import FormDep
from service.web.render import login_redirect, page_lang

router = APIRouter(include_in_schema=False)


def _problem(request: Request, exc: DomainError) -> str:
    return labels.detail_message(exc.status_code, exc.detail, page_lang(request))


def _back(path: str, flash: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?flash={quote(flash)}#occupation-correction", status_code=303)


@router.post("/officer/vacancies/{vacancy_id}/occupation")
def correct_vacancy(
    vacancy_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    if principal is None:
        return login_redirect(request)
    page = f"/employer/vacancies/{quote(vacancy_id)}"
    try:
        occupations.correct_vacancy(
            session, principal, vacancy_id, str(form.get("code") or "").strip()
        )
    except DomainError as exc:
        session.rollback()
        return _back(page, "✗ " + _problem(request, exc))
    return _back(page, "occupation_corrected")


@router.post("/officer/workers/{worker_id}/occupation")
def correct_worker(
    worker_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    if principal is None:
        return login_redirect(request)
    page = f"/officer/workers/{quote(worker_id)}"
    try:
        occupations.correct_worker(
            session,
            principal,
            worker_id,
            str(form.get("text") or ""),
            str(form.get("code") or "").strip(),
        )
    except DomainError as exc:
        session.rollback()
        return _back(page, "✗ " + _problem(request, exc))
    return _back(page, "occupation_corrected")


@router.get("/occupation-suggestions")
def suggestions(
    request: Request,
    principal: WebPrincipal,
    title: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """The three most probable codes of a title, for the hint under the vacancy form."""
    if principal is None:
        return JSONResponse({"detail": "log in first"}, status_code=401)
    if not title.strip():
        return JSONResponse({"text": title, "data": [], "count": 0})
    return JSONResponse(occupations.suggest(title))
