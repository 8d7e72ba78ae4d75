"""Training-suggestion pages, in Chinese: the courses that would raise a worker's expected
stable placements the most (``/officer/workers/{id}/training``) and a county's ranking of
courses by their total effect over its job-seekers (``/officer/training``).

Self-contained (templates ``training_*.html`` extending ``base.html``); the work is done by
``service.domain_training``.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from service import domain, domain_training
from service.auth import SessionDep, WebPrincipal
from service.domain_errors import DomainError
from service.web import i18n, labels
from service.web.errors import error_page
from service.web.pages import officer_gate
from service.web.render import login_redirect, page_lang, render

router = APIRouter(include_in_schema=False)

i18n.add({"nav_training": ("培训建议", "Training")})


def _detail(request: Request, exc: HTTPException | DomainError) -> str:
    return labels.detail_message(exc.status_code, exc.detail, page_lang(request))


@router.get("/officer/workers/{worker_id}/training")
def worker_training_page(
    worker_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    try:
        body = domain_training.worker_suggestions(
            session,
            principal,
            request.app.state.models,
            request.app.state.catalogue_sync,
            worker_id,
            domain_training.DEFAULT_K,
        )
    except (HTTPException, DomainError) as exc:
        return error_page(request, exc.status_code, exc.detail, principal=principal)
    names = {c["course_id"]: c["name"] for c in domain_training.catalogue()}
    return render(
        request,
        "training_worker.html",
        {"s": body, "held_names": [names.get(c, c) for c in body["held"]]},
        principal=principal,
    )


@router.get("/officer/training")
def county_training_page(
    request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    counties = [c for c in domain.workers_by_county(session, principal) if len(c["region"]) == 6]
    counties.sort(key=lambda c: -c["seeking"])
    county = (request.query_params.get("county") or "").strip()
    raw_sample = (request.query_params.get("sample") or "").strip()
    errors: dict[str, str] = {}
    sample = domain_training.DEFAULT_SAMPLE
    if raw_sample:
        try:
            sample = int(raw_sample)
        except ValueError:
            errors["sample"] = "抽样人数应为整数。"
        else:
            if not domain_training.MIN_SAMPLE <= sample <= domain_training.MAX_SAMPLE:
                errors["sample"] = (
                    f"抽样人数应在 {domain_training.MIN_SAMPLE} 到 "
                    f"{domain_training.MAX_SAMPLE} 之间。"
                )
    if county and county not in {c["region"] for c in counties}:
        errors["county"] = "请从列表中选择您辖区内的县。"
    if not county and counties:
        county = counties[0]["region"]
    view = None
    problem = None
    if county and not errors:
        try:
            view = domain_training.county_suggestions(
                session,
                principal,
                request.app.state.models,
                request.app.state.catalogue_sync,
                county,
                sample,
                domain_training.DEFAULT_K,
            )
        except (HTTPException, DomainError) as exc:
            problem = _detail(request, exc)
    return render(
        request,
        "training_county.html",
        {
            "counties": counties,
            "county": county,
            "sample": raw_sample or sample,
            "errors": errors,
            "view": view,
            "problem": problem,
        },
        principal=principal,
        status_code=422 if errors else 200,
    )
