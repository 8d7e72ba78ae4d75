"""The nightly placement plan: at most one proposed placement per worker, no vacancy over
its open seats, maximising the expected number of stable placements.

The problem
-----------
The candidate graph holds the engine's top-K eligible vacancies per worker, each pair
scored with the calibrated probability of a stable placement ``s`` = P(apply) *
P(hire | apply) * P(stay | hire) when the vacancy is proposed to the worker. Most
proposals are not applied to, so the sum of ``s`` over a plan (``expected_stable_placements``
in the stats) is far below the number of pairs planned. A plan chooses a set of pairs
``x`` maximising ::

    sum_pairs gain(w, v) * x(w, v)
    gain(w, v) = weight(w) * s(w, v) + welfare_priority * [v is a public-welfare post
                                                          and w is a priority worker]

where ``weight(w)`` is ``monitored_weight`` for workers of monitored households
(at risk of returning to poverty) and 1 otherwise, and a *priority worker* is semi or
weak labour or a worker who cannot leave home (mobility ``local``). Favouring households
at risk is a weight, not a precedence: a monitored worker's chance counts
``monitored_weight`` times, so a seat goes to them over another worker only while their
chance is above ``1 / monitored_weight`` of the other's. Both policy terms cost expected
stable placements; ``bench/truth_bench.py`` reports the optimum with and without them
(*policy oracle*), so that cost is not mistaken for the algorithm's. Subject to

1. each worker at most one placement;
2. each vacancy at most its open seats (``headcount``);
3. a household (``household_id``) at most one public-welfare post;
4. workers sharing a ``group_id`` (a point-to-point transfer from one village) all
   placed with ONE employer (possibly across its vacancies) or none of them;
5. pinned pairs forced (when feasible; an infeasible pin is reported with its reason),
   excluded pairs never placed.

Why an additive welfare bonus, not a two-stage solve
----------------------------------------------------
With ``welfare_priority`` larger than the largest weighted score (``monitored_weight``,
scores are probabilities), any plan that leaves an eligible priority candidate of a
public-welfare post unplaced while a non-priority worker holds a seat there is improved
by swapping the two (gain ``>= s + welfare_priority - monitored_weight > 0``), so the
optimum never does it -- the same outcome as a lexicographic two-stage solve ("first
fill welfare seats with priority workers, then maximise placements"), in ONE flow.
Among priority workers the welfare seats still go to the likeliest stable placements.
``plan_placements`` refuses a ``welfare_priority`` that does not dominate.

How it is solved
----------------
Constraints 1, 2 and 5 are a bipartite b-matching: OR-Tools ``SimpleMinCostFlow`` on
``source -> worker (cap 1) -> vacancy (cap seats) -> sink`` with arc costs
``-round(gain * scale)`` and a zero-cost bypass arc ``source -> sink`` (a worker may stay
unplaced). It is exact and integral. Constraints 3 and 4 are not flows:

* **Pins** are resolved first, in a stable order (worker id, vacancy id): each feasible
  pin takes its seat before anything else. A group with a pinned member is seated with
  the pinned employer before anything else too (an officer's decision), or not at all.
* **Individuals** (workers in no group) are planned by the flow. **Households** are
  handled lazily: solve, find households holding more than one welfare post, keep the
  post of the member whose placement there has the highest gain (ties: worker id),
  remove the welfare arcs of the household's other members, and solve again until no
  household is over (each round fixes every household it touches for good).
* **Groups** (``group_rule="value"``, the default) are placed only where they beat the
  other use of the seats. The scalable step: from the individuals' optimal plan, a
  seat a group takes costs 0 while its vacancy has seats left empty, then the
  *displacement loss* of an individual planned there (its gain minus its best
  candidate with a seat left empty), cheapest first. Each option (group, employer at
  which every member has a candidate) is seated by a small min-cost flow maximising
  the members' gains minus those seat costs; options are taken greedily by that net
  value while it is positive, the individuals are planned again exactly on the seats
  left, and the result is kept only if it beats placing no group.
* **Exact solve.** When groups are open or households bind and the open problem has
  at most ``exact_limit`` edges (:data:`DEFAULT_EXACT_LIMIT`), the whole remaining
  problem is solved as an integer program with CP-SAT (:func:`_exact_plan`: the LP
  bound's formulation below with integral ``x`` and ``y``), started from the scalable
  step's plan and kept when at least as good; one thread and a deterministic time
  limit, so the plan is reproducible. Larger problems (the nightly run of a province)
  keep the scalable step; ``bench/match_bench.py`` measures its gap to the LP bound
  and ``bench/truth_bench.py`` the gap of both against the oracle.
* ``group_rule="first"`` is the rule before issue 12: groups take seats before any
  individual, value-blind (pinned groups first, then by mean gain per member), then the
  flow. It is kept as the benchmarks' baseline and for a policy that wants village
  transfers to have precedence; what it costs in expected stable placements on the
  sample markets is in ``docs/benchmarks.md`` (truth section).

:func:`lp_upper_bound` solves the exact LP relaxation of the full problem (groups as
``y(g, e)`` option variables with ``sum_e y <= 1`` and ``sum_{v of e} x(m, v) = y(g, e)``
for each member) on the same candidate graph with GLOP; ``(bound - objective) / bound``
bounds the optimality gap from above.

Determinism: ids are sorted, arcs are added in (worker id, vacancy id) order and every
greedy choice breaks ties by id, so the same inputs give the same plan.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow

from matcher.data.schema import Channel, Columns, HouseholdStatus, LaborCapacity, Mobility

#: Scores (probabilities) are multiplied by this and rounded for the integer flow costs.
DEFAULT_SCALE = 10_000
DEFAULT_MONITORED_WEIGHT = 1.5
DEFAULT_WELFARE_PRIORITY = 2.0
#: Largest number of open edges solved exactly (CP-SAT) when groups or households bind.
DEFAULT_EXACT_LIMIT = 50_000
#: CP-SAT's deterministic time limit (about seconds of one core) for the exact solve.
DEFAULT_EXACT_SECONDS = 10.0
GROUP_RULES = ("value", "first")

PLAN_COLUMNS = [Columns.Worker, Columns.Vacancy, Columns.Score, Columns.Reasons, "pinned"]
PIN_REPORT_COLUMNS = [Columns.Worker, Columns.Vacancy, "honoured", "reason"]


class AssignmentError(ValueError):
    """Bad input to the assignment (missing columns, bad parameters)."""


@dataclass
class PlanResult:
    """The outcome of :func:`plan_placements`.

    Attributes
    ----------
    plan : DataFrame
        One row per placed worker: ``worker_id, vacancy_id, score, reasons, pinned``,
        sorted by worker id. ``reasons`` is a ``"; "``-joined string.
    pins : DataFrame
        One row per pin asked for: ``worker_id, vacancy_id, honoured, reason`` (reason
        empty when honoured).
    objective : float
        The weighted objective of the plan (sum of gains, see the module docstring).
    stats : dict
        Counts; ``expected_stable_placements``, the sum of the planned pairs' scores
        (P(apply) * P(hire | apply) * P(stay | hire) each): the stable placements to
        expect when every planned pair is proposed to its worker, far fewer than the
        pairs planned since most proposals are not applied to; placement rates of
        monitored and other workers, welfare seats by priority, groups, solver rounds,
        timings; ``plan_method`` (``flow``, ``flow, groups by value`` or ``exact
        (CP-SAT)``), and when the exact solve ran ``exact_edges``, ``exact_status`` and
        ``exact_bound`` (its proof that no plan beats the objective by more).
    """

    plan: pd.DataFrame
    pins: pd.DataFrame
    objective: float
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- problem


@dataclass
class _Problem:
    worker_ids: np.ndarray  # sorted
    vacancy_ids: np.ndarray  # sorted
    seats: np.ndarray  # int64 per vacancy
    employer: np.ndarray  # int codes per vacancy
    employer_ids: np.ndarray
    welfare_v: np.ndarray  # bool per vacancy
    weight_w: np.ndarray  # float per worker
    priority_w: np.ndarray  # bool per worker
    monitored_w: np.ndarray  # bool per worker
    household: np.ndarray  # int codes per worker, -1 none
    group: np.ndarray  # int codes per worker, -1 none or singleton
    group_ids: np.ndarray
    # edges, sorted by (worker, vacancy)
    ew: np.ndarray
    ev: np.ndarray
    score: np.ndarray
    gain: np.ndarray  # float
    cost: np.ndarray  # int64 (positive gain scaled)
    reasons: np.ndarray | None
    edge_key: np.ndarray  # worker * n_vacancies + vacancy, ascending

    def edge(self, wk: int, vk: int) -> int | None:
        """The edge index of the pair (worker ``wk``, vacancy ``vk``), or None."""
        key = wk * max(1, len(self.vacancy_ids)) + vk
        i = int(np.searchsorted(self.edge_key, key))
        return i if i < len(self.edge_key) and self.edge_key[i] == key else None

    stats: dict[str, Any]


def _require(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AssignmentError(
            f"the {name} frame lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of non-empty values (-1 for None/NaN/''), categories sorted."""
    s = values.astype(object).where(values.notna(), None)
    s = s.map(lambda x: None if x is None or str(x) == "" else str(x))
    codes, uniques = pd.factorize(s, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _pairs(frame: pd.DataFrame | Iterable | None) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({Columns.Worker: [], Columns.Vacancy: []}, dtype=object)
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(list(frame), columns=[Columns.Worker, Columns.Vacancy])
    _require(frame, "pins/excludes", [Columns.Worker, Columns.Vacancy])
    out = frame[[Columns.Worker, Columns.Vacancy]].astype(str).drop_duplicates()
    return out.sort_values([Columns.Worker, Columns.Vacancy]).reset_index(drop=True)


def _build(
    candidates: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    excludes: pd.DataFrame,
    monitored_weight: float,
    welfare_priority: float,
    scale: int,
) -> _Problem:
    _require(candidates, "candidates", [Columns.Worker, Columns.Vacancy, Columns.Score])
    _require(workers, "workers", [Columns.Worker])
    _require(vacancies, "vacancies", [Columns.Vacancy, "headcount"])
    if not (monitored_weight > 0 and math.isfinite(monitored_weight)):
        raise AssignmentError(f"monitored_weight must be a positive number, got {monitored_weight}")
    if welfare_priority < 0:
        raise AssignmentError(f"welfare_priority must be >= 0, got {welfare_priority}")
    if 0 < welfare_priority <= max(monitored_weight, 1.0):
        raise AssignmentError(
            f"welfare_priority={welfare_priority} does not dominate the largest weighted score "
            f"({max(monitored_weight, 1.0)}); public-welfare posts would not reliably go to "
            "semi/weak/local workers first. Use a value above it, or 0 to switch the rule off."
        )

    w = workers.drop_duplicates(Columns.Worker).copy()
    w[Columns.Worker] = w[Columns.Worker].astype(str)
    w = w.sort_values(Columns.Worker, kind="stable").reset_index(drop=True)
    v = vacancies.drop_duplicates(Columns.Vacancy).copy()
    v[Columns.Vacancy] = v[Columns.Vacancy].astype(str)
    v = v.sort_values(Columns.Vacancy, kind="stable").reset_index(drop=True)

    def col(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name] if name in frame.columns else pd.Series([None] * len(frame))

    seats = pd.to_numeric(v["headcount"], errors="coerce").fillna(0).clip(lower=0)
    seats_arr = seats.to_numpy(dtype=np.int64)
    employer_src = col(v, Columns.Employer)
    # a vacancy without an employer is its own employer (groups need one employer id)
    employer_src = employer_src.where(employer_src.notna(), "vacancy:" + v[Columns.Vacancy])
    employer, employer_ids = _codes(employer_src)
    welfare_v = (col(v, "channel").astype(object) == Channel.PUBLIC_WELFARE_POST.value).to_numpy()

    monitored = (
        col(w, "household_status").astype(object) == HouseholdStatus.MONITORED.value
    ).to_numpy()
    capacity = col(w, "labor_capacity").astype(object)
    mobility = col(w, "mobility").astype(object)
    priority = (
        capacity.isin([LaborCapacity.SEMI.value, LaborCapacity.WEAK.value])
        | (mobility == Mobility.LOCAL.value)
    ).to_numpy()
    weight = np.where(monitored, float(monitored_weight), 1.0)
    household, _ = _codes(col(w, "household_id"))
    group, group_ids = _codes(col(w, "group_id"))
    # groups of one active member are individuals
    if len(group):
        sizes = np.bincount(group[group >= 0], minlength=len(group_ids))
        sizes = np.append(sizes, 0)  # index -1 (no group) reads this 0
        group = np.where(sizes[group] >= 2, group, -1)

    stats: dict[str, Any] = {"candidates_in": int(len(candidates))}
    c = candidates
    wpos = pd.Index(w[Columns.Worker]).get_indexer(c[Columns.Worker].astype(str))
    vpos = pd.Index(v[Columns.Vacancy]).get_indexer(c[Columns.Vacancy].astype(str))
    sc = pd.to_numeric(c[Columns.Score], errors="coerce").to_numpy(dtype=float)
    ok = (wpos >= 0) & (vpos >= 0) & np.isfinite(sc)
    stats["candidates_unknown_or_closed"] = int((~ok).sum())
    idx = np.flatnonzero(ok)
    wpos, vpos, sc = wpos[idx], vpos[idx], np.clip(sc[idx], 0.0, 1.0)
    if len(excludes):
        xw = pd.Index(w[Columns.Worker]).get_indexer(excludes[Columns.Worker])
        xv = pd.Index(v[Columns.Vacancy]).get_indexer(excludes[Columns.Vacancy])
        known = (xw >= 0) & (xv >= 0)
        n_vac = max(1, len(v))
        drop = np.isin(
            wpos.astype(np.int64) * n_vac + vpos, xw[known].astype(np.int64) * n_vac + xv[known]
        )
        stats["candidates_excluded"] = int(drop.sum())
        keep = ~drop
        idx, wpos, vpos, sc = idx[keep], wpos[keep], vpos[keep], sc[keep]
    else:
        stats["candidates_excluded"] = 0
    # one edge per pair (best score), sorted by (worker, vacancy)
    order = np.lexsort((-sc, vpos, wpos))
    idx, wpos, vpos, sc = idx[order], wpos[order], vpos[order], sc[order]
    first = np.ones(len(wpos), dtype=bool)
    if len(wpos):
        first[1:] = (wpos[1:] != wpos[:-1]) | (vpos[1:] != vpos[:-1])
    idx, wpos, vpos, sc = idx[first], wpos[first], vpos[first], sc[first]
    gain = weight[wpos] * sc + np.where(welfare_v[vpos] & priority[wpos], welfare_priority, 0.0)
    cost = np.rint(gain * scale).astype(np.int64)
    reasons = None
    if Columns.Reasons in c.columns:
        reasons = c[Columns.Reasons].to_numpy(dtype=object)[idx]
    # edges are sorted by (worker, vacancy): their pair keys are sorted, for lookups
    edge_key = wpos.astype(np.int64) * max(1, len(v)) + vpos
    stats["edges"] = int(len(wpos))
    return _Problem(
        worker_ids=w[Columns.Worker].to_numpy(dtype=object),
        vacancy_ids=v[Columns.Vacancy].to_numpy(dtype=object),
        seats=seats_arr,
        employer=employer,
        employer_ids=employer_ids,
        welfare_v=welfare_v,
        weight_w=weight,
        priority_w=priority,
        monitored_w=monitored,
        household=household,
        group=group,
        group_ids=group_ids,
        ew=wpos.astype(np.int64),
        ev=vpos.astype(np.int64),
        score=sc,
        gain=gain,
        cost=cost,
        reasons=reasons,
        edge_key=edge_key,
        stats=stats,
    )


# --------------------------------------------------------------------------- flow


def _flow(
    ew: np.ndarray, ev: np.ndarray, cost: np.ndarray, seats: np.ndarray, *, need_all: int = 0
) -> np.ndarray | None:
    """Max-gain b-matching of edges (worker ``ew`` -> vacancy ``ev``), each worker <= 1,
    vacancy ``j`` <= ``seats[j]``. Returns a bool mask of chosen edges.

    With ``need_all`` > 0 every one of the ``need_all`` distinct workers must be placed
    (max flow first, then min cost); None when that is impossible.
    """
    if len(ew) == 0:
        return None if need_all else np.zeros(0, dtype=bool)
    wu, wl = np.unique(ew, return_inverse=True)
    vu, vl = np.unique(ev, return_inverse=True)
    nw, nv = len(wu), len(vu)
    src, snk = 0, 1
    wnode = 2 + wl
    vnode = 2 + nw + vl
    smcf = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([np.full(nw, src), wnode, 2 + nw + np.arange(nv)])
    heads = np.concatenate([2 + np.arange(nw), vnode, np.full(nv, snk)])
    caps = np.concatenate([np.ones(nw), np.ones(len(ew)), seats[vu]]).astype(np.int64)
    costs = np.concatenate([np.zeros(nw), -cost, np.zeros(nv)]).astype(np.int64)
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    edge_arcs = arcs[nw : nw + len(ew)]
    if need_all:
        smcf.set_node_supply(src, need_all)
        smcf.set_node_supply(snk, -need_all)
        status = smcf.solve_max_flow_with_min_cost()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        if smcf.maximum_flow() < need_all:
            return None
    else:
        smcf.add_arc_with_capacity_and_unit_cost(src, snk, nw, 0)
        smcf.set_node_supply(src, nw)
        smcf.set_node_supply(snk, -nw)
        status = smcf.solve()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
    return smcf.flows(edge_arcs) > 0


def _flow_with_households(
    p: _Problem, edges: np.ndarray, seats: np.ndarray, used_households: set[int]
) -> tuple[np.ndarray, int]:
    """Main flow over ``edges`` (edge indices) with the lazy household repair.

    Returns the chosen edge indices and the number of solver rounds.
    """
    hh = p.household
    # households that already hold a welfare post (pins, groups) lose all welfare arcs
    blocked_workers: set[int] = set()
    if used_households:
        blocked_workers = set(np.flatnonzero(np.isin(hh, list(used_households))).tolist())
    active = edges
    if blocked_workers:
        bw = np.isin(p.ew[active], list(blocked_workers)) & p.welfare_v[p.ev[active]]
        active = active[~bw]
    rounds = 0
    while True:
        rounds += 1
        chosen_mask = _flow(p.ew[active], p.ev[active], p.cost[active], seats)
        assert chosen_mask is not None
        chosen = active[chosen_mask]
        welfare = chosen[p.welfare_v[p.ev[chosen]] & (hh[p.ew[chosen]] >= 0)]
        if len(welfare) == 0:
            return chosen, rounds
        wh = hh[p.ew[welfare]]
        counts = pd.Series(wh).value_counts()
        over = counts.index[counts.to_numpy() > 1].to_numpy()
        if len(over) == 0:
            return chosen, rounds
        # keep the member with the highest gain (ties: smaller worker id) per household
        frame = pd.DataFrame({"e": welfare, "h": wh, "g": -p.cost[welfare], "w": p.ew[welfare]})
        frame = frame[frame["h"].isin(over)].sort_values(["h", "g", "w"])
        keep_worker = frame.drop_duplicates("h")[["h", "w"]]
        keeper = dict(zip(keep_worker["h"].tolist(), keep_worker["w"].tolist(), strict=True))
        aw = p.ew[active]
        ah = hh[aw]
        in_over = np.isin(ah, over)
        keepw = np.array([keeper.get(h, -1) for h in ah[in_over].tolist()], dtype=np.int64)
        drop = np.zeros(len(active), dtype=bool)
        drop[in_over] = (aw[in_over] != keepw) & p.welfare_v[p.ev[active][in_over]]
        active = active[~drop]


# --------------------------------------------------------------------------- groups by value


def _seat_flow(
    ew: np.ndarray,
    ev: np.ndarray,
    cost: np.ndarray,
    n_members: int,
    seat_costs: Callable[[int, int], list[int]],
) -> tuple[int, np.ndarray] | None:
    """Seat all ``n_members`` workers of edges (``ew`` -> ``ev``), each at most once,
    maximising the edges' costs minus the costs of the seats they take.

    ``seat_costs(v, k)`` gives the costs of the next (up to) ``k`` seats of vacancy ``v``,
    non-decreasing, so the flow takes them in order. Returns (net, chosen-edge mask), or
    None when the members cannot all be seated.
    """
    wu, wl = np.unique(ew, return_inverse=True)
    if len(wu) < n_members:
        return None
    vu, vl = np.unique(ev, return_inverse=True)
    nw = len(wu)
    smcf = min_cost_flow.SimpleMinCostFlow()
    src, snk = 0, 1
    tails = [np.full(nw, src), 2 + wl]
    heads = [2 + np.arange(nw), 2 + nw + vl]
    costs = [np.zeros(nw, dtype=np.int64), -cost.astype(np.int64)]
    for j, v in enumerate(vu.tolist()):
        cs = seat_costs(int(v), n_members)
        tails.append(np.full(len(cs), 2 + nw + j))
        heads.append(np.full(len(cs), snk))
        costs.append(np.asarray(cs, dtype=np.int64))
    t, h, c = (np.concatenate(a).astype(np.int64) for a in (tails, heads, costs))
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        t.astype(np.int32), h.astype(np.int32), np.ones(len(t), dtype=np.int64), c
    )
    smcf.set_node_supply(src, n_members)
    smcf.set_node_supply(snk, -n_members)
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    if smcf.maximum_flow() < n_members:
        return None
    return -int(smcf.optimal_cost()), smcf.flows(arcs[nw : nw + len(ew)]) > 0


