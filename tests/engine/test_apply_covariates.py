"""The apply stage's map with covariates (matcher.models.calibration.CovariateCalibrator,
StablePlacementRanker.calibrate(apply_covariates=True)): monotone in the stage's output,
probabilities in [0, 1], a known logistic recovered, and on a toy market whose booster
mixes exposure into its score, closer to the true P(apply | shown) than Platt alone."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.models.calibration import (  # noqa: E402
    CovariateCalibrator,
    StageCalibrator,
    logit,
    out_of_fold_log_loss,
)
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    APPLY_COVARIATES,
    MISSING,
    STAGES,
    StablePlacementRanker,
    stage_covariates,
)
from tests.engine.engine_markets import booster_sample  # noqa: E402


def _expit(z):
    return 1 / (1 + np.exp(-z))


def _known(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outputs p, two covariates u and outcomes whose rate is
    expit(-0.5 + 0.7 logit(p) + 1.5 u0 - 0.8 u1)."""
    rng = np.random.default_rng(seed)
    p = _expit(rng.normal(0, 1.5, n))
    u = np.column_stack([rng.normal(0, 1, n), rng.uniform(0, 3, n)])
    true = _expit(-0.5 + 0.7 * logit(p) + 1.5 * u[:, 0] - 0.8 * u[:, 1])
    return p, u, (rng.random(n) < true).astype(float), true


def test_covariate_map_recovers_a_known_logistic():
    p, u, y, true = _known(40_000, 0)
    cal = CovariateCalibrator(l2=0.0).fit(p, u, y)
    b, a = cal.coef_[:2]
    slopes = cal.coef_[2:] / cal.scale_  # per raw unit
    assert a == pytest.approx(0.7, abs=0.05)
    np.testing.assert_allclose(slopes, [1.5, -0.8], atol=0.06)
    assert b - slopes @ cal.center_ == pytest.approx(-0.5, abs=0.08)
    assert np.abs(cal.predict(p, u) - true).max() < 0.03


def test_covariate_map_is_monotone_in_p_bounded_and_clipped():
    p, u, y, _ = _known(3000, 1)
    cal = CovariateCalibrator().fit(p, u, y)
    grid = np.r_[0.0, np.sort(np.random.default_rng(2).random(500)), 1.0]
    for point in ([0.0, 0.0], [2.5, 0.1], [-4.0, 9.0], [50.0, -50.0]):
        out = cal.predict(grid, np.tile(point, (len(grid), 1)))
        assert ((out >= 0) & (out <= 1)).all()
        assert (np.diff(out) >= 0).all()
        assert (out <= cal.upper(grid) + 1e-12).all()
    # no pairs: no probabilities (a candidate set can be empty)
    assert cal.predict(np.zeros(0), np.zeros((0, 2))).shape == (0,)
    # beyond the fitted range a covariate counts as at its end (no extrapolation)
    far = cal.predict(np.full(2, 0.3), np.array([[100.0, 1.0], [cal.high_[0], 1.0]]))
    assert far[0] == pytest.approx(far[1])
    # the bound is reached at the range's ends
    ends = np.where(cal.coef_[2:] > 0, cal.high_, cal.low_)
    assert cal.predict(np.full(1, 0.3), ends[None, :])[0] == pytest.approx(
        cal.upper(np.full(1, 0.3))[0]
    )


