"""Training-speed changes that must not change results: the LightFM-alone and
content-alone baselines read off the fitted full model recommend exactly what a
separate fit of each recommends, and the lexical encoder's de-duplicated fit and
memoised transform give exactly TfidfVectorizer's rows."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from matcher.data.dataset import Dataset
from matcher.serving.recommender import Recommender
from matcher.text.encoders import HashingEmbedder, LexicalEncoder
from training.evaluate import Ablation, compare, default_models
from training.split import time_split

SMALL = dict(
    epochs=3, no_components=8, max_iter=30, n_clusters=4, n_candidates=30, ranker_max_workers=200
)


@pytest.fixture(scope="module")
def split():
    from training.synth import generate_market

    market = Dataset.from_frames(**generate_market(250, 18, weeks=9, seed=3))
    return time_split(market, test_weeks=3)


@pytest.fixture(scope="module")
def both(split):
    """The same models measured twice: ablations read off the candidate, and fitted."""
    embedder = HashingEmbedder(dim=64)
    include = ("lightfm", "content", "full")
    kw = dict(random_state=5, embedder=embedder, candidate_params=SMALL, include=include)
    derived = default_models(**kw)
    fitted = default_models(**kw, derive_ablations=False)
    assert isinstance(derived["lightfm"], Ablation) and isinstance(derived["content"], Ablation)
    assert isinstance(fitted["lightfm"], Recommender)
    return (
        compare(derived, split, progress=False),
        compare(fitted, split, progress=False),
    )


@pytest.mark.parametrize("name", ["lightfm", "content"])
def test_ablation_read_off_the_full_model_recommends_what_its_own_fit_does(both, name):
    derived, fitted = both
    cols = ["worker_id", "vacancy_id", "rank"]
    a = derived.runs[name].recommendations
    b = fitted.runs[name].recommendations
    assert len(a) > 0
    pd.testing.assert_frame_equal(a[cols], b[cols])
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-6, atol=1e-6)
    assert derived.runs[name].derived_from == "full" and fitted.runs[name].derived_from is None
    assert derived.value(name) == pytest.approx(fitted.value(name), abs=1e-12)


def test_results_keep_the_order_given_and_the_candidate_is_unchanged(both):
    derived, fitted = both
    assert list(derived.runs) == ["lightfm", "content", "full"]
    assert list(dict.fromkeys(derived.metrics["model"])) == ["lightfm", "content", "full"]
    pd.testing.assert_frame_equal(
        derived.runs["full"].recommendations, fitted.runs["full"].recommendations
    )


def test_ablations_differ_from_each_other_and_from_the_full_model(both):
    derived, _ = both
    recs = {n: r.recommendations for n, r in derived.runs.items()}
    key = ["worker_id", "vacancy_id", "rank"]
    assert not recs["lightfm"][key].equals(recs["content"][key])
    assert not recs["lightfm"][key].equals(recs["full"][key])


def test_ablation_without_its_source_is_refused(split):
    with pytest.raises(ValueError, match="ablation of 'full'"):
        compare({"lightfm": Ablation("lightfm")}, split, progress=False)


def test_ablation_needs_a_fitted_full_model():
    with pytest.raises(ValueError, match="read off a full model"):
        Recommender(stages="content").ablation("lightfm")
    with pytest.raises(ValueError, match="'lightfm' or 'content'"):
        Recommender().ablation("full")


def test_fit_and_refresh_is_fit_then_refresh(split):
    a = Recommender(random_state=5, embedder=HashingEmbedder(dim=64), **SMALL)
    b = Recommender(random_state=5, embedder=HashingEmbedder(dim=64), **SMALL)
    a.fit(split.train).refresh(split.serving, at=split.cutoff)
    b.fit_and_refresh(split.train, split.serving, at=split.cutoff)
    workers = list(split.test_workers)
    assert b.catalogue_.at == a.catalogue_.at == split.cutoff
    pd.testing.assert_frame_equal(a.recommend_many(workers), b.recommend_many(workers))


TEXTS = [
    "焊工 电焊",
    "普工",
    "焊工 电焊",
    "厨师 帮厨",
    "",
    "普工",
    "保安 夜班 焊工",
    "焊工",
    "Ｆｕｌｌ  ｗｉｄｔｈ\tTEXT 焊工",  # full-width, tab, upper case
    "İstanbul ǅ ﬁ a\u3000b；电焊",  # case folding, ligature, ideographic space
]


def _reference(texts):
    return LexicalEncoder()._vectorizer().fit(texts)


def test_lexical_fit_over_distinct_texts_keeps_vocabulary_and_idf():
    enc = LexicalEncoder().fit(TEXTS)
    ref = _reference(TEXTS)
    assert enc.vectorizer_.vocabulary_ == ref.vocabulary_
    np.testing.assert_array_equal(enc.vectorizer_.idf_, ref.idf_)


def test_lexical_transform_is_exact_memoised_or_not():
    enc = LexicalEncoder().fit(TEXTS)
    ref = _reference(TEXTS)
    queries = ["普工", "新的 文字 焊", "焊工 电焊", "普工", ""]
    want = sp.csr_matrix(ref.transform(queries))
    for _ in range(2):  # the second call is served from the memo
        got = enc.transform(queries)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert (got != want).nnz == 0
    assert enc.transform([]).shape == (0, enc.vocabulary_size_)


def test_lexical_memo_is_bounded_and_never_pickled(monkeypatch):
    import matcher.text.encoders as text

    enc = LexicalEncoder().fit(TEXTS)
    ref = _reference(TEXTS)
    monkeypatch.setattr(text, "LEXICAL_MEMO_SIZE", len(set(TEXTS)) + 2)
    queries = ["a1", "a2", "普工", "a3", "a4", "厨师 帮厨"]
    assert (enc.transform(queries) != sp.csr_matrix(ref.transform(queries))).nnz == 0
    assert len(enc._memo.index) <= len(queries)
    clone = pickle.loads(pickle.dumps(enc))
    assert "_memo" not in clone.__dict__
    assert (clone.transform(queries) != sp.csr_matrix(ref.transform(queries))).nnz == 0


def test_lexical_pruning_options_fall_back_to_a_plain_fit():
    enc = LexicalEncoder(min_df=2).fit(TEXTS)
    ref = LexicalEncoder(min_df=2)._vectorizer().fit(TEXTS)
    assert enc.vectorizer_.vocabulary_ == ref.vocabulary_
    np.testing.assert_array_equal(enc.vectorizer_.idf_, ref.idf_)
