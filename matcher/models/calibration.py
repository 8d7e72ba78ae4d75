"""Calibration of the ranker's stages on a later time slice, and censored stays.

Why a second calibration
------------------------
Each stage of :class:`matcher.models.ranking.StablePlacementRanker` is a booster wrapped in
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
  end of the data. Opt-in (``Recommender(stay_map="covariates")``): the stay stage is
  instead a proportional hazard on the job's terms (:class:`CovariateHazard`), fitted
  on every spell followed, the booster's window's and the slice's, without the booster
  (its few hundred spells make its rate of leaving a noisy estimate).

A map is monotone non-decreasing in the stage's own output, so within a stage the
order is kept (Platt's strictly, isotonic up to ties) and the product of the three
calibrated stages estimates P(stable placement for ``horizon`` weeks | proposed), on
one scale for every worker.

Stages calibrated separately need not make a calibrated product (each is calibrated
on a selected population, and their errors are correlated), so the product itself is
mapped once more (:class:`JointCalibrator`) onto the outcome of the *proposals* of
the slice: the pairs shown, a stable placement counting 1 — with the slice a few
weeks long, a hire still there at the end counts its calibrated chance of lasting
the rest of the horizon, ``S(H | z) / S(weeks seen | z)`` (a survival-weighted
target), a hire that left 0. The product is the prior of that map, so a small slice
moves it little.

Isotonic regression: Zadrozny & Elkan 2002; Platt scaling: Platt 1999. Hazard models
for censored and left-truncated spells: Singer & Willett, *Applied Longitudinal Data
Analysis* (2003), ch. 10-15 (the piecewise-exponential model in ch. 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np

CALIBRATION_METHODS = ("isotonic", "platt")
#: What the joint map does with a product of the stages below :data:`EPS`.
JOINT_TAILS = ("clip", "exact")
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


def row_dot(z: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``z @ coef`` for a 2-d ``z``, summed column by column, so that a row's value
    does not depend on the other rows: a matrix-vector product may round a row
    differently at another length or alignment, and the paths of the engine score one
    pair among different rows (a request's, a micro-batch's, a cascade round's) yet
    must give it the same score."""
    z = np.asarray(z, dtype=float)
    out = np.zeros(len(z))
    for j in range(z.shape[1] if z.ndim == 2 else 0):
        out += z[:, j] * coef[j]
    return out