def _place_groups_by_value(
    p: _Problem,
    groups: dict[int, np.ndarray],
    group_emps: dict[int, list[int]],
    member_edges: Callable[[np.ndarray], np.ndarray],
    main: np.ndarray,
    chosen0: np.ndarray,
    seats: np.ndarray,
    used_households: set[int],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Place groups where they beat the other use of the seats (the scalable step).

    ``chosen0`` is the optimal plan of the individuals alone (edges ``main``). A seat
    of vacancy ``v`` taken by a group costs 0 while ``v`` has seats that ``chosen0``
    leaves empty, and then the *displacement loss* of an individual planned there:
    its gain minus its best candidate with a seat left empty (0 if none), cheapest
    first. Each option (group, employer) is seated by a small min-cost flow that
    maximises the members' gains minus those seat costs; options are taken greedily
    by that net value while it is positive (lazily re-evaluated: values only fall as
    seats go). The individuals are then planned again, exactly, on the seats left,
    and the result is kept only if it beats ``chosen0`` with no group placed.

    Returns (group edges, individual edges, extra flow rounds).
    """
    n_v = len(p.vacancy_ids)
    n_w = len(p.worker_ids)
    empty = np.zeros(0, dtype=np.int64)
    counts = np.bincount(p.ev[chosen0], minlength=n_v)
    residual = seats - counts
    at = np.full(n_w, -1, dtype=np.int64)
    at[p.ew[chosen0]] = p.ev[chosen0]
    alt = np.zeros(n_w, dtype=np.int64)
    mw, mv = p.ew[main], p.ev[main]
    other = main[(at[mw] >= 0) & (residual[mv] > 0) & (mv != at[mw])]
    np.maximum.at(alt, p.ew[other], p.cost[other])
    loss = np.clip(p.cost[chosen0] - alt[p.ew[chosen0]], 0, None)
    order = np.lexsort((loss, p.ev[chosen0]))
    loss_sorted = loss[order]
    loss_start = np.searchsorted(p.ev[chosen0][order], np.arange(n_v + 1))
    taken = np.zeros(n_v, dtype=np.int64)  # seats taken by groups in this step
    hh_used = set(used_households)

    def seat_costs(v: int, k: int) -> list[int]:
        out = []
        for i in range(int(taken[v]), min(int(taken[v]) + k, int(seats[v]))):
            free_left = i < residual[v]
            out.append(0 if free_left else int(loss_sorted[loss_start[v] + i - residual[v]]))
        return out

    def seating(g: int, emp: int) -> tuple[int, np.ndarray] | None:
        members = groups[g]
        es = member_edges(members)
        es = es[(p.employer[p.ev[es]] == emp) & (seats[p.ev[es]] - taken[p.ev[es]] > 0)]
        if hh_used:
            blocked = np.isin(p.household[p.ew[es]], list(hh_used)) & p.welfare_v[p.ev[es]]
            es = es[~blocked]
        while True:
            res = _seat_flow(p.ew[es], p.ev[es], p.cost[es], len(members), seat_costs)
            if res is None:
                return None
            net, mask = res
            chosen = es[mask]
            wf = chosen[p.welfare_v[p.ev[chosen]] & (p.household[p.ew[chosen]] >= 0)]
            hs = pd.Series(p.household[p.ew[wf]])
            dup = set(hs[hs.duplicated()].tolist())
            if not dup:
                return net, chosen
            # one welfare post per household inside the group: keep its best member's
            keep: dict[int, int] = {}
            for e in sorted(wf.tolist(), key=lambda e: (-p.cost[e], p.ew[e])):
                keep.setdefault(int(p.household[p.ew[e]]), int(p.ew[e]))
            h_es = p.household[p.ew[es]]
            bad = np.isin(h_es, list(dup)) & p.welfare_v[p.ev[es]]
            bad &= np.array([keep.get(int(h), -1) for h in h_es]) != p.ew[es]
            es = es[~bad]

    heap: list[tuple[int, str, str, int, int]] = []
    for g in sorted(groups):
        for emp in group_emps[g]:
            opt = seating(g, emp)
            if opt is not None and opt[0] > 0:
                key = (-opt[0], str(p.group_ids[g]), str(p.employer_ids[emp]), g, emp)
                heapq.heappush(heap, key)
    picked: list[np.ndarray] = []
    placed_groups: set[int] = set()
    while heap:
        item = heapq.heappop(heap)
        g, emp = item[3], item[4]
        if g in placed_groups:
            continue
        opt = seating(g, emp)
        if opt is None or opt[0] <= 0:
            continue
        fresh = (-opt[0], item[1], item[2], g, emp)
        if heap and fresh > heap[0]:
            heapq.heappush(heap, fresh)  # worth less than when queued: wait its turn
            continue
        for e in opt[1].tolist():
            vk, wk = int(p.ev[e]), int(p.ew[e])
            taken[vk] += 1
            if p.welfare_v[vk] and p.household[wk] >= 0:
                hh_used.add(int(p.household[wk]))
        picked.append(opt[1])
        placed_groups.add(g)
    if not picked:
        return empty, chosen0, 0
    group_edges = np.sort(np.concatenate(picked))
    # when the groups took only seats the individuals' plan left empty and no household
    # of theirs holds a welfare post there, that plan is still optimal on the seats left
    held = p.household[p.ew[chosen0[p.welfare_v[p.ev[chosen0]]]]]
    if (taken <= residual).all() and not (set(held[held >= 0].tolist()) & hh_used):
        return group_edges, chosen0, 0
    left = seats - taken
    rest = main[left[p.ev[main]] > 0]
    chosen1, rounds = _flow_with_households(p, rest, left, hh_used)
    if p.cost[group_edges].sum() + p.cost[chosen1].sum() >= p.cost[chosen0].sum():
        return group_edges, chosen1, rounds
    return empty, chosen0, rounds


# --------------------------------------------------------------------------- exact


@dataclass
class _Exact:
    chosen: np.ndarray | None  # edge indices, None when no solution was found
    status: str
    bound: float  # upper bound of the objective, in integer cost units


def _open_edges(
    p: _Problem,
    placed: np.ndarray,
    seats: np.ndarray,
    used_households: set[int],
    groups: dict[int, np.ndarray],
    group_emps: dict[int, list[int]],
) -> np.ndarray:
    """Edges still open after the pins and pinned groups: unplaced individuals' and the
    open groups' members' (at their group's options), on seats left, without welfare
    posts for households that already hold one."""
    ok = (placed[p.ew] < 0) & (seats[p.ev] > 0) & (p.cost > 0)
    in_group = p.group[p.ew] >= 0
    member_ok = np.zeros(len(p.ew), dtype=bool)
    if groups:
        pair_ok = {(g, emp) for g in groups for emp in group_emps[g]}
        ge = np.flatnonzero(in_group & ok)
        keys = zip(p.group[p.ew[ge]].tolist(), p.employer[p.ev[ge]].tolist(), strict=True)
        member_ok[ge] = np.fromiter((k in pair_ok for k in keys), dtype=bool, count=len(ge))
    ok &= ~in_group | member_ok
    if used_households:
        ok &= ~(np.isin(p.household[p.ew], list(used_households)) & p.welfare_v[p.ev])
    return np.flatnonzero(ok)


def _exact_plan(
    p: _Problem,
    edges: np.ndarray,
    seats: np.ndarray,
    groups: dict[int, np.ndarray],
    group_emps: dict[int, list[int]],
    hint: np.ndarray,
    max_seconds: float,
) -> _Exact:
    """The optimal plan over ``edges`` as an integer program (OR-Tools CP-SAT).

    ``x(e)`` per edge and ``y(g, emp)`` per group option: each worker at most one edge;
    each vacancy at most its seats; each household at most one public-welfare post;
    each group at most one option, and every member on exactly one edge at the chosen
    employer (``sum_{v of emp} x(m, v) = y(g, emp)``). Maximises the integer costs (the
    flow's). Solved on one thread with a *deterministic* time limit, so the same input
    gives the same plan; ``hint`` (a feasible plan) is the starting solution.
    """
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    n = len(edges)
    x = [model.new_bool_var(f"x{i}") for i in range(n)]
    ew, ev = p.ew[edges], p.ev[edges]
    starts = np.flatnonzero(np.r_[True, ew[1:] != ew[:-1]]) if n else np.zeros(0, dtype=int)
    bounds = np.r_[starts, n]
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if b - a > 1:
            model.add_at_most_one(x[a:b])
    by_v = np.argsort(ev, kind="stable")
    v_sorted = ev[by_v]
    v_bounds = np.flatnonzero(np.r_[True, v_sorted[1:] != v_sorted[:-1], True])
    for a, b in zip(v_bounds[:-1].tolist(), v_bounds[1:].tolist(), strict=True):
        vk = int(v_sorted[a])
        if b - a > seats[vk]:
            model.add(sum(x[i] for i in by_v[a:b].tolist()) <= int(seats[vk]))
    wf = np.flatnonzero(p.welfare_v[ev] & (p.household[ew] >= 0))
    if len(wf):
        for _, idx in pd.Series(wf).groupby(p.household[ew[wf]]):
            if len(np.unique(ew[idx.to_numpy()])) > 1:
                model.add_at_most_one([x[i] for i in idx.tolist()])
    y: dict[tuple[int, int], Any] = {}
    for g, members in groups.items():
        ys = {emp: model.new_bool_var(f"y{g}_{emp}") for emp in group_emps[g]}
        y.update({(g, emp): var for emp, var in ys.items()})
        model.add_at_most_one(list(ys.values()))
        for m in members.tolist():
            a, b = np.searchsorted(ew, [m, m + 1])
            emp_of = p.employer[ev[a:b]]
            for emp, var in ys.items():
                own = [x[i] for i in range(a, b) if emp_of[i - a] == emp]
                model.add(sum(own) == var) if own else model.add(var == 0)
    cost = p.cost[edges]
    model.maximize(cp_model.LinearExpr.weighted_sum(x, cost.tolist()))
    in_hint = np.isin(edges, hint)
    for i in range(n):
        model.add_hint(x[i], bool(in_hint[i]))
    hinted_options = {
        (int(p.group[p.ew[e]]), int(p.employer[p.ev[e]]))
        for e in hint.tolist()
        if p.group[p.ew[e]] >= 0
    }
    for key, var in y.items():
        model.add_hint(var, key in hinted_options)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = max_seconds
    # the model is a b-matching with few side constraints: CP-SAT's presolve costs more
    # wall time (its dual-strengthening loops) than the search it would save
    solver.parameters.cp_model_presolve = False
    status = solver.solve(model)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Exact(None, name, float("nan"))
    chosen = edges[np.fromiter((solver.boolean_value(v) for v in x), dtype=bool, count=n)]
    return _Exact(chosen, name, float(solver.best_objective_bound))


# --------------------------------------------------------------------------- plan


def plan_placements(
    candidates: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    *,
    pins: pd.DataFrame | Iterable[tuple[str, str]] | None = None,
    excludes: pd.DataFrame | Iterable[tuple[str, str]] | None = None,
    monitored_weight: float = DEFAULT_MONITORED_WEIGHT,
    welfare_priority: float = DEFAULT_WELFARE_PRIORITY,
    scale: int = DEFAULT_SCALE,
    pin_notes: dict[tuple[str, str], str] | None = None,
    group_rule: str = "value",
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> PlanResult:
    """Choose at most one placement per worker within every vacancy's open seats.

    Parameters
    ----------
    candidates : DataFrame
        Eligible pairs: ``worker_id, vacancy_id, score`` (probability of a stable
        placement), optionally ``reasons`` (list of str or str). Pairs naming workers or
        vacancies absent from ``workers``/``vacancies`` are ignored (counted in stats).
        Pinned pairs must be among the candidates to be honoured.
    workers : DataFrame
        The active workers: ``worker_id`` and optionally ``labor_capacity``,
        ``mobility``, ``household_status``, ``household_id``, ``group_id``.
    vacancies : DataFrame
        The open vacancies: ``vacancy_id, headcount`` (open seats) and optionally
        ``employer_id`` and ``channel``.
    pins, excludes : DataFrame or iterable of (worker_id, vacancy_id), optional
        Pairs an officer forced or forbade.
    monitored_weight : float
        Multiplier of the score of workers from monitored households.
    welfare_priority : float
        Bonus (in score units) for a priority worker (semi/weak labour or mobility
        ``local``) on a public-welfare post; must exceed ``max(monitored_weight, 1)``
        (or be 0 to switch the rule off).
    scale : int
        Scores are multiplied by it and rounded for the integer flow costs.
    pin_notes : dict, optional
        ``(worker_id, vacancy_id) -> reason`` for pins the caller already knows to be
        ineligible (reported instead of the generic reason).
    group_rule : {"value", "first"}
        ``"value"``: a village group is placed only where that beats the other use of
        the seats (scalable step, then the exact solve when small); ``"first"``: groups
        take seats before individuals, value-blind (the earlier rule; see the module
        docstring).
    exact_limit : int
        Largest number of open edges for the exact CP-SAT solve when groups or
        households bind; 0 keeps the scalable step only.

    Returns
    -------
    PlanResult

    Raises
    ------
    AssignmentError
        When a frame lacks a required column or a parameter is out of range.
    """
    if group_rule not in GROUP_RULES:
        raise AssignmentError(
            f"group_rule must be one of {', '.join(GROUP_RULES)}, got {group_rule!r}"
        )
    t0 = time.perf_counter()
    pins_f = _pairs(pins)
    excl_f = _pairs(excludes)
    p = _build(candidates, workers, vacancies, excl_f, monitored_weight, welfare_priority, scale)
    stats = p.stats
    stats["build_seconds"] = round(time.perf_counter() - t0, 3)
    n_w = len(p.worker_ids)
    seats = p.seats.copy()
    placed = np.full(n_w, -1, dtype=np.int64)  # edge index per worker
    pinned_edge = np.zeros(len(p.ew), dtype=bool)
    used_households: set[int] = set()
    notes = pin_notes or {}

    widx = pd.Index(p.worker_ids)
    vidx = pd.Index(p.vacancy_ids)
    report: list[tuple[str, str, bool, str]] = []
    group_pins: dict[int, tuple[int, list[tuple[int, str, str]]]] = {}  # g -> (employer, pins)
    pinned_worker: dict[int, str] = {}

    def take(e: int) -> None:
        wk, vk = int(p.ew[e]), int(p.ev[e])
        placed[wk] = e
        seats[vk] -= 1
        if p.welfare_v[vk] and p.household[wk] >= 0:
            used_households.add(int(p.household[wk]))

    # ---- 1. pins, in (worker id, vacancy id) order
    for wid, vid in zip(pins_f[Columns.Worker], pins_f[Columns.Vacancy], strict=True):
        wk = int(widx.get_indexer([wid])[0])
        vk = int(vidx.get_indexer([vid])[0])
        if wk < 0:
            report.append((wid, vid, False, "worker is not active in this run"))
            continue
        if vk < 0:
            report.append((wid, vid, False, "vacancy is not open or has no open seats"))
            continue
        e = p.edge(wk, vk)
        if e is None:
            reason = notes.get((wid, vid)) or "pair is not an eligible candidate"
            report.append((wid, vid, False, reason))
            continue
        if wk in pinned_worker:
            report.append((wid, vid, False, f"worker already pinned to {pinned_worker[wk]}"))
            continue
        g = int(p.group[wk])
        if g >= 0:
            emp = int(p.employer[vk])
            if g in group_pins and group_pins[g][0] != emp:
                other = p.employer_ids[group_pins[g][0]]
                report.append(
                    (wid, vid, False, f"group {p.group_ids[g]} already pinned to employer {other}")
                )
                continue
            group_pins.setdefault(g, (emp, []))[1].append((e, wid, vid))
            pinned_worker[wk] = vid
            continue
        if seats[vk] <= 0:
            report.append(
                (wid, vid, False, f"no open seat left (headcount {int(p.seats[vk])} taken by pins)")
            )
            continue
        if p.welfare_v[vk] and p.household[wk] in used_households:
            report.append((wid, vid, False, "household already has a public-welfare post"))
            continue
        take(e)
        pinned_edge[e] = True
        pinned_worker[wk] = vid
        report.append((wid, vid, True, ""))

    # ---- 2. groups as super-nodes by employer
    t1 = time.perf_counter()
    groups_total = int(len(p.group_ids)) if (p.group >= 0).any() else 0
    member_lists: dict[int, np.ndarray] = {}
    if groups_total:
        gw = np.flatnonzero(p.group >= 0)
        order_g = np.argsort(p.group[gw], kind="stable")
        gw_sorted = gw[order_g]
        bounds = np.flatnonzero(np.diff(p.group[gw_sorted])) + 1
        for chunk in np.split(gw_sorted, bounds):
            member_lists[int(p.group[chunk[0]])] = chunk.astype(np.int64)
    groups_total = len(member_lists)
    edge_starts = np.searchsorted(p.ew, np.arange(n_w + 1))

    def member_edges(members: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [np.arange(edge_starts[m], edge_starts[m + 1]) for m in members] or [np.zeros(0)]
        ).astype(np.int64)

    def group_option(g: int, emp: int, forced: list[int]) -> tuple[float, np.ndarray] | None:
        """Best seating of all members of ``g`` at employer ``emp`` given current seats."""
        members = member_lists[g]
        if (placed[members] >= 0).any():
            return None
        es = member_edges(members)
        es = es[(p.employer[p.ev[es]] == emp) & (seats[p.ev[es]] > 0)]
        if forced:
            fw = set(int(p.ew[f]) for f in forced)
            es = es[~np.isin(p.ew[es], list(fw))]
        # a household's welfare post may already be taken (pins, earlier groups) or be
        # taken by a forced pin of this group
        forced_h = [
            int(p.household[p.ew[f]])
            for f in forced
            if p.welfare_v[p.ev[f]] and p.household[p.ew[f]] >= 0
        ]
        if len(set(forced_h)) < len(forced_h) or set(forced_h) & used_households:
            return None
        hh_used = sorted(used_households | set(forced_h))
        if hh_used:
            blocked = np.isin(p.household[p.ew[es]], hh_used) & p.welfare_v[p.ev[es]]
            es = es[~blocked]
        s = seats.copy()
        for f in forced:
            s[p.ev[f]] -= 1
            if s[p.ev[f]] < 0:
                return None
        rest = len(members) - len(forced)
        chosen = np.zeros(0, dtype=np.int64)
        if rest:
            if len(np.unique(p.ew[es])) < rest:
                return None
            # households inside the group: at most one welfare post each (lazy repair)
            active = es
            while True:
                mask = _flow(p.ew[active], p.ev[active], p.cost[active], s, need_all=rest)
                if mask is None:
                    return None
                chosen = active[mask]
                wf = chosen[p.welfare_v[p.ev[chosen]] & (p.household[p.ew[chosen]] >= 0)]
                hs = pd.Series(p.household[p.ew[wf]])
                dup = hs[hs.duplicated()].unique()
                if len(dup) == 0:
                    break
                # keep the best welfare member of each duplicated household
                keep: dict[int, int] = {}
                for e in sorted(wf.tolist(), key=lambda e: (-p.cost[e], p.ew[e])):
                    keep.setdefault(int(p.household[p.ew[e]]), int(p.ew[e]))
                aw = p.ew[active]
                bad = np.isin(p.household[aw], dup) & p.welfare_v[p.ev[active]]
                bad &= np.array(
                    [keep.get(int(p.household[x]), -1) != x for x in aw.tolist()], dtype=bool
                )
                active = active[~bad]
        allc = np.concatenate([np.asarray(forced, dtype=np.int64), chosen])
        return float(p.gain[allc].sum()), allc

    # the employers where every member of a group has a candidate: its options
    group_emps: dict[int, list[int]] = {}
    for g, members in member_lists.items():
        es = member_edges(members)
        if len(es) == 0:
            continue
        emps = pd.Series(p.employer[p.ev[es]]).groupby(p.ew[es]).unique()
        if len(emps) < len(members):
            continue
        common = set(emps.iloc[0].tolist())
        for arr in emps.iloc[1:]:
            common &= set(arr.tolist())
        if common:
            group_emps[g] = sorted(common)

    # groups that take seats first, value-blind: pinned groups always (an officer's
    # decision), every group under group_rule="first"
    groups_placed = 0
    options: list[tuple[int, float, str, str, int, int]] = []
    for g, emps_g in group_emps.items():
        if group_rule == "value" and g not in group_pins:
            continue
        for emp in emps_g:
            if g in group_pins and group_pins[g][0] != emp:
                continue
            forced = [f for f, _, _ in group_pins.get(g, (0, []))[1]]
            opt = group_option(g, emp, forced)
            if opt is None:
                continue
            options.append(
                (
                    0 if g in group_pins else 1,
                    -opt[0] / len(member_lists[g]),
                    str(p.group_ids[g]),
                    str(p.employer_ids[emp]),
                    g,
                    emp,
                )
            )
    options.sort()
    done: set[int] = set()
    for _, _, _, _, g, emp in options:
        if g in done:
            continue
        forced = [f for f, _, _ in group_pins.get(g, (0, []))[1]]
        opt = group_option(g, emp, forced)
        if opt is None:
            continue
        for e in opt[1].tolist():
            take(e)
        for f in forced:
            pinned_edge[f] = True
        done.add(g)
        groups_placed += 1
    for g, (emp, gp) in group_pins.items():
        for _, wid, vid in gp:
            if g in done:
                report.append((wid, vid, True, ""))
            else:
                report.append(
                    (
                        wid,
                        vid,
                        False,
                        f"group {p.group_ids[g]} cannot be placed together with employer "
                        f"{p.employer_ids[emp]} (not every member has an eligible vacancy "
                        "with an open seat there)",
                    )
                )
    stats["groups_seconds"] = round(time.perf_counter() - t1, 3)

    # ---- 3. individuals (min-cost flow with the lazy household repair) and, under
    # group_rule="value", the other groups where they beat the seats' other use
    t2 = time.perf_counter()
    free = (placed < 0) & (p.group < 0)
    main = np.flatnonzero(free[p.ew] & (seats[p.ev] > 0))
    chosen, rounds = _flow_with_households(p, main, seats, used_households)
    group_edges = np.zeros(0, dtype=np.int64)
    method = "flow"
    open_groups = (
        {g: member_lists[g] for g in group_emps if g not in group_pins and g not in done}
        if group_rule == "value"
        else {}
    )
    if open_groups:
        method = "flow, groups by value"
        group_edges, chosen, more = _place_groups_by_value(
            p, open_groups, group_emps, member_edges, main, chosen, seats, used_households
        )
        rounds += more
    stats["flow_rounds"] = rounds
    stats["flow_seconds"] = round(time.perf_counter() - t2, 3)

    # ---- 4. exact solve of the coupled problem (groups, households) when it is small
    if group_rule == "value" and (open_groups or rounds > 1):
        t3 = time.perf_counter()
        edges = _open_edges(p, placed, seats, used_households, open_groups, group_emps)
        stats["exact_edges"] = int(len(edges))
        if 0 < len(edges) <= exact_limit:
            hint = np.concatenate([group_edges, chosen])
            exact = _exact_plan(
                p, edges, seats, open_groups, group_emps, hint, DEFAULT_EXACT_SECONDS
            )
            stats["exact_status"] = exact.status
            if exact.chosen is not None and p.cost[exact.chosen].sum() >= p.cost[hint].sum():
                in_group = p.group[p.ew[exact.chosen]] >= 0
                group_edges, chosen = exact.chosen[in_group], exact.chosen[~in_group]
                method = "exact (CP-SAT)"
            stats["exact_bound"] = exact.bound / scale
        stats["exact_seconds"] = round(time.perf_counter() - t3, 3)
    for e in np.concatenate([group_edges, chosen]).tolist():
        take(e)
    groups_placed += len(np.unique(p.group[p.ew[group_edges]]))
    stats["plan_method"] = method
    if (seats < 0).any():  # pragma: no cover - guarded by construction
        raise RuntimeError("internal error: a vacancy was planned over its seats")

    # ---- result
    placed_workers = np.flatnonzero(placed >= 0)
    es = placed[placed_workers]
    reasons_col: list[str]
    if p.reasons is not None:
        reasons_col = [_join_reasons(r) for r in p.reasons[es]]
    else:
        reasons_col = [""] * len(es)
    plan = pd.DataFrame(
        {
            Columns.Worker: p.worker_ids[placed_workers].astype(object),
            Columns.Vacancy: p.vacancy_ids[p.ev[es]].astype(object),
            Columns.Score: p.score[es],
            Columns.Reasons: reasons_col,
            "pinned": pinned_edge[es],
        },
        columns=PLAN_COLUMNS,
    )
    pins_report = pd.DataFrame(report, columns=PIN_REPORT_COLUMNS)
    if len(pins_report):
        pins_report = pins_report.sort_values([Columns.Worker, Columns.Vacancy]).reset_index(
            drop=True
        )
    objective = float(p.gain[es].sum())
    stats.update(_plan_stats(p, placed, es, groups_total, groups_placed, pins_report))
    stats.update(plan_diagnostics(p, placed, seats, used_households))
    stats["objective"] = objective
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return PlanResult(plan=plan, pins=pins_report, objective=objective, stats=stats)


def _join_reasons(r: Any) -> str:
    if r is None:
        return ""
    if isinstance(r, str):
        return r
    if isinstance(r, float) and math.isnan(r):
        return ""
    return "; ".join(str(x) for x in r)


def _plan_stats(
    p: _Problem,
    placed: np.ndarray,
    es: np.ndarray,
    groups_total: int,
    groups_placed: int,
    pins_report: pd.DataFrame,
) -> dict[str, Any]:
    n_w = len(p.worker_ids)
    is_placed = placed >= 0
    has_candidate = np.zeros(n_w, dtype=bool)
    has_candidate[p.ew] = True

    def rate(mask: np.ndarray) -> float | None:
        n = int(mask.sum())
        return round(float(is_placed[mask].sum()) / n, 6) if n else None

    welfare_seats = p.welfare_v[p.ev[es]]
    welfare_prio = welfare_seats & p.priority_w[p.ew[es]]
    return {
        "workers": int(n_w),
        "workers_with_candidates": int(has_candidate.sum()),
        "vacancies": int(len(p.vacancy_ids)),
        "seats": int(p.seats.sum()),
        "placed": int(is_placed.sum()),
        "expected_stable_placements": float(p.score[es].sum()),
        "placement_rate": rate(np.ones(n_w, dtype=bool)),
        "placement_rate_monitored": rate(p.monitored_w & has_candidate),
        "placement_rate_other": rate(~p.monitored_w & has_candidate),
        "welfare_seats_filled": int(welfare_seats.sum()),
        "welfare_seats_to_priority_workers": int(welfare_prio.sum()),
        "groups": groups_total,
        "groups_placed": groups_placed,
        "pins": int(len(pins_report)),
        "pins_honoured": int(pins_report["honoured"].sum()) if len(pins_report) else 0,
    }


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: all equal; towards 1: all on one).

    ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` over the counts sorted ascending
    (``i`` from 1); 0 when every count is 0.
    """
    x = np.sort(np.asarray(counts, dtype=float))
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) @ x) / (n * total))


