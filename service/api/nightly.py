"""Nightly placement plans: run history, plans, pins and excludes (API), and the web pages.

``router`` is mounted under ``/api/v1`` (officers and admins); ``web_router`` serves
``/nightly`` (run history with a chart of placements by destination province and
channel) and ``/nightly/{run_id}`` (the plan table). Officers see only the plan rows of
workers inside their region scope; pins and excludes likewise only for those workers.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import nightly
from service.api.params import Offset, RowIdPath, RunIdPath
from service.auth import AdminPrincipal, OfficerPrincipal, Principal, SessionDep, WebPrincipal
from service.schemas import Timestamp
from service.store.models import MatchPin, MatchRun, Vacancy, Worker

log = logging.getLogger(__name__)

router = APIRouter(prefix="/nightly", tags=["nightly plan"])
web_router = APIRouter(include_in_schema=False)


# --------------------------------------------------------------------------- schemas


class RunPublic(BaseModel):
    run_id: str
    status: str = Field(description="running | succeeded | failed")
    started_at: Timestamp
    finished_at: Timestamp | None = None
    model_version: str | None = None
    input_hash: str | None = None
    objective: float | None = Field(None, description="weighted objective of the plan")
    counts: dict[str, Any] | None = Field(
        None,
        description="workers, seats, placed (pairs planned) and expected_stable_placements: "
        "the sum of the planned pairs' scores P(apply) * P(hire | apply) * P(stay | hire), "
        "the stable placements to expect when every planned pair is proposed",
    )
    summary: dict[str, Any] | None = Field(
        None, description="placements per channel, home county and destination province"
    )
    params: dict[str, Any] | None = None
    error: str | None = None


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int


class PlanRowPublic(BaseModel):
    worker_id: str
    vacancy_id: str
    score: float = Field(description="probability of a stable placement")
    reasons: str | None = None
    pinned: bool
    home_region: str | None = None
    title: str | None = None
    channel: str | None = None
    region: str | None = None
    employer_id: str | None = None


class PlanPublic(BaseModel):
    run_id: str
    data: list[PlanRowPublic]
    count: int = Field(description="plan rows visible to the caller, in all pages")


class PinCreate(BaseModel):
    worker_id: str = Field(min_length=1, max_length=64)
    vacancy_id: str = Field(min_length=1, max_length=64)
    kind: Literal["pin", "exclude"] = Field(
        description="pin: place this pair if at all feasible; exclude: never place it"
    )


class PinPublic(BaseModel):
    id: int
    worker_id: str
    vacancy_id: str
    kind: str
    created_by: int | None = None
    created_at: Timestamp | None = None


class PinsPublic(BaseModel):
    data: list[PinPublic]
    count: int


class RunCreate(BaseModel):
    run_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    k: int = Field(nightly.DEFAULT_K, ge=1, le=100)
    monitored_weight: float = Field(nightly.DEFAULT_MONITORED_WEIGHT, gt=0, le=10)


class RunStarted(BaseModel):
    run_id: str
    status: str


# --------------------------------------------------------------------------- helpers


def _runs_public(rows: list[MatchRun], session, principal: Principal) -> list[RunPublic]:
    out = [RunPublic.model_validate(r, from_attributes=True) for r in rows]
    if principal.is_admin:
        return out
    # the pin reports name workers: an officer sees those of their region only (one
    # query for the home regions of every run's pinned workers)
    ids = sorted(
        {str(p.get("worker_id")) for run in out for p in (run.summary or {}).get("pins") or []}
    )
    if not ids:
        return out
    homes = dict(
        session.execute(
            select(Worker.worker_id, Worker.home_region).where(Worker.worker_id.in_(ids))
        ).all()
    )
    for run in out:
        pins = (run.summary or {}).get("pins")
        if pins:
            run.summary = {
                **(run.summary or {}),
                "pins": [p for p in pins if principal.sees_region(homes.get(p.get("worker_id")))],
            }
    return out


def _get_run(session, run_id: str) -> MatchRun:
    row = session.get(MatchRun, run_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no nightly run {run_id!r}")
    return row


def _scope(principal: Principal) -> str | None:
    return None if principal.is_admin else (principal.region_prefix or "\x00")


def _worker_in_scope_or_404(session, principal: Principal, worker_id: str) -> None:
    """Answer 404 unless the worker exists within the caller's region scope.

    Unlike :func:`service.domain.check_worker_scope` (404 unknown, 403 out of scope), an
    out-of-scope worker gets the same 404 as an unknown one: pins must not let an officer
    probe which workers other regions hold."""
    home = session.execute(
        select(Worker.home_region).where(Worker.worker_id == worker_id)
    ).scalar_one_or_none()
    if home is None or not principal.sees_region(home):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no worker {worker_id!r} within your region scope"
        )


# --------------------------------------------------------------------------- API


@router.get("/runs", response_model=RunsPublic)
def list_runs(
    session: SessionDep,
    principal: OfficerPrincipal,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunsPublic:
    """Nightly runs, newest first."""
    rows, total = nightly.list_runs(session, offset=offset, limit=limit)
    return RunsPublic(data=_runs_public(rows, session, principal), count=total)


@router.get("/runs/{run_id}", response_model=RunPublic)
def get_run(run_id: RunIdPath, session: SessionDep, principal: OfficerPrincipal) -> RunPublic:
    """One run: status, counts, objective, model version and summaries."""
    return _runs_public([_get_run(session, run_id)], session, principal)[0]


@router.get("/runs/{run_id}/plan", response_model=PlanPublic)
def get_plan(
    run_id: RunIdPath,
    session: SessionDep,
    principal: OfficerPrincipal,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PlanPublic:
    """A succeeded run's plan, paged (officers: workers of their region scope only)."""
    row = _get_run(session, run_id)
    if row.status != "succeeded":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"run {run_id!r} is {row.status}; only a succeeded run has a plan"
            + (f" (error: {row.error})" if row.error else ""),
        )
    rows, total = nightly.plan_page(
        session, run_id, region_prefix=_scope(principal), offset=offset, limit=limit
    )
    return PlanPublic(run_id=run_id, data=[PlanRowPublic(**r) for r in rows], count=total)