def _weighted_logistic(
    design: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
    l2: float | np.ndarray,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """Coefficients of a weighted logistic regression ``P(y=1) = expit(design @ beta)``
    with box ``bounds`` on each coefficient and a ridge ``l2`` towards ``center``
    (default 0; a number: on all but the first column, an array: per column), by
    L-BFGS-B on the exact gradient. ``y`` may be fractional (cross-entropy)."""
    from scipy.optimize import minimize

    total = float(weight.sum())
    k = design.shape[1]
    if np.ndim(l2) == 0:
        ridge_l2 = np.r_[0.0, np.full(k - 1, float(l2))]
    else:
        ridge_l2 = np.asarray(l2, dtype=float)
    mid = np.zeros(k) if center is None else np.asarray(center, dtype=float)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ beta
        # log(1 + e^z) - y z, stably
        nll = np.logaddexp(0.0, z) - y * z
        g = _expit(z) - y
        shift = beta - mid
        value = float(weight @ nll) / total + 0.5 * float(ridge_l2 @ (shift * shift))
        grad = design.T @ (weight * g) / total + ridge_l2 * shift
        return value, grad

    found = minimize(loss, mid.copy(), jac=True, method="L-BFGS-B", bounds=bounds)
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

    def fit(self, p: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Self:
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
        self._check_outcomes(y)
        if (w < 0).any():
            raise ValueError("sample weights must not be negative")
        self.rows_ = float(w.sum())
        self.positives_ = float(w @ y)
        if self.method == "platt":
            self.coef_ = self._platt(p, y, w)
        else:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(p, y, sample_weight=w)
            self.knots_x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.knots_y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def _platt(self, p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``(b, a)`` of ``expit(a * logit(p) + b)``, ``a >= 0``."""
        design = np.column_stack([np.ones(len(p)), logit(p)])
        return _weighted_logistic(design, y, w, [(None, None), (0.0, None)], l2=1e-6)

    @staticmethod
    def _check_outcomes(y: np.ndarray) -> None:
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("outcomes y must be 0 or 1")

    def predict(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in ``[0, 1]``, non-decreasing in ``p``."""
        p = np.asarray(p, dtype=float)
        if self.method == "platt":
            b, a = self.coef_
            return _expit(a * logit(p) + b)
        if len(self.knots_x_) == 1:
            return np.full(len(p), self.knots_y_[0])
        return np.interp(p, self.knots_x_, self.knots_y_)


class JointCalibrator(StageCalibrator):
    """A monotone map of the *product* of the calibrated stages onto the rate of stable
    placements observed per proposal on a later slice.

    Stages calibrated one by one need not multiply into a calibrated product: the hire
    stage is calibrated on applicants and the stay stage on hires (each a selected
    population), and the stages' errors are correlated (a pair the apply stage
    overrates may be one the hire stage overrates too). This map looks at the product
    itself, on the proposals of the slice, against their outcome. Outcomes may be
    fractional: a hire still there when the data end is worth its probability of
    lasting to the horizon (a survival-weighted target, for censored stays), a hire
    that left before it 0, a proposal not hired 0.

    Parameters
    ----------
    method : {"platt", "isotonic"}, default "platt"
        As :class:`StageCalibrator`; ``y`` in ``fit`` may be any value in ``[0, 1]``
        (Platt minimises the cross-entropy with soft labels, isotonic the squared
        error; both estimate the mean outcome).
    prior_rows : float, default 0
        Platt only: the product of the stages is the prior map (``a = 1, b = 0``),
        worth this many proposals; the slice moves the map away from it in proportion
        to its own weight (a ridge of ``prior_rows / rows`` on ``(a - 1, b)``). A small
        slice (a few dozen hires) then cannot stretch the scale on noise.
    tails : {"clip", "exact"}, default "clip"
        Products below :data:`EPS`: ``"clip"`` maps them as ``EPS`` (they tie);
        ``"exact"`` keeps their order — Platt's curve continued below ``EPS`` (the
        logit of the product itself), isotonic's lowest value scaled by ``p`` over
        its lowest knot. The fit is the same either way. A stay stage on the job's
        terms can put ``P(stay)`` far below ``EPS``, so that many of one worker's
        pairs tie at the clip (``docs/equal-service.md``).
    """

    #: joint maps pickled before ``tails`` existed clip
    tails: str = "clip"

    def __init__(self, method: str = "platt", prior_rows: float = 0.0, tails: str = "clip") -> None:
        self.method = method
        self.prior_rows = prior_rows
        self.tails = tails

    @staticmethod
    def _check_outcomes(y: np.ndarray) -> None:
        if not ((y >= 0.0) & (y <= 1.0)).all():
            raise ValueError("outcomes y must lie in [0, 1]")

    def fit(self, p: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Self:
        """As :meth:`StageCalibrator.fit`, outcomes in ``[0, 1]``.

        Raises
        ------
        ValueError
            As :meth:`StageCalibrator.fit`, or ``tails`` is not one of
            :data:`JOINT_TAILS`.
        """
        if self.tails not in JOINT_TAILS:
            raise ValueError(f"tails must be one of {', '.join(JOINT_TAILS)}, got {self.tails!r}")
        return super().fit(p, y, sample_weight)

    def predict(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in ``[0, 1]``, non-decreasing in ``p``; with
        ``tails="exact"`` strictly increasing below :data:`EPS` where Platt's slope is
        positive (isotonic: where its lowest value is)."""
        p = np.asarray(p, dtype=float)
        if self.tails != "exact":
            return super().predict(p)
        low = p < EPS
        if not low.any():
            return super().predict(p)
        out = super().predict(p)
        if self.method == "platt":
            b, a = self.coef_
            # the logit of a product below EPS: log p - log(1 - p), p floored at the
            # smallest normal float (a product of 0 maps to the curve's floor)
            q = np.maximum(p[low], np.finfo(float).tiny)
            out[low] = _expit(a * (np.log(q) - np.log1p(-q)) + b)
        else:
            x0, y0 = float(self.knots_x_[0]), float(self.knots_y_[0])
            if x0 > 0:
                below = low & (p < x0)
                out[below] = y0 * np.clip(p[below], 0.0, None) / x0
        return out

    def _platt(self, p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        if self.prior_rows <= 0:
            return super()._platt(p, y, w)
        design = np.column_stack([np.ones(len(p)), logit(p)])
        strength = self.prior_rows / float(w.sum())
        return _weighted_logistic(
            design,
            y,
            w,
            [(None, None), (0.0, None)],
            l2=np.array([strength, strength]),
            center=np.array([0.0, 1.0]),
        )


class CovariateCalibrator:
    """Platt's map with covariates: a stage's output re-weighed on a later slice
    together with a few pair features,

        P(y = 1 | p, u) = expit(b + a * logit(p) + c . u),   a >= 0,

    where ``u`` are the covariates standardised on the slice and clipped to the range
    they took there (a pair outside it is not extrapolated). For one pair the map is
    strictly increasing in the stage's output (``a > 0``), so between two pairs with
    the same covariates the stage's order is kept.

    Why covariates: the apply stage's booster learns from applications against
    eligible vacancies drawn uniformly, so its log-odds carry *exposure* (the worker
    saw the vacancy: near home, in the trade, through a fellow villager) beside the
    choice to apply once it is shown. On the pairs that were shown, exposure is
    already given: a plain Platt map can only shrink the whole score (``a < 1``),
    shrinking with it the terms of the choice itself (pay, distance, housing). With
    covariates the slice can give such terms back their weight, one coefficient each,
    with a ridge (``l2``) towards 0 so a small slice moves them little. A stacked
    generalisation of Platt scaling (Wolpert 1992; Platt 1999).

    Parameters
    ----------
    l2 : float, default 1e-3
        Ridge on the covariates' coefficients (standardised covariates; the loss is
        the mean weighted cross-entropy).

    Attributes
    ----------
    coef_ : ndarray of shape (2 + n_covariates,)
        ``(b, a, c_1, ..., c_k)`` on the standardised covariates.
    center_, scale_, low_, high_ : ndarray of shape (n_covariates,)
        Standardisation and the clipping range (raw units).
    rows_, positives_ : float
    """

    def __init__(self, l2: float = 1e-3) -> None:
        self.l2 = l2

    def fit(
        self,
        p: np.ndarray,
        covariates: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Fit on stage outputs ``p``, covariates ``(n, k)`` and 0/1 outcomes ``y``.

        Raises
        ------
        ValueError
            Mismatched lengths, covariates not a finite 2-d array, outcomes not 0/1,
            negative weights or no rows.
        """
        p = np.asarray(p, dtype=float)
        u = np.asarray(covariates, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if u.ndim != 2 or not (len(p) == len(u) == len(y) == len(w)):
            raise ValueError(
                f"p, covariates (2-d), y and sample_weight must have one row per pair: "
                f"{len(p)}, {u.shape}, {len(y)}, {len(w)}"
            )
        if len(p) == 0 or w.sum() <= 0:
            raise ValueError("a calibrator needs at least one row with positive weight")
        if not np.isfinite(u).all():
            raise ValueError("covariates must be finite (replace missing values first)")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("outcomes y must be 0 or 1")
        if (w < 0).any():
            raise ValueError("sample weights must not be negative")
        total = float(w.sum())
        self.rows_ = total
        self.positives_ = float(w @ y)
        self.low_ = u.min(axis=0)
        self.high_ = u.max(axis=0)
        self.center_ = (w @ u) / total
        spread = np.sqrt((w @ (u - self.center_) ** 2) / total)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        k = u.shape[1]
        design = np.column_stack([np.ones(len(p)), logit(p), self._standard(u)])
        bounds: list[tuple[float | None, float | None]] = [(None, None), (0.0, None)]
        bounds += [(None, None)] * k
        l2 = np.r_[0.0, 1e-6, np.full(k, self.l2)]
        self.coef_ = _weighted_logistic(design, y, w, bounds, l2=l2)
        return self

    def _standard(self, u: np.ndarray) -> np.ndarray:
        return (np.clip(u, self.low_, self.high_) - self.center_) / self.scale_

    def predict(self, p: np.ndarray, covariates: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in ``[0, 1]``, non-decreasing in ``p`` for fixed
        covariates."""
        p = np.asarray(p, dtype=float)
        if len(p) == 0:
            return np.zeros(0)
        u = np.asarray(covariates, dtype=float).reshape(len(p), -1)
        return self.predict_with_term(p, self.covariate_term(u))

    def covariate_term(self, covariates: np.ndarray) -> np.ndarray:
        """``c . u`` of each row of ``covariates`` ``(n, k)``, the covariates' part of the
        log-odds (standardised, clipped; summed column by column, :func:`row_dot`, so a
        row's term is the same among any rows): :meth:`predict` is
        ``predict_with_term(p, covariate_term(covariates))``, and a caller that maps
        several outputs of the same pairs computes the term once."""
        return row_dot(self._standard(np.asarray(covariates, dtype=float)), self.coef_[2:])

    def predict_with_term(self, p: np.ndarray, term: np.ndarray) -> np.ndarray:
        """:meth:`predict` from the rows' :meth:`covariate_term` (the same numbers)."""
        p = np.asarray(p, dtype=float)
        if len(p) == 0:
            return np.zeros(0)
        b, a = self.coef_[:2]
        return _expit(b + a * logit(p) + term)

    def upper(self, p: np.ndarray) -> np.ndarray:
        """The largest probability the map gives output ``p`` over every covariate
        value (each covariate at the end of its clipping range that raises it)."""
        p = np.asarray(p, dtype=float)
        b, a = self.coef_[:2]
        c = self.coef_[2:]
        ends = np.maximum(c * (self.low_ - self.center_), c * (self.high_ - self.center_))
        return _expit(b + a * logit(p) + float((ends / self.scale_).sum()))


#: Knots of the offer's rivals term (:class:`OfferAcceptance`), at these quantiles of the
#: rivals per seat the applications met.
RIVAL_KNOTS = (1 / 3, 2 / 3)


class OfferAcceptance:
    """The hire stage as two decisions: the employer's offer and the worker's acceptance,

        P(hired | applied) = P(offer | applied, u) * P(accept | offer, u),

    each a ridge-penalised logistic regression on the application's covariates ``u``
    (standardised and clipped to their fitted range, as :class:`CovariateCalibrator`).
    The offer is fitted on every application (offered = hired or declined), the
    acceptance on the offers (hired), with one more covariate: the other offers the
    worker held around it (``log1p``). Scoring puts that at 0 — one offer, nothing to
    choose from — so the acceptance is the worker's answer to this offer alone, not his
    pick among several.

    Why: hires per application mix the employer's decision with the worker's choice
    among his offers (a worker holding several takes one), so one regression of hired
    on the pair's terms learns what makes a job attractive as if it made the employer
    hire. Split, the worker's choice is in the acceptance's held-offers term, and the
    proposal's value is one offer's.

    The competition for the seats (column ``rivals`` of ``u``, ``log1p`` of the rivals
    per seat) enters the offer piecewise linearly — hinges at the :data:`RIVAL_KNOTS`
    quantiles of the applications' — with every piece's coefficient <= 0: an employer
    fills at most its seats, so a few rivals cost nothing while many cost much, and a
    straight line through both carried to no rival overshoots. The held offers'
    coefficient in the acceptance is <= 0 too, so the hire chance never rises with
    competition. Columns ``offer_only`` (the competition) are left out of the
    acceptance: the worker answers the offer he holds.

    Parameters
    ----------
    l2 : float, default 1e-2
        Ridge of both regressions (standardised covariates, mean cross-entropy).
    rivals : int, optional
        Column of ``u`` holding the rivals per seat.
    offer_only : tuple of int, default ()
        Columns of ``u`` the acceptance does not read.

    Attributes
    ----------
    offer_coef_ : ndarray
        ``(b, c_1, ..., c_k, c_knot_1, ...)`` on standardised columns.
    accept_coef_ : ndarray
        ``(b, c_1, ..., c_k, c_held)`` (0 for ``offer_only``).
    knots_ : ndarray
        Where the rivals' hinges start (raw units).
    center_, scale_, low_, high_ : ndarray
        Standardisation and clipping range of ``u``, the hinges and the held offers.
    offers_, hires_, rows_ : float
    """

    def __init__(
        self, l2: float = 1e-2, rivals: int | None = None, offer_only: tuple[int, ...] = ()
    ) -> None:
        self.l2 = l2
        self.rivals = rivals
        self.offer_only = offer_only

    def _columns(self, u: np.ndarray, held: np.ndarray) -> np.ndarray:
        """``u``, the rivals' hinges and the held offers, side by side."""
        hinges = (
            [np.maximum(u[:, self.rivals] - k, 0.0) for k in self.knots_]
            if self.rivals is not None
            else []
        )
        return np.column_stack([u, *hinges, held])

    def fit(
        self,
        covariates: np.ndarray,
        offered: np.ndarray,
        hired: np.ndarray,
        held: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Fit on applications' covariates ``(n, k)``, offered and hired (0/1, hired
        implies offered) and the other offers held (``log1p``, read on offers only).

        Raises
        ------
        ValueError
            Mismatched lengths, covariates not finite and 2-d, outcomes not 0/1, a hire
            without an offer, negative weights, or no offer or no application without.
        """
        u = np.asarray(covariates, dtype=float)
        o = np.asarray(offered, dtype=float)
        y = np.asarray(hired, dtype=float)
        h = np.asarray(held, dtype=float)
        w = np.ones(len(o)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if u.ndim != 2 or not (len(u) == len(o) == len(y) == len(h) == len(w)):
            raise ValueError(
                f"covariates (2-d), offered, hired, held and sample_weight must have one row "
                f"per application: {u.shape}, {len(o)}, {len(y)}, {len(h)}, {len(w)}"
            )
        if not (np.isfinite(u).all() and np.isfinite(h).all()):
            raise ValueError("covariates and held offers must be finite")
        if not (np.isin(o, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
            raise ValueError("offered and hired must be 0 or 1")
        if (y > o).any():
            raise ValueError("a hire must be an offer (hired implies offered)")
        if (w < 0).any():
            raise ValueError("sample weights must not be negative")
        if w @ o <= 0 or w @ (1 - o) <= 0:
            raise ValueError("the offer needs applications with and without an offer")
        k = u.shape[1]
        self.knots_ = (
            np.quantile(u[:, self.rivals], RIVAL_KNOTS) if self.rivals is not None else np.zeros(0)
        )
        on = o > 0
        full = self._columns(u, np.where(on, h, 0.0))
        # the held offers are standardised over the offers, the rest over all applications
        self.low_ = full.min(axis=0)
        self.high_ = full.max(axis=0)
        self.low_[-1], self.high_[-1] = h[on].min(), h[on].max()
        weights = np.tile(w[:, None], (1, full.shape[1]))
        weights[:, -1] = w * on
        total = weights.sum(axis=0)
        self.center_ = (weights * full).sum(axis=0) / total
        spread = np.sqrt((weights * (full - self.center_) ** 2).sum(axis=0) / total)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        z = self._standard(full)
        down = {self.rivals, *range(k, k + len(self.knots_))} if self.rivals is not None else set()
        offer_bounds: list[tuple[float | None, float | None]] = [(None, None)] + [
            (None, 0.0) if j in down else (None, None) for j in range(full.shape[1] - 1)
        ]
        self.offer_coef_ = _weighted_logistic(
            np.column_stack([np.ones(len(o)), z[:, :-1]]), o, w, offer_bounds, l2=self.l2
        )
        accept_cols = [j for j in range(k) if j not in self.offer_only] + [full.shape[1] - 1]
        accept_bounds: list[tuple[float | None, float | None]] = [(None, None)] * len(
            accept_cols
        ) + [(None, 0.0)]
        fitted = _weighted_logistic(
            np.column_stack([np.ones(int(on.sum())), z[on][:, accept_cols]]),
            y[on],
            w[on],
            accept_bounds,
            l2=self.l2,
        )
        self.accept_coef_ = np.zeros(k + 2)
        self.accept_coef_[0] = fitted[0]
        self.accept_coef_[1 + np.array(accept_cols[:-1], dtype=int)] = fitted[1:-1]
        self.accept_coef_[-1] = fitted[-1]
        self.rows_ = float(w.sum())
        self.offers_ = float(w @ o)
        self.hires_ = float(w @ y)
        return self

    def _standard(self, full: np.ndarray) -> np.ndarray:
        return (np.clip(full, self.low_, self.high_) - self.center_) / self.scale_

    def parts(self, covariates: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
        """``(n, 2)``: P(offer | applied) and P(accept | offer) of applications with
        covariates ``(n, k)`` and ``held`` other offers (``log1p``; None: 0, one offer)."""
        u = np.asarray(covariates, dtype=float)
        n = len(u)
        if n == 0:
            return np.zeros((0, 2))
        h = np.zeros(n) if held is None else np.asarray(held, dtype=float).reshape(n)
        z = self._standard(self._columns(u.reshape(n, -1), h))
        k = z.shape[1] - 1 - len(self.knots_)
        offer = _expit(self.offer_coef_[0] + row_dot(z[:, :-1], self.offer_coef_[1:]))
        accept_z = np.column_stack([z[:, :k], z[:, -1]])
        accept = _expit(self.accept_coef_[0] + row_dot(accept_z, self.accept_coef_[1:]))
        return np.column_stack([offer, accept])

    def predict(self, covariates: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
        """P(hired | applied) = offer x acceptance, in ``[0, 1]``; non-increasing in the
        rivals per seat and in ``held``."""
        parts = self.parts(covariates, held)
        return parts[:, 0] * parts[:, 1] if len(parts) else np.zeros(0)

    def upper(self) -> float:
        """The largest probability over every covariate value (each column at the end of
        its clipping range that raises each factor)."""
        lo = (self.low_ - self.center_) / self.scale_
        hi = (self.high_ - self.center_) / self.scale_

        def top(coef: np.ndarray, cols: np.ndarray) -> float:
            c = coef[1:]
            return float(_expit(coef[0] + float(np.maximum(c * lo[cols], c * hi[cols]).sum())))

        width = len(self.low_)
        k = width - 1 - len(self.knots_)
        offer_cols = np.arange(width - 1)
        accept_cols = np.r_[np.arange(k), width - 1]
        return top(self.offer_coef_, offer_cols) * top(self.accept_coef_, accept_cols)


def out_of_fold_log_loss(
    p: np.ndarray,
    covariates: np.ndarray | None,
    y: np.ndarray,
    weight: np.ndarray,
    folds: int = 5,
    seed: int = 0,
) -> float:
    """Weighted mean cross-entropy of Platt's map (``covariates`` None) or of a
    :class:`CovariateCalibrator`, each row predicted by a map fitted on the other
    ``folds - 1`` folds (rows dealt to folds at random with ``seed``)."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(weight, dtype=float)
    fold = np.random.default_rng(seed).permutation(len(p)) % folds
    q = np.empty(len(p))
    for f in range(folds):
        test, train = fold == f, fold != f
        if covariates is None:
            q[test] = StageCalibrator("platt").fit(p[train], y[train], w[train]).predict(p[test])
        else:
            u = np.asarray(covariates, dtype=float)
            cal = CovariateCalibrator().fit(p[train], u[train], y[train], w[train])
            q[test] = cal.predict(p[test], u[test])
    q = np.clip(q, EPS, 1.0 - EPS)
    loss = -(y * np.log(q) + (1.0 - y) * np.log1p(-q))
    return float(w @ loss / w.sum())


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

    def fit(self, z: np.ndarray, spells: Spells) -> Self:
        """Fit the band rates and the slope.

        Raises
        ------
        ValueError
            No leaving event, or ``z`` and ``spells`` differ in length.
        """
        z = np.asarray(z, dtype=float)
        if len(z) != len(spells.entry):
            raise ValueError(f"z has {len(z)} rows for {len(spells.entry)} spells")
        theta = self._fit_terms(np.column_stack([z]), np.array([self.l2]), spells)
        self.beta_ = float(theta[0])
        return self

    def _fit_terms(self, design: np.ndarray, ridge: np.ndarray, spells: Spells) -> np.ndarray:
        """Maximum likelihood of ``log rate = alpha_band + design @ theta`` with
        ``theta[0] >= 0`` (the slope of the stage's output) and a ridge ``ridge`` on
        ``theta``; sets ``alpha_``, ``events_``, ``exposure_weeks_`` and returns ``theta``."""
        from scipy.optimize import minimize

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
        n_own = len(own)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            alpha, terms = theta[:n_own], theta[n_own:]
            eta = alpha[None, :] + (design @ terms)[:, None]
            mu = e_own * np.exp(eta)
            value = float(mu.sum() - (d_own * eta).sum()) / scale
            resid = (mu - d_own) / scale
            grad = np.r_[resid.sum(axis=0), design.T @ resid.sum(axis=1)]
            # ridge: the terms, and the later bands' rates towards the first band's
            shift = alpha[1:] - alpha[0]
            value += 0.5 * self.l2 * float(shift @ shift) + 0.5 * float(ridge @ (terms * terms))
            grad[1:n_own] += self.l2 * shift
            grad[0] -= self.l2 * float(shift.sum())
            grad[n_own:] += ridge * terms
            return value, grad

        rate0 = np.log(max(d_total, 0.5) / max(float(e_own.sum()), 1e-9))
        start = np.r_[np.full(n_own, rate0), np.zeros(design.shape[1])]
        bounds = [(None, None)] * n_own + [(0.0, None)] + [(None, None)] * (design.shape[1] - 1)
        found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
        theta = np.asarray(found.x, dtype=float)
        self.alpha_ = theta[:n_own][np.searchsorted(own, mapping)]
        self.events_ = int(d_total)
        self.exposure_weeks_ = float(exposure.sum())
        return theta[n_own:]

    def _log_rates(self, z: np.ndarray) -> np.ndarray:
        """Log weekly rate per row of ``z`` and band ``(n, bands)``."""
        z = np.asarray(z, dtype=float)
        return self.alpha_[None, :] + self.beta_ * z[:, None]

    def _survival_of(self, log_rates: np.ndarray, weeks: float | np.ndarray | None) -> np.ndarray:
        weeks = np.asarray(self.horizon if weeks is None else weeks, dtype=float)
        edges = np.r_[0.0, np.asarray(self.bands, dtype=float), np.inf]
        length = np.clip(np.minimum(edges[1:], weeks[..., None]) - edges[:-1], 0.0, None)
        rates = np.exp(log_rates)
        cumulative = (rates * length).sum(axis=-1) if length.ndim == 2 else row_dot(rates, length)
        return np.exp(-cumulative)

    def survival(self, z: np.ndarray, weeks: float | np.ndarray | None = None) -> np.ndarray:
        """``S(weeks | z)`` (default ``horizon`` weeks; one number, or one per row of
        ``z``): in ``[0, 1]``, non-increasing in ``z`` and in ``weeks``."""
        return self._survival_of(self._log_rates(z), weeks)

    def predict(self, z: np.ndarray) -> np.ndarray:
        """:meth:`survival` at the horizon, as the stay stage's map: ``z`` is the
        booster's log weekly rate of leaving."""
        return self.survival(z)


class CovariateHazard(PiecewiseHazard):
    """The piecewise-exponential hazard with pair covariates beside the stage's output:

        lambda(t | z, u) = exp(alpha_band(t) + beta * z + c . u),   beta >= 0,

    ``u`` standardised on the spells it is fitted on and clipped to the range it took
    there (no extrapolation), ``c`` with a ridge (``covariate_l2``) towards 0 so a small
    slice moves it little. Censoring and left truncation enter the likelihood as in
    :class:`PiecewiseHazard` (each spell contributes its weeks at risk per band and its
    leaving event, if any).

    Why covariates: the stay booster learns the rate of leaving from the few hundred
    spells of one training window, and the plain map can only shrink its log-rate as a
    whole (``beta`` well below 1 when it is noisy), shrinking with it the terms whose
    effect on leaving is large and plain to see in any slice: a written contract and
    social insurance, the employer's record of arrears and departures, pay against the
    worker's expectation, a long move without housing, fellow villagers already hired
    at the employer. With covariates the later slice gives such terms their own weight,
    the proportional-hazards form of a stacked Platt map (Cox 1972; Friedman 1982).
    For fixed covariates the survival is non-increasing in ``z`` (``beta >= 0``).

    Parameters
    ----------
    bands, horizon, l2 : as :class:`PiecewiseHazard`
    covariate_l2 : float, default 0.1
        Ridge on the standardised covariates' coefficients (the loss is the
        log-likelihood per leaving event).

    Attributes
    ----------
    alpha_, beta_, events_, exposure_weeks_ : as :class:`PiecewiseHazard`
    coef_ : ndarray of shape (n_covariates,)
        ``c`` on the standardised covariates.
    center_, scale_, low_, high_ : ndarray of shape (n_covariates,)
        Standardisation and clipping range (raw units).
    """

    def __init__(
        self,
        bands: tuple[float, ...] = DEFAULT_BANDS,
        horizon: float = HORIZON_WEEKS,
        l2: float = 1e-4,
        covariate_l2: float = 0.1,
    ) -> None:
        super().__init__(bands, horizon, l2)
        self.covariate_l2 = covariate_l2

    def fit(self, z: np.ndarray, spells: Spells, covariates: np.ndarray | None = None) -> Self:  # type: ignore[override]
        """Fit the band rates, the slope and the covariates' coefficients.

        Raises
        ------
        ValueError
            No leaving event, lengths that differ, covariates missing, not a finite
            2-d array.
        """
        z = np.asarray(z, dtype=float)
        if covariates is None:
            raise ValueError("CovariateHazard.fit needs covariates (one row per spell)")
        u = np.asarray(covariates, dtype=float)
        if u.ndim != 2 or not (len(z) == len(u) == len(spells.entry)):
            raise ValueError(
                f"z, covariates (2-d) and spells must have one row per spell: "
                f"{len(z)}, {u.shape}, {len(spells.entry)}"
            )
        if not np.isfinite(u).all():
            raise ValueError("covariates must be finite (replace missing values first)")
        self.low_ = u.min(axis=0) if len(u) else np.zeros(u.shape[1])
        self.high_ = u.max(axis=0) if len(u) else np.zeros(u.shape[1])
        self.center_ = u.mean(axis=0) if len(u) else np.zeros(u.shape[1])
        spread = u.std(axis=0) if len(u) else np.ones(u.shape[1])
        self.scale_ = np.where(spread > 0, spread, 1.0)
        design = np.column_stack([z, self._standard(u)])
        ridge = np.r_[self.l2, np.full(u.shape[1], self.covariate_l2)]
        theta = self._fit_terms(design, ridge, spells)
        self.beta_ = float(theta[0])
        self.coef_ = theta[1:]
        return self

    def _standard(self, u: np.ndarray) -> np.ndarray:
        return (np.clip(u, self.low_, self.high_) - self.center_) / self.scale_

    def survival(  # type: ignore[override]
        self,
        z: np.ndarray,
        covariates: np.ndarray,
        weeks: float | np.ndarray | None = None,
    ) -> np.ndarray:
        """``S(weeks | z, u)``: in ``[0, 1]``, non-increasing in ``z`` and ``weeks``."""
        z = np.asarray(z, dtype=float)
        u = np.asarray(covariates, dtype=float)
        if u.ndim != 2:
            u = u.reshape(len(z), len(self.coef_))
        return self.survival_with_term(z, self.covariate_term(u), weeks)

    def covariate_term(self, covariates: np.ndarray) -> np.ndarray:
        """``c . u`` of each row of ``covariates`` ``(n, k)``, the covariates' shift of
        the log rate (standardised, clipped; summed column by column, :func:`row_dot`):
        :meth:`survival` is ``survival_with_term(z, covariate_term(covariates))``."""
        return row_dot(self._standard(np.asarray(covariates, dtype=float)), self.coef_)

    def survival_with_term(
        self, z: np.ndarray, term: np.ndarray, weeks: float | np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`survival` from the rows' :meth:`covariate_term` (the same numbers)."""
        z = np.asarray(z, dtype=float)
        return self._survival_of(self._log_rates(z) + term[:, None], weeks)

    def predict(self, z: np.ndarray, covariates: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """:meth:`survival` at the horizon."""
        return self.survival(z, covariates)

    def predict_with_term(self, z: np.ndarray, term: np.ndarray) -> np.ndarray:
        """:meth:`predict` from the rows' :meth:`covariate_term` (the same numbers)."""
        return self.survival_with_term(z, term)

    def upper(self, z: np.ndarray) -> np.ndarray:
        """The largest survival at the horizon for log-rate ``z`` over every covariate
        value (each covariate at the end of its range that lowers the rate)."""
        z = np.asarray(z, dtype=float)
        c = self.coef_
        ends = np.minimum(c * (self.low_ - self.center_), c * (self.high_ - self.center_))
        shift = float((ends / self.scale_).sum())
        return self._survival_of(self._log_rates(z) + shift, None)
