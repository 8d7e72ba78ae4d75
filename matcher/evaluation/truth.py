"""Judging rankings, probabilities and plans against a market's ground truth.

A *truth* frame holds, per (worker, vacancy) pair, the true expected value of proposing
the vacancy to the worker — for the sample market P(apply) x P(hire | applied) x
P(still there after six months | hired), ``training.synth.truth``. Pairs absent from it
are worth 0 (they break a hard rule, or the worker is not seeking).

* :func:`ndcg_true_gains` — NDCG@k of ranked lists with the true value as the (linear)
  gain; the ideal list is the worker's k best pairs of the truth, so the oracle scores 1.
* :func:`candidate_diagnosis` — why a worker's list is weak, from the score of every
  candidate the ranker saw: recall of the true top k, options, NDCG of a random order,
  rank correlation of score and truth, score and truth sums (calibration per group).
* :func:`reliability_bins`, :func:`expected_calibration_error`, :func:`brier_score`,
  :func:`per_worker_constant` — from :mod:`matcher.evaluation.calibration` (re-exported),
  applied with the true value as the target.
* :func:`plan_value`, :func:`oracle_plan`, :func:`oracle_plan_value`, :func:`lp_value` —
  expected stable placements of a plan (sum of true values of its pairs) and of the best
  plan on the truth (unweighted, or under the nightly run's policy weights).

All functions are pure (frames in, numbers or frames out) and never read files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher.data.schema import Columns
from matcher.evaluation.calibration import (
    brier_by_worker,
    brier_score,
    expected_calibration_error,
    per_worker_constant,
    reliability_bins,
)

if TYPE_CHECKING:
    from matcher.planning.assignment import PlanResult

__all__ = [
    "attach_truth",
    "brier_by_worker",
    "brier_score",
    "candidate_diagnosis",
    "expected_calibration_error",
    "lp_value",
    "ndcg_true_gains",
    "oracle_plan",
    "oracle_plan_value",
    "per_worker_constant",
    "plan_value",
    "reliability_bins",
]

W, V, S = Columns.Worker, Columns.Vacancy, Columns.Score


def _check(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {', '.join(missing)}")


def attach_truth(pairs: pd.DataFrame, truth: pd.DataFrame, column: str = "value") -> np.ndarray:
    """The true value of each row of ``pairs`` (``worker_id, vacancy_id``); 0 when absent."""
    _check(pairs, (W, V), "pairs")
    _check(truth, (W, V, column), "truth")
    index = pd.MultiIndex.from_frame(truth[[W, V]])
    values = pd.Series(truth[column].to_numpy(float), index=index)
    if not index.is_unique:
        raise ValueError("truth holds a (worker_id, vacancy_id) pair more than once")
    key = pd.MultiIndex.from_frame(pairs[[W, V]])
    return values.reindex(key).fillna(0.0).to_numpy(float)


def _ideal_lists(truth: pd.DataFrame, k: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Each worker's ``k`` best pairs of the truth with a positive value (best first), their
    DCG (the ideal of NDCG@k) by worker id, and the discounts of the ``k`` places."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    _check(truth, (W, V, "value"), "truth")
    positive = truth[truth["value"] > 0]
    ideal_top = (
        positive.sort_values([W, "value"], ascending=[True, False]).groupby(W, sort=False).head(k)
    )
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_rank = ideal_top.groupby(W, sort=False).cumcount().to_numpy()
    idcg = (
        pd.Series(ideal_top["value"].to_numpy() * discounts[ideal_rank], index=ideal_top[W])
        .groupby(level=0)
        .sum()
    )
    return ideal_top, idcg, discounts


def ndcg_true_gains(
    recommendations: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    workers: Sequence[str] | pd.Index | None = None,
) -> pd.Series:
    """NDCG@k per worker with the true value of each pair as its gain.

    Parameters
    ----------
    recommendations : DataFrame
        ``worker_id, vacancy_id`` and ``rank`` (1 = first) or ``score`` (higher first).
    truth : DataFrame
        ``worker_id, vacancy_id, value``.
    k : int
        List length.
    workers : sequence, optional
        Workers to evaluate (default: every worker of ``truth`` with a positive value).
        A worker without a list scores 0; a worker whose best true value is 0 is left out.

    Returns
    -------
    Series
        NDCG@k in [0, 1] by worker id.
    """
    _, idcg, discounts = _ideal_lists(truth, k)
    wanted = idcg.index if workers is None else pd.Index(workers).intersection(idcg.index)
    recs = recommendations[recommendations[W].isin(wanted)]
    if "rank" in recs.columns:
        recs = recs.sort_values([W, "rank"], kind="stable")
    else:
        _check(recs, (S,), "recommendations (no rank column)")
        recs = recs.sort_values([W, S], ascending=[True, False], kind="stable")
    recs = recs.groupby(W, sort=False).head(k)
    gains = attach_truth(recs, truth)
    pos = recs.groupby(W, sort=False).cumcount().to_numpy()
    dcg = pd.Series(gains * discounts[pos], index=recs[W].to_numpy()).groupby(level=0).sum()
    out = dcg.reindex(wanted).fillna(0.0) / idcg.reindex(wanted)
    out.index.name = W
    return out.rename(f"ndcg@{k}")


def candidate_diagnosis(
    scores: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    workers: Sequence[str] | pd.Index | None = None,
) -> pd.DataFrame:
    """Why a worker's top ``k`` is weak, from the score of every candidate the ranker saw.

    Parameters
    ----------
    scores : DataFrame
        ``worker_id, vacancy_id, score``: every candidate the ranker scored (retrieval's
        union over the eligible open vacancies), not only the top ``k``.
    truth : DataFrame
        ``worker_id, vacancy_id, value``.
    k : int
        List length.
    workers : sequence, optional
        Workers to diagnose (default: every worker of ``truth`` with a positive value).

    Returns
    -------
    DataFrame
        By worker id: ``recall`` (share of the worker's true top ``k`` — pairs with a
        positive value — among the candidates; 1 when retrieval and the engine's
        eligibility lose none), ``options`` (pairs with a positive true value),
        ``random`` (expected NDCG@k of the candidates in random order: the mean
        candidate value at each of the first min(k, n) places — how hard the list is
        to order), ``spearman`` (rank correlation of score and true value over the
        candidates; NaN below 5 candidates or when either is constant), ``score_sum``
        and ``value_sum`` (over the candidates: their ratio over a group is its
        calibration, mean score over mean true value).
    """
    _check(scores, (W, V, S), "scores")
    best, ideal, discounts = _ideal_lists(truth, k)
    wanted = ideal.index if workers is None else pd.Index(workers).intersection(ideal.index)
    cand = scores[scores[W].isin(wanted)][[W, V, S]].copy()
    cand["value"] = attach_truth(cand, truth)
    seen = pd.MultiIndex.from_frame(cand[[W, V]])
    found = pd.MultiIndex.from_frame(best[[W, V]]).isin(seen)
    by = cand.groupby(W)
    n = by.size()
    random = (
        by["value"].mean() * np.cumsum(discounts)[np.minimum(n, k) - 1] / ideal.reindex(n.index)
    )

    def spearman(g: pd.DataFrame) -> float:
        if len(g) < 5 or g["value"].nunique() < 2 or g[S].nunique() < 2:
            return float("nan")
        return float(g[S].rank().corr(g["value"].rank()))

    out = pd.DataFrame(
        {
            "recall": pd.Series(found, index=best[W].to_numpy()).groupby(level=0).mean(),
            "options": truth[truth["value"] > 0].groupby(W).size(),
            "random": random,
            "spearman": by[[S, "value"]].apply(spearman),
            "score_sum": by[S].sum(),
            "value_sum": by["value"].sum(),
        }
    ).reindex(wanted)
    out["recall"] = out["recall"].fillna(0.0)
    out.index.name = W
    return out


def plan_value(plan: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Expected stable placements of a plan: the sum of its pairs' true values."""
    return float(attach_truth(plan, truth).sum())


