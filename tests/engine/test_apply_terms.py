"""``apply_terms="entry"`` (the default since session 13): the ranker's boosters read whether the vacancy's
occupation takes newcomers (``entry_level``, from the occupation catalogue) and the apply
map reads a job outside the trade that takes no newcomers and the network across a
provincial border (matcher.models.ranking.APPLY_ENTRY_COVARIATES). With the default
``"plain"`` the boosters do not read the column at all, so a model fits and scores as
before the column existed, and a ranker pickled before it reads as ``"plain"``."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.data.reference import entry_level_codes  # noqa: E402
from matcher.models.calibration import CovariateCalibrator  # noqa: E402
from matcher.models.config import LEGACY_VALUES, ConfigError, RecommenderConfig  # noqa: E402
from matcher.models.features import ENTRY_LEVEL, RANKER_COLUMNS, entry_level_of  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    APPLY_ENTRY_COVARIATES,
    BOOSTER_WIDTH,
    MISSING,
    STAGES,
    StablePlacementRanker,
    apply_entry_covariates,
)
from tests.engine.engine_markets import booster_sample  # noqa: E402

COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def test_entry_level_comes_from_the_occupation_catalogue():
    codes = entry_level_codes()
    assert "6-25-04-07" in codes  # 电子厂普工 takes newcomers
    assert "6-25-04-08" not in codes  # 电子设备调试工 does not
    got = entry_level_of(np.array(["6-25-04-07", "6-25-04-08", None, "9-99-99-99"], object))
    np.testing.assert_array_equal(got, [1.0, 0.0, 0.0, 0.0])
    # the last column a booster reads (the stay records follow it)
    assert RANKER_COLUMNS[BOOSTER_WIDTH["entry"] - 1] == ENTRY_LEVEL


def test_entry_covariates_known_answer():
    x = np.zeros((4, len(RANKER_COLUMNS)))
    x[:, COL["flow_log"]] = 2.0
    x[0, COL["same_province"]] = 1.0  # home province: no network term
    x[0, COL["occ_match"]] = 4.0  # own trade
    x[1, COL["occ_match"]] = 1.0  # outside the trade, takes newcomers
    x[1, COL[ENTRY_LEVEL]] = 1.0
    x[2, COL["occ_match"]] = 2.0  # outside the trade, takes no newcomers
    x[3, :] = MISSING  # nothing known: outside the trade as far as the engine can tell
    u = apply_entry_covariates(x)
    assert u.shape == (4, len(APPLY_ENTRY_COVARIATES)) and np.isfinite(u).all()
    named = {name: u[:, j] for j, name in enumerate(APPLY_ENTRY_COVARIATES)}
    np.testing.assert_array_equal(named["off_trade"], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(named["cross_flow_log"], [0.0, 2.0, 2.0, 0.0])
    assert "same_province" not in APPLY_ENTRY_COVARIATES


def _market(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Toy pairs whose worker applies less to a job outside the trade unless it takes
    newcomers; ``entry_level`` random, half the pairs outside the trade."""
    x = np.zeros((n, len(RANKER_COLUMNS)))
    x[:, COL["occ_match"]] = np.where(rng.random(n) < 0.5, 4.0, 0.0)
    x[:, COL[ENTRY_LEVEL]] = (rng.random(n) < 0.5).astype(float)
    x[:, COL["lightfm"]] = rng.normal(size=n)
    x[:, COL["distance_km"]] = rng.uniform(0, 2000, n)
    x[:, COL["far"]] = x[:, COL["distance_km"]] > 300
    off = (x[:, COL["occ_match"]] < 3) & (x[:, COL[ENTRY_LEVEL]] == 0)
    p = expit(-1.0 + 0.5 * x[:, COL["lightfm"]] - 2.0 * off)
    return x, rng.random(n) < p


