"""Quality per group of workers, with bootstrap intervals (equal service, issue 18).

An average hides who is served worst. :func:`worker_groups` puts every worker in one
group per dimension, from the contract's columns:

========================  ===============================================================
dimension                 groups
========================  ===============================================================
``language``              ``minority only`` (no Mandarin), ``bilingual`` (Mandarin and
                          another), ``Mandarin only``, ``not stated``
``gender``                ``F``, ``M``, ``other``, ``not stated``
``labour capacity``       ``full``, ``semi/weak``, ``not stated``
``mobility``              ``home-bound`` (``local``), ``mobile`` (``any``/``province``)
``household``             ``none``, ``lifted``, ``monitored``, ``not stated``
``history``               ``cold`` (no event before the snapshot), ``known``
========================  ===============================================================

:func:`group_means` reports a per-worker metric (NDCG@10, placed or not, the plan's share
of the worker's best option, ...) per group with a percentile bootstrap 95 % interval
(workers resampled within the group); :func:`group_calibration` does the same for the
expected calibration error of the group's pairs (workers resampled, their pairs kept).
:func:`worst_and_best_groups` picks, from such a table, the worst and the best group of
a dimension whose means are worth comparing: the one rule behind every worst/best ratio
and gap (the truth benches' language ratio, the promotion guard's gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.data.schema import Columns
from matcher.evaluation.calibration import expected_calibration_error

__all__ = [
    "DIMENSIONS",
    "MIN_JUDGED_WORKERS",
    "NOT_STATED",
    "GroupSpread",
    "group_calibration",
    "group_means",
    "worker_groups",
    "worst_and_best_groups",
]

DIMENSIONS = ("language", "gender", "labour capacity", "mobility", "household", "history")
NOT_STATED = "not stated"
#: The truth benches leave out of a worst/best ratio the groups with fewer judged workers
#: than this (their mean is noise).
MIN_JUDGED_WORKERS = 5
W = Columns.Worker


def _language(langs: object) -> str:
    if not isinstance(langs, list | tuple | np.ndarray) or len(langs) == 0:
        return NOT_STATED
    codes = {str(x) for x in langs}
    if "zh" not in codes:
        return "minority only"
    return "bilingual" if len(codes) > 1 else "Mandarin only"


def worker_groups(workers: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One column per dimension of :data:`DIMENSIONS`, indexed by worker id.

    Parameters
    ----------
    workers : DataFrame
        Contract columns ``worker_id`` and any of ``languages`` (list), ``gender``,
        ``labor_capacity``, ``mobility``, ``household_status``; a missing column puts
        everyone in ``not stated``.
    events : DataFrame, optional
        ``worker_id`` of the events known at the snapshot: workers without any are
        ``cold``. Without it every worker is ``known``.
    """

    def col(name: str) -> pd.Series:
        if name in workers.columns:
            return workers[name].astype(object).where(workers[name].notna(), NOT_STATED)
        return pd.Series(NOT_STATED, index=workers.index, dtype=object)

    capacity = col("labor_capacity").map(
        lambda c: "full" if c == "full" else ("semi/weak" if c in ("semi", "weak") else NOT_STATED)
    )
    mobility = col("mobility").map(
        lambda m: (
            "home-bound" if m == "local" else ("mobile" if m in ("any", "province") else NOT_STATED)
        )
    )
    gender = col("gender").map(lambda g: NOT_STATED if g in ("unknown", NOT_STATED) else str(g))
    if events is not None:
        known = workers[W].isin(pd.Index(events[W].unique()))
        history = np.where(known, "known", "cold")
    else:
        history = np.full(len(workers), "known", dtype=object)
    languages = (
        workers["languages"] if "languages" in workers.columns else pd.Series([None] * len(workers))
    )
    out = pd.DataFrame(
        {
            "language": [_language(x) for x in languages],
            "gender": gender.to_numpy(object),
            "labour capacity": capacity.to_numpy(object),
            "mobility": mobility.to_numpy(object),
            "household": col("household_status").to_numpy(object),
            "history": history,
        },
        index=pd.Index(workers[W].to_numpy(object), name=W),
    )
    return out


