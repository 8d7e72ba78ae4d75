"""Calibration of predicted probabilities against outcomes or true probabilities.

* :func:`reliability_bins`, :func:`expected_calibration_error` — predicted probability
  against the observed (0/1) or true probability, in bins of equal count (or equal width).
* :func:`brier_score` — the expected Brier score of predictions ``p`` of Bernoulli
  outcomes with probability ``v``: mean((p − v)² + v(1 − v)); with 0/1 outcomes the second
  term vanishes and this is the ordinary Brier score. The second term is the irreducible
  part, the same for every predictor.
* :func:`per_worker_constant` — the best predictor that gives every pair of a worker the
  same number (the worker's mean target): the baseline a score must beat to carry
  information *within* a worker's list.
* :func:`brier_by_worker` — the expected Brier score's excess over the irreducible part,
  split into the error of each worker's mean (the scale across workers) and the error
  inside each worker's list (order and spread), which the per-worker constant's excess
  is compared with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "brier_by_worker",
    "brier_score",
    "expected_calibration_error",
    "per_worker_constant",
    "reliability_bins",
]


def _binned(
    predicted: np.ndarray | pd.Series,
    true: np.ndarray | pd.Series,
    bins: int,
    strategy: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``predicted`` and ``true`` as float arrays and each one's bin
    (:func:`reliability_bins`' rules and errors)."""
    p = np.asarray(predicted, float)
    y = np.asarray(true, float)
    if p.shape != y.shape:
        raise ValueError(f"predicted and true differ in shape: {p.shape} vs {y.shape}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    if strategy not in ("quantile", "uniform"):
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    else:
        order = np.argsort(p, kind="stable")
        which = np.empty(len(p), int)
        which[order] = np.arange(len(p)) * bins // max(len(p), 1)
    return p, y, which


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
    p, y, which = _binned(predicted, true, bins, strategy)
    if len(p) == 0:
        return pd.DataFrame(columns=["lo", "hi", "n", "predicted", "true"])
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
    """Σ_b (n_b / n) · |mean predicted_b − mean true_b| over :func:`reliability_bins`,
    i.e. Σ_b |Σ predicted_b − Σ true_b| / n (per-bin sums, no table: the equal-service
    bootstrap computes thousands)."""
    p, y, which = _binned(predicted, true, bins, strategy)
    if len(p) == 0:
        return float("nan")
    gap = np.bincount(which, weights=p, minlength=bins) - np.bincount(
        which, weights=y, minlength=bins
    )
    return float(np.abs(gap).sum() / len(p))


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


def brier_by_worker(
    worker_ids: np.ndarray | pd.Series,
    predicted: np.ndarray | pd.Series,
    true: np.ndarray | pd.Series,
) -> tuple[float, float]:
    """The expected Brier score's excess ``mean((p − v)²)``, split per worker.

    With ``p̄_w`` and ``v̄_w`` the means of worker *w*'s pairs, ``p − v = (p̄_w − v̄_w) +
    ((p − p̄_w) − (v − v̄_w))`` and the cross term sums to 0 over each worker's pairs, so

        mean((p − v)²) = between + within,
        between = mean((p̄_w − v̄_w)²)                (each pair counted, the scale),
        within  = mean(((p − p̄_w) − (v − v̄_w))²)    (the order and spread in a list).

    :func:`per_worker_constant` has ``between = 0`` and ``within = mean((v − v̄_w)²)``: a
    score beats it on the Brier score exactly when ``between + within`` is below that.

    Returns
    -------
    (between, within) : tuple of float
        NaN for no pairs.
    """
    p = np.asarray(predicted, float)
    v = np.asarray(true, float)
    if p.shape != v.shape or len(np.asarray(worker_ids)) != len(p):
        raise ValueError(
            f"worker_ids, predicted and true differ in length: "
            f"{len(np.asarray(worker_ids))}, {p.shape}, {v.shape}"
        )
    if len(p) == 0:
        return float("nan"), float("nan")
    p_mean = per_worker_constant(worker_ids, p)
    v_mean = per_worker_constant(worker_ids, v)
    between = float(np.mean((p_mean - v_mean) ** 2))
    within = float(np.mean(((p - p_mean) - (v - v_mean)) ** 2))
    return between, within