def test_covariate_map_refuses_bad_input():
    p = np.array([0.2, 0.6])
    with pytest.raises(ValueError, match="one row per pair"):
        CovariateCalibrator().fit(p, np.zeros(2), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        CovariateCalibrator().fit(p, np.array([[np.nan], [1.0]]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="0 or 1"):
        CovariateCalibrator().fit(p, np.zeros((2, 1)), np.array([0.5, 1.0]))


def test_out_of_fold_loss_prefers_covariates_only_when_they_carry_signal():
    p, u, y, _ = _known(4000, 3)
    w = np.ones(len(p))
    assert out_of_fold_log_loss(p, u, y, w) < 0.9 * out_of_fold_log_loss(p, None, y, w)
    # outcomes that follow p alone: noise covariates do not beat Platt by the margin
    rng = np.random.default_rng(4)
    y0 = (rng.random(len(p)) < _expit(0.8 * logit(p))).astype(float)
    noise = rng.normal(size=(len(p), 5))
    assert out_of_fold_log_loss(p, noise, y0, w) > 0.98 * out_of_fold_log_loss(p, None, y0, w)


def test_stage_covariates_are_finite_with_missing_values():
    x = np.zeros((3, len(RANKER_COLUMNS)))
    col = {name: j for j, name in enumerate(RANKER_COLUMNS)}
    x[0, col["distance_km"]] = 900.0
    x[0, col["far"]] = 1.0
    x[0, col["housing"]] = 1.0
    x[0, col["wage_ratio"]] = np.e
    x[1, :] = MISSING
    u = stage_covariates(x)
    assert u.shape == (3, len(APPLY_COVARIATES)) and np.isfinite(u).all()
    named = dict(zip(APPLY_COVARIATES, u[0], strict=True))
    assert named["log_distance"] == pytest.approx(np.log(10.0))
    assert named["far_housing"] == 1.0 and named["log_wage_ratio"] == pytest.approx(1.0)
    assert dict(zip(APPLY_COVARIATES, u[1], strict=True))["wage_unknown"] == 1.0


def test_ranker_apply_map_with_covariates_undoes_exposure_in_the_booster():
    """Applications in the booster's sample happen near home for two reasons: the worker
    sees nearby vacancies far more often (exposure) and prefers them less than exposure
    suggests once shown. Pay matters once shown. On the shown pairs of a later slice,
    the map with covariates gets P(apply | shown) closer than Platt's alone."""
    rng = np.random.default_rng(20)
    col = {name: j for j, name in enumerate(RANKER_COLUMNS)}

    def pairs(n: int) -> np.ndarray:
        x = np.zeros((n, len(RANKER_COLUMNS)))
        x[:, col["distance_km"]] = rng.uniform(0, 2000, n)
        x[:, col["far"]] = x[:, col["distance_km"]] > 300
        x[:, col["wage_ratio"]] = np.exp(rng.normal(0, 0.3, n))
        x[:, col["lightfm"]] = rng.normal(size=n)
        return x

    def p_shown(x: np.ndarray) -> np.ndarray:
        return _expit(
            -0.5
            + 0.8 * x[:, col["lightfm"]]
            + 3.0 * np.log(x[:, col["wage_ratio"]])
            - 0.3 * np.log1p(x[:, col["distance_km"]] / 100)
        )

    n = 20_000
    x = pairs(n)
    seen = _expit(1.0 - 1.5 * np.log1p(x[:, col["distance_km"]] / 100))  # exposure
    applied = rng.random(n) < seen * p_shown(x)
    feats, labels = booster_sample(rng, x, applied)
    shown = pairs(4000)
    y = (rng.random(len(shown)) < p_shown(shown)).astype(float)
    test = pairs(4000)
    truth = p_shown(test)
    errors = {}
    for covariates in (False, True):
        ranker = StablePlacementRanker(max_iter=40, cv=2).fit(feats, labels)
        ranker.calibrate(apply=(shown, y, np.ones(len(y))), apply_covariates=covariates)
        kind = type(ranker.calibrators_["apply"])
        assert kind is (CovariateCalibrator if covariates else StageCalibrator)
        apply = ranker.predict_stages(test)[:, STAGES.index("apply")]
        assert ((apply >= 0) & (apply <= 1)).all()
        errors[covariates] = float(np.sqrt(np.mean((apply - truth) ** 2)))
        counts = ranker.calibration_counts_["apply"]
        assert ("oof covariates" in counts) is covariates
        # the cascade's bound still bounds every score
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 50, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    assert errors[True] < 0.7 * errors[False]