#: Why an unplaced worker's candidate seat stayed empty (see :func:`plan_diagnostics`).
UNPLACED_REASONS = {
    "group": "travels with a group (同村组团) that could not be placed together with one employer",
    "household": "the open seats are public-welfare posts and the household already holds one "
    "(一户一岗)",
    "zero_score": "the pair's score rounds to 0 in the flow's costs: placing gains nothing",
    "unexplained": "no rule explains it (a defect of the plan)",
}


def plan_diagnostics(
    p: _Problem, placed: np.ndarray, seats_left: np.ndarray, used_households: set[int]
) -> dict[str, Any]:
    """What the plan left on the table, on the candidate graph.

    * ``unplaced_with_open_seat``: workers left unplaced who have a candidate vacancy
      (an eligible pair in their list) whose seat stays empty. The flow never leaves
      one when placing gains something, so each is explained: by its group (members
      are placed together or not at all), its household (one public-welfare post per
      household) or a score too small to count; ``unplaced_reasons`` counts them by
      reason (:data:`UNPLACED_REASONS`; ``unexplained`` should be 0).
    * ``open_seat_share_without_candidate``: share of the open seats on vacancies that
      are in nobody's candidate list (no worker could be proposed there).
    * ``seats_left_empty``: open seats the plan does not fill.
    * ``gini_candidates_per_vacancy``: Gini of how many workers' candidate lists hold
      each open vacancy (congestion of the recommendations: 0 spread evenly, near 1
      everyone shown the same few); ``gini_placements_per_vacancy``: the same of the
      plan's proposed placements.
    """
    n_v = len(p.vacancy_ids)
    unplaced_edge = (placed[p.ew] < 0) & (seats_left[p.ev] > 0)
    workers = np.unique(p.ew[unplaced_edge])
    reasons = dict.fromkeys(UNPLACED_REASONS, 0)
    if len(workers):
        edges = np.flatnonzero(unplaced_edge)
        # a household holds a welfare post when a member is placed on one (or pinned)
        placed_w = np.flatnonzero(placed >= 0)
        on_welfare = placed_w[p.welfare_v[p.ev[placed[placed_w]]]]
        households = p.household[on_welfare]
        holding = set(used_households) | set(households[households >= 0].tolist())
        blocked = p.welfare_v[p.ev[edges]] & np.isin(p.household[p.ew[edges]], list(holding))
        zero = p.cost[edges] <= 0
        # a worker is explained by the household only when every open-seat edge is blocked
        frame = pd.DataFrame({"w": p.ew[edges], "blocked": blocked, "moot": blocked | zero})
        per = frame.groupby("w").agg(blocked=("blocked", "all"), moot=("moot", "all"))
        in_group = p.group[per.index.to_numpy()] >= 0
        reason = np.select(
            [in_group, per["blocked"].to_numpy(), per["moot"].to_numpy()],
            ["group", "household", "zero_score"],
            "unexplained",
        )
        for r in reason.tolist():
            reasons[r] += 1
    has_edge = np.zeros(n_v, dtype=bool)
    has_edge[p.ev] = True
    total_seats = int(p.seats.sum())
    no_candidate = int(p.seats[~has_edge].sum())
    placements = np.bincount(p.ev[placed[placed >= 0]], minlength=n_v)
    return {
        "unplaced_with_open_seat": int(len(workers)),
        "unplaced_reasons": {k: v for k, v in reasons.items() if v},
        "open_seat_share_without_candidate": (
            round(no_candidate / total_seats, 6) if total_seats else None
        ),
        "seats_left_empty": int(np.clip(seats_left, 0, None).sum()),
        "gini_candidates_per_vacancy": round(gini(np.bincount(p.ev, minlength=n_v)), 6),
        "gini_placements_per_vacancy": round(gini(placements), 6),
    }


