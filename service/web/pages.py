"""Server-rendered pages (Jinja2, no JavaScript build): log in, officer home, worker page,
employer page, vacancy pages. They call the same service layer as the API, so the rules
(scope, privacy, audit, contract validation) are the same; what they add is the words:
codes become labels, errors become sentences naming the field, numbers become levels and
percentages (see :mod:`service.web.labels` and :mod:`service.web.display`).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlparse
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.data import reference
from matcher.data.schema import OFFICER_OUTCOMES, Channel
from service import clock, domain, domain_followups, followups, officer_day, proposals
from service.answers import as_list, not_looking
from service.auth import (
    KEY_COOKIE,
    Principal,
    Role,
    SessionDep,
    WebPrincipal,
    authenticate,
    check_attempts,
    record_failure,
)
from service.domain_errors import DomainError
from service.followups import FollowUpStatus
from service.schemas import EmployerCandidatesPublic, OutcomeCreate, VacancyCreate, VacancyUpdate
from service.store.models import Employer, Vacancy
from service.web import labels
from service.web.errors import error_page
from service.web.render import login_redirect, office_today, page_lang, render

router = APIRouter(include_in_schema=False)


async def form_data(request: Request) -> dict[str, Any]:
    """The posted form: one string per field; repeated fields (checkboxes) as lists."""
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values if len(values) > 1 else (values[0] if values else "")
    return out


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


def _error_page(
    request: Request, principal: Principal | None, exc: HTTPException | DomainError
) -> Response:
    return error_page(request, exc.status_code, exc.detail, principal=principal)


def _flash(request: Request) -> dict[str, Any]:
    msg = request.query_params.get("flash")
    return {"flash": msg} if msg else {}


def redirect_with(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


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
    key = str(form.get("key") or "").strip()
    check_attempts(request)
    principal = authenticate(session, key)
    if principal is None:
        record_failure(request)
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


def officer_gate(request: Request, principal: Principal | None) -> Response | None:
    """The answer for a visitor who may not use an officer's page (None: go ahead)."""
    if principal is None:
        return login_redirect(request)
    if not _staff(principal):
        return error_page(request, 403, "officers and admins only", principal=principal)
    return None


def employer_gate(request: Request, principal: Principal | None) -> Response | None:
    """The answer for a visitor who may not change vacancies (None: go ahead)."""
    if principal is None:
        return login_redirect(request)
    if principal.role == Role.OFFICER:
        return error_page(request, 403, "employers and admins only", principal=principal)
    return None


def _worker_filter(request: Request, limit: int = 50) -> domain.WorkerFilter:
    qp = request.query_params
    offset = qp.get("offset") or "0"
    return domain.WorkerFilter(
        region=(qp.get("region") or None),
        status=(qp.get("status") or None),
        q=(qp.get("q") or "").strip() or None,
        limit=limit,
        offset=int(offset) if offset.isdigit() else 0,
    )


