"""The batch scoring path of the nightly run (matcher.serving.batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from matcher.eligibility.rules import exclusions
from matcher.models.encoding import hashing_vectors, lexical_vectors
from matcher.models.features import vacancy_texts, worker_texts
from matcher.serving.batch import BatchScorer, explain_pairs
from service.nightly import active_workers, pairs_not_proposed, snapshot_time


@pytest.fixture
def served(frames, model):
    """The model refreshed on the whole test market, and that market."""
    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    model.refresh(ds, at=snapshot_time(ds))
    return model, ds


def test_text_vectors_word_by_word_equal_the_encoders(frames, model):
    texts = worker_texts(frames["workers"]) + vacancy_texts(frames["vacancies"])
    texts += ["", "  焊工  电焊 ", "Ｗｅｌｄｅｒ 焊工"]
    np.testing.assert_allclose(
        hashing_vectors(model.embedder_, texts), model.embedder_.encode(texts), atol=1e-6
    )
    got = lexical_vectors(model.lexical_, texts)
    # sklearn's own transform: LexicalEncoder.transform serves the fitted texts from
    # rows its fit computed word by word too, so it would not catch a shared mistake
    want = model.lexical_.vectorizer_.transform(texts)
    assert abs(got - want).max() < 1e-6


def test_every_pair_is_eligible_not_pursued_and_ranked(served):
    model, ds = served
    workers = active_workers(ds)
    pursued = pairs_not_proposed(ds)
    out = BatchScorer(model, shortlist=8).score(workers, pursued, k=5)
    assert len(out) > 0
    assert list(out.columns) == ["worker_id", "vacancy_id", "rank", "score"]
    # grouped by worker in the order given, ranks 1..n, scores descending, at most k
    order = {w: i for i, w in enumerate(workers["worker_id"])}
    assert out["worker_id"].map(order).is_monotonic_increasing
    for _, g in out.groupby("worker_id"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert len(g) <= 5
        assert (np.diff(g["score"].to_numpy()) <= 1e-12).all()
    w = ds.workers.set_index("worker_id")
    v = ds.vacancies.set_index("vacancy_id")
    at = model.catalogue_.at
    for wid, vid in zip(out["worker_id"], out["vacancy_id"], strict=True):
        assert exclusions(w.loc[wid], v.loc[vid], at=at) == [], (wid, vid)
    seen = set(zip(pursued["worker_id"], pursued["vacancy_id"], strict=True))
    assert not seen & set(zip(out["worker_id"], out["vacancy_id"], strict=True))
    open_ids = set(ds.open_vacancies(at)["vacancy_id"])
    assert set(out["vacancy_id"]) <= open_ids


def test_equals_recommend_many_when_the_shortlist_covers_everything(served):
    model, ds = served
    workers = active_workers(ds)
    n_open = len(model.catalogue_.open_pos)
    saved = model.n_candidates
    model.n_candidates = n_open  # the exact path ranks every eligible vacancy too
    try:
        want = model.recommend_many(workers["worker_id"].tolist(), 7, reasons=False)
    finally:
        model.n_candidates = saved
    got = BatchScorer(model, shortlist=n_open).score(workers, pairs_not_proposed(ds), k=7)
    cols = ["worker_id", "vacancy_id", "rank"]
    pd.testing.assert_frame_equal(
        got[cols].reset_index(drop=True), want[cols].reset_index(drop=True)
    )
    np.testing.assert_allclose(got["score"], want["score"].astype(float), rtol=1e-9)


def test_workers_outside_the_catalogue_are_scored_and_explained(frames, model, served):
    model, ds = served
    workers = active_workers(ds)
    # serve tonight's vacancies only: the scorer encodes the workers itself
    vac_only = Dataset(ds.workers.iloc[:0], ds.employers, ds.vacancies, ds.events)
    want = model.recommend_many(workers["worker_id"].tolist()[:20], 3)
    model.refresh(vac_only, at=snapshot_time(ds))
    scorer = BatchScorer(model, shortlist=len(model.catalogue_.open_pos))
    got = scorer.score(workers.iloc[:20], pairs_not_proposed(ds), k=3)
    assert len(got) > 0
    reasons = explain_pairs(model, workers, got[["worker_id", "vacancy_id"]])
    assert len(reasons) == len(got) and all(isinstance(r, list) for r in reasons)
    # the reasons are those recommend gives the same pair
    both = got.merge(want, on=["worker_id", "vacancy_id"], suffixes=("", "_exact"))
    assert len(both) > 0
    by_pair = dict(zip(zip(got["worker_id"], got["vacancy_id"], strict=True), reasons, strict=True))
    for row in both.itertuples():
        assert by_pair[(row.worker_id, row.vacancy_id)] == list(row.reasons)


def test_prepare_fits_weights_and_one_prior_per_county(served):
    model, ds = served
    workers = active_workers(ds)
    scorer = BatchScorer(model).prepare(workers)
    n_open = len(model.catalogue_.open_pos)
    assert scorer.prior_.shape == (workers["home_region"].nunique(), n_open)
    assert np.isfinite(scorer.prior_).all()
    assert set(scorer.weights_) == {"lightfm", "dense", "lexical", "wage_shortfall"}
    assert all(w >= 0 for w in scorer.weights_.values())


def test_ablation_models_are_refused(frames):
    from matcher.serving.recommender import Recommender
    from matcher.text.encoders import HashingEmbedder

    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    lfm = Recommender(stages="lightfm", embedder=HashingEmbedder(), epochs=1, n_clusters=2).fit(ds)
    with pytest.raises(ValueError, match="ablation"):
        BatchScorer(lfm)


def test_live_candidates_give_recommend_many_when_it_is_not_exhaustive(served, monkeypatch):
    """candidates="live": the batch path generates each worker's candidates with the
    model's CandidateGenerator and ranks them with PairScorer.rank_top, so it gives
    recommend_many's lists even when those rank only some eligible vacancies (two per
    channel here); it encodes the workers itself and takes their pursued pairs as given."""
    model, ds = served
    model.refresh(ds, at=snapshot_time(ds))  # an earlier test may have served vacancies only
    monkeypatch.setattr(model, "n_candidates", 2)
    workers = active_workers(ds)
    cat = model.catalogue_
    generator = model.candidate_generator
    rows = cat.wp.ids.get_indexer(pd.Index(workers["worker_id"]))
    unions = generator.for_workers(cat, rows)
    eligible = [int(generator.eligible(cat, int(w)).sum()) for w in rows]
    # the candidates leave out eligible vacancies: the shortlist has to be the same one
    assert sum(len(u) < e for u, e in zip(unions, eligible, strict=True)) >= 20
    want = model.recommend_many(workers["worker_id"].tolist(), 5, reasons=False)
    got = BatchScorer(model, candidates="live").score(workers, pairs_not_proposed(ds), k=5)
    cols = ["worker_id", "vacancy_id", "rank"]
    pd.testing.assert_frame_equal(
        got[cols].reset_index(drop=True).astype(object),
        want[cols].reset_index(drop=True).astype(object),
    )
    np.testing.assert_allclose(got["score"], want["score"].astype(float), rtol=1e-9)


def test_unknown_candidate_mode_is_refused(served):
    model, _ = served
    with pytest.raises(ValueError, match="candidates must be one of"):
        BatchScorer(model, candidates="exhaustive")


def test_workers_outside_the_catalogue_keep_their_availability(served):
    """The nightly run serves tonight's vacancies with no workers in the catalogue and
    encodes each partition's workers itself: each is scored with his own P(looking for
    work) from the snapshot's events (matcher.models.availability), as recommend_many
    scores him, not as someone who is looking for sure."""
    model, ds = served
    at = snapshot_time(ds)
    model.refresh(ds, at=at)
    workers = active_workers(ds)
    want = model.recommend_many(workers["worker_id"].tolist(), 5, reasons=False)
    factor = model.worker_availability(pd.Index(workers["worker_id"]))
    assert (factor < 1).sum() >= 3  # the market has workers who are not looking for sure
    model.refresh(Dataset(ds.workers.iloc[:0], ds.employers, ds.vacancies, ds.events), at=at)
    try:
        np.testing.assert_allclose(model.worker_availability(workers["worker_id"]), factor)
        got = BatchScorer(model, candidates="live").score(workers, pairs_not_proposed(ds), k=5)
    finally:
        model.refresh(ds, at=at)
    cols = ["worker_id", "vacancy_id", "rank"]
    pd.testing.assert_frame_equal(
        got[cols].reset_index(drop=True).astype(object),
        want[cols].reset_index(drop=True).astype(object),
    )
    np.testing.assert_allclose(got["score"], want["score"].astype(float), rtol=1e-9)


def test_fewer_live_candidates_rank_a_subset_with_the_same_scores(served, monkeypatch):
    """channel_candidates / proxy_candidates (opt-in): each worker's candidates are a
    subset of recommend_many's, scored by the same PairScorer, so every pair both lists
    hold has the same score; at least the model's numbers, the lists are the live mode's."""
    model, ds = served
    model.refresh(ds, at=snapshot_time(ds))
    monkeypatch.setattr(model, "n_candidates", 4)
    workers = active_workers(ds)
    pursued = pairs_not_proposed(ds)
    want = model.recommend_many(workers["worker_id"].tolist(), 5, reasons=False)
    live = BatchScorer(model, candidates="live")
    full = live.score(workers, pursued, k=5)
    wide = BatchScorer(model, candidates="live", channel_candidates=10**6).score(
        workers, pursued, k=5
    )
    pd.testing.assert_frame_equal(wide, full)
    narrow = BatchScorer(model, candidates="live", channel_candidates=1, proxy_candidates=1)
    got = narrow.score(workers, pursued, k=5)
    assert narrow.stats_["shortlisted"] < live.stats_["shortlisted"]
    assert len(got) > 0
    both = got.merge(want, on=["worker_id", "vacancy_id"], suffixes=("", "_exact"))
    assert 0 < len(both) < len(want)
    np.testing.assert_allclose(both["score"], both["score_exact"].astype(float), rtol=1e-9)
    with pytest.raises(ValueError, match="channel_candidates must be at least 1"):
        BatchScorer(model, candidates="live", channel_candidates=0)


def test_a_proxy_margin_that_cuts_nothing_gives_the_live_lists(served):
    """proxy_margin (opt-in; tests/engine/test_recall.py checks the cut): a margin wider
    than any score gap leaves the live mode's lists; a negative margin is refused."""
    model, ds = served
    model.refresh(ds, at=snapshot_time(ds))
    workers = active_workers(ds)
    pursued = pairs_not_proposed(ds)
    want = BatchScorer(model, candidates="live").score(workers, pursued, k=5)
    wide = BatchScorer(model, candidates="live", proxy_margin=1e9)
    pd.testing.assert_frame_equal(wide.score(workers, pursued, k=5), want)
    with pytest.raises(ValueError, match="proxy_margin must be at least 0"):
        BatchScorer(model, candidates="live", proxy_margin=-1.0)


@pytest.mark.parametrize(
    "option", [{"proxy_margin": 1.5}, {"proxy_candidates": 500}, {"channel_candidates": 10}]
)
def test_live_candidate_options_are_refused_in_the_shortlist_mode(served, option):
    """The shortlist mode chooses its pairs by its pre-score: a live-candidate option
    given with it would be ignored, so it is refused with what to do instead."""
    model, _ = served
    with pytest.raises(ValueError, match='pass candidates="live"'):
        BatchScorer(model, **option)
    BatchScorer(model, candidates="live", **option)  # accepted where it means something
