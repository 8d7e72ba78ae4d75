"""The apply stage without its booster, learnt from the pairs shown over more of the
history (``StablePlacementRanker.calibrate(apply_alone=...)``,
``Recommender(apply_map="history")``): on a toy market whose P(apply | shown) is a
known logistic in the terms of the choice, a slice of a few hundred views weighs those
terms poorly beside the booster; with the booster window's views as well the stage
gets the known probability closer. Every score is a probability, the cascade's bound
still bounds it, and the Recommender's recalibration reproduces its fit."""

from __future__ import annotations

import copy
import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from matcher.data.dataset import Dataset  # noqa: E402
from matcher.models.calibration import CovariateCalibrator  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    APPLY_ALONE_COVARIATES,
    MISSING,
    STAGES,
    StablePlacementRanker,
    apply_alone_covariates,
)
from tests.engine.engine_markets import booster_sample, fast_params  # noqa: E402

COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def _expit(z):
    return 1 / (1 + np.exp(-z))


def _pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.zeros((n, len(RANKER_COLUMNS)))
    x[:, COL["distance_km"]] = rng.uniform(0, 2000, n)
    x[:, COL["far"]] = x[:, COL["distance_km"]] > 300
    x[:, COL["wage_ratio"]] = np.exp(rng.normal(0, 0.3, n))
    x[:, COL["labor_contract"]] = rng.random(n) < 0.5
    x[:, COL["mandarin"]] = rng.random(n) < 0.6
    x[:, COL["lightfm"]] = rng.normal(size=n)
    return x


def _p_shown(x: np.ndarray) -> np.ndarray:
    """The known P(apply | shown): distance, a written contract, a far move without
    Mandarin; the booster's lightfm score is exposure only (no term here)."""
    far_no_zh = x[:, COL["far"]] * (1 - x[:, COL["mandarin"]])
    return _expit(
        -0.3
        - 1.2 * np.log1p(x[:, COL["distance_km"]] / 100)
        + 1.0 * x[:, COL["labor_contract"]]
        - 1.5 * far_no_zh
        + 0.5 * np.log(x[:, COL["wage_ratio"]])
    )


def test_apply_alone_covariates_name_the_terms_and_are_finite_with_missing_values():
    x = np.zeros((3, len(RANKER_COLUMNS)))
    x[0, COL["distance_km"]] = 900.0
    x[0, COL["far"]] = 1.0
    x[0, COL["meals"]] = 1.0
    x[0, COL["occ_match"]] = 4.0
    x[0, COL["capacity"]] = 1.0  # semi
    x[0, COL["channel_employment_factory"]] = 1.0
    x[0, COL["flow_log"]] = 2.0  # another province (same_province 0)
    x[1, :] = MISSING
    x[2, COL["same_province"]] = 1.0
    x[2, COL["flow_log"]] = 2.0
    x[2, COL["mandarin"]] = 1.0
    x[2, COL["capacity"]] = 2.0  # full
    x[2, COL["channel_employment_factory"]] = 1.0
    u = apply_alone_covariates(x)
    assert u.shape == (3, len(APPLY_ALONE_COVARIATES)) and np.isfinite(u).all()
    first = dict(zip(APPLY_ALONE_COVARIATES, u[0], strict=True))
    assert first["far_meals"] == 1.0 and first["far_no_mandarin"] == 1.0
    assert first["occ_exact"] == 1.0 and first["occ_minor_group"] == 0.0
    assert first["home_channel_fit"] == 1.0 and first["cross_flow_log"] == 2.0
    missing = dict(zip(APPLY_ALONE_COVARIATES, u[1], strict=True))
    assert missing["home_channel_fit"] == 0.0 and missing["far_no_mandarin"] == 0.0
    third = dict(zip(APPLY_ALONE_COVARIATES, u[2], strict=True))
    assert third["home_channel_fit"] == 0.0 and third["cross_flow_log"] == 0.0
    assert apply_alone_covariates(np.zeros((0, len(RANKER_COLUMNS)))).shape == (
        0,
        len(APPLY_ALONE_COVARIATES),
    )


