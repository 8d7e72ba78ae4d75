"""Quality per group of workers on the held-out weeks (equal service, issue 18).

An average hides who is served worst. For the models of a training run
(:class:`training.evaluate.Comparison`) this module measures, per group of the
evaluated workers (``matcher.evaluation.groups.worker_groups``: language, gender,
labour capacity, mobility, household status, cold vs known):

* ``ndcg@10`` — NDCG@10 graded by the held-out outcome (retained 3, hired 2,
  applied 1), exactly as the summary table's (``matcher.evaluation.metrics``);
* ``ece`` — expected calibration error of the recommended pairs' scores against
  whether the pair was hired in the test weeks (10 bins of equal count; only for
  models whose scores are probabilities);
* ``placed`` — share of the group's workers that a plan over the evaluated workers'
  top-10 lists (``matcher.planning.assignment.plan_placements`` with the model's scores and the
  seats open at the cutoff) places;
* ``share of best`` — the planned pair's score over the worker's best score in its
  list (0 if unplaced). Training never sees a market's truth, so this share is the
  model's own estimate; ``bench/truth_bench.py`` measures it against the truth.

Each with a percentile bootstrap 95 % interval (workers resampled within the group).
Training reads only held-out events; nothing here reads a truth file.

:func:`group_gaps` turns the table into each dimension's gap — ``1 - worst/best`` of
the group means among groups with at least ``min_workers`` workers — which the
promotion guard (``training.registry.guard_gaps``) compares between the candidate
and the incumbent re-measured on the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from matcher.data.schema import Columns
from matcher.evaluation.groups import (
    group_calibration,
    group_means,
    worker_groups,
    worst_and_best_groups,
)
from matcher.evaluation.metrics import GRADE, per_worker_metrics
from training.split import TimeSplit

__all__ = [
    "GAP_METRIC",
    "MIN_GROUP_WORKERS",
    "group_gaps",
    "groups_from_card",
    "groups_to_card",
    "heldout_group_table",
    "per_worker_heldout",
]

W, V, S = Columns.Worker, Columns.Vacancy, Columns.Score
K = 10
#: The metric whose gaps the promotion guard watches.
GAP_METRIC = "ndcg@10"
#: Groups smaller than this are reported but not used for gaps (their mean is noise).
MIN_GROUP_WORKERS = 20
TABLE_COLUMNS = ["model", "dimension", "group", "metric", "n", "mean", "lo", "hi"]


def _plan_shares(recommendations: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    """``placed`` and ``share of best`` per evaluated worker (see the module docstring)."""
    from matcher.planning.assignment import plan_placements

    workers = split.serving.workers
    vacancies = split.train.vacancies
    vacancies = vacancies[vacancies[V].isin(split.candidates)]
    lists = recommendations[recommendations[W].isin(split.test_workers)]
    lists = lists[np.isfinite(pd.to_numeric(lists[S], errors="coerce"))]
    index = pd.Index(split.test_workers, name=W)
    if lists.empty or lists[S].min() < 0 or lists[S].max() > 1:
        # not probabilities: a plan on them would not mean expected placements
        return pd.DataFrame({"placed": np.nan, "share of best": np.nan}, index=index)
    result = plan_placements(
        lists[[W, V, S]], workers[workers[W].isin(lists[W])], vacancies, welfare_priority=0.0
    )
    best = lists.groupby(W)[S].max()
    planned = result.plan.set_index(W)[S]
    has_list = index.isin(best.index)
    placed = pd.Series(index.isin(planned.index).astype(float), index=index).where(has_list)
    share = (planned.reindex(index).fillna(0.0) / best.reindex(index)).where(
        best.reindex(index) > 0
    )
    return pd.DataFrame({"placed": placed, "share of best": share}, index=index)


def per_worker_heldout(recommendations: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    """Per evaluated worker: ``ndcg@10``, ``placed``, ``share of best`` (NaN: not measured)."""
    index = pd.Index(split.test_workers, name=W)
    ndcg = per_worker_metrics(recommendations, split.test, k=K)["ndcg"].reindex(index)
    # as in the summary table: a worker without a measurable NDCG is left out of the mean
    frame = pd.DataFrame({GAP_METRIC: ndcg}, index=index)
    return frame.join(_plan_shares(recommendations, split))


def _hired_pairs(recommendations: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    grade = split.test.set_index([W, V])[GRADE]
    keys = pd.MultiIndex.from_frame(recommendations[[W, V]])
    hired = (grade.reindex(keys).fillna(0).to_numpy() >= 2).astype(float)
    return pd.DataFrame(
        {
            W: recommendations[W].to_numpy(),
            "predicted": pd.to_numeric(recommendations[S], errors="coerce").to_numpy(float),
            "true": hired,
        }
    )


def heldout_group_table(
    recommendations: dict[str, pd.DataFrame],
    split: TimeSplit,
    n_boot: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-group held-out metrics of each model (see the module docstring).

    Parameters
    ----------
    recommendations : dict of name -> DataFrame
        Each model's top-10 (at least) per evaluated worker: ``worker_id, vacancy_id,
        rank, score``.
    split : TimeSplit
    n_boot : int
        Bootstrap resamples per interval (0: no intervals).

    Returns
    -------
    DataFrame
        ``model, dimension, group, metric, n, mean, lo, hi``.
    """
    workers = split.serving.workers
    workers = workers[workers[W].isin(split.test_workers)]
    # cold = no event before the cutoff: the training snapshot's events
    groups = worker_groups(workers, split.train.events)
    frames = []
    for name, recs in recommendations.items():
        top = recs[recs[W].isin(split.test_workers)]
        if "rank" in top.columns:
            top = top[top["rank"] <= K]
        per_worker = per_worker_heldout(top, split)
        part = group_means(per_worker, groups, n_boot=n_boot, seed=seed)
        scores = pd.to_numeric(top[S], errors="coerce")
        if len(top) and scores.min() >= 0 and scores.max() <= 1:
            cal = group_calibration(
                _hired_pairs(top, split), groups, n_boot=max(n_boot // 4, 0), seed=seed
            )
            part = pd.concat([part, cal.assign(metric="ece")], ignore_index=True)
        frames.append(part.assign(model=name))
    if not frames:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[TABLE_COLUMNS]


def group_gaps(
    table: pd.DataFrame,
    model: str,
    metric: str = GAP_METRIC,
    min_workers: int = MIN_GROUP_WORKERS,
) -> dict[str, dict[str, Any]]:
    """Each dimension's gap: ``1 - worst/best`` of the group means of ``metric``.

    Groups with fewer than ``min_workers`` measured workers and ``not stated`` are
    left out (``matcher.evaluation.groups.worst_and_best_groups``); a dimension with
    fewer than two groups left has no gap.

    Returns
    -------
    dict
        ``{dimension: {"gap", "worst", "worst_mean", "best", "best_mean"}}``.
    """
    part = table[(table["model"] == model) & (table["metric"] == metric)]
    out: dict[str, dict[str, Any]] = {}
    for dim, rows in part.groupby("dimension", sort=False):
        spread = worst_and_best_groups(rows, min_workers, min_groups=2)
        if spread is None:
            continue
        gap = 0.0 if spread.best_mean <= 0 else 1.0 - spread.ratio
        out[str(dim)] = {
            "gap": round(gap, 6),
            "worst": spread.worst,
            "worst_mean": round(spread.worst_mean, 6),
            "best": spread.best,
            "best_mean": round(spread.best_mean, 6),
        }
    return out


def groups_to_card(table: pd.DataFrame) -> dict[str, Any]:
    """The table as JSON for ``model_card.json`` (``{"rows": [...], ...}``)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float | np.floating):
            return round(float(value), 6) if np.isfinite(value) else None
        if isinstance(value, int | np.integer):
            return int(value)
        return str(value)

    rows = [
        {col: clean(value) for col, value in record.items()}
        for record in table[TABLE_COLUMNS].to_dict(orient="records")
    ]
    return {
        "rows": rows,
        "gap_metric": GAP_METRIC,
        "min_workers": MIN_GROUP_WORKERS,
        "definitions": "training/groups.py module docstring",
    }


def groups_from_card(section: dict[str, Any] | None) -> pd.DataFrame:
    """Inverse of :func:`groups_to_card` (an empty table for a card without groups)."""
    rows: Sequence[dict[str, Any]] = (section or {}).get("rows") or []
    frame = pd.DataFrame(list(rows), columns=TABLE_COLUMNS)
    for col in ("mean", "lo", "hi"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").fillna(0).astype(int)
    return frame
