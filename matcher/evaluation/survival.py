"""Survival metrics for time to leaving a job: Kaplan–Meier, concordance, Brier score.

A hire is followed from its start (time 0) until the worker leaves (``event = 1``) or the
observation ends (``event = 0``, censored). Subjects may enter observation late
(``entry > 0``, left truncation): a hire made before the evaluation window opens is
only known to have lasted until then, and counts in a risk set only after ``entry``.

* :func:`kaplan_meier` — the product-limit estimator with delayed entry:
  ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``, ``n_i`` the subjects with
  ``entry < t_i <= time`` (Kaplan & Meier 1958).
* :func:`concordance_index` — Harrell's C: among comparable pairs (``i`` left at
  ``t_i`` while ``j`` was still observed and in the job: ``entry_j < t_i < time_j``, or
  ``time_j == t_i`` with ``j`` censored), the share where the model gave ``i`` the higher
  risk; ties in risk count one half (Harrell et al. 1982). 0.5 is chance, 1 perfect.
* :func:`brier_score` — Graf et al. (1999) at horizon ``t``, with inverse probability of
  censoring weights ``G`` (Kaplan–Meier of the censoring times): subjects who left by
  ``t`` weigh ``1 / G(T_i-)`` with target 0, subjects still in the job after ``t`` weigh
  ``1 / G(t)`` with target 1, subjects censored before ``t`` weigh 0. With delayed entry
  the predictions are conditional on having lasted until entry
  (``S(t) / S(entry)``). Lower is better.
"""

from __future__ import annotations

import numpy as np

__all__ = ["brier_score", "concordance_index", "kaplan_meier", "survival_at"]


def _arrays(time, event, entry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=bool)
    s = np.zeros_like(t) if entry is None else np.asarray(entry, dtype=float)
    if not (t.shape == e.shape == s.shape) or t.ndim != 1:
        raise ValueError("time, event and entry must be 1-d arrays of one length")
    if np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(s > t):
        raise ValueError("times must be finite, non-negative and at or after entry")
    return t, e, s


def kaplan_meier(time, event, entry=None) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan–Meier survival curve.

    Parameters
    ----------
    time : array of float
        Time of leaving or of censoring, per subject.
    event : array of bool
        True when the subject left at ``time``; False when censored then.
    entry : array of float, optional
        Time the subject entered observation (default 0).

    Returns
    -------
    (times, survival) : arrays
        The distinct event times and ``S`` just after each (a right-continuous step
        function; ``S = 1`` before the first). Empty when nobody left.
    """
    t, e, s = _arrays(time, event, entry)
    times = np.unique(t[e])
    if not len(times):
        return times, np.ones(0)
    deaths = np.array([np.sum(e & (t == u)) for u in times], dtype=float)
    at_risk = np.array([np.sum((s < u) & (t >= u)) for u in times], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0)
    return times, np.cumprod(factor)


def survival_at(times: np.ndarray, survival: np.ndarray, t) -> np.ndarray:
    """Evaluate a step curve from :func:`kaplan_meier` at ``t`` (scalar or array);
    after the last event time the last value holds."""
    t = np.asarray(t, dtype=float)
    if not len(times):
        return np.ones_like(t)
    idx = np.searchsorted(times, t, side="right") - 1
    return np.where(idx >= 0, survival[np.clip(idx, 0, None)], 1.0)


def _left_limit(times: np.ndarray, survival: np.ndarray, t) -> np.ndarray:
    """``S(t-)``: the curve just before ``t``."""
    t = np.asarray(t, dtype=float)
    if not len(times):
        return np.ones_like(t)
    idx = np.searchsorted(times, t, side="left") - 1
    return np.where(idx >= 0, survival[np.clip(idx, 0, None)], 1.0)


def concordance_index(time, event, risk, entry=None) -> float:
    """Harrell's C of ``risk`` (higher = leaves sooner); NaN without comparable pairs."""
    t, e, s = _arrays(time, event, entry)
    r = np.asarray(risk, dtype=float)
    if r.shape != t.shape:
        raise ValueError("risk must have one value per subject")
    concordant = 0.0
    comparable = 0
    for i in np.flatnonzero(e):
        # j still observed in the job when i left
        later = (s < t[i]) & ((t > t[i]) | ((t == t[i]) & ~e))
        later[i] = False
        n = int(later.sum())
        if not n:
            continue
        comparable += n
        concordant += float(np.sum(r[i] > r[later])) + 0.5 * float(np.sum(r[i] == r[later]))
    return concordant / comparable if comparable else float("nan")


def brier_score(time, event, predicted, horizon: float, entry=None, predicted_at_entry=None):
    """IPCW Brier score at ``horizon`` of predicted survival ``predicted`` (P(still in the
    job at ``horizon``), one per subject); NaN when nobody can be scored (no subject
    observed up to the horizon, or the censoring curve reaches 0 there).

    ``predicted_at_entry`` (P(in the job at entry)) makes the prediction conditional on
    having lasted until entry; default 1 (no truncation, or already conditional).
    """
    t, e, s = _arrays(time, event, entry)
    p = np.asarray(predicted, dtype=float)
    if p.shape != t.shape:
        raise ValueError("predicted must have one value per subject")
    if predicted_at_entry is not None:
        base = np.asarray(predicted_at_entry, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(base > 0, np.clip(p / base, 0.0, 1.0), 0.0)
    in_window = s < horizon
    if not in_window.any():
        return float("nan")
    t, e, s, p = t[in_window], e[in_window], s[in_window], p[in_window]
    ct, cs = kaplan_meier(t, ~e, s)  # censoring distribution
    left = e & (t <= horizon)
    stayed = t > horizon
    g_left = _left_limit(ct, cs, t)
    g_h = float(survival_at(ct, cs, horizon))
    if not stayed.any() and not left.any():
        return float("nan")
    if stayed.any() and g_h <= 0:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(left, 1.0 / g_left, np.where(stayed, 1.0 / g_h if g_h > 0 else 0.0, 0.0))
    target = np.where(stayed, 1.0, 0.0)
    return float(np.sum(w * (target - p) ** 2) / len(t))
