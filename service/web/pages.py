"""Server-rendered pages (Jinja2, no JavaScript build): log in, officer dashboard, worker page,
employer page, vacancy page. They call the same service layer as the API, so the rules
(scope, privacy, audit, contract validation) are the same.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from service import domain
from service.auth import KEY_COOKIE, Principal, Role, SessionDep, WebPrincipal, authenticate
from service.schemas import EmployerCandidatesPublic, OutcomeCreate, VacancyCreate
from service.web.render import login_redirect, render

router = APIRouter(include_in_schema=False)


async def form_data(request: Request) -> dict[str, Any]:
    """The posted form as a dict of strings (multi-valued fields keep the last value)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


FormDep = Annotated[dict[str, Any], Depends(form_data)]


def _safe_next(target: str | None) -> str:
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return "/"
    return target


def _home_of(principal: Principal) -> str:
    return "/employer" if principal.role == Role.EMPLOYER else "/officer"


def _error_page(request: Request, principal: Principal | None, exc: HTTPException) -> Response:
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.detail},
        principal=principal,
        status_code=exc.status_code,
    )


def _flash(request: Request) -> dict[str, Any]:
    msg = request.query_params.get("flash")
    return {"flash": msg} if msg else {}


# --------------------------------------------------------------------------- login


@router.get("/")
def landing(request: Request, principal: WebPrincipal) -> Response:
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(_home_of(principal), status_code=303)


@router.get("/login")
def login_page(request: Request, principal: WebPrincipal) -> Response:
    return render(
        request,
        "login.html",
        {"next": _safe_next(request.query_params.get("next"))},
        principal=principal,
    )


@router.post("/login")
def login(request: Request, session: SessionDep, form: FormDep) -> Response:
    key = (form.get("key") or "").strip()
    principal = authenticate(session, key)
    if principal is None:
        return render(
            request,
            "login.html",
            {"error": True, "next": _safe_next(form.get("next"))},
            status_code=401,
        )
    target = _safe_next(form.get("next"))
    if target in ("/", "/login"):
        target = _home_of(principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        KEY_COOKIE, key, httponly=True, samesite="strict", max_age=12 * 3600, path="/"
    )
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- officer


def _staff(principal: Principal | None) -> bool:
    return principal is not None and principal.role in (Role.ADMIN, Role.OFFICER)


