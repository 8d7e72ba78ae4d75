"""Calibration on a later slice and censored stays (matcher.calibration): maps are
monotone and stay in [0, 1], and toy data with a known answer give that answer
(a known logistic recalibration, a known constant or proportional hazard)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.calibration import (  # noqa: E402
    HORIZON_WEEKS,
    PiecewiseHazard,
    Spells,
    StageCalibrator,
    band_exposure,
    logit,
)
from matcher.features import RANKER_COLUMNS  # noqa: E402
from matcher.ranking import STAGES, StablePlacementRanker  # noqa: E402


def _expit(z):
    return 1 / (1 + np.exp(-z))


def _recalibration_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stage outputs p whose true rate is expit(2 logit(p) - 1)."""
    rng = np.random.default_rng(seed)
    p = _expit(rng.normal(0, 1.5, n))
    true = _expit(2 * logit(p) - 1)
    return p, (rng.random(n) < true).astype(float), true


def test_platt_recovers_a_known_logistic_map():
    p, y, true = _recalibration_data(40_000, 0)
    cal = StageCalibrator("platt").fit(p, y)
    b, a = cal.coef_
    assert a == pytest.approx(2.0, abs=0.08) and b == pytest.approx(-1.0, abs=0.06)
    assert np.abs(cal.predict(p) - true).max() < 0.03


def test_isotonic_matches_the_true_rates():
    p, y, true = _recalibration_data(40_000, 1)
    cal = StageCalibrator("isotonic").fit(p, y)
    assert np.abs(cal.predict(p) - true).mean() < 0.02


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_maps_are_monotone_and_in_unit_interval(method):
    p, y, _ = _recalibration_data(3000, 2)
    cal = StageCalibrator(method).fit(p, y)
    grid = np.r_[0.0, np.sort(np.random.default_rng(3).random(2000)), 1.0]
    out = cal.predict(grid)
    assert ((out >= 0) & (out <= 1)).all()
    assert (np.diff(out) >= 0).all()


def test_sample_weights_count_as_repeated_rows():
    p, y, _ = _recalibration_data(2000, 4)
    twice = StageCalibrator("platt").fit(np.r_[p, p[:500]], np.r_[y, y[:500]])
    weighted = StageCalibrator("platt").fit(p, y, np.r_[np.full(500, 2.0), np.ones(1500)])
    np.testing.assert_allclose(weighted.coef_, twice.coef_, atol=1e-4)


def test_calibrator_refuses_bad_input():
    with pytest.raises(ValueError, match="method"):
        StageCalibrator("beta").fit(np.array([0.5]), np.array([1.0]))
    with pytest.raises(ValueError, match="0 or 1"):
        StageCalibrator().fit(np.array([0.5, 0.2]), np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="length"):
        StageCalibrator().fit(np.array([0.5, 0.2]), np.array([1.0]))


def test_band_exposure_known_answer():
    spells = Spells(
        np.array([0.0, 2.0, 5.0]), np.array([3.0, 14.5, 6.0]), np.array([1.0, 0.0, 1.0])
    )
    exposure, events = band_exposure(spells, (4.0, 13.0))
    np.testing.assert_allclose(exposure, [[3, 0, 0], [2, 9, 1.5], [0, 1, 0]])
    np.testing.assert_allclose(events, [[1, 0, 0], [0, 0, 0], [0, 1, 0]])


def _exponential_spells(rate: np.ndarray, seed: int, truncate: bool = False) -> Spells:
    """Exponential tenures at ``rate`` per week, censored uniformly in [2, 16] weeks;
    with ``truncate``, spells observed only from a later tenure (if still there)."""
    rng = np.random.default_rng(seed)
    n = len(rate)
    tenure = rng.exponential(1.0, n) / rate
    censor = rng.uniform(2, 16, n)
    entry = rng.uniform(0, 8, n) if truncate else np.zeros(n)
    seen = tenure > entry
    stop = np.minimum(tenure, entry + censor)[seen]
    return Spells(entry[seen], stop, (tenure < entry + censor)[seen].astype(float))


def test_constant_hazard_gives_the_known_survival():
    rate = 0.03
    for truncate in (False, True):
        spells = _exponential_spells(np.full(30_000, rate), 5, truncate)
        model = PiecewiseHazard().fit(np.zeros(len(spells.entry)), spells)
        np.testing.assert_allclose(np.exp(model.alpha_), rate, rtol=0.08)
        expected = np.exp(-rate * HORIZON_WEEKS)  # 0.458
        assert model.survival(np.zeros(1))[0] == pytest.approx(expected, abs=0.02)