def test_plain_boosters_do_not_read_the_entry_level():
    rng = np.random.default_rng(3)
    x, applied = _market(rng, 6000)
    feats, labels = booster_sample(rng, x, applied)
    plain = StablePlacementRanker(max_iter=30, cv=2).fit(feats, labels)
    scrambled = feats.copy()
    scrambled[ENTRY_LEVEL] = rng.random(len(feats))
    again = StablePlacementRanker(max_iter=30, cv=2).fit(scrambled, labels)
    test, _ = _market(rng, 500)
    other = test.copy()
    other[:, COL[ENTRY_LEVEL]] = 1.0 - other[:, COL[ENTRY_LEVEL]]
    np.testing.assert_array_equal(plain.predict_stages(test), again.predict_stages(other))
    model = plain.stages_["apply"]
    assert model.n_features_in_ == BOOSTER_WIDTH["plain"] == RANKER_COLUMNS.index(ENTRY_LEVEL)


def test_entry_terms_learn_the_entry_level_and_map_with_it():
    rng = np.random.default_rng(4)
    x, applied = _market(rng, 8000)
    feats, labels = booster_sample(rng, x, applied)
    shown, y = _market(rng, 4000)
    test, _ = _market(rng, 3000)
    off = (test[:, COL["occ_match"]] < 3) & (test[:, COL[ENTRY_LEVEL]] == 0)
    outside = test[:, COL["occ_match"]] < 3
    gap = {}
    for terms in ("plain", "entry"):
        ranker = StablePlacementRanker(max_iter=30, cv=2, apply_terms=terms).fit(feats, labels)
        assert ranker.stages_["apply"].n_features_in_ == BOOSTER_WIDTH[terms]
        ranker.calibrate(apply=(shown, y.astype(float), np.ones(len(y))), apply_covariates=True)
        apply = ranker.predict_stages(test)[:, STAGES.index("apply")]
        assert ((apply >= 0) & (apply <= 1)).all()
        # outside the trade: a job that takes newcomers over one that does not
        gap[terms] = apply[outside & ~off].mean() - apply[off].mean()
        if terms == "entry":
            score, exact = ranker.predict_top(test, np.arange(len(test)) % 50, 3)
            full = ranker.predict_proba(test)
            assert (full[~exact] <= score[~exact] + 1e-12).all()
            np.testing.assert_allclose(score[exact], full[exact])
    assert abs(gap["plain"]) < 0.05 and gap["entry"] > 0.1


def test_entry_map_weighs_a_job_outside_the_trade_that_takes_no_newcomers():
    """The booster's sample does not show the choice (every pair applied alike, exposure
    only); the shown pairs of the slice do: the map with covariates takes it, on
    ``off_trade``."""
    rng = np.random.default_rng(6)
    x, _ = _market(rng, 6000)
    applied = rng.random(len(x)) < expit(-1.0 + 0.5 * x[:, COL["lightfm"]])
    feats, labels = booster_sample(rng, x, applied)
    shown, y = _market(rng, 6000)
    ranker = StablePlacementRanker(max_iter=30, cv=2, apply_terms="entry").fit(feats, labels)
    ranker.calibrate(apply=(shown, y.astype(float), np.ones(len(y))), apply_covariates=True)
    cal = ranker.calibrators_["apply"]
    assert isinstance(cal, CovariateCalibrator)
    coef = dict(zip(APPLY_ENTRY_COVARIATES, cal.coef_[2:] / cal.scale_, strict=True))
    assert coef["off_trade"] == pytest.approx(-2.0, abs=0.4)


def test_a_ranker_pickled_before_apply_terms_reads_plain():
    rng = np.random.default_rng(5)
    x, applied = _market(rng, 3000)
    feats, labels = booster_sample(rng, x, applied)
    ranker = StablePlacementRanker(max_iter=10, cv=2).fit(feats, labels)
    state = ranker.__dict__.copy()
    del state["apply_terms"]
    old = StablePlacementRanker.__new__(StablePlacementRanker)
    old.__setstate__(state)
    assert old.apply_terms == "plain"
    restored = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(restored.predict_stages(x[:50]), ranker.predict_stages(x[:50]))