@router.get("/officer")
def officer_dashboard(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if principal is None:
        return login_redirect(request)
    if not _staff(principal):
        return _error_page(request, principal, HTTPException(403, "officers and admins only"))
    qp = request.query_params
    flt = domain.WorkerFilter(
        region=(qp.get("region") or None),
        status=(qp.get("status") or None),
        q=(qp.get("q") or None),
        limit=50,
        offset=max(0, int(qp.get("offset") or 0)) if (qp.get("offset") or "0").isdigit() else 0,
    )
    counties = domain.workers_by_county(session, principal)
    searched = any(qp.get(k) for k in ("region", "status", "q"))
    workers: list[dict[str, Any]] = []
    count = 0
    error = None
    if searched:
        try:
            workers, count = domain.list_workers(
                session, principal, flt, purpose="officer dashboard search", path="/officer"
            )
        except HTTPException as exc:
            error = exc.detail
    return render(
        request,
        "officer.html",
        {
            "counties": counties,
            "total": sum(c["count"] for c in counties),
            "workers": workers,
            "count": count,
            "searched": searched,
            "flt": flt,
            "error": error,
        },
        principal=principal,
    )


@router.get("/officer/workers/{worker_id}")
def worker_page(
    worker_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if principal is None:
        return login_redirect(request)
    if not _staff(principal):
        return _error_page(request, principal, HTTPException(403, "officers and admins only"))
    try:
        worker = domain.get_worker(
            session, principal, worker_id, purpose="officer worker page", path=request.url.path
        )
    except HTTPException as exc:
        return _error_page(request, principal, exc)
    recs: dict[str, Any] | None = None
    no_model = None
    try:
        recs = domain.recommendations(
            session,
            principal,
            request.app.state.models,
            getattr(request.app.state, "catalogue_sync", None),
            worker_id,
            10,
        )
    except HTTPException as exc:
        no_model = exc.detail
    outcomes, _ = domain.list_outcomes(session, principal, worker_id, limit=20)
    from matcher.schema import OFFICER_OUTCOMES

    return render(
        request,
        "worker.html",
        {
            "w": worker,
            "recs": recs,
            "no_model": no_model,
            "outcomes": outcomes,
            "events": [e.value for e in OFFICER_OUTCOMES],
            **_flash(request),
        },
        principal=principal,
    )


@router.post("/officer/workers/{worker_id}/outcomes")
def worker_outcome(
    worker_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    if principal is None:
        return login_redirect(request)
    if not _staff(principal):
        return _error_page(request, principal, HTTPException(403, "officers and admins only"))
    try:
        body = OutcomeCreate(
            worker_id=worker_id,
            vacancy_id=(form.get("vacancy_id") or "").strip(),
            event=form.get("event") or "",  # type: ignore[arg-type]
            occurred_at=None,
        )
        domain.record_outcome(session, principal, body)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return RedirectResponse(
            f"/officer/workers/{quote(worker_id)}?flash={quote('✗ ' + msg)}", status_code=303
        )
    except HTTPException as exc:
        detail = exc.detail
        if isinstance(detail, list):
            detail = "; ".join(str(d.get("msg")) for d in detail)
        return RedirectResponse(
            f"/officer/workers/{quote(worker_id)}?flash={quote('✗ ' + str(detail))}",
            status_code=303,
        )
    return RedirectResponse(f"/officer/workers/{quote(worker_id)}?flash=outcome_saved", 303)


# --------------------------------------------------------------------------- employer

_VACANCY_FORM_FIELDS = (
    "vacancy_id",
    "employer_id",
    "title",
    "description",
    "occupation_code",
    "region",
    "headcount",
    "wage_min",
    "wage_max",
    "required_skills",
    "min_age",
    "max_age",
    "languages",
    "channel",
    "closes_at",
)
_VACANCY_FLAGS = ("housing", "meals", "labor_contract", "social_insurance")


def _vacancy_from_form(form: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in _VACANCY_FORM_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            record[name] = value
    for name in _VACANCY_FLAGS:
        record[name] = form.get(name) in ("on", "true", "1", "yes")
    return record


def _field_errors(errors: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        field = loc[0] if loc else "_"
        out.setdefault(field, str(err.get("msg")))
    return out


def _employer_context(session, principal: Principal) -> dict[str, Any]:
    flt = domain.VacancyFilter(limit=100)
    vacancies, count = domain.list_vacancies(session, principal, flt)
    from matcher.schema import Channel

    return {
        "vacancies": vacancies,
        "count": count,
        "channels": [c.value for c in Channel],
    }


@router.get("/employer")
def employer_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if principal is None:
        return login_redirect(request)
    if principal.role == Role.OFFICER:
        return RedirectResponse("/officer", status_code=303)
    ctx = _employer_context(session, principal)
    ctx.update({"form": {}, "errors": {}, **_flash(request)})
    return render(request, "employer.html", ctx, principal=principal)


@router.post("/employer/vacancies")
def employer_post_vacancy(
    request: Request, session: SessionDep, principal: WebPrincipal, form: FormDep
) -> Response:
    if principal is None:
        return login_redirect(request)
    if principal.role == Role.OFFICER:
        return _error_page(request, principal, HTTPException(403, "employers and admins only"))
    record = _vacancy_from_form(form)
    errors: dict[str, str] = {}
    try:
        body = VacancyCreate.model_validate(record)
        created = domain.create_vacancy(session, principal, body)
    except ValidationError as exc:
        errors = _field_errors([dict(e) for e in exc.errors()])
    except HTTPException as exc:
        if exc.status_code in (403, 422) and isinstance(exc.detail, list):
            errors = _field_errors(exc.detail)
        else:
            errors = {"_": str(exc.detail)}
    if errors:
        session.rollback()
        ctx = _employer_context(session, principal)
        ctx.update({"form": form, "errors": errors})
        return render(request, "employer.html", ctx, principal=principal, status_code=422)
    return RedirectResponse(
        f"/employer/vacancies/{quote(created['vacancy_id'])}?flash=vacancy_posted", 303
    )


@router.get("/employer/vacancies/{vacancy_id}")
def vacancy_page(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if principal is None:
        return login_redirect(request)
    try:
        vacancy = domain.get_vacancy(session, principal, vacancy_id)
    except HTTPException as exc:
        return _error_page(request, principal, exc)
    cands = None
    no_model = None
    try:
        cands = domain.candidates(
            session,
            principal,
            request.app.state.models,
            getattr(request.app.state, "catalogue_sync", None),
            vacancy_id,
            20,
        )
    except HTTPException as exc:
        no_model = exc.detail
    if cands is not None and principal.role == Role.EMPLOYER:
        # the employer schema has no field for personal data or the worker id
        cands = EmployerCandidatesPublic.model_validate(cands).model_dump()
    return render(
        request,
        "vacancy.html",
        {"v": vacancy, "cands": cands, "no_model": no_model, **_flash(request)},
        principal=principal,
    )


@router.post("/employer/vacancies/{vacancy_id}/close")
def vacancy_close(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if principal is None:
        return login_redirect(request)
    if principal.role == Role.OFFICER:
        return _error_page(request, principal, HTTPException(403, "employers and admins only"))
    try:
        domain.close_vacancy(session, principal, vacancy_id)
    except HTTPException as exc:
        return _error_page(request, principal, exc)
    return RedirectResponse(f"/employer/vacancies/{quote(vacancy_id)}?flash=saved", 303)
