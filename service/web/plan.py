"""The nightly plan for the officer who acts on it: names and links, decisions from the
page (采纳 keeps a pair in the next plans, 排除 keeps it out, 撤销 undoes either), and
the officer's rows as a CSV file. Reads of names and exports are audited.

The run pages themselves are :mod:`service.api.nightly`'s ``web_router``; it calls
:func:`decorate` to turn plan rows into what a person reads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import audit, nightly, officer_day
from service.auth import Principal, SessionDep, WebPrincipal
from service.store.models import Employer, MatchPin, MatchRun, Vacancy, Worker
from service.web import labels
from service.web.display import region_name
from service.web.errors import error_page
from service.web.pages import FormDep, csv_response, officer_gate, redirect_with
from service.web.render import office_today

router = APIRouter(include_in_schema=False)

#: the most plan rows one CSV export holds
EXPORT_ROWS = 20_000


def scope_of(principal: Principal) -> str | None:
    """The home-region prefix of the plan rows a principal sees (None: all, for admins)."""
    return None if principal.is_admin else (principal.region_prefix or "\x00")


def decorate(
    session: Session, principal: Principal, rows: list[dict[str, Any]], path: str
) -> list[dict[str, Any]]:
    """Plan rows with the worker's name (audited), the employer's name and the officer's
    decision on the pair (pin or exclude), ready for the page."""
    names = officer_day.names(
        session, principal, [r["worker_id"] for r in rows], "nightly plan page", path
    )
    employers = {
        eid: name
        for eid, name in session.execute(
            select(Employer.employer_id, Employer.name).where(
                Employer.employer_id.in_({r["employer_id"] for r in rows if r.get("employer_id")})
            )
        )
    }
    pairs = {(r["worker_id"], r["vacancy_id"]) for r in rows}
    decisions = {
        (p.worker_id, p.vacancy_id): p
        for p in session.scalars(
            select(MatchPin).where(MatchPin.worker_id.in_({w for w, _ in pairs}))
        )
        if (p.worker_id, p.vacancy_id) in pairs
    }
    for r in rows:
        r["name"] = names.get(r["worker_id"], r["worker_id"])
        r["employer_name"] = employers.get(r.get("employer_id") or "")
        pin = decisions.get((r["worker_id"], r["vacancy_id"]))
        r["decision"] = pin.kind if pin else None
        r["pin_id"] = pin.id if pin else None
    return rows


@router.post("/nightly/{run_id}/decide")
def decide(
    run_id: str, request: Request, session: SessionDep, principal: WebPrincipal, form: FormDep
) -> Response:
    """采纳 (pin), 排除 (exclude) or 撤销 (remove) the officer's decision on a planned pair."""
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or redirect_with("/login")
    back = f"/nightly/{quote(run_id)}?page={quote(str(form.get('page') or '1'))}"
    worker_id = str(form.get("worker_id") or "")
    vacancy_id = str(form.get("vacancy_id") or "")
    action = str(form.get("action") or "")
    home = session.scalar(select(Worker.home_region).where(Worker.worker_id == worker_id))
    if home is None or not principal.sees_region(home):
        return redirect_with(back, flash="✗ 这位劳动力不在您负责的地区内。")
    if session.get(Vacancy, vacancy_id) is None:
        return redirect_with(back, flash="✗ 没有这个岗位。")
    existing = session.scalars(
        select(MatchPin).where(MatchPin.worker_id == worker_id, MatchPin.vacancy_id == vacancy_id)
    ).first()
    if action == "undo":
        if existing is not None:
            session.delete(existing)
        return redirect_with(back, flash="已撤销，下次计划照常计算这一对。")
    if action not in ("pin", "exclude"):
        return redirect_with(back, flash="✗ 请选择采纳或排除。")
    if existing is not None:
        existing.kind = action
    else:
        session.add(
            MatchPin(
                worker_id=worker_id, vacancy_id=vacancy_id, kind=action, created_by=principal.key_id
            )
        )
    done = (
        "已采纳：下次计划会保留这一安排（名额允许时）。"
        if action == "pin"
        else "已排除：下次计划不再安排这一对。"
    )
    return redirect_with(back, flash=done)


@router.get("/nightly/{run_id}/plan.csv")
def export_plan(
    run_id: str, request: Request, session: SessionDep, principal: WebPrincipal
) -> Response:
    """The plan rows the officer sees, as a CSV file for Excel (the read is audited)."""
    if (stop := officer_gate(request, principal)) is not None or principal is None:
        return stop or redirect_with("/login")
    run = session.get(MatchRun, run_id)
    if run is None or run.status != "succeeded":
        return error_page(request, 404, f"no nightly run {run_id!r}", principal=principal)
    rows, _ = nightly.plan_page(
        session, run_id, region_prefix=scope_of(principal), offset=0, limit=EXPORT_ROWS
    )
    rows = decorate(session, principal, rows, request.url.path)
    audit.record(
        session, principal, "export_plan", [r["worker_id"] for r in rows], "plan export", None
    )
    out: list[list[Any]] = [
        ["劳动力编号", "姓名", "户籍地", "岗位编号", "岗位", "企业", "工作地点", "就业渠道"]
        + ["推荐理由", "处理"]
    ]
    for r in rows:
        out.append(
            [
                r["worker_id"],
                r["name"],
                region_name(r.get("home_region")),
                r["vacancy_id"],
                r.get("title") or "",
                r.get("employer_name") or r.get("employer_id") or "",
                region_name(r.get("region")),
                labels.label(r.get("channel"), "channel"),
                r.get("reasons") or "",
                labels.label(r.get("decision"), "pin_kind") if r.get("decision") else "",
            ]
        )
    return csv_response(out, f"安置计划-{run_id}-{office_today(request).isoformat()}.csv")
