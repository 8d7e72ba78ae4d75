"""Deferred pair columns (``matcher.models.ranking.DeferredColumns``): the ranker's cascade
computes the lexical similarity only for the pairs it scores or must bound tighter, and
gives the same top k, order, scores and kept rows as with every column computed first."""

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

from matcher.models import scoring  # noqa: E402
from matcher.models.features import PAIR_COLUMNS, RANKER_COLUMNS  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    APPLY_ALONE_COVARIATES,
    DEFERRABLE_COLUMNS,
    HIRE_ALONE_COVARIATES,
    HIRE_ALONE_ENTRY_COVARIATES,
    MISSING,
    DeferredColumns,
    StablePlacementRanker,
    apply_alone_covariates,
    apply_entry_covariates,
    hire_alone_covariates,
    hire_covariates,
    stage_covariates,
    stay_covariate_matrix,
)
from matcher.models.scoring import RANK_DEFERRED, PairScorer  # noqa: E402
from matcher.serving.recommender import Recommender  # noqa: E402

COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def _inputs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(RANKER_COLUMNS)))
    x[rng.random(x.shape) < 0.05] = MISSING
    return x


def test_deferrable_columns_reach_the_maps_only_as_plain_alone_covariates():
    """The contract DEFERRABLE_COLUMNS states: changing one of them changes no bound's
    covariates and, in a map without a booster, only its own plain covariate."""
    x = _inputs(300, 1)
    for name in DEFERRABLE_COLUMNS:
        moved = x.copy()
        moved[:, COL[name]] = np.random.default_rng(2).random(len(x))
        for peers in (False, True):
            for record in ("none", "worker", "exposure"):
                np.testing.assert_array_equal(
                    stay_covariate_matrix(x, record, peers),
                    stay_covariate_matrix(moved, record, peers),
                )
            np.testing.assert_array_equal(
                stage_covariates(x, peers), stage_covariates(moved, peers)
            )
        np.testing.assert_array_equal(apply_entry_covariates(x), apply_entry_covariates(moved))
        np.testing.assert_array_equal(hire_covariates(x), hire_covariates(moved))
        alone = [
            (hire_alone_covariates(x), hire_alone_covariates(moved), HIRE_ALONE_COVARIATES),
            (
                hire_alone_covariates(x, terms="entry", peers=True),
                hire_alone_covariates(moved, terms="entry", peers=True),
                HIRE_ALONE_ENTRY_COVARIATES,
            ),
            (apply_alone_covariates(x), apply_alone_covariates(moved), APPLY_ALONE_COVARIATES),
        ]
        for before, after, names in alone:
            j = names.index(name)
            others = [i for i in range(len(names)) if i != j]
            np.testing.assert_array_equal(before[:, others], after[:, others])
            np.testing.assert_array_equal(after[:, j], moved[:, COL[name]])


@pytest.fixture(autouse=True)
def always_defer(monkeypatch):
    """The toy market's few candidates per worker: defer whatever their number."""
    monkeypatch.setattr(scoring, "DEFER_PAIRS_PER_GROUP", 0)


@pytest.fixture(scope="module", params=["hire-alone", "apply-alone"])
def model(request):
    ds = random_market(33, n_workers=80, n_vacancies=60, n_events=900)
    params = fast_params()
    if request.param == "apply-alone":
        params["apply_map"] = "history"
    fitted = Recommender(**params).fit(ds)
    assert fitted.ranker_ is not None and fitted.ranker_.defers(RANK_DEFERRED)
    return ds, fitted


@pytest.mark.parametrize("seed", range(4))
def test_predict_top_with_deferred_columns_equals_every_column_first(model, seed):
    _, fitted = model
    ranker: StablePlacementRanker = fitted.ranker_
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 900))
    x = _inputs(n, 10 + seed)
    x[:, COL["lexical"]] = np.where(rng.random(n) < 0.05, np.nan, rng.random(n) * 0.6)
    x[:, COL["dense"]] = rng.random(n) * 0.8 - 0.1
    names = ("lexical", "dense") if seed % 2 else ("dense", "lexical")
    cols = [COL[name] for name in names]
    groups = rng.integers(0, int(rng.integers(1, 12)), n) * 5
    k = int(rng.integers(1, 15))
    weight = rng.random(n)
    want, want_exact = ranker.predict_top(x, groups, k, weight=weight)
    asked: list[np.ndarray] = []

    def fill(rows: np.ndarray) -> np.ndarray:
        asked.append(rows)
        return x[rows[:, None], cols]

    hidden = x.copy()
    hidden[:, cols] = np.inf  # ignored: the ranker reads what fill gives
    got, got_exact = ranker.predict_top(
        hidden, groups, k, weight=weight, deferred=DeferredColumns(names, fill)
    )
    plain = ranker.predict_proba(np.where(np.isfinite(x), x, MISSING)) * weight
    np.testing.assert_array_equal(want[want_exact], plain[want_exact])
    # (round 1 may pick other pairs, by the looser bound: which pairs end up exact may
    # differ, not their scores nor the top k)
    np.testing.assert_array_equal(got[got_exact], plain[got_exact])
    asked_rows = np.concatenate(asked) if asked else np.zeros(0, dtype=int)
    assert len(np.unique(asked_rows)) == len(asked_rows), "a row filled twice"
    assert got_exact[asked_rows].sum() == got_exact.sum(), "an exact row never filled"
    # a row left out is bounded from above, strictly below its group's k-th score
    out = ~got_exact
    assert (got[out] >= plain[out]).all()
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        kth = np.sort(plain[rows])[::-1][min(k, len(rows)) - 1]
        assert got_exact[rows[plain[rows] >= kth]].all()
        assert (got[rows[out[rows]]] < kth).all()
        top = rows[np.lexsort((rows, -got[rows]))[:k]]
        np.testing.assert_array_equal(top, rows[np.lexsort((rows, -want[rows]))[:k]])
        np.testing.assert_array_equal(got[top], want[top])


