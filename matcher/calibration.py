"""Calibration of the ranker's stages on a later time slice, and censored stays.

Why a second calibration
------------------------
Each stage of :class:`matcher.ranking.StablePlacementRanker` is a booster wrapped in
cross-validated calibration *on its own training rows*. That makes a stage calibrated
for the population it was trained on, which is not the population it is asked about:

* the **apply** stage learns applications against eligible vacancies drawn uniformly
  (most of which the worker never saw), so its output is P(applied | the pair is in the
  training sample), far below P(apply | the vacancy is proposed to the worker) and on a
  scale that does not compare across workers (a worker with many eligible vacancies
  gets more negatives);
* the **stay** stage sees only hires whose outcome is already known: in a few months of
  data that is mostly the people who left early, so it says almost nobody stays.

So each stage gets a monotone map fitted on pairs of a *later time slice* than the
booster's training window, from the population the stage must describe:

* apply: the pairs that were actually *shown* (``viewed`` events) in the slice, each
  view a trial, label applied (:class:`StageCalibrator`; the exposure denominator);
* hire: the pairs applied to in the slice, label hired;
* stay: every hire at risk during the slice, as a survival problem
  (:class:`PiecewiseHazard`): weeks employed, left or still there (censored) at the
  end of the data.

A map is monotone non-decreasing in the stage's own output, so within a stage the
order is kept (Platt's strictly, isotonic up to ties) and the product of the three
calibrated stages is P(stable placement for ``horizon`` weeks | proposed), on one
scale for every worker.

Isotonic regression: Zadrozny & Elkan 2002; Platt scaling: Platt 1999. Hazard models
for censored and left-truncated spells: Singer & Willett, *Applied Longitudinal Data
Analysis* (2003), ch. 10-15 (the piecewise-exponential model in ch. 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

CALIBRATION_METHODS = ("isotonic", "platt")
#: Probabilities are clipped to [EPS, 1 - EPS] before taking logits.
EPS = 1e-6
#: Default horizon of a stable placement: six months, in weeks.
HORIZON_WEEKS = 26
#: Default tenure bands (upper edges, weeks) of the hazard's baseline: the first month,
#: the rest of the first quarter, afterwards. The last band extends to any horizon.
DEFAULT_BANDS = (4.0, 13.0)
#: Events a tenure band needs for its own rate; a thinner band shares the nearest
#: earlier band's rate.
MIN_BAND_EVENTS = 5


class ProbabilityMap(Protocol):
    """A fitted monotone map from a stage's output to a calibrated probability."""

    def predict(self, p: np.ndarray) -> np.ndarray: ...


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` of probabilities clipped to ``[EPS, 1 - EPS]``."""
    q = np.clip(np.asarray(p, dtype=float), EPS, 1.0 - EPS)
    return np.log(q) - np.log1p(-q)


def _expit(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def _weighted_logistic(
    design: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
    l2: float,
) -> np.ndarray:
    """Coefficients of a weighted logistic regression ``P(y=1) = expit(design @ beta)``
    with box ``bounds`` on each coefficient and a small ridge ``l2`` (all but the
    first column), by L-BFGS-B on the exact gradient."""
    from scipy.optimize import minimize

    total = float(weight.sum())

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ beta
        # log(1 + e^z) - y z, stably
        nll = np.logaddexp(0.0, z) - y * z
        g = _expit(z) - y
        ridge = beta.copy()
        ridge[0] = 0.0
        value = float(weight @ nll) / total + 0.5 * l2 * float(ridge @ ridge)
        grad = design.T @ (weight * g) / total + l2 * ridge
        return value, grad

    start = np.zeros(design.shape[1])
    found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(found.x, dtype=float)


class StageCalibrator:
    """A monotone map from one stage's output to the rate observed on a later slice.

    Parameters
    ----------
    method : {"isotonic", "platt"}, default "platt"
        ``"platt"``: ``expit(a * logit(p) + b)`` with ``a >= 0`` (strictly increasing
        when ``a > 0``: the stage's order is kept). ``"isotonic"``: the pool-adjacent-
        violators fit, non-decreasing, clipped to the fitted range.

    Attributes
    ----------
    coef_ : ndarray of shape (2,)
        ``(b, a)`` for Platt.
    knots_x_, knots_y_ : ndarray
        The isotonic fit's knots (``np.interp`` between them).
    rows_, positives_ : float
        Weighted rows and positives it was fitted on.
    """

    def __init__(self, method: str = "platt") -> None:
        self.method = method

    def fit(
        self, p: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> StageCalibrator:
        """Fit on stage outputs ``p`` and 0/1 outcomes ``y`` (optionally weighted).

        Raises
        ------
        ValueError
            Unknown method, mismatched lengths, outcomes not 0/1, negative weights or
            no rows.
        """
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(
                f"method must be one of {', '.join(CALIBRATION_METHODS)}, got {self.method!r}"
            )
        p = np.asarray(p, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if not (len(p) == len(y) == len(w)):
            raise ValueError(
                f"p, y and sample_weight differ in length: {len(p)}, {len(y)}, {len(w)}"
            )
        if len(p) == 0 or w.sum() <= 0:
            raise ValueError("a calibrator needs at least one row with positive weight")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("outcomes y must be 0 or 1")
        if (w < 0).any():
            raise ValueError("sample weights must not be negative")
        self.rows_ = float(w.sum())
        self.positives_ = float(w @ y)
        if self.method == "platt":
            design = np.column_stack([np.ones(len(p)), logit(p)])
            self.coef_ = _weighted_logistic(design, y, w, [(None, None), (0.0, None)], l2=1e-6)
        else:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(p, y, sample_weight=w)
            self.knots_x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.knots_y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in ``[0, 1]``, non-decreasing in ``p``."""
        p = np.asarray(p, dtype=float)
        if self.method == "platt":
            b, a = self.coef_
            return _expit(a * logit(p) + b)
        if len(self.knots_x_) == 1:
            return np.full(len(p), self.knots_y_[0])
        return np.interp(p, self.knots_x_, self.knots_y_)


@dataclass(frozen=True)
class Spells:
    """Hires followed through time, in weeks of tenure.

    ``entry``: tenure when the hire entered the observation window (0 when hired inside
    it; later for a hire made earlier and still there when the window opened, i.e. left
    truncation); ``exit``: tenure when it left or observation stopped; ``left``: 1 when
    it left at ``exit``, 0 when still there (censored).
    """

    entry: np.ndarray
    exit: np.ndarray
    left: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.entry)
        if len(self.exit) != n or len(self.left) != n:
            raise ValueError("entry, exit and left differ in length")
        if (np.asarray(self.exit) < np.asarray(self.entry)).any():
            raise ValueError("a spell exits before it enters (exit < entry)")
        if (np.asarray(self.entry) < 0).any():
            raise ValueError("tenure at entry must not be negative")


def band_exposure(spells: Spells, bands: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Weeks at risk and leaving events of each spell in each tenure band.

    Band ``b`` covers tenure ``[edge_b, edge_{b+1})`` with edges ``0, *bands, inf``.
    Returns ``(exposure, events)``, both ``(n_spells, len(bands) + 1)``: the overlap of
    ``[entry, exit)`` with the band, and 1 in the band holding ``exit`` when the spell
    ended in leaving.
    """
    edges = np.r_[0.0, np.asarray(bands, dtype=float), np.inf]
    entry = np.asarray(spells.entry, dtype=float)[:, None]
    exit_ = np.asarray(spells.exit, dtype=float)[:, None]
    exposure = np.clip(np.minimum(exit_, edges[1:]) - np.maximum(entry, edges[:-1]), 0.0, None)
    band = np.clip(np.searchsorted(edges, exit_[:, 0], side="right") - 1, 0, len(edges) - 2)
    events = np.zeros_like(exposure)
    events[np.arange(len(band)), band] = np.asarray(spells.left, dtype=float)
    return exposure, events


class PiecewiseHazard:
    """Rate of leaving a job, piecewise constant in tenure, proportional in a covariate:
    ``lambda(t | z) = exp(alpha_band(t) + beta * z)`` per week, fitted on censored and
    left-truncated spells by maximum likelihood (the piecewise-exponential model;
    Friedman 1982, *Ann. Statist.* 10:101; the continuous-time form of a discrete-time
    hazard model, without rounding tenure to whole weeks). Then ::

        S(H | z) = exp(- sum_b weeks_b(H) * lambda_b(z)),

    the probability of still being there after ``H`` weeks, where ``weeks_b(H)`` is the
    part of ``[0, H)`` in band ``b``. The last band's rate holds beyond the observed
    tenures (a constant hazard extrapolated to the horizon); a band with fewer than
    :data:`MIN_BAND_EVENTS` events shares the nearest earlier band's rate. ``beta >= 0``:
    a higher hazard score never means a longer stay, so :meth:`predict` is monotone.

    Parameters
    ----------
    bands : tuple of float
        Upper tenure edges (weeks) of all but the last band.
    horizon : float
        Weeks of :meth:`predict`.
    l2 : float
        Ridge on the slope and on the later bands' baselines.

    Attributes
    ----------
    alpha_ : ndarray
        Log weekly rate per band at ``z = 0``.
    beta_ : float
    events_ : int
    exposure_weeks_ : float
    """

    def __init__(
        self,
        bands: tuple[float, ...] = DEFAULT_BANDS,
        horizon: float = HORIZON_WEEKS,
        l2: float = 1e-4,
    ) -> None:
        self.bands = bands
        self.horizon = horizon
        self.l2 = l2

    def fit(self, z: np.ndarray, spells: Spells) -> PiecewiseHazard:
        """Fit the band rates and the slope.

        Raises
        ------
        ValueError
            No leaving event, or ``z`` and ``spells`` differ in length.
        """
        from scipy.optimize import minimize

        z = np.asarray(z, dtype=float)
        if len(z) != len(spells.entry):
            raise ValueError(f"z has {len(z)} rows for {len(spells.entry)} spells")
        exposure, events = band_exposure(spells, self.bands)
        n_bands = exposure.shape[1]
        per_band = events.sum(axis=0)
        if per_band.sum() == 0:
            raise ValueError("no spell ends in leaving: the hazard cannot be estimated")
        own = [b for b in range(n_bands) if per_band[b] >= MIN_BAND_EVENTS]
        own = own or [int(np.argmax(per_band))]
        mapping = np.array(
            [max([o for o in own if o <= b], default=own[0]) for b in range(n_bands)]
        )
        # pool the bands that share a rate
        pool = np.zeros((n_bands, len(own)))
        pool[np.arange(n_bands), np.searchsorted(own, mapping)] = 1.0
        e_own, d_own = exposure @ pool, events @ pool
        d_total = float(d_own.sum())
        scale = max(d_total, 1.0)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            alpha, beta = theta[:-1], theta[-1]
            eta = alpha[None, :] + beta * z[:, None]
            mu = e_own * np.exp(eta)
            value = float(mu.sum() - (d_own * eta).sum()) / scale
            resid = (mu - d_own) / scale
            grad = np.r_[resid.sum(axis=0), float(resid.sum(axis=1) @ z)]
            # ridge: the slope, and the later bands' rates towards the first band's
            shift = alpha[1:] - alpha[0]
            value += 0.5 * self.l2 * (float(shift @ shift) + beta * beta)
            grad[1:-1] += self.l2 * shift
            grad[0] -= self.l2 * float(shift.sum())
            grad[-1] += self.l2 * beta
            return value, grad

        rate0 = np.log(max(d_total, 0.5) / max(float(e_own.sum()), 1e-9))
        start = np.r_[np.full(len(own), rate0), 0.0]
        bounds = [(None, None)] * len(own) + [(0.0, None)]
        found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
        theta = np.asarray(found.x, dtype=float)
        self.alpha_ = theta[:-1][np.searchsorted(own, mapping)]
        self.beta_ = float(theta[-1])
        self.events_ = int(d_total)
        self.exposure_weeks_ = float(exposure.sum())
        return self

    def survival(self, z: np.ndarray, weeks: float | None = None) -> np.ndarray:
        """``S(weeks | z)`` (default ``horizon`` weeks): in ``[0, 1]``, non-increasing
        in ``z``."""
        weeks = float(self.horizon if weeks is None else weeks)
        edges = np.r_[0.0, np.asarray(self.bands, dtype=float), np.inf]
        length = np.clip(np.minimum(edges[1:], weeks) - edges[:-1], 0.0, None)
        z = np.asarray(z, dtype=float)
        cumulative = np.exp(self.alpha_[None, :] + self.beta_ * z[:, None]) @ length
        return np.exp(-cumulative)

    def predict(self, z: np.ndarray) -> np.ndarray:
        """:meth:`survival` at the horizon, as the stay stage's map: ``z`` is the
        booster's log weekly rate of leaving."""
        return self.survival(z)