def _as_candidates(truth: pd.DataFrame, column: str) -> pd.DataFrame:
    positive = truth[truth[column] > 0]
    return pd.DataFrame(
        {W: positive[W].to_numpy(), V: positive[V].to_numpy(), S: positive[column].to_numpy(float)}
    )


def oracle_plan(
    truth: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    **plan_options: Any,
) -> PlanResult:
    """:func:`matcher.planning.assignment.plan_placements` on the true values.

    The pairs of ``candidates`` (default: every pair of the truth) are scored with their
    true values; ``plan_options`` go to ``plan_placements`` (default monitored weight 1
    and no welfare bonus, so the objective is expected stable placements). With policy
    weights (``monitored_weight``, ``welfare_priority`` as the nightly run uses them) it
    is the *policy oracle*: the best plan under the policy, knowing the truth.
    """
    from matcher.planning.assignment import plan_placements

    options: dict[str, Any] = {"monitored_weight": 1.0, "welfare_priority": 0.0}
    options.update(plan_options)
    cands = _candidates_with_truth(truth, candidates)
    return plan_placements(cands, workers, vacancies, **options)


def oracle_plan_value(
    truth: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    **plan_options: Any,
) -> tuple[float, float]:
    """The best plan on the true values: (plan's true value, LP upper bound).

    The plan is :func:`oracle_plan` (``plan_options`` as there); the LP bound
    (:func:`matcher.planning.assignment.lp_upper_bound`) is the exact relaxation of the
    unweighted problem over the same pairs, so no plan over them can place more
    expected stable placements.
    """
    if _candidates_with_truth(truth, candidates).empty:
        return 0.0, 0.0
    result = oracle_plan(truth, workers, vacancies, candidates, **plan_options)
    return plan_value(result.plan, truth), lp_value(truth, workers, vacancies, candidates)


def lp_value(
    truth: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    *,
    monitored_weight: float = 1.0,
    welfare_priority: float = 0.0,
) -> float:
    """LP optimum over ``candidates`` with true values: expected stable placements, or
    with policy weights the weighted objective of ``plan_placements`` (an upper bound of
    the policy oracle's ``objective``)."""
    from matcher.planning.assignment import lp_upper_bound

    cands = _candidates_with_truth(truth, candidates)
    if cands.empty:
        return 0.0
    return float(
        lp_upper_bound(
            cands,
            workers,
            vacancies,
            monitored_weight=monitored_weight,
            welfare_priority=welfare_priority,
        )
    )


def _candidates_with_truth(truth: pd.DataFrame, candidates: pd.DataFrame | None) -> pd.DataFrame:
    if candidates is None:
        return _as_candidates(truth, "value")
    pairs = candidates[[W, V]].drop_duplicates()
    values = attach_truth(pairs, truth)
    keep = values > 0
    return pd.DataFrame(
        {W: pairs[W].to_numpy()[keep], V: pairs[V].to_numpy()[keep], S: values[keep]}
    )