def _region_options(principal: Principal, counties: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The places an officer can search: their prefecture (or province) and each county."""
    options = []
    if principal.region_prefix:
        options.append(
            {
                "code": principal.region_prefix,
                "name": reference.region_name(principal.region_prefix),
            }
        )
    for c in counties:
        options.append({"code": c["region"], "name": c["name"]})
    return options


@router.get("/officer")
def officer_dashboard(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    flt = _worker_filter(request)
    counties = domain.workers_by_county(session, principal)
    searched = bool(flt.q or flt.region or flt.status)
    workers: list[dict[str, Any]] = []
    count = 0
    error = None
    if searched:
        try:
            workers, count = domain.list_workers(
                session, principal, flt, purpose="officer home search", path="/officer"
            )
        except (HTTPException, DomainError) as exc:
            error = labels.detail_message(exc.status_code, exc.detail, page_lang(request))
    replace, n_replace = domain_followups.replacement_list(
        session, principal, limit=10, path="/officer"
    )
    zone = request.app.state.settings.office_timezone
    fu_counts = domain_followups.follow_up_counts(session, principal, zone=zone)
    week_end = datetime.now(ZoneInfo(zone)).replace(tzinfo=None) + timedelta(days=7)
    overdue, _ = domain_followups.list_follow_ups(
        session,
        principal,
        domain_followups.FollowUpFilter(status=FollowUpStatus.OVERDUE, limit=15),
        zone=zone,
    )
    upcoming, n_upcoming = domain_followups.list_follow_ups(
        session,
        principal,
        domain_followups.FollowUpFilter(status=FollowUpStatus.OPEN, due_before=week_end, limit=15),
        zone=zone,
    )
    due = overdue + upcoming
    due_names = officer_day.names(
        session, principal, [f["worker_id"] for f in due], "follow-ups due", "/officer"
    )
    monitored, n_monitored = officer_day.unplaced_monitored(session, principal, limit=10)
    months = officer_day.monthly(session, principal)
    peak = max([m["hired"] for m in months] + [1])
    return render(
        request,
        "officer.html",
        {
            "counties": counties,
            "total": sum(c["count"] for c in counties),
            "states": {
                key: sum(c.get(key, 0) for c in counties)
                for key in ("seeking", "employed", "needs_replacement")
            },
            "workers": workers,
            "count": count,
            "searched": searched,
            "flt": flt,
            "error": error,
            "regions": _region_options(principal, counties),
            "replace": replace,
            "n_replace": n_replace,
            "fu": fu_counts,
            "due": due,
            "n_upcoming": n_upcoming,
            "due_names": due_names,
            "monitored": monitored,
            "n_monitored": n_monitored,
            "months": months,
            "peak": peak,
            "export_query": urlencode(
                {k: v for k, v in (("q", flt.q), ("region", flt.region)) if v}
            ),
            "scope_name": reference.region_name(principal.region_prefix)
            if principal.region_prefix
            else None,
        },
        principal=principal,
    )


#: columns of the search export (no id number: the officer looks it up on the worker page)
_EXPORT_COLUMNS = (
    ("worker_id", "劳动力编号"),
    ("name", "姓名"),
    ("phone", "电话"),
    ("home_region_name", "户籍地"),
    ("education", "文化程度"),
    ("skills", "技能"),
    ("household_status", "家庭帮扶状态"),
    ("status", "就业状态"),
)


def csv_response(rows: list[list[Any]], filename: str) -> Response:
    """A UTF-8 CSV with a byte-order mark, so Excel opens the Chinese text correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerows(rows)
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/officer/export.csv")
def officer_export(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    """The officer's search as a CSV file (every row's read is audited)."""
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    flt = _worker_filter(request, limit=domain.MAX_PAGE)
    try:
        workers, _ = domain.list_workers(
            session, principal, flt, purpose="CSV export of a search", path=request.url.path
        )
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    rows: list[list[Any]] = [[title for _, title in _EXPORT_COLUMNS]]
    kinds = {
        "education": "education",
        "household_status": "household_status",
        "status": "worker_status",
    }
    for w in workers:
        row = []
        for key, _ in _EXPORT_COLUMNS:
            value = w.get(key)
            if key in kinds:
                value = labels.label(value, kinds[key])
            row.append("" if value is None else value)
        rows.append(row)
    return csv_response(rows, f"劳动力-{office_today(request).isoformat()}.csv")


@router.get("/officer/workers/{worker_id}")
def worker_page(
    worker_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    try:
        worker = domain.get_worker(
            session, principal, worker_id, purpose="officer worker page", path=request.url.path
        )
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    return render(
        request,
        "worker.html",
        {**_worker_context(request, session, principal, worker), **_flash(request)},
        principal=principal,
    )


def _worker_context(
    request: Request, session: Session, principal: Principal, worker: dict[str, Any]
) -> dict[str, Any]:
    worker_id = worker["worker_id"]
    recs: dict[str, Any] | None = None
    no_model = None
    try:
        recs = domain.recommendations(
            session,
            principal,
            request.app.state.models,
            request.app.state.catalogue_sync,
            worker_id,
            10,
            risk_threshold=request.app.state.settings.employer_risk_threshold,
            cache=request.app.state.serving_cache,
        )
    except (HTTPException, DomainError) as exc:
        no_model = labels.detail_message(exc.status_code, exc.detail, page_lang(request))
    employer_names: dict[str, str] = {}
    looking = None
    if recs is not None:
        employer_names = _employer_names(session, [r["employer_id"] for r in recs["data"]])
        loaded = request.app.state.models.current()
        if loaded is not None and recs["data"]:
            # why every chance is small for a worker not looking now, and the chances as if
            # the worker were (the list's order is the same either way)
            looking = not_looking(
                loaded.model, worker_id, {r["vacancy_id"]: r["score"] for r in recs["data"]}
            )
        details = _vacancy_column(session, [r["vacancy_id"] for r in recs["data"]], "closes_at")
        for r in recs["data"]:
            r["closes_at"] = details.get(r["vacancy_id"])
    outcomes, _ = domain.list_outcomes(session, principal, worker_id, limit=20)
    # the vacancies an outcome can be about: this worker's recommendations and the
    # vacancies of earlier outcomes (a hire is usually one of them)
    options: dict[str, str] = {}
    for r in (recs or {}).get("data", []):
        options.setdefault(r["vacancy_id"], r.get("title") or r["vacancy_id"])
    titles = _vacancy_titles(session, [o.vacancy_id for o in outcomes])
    for o in outcomes:
        options.setdefault(o.vacancy_id, titles.get(o.vacancy_id) or o.vacancy_id)
    zone = request.app.state.settings.office_timezone
    visits, _ = domain_followups.list_follow_ups(
        session,
        principal,
        domain_followups.FollowUpFilter(worker_id=worker_id, limit=20),
        zone=zone,
    )
    proposed, _ = proposals.officer_list(session, principal, worker_id=worker_id, limit=50)
    titles.update(_vacancy_titles(session, [p["vacancy_id"] for p in proposed]))
    return {
        "w": worker,
        "employer_names": employer_names,
        "proposals": proposed,
        "proposed": {p["vacancy_id"]: p for p in proposed},
        "follow_ups": visits,
        "recs": recs,
        "top": max([r["score"] for r in (recs or {}).get("data", [])] + [0.0]),
        "no_model": no_model,
        "looking": looking,
        "outcomes": outcomes,
        "outcome_titles": titles,
        "events": [e.value for e in OFFICER_OUTCOMES],
        "vacancy_options": options,
        "today": office_today(request).isoformat(),
        "form": {},
        "errors": {},
    }


def _vacancy_column(session: Session, ids: list[str], column: str) -> dict[str, Any]:
    """``vacancy_id -> value of column`` for the given vacancies (one query)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Vacancy.vacancy_id, getattr(Vacancy, column)).where(Vacancy.vacancy_id.in_(ids))
    )
    return {vid: value for vid, value in rows}


def _employer_names(session: Session, ids: list[str]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(
        select(Employer.employer_id, Employer.name).where(Employer.employer_id.in_(wanted))
    )
    return {eid: name for eid, name in rows if name}


def _vacancy_titles(session: Session, ids: list[str]) -> dict[str, str]:
    return _vacancy_column(session, ids, "title")


def _outcome_errors(form: dict[str, Any], today: date) -> dict[str, str]:
    """What the outcome form lacks, all at once (the service checks the rest)."""
    errors: dict[str, str] = {}
    if not str(form.get("vacancy_id") or "").strip():
        errors["vacancy_id"] = "请选择岗位。"
    if not form.get("event"):
        errors["event"] = "请选择结果。"
    when = str(form.get("occurred_at") or "").strip()
    if not when:
        errors["occurred_at"] = "请填写日期。"
    else:
        try:
            day = date.fromisoformat(when)
        except ValueError:
            errors["occurred_at"] = "日期格式应为 2026-05-01。"
        else:
            if day > today:
                errors["occurred_at"] = "日期不能晚于今天。"
    return errors


@router.post("/officer/workers/{worker_id}/outcomes")
def worker_outcome(
    worker_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    lang = page_lang(request)
    today = office_today(request)
    errors = _outcome_errors(form, today)
    body = None
    if not errors:
        day = date.fromisoformat(str(form["occurred_at"]).strip())
        # a date of today is stamped now; an earlier date at noon (UTC) of that day
        at = (
            clock.now_utc().replace(microsecond=0)
            if day == today
            else datetime.combine(day, time(12))
        )
        try:
            body = OutcomeCreate(
                worker_id=worker_id,
                vacancy_id=str(form.get("vacancy_id") or "").strip(),
                event=form.get("event") or "",  # type: ignore[arg-type]
                occurred_at=at,
                note=str(form.get("note") or "").strip() or None,
            )
            domain.record_outcome(session, principal, body)
        except ValidationError as exc:
            errors = labels.field_errors([dict(e) for e in exc.errors()], lang)
        except (HTTPException, DomainError) as exc:
            if exc.status_code in (403, 404):
                return _error_page(request, principal, exc)
            detail: list[Any] = (
                exc.detail if isinstance(exc.detail, list) else [{"msg": exc.detail}]
            )
            errors = labels.field_errors(detail, lang)
    if errors or body is None:
        session.rollback()
        try:
            worker = domain.get_worker(
                session, principal, worker_id, purpose="officer worker page", path=request.url.path
            )
        except (HTTPException, DomainError) as exc:
            return _error_page(request, principal, exc)
        ctx = _worker_context(request, session, principal, worker)
        ctx.update({"form": form, "errors": errors})
        return render(request, "worker.html", ctx, principal=principal, status_code=422)
    title = _vacancy_titles(session, [body.vacancy_id]).get(body.vacancy_id) or body.vacancy_id
    # the day the officer typed (the office's calendar day), not the stored UTC instant's day
    confirm = "已记录：{day} {event} · {title}".format(
        day=day.isoformat(),
        event=labels.label(body.event.value, "event", lang),
        title=title,
    )
    return redirect_with(f"/officer/workers/{quote(worker_id)}", flash=confirm)


# --------------------------------------------------------------------------- employer

_VACANCY_TEXT_FIELDS = (
    "employer_id",
    "title",
    "description",
    "occupation_code",
    "headcount",
    "wage_min",
    "wage_max",
    "required_skills",
    "min_age",
    "max_age",
    "channel",
    "closes_at",
)
_VACANCY_FLAGS = ("housing", "meals", "labor_contract", "social_insurance")


def region_code_of(text: str) -> str | None:
    """A region typed or chosen by name (广东省南山区, 南山区) or by its code."""
    text = text.strip()
    if not text:
        return None
    if reference.is_known_region(text):
        return text
    by_label = _region_choices()
    if text in by_label:
        return by_label[text]
    ends = {code for label, code in by_label.items() if label.endswith(text)}
    return ends.pop() if len(ends) == 1 else None


_REGION_CHOICES: dict[str, str] = {}


def _region_choices() -> dict[str, str]:
    """Every county's label -> code, for the place-of-work list (built once). A name two
    counties share (河北省桥西区) carries its code so that each label names one place."""
    if not _REGION_CHOICES:
        counties = [code for code in reference.regions() if len(code) == 6]
        names: dict[str, list[str]] = {}
        for code in counties:
            names.setdefault(reference.region_name(code), []).append(code)
        for name, codes in sorted(names.items()):
            for code in codes:
                _REGION_CHOICES[name if len(codes) == 1 else f"{name}（{code}）"] = code
    return _REGION_CHOICES


def _region_names() -> list[str]:
    return list(_region_choices())


def _region_label(code: str) -> str:
    for label, c in _region_choices().items():
        if c == code:
            return label
    return reference.region_name(code)


def _vacancy_from_form(form: dict[str, Any], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """The vacancy record a form describes, and the problems only the form can have
    (a place that names no region, headcount below one) — all at once."""
    record: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in _VACANCY_TEXT_FIELDS:
        value = str(form.get(name) or "").strip()
        if value:
            record[name] = value
    if "required_skills" in record:
        record["required_skills"] = [
            s
            for s in record["required_skills"].replace("，", ";").replace("、", ";").split(";")
            if s.strip()
        ]
    record["languages"] = as_list(form.get("languages") or None)  # "" when none ticked
    for name in _VACANCY_FLAGS:
        record[name] = form.get(name) in ("on", "true", "1", "yes")
    place = str(form.get("region_name") or "").strip()
    if not place:
        errors["region"] = "请选择工作地点（县、区）。"
    else:
        code = region_code_of(place)
        if code is None:
            errors["region"] = f"找不到“{place}”，请从列表中选择县、区。"
        else:
            record["region"] = code
    headcount = record.get("headcount")
    if headcount is None:
        errors["headcount"] = "请填写招聘人数。"
    elif not headcount.isdigit() or int(headcount) < 1:
        errors["headcount"] = "招聘人数至少为 1。"
    closes = record.get("closes_at")
    if closes:
        try:
            if date.fromisoformat(closes) < today:
                errors["closes_at"] = "截止日期不能早于今天。"
            else:
                record["closes_at"] = f"{closes}T23:59:59"
        except ValueError:
            errors["closes_at"] = "日期格式应为 2026-05-01。"
    return record, errors


def _employer_context(session: Session, principal: Principal, lang: str) -> dict[str, Any]:
    flt = domain.VacancyFilter(limit=100)
    vacancies, count = domain.list_vacancies(session, principal, flt)
    return {
        "vacancies": vacancies,
        "count": count,
        "channels": [c.value for c in Channel],
        "languages": labels.choices("language", lang, labels.FORM_LANGUAGES),
        "region_names": _region_names(),
    }


def _default_form(session: Session, principal: Principal, today: date) -> dict[str, Any]:
    form: dict[str, Any] = {
        "closes_at": (today + timedelta(days=30)).isoformat(),
        "headcount": "1",
        "languages": [],
    }
    if principal.employer_id:
        try:
            employer = domain.get_employer(session, principal, principal.employer_id)
            form["region_name"] = _region_label(employer.region)
        except (HTTPException, DomainError):
            pass
    return form


@router.get("/employer")
def employer_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if principal is None:
        return login_redirect(request)
    if principal.role == Role.OFFICER:
        return RedirectResponse("/officer", status_code=303)
    ctx = _employer_context(session, principal, page_lang(request))
    ctx.update(
        {
            "form": _default_form(session, principal, office_today(request)),
            "errors": {},
            **_flash(request),
        }
    )
    return render(request, "employer.html", ctx, principal=principal)


def _service_errors(exc: Exception, lang: str) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return labels.field_errors([dict(e) for e in exc.errors()], lang)
    assert isinstance(exc, HTTPException | DomainError)
    if isinstance(exc.detail, list):
        return labels.field_errors(exc.detail, lang)
    return {"_": labels.detail_message(exc.status_code, exc.detail, lang)}


@router.post("/employer/vacancies")
def employer_post_vacancy(
    request: Request, session: SessionDep, principal: WebPrincipal, form: FormDep
) -> Response:
    if (stop := employer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    lang = page_lang(request)
    record, errors = _vacancy_from_form(form, office_today(request))
    created = None
    employer_id = principal.employer_id or record.get("employer_id") or ""
    record["vacancy_id"] = domain.new_vacancy_id(session, employer_id or "V")
    try:
        body = VacancyCreate.model_validate(record)
        if not errors:
            created = domain.create_vacancy(session, principal, body)
    except (ValidationError, HTTPException, DomainError) as exc:
        for field, message in _service_errors(exc, lang).items():
            errors.setdefault(field, message)
    if errors:  # the contract's problems too, so that everything is said at once
        problems = domain.vacancy_problems({"employer_id": employer_id, **record})
        for field, message in labels.field_errors(problems, lang).items():
            errors.setdefault(field, message)
    if errors or created is None:
        session.rollback()
        ctx = _employer_context(session, principal, lang)
        ctx.update({"form": form, "errors": errors})
        return render(request, "employer.html", ctx, principal=principal, status_code=422)
    return redirect_with(
        f"/employer/vacancies/{quote(created['vacancy_id'])}",
        flash=f"岗位已发布：{created['title']}（编号 {created['vacancy_id']}）",
    )


@router.get("/employer/vacancies/{vacancy_id}")
def vacancy_page(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if principal is None:
        return login_redirect(request)
    try:
        vacancy = domain.get_vacancy(session, principal, vacancy_id)
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    cands = None
    no_model = None
    if vacancy.get("status") in (None, "open"):
        try:
            cands = domain.candidates(
                session,
                principal,
                request.app.state.models,
                request.app.state.catalogue_sync,
                vacancy_id,
                20,
            )
        except (HTTPException, DomainError) as exc:
            no_model = labels.detail_message(exc.status_code, exc.detail, page_lang(request))
    if cands is not None and principal.role == Role.EMPLOYER:
        # the employer schema has no field for personal data or the worker id
        cands = EmployerCandidatesPublic.model_validate(cands).model_dump()
    return render(
        request,
        "vacancy.html",
        {
            "v": vacancy,
            "cands": cands,
            "top": max([c["score"] for c in (cands or {}).get("data", [])] + [0.0]),
            "no_model": no_model,
            **_flash(request),
        },
        principal=principal,
    )


def _edit_form(vacancy: dict[str, Any]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for name in _VACANCY_TEXT_FIELDS:
        value = vacancy.get(name)
        if value is None:
            continue
        if name in ("wage_min", "wage_max") and isinstance(value, float):
            value = f"{value:.0f}"
        elif name == "closes_at":
            value = value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]
        elif name == "required_skills":
            value = ";".join(value)
        form[name] = str(value)
    form["languages"] = list(vacancy.get("languages") or [])
    for name in _VACANCY_FLAGS:
        form[name] = "on" if vacancy.get(name) else ""
    form["region_name"] = _region_label(vacancy["region"])
    return form


@router.get("/employer/vacancies/{vacancy_id}/edit")
def vacancy_edit_page(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := employer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    try:
        vacancy = domain.get_vacancy(session, principal, vacancy_id)
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    ctx = _employer_context(session, principal, page_lang(request))
    ctx.update({"v": vacancy, "form": _edit_form(vacancy), "errors": {}})
    return render(request, "vacancy_edit.html", ctx, principal=principal)


@router.post("/employer/vacancies/{vacancy_id}/edit")
def vacancy_edit(
    vacancy_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    if (stop := employer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    lang = page_lang(request)
    try:
        vacancy = domain.get_vacancy(session, principal, vacancy_id)
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    record, errors = _vacancy_from_form(form, office_today(request))
    record.pop("employer_id", None)
    if errors:
        merged = {**vacancy, **record}
        for field, message in labels.field_errors(domain.vacancy_problems(merged), lang).items():
            errors.setdefault(field, message)
    for name in (
        "description",
        "occupation_code",
        "wage_min",
        "wage_max",
        "min_age",
        "max_age",
        "channel",
        "closes_at",
        "required_skills",
    ):
        record.setdefault(name, None)
    if not errors:
        try:
            domain.update_vacancy(
                session, principal, vacancy_id, VacancyUpdate.model_validate(record)
            )
        except (ValidationError, HTTPException, DomainError) as exc:
            errors = _service_errors(exc, lang)
    if errors:
        session.rollback()
        ctx = _employer_context(session, principal, lang)
        ctx.update({"v": vacancy, "form": form, "errors": errors})
        return render(request, "vacancy_edit.html", ctx, principal=principal, status_code=422)
    return redirect_with(f"/employer/vacancies/{quote(vacancy_id)}", flash="岗位已更新。")


@router.post("/employer/vacancies/{vacancy_id}/close")
def vacancy_close(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := employer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    try:
        domain.close_vacancy(session, principal, vacancy_id)
    except (HTTPException, DomainError) as exc:
        return _error_page(request, principal, exc)
    return redirect_with(
        f"/employer/vacancies/{quote(vacancy_id)}", flash="岗位已关闭，不再推荐候选人。"
    )


@router.post("/officer/follow-ups/{follow_up_id}/complete")
def follow_up_complete(
    follow_up_id: int,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    form: FormDep,
) -> Response:
    """Record what a follow-up visit (or call) found, from the worker page."""
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or login_redirect(request)
    worker_id = str(form.get("worker_id") or "")
    back = f"/officer/workers/{quote(worker_id)}"
    employed = form.get("still_employed")
    if employed not in ("yes", "no"):
        return redirect_with(back, flash="✗ 请选择回访时此人是否仍在岗。")
    if employed == "no" and not str(form.get("left_reason") or "").strip():
        return redirect_with(back, flash="✗ 此人已不在岗：请填写离岗原因。")
    settings = request.app.state.settings
    findings = followups.Findings(
        still_employed=employed == "yes",
        paid_on_time={"yes": True, "no": False}.get(str(form.get("paid_on_time") or "")),
        left_reason=str(form.get("left_reason") or "").strip() or None,
        note=str(form.get("note") or "").strip() or None,
    )
    try:
        domain_followups.complete_follow_up(
            session,
            principal,
            follow_up_id,
            findings,
            visited_at=None,
            zone=settings.office_timezone,
            days=settings.followup_days,
            path=request.url.path,
        )
    except domain_followups.Conflict:
        return redirect_with(back, flash="✗ 这次回访已经记录过了。")
    except (HTTPException, DomainError) as exc:
        if exc.status_code in (403, 404):
            return _error_page(request, principal, exc)
        return redirect_with(back, flash="✗ " + labels.detail_message(exc.status_code, exc.detail))
    return redirect_with(back, flash="回访已记录。")
