"""One scorer behind every path: for the same worker, the live request, the
micro-batch (``recommend_many``), the precomputed lists and the nightly batch scorer
give the same vacancies in the same order with the same scores, and each score is
``model.scorer``'s for that pair.

Every path is made exhaustive here (``n_candidates`` and the batch shortlist cover
every open vacancy), so that they differ only in how they execute, not in which
candidates they consider; how far each path's candidate set falls short of the
exhaustive one at scale is the benchmarks' business.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_markets import fast_params

from matcher.data.dataset import Dataset
from matcher.serving.batch import BatchScorer
from matcher.serving.precomputed import PrecomputedRecommendations
from matcher.serving.recommender import Recommender
from service.nightly import active_workers, pairs_not_proposed
from training.synth import generate_market

K = 8
COLS = ["worker_id", "vacancy_id", "rank"]


@pytest.fixture(scope="module", params=["none", "worker"])
def paths(request):
    """Every path's answers, with and without the worker's leaving record in the stay
    hazard (``stay_record``: a pair column that every path must compute alike)."""
    market = Dataset.from_frames(**generate_market(240, 20, weeks=8, seed=11))
    model = Recommender(**fast_params(), stay_record=request.param).fit(market)
    model.n_candidates = len(model.catalogue_.open_pos)  # every path ranks every eligible
    workers = active_workers(market)
    ids = workers["worker_id"].tolist()
    live = pd.concat([model.recommend(w, K) for w in ids], ignore_index=True)
    micro = model.recommend_many(ids, K)
    lists = PrecomputedRecommendations.build(model, depth=K, block=64).bind(model)
    assert lists is not None
    pre = pd.concat([lists.answer(w, K) for w in ids], ignore_index=True)
    nightly = BatchScorer(model, shortlist=model.n_candidates).score(
        workers, pairs_not_proposed(market), k=K
    )
    return model, live, {"micro-batch": micro, "precomputed": pre, "nightly batch": nightly}


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Worker, vacancy and rank of each row in plain types (paths build their frames
    differently: string or object ids)."""
    out = frame[COLS].reset_index(drop=True)
    return out.astype({"worker_id": object, "vacancy_id": object, "rank": "int64"})


def test_the_paths_answer_enough_to_compare(paths):
    _, live, _ = paths
    assert live["worker_id"].nunique() > 50
    assert (live.groupby("worker_id").size() == K).mean() > 0.5


@pytest.mark.parametrize("path", ["micro-batch", "precomputed", "nightly batch"])
def test_every_path_gives_the_live_answer(paths, path):
    _, live, others = paths
    got = others[path]
    pd.testing.assert_frame_equal(_ranked(got), _ranked(live))
    np.testing.assert_allclose(got["score"].astype(float), live["score"].astype(float), rtol=1e-9)


def test_each_score_is_the_public_scorers(paths):
    model, live, _ = paths
    cat = model.catalogue_
    wi = cat.wp.ids.get_indexer(pd.Index(live["worker_id"]))
    vi = cat.vp.ids.get_indexer(pd.Index(live["vacancy_id"]))
    scorer = model.scorer
    want = scorer.score(scorer.pair_frame(cat, wi.astype(np.int64), vi.astype(np.int64)))
    np.testing.assert_allclose(live["score"].astype(float), want, rtol=1e-9)


def test_each_score_is_the_looking_score_times_the_workers_availability(paths):
    """The served score is P(stable | proposed, looking) x the worker's P(looking for
    work) (matcher.models.availability); the compared workers include some whose factor is
    below 1 (left a job a short while ago, or in a job flagged by arrears or an
    injury), so every path above applies it the same way."""
    model, live, _ = paths
    cat = model.catalogue_
    wi = cat.wp.ids.get_indexer(pd.Index(live["worker_id"])).astype(np.int64)
    vi = cat.vp.ids.get_indexer(pd.Index(live["vacancy_id"])).astype(np.int64)
    scorer = model.scorer
    feats = scorer.pair_frame(cat, wi, vi)
    factor = model.worker_availability(pd.Index(live["worker_id"]))
    assert (factor < 1).any() and ((factor >= 0) & (factor <= 1)).all()
    np.testing.assert_allclose(feats["available"].to_numpy(), factor)
    np.testing.assert_allclose(
        live["score"].astype(float), scorer.looking_score(feats) * factor, rtol=1e-9
    )