_running_lock = threading.Lock()
_running: dict[str, threading.Thread] = {}


@router.post("/runs", response_model=RunStarted, status_code=status.HTTP_202_ACCEPTED)
def trigger_run(body: RunCreate, request: Request, principal: AdminPrincipal) -> RunStarted:
    """Start a nightly run now, in the background (admin). Poll ``GET /runs/{run_id}``."""
    settings = request.app.state.settings
    engine = request.app.state.engine
    run_id = body.run_id or nightly.new_run_id()
    with _running_lock:
        busy = [rid for rid, th in _running.items() if th.is_alive()]
        if busy:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"run {busy[0]!r} is still running in this service; wait for it to finish",
            )

        def work() -> None:
            try:
                nightly.run_match(
                    engine,
                    settings.model_dir,
                    run_id=run_id,
                    k=body.k,
                    monitored_weight=body.monitored_weight,
                    scheduler=settings.dask_scheduler,
                    use_settings_scheduler=False,
                )
            except Exception as exc:  # noqa: BLE001 - recorded as failed in match_runs
                log.warning("nightly run %s failed: %s", run_id, type(exc).__name__)

        nightly.register_run(engine, run_id)
        thread = threading.Thread(target=work, name=f"nightly-{run_id}", daemon=True)
        _running.clear()
        _running[run_id] = thread
        thread.start()
    return RunStarted(run_id=run_id, status="running")


@router.get("/pins", response_model=PinsPublic)
def list_pins(session: SessionDep, principal: OfficerPrincipal) -> PinsPublic:
    """Pins and excludes for the next run (officers: their region's workers)."""
    stmt = (
        select(MatchPin)
        .join(Worker, Worker.worker_id == MatchPin.worker_id)
        .order_by(MatchPin.worker_id, MatchPin.vacancy_id)
    )
    scope = _scope(principal)
    if scope:
        stmt = stmt.where(Worker.home_region.like(f"{scope}%"))
    rows = session.scalars(stmt).all()
    return PinsPublic(
        data=[PinPublic.model_validate(r, from_attributes=True) for r in rows], count=len(rows)
    )


