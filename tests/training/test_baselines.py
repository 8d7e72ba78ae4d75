"""Known answers for the popularity and keyword baselines on the toy market."""

from __future__ import annotations

import pytest
from toy_market import UNTIL

from matcher.evaluation.baselines import KeywordRecommender, PopularityRecommender
from matcher.models.base import CANDIDATE_COLUMNS, RECOMMENDATION_COLUMNS, NotFittedError
from training.split import time_split


@pytest.fixture
def train(toy):
    return time_split(toy, until=UNTIL, test_weeks=2).train


def ids(frame):
    return list(frame["vacancy_id"])


def test_popularity_known_answer(train):
    m = PopularityRecommender(filter="location").fit(train)
    # grades before the cutoff: v1 = hired(w1) 2 + applied(w6) 1 = 3; v3 = 1; v6 = 1; v2 = 0
    recs = m.recommend("w4", k=10)
    assert list(recs.columns) == RECOMMENDATION_COLUMNS
    assert ids(recs) == ["v1", "v3", "v6", "v2"]  # ties by posting date then id
    assert list(recs["score"]) == [3.0, 1.0, 1.0, 0.0]
    assert list(recs["rank"]) == [1, 2, 3, 4]
    # w1 was hired on v1 and w6 applied to v1 and v6: what a worker pursued is not shown
    assert ids(m.recommend("w1", k=10)) == ["v3", "v6", "v2"]
    assert ids(m.recommend("w6", k=10)) == ["v3", "v2"]
    # w2 is local (50 km around 丹寨): only v2 is near; w3 stays in Guizhou (v3, v2) and
    # already applied to v3
    assert ids(m.recommend("w2")) == ["v2"]
    assert ids(m.recommend("w3")) == ["v2"]
    # closed (v5) and not-yet-posted (v4) vacancies never appear
    every = m.recommend_many(list(train.workers["worker_id"]), k=10)
    assert not set(every["vacancy_id"]) & {"v4", "v5"}


def test_keyword_known_answer(train):
    m = KeywordRecommender(filter="location").fit(train)
    # the cold w4 is a welder: the welding vacancy comes first (w1, also a welder, was
    # already hired there, so it is not shown to w1 again)
    assert ids(m.recommend("w4", k=1)) == ["v1"]
    assert "v1" not in ids(m.recommend("w1", k=10))
    # w6 sews (no location limit): the garment factory first
    assert ids(m.recommend("w6", k=1)) == ["v2"]
    recs = m.recommend("w4", k=3)
    assert recs["score"].is_monotonic_decreasing
    assert "焊工" in recs["reasons"].iloc[0][0]


def test_candidates(train):
    m = KeywordRecommender(filter="location").fit(train)
    c = m.candidates("v1", k=3)
    assert list(c.columns) == CANDIDATE_COLUMNS
    # w2 (local, 丹寨) and w3 (Guizhou only) may not go to Shenzhen
    assert not set(c["worker_id"]) & {"w2", "w3"}
    assert c["worker_id"].iloc[0] in {"w1", "w4"}
    p = PopularityRecommender(filter="location").fit(train)
    # activity: w1 hired on v1 (2), w6 applied to v1 and v6 (1 + 1), w4 none; ties by id
    assert list(p.candidates("v1", k=3)["worker_id"]) == ["w1", "w6", "w4"]


def test_unknown_ids_and_unfitted(train):
    m = KeywordRecommender(filter="location")
    with pytest.raises(NotFittedError):
        m.recommend("w1")
    m.fit(train)
    with pytest.raises(KeyError, match="refit"):
        m.recommend("nobody")
    with pytest.raises(KeyError, match="refit"):
        m.candidates("nothing")


def test_save_load_round_trip(train, tmp_path):
    m = KeywordRecommender(filter="location").fit(train)
    m.save(tmp_path / "kw")
    back = KeywordRecommender.load(tmp_path / "kw")
    a = m.recommend_many(["w1", "w4", "w6"], k=5)
    b = back.recommend_many(["w1", "w4", "w6"], k=5)
    assert a.equals(b)
    (tmp_path / "kw" / "baseline.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="retrain"):
        KeywordRecommender.load(tmp_path / "kw")


def test_get_params_round_trip():
    m = KeywordRecommender(filter="location", ngram_range=(2, 3))
    assert KeywordRecommender(**m.get_params()).get_params() == m.get_params()
    p = PopularityRecommender(filter="location", window_days=14)
    assert p.get_params() == {"filter": "location", "window_days": 14}


@pytest.mark.parametrize("cls", [KeywordRecommender, PopularityRecommender])
def test_eligibility_filter_never_returns_an_ineligible_pair(train, cls):
    from matcher.eligibility.rules import EligibilityIndex

    m = cls(filter="eligibility").fit(train)
    assert m.filter_ == "eligibility"
    recs = m.recommend_many(list(train.workers["worker_id"]), k=10)
    index = EligibilityIndex().fit(train.vacancies, train.workers)
    ok = index.pair_mask(train.worker_pos(recs["worker_id"]), train.vacancy_pos(recs["vacancy_id"]))
    assert ok.all() and len(recs) > 0
    # eligibility includes the location rule: nothing more permissive than it
    loc = cls(filter="location").fit(train).recommend_many(list(train.workers["worker_id"]), 10)
    pairs = set(zip(recs["worker_id"], recs["vacancy_id"], strict=True))
    assert pairs <= set(zip(loc["worker_id"], loc["vacancy_id"], strict=True))


@pytest.mark.parametrize("cls", [KeywordRecommender, PopularityRecommender])
def test_refresh_serves_new_workers_without_relearning(toy, cls):
    s = time_split(toy, until=UNTIL, test_weeks=2)
    m = cls(filter="location").fit(s.train)
    with pytest.raises(KeyError):
        m.recommend("w5")
    before = m.recommend_many(["w1", "w6"], k=5)
    m.refresh(s.serving, at=s.cutoff)
    assert len(m.recommend("w5", k=3)) == 3  # w5 (any mobility) is served from content
    assert m.recommend_many(["w1", "w6"], k=5).equals(before)  # nothing learned changed