# --------------------------------------------------------------------------- LP bound


def lp_upper_bound(
    candidates: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    *,
    pins: pd.DataFrame | Iterable[tuple[str, str]] | None = None,
    excludes: pd.DataFrame | Iterable[tuple[str, str]] | None = None,
    monitored_weight: float = DEFAULT_MONITORED_WEIGHT,
    welfare_priority: float = DEFAULT_WELFARE_PRIORITY,
    scale: int = DEFAULT_SCALE,
) -> float:
    """The exact LP relaxation bound of the weighted objective of :func:`plan_placements`.

    Same candidate graph, gains and constraints (worker <= 1, vacancy <= seats,
    household welfare <= 1, groups as option variables ``y(g, e)``, honoured pins
    forced to 1, excludes removed), with ``x`` relaxed to ``[0, 1]``; solved with GLOP.
    Every feasible plan's objective is at most this value.

    Returns
    -------
    float
        The bound, in the same units as ``PlanResult.objective``.
    """
    from ortools.linear_solver import pywraplp

    # pins are honoured or not by the same rules as the plan; force the honoured ones
    result_pins = None
    if pins is not None:
        res = plan_placements(
            candidates,
            workers,
            vacancies,
            pins=pins,
            excludes=excludes,
            monitored_weight=monitored_weight,
            welfare_priority=welfare_priority,
            scale=scale,
        )
        result_pins = res.pins[res.pins["honoured"]]
    p = _build(
        candidates, workers, vacancies, _pairs(excludes), monitored_weight, welfare_priority, scale
    )
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover
        raise RuntimeError("OR-Tools GLOP is not available")
    n_e = len(p.ew)
    x = [solver.NumVar(0.0, 1.0, "") for _ in range(n_e)]
    inf = solver.infinity()
    by_worker = pd.Series(np.arange(n_e)).groupby(p.ew).apply(list)
    for _, es in by_worker.items():
        ct = solver.Constraint(-inf, 1.0)
        for e in es:
            ct.SetCoefficient(x[e], 1.0)
    by_vac = pd.Series(np.arange(n_e)).groupby(p.ev).apply(list)
    for vk, es in by_vac.items():
        ct = solver.Constraint(-inf, float(p.seats[int(vk)]))  # type: ignore[call-overload]
        for e in es:
            ct.SetCoefficient(x[e], 1.0)
    hh_edges = np.flatnonzero(p.welfare_v[p.ev] & (p.household[p.ew] >= 0))
    if len(hh_edges):
        for _, es in pd.Series(hh_edges).groupby(p.household[p.ew[hh_edges]]):
            if len(set(p.ew[es.to_numpy()].tolist())) < 2:
                continue
            ct = solver.Constraint(-inf, 1.0)
            for e in es.tolist():
                ct.SetCoefficient(x[e], 1.0)
    gw = np.flatnonzero(p.group >= 0)
    if len(gw):
        edge_starts = np.searchsorted(p.ew, np.arange(len(p.worker_ids) + 1))
        for _, members in pd.Series(gw).groupby(p.group[gw]):
            emps = sorted(
                {
                    int(p.employer[p.ev[e]])
                    for m in members
                    for e in range(edge_starts[m], edge_starts[m + 1])
                }
            )
            y = {emp: solver.NumVar(0.0, 1.0, "") for emp in emps}
            one = solver.Constraint(-inf, 1.0)
            for var in y.values():
                one.SetCoefficient(var, 1.0)
            for m in members.tolist():
                for emp in emps:
                    ct = solver.Constraint(0.0, 0.0)
                    ct.SetCoefficient(y[emp], -1.0)
                    for e in range(edge_starts[m], edge_starts[m + 1]):
                        if p.employer[p.ev[e]] == emp:
                            ct.SetCoefficient(x[e], 1.0)
    if result_pins is not None and len(result_pins):
        widx, vidx = pd.Index(p.worker_ids), pd.Index(p.vacancy_ids)
        for wid, vid in zip(result_pins[Columns.Worker], result_pins[Columns.Vacancy], strict=True):
            e = p.edge(int(widx.get_loc(wid)), int(vidx.get_loc(vid)))
            if e is not None:
                x[e].SetLb(1.0)
    obj = solver.Objective()
    for e in range(n_e):
        obj.SetCoefficient(x[e], float(p.gain[e]))
    obj.SetMaximization()
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:
        raise RuntimeError(f"the LP relaxation did not solve to optimality (status {status})")
    return float(obj.Value())


__all__ = [
    "AssignmentError",
    "DEFAULT_MONITORED_WEIGHT",
    "DEFAULT_EXACT_LIMIT",
    "DEFAULT_WELFARE_PRIORITY",
    "GROUP_RULES",
    "PIN_REPORT_COLUMNS",
    "PLAN_COLUMNS",
    "PlanResult",
    "lp_upper_bound",
    "plan_placements",
]