@router.post("/pins", response_model=PinPublic, status_code=status.HTTP_201_CREATED)
def create_pin(body: PinCreate, session: SessionDep, principal: OfficerPrincipal) -> PinPublic:
    """Pin (force) or exclude (forbid) a worker-vacancy pair in the next runs."""
    _worker_in_scope_or_404(session, principal, body.worker_id)
    if session.get(Vacancy, body.vacancy_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vacancy {body.vacancy_id!r}")
    existing = session.scalars(
        select(MatchPin).where(
            MatchPin.worker_id == body.worker_id, MatchPin.vacancy_id == body.vacancy_id
        )
    ).first()
    if existing is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"this pair is already {existing.kind}ned (id {existing.id}); delete it first",
        )
    pin = MatchPin(
        worker_id=body.worker_id,
        vacancy_id=body.vacancy_id,
        kind=body.kind,
        created_by=principal.key_id,
    )
    session.add(pin)
    try:
        session.flush()
    except IntegrityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, "this pair is already pinned") from exc
    session.refresh(pin)
    return PinPublic.model_validate(pin, from_attributes=True)


@router.delete("/pins/{pin_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_pin(pin_id: RowIdPath, session: SessionDep, principal: OfficerPrincipal) -> Response:
    """Remove a pin or exclude."""
    pin = session.get(MatchPin, pin_id)
    if pin is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pin {pin_id}")
    _worker_in_scope_or_404(session, principal, pin.worker_id)
    session.delete(pin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- web pages

CHANNEL_COLOURS = {
    "cross_province_transfer": "#b42318",
    "in_province": "#1570ef",
    "employment_factory": "#027a48",
    "public_welfare_post": "#b54708",
    "infrastructure_project": "#6941c6",
    "unknown": "#98a2b3",
}


def province_channel_chart(summary: dict[str, Any] | None, width: int = 640) -> dict[str, Any]:
    """Bars (one per destination province, stacked by channel) for the SVG chart."""
    from service.nightly import region_label

    cells = (summary or {}).get("by_province_channel") or []
    totals: dict[str, int] = {}
    for c in cells:
        totals[c["province"]] = totals.get(c["province"], 0) + int(c["placements"])
    provinces = sorted(totals, key=lambda p: (-totals[p], p))[:15]
    peak = max(totals.values(), default=0) or 1
    label_w, bar_h, gap = 140, 18, 6
    plot_w = width - label_w - 60
    bars = []
    for i, prov in enumerate(provinces):
        x = float(label_w)
        segs = []
        for c in sorted(
            (c for c in cells if c["province"] == prov), key=lambda c: str(c["channel"])
        ):
            w = plot_w * int(c["placements"]) / peak
            segs.append(
                {
                    "x": round(x, 1),
                    "w": round(w, 1),
                    "colour": CHANNEL_COLOURS.get(c["channel"], "#98a2b3"),
                    "channel": c["channel"],
                    "n": int(c["placements"]),
                }
            )
            x += w
        bars.append(
            {
                "y": i * (bar_h + gap),
                "label": region_label(prov if prov != "unknown" else None),
                "total": totals[prov],
                "end": round(x, 1),
                "segments": segs,
            }
        )
    channels = sorted({str(c["channel"]) for c in cells})
    return {
        "bars": bars,
        "height": max(1, len(bars)) * (bar_h + gap),
        "width": width,
        "bar_h": bar_h,
        "legend": [(ch, CHANNEL_COLOURS.get(ch, "#98a2b3")) for ch in channels],
    }


def _words() -> None:
    from service.web import i18n

    i18n.add(
        {
            "nightly_runs": ("匹配批次", "Runs"),
            "nightly_intro": (
                "每晚为所有在册待岗劳动力生成一份安置计划：每人至多一个岗位，岗位不超过空缺名额，"
                "并最大化按计划推荐后的预期稳定就业人数（每对：投递×录用×留任的概率）。",
                "Every night one plan for all active workers: at most one placement each, no "
                "vacancy over its open seats, maximising the stable placements to expect when "
                "the plan is proposed (each pair: P(apply) × P(hire | apply) × P(stay | hire)).",
            ),
            "run_id": ("批次", "Run"),
            "status": ("状态", "Status"),
            "started": ("开始", "Started"),
            "finished": ("结束", "Finished"),
            "placed": ("安置人数", "Placed"),
            "expected_stable": ("推荐后预期稳定就业", "Expected stable, if proposed"),
            "objective": ("目标值", "Objective"),
            "by_province_channel": (
                "按目的地省份和渠道的安置人数",
                "Placements by destination province and channel",
            ),
            "plan": ("安置计划", "Plan"),
            "no_runs": (
                "还没有安置计划。计划由系统每晚为全部求职者和在招岗位计算一次：每人至多安排一个岗位、"
                "岗位不超过空缺名额，并让预计稳定就业的人数最多。部署时管理员设置定时任务每晚运行 "
                "jobmatch match（见 docs/service.md）；第一次运行完成后计划会出现在这里。",
                "No plan yet. The system computes one every night for every job-seeker and open "
                "vacancy: at most one vacancy each, no vacancy over its seats, the most stable "
                "placements to expect. An admin schedules jobmatch match nightly (docs/service.md); "
                "the plan appears here after the first run.",
            ),
            "pinned": ("指定", "Pinned"),
            "score": ("稳定就业概率", "Stable-placement probability"),
            "reasons": ("理由", "Reasons"),
            "channel": ("渠道", "Channel"),
            "home_county": ("户籍县", "Home county"),
            "by_channel": ("按渠道", "By channel"),
            "by_county": ("按户籍县", "By home county"),
            "previous": ("上一页", "Previous"),
            "next": ("下一页", "Next"),
            "rows_visible": ("您可见的计划行", "plan rows visible to you"),
            "pins_report": ("指定与排除", "Pins"),
            "active_workers": ("在册待岗劳动力", "Active workers"),
            "seats": ("空缺名额", "Open seats"),
            "monitored_rate": ("监测户安置率", "Placement rate, monitored households"),
            "other_rate": ("其他劳动力安置率", "Placement rate, other workers"),
            "priority_posts": (
                "公益性岗位与就业帮扶车间",
                "Public-welfare posts and employment factories",
            ),
            "priority_posts_note": (
                "政策优先安置半/弱劳动力和无法离乡的劳动力：计划中这些岗位的去向。",
                "Policy gives these seats first to semi/weak labour and workers who cannot "
                "leave home: who takes them in this plan.",
            ),
            "to_priority": ("给优先人群", "To priority workers"),
            "priority_waiting": (
                "有候选但未安置的优先人群",
                "Priority workers with a candidate seat, unplaced",
            ),
        }
    )


_words()


@web_router.get("/nightly", response_class=HTMLResponse)
def nightly_page(request: Request, session: SessionDep, principal: WebPrincipal) -> Response:
    from service.web.render import login_redirect, render

    if principal is None:
        return login_redirect(request)
    if principal.role.value not in ("admin", "officer"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the nightly plan is for officers")
    runs, total = nightly.list_runs(session, limit=30)
    latest = next((r for r in runs if r.status == "succeeded"), None)
    chart = province_channel_chart(latest.summary if latest else None)
    return render(
        request,
        "nightly.html",
        {"runs": runs, "total": total, "latest": latest, "chart": chart},
        principal=principal,
    )


@web_router.get("/nightly/{run_id}", response_class=HTMLResponse)
def nightly_run_page(
    run_id: RunIdPath,
    request: Request,
    session: SessionDep,
    principal: WebPrincipal,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    from service.web import plan
    from service.web.display import region_name
    from service.web.render import login_redirect, render

    if principal is None:
        return login_redirect(request)
    if principal.role.value not in ("admin", "officer"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the nightly plan is for officers")
    # as the API shows it: the pin report names only the officer's own workers
    run = _runs_public([_get_run(session, run_id)], session, principal)[0]
    per_page = 100
    rows: list[dict[str, Any]] = []
    total = 0
    if run.status == "succeeded":
        rows, total = nightly.plan_page(
            session,
            run_id,
            region_prefix=_scope(principal),
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        rows = plan.decorate(session, principal, rows, request.url.path)
    return render(
        request,
        "nightly_run.html",
        {
            "run": run,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // per_page)),
            "chart": province_channel_chart(run.summary),
            "scope_name": region_name(principal.region_prefix) if principal.region_prefix else None,
            "flash": request.query_params.get("flash"),
        },
        principal=principal,
    )
