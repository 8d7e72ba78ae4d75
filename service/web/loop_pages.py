"""Pages of the stable-placement loop, in Chinese: retention curves of the region, employers'
risk (flagged for the labour inspectorate, with evidence) and reply rates for officers;
proposed candidates with answer forms and notices for employers.

Self-contained (own templates ``loop_*.html`` extending ``base.html``); the domain work
is done by ``service.retention``, ``service.employer_risk`` and ``service.proposals``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from service import domain, employer_risk, proposals, retention
from service.auth import SessionDep, WebPrincipal
from service.domain_errors import DomainError
from service.web import i18n
from service.web.errors import error_page
from service.web.pages import employer_gate, officer_gate
from service.web.render import render

router = APIRouter(include_in_schema=False)

i18n.add(
    {
        "nav_retention": ("稳岗情况", "Retention"),
        "nav_employer_risk": ("企业风险", "Employer risk"),
        "nav_proposals": ("推荐人选与答复", "Proposed candidates"),
        "nav_notices": ("通知", "Notices"),
        "no_notices": ("没有通知。", "No notices."),
        "propose": ("推荐给企业", "Propose"),
        "proposals_worker": ("已推荐给企业", "Proposed to employers"),
        "proposed_at": ("推荐日期", "Proposed on"),
        "employer_answer": ("企业答复", "Employer's answer"),
        "proposal_employer": ("企业", "Employer"),
        "proposal_proposed": ("待答复", "awaiting an answer"),
        "proposal_interested": ("有意向", "interested"),
        "proposal_not_suitable": ("不合适", "not suitable"),
        "proposal_hired": ("已录用", "hired"),
    }
)

#: Line colours of the curves (the first is "all").
COLOURS = ("#1f2933", "#1570ef", "#027a48", "#b54708", "#b42318", "#6941c6", "#0e9384", "#c11574")
REASON_WORDS = {
    "skills": "技能不符",
    "experience": "经验不足",
    "language": "语言沟通困难",
    "location": "路程或住宿不合适",
    "filled": "岗位已招满",
    "unreachable": "联系不上",
    "other": "其他",
}
STATUS_WORDS = {
    "proposed": "待答复",
    "interested": "有意向",
    "not_suitable": "不合适",
    "hired": "已录用",
}
CASE_WORDS = {
    "wage_arrears": "欠薪",
    "no_contract": "未签劳动合同",
    "no_insurance": "未缴社保",
    "injury": "工伤",
}


def chart(series: list[dict[str, Any]], months: int, width: int = 640, height: int = 260) -> dict:
    """An SVG line chart's geometry: one polyline per series, survival 0–100 % on y."""
    left, right, top, bottom = 44, 12, 10, 30
    w, h = width - left - right, height - top - bottom
    lines = []
    for i, s in enumerate(series):
        pts = " ".join(
            f"{left + w * p['month'] / months:.1f},{top + h * (1 - p['survival']):.1f}"
            for p in s["points"]
        )
        # the series first: its own "points" (months and survival) must not replace the
        # polyline's coordinates
        lines.append({**s, "points": pts, "colour": COLOURS[i % len(COLOURS)]})
    return {
        "width": width,
        "height": height,
        "lines": lines,
        "x_ticks": [
            {"x": left + w * m / months, "label": m}
            for m in range(0, months + 1, 3 if months > 6 else 1)
        ],
        "y_ticks": [{"y": top + h * (1 - v / 100), "label": f"{v}%"} for v in (0, 25, 50, 75, 100)],
        "left": left,
        "top": top,
        "bottom": top + h,
        "right": left + w,
    }


def _at(series: dict[str, Any], month: int) -> float | None:
    for p in series["points"]:
        if p["month"] == month:
            return p["survival"]
    return None