def _pairs_computed(monkeypatch, method: str) -> list[int]:
    """The number of pairs of each call of ``PairScorer.<method>`` from now on."""
    calls: list[int] = []
    original = getattr(PairScorer, method)

    def counted(self, sides, wi, vi):
        calls.append(len(wi))
        return original(self, sides, wi, vi)

    monkeypatch.setattr(PairScorer, method, counted)
    return calls


def test_recommendations_equal_those_with_every_column_first(model, monkeypatch):
    """recommend_many (with reasons), recommend and candidates: the same frames, bit for
    bit, as the ranking that computes the text similarities of every candidate first."""
    ds, fitted = model
    workers = list(ds.workers["worker_id"][:40])
    vacancies = list(ds.vacancies["vacancy_id"][:10])
    calls = _pairs_computed(monkeypatch, "lexical_values")
    got = fitted.recommend_many(workers, 5)
    got_one = fitted.recommend(workers[0], k=3, reasons=False)
    got_cand = [fitted.candidates(v, k=4) for v in vacancies]
    deferred_pairs = sum(calls)
    calls.clear()
    monkeypatch.setattr(StablePlacementRanker, "defers", lambda self, names: False)
    pd.testing.assert_frame_equal(got, fitted.recommend_many(workers, 5), check_exact=True)
    pd.testing.assert_frame_equal(
        got_one, fitted.recommend(workers[0], k=3, reasons=False), check_exact=True
    )
    for v, frame in zip(vacancies, got_cand, strict=True):
        pd.testing.assert_frame_equal(frame, fitted.candidates(v, k=4), check_exact=True)
    assert deferred_pairs < sum(calls), "the deferred ranking computed every pair's similarity"


def test_rank_top_defers_only_long_candidate_lists(model, monkeypatch):
    """With fewer pairs per group than DEFER_PAIRS_PER_GROUP every pair's similarities
    come first, with more they are deferred: the same ranked pairs either way."""
    _, fitted = model
    cat = fitted.catalogue_
    wi = np.repeat(np.arange(4), len(cat.open_pos))
    vi = np.tile(cat.open_pos, 4)
    calls = _pairs_computed(monkeypatch, "similarity_values")
    deferred = fitted.scorer.rank_top(cat, wi, vi, 3)
    assert calls and sum(calls) < len(wi)
    calls.clear()
    monkeypatch.setattr(scoring, "DEFER_PAIRS_PER_GROUP", len(cat.open_pos) + 1)
    every = fitted.scorer.rank_top(cat, wi, vi, 3)
    assert calls == []  # pair_values computed them for every pair, not similarity_values
    for field in ("keep", "rank", "score", "values"):
        np.testing.assert_array_equal(getattr(deferred, field), getattr(every, field))


def test_rank_top_keeps_complete_rows(model):
    """The kept rows' values (the reasons read them) hold the text similarities, as
    pair_values computes them for every pair."""
    _, fitted = model
    cat = fitted.catalogue_
    wi = np.repeat(np.arange(5), len(cat.open_pos))
    vi = np.tile(cat.open_pos, 5)
    for by in ("worker", "vacancy"):
        ranked = fitted.scorer.rank_top(cat, wi, vi, 4, by=by)
        every, _ = fitted.scorer.pair_values(cat, wi, vi)
        cols = [PAIR_COLUMNS.index(name) for name in RANK_DEFERRED]
        np.testing.assert_array_equal(ranked.values[:, cols], every[ranked.keep][:, cols])
        np.testing.assert_array_equal(ranked.values, every[ranked.keep])