def test_apply_stage_from_the_history_of_views_gets_the_known_probability_closer():
    """Booster rows: applications mixed with exposure (lightfm); slice: 300 views; the
    booster's window: 6,000 views. The map with covariates on the slice alone misses
    P(apply | shown) by more than the stage learnt from both (RMSE)."""
    rng = np.random.default_rng(30)
    n = 20_000
    x = _pairs(rng, n)
    seen = _expit(1.0 + 1.5 * x[:, COL["lightfm"]])
    applied = rng.random(n) < seen * _p_shown(x)
    feats, labels = booster_sample(rng, x, applied)
    shown = _pairs(rng, 300)
    y = (rng.random(len(shown)) < _p_shown(shown)).astype(float)
    window = _pairs(rng, 6000)
    window_y = (rng.random(len(window)) < _p_shown(window)).astype(float)
    test = _pairs(rng, 4000)
    truth = _p_shown(test)
    errors = {}
    for alone in (False, True):
        ranker = StablePlacementRanker(max_iter=40, cv=2).fit(feats, labels)
        ranker.calibrate(
            apply=(shown, y, np.ones(len(y))),
            apply_covariates=not alone,
            apply_alone=(window, window_y, np.ones(len(window))) if alone else None,
        )
        assert ranker.apply_alone_ is alone
        assert ("apply alone" in ranker.calibration_counts_) is alone
        if alone:
            assert isinstance(ranker.calibrators_["apply"], CovariateCalibrator)
            assert ranker.calibration_counts_["apply alone"]["rows"] == 6300
        apply = ranker.predict_stages(test)[:, STAGES.index("apply")]
        assert ((apply >= 0) & (apply <= 1)).all()
        errors[alone] = float(np.sqrt(np.mean((apply - truth) ** 2)))
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 50, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    assert errors[True] < 0.5 * errors[False]


def test_apply_alone_needs_both_outcomes_else_keeps_the_slice_map():
    rng = np.random.default_rng(31)
    x = _pairs(rng, 2000)
    labels = pd.DataFrame(
        {"applied": (rng.random(2000) < 0.3).astype(int), "hired": 0, "retained": np.nan}
    )
    labels.loc[:100, "hired"] = 1
    ranker = StablePlacementRanker(max_iter=10, cv=2).fit(
        pd.DataFrame(x, columns=RANKER_COLUMNS), labels
    )
    shown = _pairs(rng, 3)
    ranker.calibrate(
        apply=(shown, np.zeros(3), np.ones(3)),
        apply_alone=(shown, np.zeros(3), np.ones(3)),
    )
    assert not ranker.apply_alone_ and "apply" not in ranker.calibrators_


def test_recommender_apply_history_fits_scores_probabilities_and_recalibrates():
    from matcher.serving.recommender import Recommender
    from training.synth import build_market

    market = build_market(300, 12, weeks=20, seed=1)
    ds = Dataset.from_frames(
        **{k: market.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )
    model = Recommender(**{**fast_params(), "calibration_share": 0.5, "apply_map": "history"})
    model.fit(ds)
    ranker = model.ranker_
    counts = ranker.calibration_counts_
    assert ranker.apply_alone_
    # the booster window's views and the slice's
    assert counts["apply alone"]["rows"] > counts["apply"]["rows"] > 0
    ids = ds.workers["worker_id"].tolist()
    lists = model.recommend_many(ids, 5, reasons=False)
    assert len(lists) and ((lists["score"] >= 0) & (lists["score"] <= 1)).all()
    again = copy.deepcopy(model).recalibrate(ds)
    assert again.ranker_.calibration_counts_ == counts
    np.testing.assert_allclose(again.recommend_many(ids, 5, reasons=False)["score"], lists["score"])


@pytest.mark.parametrize("value", ["plain", "covariates", "history"])
def test_apply_map_choices_are_valid_config(value):
    from matcher.models.config import RecommenderConfig

    assert RecommenderConfig(apply_map=value).apply_map == value
