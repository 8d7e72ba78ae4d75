"""Calibration on a later slice and censored stays (matcher.models.calibration): maps are
monotone and stay in [0, 1], and toy data with a known answer give that answer
(a known logistic recalibration, a known constant or proportional hazard)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.evaluation.calibration import expected_calibration_error  # noqa: E402
from matcher.models.calibration import (  # noqa: E402
    HORIZON_WEEKS,
    JointCalibrator,
    PiecewiseHazard,
    Spells,
    StageCalibrator,
    band_exposure,
    logit,
)
from matcher.models.features import RANKER_COLUMNS, WAGE_RATIO_PEERS  # noqa: E402
from matcher.models.ranking import STAGES, Proposals, StablePlacementRanker  # noqa: E402


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
    from matcher.models.explain import stable_chance

    r = stable_chance(0.2804)
    assert r.zh == "约 28% 的机会稳定就业 6 个月"
    assert r.en == "about 28% chance of a job kept 6 months"
    assert r.values == {"percent": 28, "weeks": 26}
    assert stable_chance(0.004).zh == "不到 1% 的机会稳定就业 6 个月"
    assert stable_chance(0.5, weeks=10).zh == "约 50% 的机会稳定就业 10 周"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stable_chance(1.5)


def _two_stage_world(n: int, seed: int):
    """Pairs whose quality x drives both applying and being hired; each stage's model
    sees x through its own noise (s1, s2). Returns the signals, the true stage
    probabilities and the drawn outcomes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.5, n)
    s1, s2 = x + rng.normal(0.0, 1.0, n), x + rng.normal(0.0, 1.0, n)
    p_apply, p_hire = _expit(x - 0.5), _expit(x - 1.0)
    applied = rng.random(n) < p_apply
    hired = applied & (rng.random(n) < p_hire)
    return _expit(s1), _expit(s2), p_apply * p_hire, applied, hired


def test_joint_calibration_fixes_a_product_that_per_stage_calibration_leaves_wrong():
    """Known toy case: each stage calibrated on its own population (apply on every
    proposal, hire on the applicants) is calibrated, yet their product is not (the
    stages' errors are correlated through the shared quality: a pair whose apply
    signal is high is a better applicant than the hire stage, seeing only its own
    signal, assumes). Platt on the logit of the product, fitted on the outcome of the
    proposals, is calibrated."""
    o1, o2, _, applied, hired = _two_stage_world(60_000, 0)
    apply = StageCalibrator().fit(o1, applied.astype(float))
    hire = StageCalibrator().fit(o2[applied], hired[applied].astype(float))
    joint = JointCalibrator().fit(apply.predict(o1) * hire.predict(o2), hired.astype(float))
    t1, t2, true, _, _ = _two_stage_world(60_000, 1)
    product = apply.predict(t1) * hire.predict(t2)
    per_stage = expected_calibration_error(product, true)
    joint_ece = expected_calibration_error(joint.predict(product), true)
    assert per_stage > 0.02  # the product of calibrated stages is off
    assert joint_ece < 0.006  # the joint map puts it right
    b, a = joint.coef_
    assert a > 1.1  # the product was too flat: its logit is stretched


def test_each_stage_of_the_toy_is_calibrated_on_its_own_population():
    """The per-stage maps of the toy above are right for their own populations (so
    what the product gets wrong is the combination, not a stage)."""
    o1, o2, _, applied, hired = _two_stage_world(60_000, 0)
    apply = StageCalibrator().fit(o1, applied.astype(float))
    hire = StageCalibrator().fit(o2[applied], hired[applied].astype(float))
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.5, 60_000)
    s1, s2 = x + rng.normal(0.0, 1.0, 60_000), x + rng.normal(0.0, 1.0, 60_000)
    applied_t = rng.random(60_000) < _expit(x - 0.5)
    assert expected_calibration_error(apply.predict(_expit(s1)), _expit(x - 0.5)) < 0.005
    assert (
        expected_calibration_error(hire.predict(_expit(s2[applied_t])), _expit(x[applied_t] - 1.0))
        < 0.01
    )


