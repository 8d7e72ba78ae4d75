"""The ranker's request-time path: the one-thread tree sum equals sklearn's
decision_function, and the cascade (later stages only for pairs that can reach a
group's top k) keeps exactly the top k and the scores of the plain product."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params, random_market  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: E402

from matcher.models.calibration import Spells  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    ONE_THREAD_ROWS,
    STAGES,
    Proposals,
    StablePlacementRanker,
    ranker_input,
    raw_tree_output,
    tree_sum,
)
from matcher.models.scoring import PairScorer  # noqa: E402
from matcher.serving.recommender import Recommender  # noqa: E402


def _pairs(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(RANKER_COLUMNS)))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the MISSING branch
    return pd.DataFrame(x, columns=RANKER_COLUMNS)


def _labels(feats: pd.DataFrame, seed: int, stay: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.nan_to_num(feats.to_numpy())
    applied = (rng.random(len(x)) < 1 / (1 + np.exp(-(x[:, 0] + x[:, 1] - 0.5)))).astype(int)
    hired = applied * (rng.random(len(x)) < 1 / (1 + np.exp(-x[:, 2]))).astype(int)
    retained = np.where(hired == 1, (rng.random(len(x)) < 0.6).astype(float), np.nan)
    if not stay:  # too few known fates: the stay stage is a constant rate
        retained[np.flatnonzero(hired == 1)[5:]] = np.nan
    return pd.DataFrame({"applied": applied, "hired": hired, "retained": retained})


def _stays(feats: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, Spells]:
    """Hires with exponential tenures (rate rising with feature 4, distance_km), censored at 12 weeks."""
    rng = np.random.default_rng(seed)
    rate = 0.05 * np.exp(np.clip(np.nan_to_num(feats.to_numpy()[:, 4]), -3, 3))
    tenure = rng.exponential(1.0, len(feats)) / rate
    entry = np.where(rng.random(len(feats)) < 0.3, rng.uniform(0, 4, len(feats)), 0.0)
    keep = tenure > entry
    exit_ = np.minimum(tenure, 12.0)[keep]
    spells = Spells(
        entry[keep], np.maximum(exit_, entry[keep]), (tenure < 12.0)[keep].astype(float)
    )
    return feats[keep].reset_index(drop=True), spells


@pytest.fixture(
    scope="module",
    params=["three-learned", "constant-stay", "hazard-calibrated"],
)
def ranker(request) -> StablePlacementRanker:
    feats = _pairs(3000, 1)
    if request.param != "hazard-calibrated":
        labels = _labels(feats, 2, request.param == "three-learned")
        return StablePlacementRanker(max_iter=15, cv=2).fit(feats, labels)
    later = _pairs(1500, 11)
    labels = _labels(later, 12)
    applied = labels["applied"] == 1
    return (
        StablePlacementRanker(max_iter=15, cv=2)
        .fit(feats, _labels(feats, 2), stays=_stays(_pairs(800, 6), 7))
        .calibrate(
            apply=(later, labels["applied"].to_numpy(), np.ones(len(later))),
            hire=(later[applied], labels["hired"][applied].to_numpy()),
            stay=_stays(_pairs(800, 13), 14),
            # and the product mapped on the proposals' outcomes (a monotone joint map)
            joint=Proposals(
                later,
                labels["hired"].to_numpy(dtype=float),
                np.full(len(later), 3.0),
                np.zeros(len(later)),
                np.ones(len(later)),
            ),
        )
    )


def test_one_thread_tree_sum_equals_decision_function(ranker):
    x = ranker.booster_input(ranker_input(_pairs(500, 3)))  # the columns the boosters read
    learned = [s for s in STAGES if not isinstance(ranker.stages_[s], float)]
    assert len(learned) >= 2
    for name in learned:
        model = ranker.stages_[name]
        booster = (
            model
            if isinstance(model, HistGradientBoostingRegressor)  # a hazard stay stage
            else model.calibrated_classifiers_[0].estimator
        )
        np.testing.assert_array_equal(tree_sum(booster, x), raw_tree_output(booster, x))
        big = ranker.booster_input(
            ranker_input(_pairs(ONE_THREAD_ROWS + 1, 5))
        )  # a batch: threaded
        np.testing.assert_array_equal(tree_sum(booster, big), raw_tree_output(booster, big))


def test_array_input_equals_frame_input(ranker):
    feats = _pairs(200, 4)
    np.testing.assert_array_equal(
        ranker.predict_proba(feats.to_numpy()), ranker.predict_proba(feats)
    )
    with pytest.raises(ValueError, match="RANKER_COLUMNS"):
        ranker.predict_proba(feats.to_numpy()[:, :3])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_cascade_top_k_equals_plain_top_k(ranker, seed, weighted):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 900))
    feats = _pairs(n, 100 + seed)
    groups = rng.integers(0, int(rng.integers(1, 12)), n) * 7  # sparse, unsorted labels
    k = int(rng.integers(1, 25))
    # weighted: each pair's worker's P(looking for work), some exactly 0
    weight = np.where(rng.random(n) < 0.1, 0.0, rng.random(n)) if weighted else None
    plain = ranker.predict_proba(feats) * (1.0 if weight is None else weight)
    score, exact = ranker.predict_top(feats, groups, k, weight=weight)
    np.testing.assert_array_equal(score[exact], plain[exact])
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        best = np.sort(plain[rows])[::-1]
        kth = best[min(k, len(rows)) - 1]
        # every pair at or above the k-th best score of its group is exact ...
        assert exact[rows[plain[rows] >= kth]].all()
        # ... and a pair left out is bounded strictly below it, from above its score
        out = rows[~exact[rows]]
        assert (score[out] < kth).all() and (score[out] >= plain[out]).all()
        # so the top k by (score, then position) is the plain one, with its scores
        top = rows[np.lexsort((rows, -score[rows]))[:k]]
        want = rows[np.lexsort((rows, -plain[rows]))[:k]]
        np.testing.assert_array_equal(top, want)
        np.testing.assert_array_equal(score[top], plain[want])


def test_cascade_prunes_and_handles_edges(ranker):
    feats = _pairs(600, 9)
    _, exact = ranker.predict_top(feats, np.zeros(600, dtype=int), 5)
    assert exact.sum() < 600, "one group, k=5: most pairs cannot reach the top 5"
    score, exact = ranker.predict_top(feats.iloc[:0], np.zeros(0, dtype=int), 5)
    assert score.shape == (0,) and exact.shape == (0,)
    with pytest.raises(ValueError, match="groups"):
        ranker.predict_top(feats, np.zeros(3, dtype=int), 5)
    with pytest.raises(ValueError, match="non-negative"):
        ranker.predict_top(feats, np.zeros(600, dtype=int), 5, weight=-np.ones(600))


@pytest.fixture(scope="module")
def market_model():
    ds = random_market(33, n_workers=80, n_vacancies=60, n_events=900)
    model = Recommender(**fast_params()).fit(ds)
    assert model.ranker_ is not None
    return ds, model


def test_recommend_many_keeps_the_order_given(market_model):
    ds, model = market_model
    workers = list(np.random.default_rng(0).permutation(ds.workers["worker_id"].to_numpy())[:30])
    workers.append(workers[3])  # a repeated id keeps its first place
    got = model.recommend_many(workers, 4, reasons=False)
    one_by_one = pd.concat(
        [model.recommend(w, k=4, reasons=False) for w in dict.fromkeys(workers)],
        ignore_index=True,
    )
    # (an empty frame in the concatenation makes its id columns object dtype)
    pd.testing.assert_frame_equal(got, one_by_one, check_exact=True, check_dtype=False)


def test_recommendations_equal_the_uncascaded_ranking(market_model, monkeypatch):
    ds, model = market_model
    workers = list(ds.workers["worker_id"][:40])
    vacancies = list(ds.vacancies["vacancy_id"][:10])
    got = model.recommend_many(workers, 5)
    got_one = model.recommend(workers[0], k=3)
    got_cand = [model.candidates(v, k=4) for v in vacancies]

    def plain(self, values, group, k, deferred=None):
        if deferred is not None:  # every pair's deferred columns first (they write values)
            deferred.fill(np.arange(len(values)))
        x = values[:, : len(RANKER_COLUMNS)]
        return self.score(pd.DataFrame(x, columns=RANKER_COLUMNS))

    monkeypatch.setattr(PairScorer, "score_top", plain)
    pd.testing.assert_frame_equal(got, model.recommend_many(workers, 5), check_exact=True)
    pd.testing.assert_frame_equal(got_one, model.recommend(workers[0], k=3), check_exact=True)
    for v, frame in zip(vacancies, got_cand, strict=True):
        pd.testing.assert_frame_equal(frame, model.candidates(v, k=4), check_exact=True)
