"""Retention of the placements of an officer's region: survival curves by month since hire,
per destination province and per employer (Kaplan–Meier, ``matcher.evaluation.survival``).

A placement counts from its hire until it ended (left, wage arrears, injury, or a hire
elsewhere: the job was not kept) or, still open, until now (censored). A month is 30.44
days; a curve stops at the longest follow-up of its group (no extrapolation).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.data import reference
from matcher.evaluation.survival import kaplan_meier, survival_at
from service import clock
from service.auth import Principal, Role
from service.store.models import Employer, Placement, Vacancy, Worker

MONTH_DAYS = 30.44
GROUPINGS = ("province", "employer")


def _name(code: str) -> str:
    try:
        return reference.region_name(code) or code
    except KeyError:
        return code


def curves(
    session: Session,
    principal: Principal,
    *,
    by: str = "province",
    region: str | None = None,
    months: int = 12,
    top: int = 8,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Survival by month since hire for the placements of workers in scope, overall and
    per group (the ``top`` largest groups; the rest pooled as 其他)."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    now = now or clock.now_utc()
    stmt = (
        select(
            Placement.started_at,
            Placement.ended_at,
            Vacancy.region,
            Placement.employer_id,
            Employer.name,
        )
        .join(Worker, Worker.worker_id == Placement.worker_id)
        .join(Vacancy, Vacancy.vacancy_id == Placement.vacancy_id)
        .outerjoin(Employer, Employer.employer_id == Placement.employer_id)
    )
    if principal.role == Role.OFFICER:
        stmt = stmt.where(Worker.home_region.startswith(principal.region_prefix or ""))
    if region:
        stmt = stmt.where(Worker.home_region.startswith(region))
    groups: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    names: dict[str, str] = {}
    everyone: list[tuple[float, bool]] = []
    for started, ended, vregion, employer_id, employer_name in session.execute(stmt):
        if started > now:
            continue
        end = ended if ended is not None and ended <= now else now
        spell = (
            max((end - started).total_seconds() / 86400, 0.0),
            ended is not None and ended <= now,
        )
        everyone.append(spell)
        if by == "province":
            key = (vregion or "")[:2] + "0000"
            names[key] = _name(key)
        else:
            key = employer_id
            names[key] = employer_name or employer_id
        groups[key].append(spell)
    ranked = sorted(groups, key=lambda k: (-len(groups[k]), k))
    shown, rest = ranked[:top], ranked[top:]
    series = [_series("all", "全部", everyone, months)]
    series += [_series(k, names[k], groups[k], months) for k in shown]
    if rest:
        pooled = [s for k in rest for s in groups[k]]
        series.append(_series("other", f"其他（{len(rest)} 个）", pooled, months))
    return {"by": by, "months": months, "series": [s for s in series if s["n"]]}


def _series(key: str, name: str, spells: list[tuple[float, bool]], months: int) -> dict[str, Any]:
    if not spells:
        return {"key": key, "name": name, "n": 0, "left": 0, "points": []}
    time = np.array([t for t, _ in spells])
    event = np.array([e for _, e in spells])
    km_t, km_s = kaplan_meier(time, event)
    horizon = float(time.max())
    points = [
        {"month": m, "survival": float(survival_at(km_t, km_s, m * MONTH_DAYS))}
        for m in range(months + 1)
        if m * MONTH_DAYS <= horizon
    ]
    return {
        "key": key,
        "name": name,
        "n": len(spells),
        "left": int(event.sum()),
        "points": points,
    }
