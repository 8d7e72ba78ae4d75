"""The stay stage as a proportional hazard on the job's terms
(matcher.models.calibration.CovariateHazard, Recommender(stay_map="covariates")):
survival in [0, 1] and monotone, the known rates of a toy market with censored and
left-truncated spells, the ranker's stay stage built from it, and the config."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.models.calibration import (  # noqa: E402
    HORIZON_WEEKS,
    CovariateHazard,
    PiecewiseHazard,
    Spells,
)
from matcher.models.config import ConfigError, RecommenderConfig  # noqa: E402
from matcher.models.features import RANKER_COLUMNS, WORKER_LEFT  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    MISSING,
    STAGES,
    STAY_COVARIATES,
    StablePlacementRanker,
    stay_covariate_matrix,
)

COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def _spells(rate: np.ndarray, seed: int, censor_at: float = 12.0, truncate: bool = False):
    """Exponential tenures at ``rate`` per week, all censored by ``censor_at`` weeks of
    follow-up (most spells never reach the 26-week horizon); with ``truncate`` each spell
    is seen only from a later tenure, if still there. Returns the spells and which rows
    were kept."""
    rng = np.random.default_rng(seed)
    n = len(rate)
    tenure = rng.exponential(1.0, n) / rate
    entry = rng.uniform(0, 8, n) if truncate else np.zeros(n)
    stop = entry + rng.uniform(2, censor_at, n)
    seen = tenure > entry
    spells = Spells(
        entry[seen], np.minimum(tenure, stop)[seen], (tenure < stop)[seen].astype(float)
    )
    return spells, seen


@pytest.mark.parametrize("truncate", [False, True])
def test_known_rates_from_censored_spells(truncate):
    """Two kinds of job, one with a written contract (weekly rate 0.02) and one without
    (0.08): followed at most 12 weeks, the hazard gives each its 26-week survival
    (0.59 and 0.12) although no spell was seen that long; the share of spells seen
    ending says far less (censoring), and a hazard without covariates gives one number."""
    rng = np.random.default_rng(0)
    n = 40_000
    contract = (rng.random(n) < 0.5).astype(float)
    rate = np.where(contract == 1, 0.02, 0.08)
    spells, seen = _spells(rate, 1, truncate=truncate)
    u = contract[seen][:, None]
    model = CovariateHazard(covariate_l2=0.0).fit(np.zeros(len(u)), spells, u)
    s = model.predict(np.zeros(2), np.array([[1.0], [0.0]]))
    truth = np.exp(-np.array([0.02, 0.08]) * HORIZON_WEEKS)
    np.testing.assert_allclose(s, truth, atol=0.02)
    naive = 1.0 - spells.left[u[:, 0] == 1].mean()
    assert naive - truth[0] > 0.15  # ignoring censoring overstates staying
    plain = PiecewiseHazard().fit(np.zeros(len(u)), spells).predict(np.zeros(2))
    assert plain[0] == plain[1]


def test_survival_in_unit_interval_monotone_and_bounded_by_upper():
    rng = np.random.default_rng(2)
    n = 5000
    z = rng.normal(size=n)
    u = rng.normal(size=(n, 3))
    rate = 0.04 * np.exp(0.6 * z + u @ np.array([0.8, -0.5, 0.0]))
    spells, seen = _spells(rate, 3)
    model = CovariateHazard().fit(z[seen], spells, u[seen])
    assert model.beta_ >= 0
    grid = np.linspace(-30, 30, 301)
    for row in (np.zeros(3), np.array([5.0, -5.0, 1.0]), np.array([-50.0, 50.0, 0.0])):
        cov = np.tile(row, (len(grid), 1))
        s = model.predict(grid, cov)
        assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 1e-12).all()
        assert (s <= model.upper(grid) + 1e-12).all()
        weeks = np.linspace(0, 52, 53)
        curve = model.survival(np.zeros(len(weeks)), np.tile(row, (len(weeks), 1)), weeks)
        assert curve[0] == pytest.approx(1.0) and (np.diff(curve) <= 1e-12).all()
    # no rows in, no rows out (a catalogue slice without pairs)
    assert model.predict(np.zeros(0), np.zeros((0, 3))).shape == (0,)
    # the signs of the covariates' effects on leaving are recovered
    assert model.coef_[0] > 0.3 and model.coef_[1] < -0.2 and abs(model.coef_[2]) < 0.1


def test_covariate_hazard_refuses_bad_input():
    spells = Spells(np.zeros(2), np.ones(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="covariates"):
        CovariateHazard().fit(np.zeros(2), spells)
    with pytest.raises(ValueError, match="one row per spell"):
        CovariateHazard().fit(np.zeros(2), spells, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="finite"):
        CovariateHazard().fit(np.zeros(2), spells, np.array([[np.nan], [1.0]]))


def _jobs(rng: np.random.Generator, n: int) -> np.ndarray:
    # the columns before the worker's leaving records (0: no record) and the columns after
    # them drawn as they were before those existed, so that the draws that follow are the same
    drawn = RANKER_COLUMNS.index(WORKER_LEFT)
    x = np.c_[rng.normal(size=(n, drawn)), np.zeros((n, len(RANKER_COLUMNS) - drawn))]
    x[:, COL["labor_contract"]] = rng.random(n) < 0.5
    x[:, COL["wage_ratio"]] = np.exp(rng.normal(0, 0.3, n))
    return x


def _true_rate(x: np.ndarray) -> np.ndarray:
    return 0.08 * np.exp(-1.2 * x[:, COL["labor_contract"]] - 2.0 * np.log(x[:, COL["wage_ratio"]]))


def test_ranker_stay_stage_from_the_hazard_on_covariates():
    """Leaving turns on the contract and the pay; the booster learns from a few hundred
    spells. The stay stage on the covariates' hazard (fitted on every spell) comes far
    closer to the true 26-week survival than the booster through the plain map, stays a
    probability, and the cascade's bound still bounds every score."""
    rng = np.random.default_rng(4)
    n = 3000
    x = _jobs(rng, n)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    applied = rng.random(n) < 0.3
    labels = pd.DataFrame(
        {
            "applied": applied.astype(int),
            "hired": (applied & (rng.random(n) < 0.5)).astype(int),
            "retained": np.nan,
        }
    )
    early, _ = _spells(_true_rate(x[:400]), 5)
    later_x = _jobs(rng, 400)
    later, seen = _spells(_true_rate(later_x), 6, truncate=True)
    test = _jobs(rng, 3000)
    truth = np.exp(-_true_rate(test) * HORIZON_WEEKS)
    errors = {}
    for covariates in (False, True):
        ranker = StablePlacementRanker(max_iter=30, cv=2).fit(
            feats, labels, stays=(feats.iloc[:400], early)
        )
        if covariates:
            both = Spells(
                np.r_[early.entry, later.entry],
                np.r_[early.exit, later.exit],
                np.r_[early.left, later.left],
            )
            stay_x = np.r_[x[:400], later_x[seen]]
        else:
            both, stay_x = later, later_x[seen]
        ranker.calibrate(stay=(stay_x, both), stay_covariates=covariates)
        kind = type(ranker.calibrators_["stay"])
        assert kind is (CovariateHazard if covariates else PiecewiseHazard)
        stay = ranker.predict_stages(test)[:, STAGES.index("stay")]
        assert ((stay >= 0) & (stay <= 1)).all()
        errors[covariates] = float(np.sqrt(np.mean((stay - truth) ** 2)))
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 50, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    assert errors[True] < 0.6 * errors[False]


def test_stay_covariates_are_finite_and_named():
    x = np.zeros((2, len(RANKER_COLUMNS)))
    x[0, COL["distance_km"]] = 900.0
    x[0, COL["far"]] = 1.0
    x[0, COL["labor_contract"]] = 1.0
    x[0, COL["tie_hired_log"]] = np.log1p(3)
    x[1, :] = MISSING
    u = stay_covariate_matrix(x)
    assert u.shape == (2, len(STAY_COVARIATES)) and np.isfinite(u).all()
    named = dict(zip(STAY_COVARIATES, u[0], strict=True))
    assert named["far_no_housing"] == 1.0 and named["far_no_mandarin"] == 1.0
    assert named["labor_contract"] == 1.0 and named["tie_hired_log"] == pytest.approx(np.log(4))
    assert dict(zip(STAY_COVARIATES, u[1], strict=True))["wage_unknown"] == 1.0


def test_config_knows_the_stay_map():
    assert RecommenderConfig().stay_map == "covariates"
    config = RecommenderConfig(stay_map="plain")
    assert RecommenderConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="stay_map"):
        RecommenderConfig(stay_map="cox")