def test_joint_calibrator_takes_soft_outcomes_and_recovers_a_known_map():
    """With the true probability itself as a (fractional) outcome, Platt recovers the
    map exactly; outcomes outside [0, 1] are refused."""
    p, _, true = _recalibration_data(20_000, 4)
    cal = JointCalibrator("platt").fit(p, true)
    b, a = cal.coef_
    assert a == pytest.approx(2.0, abs=0.01) and b == pytest.approx(-1.0, abs=0.01)
    iso = JointCalibrator("isotonic").fit(p, true)
    assert np.abs(iso.predict(p) - true).max() < 0.02
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        JointCalibrator().fit(p[:3], np.array([0.2, 1.5, 0.0]))
    with pytest.raises(ValueError, match="0 or 1"):
        StageCalibrator().fit(p[:3], np.array([0.2, 1.0, 0.0]))


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_joint_map_is_monotone_and_in_unit_interval(method):
    o1, o2, _, _, hired = _two_stage_world(5000, 5)
    cal = JointCalibrator(method).fit(o1 * o2, hired.astype(float))
    grid = np.r_[0.0, np.sort(np.random.default_rng(6).random(2000)), 1.0]
    out = cal.predict(grid)
    assert ((out >= 0) & (out <= 1)).all()
    assert (np.diff(out) >= 0).all()


def test_survival_takes_one_horizon_per_row():
    hazard = PiecewiseHazard(bands=(4.0,), horizon=26)
    hazard.alpha_, hazard.beta_ = np.log(np.array([0.1, 0.02])), 0.5
    z = np.array([0.0, 1.0, 0.0])
    weeks = np.array([2.0, 10.0, 26.0])
    each = hazard.survival(z, weeks)
    one_by_one = [hazard.survival(z[i : i + 1], float(weeks[i]))[0] for i in range(3)]
    assert each == pytest.approx(one_by_one)
    assert each[0] == pytest.approx(np.exp(-0.2))
    assert each[2] == pytest.approx(np.exp(-(4 * 0.1 + 22 * 0.02)))