def _bootstrap(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    if len(values) == 0 or n_boot < 1:
        return float("nan"), float("nan")
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def group_means(
    per_worker: pd.DataFrame,
    groups: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of each per-worker metric per group, with a bootstrap 95 % interval.

    Parameters
    ----------
    per_worker : DataFrame
        Indexed by worker id, one column per metric; NaN means "not measured for this
        worker" (e.g. no positive option) and is left out of that metric.
    groups : DataFrame
        :func:`worker_groups`.
    metrics : sequence of str, optional
        Columns of ``per_worker`` (default: all).
    n_boot : int
        Bootstrap resamples (workers drawn with replacement within the group).

    Returns
    -------
    DataFrame
        ``dimension, group, metric, n, mean, lo, hi``.
    """
    rng = np.random.default_rng(seed)
    metrics = list(metrics or per_worker.columns)
    joined = per_worker[metrics].join(groups, how="inner")
    rows = []
    for dim in [d for d in groups.columns if d in joined.columns]:
        for group, part in joined.groupby(dim, sort=True):
            for metric in metrics:
                values = part[metric].dropna().to_numpy(float)
                lo, hi = _bootstrap(values, n_boot, rng)
                rows.append(
                    {
                        "dimension": dim,
                        "group": group,
                        "metric": metric,
                        "n": len(values),
                        "mean": float(values.mean()) if len(values) else float("nan"),
                        "lo": lo,
                        "hi": hi,
                    }
                )
    return pd.DataFrame(rows, columns=["dimension", "group", "metric", "n", "mean", "lo", "hi"])


def group_calibration(
    pairs: pd.DataFrame,
    groups: pd.DataFrame,
    n_boot: int = 200,
    bins: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Expected calibration error of each group's pairs, with a bootstrap 95 % interval.

    ``pairs`` holds ``worker_id``, ``predicted`` and ``true``; a resample draws the
    group's workers with replacement and keeps all their pairs.

    Returns
    -------
    DataFrame
        ``dimension, group, metric ("ECE"), n (workers), mean, lo, hi``.
    """
    rng = np.random.default_rng(seed)
    by_worker = {
        w: (part["predicted"].to_numpy(float), part["true"].to_numpy(float))
        for w, part in pairs.groupby(W, sort=False)
    }
    rows = []
    for dim in groups.columns:
        for group, members in groups.groupby(dim, sort=True):
            ids = [w for w in members.index if w in by_worker]
            if not ids:
                continue
            p = np.concatenate([by_worker[w][0] for w in ids])
            v = np.concatenate([by_worker[w][1] for w in ids])
            stats = []
            for _ in range(n_boot):
                pick = rng.integers(0, len(ids), len(ids))
                bp = np.concatenate([by_worker[ids[i]][0] for i in pick])
                bv = np.concatenate([by_worker[ids[i]][1] for i in pick])
                stats.append(expected_calibration_error(bp, bv, bins))
            lo, hi = np.percentile(stats, [2.5, 97.5]) if stats else (float("nan"), float("nan"))
            rows.append(
                {
                    "dimension": dim,
                    "group": group,
                    "metric": "ECE",
                    "n": len(ids),
                    "mean": expected_calibration_error(p, v, bins),
                    "lo": float(lo),
                    "hi": float(hi),
                }
            )
    return pd.DataFrame(rows, columns=["dimension", "group", "metric", "n", "mean", "lo", "hi"])


@dataclass(frozen=True)
class GroupSpread:
    """The worst and the best group of one dimension by one metric's mean
    (:func:`worst_and_best_groups`); ``groups`` are the groups compared, in table order."""

    worst: str
    worst_mean: float
    best: str
    best_mean: float
    groups: tuple[str, ...]

    @property
    def ratio(self) -> float:
        """``worst_mean / best_mean`` (NaN when the best mean is 0)."""
        return self.worst_mean / self.best_mean if self.best_mean != 0 else float("nan")


def worst_and_best_groups(
    means: pd.DataFrame, min_workers: int, min_groups: int = 1
) -> GroupSpread | None:
    """The worst and the best of a dimension's groups whose means are worth comparing.

    A group counts when it has at least ``min_workers`` measured workers, is not
    ``not stated`` (no group of people) and has a finite mean.

    Parameters
    ----------
    means : DataFrame
        One dimension's rows of one metric, with columns ``group``, ``n`` and ``mean``
        (as :func:`group_means` writes them).
    min_workers : int
        Groups with fewer measured workers are left out.
    min_groups : int, default 1
        Fewer groups left than this: no spread.

    Returns
    -------
    GroupSpread or None
        The lowest and the highest mean (the first in table order on a tie), or None
        when fewer than ``min_groups`` (or no) groups count.
    """
    kept = means[(means["n"] >= min_workers) & (means["group"] != NOT_STATED)]
    values = kept["mean"].to_numpy(float)
    finite = np.isfinite(values)
    if int(finite.sum()) < max(min_groups, 1):
        return None
    names = [str(g) for g in kept["group"].to_numpy()[finite]]
    values = values[finite]
    lo, hi = int(np.argmin(values)), int(np.argmax(values))
    return GroupSpread(names[lo], float(values[lo]), names[hi], float(values[hi]), tuple(names))