def test_proportional_hazard_recovers_the_slope_and_survival():
    z = np.random.default_rng(6).normal(size=30_000)
    rate = 0.03 * np.exp(0.8 * z)
    spells = _exponential_spells(rate, 7)
    model = PiecewiseHazard().fit(z[: len(spells.entry)], spells)
    assert model.beta_ == pytest.approx(0.8, abs=0.06)
    grid = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(
        model.survival(grid), np.exp(-0.03 * np.exp(0.8 * grid) * 26), atol=0.03
    )


def test_survival_is_monotone_in_unit_interval_and_slope_never_negative():
    # a covariate that *lowers* the hazard: the slope is held at 0, not made negative
    z = np.random.default_rng(8).normal(size=5000)
    spells = _exponential_spells(0.05 * np.exp(-0.5 * z), 9)
    model = PiecewiseHazard().fit(z, spells)
    assert model.beta_ >= 0
    grid = np.linspace(-50, 50, 501)
    s = model.predict(grid)
    assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 0).all()


def test_hazard_refuses_data_without_leaving():
    with pytest.raises(ValueError, match="leaving"):
        PiecewiseHazard().fit(np.zeros(2), Spells(np.zeros(2), np.ones(2), np.zeros(2)))
    with pytest.raises(ValueError, match="exits before"):
        Spells(np.array([2.0]), np.array([1.0]), np.array([0.0]))


def test_ranker_calibrated_on_a_later_slice_gives_the_slice_rates():
    """The booster learns apply against sampled negatives (rates far from the truth);
    calibrated on shown pairs whose apply rate is a known logistic, the stage gives
    those rates; the stay stage gives the survival of the known hazard."""
    rng = np.random.default_rng(10)
    n = 6000
    x = rng.normal(size=(n, len(RANKER_COLUMNS)))
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    true_apply = _expit(1.2 * x[:, 0] - 0.3)
    # training sample: every positive, one negative in 20 (sampling shifts the rate)
    applied = rng.random(n) < true_apply
    kept = applied | (rng.random(n) < 0.05)
    hired = applied & (rng.random(n) < _expit(x[:, 2]))
    labels = pd.DataFrame(
        {"applied": applied.astype(int), "hired": hired.astype(int), "retained": np.nan}
    )
    rate = 0.04 * np.exp(0.5 * x[:, 4])
    ranker = StablePlacementRanker(max_iter=50, cv=2).fit(
        feats[kept], labels[kept], stays=(feats, _exponential_spells(rate, 11))
    )
    shown = rng.normal(size=(n, len(RANKER_COLUMNS)))
    shown_f = pd.DataFrame(shown, columns=RANKER_COLUMNS)
    p_true = _expit(1.2 * shown[:, 0] - 0.3)
    y = (rng.random(n) < p_true).astype(float)
    later_rate = 0.04 * np.exp(0.5 * shown[:, 4])
    ranker.calibrate(
        apply=(shown_f, y, np.ones(n)), stay=(shown_f, _exponential_spells(later_rate, 12))
    )
    assert set(ranker.calibrators_) == {"apply", "stay"}
    test = rng.normal(size=(4000, len(RANKER_COLUMNS)))
    stages = ranker.predict_stages(test)
    assert ((stages >= 0) & (stages <= 1)).all()
    apply = stages[:, STAGES.index("apply")]
    truth = _expit(1.2 * test[:, 0] - 0.3)
    assert abs(apply.mean() - truth.mean()) < 0.03
    assert np.corrcoef(apply, truth)[0, 1] > 0.75
    # calibrated: within each fifth of the predictions, the mean truth is what it says
    fifth = np.searchsorted(np.quantile(apply, [0.2, 0.4, 0.6, 0.8]), apply, side="right")
    for q in range(5):
        assert abs(apply[fifth == q].mean() - truth[fifth == q].mean()) < 0.05
    # uncalibrated, the sampled negatives put the stage far above the shown pairs' rate
    raw = ranker._predict("apply", test)
    assert raw.mean() - truth.mean() > 0.2
    stay = stages[:, STAGES.index("stay")]
    true_stay = np.exp(-0.04 * np.exp(0.5 * test[:, 4]) * HORIZON_WEEKS)
    # (the booster's error is heterogeneity the hazard cannot see: survival is convex in
    # the rate, so a little below the mean truth)
    assert abs(stay.mean() - true_stay.mean()) < 0.08
    assert np.corrcoef(stay, true_stay)[0, 1] > 0.75


def test_stable_chance_says_the_probability_plainly():
    from matcher.explain import stable_chance

    r = stable_chance(0.2804)
    assert r.zh == "约 28% 的机会稳定就业 6 个月"
    assert r.en == "about 28% chance of a job kept 6 months"
    assert r.values == {"percent": 28, "weeks": 26}
    assert stable_chance(0.004).zh == "不到 1% 的机会稳定就业 6 个月"
    assert stable_chance(0.5, weeks=10).zh == "约 50% 的机会稳定就业 10 周"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stable_chance(1.5)