def test_ranker_joint_calibration_on_proposals_with_censored_stays():
    """The ranker's joint map: proposals of a later slice, hires that left count 0 and
    hires still there count their chance of lasting the rest of the horizon; the
    product then matches the (survival-weighted) rate of stable placements."""
    rng = np.random.default_rng(20)
    n = 6000
    x = rng.normal(size=(n, len(RANKER_COLUMNS)))
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    applied = rng.random(n) < _expit(x[:, 0])
    hired = applied & (rng.random(n) < _expit(x[:, 0] + x[:, 2]))
    labels = pd.DataFrame(
        {"applied": applied.astype(int), "hired": hired.astype(int), "retained": np.nan}
    )
    rate = np.full(n, 0.02)
    ranker = StablePlacementRanker(max_iter=30, cv=2).fit(
        feats, labels, stays=(feats, _exponential_spells(rate, 21))
    )
    shown = rng.normal(size=(n, len(RANKER_COLUMNS)))
    a = rng.random(n) < _expit(shown[:, 0])
    h = a & (rng.random(n) < _expit(shown[:, 0] + shown[:, 2]))
    weeks = rng.uniform(0.0, 6.0, n)
    left = h & (rng.random(n) < 0.1)
    proposals = Proposals(
        pd.DataFrame(shown, columns=RANKER_COLUMNS),
        h.astype(float),
        weeks,
        left.astype(float),
        np.ones(n),
    )
    ranker.calibrate(
        apply=(pd.DataFrame(shown, columns=RANKER_COLUMNS), a.astype(float), np.ones(n)),
        stay=(feats, _exponential_spells(rate, 22)),
        joint=proposals,
    )
    assert ranker.joint_ is not None
    target = ranker.stay_target(shown, h.astype(float), weeks, left.astype(float))
    assert (target[~h | left] == 0).all()
    assert ((target[h & ~left] > 0) & (target[h & ~left] <= 1)).all()
    p = ranker.predict_proba(shown)
    assert ((p >= 0) & (p <= 1)).all()
    assert p.mean() == pytest.approx(target.mean(), abs=0.01)
    # the joint map is monotone in the product: the order of the pairs is kept
    product = ranker.predict_stages(shown).prod(axis=1)
    order = np.argsort(product, kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all()


def test_an_old_pickled_ranker_loads_with_neutral_defaults():
    """A ranker saved before later-slice and joint calibrators existed (its pickle lacks
    those attributes) loads and scores as a ranker without them."""
    import pickle

    rng = np.random.default_rng(30)
    x = rng.normal(size=(2000, len(RANKER_COLUMNS)))
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    applied = rng.random(2000) < _expit(x[:, 0])
    hired = applied & (rng.random(2000) < 0.5)
    labels = pd.DataFrame(
        {"applied": applied.astype(int), "hired": hired.astype(int), "retained": np.nan}
    )
    ranker = StablePlacementRanker(max_iter=10, cv=2).fit(feats, labels)
    old = pickle.loads(pickle.dumps(ranker))
    for name in ("calibrators_", "calibration_counts_", "joint_", "stay_hazard_", "horizon_"):
        del old.__dict__[name]
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.calibrators_ == {} and loaded.joint_ is None and not loaded.stay_hazard_
    assert loaded.horizon_ == HORIZON_WEEKS and not loaded.per_proposal
    assert np.array_equal(loaded.predict_proba(feats), ranker.predict_proba(feats))
    with pytest.raises(RuntimeError, match="not fitted"):
        StablePlacementRanker().predict_proba(feats)


def test_joint_prior_keeps_a_small_slice_near_the_product():
    """With the product as a prior worth ``prior_rows`` proposals, a slice of a few
    hundred proposals moves the map only part of the way to its own fit, a large
    slice almost all of it; the unregularised fit goes all the way either way."""
    p, _, true = _recalibration_data(40_000, 8)
    small_p, small_t = p[:300], true[:300]
    free = JointCalibrator().fit(small_p, small_t).coef_
    held = JointCalibrator(prior_rows=100).fit(small_p, small_t).coef_
    assert free[1] == pytest.approx(2.0, abs=0.05)
    assert 1.0 < held[1] < free[1] - 0.2 and free[0] < held[0] < 0.0
    large = JointCalibrator(prior_rows=100).fit(p, true).coef_
    assert large[1] == pytest.approx(2.0, abs=0.1) and large[0] == pytest.approx(-1.0, abs=0.1)


def test_stay_stage_leaf_size_is_its_own_parameter():
    """``stay_min_samples_leaf`` sets the hazard booster's leaves (capped at a quarter of
    the leaving events) and leaves the other stages' leaves as they were; larger leaves
    pull the rate of leaving of a handful of spells towards the rest. Default: the
    stages' ``min_samples_leaf``."""
    rng = np.random.default_rng(31)
    n = 4000
    # the columns before WAGE_RATIO_PEERS drawn as they were before it existed (0 after)
    drawn = RANKER_COLUMNS.index(WAGE_RATIO_PEERS)
    x = np.c_[rng.normal(size=(n, drawn)), np.zeros((n, len(RANKER_COLUMNS) - drawn))]
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    applied = rng.random(n) < _expit(x[:, 0])
    hired = applied & (rng.random(n) < _expit(x[:, 1]))
    labels = pd.DataFrame(
        {"applied": applied.astype(int), "hired": hired.astype(int), "retained": np.nan}
    )
    # one rare kind of hire (column 3 far above the rest) leaves ten times as often
    rare = x[:, 3] > 2.3
    spells = _exponential_spells(np.where(rare, 0.3, 0.03), 32)
    fitted = {
        leaf: StablePlacementRanker(max_iter=30, cv=2, stay_min_samples_leaf=leaf).fit(
            feats, labels, stays=(feats, spells)
        )
        for leaf in (None, 20, 200)
    }
    events = int(spells.left.sum())
    assert events // 4 > 200
    assert fitted[None].stages_["stay"].min_samples_leaf == 20
    assert fitted[20].stages_["stay"].min_samples_leaf == 20
    assert fitted[200].stages_["stay"].min_samples_leaf == 200
    for ranker in fitted.values():  # the apply stage keeps the stages' leaves
        booster = ranker.stages_["apply"].calibrated_classifiers_[0].estimator
        assert booster.min_samples_leaf == 20
    # same stays as the default with the default's value
    np.testing.assert_array_equal(
        fitted[None].predict_stages(feats)[:, 2], fitted[20].predict_stages(feats)[:, 2]
    )
    # leaves of 200 spells cannot isolate the ~40 rare hires: their rate is pulled in
    stay = {leaf: r.predict_stages(feats)[:, 2] for leaf, r in fitted.items()}
    gap = {leaf: s[~rare].mean() - s[rare].mean() for leaf, s in stay.items()}
    assert gap[200] < gap[20]
    assert rare.sum() < 200 / 4


def test_an_old_pickled_ranker_refits_its_stay_stage_with_the_stages_leaves():
    """A ranker pickled before ``stay_min_samples_leaf`` existed unpickles with None:
    the stages' ``min_samples_leaf``."""
    import pickle

    ranker = StablePlacementRanker(max_iter=5)
    state = ranker.__dict__.copy()
    del state["stay_min_samples_leaf"]
    old = pickle.loads(pickle.dumps(ranker))
    old.__dict__ = state
    assert old.stay_min_samples_leaf is None


def test_joint_map_with_exact_tails_keeps_the_order_below_the_clip():
    """Known answer: with the map ``expit(2 logit(p) - 1)`` (the true rate of
    :func:`_recalibration_data`), products of 1e-7, 1e-9 and 1e-12 all map as 1e-6 when
    clipped (a tie); with ``tails="exact"`` each maps to the curve at its own logit —
    ``p^2 / e`` to first order — so the order is kept, the values lie in [0, 1], and
    above the clip both tails give the same map. The fit does not depend on tails."""
    p, _, true = _recalibration_data(20_000, 4)
    clip = JointCalibrator("platt").fit(p, true)
    exact = JointCalibrator("platt", tails="exact").fit(p, true)
    assert np.array_equal(clip.coef_, exact.coef_)
    b, a = exact.coef_
    tiny = np.array([1e-7, 1e-9, 1e-12, 0.0])
    tied = clip.predict(tiny)
    assert np.all(tied == tied[0])
    out = exact.predict(tiny)
    assert out[0] > out[1] > out[2] > out[3] >= 0.0 and out[0] < tied[0]
    expected = _expit(a * (np.log(tiny[:3]) - np.log1p(-tiny[:3])) + b)
    assert np.allclose(out[:3], expected, rtol=1e-9)
    assert out[1] == pytest.approx(1e-18 / np.e, rel=0.05)
    above = np.array([1e-6, 1e-4, 0.3, 0.99])
    assert np.array_equal(exact.predict(above), clip.predict(above))
    grid = np.r_[0.0, np.geomspace(1e-300, 1.0, 2000)]
    both = exact.predict(grid)
    assert ((both >= 0) & (both <= 1)).all() and (np.diff(both) >= 0).all()
    iso = JointCalibrator("isotonic", tails="exact").fit(p, true)
    low = iso.predict(np.array([0.0, 1e-12, 1e-9]))
    assert low[0] <= low[1] <= low[2] and ((low >= 0) & (low <= 1)).all()
    with pytest.raises(ValueError, match="tails must be one of clip, exact"):
        JointCalibrator(tails="round").fit(p, true)