@router.get("/officer/retention")
def retention_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if (stop := officer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    months = 12
    views = []
    for by, title in (("province", "按去向省份"), ("employer", "按用工企业")):
        data = retention.curves(session, principal, by=by, months=months)
        rows = [{**s, "m1": _at(s, 1), "m3": _at(s, 3), "m6": _at(s, 6)} for s in data["series"]]
        views.append(
            {"by": by, "title": title, "chart": chart(data["series"], months), "rows": rows}
        )
    counts = domain.workers_by_county(session, principal)
    return render(
        request,
        "loop_retention.html",
        {"views": views, "counties": counts, "months": months},
        principal=principal,
    )


@router.get("/officer/employer-risk")
def employer_risk_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if (stop := officer_gate(request, principal)) is not None:
        return stop
    threshold = request.app.state.settings.employer_risk_threshold
    flagged = employer_risk.flagged(session, threshold=threshold)
    replies = proposals.reply_stats(session)
    return render(
        request,
        "loop_employer_risk.html",
        {"flagged": flagged, "replies": replies, "threshold": threshold, "detail": None},
        principal=principal,
    )


@router.get("/officer/employer-risk/{employer_id}")
def employer_risk_detail(
    employer_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := officer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    threshold = request.app.state.settings.employer_risk_threshold
    detail = employer_risk.evidence(session, principal, employer_id, threshold=threshold)
    if detail["employer_name"] is None and not detail["hires"]:
        return error_page(request, 404, f"没有编号为 {employer_id} 的用工企业", principal=principal)
    return render(
        request,
        "loop_employer_risk.html",
        {
            "flagged": None,
            "replies": proposals.reply_stats(session, [employer_id]),
            "threshold": threshold,
            "detail": detail,
            "case_words": CASE_WORDS,
        },
        principal=principal,
    )


@router.get("/employer/vacancies/{vacancy_id}/proposals")
def proposals_page(
    vacancy_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    if (stop := employer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    proposals.close_idle(session)
    try:
        rows = proposals.employer_view(
            session,
            principal,
            vacancy_id,
            profiles=domain.candidate_profiles(
                session, proposals.proposed_workers(session, vacancy_id)
            ),
            candidate_ref=domain.candidate_ref,
        )
    except DomainError as exc:
        return error_page(request, exc.status_code, exc.detail, principal=principal)
    return render(
        request,
        "loop_proposals.html",
        {
            "vacancy_id": vacancy_id,
            "rows": rows,
            "status_words": STATUS_WORDS,
            "reason_words": REASON_WORDS,
            "notices": [
                n for n in proposals.notices(session, principal) if n.vacancy_id == vacancy_id
            ],
            "flash": request.query_params.get("flash"),
        },
        principal=principal,
    )


@router.post("/employer/proposals/{proposal_id}/answer")
def answer_page(
    proposal_id: int,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    vacancy_id: Annotated[str, Form(max_length=64)],
    answer: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if (stop := employer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    back = f"/employer/vacancies/{quote(vacancy_id)}/proposals"
    try:
        decision = proposals.Answer(answer)
        why = proposals.NotSuitableReason(reason) if reason else None
    except ValueError:
        return RedirectResponse(f"{back}?flash={quote('✗ 请选择答复')}", status_code=303)
    try:
        proposals.answer(session, principal, proposal_id, decision, why, note.strip() or None)
    except DomainError as exc:
        message = "✗ " + (
            "请选择不合适的原因"
            if exc.status_code == 422 and "reason" in str(exc.detail)
            else "选择“其他”时请写明原因"
            if exc.status_code == 422
            else "该人选已答复过"
            if exc.status_code == 409
            else "无法答复该人选"
        )
        return RedirectResponse(f"{back}?flash={quote(message)}", status_code=303)
    return RedirectResponse(f"{back}?flash={quote('已记录您的答复')}", status_code=303)


@router.get("/employer/notices")
def notices_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    if (stop := employer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    proposals.close_idle(session)
    return render(
        request,
        "loop_notices.html",
        {"notices": proposals.notices(session, principal)},
        principal=principal,
    )


@router.post("/officer/workers/{worker_id}/proposals")
def propose_page(
    worker_id: str,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    vacancy_id: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """An officer proposes the worker for a recommended vacancy (the employer answers)."""
    if (stop := officer_gate(request, principal)) is not None:
        return stop
    assert principal is not None
    back = f"/officer/workers/{quote(worker_id)}"
    if not vacancy_id.strip():
        return RedirectResponse(f"{back}?flash={quote('✗ 请选择要推荐的岗位')}#proposals", 303)
    try:
        proposals.propose(session, principal, worker_id, vacancy_id.strip(), note.strip() or None)
    except DomainError as exc:
        if exc.status_code == 403:
            return error_page(request, exc.status_code, exc.detail, principal=principal)
        message = "✗ " + (
            "已经向该企业推荐过此人"
            if exc.status_code == 409
            else "该岗位已招满或已关闭，不能推荐"
            if exc.status_code == 422
            else "无法推荐"
        )
        return RedirectResponse(f"{back}?flash={quote(message)}#proposals", status_code=303)
    done = "已推荐给企业，等待企业答复"
    return RedirectResponse(f"{back}?flash={quote(done)}#proposals", status_code=303)
