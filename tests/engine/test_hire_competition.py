"""The hire stage's map with competition (StablePlacementRanker.calibrate(hire_competition=...),
Recommender(hire_map="competition"), application_competition): the competition an
application met counted from the events; the map is monotone in the stage's output, its
probabilities in [0, 1], and on a toy market where rivals for the seats lower the hires
observed, it recovers a single applicant's chance, which Platt's map alone cannot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params  # noqa: E402

from matcher.data.dataset import Dataset  # noqa: E402
from matcher.models.calibration import CovariateCalibrator, StageCalibrator  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.labels import application_competition  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    HIRE_ALONE_COVARIATES,
    HIRE_COMPETITION,
    HIRE_COVARIATES,
    MISSING,
    STAGES,
    StablePlacementRanker,
    hire_alone_covariates,
    hire_covariates,
)

HIRE = STAGES.index("hire")
COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def _expit(z):
    return 1 / (1 + np.exp(-z))


def test_application_competition_counts_rivals_per_seat_and_own_applications():
    t0 = pd.Timestamp("2026-03-01")
    day = pd.Timedelta(days=1)
    events = pd.DataFrame(
        {
            "worker_id": ["a", "b", "c", "a", "d", "a", "b"],
            "vacancy_id": ["v", "v", "v", "u", "v", "v", "v"],
            "event": ["applied", "applied", "applied", "applied", "hired", "hired", "viewed"],
            "occurred_at": [
                t0,
                t0 + day,
                t0 + 10 * day,
                t0 + day / 4,
                t0 + 2 * day,
                t0 + 3 * day,
                t0,
            ],
        }
    )
    vacancies = pd.DataFrame({"vacancy_id": ["v", "u"], "headcount": [1, 3]})
    pairs = pd.DataFrame({"worker_id": ["a", "c", "b", "x"], "vacancy_id": ["v", "v", "v", "u"]})
    at = pd.Series([t0, t0 + 10 * day, t0 + day, pd.NaT])
    out = application_competition(events, vacancies, pairs, at)
    assert out.shape == (4, len(HIRE_COMPETITION))
    # a at v: one rival (b, a day later; c is 10 days off), 1 seat now + 2 hires since;
    # one application of a's own elsewhere (u)
    np.testing.assert_allclose(out[0], [np.log1p(1 / 3), np.log1p(1)])
    # c at v ten days later: nobody near, no seat now and no hire since -> 1 seat
    np.testing.assert_allclose(out[1], [0.0, 0.0])
    # b at v: a is a rival (a day before); seats 1 + 2 hires after
    np.testing.assert_allclose(out[2], [np.log1p(1 / 3), 0.0])
    # no time: nothing counted
    np.testing.assert_allclose(out[3], [0.0, 0.0])


def test_hire_covariates_score_without_competition_and_check_shape():
    x = np.full((3, len(RANKER_COLUMNS)), MISSING)
    x[0, COL["flow_log"]] = 2.0
    u = hire_covariates(x)
    assert u.shape == (3, len(HIRE_COVARIATES)) and np.isfinite(u).all()
    named = dict(zip(HIRE_COVARIATES, u[0], strict=True))
    assert named["rivals_per_seat_log"] == 0.0 and named["own_applications_log"] == 0.0
    assert named["flow_log"] == 2.0 and named["tie_hired_log"] == 0.0
    comp = np.array([[0.5, 1.0], [0.0, 0.0], [2.0, 0.7]])
    np.testing.assert_allclose(hire_covariates(x, comp)[:, :2], comp)
    with pytest.raises(ValueError, match="competition must be"):
        hire_covariates(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="competition must be"):
        hire_covariates(x, np.array([[np.nan, 0.0]] * 3))


def _booster_frames(x: np.ndarray, out: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranker's features and labels of a toy market's applications: every row
    applied, hired as simulated, no retention label; the first quarter (and one row)
    shown but not applied."""
    n = len(x)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    labels = pd.DataFrame({"applied": 1, "hired": out[:, 1].astype(int), "retained": np.nan})
    labels.loc[: n // 4, ["applied", "hired"]] = 0
    return feats, labels


def _market(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Applications: a single applicant's P(hired) rises with lightfm; an application
    with more rivals per seat is hired less often (only the best get the seats), and
    rivals are more frequent where the county's ties are strong."""
    x = np.zeros((n, len(RANKER_COLUMNS)))
    x[:, COL["lightfm"]] = rng.normal(size=n)
    ties = rng.uniform(0, 3, n)
    x[:, COL["tie_hired_log"]] = ties
    rivals = rng.poisson(0.5 + 1.5 * ties)
    single = _expit(-0.3 + 1.0 * x[:, COL["lightfm"]] + 0.3 * ties)
    comp = np.column_stack([np.log1p(rivals), np.zeros(n)])
    hired = rng.random(n) < single / (1.0 + rivals)
    return x, comp, np.column_stack([single, hired])


def test_ranker_hire_map_with_competition_recovers_a_single_applicants_chance():
    rng = np.random.default_rng(5)
    n = 12_000
    x, _, out = _market(rng, n)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    hired = out[:, 1].astype(int)
    labels = pd.DataFrame({"applied": 1, "hired": hired, "retained": np.nan}, index=feats.index)
    labels.loc[: n // 4, "applied"] = 0  # some pairs never applied: the apply stage learns
    labels.loc[: n // 4, "hired"] = 0
    xs, comp, outs = _market(rng, 6000)
    test, _, truth = _market(rng, 4000)
    errors = {}
    for competition in (None, comp):
        ranker = StablePlacementRanker(max_iter=40, cv=2).fit(feats, labels)
        ranker.calibrate(hire=(xs, outs[:, 1]), hire_competition=competition)
        kind = type(ranker.calibrators_["hire"])
        assert kind is (StageCalibrator if competition is None else CovariateCalibrator)
        assert ("oof covariates" in ranker.calibration_counts_["hire"]) is (competition is not None)
        hire = ranker.predict_stages(test)[:, HIRE]
        assert ((hire >= 0) & (hire <= 1)).all()
        errors[competition is not None] = float(np.sqrt(np.mean((hire - truth[:, 0]) ** 2)))
        # monotone in the stage's output for fixed covariates
        cal = ranker.calibrators_["hire"]
        if isinstance(cal, CovariateCalibrator):
            grid = np.linspace(0.001, 0.999, 200)
            u = np.tile(hire_covariates(test[:1]), (200, 1))
            assert (np.diff(cal.predict(grid, u)) >= 0).all()
            assert cal.coef_[2] < 0  # rivals lower the hires observed
        # the cascade's bound still bounds every score
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 40, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    # Platt alone maps onto the hires observed (with rivals): far below a single
    # applicant's chance; with the competition the map scores it at no rivals
    assert errors[True] < 0.5 * errors[False]


def test_ranker_hire_booster_with_competition_scores_a_single_applicant():
    """The competition as the hire booster's own input (labels with HIRE_COMPETITION):
    learnt as lowering the chance, scored at none, then calibrated with each slice
    application's own competition; closer to a single applicant's chance than the
    booster without it."""
    rng = np.random.default_rng(6)
    n = 12_000
    x, comp, out = _market(rng, n)
    feats, labels = _booster_frames(x, out)
    xs, comp_s, outs = _market(rng, 6000)
    test, _, truth = _market(rng, 4000)
    errors = {}
    for learnt in (False, True):
        with_comp = labels.assign(**dict(zip(HIRE_COMPETITION, comp.T, strict=True)))
        ranker = StablePlacementRanker(max_iter=40, cv=2).fit(
            feats, with_comp if learnt else labels
        )
        assert ranker.hire_competition_ is learnt
        ranker.calibrate(hire=(xs, outs[:, 1]), hire_competition=comp_s if learnt else None)
        assert type(ranker.calibrators_["hire"]) is StageCalibrator
        stages = ranker.predict_stages(test)
        hire = stages[:, HIRE]
        assert ((hire >= 0) & (hire <= 1)).all()
        errors[learnt] = float(np.sqrt(np.mean((hire - truth[:, 0]) ** 2)))
        if learnt:
            # more rivals never raise the chance (monotone constraint)
            lo = ranker.predict_stages(test, np.zeros((len(test), 2)))[:, HIRE]
            hi = ranker.predict_stages(test, np.full((len(test), 2), 2.0))[:, HIRE]
            assert (hi <= lo + 1e-12).all() and np.allclose(lo, hire)
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 40, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    assert errors[True] < 0.5 * errors[False]


def test_hire_alone_covariates_hold_competition_pay_and_similarity():
    x = np.full((2, len(RANKER_COLUMNS)), MISSING)
    x[0, COL["wage_ratio"]] = np.e
    x[0, COL["lexical"]] = 0.4
    u = hire_alone_covariates(x)
    assert u.shape == (2, len(HIRE_ALONE_COVARIATES)) and np.isfinite(u).all()
    named = dict(zip(HIRE_ALONE_COVARIATES, u[0], strict=True))
    assert named["rivals_per_seat_log"] == 0.0 and named["own_applications_log"] == 0.0
    assert named["log_wage_ratio"] == pytest.approx(1.0) and named["wage_unknown"] == 0.0
    assert named["lexical"] == pytest.approx(0.4)
    assert dict(zip(HIRE_ALONE_COVARIATES, u[1], strict=True))["wage_unknown"] == 1.0
    comp = np.array([[0.5, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(hire_alone_covariates(x, comp)[:, :2], comp)
    assert hire_alone_covariates(x[:0]).shape == (0, len(HIRE_ALONE_COVARIATES))


def _paid_market(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Applications whose single applicant's chance rises with pay against the worker's
    expectation (an offer is taken on it) and falls with rivals per seat; the booster's
    own input (lightfm) is noise."""
    x = np.zeros((n, len(RANKER_COLUMNS)))
    x[:, COL["lightfm"]] = rng.normal(size=n)
    log_ratio = rng.uniform(-0.6, 0.6, n)
    x[:, COL["wage_ratio"]] = np.exp(log_ratio)
    rivals = rng.poisson(1.0, n)
    single = _expit(-0.2 + 3.0 * log_ratio)
    comp = np.column_stack([np.log1p(rivals), np.zeros(n)])
    hired = rng.random(n) < single / (1.0 + rivals)
    return x, comp, np.column_stack([single, hired])


def test_ranker_hire_alone_recovers_a_single_applicants_chance_from_the_pairs_terms():
    """Known toy case: the hire stage on covariates alone (calibrate(hire_alone=...)),
    fitted on earlier and slice applications, scores a single applicant's chance (no
    rivals) from the pay ratio far closer than the booster with Platt's map; probabilities
    in [0, 1], increasing in pay, decreasing in rivals, and the cascade's bound holds."""
    rng = np.random.default_rng(7)
    n = 3000
    x, _, out = _paid_market(rng, n)
    feats, labels = _booster_frames(x, out)
    xe, comp_e, oute = _paid_market(rng, 3000)
    xs, comp_s, outs = _paid_market(rng, 1500)
    test, _, truth = _paid_market(rng, 2000)
    errors = {}
    for alone in (False, True):
        ranker = StablePlacementRanker(max_iter=30, cv=2).fit(feats, labels)
        ranker.calibrate(
            hire=(xs, outs[:, 1]),
            hire_competition=comp_s if alone else None,
            hire_alone=(xe, oute[:, 1], comp_e) if alone else None,
        )
        assert ranker.hire_alone_ is alone
        hire = ranker.predict_stages(test)[:, HIRE]
        assert ((hire >= 0) & (hire <= 1)).all()
        errors[alone] = float(np.sqrt(np.mean((hire - truth[:, 0]) ** 2)))
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 40, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    assert ranker.calibration_counts_["hire alone"]["rows"] == 4500
    named = dict(zip(HIRE_ALONE_COVARIATES, ranker.calibrators_["hire"].coef_[2:], strict=True))
    assert named["log_wage_ratio"] > 0 and named["rivals_per_seat_log"] < 0
    # the booster's output is left out: the same covariates give the same chance
    same = test.copy()
    same[:, COL["lightfm"]] = rng.normal(size=len(test))
    np.testing.assert_allclose(ranker.predict_stages(same)[:, HIRE], hire)
    assert errors[True] < 0.5 * errors[False]


@pytest.mark.parametrize(
    "hire_map", ["competition", "competition-map", "competition-typical", "covariates", "history"]
)
def test_recommender_hire_map_fits_scores_and_recalibrates(hire_map):
    """On a small generated market (half its events the calibration slice): the hire
    stage learns (or maps) the competition, every score is a probability, and
    recalibrate reproduces the fitted calibration and scores."""
    import copy

    from matcher.serving.recommender import Recommender
    from training.synth import build_market

    market = build_market(300, 12, weeks=20, seed=1)
    ds = Dataset.from_frames(
        **{k: market.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )
    model = Recommender(**{**fast_params(), "calibration_share": 0.5, "hire_map": hire_map})
    model.fit(ds)
    ranker = model.ranker_
    assert ranker.hire_competition_ is (hire_map == "competition")
    if hire_map in ("competition-typical", "history"):
        # no rival; the worker's own other applications at a typical (non-negative) level
        assert ranker.hire_planning_[0] == 0.0 and ranker.hire_planning_[1] >= 0.0
    else:
        assert ranker.hire_planning_ is None
    assert ranker.hire_alone_ is (hire_map in ("covariates", "history"))
    if hire_map == "history":
        # the regression learnt from the history windows' applications too
        assert model.ranker_counts_["history_cutoffs"]
        rows = ranker.calibration_counts_["hire alone"]["rows"]
        assert rows > ranker.calibration_counts_["hire"]["rows"]
    ids = ds.workers["worker_id"].tolist()
    lists = model.recommend_many(ids, 5, reasons=False)
    assert len(lists) and ((lists["score"] >= 0) & (lists["score"] <= 1)).all()
    again = copy.deepcopy(model).recalibrate(ds)
    assert again.ranker_.calibration_counts_ == ranker.calibration_counts_
    after = again.recommend_many(ids, 5, reasons=False)
    np.testing.assert_allclose(after["score"], lists["score"])
