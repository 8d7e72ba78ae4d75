"""Who takes the seats that policy reserves first for the weakest workers.

Public-welfare posts (``public_welfare_post``: village cleaners, forest rangers, road
keepers) and the seats of rural employment factories (``employment_factory``, 就业帮扶
车间: workshops in or near the village) exist for workers who cannot take an ordinary
job far away: policy gives them first to **priority workers** — semi or weak labour
(``labor_capacity`` ``semi``/``weak``) and workers who cannot leave home (``mobility``
``local``). The nightly plan favours them on public-welfare posts
(``matcher.planning.assignment``'s welfare bonus); this module reports what the plan actually
did, per channel:

* ``seats_open`` — open seats of that channel; ``seats_planned`` — seats the plan fills;
* ``to_priority`` and ``share_to_priority`` — planned seats that go to priority workers,
  and their share of the planned seats (None when the plan fills none);
* ``by_group`` — planned seats per worker situation (``semi/weak, home-bound``,
  ``semi/weak, mobile``, ``full, home-bound``, ``full, mobile``, ``not stated``);
* ``priority_unplaced_with_candidate`` — priority workers with a candidate seat of that
  channel whom the plan leaves without any placement (only with ``candidates``);
* ``seats_left_with_priority_candidate`` — seats of that channel left empty although a
  priority worker who was not placed elsewhere had it among their candidates.

Pure functions: frames in, plain dicts out (JSON-ready for the nightly run's summary).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matcher.data.schema import Channel, Columns, LaborCapacity, Mobility

__all__ = ["PRIORITY_CHANNELS", "is_priority_worker", "priority_post_report", "worker_situation"]

#: Channels whose seats policy gives first to priority workers.
PRIORITY_CHANNELS: tuple[str, ...] = (
    Channel.PUBLIC_WELFARE_POST.value,
    Channel.EMPLOYMENT_FACTORY.value,
)
_WEAK = (LaborCapacity.SEMI.value, LaborCapacity.WEAK.value)
SITUATIONS = (
    "semi/weak, home-bound",
    "semi/weak, mobile",
    "full, home-bound",
    "full, mobile",
    "not stated",
)


def _column(workers: pd.DataFrame, name: str) -> pd.Series:
    if name in workers.columns:
        return workers[name].astype(object)
    return pd.Series([None] * len(workers), index=workers.index, dtype=object)


def is_priority_worker(workers: pd.DataFrame) -> pd.Series:
    """True for semi or weak labour and for workers who cannot leave home (``local``).

    Indexed by ``worker_id``; a missing column counts as "not a priority worker".
    """
    capacity = _column(workers, "labor_capacity")
    mobility = _column(workers, "mobility")
    flag = capacity.isin(_WEAK) | (mobility == Mobility.LOCAL.value)
    return pd.Series(flag.to_numpy(bool), index=workers[Columns.Worker].to_numpy(object))


def worker_situation(workers: pd.DataFrame) -> pd.Series:
    """One of :data:`SITUATIONS` per worker (labour capacity × can or cannot leave home)."""
    capacity = _column(workers, "labor_capacity")
    mobility = _column(workers, "mobility")
    cap = np.where(
        capacity.isin(_WEAK),
        "semi/weak",
        np.where(capacity == LaborCapacity.FULL.value, "full", ""),
    )
    mob = np.where(
        mobility == Mobility.LOCAL.value,
        "home-bound",
        np.where(mobility.isin([Mobility.ANY.value, Mobility.PROVINCE.value]), "mobile", ""),
    )
    label = [f"{c}, {m}" if c and m else "not stated" for c, m in zip(cap, mob, strict=True)]
    return pd.Series(label, index=workers[Columns.Worker].to_numpy(object), dtype=object)


def priority_post_report(
    plan: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
) -> dict[str, dict[str, Any]]:
    """Per priority channel, who takes its planned seats (see the module docstring).

    Parameters
    ----------
    plan : DataFrame
        ``worker_id, vacancy_id`` of the planned placements.
    workers : DataFrame
        ``worker_id`` and, when known, ``labor_capacity`` and ``mobility``.
    vacancies : DataFrame
        The open vacancies: ``vacancy_id``, ``channel``, ``headcount`` (open seats).
    candidates : DataFrame, optional
        ``worker_id, vacancy_id`` of the plan's candidate graph.

    Returns
    -------
    dict
        ``{channel: {seats_open, seats_planned, to_priority, share_to_priority, by_group,
        priority_unplaced_with_candidate, seats_left_with_priority_candidate}}``.

    Raises
    ------
    ValueError
        A frame lacks an id column, or ``vacancies`` lacks ``channel``/``headcount``.
    """
    for frame, name, cols in (
        (plan, "plan", (Columns.Worker, Columns.Vacancy)),
        (workers, "workers", (Columns.Worker,)),
        (vacancies, "vacancies", (Columns.Vacancy, "channel", "headcount")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")
    priority = is_priority_worker(workers)
    situation = worker_situation(workers)
    channel = vacancies.set_index(Columns.Vacancy)["channel"].astype(object)
    seats = pd.to_numeric(vacancies.set_index(Columns.Vacancy)["headcount"], errors="coerce")
    seats = seats.fillna(0).clip(lower=0)
    planned = plan[[Columns.Worker, Columns.Vacancy]].assign(
        channel=plan[Columns.Vacancy].map(channel).to_numpy(object)
    )
    placed_workers = set(plan[Columns.Worker])
    filled = planned.groupby(Columns.Vacancy).size()
    empty_seats = (seats - filled.reindex(seats.index).fillna(0)).clip(lower=0)
    out: dict[str, dict[str, Any]] = {}
    for name in PRIORITY_CHANNELS:
        part = planned[planned["channel"] == name]
        flags = priority.reindex(part[Columns.Worker]).fillna(False).to_numpy(bool)
        groups = situation.reindex(part[Columns.Worker]).fillna("not stated")
        n = len(part)
        entry: dict[str, Any] = {
            "seats_open": int(seats[channel.reindex(seats.index) == name].sum()),
            "seats_planned": int(n),
            "to_priority": int(flags.sum()),
            "share_to_priority": round(float(flags.mean()), 6) if n else None,
            "by_group": {g: int((groups == g).sum()) for g in SITUATIONS},
        }
        if candidates is not None and len(candidates):
            cand = candidates[[Columns.Worker, Columns.Vacancy]].drop_duplicates()
            cand = cand[cand[Columns.Vacancy].map(channel).to_numpy(object) == name]
            is_prio = priority.reindex(cand[Columns.Worker]).fillna(False).to_numpy(bool)
            waiting = cand[is_prio & ~cand[Columns.Worker].isin(placed_workers).to_numpy(bool)]
            entry["priority_unplaced_with_candidate"] = int(waiting[Columns.Worker].nunique())
            left = empty_seats.reindex(pd.Index(waiting[Columns.Vacancy].unique())).fillna(0)
            entry["seats_left_with_priority_candidate"] = int(left.sum())
        out[name] = entry
    return out
