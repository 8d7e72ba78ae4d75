"""Ground truth of a sample market: the true value of proposing a vacancy to a worker.

At the snapshot (the end of the horizon) every pair of a **seeking** worker (registered,
not employed, not in the 1–4 weeks' pause after leaving a job) and an **open** vacancy
(seats left, not closed) has a true expected value under the generator's own behavioural
model (``training/synth/behaviour.py``, ``docs/sample-market.md``)::

    value = P(apply | proposed) × P(hired | applied) × P(still there after 26 weeks | hired)

* ``p_apply`` = σ(*s*), the apply logit as if the vacancy were shown at the snapshot (with
  the county–province flows and county–employer ties of that moment); 0 for a pair the
  worker already applied to (the market never shows it again).
* ``p_hire`` = σ(*h*) · σ(accept): the employer's offer for a **single applicant with a seat
  free** (the employer's rule *h* + Logistic noise > 0 — the interview does not change the
  decision) times the worker accepting it; 0 for a public-welfare post while another member
  of the household holds one. Competition (other applicants for the last seat, or other
  offers the worker prefers) is *not* in it: it is the value of this one proposal.
* ``p_stay6m``: the closed-form probability that the tenure drawn for a hire made three days
  after the snapshot outlives 26 weeks (``behaviour.stay_probability``: the leave hazard,
  wage arrears, injuries, the Spring Festival).

Two more columns say what no model of the registers can know: ``p_stay6m_avg`` is
``p_stay6m`` with the worker's latent staying power (``WorkerDraw.staying``, drawn
N(0, ``STAYING_SD``) and never published) replaced by its average over that distribution
(Gauss–Hermite quadrature), and ``value_avg_staying`` = ``p_apply`` × ``p_hire`` ×
``p_stay6m_avg``. A plan or ranking made on ``value_avg_staying`` is the oracle of a model
that knows everything the generator knows except each worker's staying power — what his
history alone can only hint at (one or two spells in 40 weeks). Benchmarks judge it, like
everything, on ``value``.

Pairs that break a hard rule of the generator (mobility, capacity, age, language) have
value 0 and are **not stored**: the file holds the eligible pairs only.

This file is for benchmarks only. ``jobmatch import`` ignores it and no training code reads
it (``tests/synth/test_truth.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from training.synth.behaviour import (
    DAY,
    PUBLIC,
    MarketState,
    PairMarket,
    Params,
    accept_logit,
    apply_logit,
    arrears_probability,
    hire_score,
    injury_rate,
    leave_rate,
    new_year_leave_probability,
    sigmoid,
    stay_probability,
)
from training.synth.workers import STAYING_SD

#: the file name beside a generated market's contract files
TRUTH_FILE = "truth.parquet"
#: the columns of the truth file, in order
TRUTH_COLUMNS = (
    "worker_id",
    "vacancy_id",
    "p_apply",
    "p_hire",
    "p_stay6m",
    "value",
    "p_stay6m_avg",
    "value_avg_staying",
)
#: the columns every truth file has (files written before session 17 lack the others)
REQUIRED_TRUTH_COLUMNS = TRUTH_COLUMNS[:6]
#: quadrature nodes for the average over the staying power's normal distribution
_STAYING_NODES = 12
#: a proposal made at the snapshot is hired this long after it (view, apply, decide)
HIRE_DELAY_NS = 3 * DAY
#: pairs scored per block (bounds memory on large markets)
_BLOCK_PAIRS = 2_000_000


def seeking_workers(mk: PairMarket, state: MarketState) -> np.ndarray:
    """Positions of the workers searching at the snapshot."""
    return np.flatnonzero((mk.w.registered_ns < state.end_ns) & (state.free_from <= state.end_ns))


def open_vacancies(mk: PairMarket, state: MarketState) -> np.ndarray:
    """Positions of the vacancies open at the snapshot (seats left, not closed)."""
    v = mk.v
    return np.flatnonzero(
        (v.posted_ns < state.end_ns) & (v.closes_ns > state.end_ns) & (state.seats_left > 0)
    )


def pair_truth(
    mk: PairMarket, p: Params, state: MarketState, wi: np.ndarray, vi: np.ndarray
) -> dict[str, np.ndarray]:
    """The stage probabilities of the pairs (``wi``, ``vi``) at the snapshot.

    Returns ``eligible`` and ``p_apply``, ``p_hire``, ``p_stay6m``, ``value`` (0 where a
    hard rule is broken), ``p_stay6m_avg`` and ``value_avg_staying`` (the module's
    docstring).
    """
    at = np.full(len(wi), state.end_ns, np.int64)
    eligible = mk.eligible(wi, vi, at)
    p_apply = sigmoid(apply_logit(mk, p, wi, vi, at, state.flows, state.ties))
    key = wi.astype(np.int64) * len(mk.v.occupation) + vi
    if len(state.applied):
        pos = np.minimum(np.searchsorted(state.applied, key), len(state.applied) - 1)
        p_apply = np.where(state.applied[pos] == key, 0.0, p_apply)
    p_hire = sigmoid(hire_score(mk, p, wi, vi, state.flows, state.ties)) * sigmoid(
        accept_logit(mk, p, wi, vi)
    )
    public = mk.v.channel[vi] == PUBLIC
    if public.any():
        held = state.public_until[mk.w.household[wi]] > state.end_ns
        p_hire = np.where(public & held, 0.0, p_hire)
    t_hire = at + HIRE_DELAY_NS
    rate = leave_rate(mk, p, wi, vi, state.flows, state.ties, np.zeros(len(wi), bool))
    others = (
        arrears_probability(mk, p, vi),
        injury_rate(mk, p, vi),
        new_year_leave_probability(mk, p, wi, vi),
        t_hire,
    )
    p_stay = stay_probability(p, rate, *others)
    p_stay_avg = average_over_staying(
        lambda staying: stay_probability(p, rate * np.exp(mk.w.staying[wi] - staying), *others)
    )
    value = np.where(eligible, p_apply * p_hire * p_stay, 0.0)
    return {
        "eligible": eligible,
        "p_apply": p_apply,
        "p_hire": np.where(eligible, p_hire, 0.0),
        "p_stay6m": p_stay,
        "value": value,
        "p_stay6m_avg": p_stay_avg,
        "value_avg_staying": np.where(eligible, p_apply * p_hire * p_stay_avg, 0.0),
    }


def average_over_staying(
    probability: Callable[[float], np.ndarray], sd: float = STAYING_SD
) -> np.ndarray:
    """E[``probability(z)``] for z ~ N(0, ``sd``), by Gauss–Hermite quadrature.

    ``probability`` maps one staying power to an array (the same shape for every z).
    """
    nodes, weights = np.polynomial.hermite.hermgauss(_STAYING_NODES)
    terms = (
        (w / np.sqrt(np.pi)) * probability(float(np.sqrt(2.0) * sd * x))
        for x, w in zip(nodes, weights, strict=True)
    )
    return np.asarray(sum(terms))


def market_truth(mk: PairMarket, p: Params, state: MarketState) -> pd.DataFrame:
    """The truth table of a simulated market: one row per eligible (seeking, open) pair.

    Columns :data:`TRUTH_COLUMNS`, sorted by worker then vacancy id.
    """
    workers = seeking_workers(mk, state)
    vacancies = open_vacancies(mk, state)
    wid = mk.w.frame["worker_id"].to_numpy(object)
    vid = mk.v.frame["vacancy_id"].to_numpy(object)
    parts: list[pd.DataFrame] = []
    step = max(1, _BLOCK_PAIRS // max(len(vacancies), 1))
    for lo in range(0, len(workers), step):
        block = workers[lo : lo + step]
        wi = np.repeat(block, len(vacancies))
        vi = np.tile(vacancies, len(block))
        t = pair_truth(mk, p, state, wi, vi)
        keep = t["eligible"]
        parts.append(
            pd.DataFrame(
                {
                    "worker_id": wid[wi[keep]],
                    "vacancy_id": vid[vi[keep]],
                    **{c: t[c][keep].astype(float) for c in TRUTH_COLUMNS[2:]},
                }
            )
        )
    if not parts:
        return empty_truth()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["worker_id", "vacancy_id"], kind="stable").reset_index(drop=True)


def empty_truth() -> pd.DataFrame:
    """A truth table without rows (no seeking worker or no open vacancy)."""
    return pd.DataFrame(
        {
            "worker_id": pd.Series(dtype=object),
            "vacancy_id": pd.Series(dtype=object),
            **{c: pd.Series(dtype=float) for c in TRUTH_COLUMNS[2:]},
        }
    )


def write_truth(truth: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write ``truth.parquet`` into ``out_dir`` (beside the market's contract files)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TRUTH_FILE
    truth[list(TRUTH_COLUMNS)].to_parquet(path, index=False)
    return path


def read_truth(folder: str | Path) -> pd.DataFrame:
    """Read the truth file of a market folder (benchmarks and evaluation only).

    Raises
    ------
    FileNotFoundError
        When the folder holds no ``truth.parquet`` (markets written with ``--no-truth``
        or not generated by ``jobmatch synth``).
    ValueError
        When the file lacks one of :data:`REQUIRED_TRUTH_COLUMNS`.

    The columns :data:`TRUTH_COLUMNS` the file has, in that order (a file written before
    ``p_stay6m_avg`` and ``value_avg_staying`` existed has only the required ones).
    """
    path = Path(folder) / TRUTH_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; generate the market with `jobmatch synth` (truth on by default)"
        )
    frame = pd.read_parquet(path)
    missing = [c for c in REQUIRED_TRUTH_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing truth columns {', '.join(missing)}")
    return frame[[c for c in TRUTH_COLUMNS if c in frame.columns]]
