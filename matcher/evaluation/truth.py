"""Judging rankings, probabilities and plans against a market's ground truth.

A *truth* frame holds, per (worker, vacancy) pair, the true expected value of proposing
the vacancy to the worker — for the sample market P(apply) x P(hire | applied) x
P(still there after six months | hired), ``training.synth.truth``. Pairs absent from it
are worth 0 (they break a hard rule, or the worker is not seeking).

* :func:`ndcg_true_gains` — NDCG@k of ranked lists with the true value as the (linear)
  gain; the ideal list is the worker's k best pairs of the truth, so the oracle scores 1.
* :func:`reliability_bins`, :func:`expected_calibration_error` — predicted probability
  against the true one, in bins of equal count (or equal width).
* :func:`brier_score` — the expected Brier score of predictions ``p`` of Bernoulli
  outcomes with true probability ``v``: mean((p − v)² + v(1 − v)); the second term is the
  irreducible part, the same for every predictor.
* :func:`per_worker_constant` — the best predictor that gives every pair of a worker the
  same number (the worker's mean true value): the baseline a score must beat to carry
  information *within* a worker's list.
* :func:`plan_value`, :func:`oracle_plan_value`, :func:`lp_value` — expected stable
  placements of a plan (sum of true values of its pairs) and of the best plan on the truth.

All functions are pure (frames in, numbers or frames out) and never read files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.schema import Columns

__all__ = [
    "attach_truth",
    "brier_score",
    "expected_calibration_error",
    "lp_value",
    "ndcg_true_gains",
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


def reliability_bins(
    predicted: np.ndarray | pd.Series,
    true: np.ndarray | pd.Series,
    bins: int = 10,
    strategy: str = "quantile",
) -> pd.DataFrame:
    """Predicted against true probability in ``bins`` bins.

    ``strategy="quantile"``: bins of (nearly) equal count, by predicted value;
    ``"uniform"``: equal width on [0, 1]. Empty bins are dropped.

    Returns
    -------
    DataFrame
        ``lo, hi, n, predicted, true`` (mean predicted and mean true value per bin).
    """
    p = np.asarray(predicted, float)
    y = np.asarray(true, float)
    if p.shape != y.shape:
        raise ValueError(f"predicted and true differ in shape: {p.shape} vs {y.shape}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if strategy not in ("quantile", "uniform"):
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    if len(p) == 0:
        return pd.DataFrame(columns=["lo", "hi", "n", "predicted", "true"])
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    else:
        order = np.argsort(p, kind="stable")
        which = np.empty(len(p), int)
        which[order] = np.arange(len(p)) * bins // len(p)
    frame = pd.DataFrame({"bin": which, "p": p, "y": y})
    out = frame.groupby("bin").agg(
        lo=("p", "min"),
        hi=("p", "max"),
        n=("p", "size"),
        predicted=("p", "mean"),
        true=("y", "mean"),
    )
    return out.reset_index(drop=True)


def expected_calibration_error(
    predicted: np.ndarray | pd.Series,
    true: np.ndarray | pd.Series,
    bins: int = 10,
    strategy: str = "quantile",
) -> float:
    """Σ_b (n_b / n) · |mean predicted_b − mean true_b| over :func:`reliability_bins`."""
    table = reliability_bins(predicted, true, bins, strategy)
    if table.empty:
        return float("nan")
    weight = table["n"] / table["n"].sum()
    return float((weight * (table["predicted"] - table["true"]).abs()).sum())


def brier_score(predicted: np.ndarray | pd.Series, true: np.ndarray | pd.Series) -> float:
    """Expected Brier score of ``predicted`` for outcomes that happen with probability ``true``.

    mean((p − v)² + v(1 − v)): what the Brier score on the realised outcomes converges to.
    """
    p = np.asarray(predicted, float)
    v = np.asarray(true, float)
    if p.shape != v.shape:
        raise ValueError(f"predicted and true differ in shape: {p.shape} vs {v.shape}")
    if len(p) == 0:
        return float("nan")
    return float(np.mean((p - v) ** 2 + v * (1 - v)))


def per_worker_constant(worker_ids: np.ndarray | pd.Series, true: np.ndarray) -> np.ndarray:
    """Each pair's worker's mean true value: the best constant-per-worker prediction."""
    v = np.asarray(true, float)
    return pd.Series(v).groupby(np.asarray(worker_ids)).transform("mean").to_numpy(float)


def plan_value(plan: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Expected stable placements of a plan: the sum of its pairs' true values."""
    return float(attach_truth(plan, truth).sum())


def _as_candidates(truth: pd.DataFrame, column: str) -> pd.DataFrame:
    positive = truth[truth[column] > 0]
    return pd.DataFrame(
        {W: positive[W].to_numpy(), V: positive[V].to_numpy(), S: positive[column].to_numpy(float)}
    )


def oracle_plan_value(
    truth: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
) -> tuple[float, float]:
    """The best plan on the true values: (plan's true value, LP upper bound).

    The plan is :func:`matcher.assignment.plan_placements` on the pairs of ``candidates``
    (default: every pair of the truth) scored with their true values, with the monitored
    weight 1 and no welfare bonus, so its objective is expected stable placements; the LP
    bound (:func:`matcher.assignment.lp_upper_bound`) is the exact relaxation of the same
    problem, so no plan over these pairs can do better.
    """
    from matcher.assignment import plan_placements

    cands = _candidates_with_truth(truth, candidates)
    if cands.empty:
        return 0.0, 0.0
    result = plan_placements(cands, workers, vacancies, monitored_weight=1.0, welfare_priority=0.0)
    return plan_value(result.plan, truth), lp_value(truth, workers, vacancies, candidates)


def lp_value(
    truth: pd.DataFrame,
    workers: pd.DataFrame,
    vacancies: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
) -> float:
    """LP optimum of expected stable placements over ``candidates`` with true values."""
    from matcher.assignment import lp_upper_bound

    cands = _candidates_with_truth(truth, candidates)
    if cands.empty:
        return 0.0
    return float(
        lp_upper_bound(cands, workers, vacancies, monitored_weight=1.0, welfare_priority=0.0)
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