def test_config_reads_apply_terms_and_legacy_configs_as_plain():
    assert LEGACY_VALUES["apply_terms"] == "plain"
    assert RecommenderConfig().apply_terms == "entry"
    data = RecommenderConfig(apply_terms="entry").to_json()
    assert RecommenderConfig.from_json(data).apply_terms == "entry"
    data.pop("apply_terms")
    assert RecommenderConfig.from_json(data).apply_terms == "plain"
    with pytest.raises(ConfigError, match="apply_terms"):
        RecommenderConfig(apply_terms="entry-level")
    with pytest.raises(ValueError, match="apply_terms"):
        StablePlacementRanker(apply_terms="x").fit(
            pd.DataFrame(np.zeros((2, len(RANKER_COLUMNS))), columns=RANKER_COLUMNS),
            pd.DataFrame({"applied": [0, 1], "hired": [0, 0], "retained": np.nan}),
        )


def test_entry_hire_regression_weighs_a_job_outside_the_trade_and_old_rankers_read_plain():
    """With ``apply_terms="entry"`` the hire stage without its booster (``hire_alone``)
    also reads ``off_trade`` (HIRE_ALONE_ENTRY_COVARIATES) and recovers a known weight on
    applications whose hire falls outside the trade unless the work takes newcomers; a
    ranker fitted before (no ``hire_alone_terms_``) scores with the plain covariates."""
    from matcher.models.ranking import (
        HIRE_ALONE_COVARIATES,
        HIRE_ALONE_ENTRY_COVARIATES,
        hire_alone_covariates,
    )

    assert (*HIRE_ALONE_COVARIATES, "off_trade") == HIRE_ALONE_ENTRY_COVARIATES
    rng = np.random.default_rng(8)
    x, applied = _market(rng, 4000)
    feats, labels = booster_sample(rng, x, applied)
    apps, _ = _market(rng, 6000)
    off = (apps[:, COL["occ_match"]] < 3) & (apps[:, COL[ENTRY_LEVEL]] == 0)
    hired = (rng.random(len(apps)) < expit(0.3 - 1.5 * off)).astype(float)
    comp = np.zeros((len(apps), 2))
    u = hire_alone_covariates(apps, comp, "entry")
    assert u.shape == (len(apps), len(HIRE_ALONE_ENTRY_COVARIATES))
    np.testing.assert_array_equal(u[:, -1], off.astype(float))
    np.testing.assert_array_equal(u[:, :-1], hire_alone_covariates(apps, comp))
    fits = {}
    for terms in ("plain", "entry"):
        ranker = StablePlacementRanker(max_iter=10, cv=2, apply_terms=terms).fit(feats, labels)
        half = len(apps) // 2
        ranker.calibrate(
            hire=(apps[:half], hired[:half]),
            hire_competition=comp[:half],
            hire_alone=(apps[half:], hired[half:], comp[half:]),
            hire_planning=np.zeros(2),
        )
        assert ranker.hire_alone_ and ranker.hire_alone_terms_ == terms
        fits[terms] = ranker
    cal = fits["entry"].calibrators_["hire"]
    coef = dict(zip(HIRE_ALONE_ENTRY_COVARIATES, cal.coef_[2:] / cal.scale_, strict=True))
    assert coef["off_trade"] == pytest.approx(-1.5, abs=0.3)
    hire = STAGES.index("hire")
    p = fits["entry"].predict_stages(apps[:200])[:, hire]
    assert p[off[:200]].mean() < p[~off[:200]].mean() - 0.2
    # a ranker pickled before the term existed kept the plain regression
    state = fits["plain"].__dict__.copy()
    del state["hire_alone_terms_"]
    old = StablePlacementRanker.__new__(StablePlacementRanker)
    old.__setstate__(state)
    assert old.hire_alone_terms_ == "plain"
    np.testing.assert_array_equal(
        old.predict_stages(apps[:50]), fits["plain"].predict_stages(apps[:50])
    )
