"""Known answers for matcher.evaluation.metrics, worked by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.evaluation.metrics import (
    catalogue_coverage,
    compute_metrics,
    map_at_k,
    ndcg_at_k,
    outcome_grades,
    per_worker_metrics,
    precision_at_k,
    recall_at_k,
)


def recs(rows):
    return pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "rank"])


def truth(rows):
    return pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "grade"])


# worker a: top-3 = v1, v2, v3; held out v1 (retained 3), v3 (applied 1), v9 (hired 2)
# worker b: held out v5 (hired 2), no recommendations at all -> scores 0
# worker c: recommendations but nothing held out -> not evaluated
RECS = recs([("a", "v1", 1), ("a", "v2", 2), ("a", "v3", 3), ("c", "v4", 1)])
TRUTH = truth([("a", "v1", 3), ("a", "v3", 1), ("a", "v9", 2), ("b", "v5", 2)])


def test_precision_recall_known_answer():
    # a: 2 hits of 3 shown -> 2/3; b: 0 -> mean 1/3
    assert precision_at_k(RECS, TRUTH, k=3) == pytest.approx(1 / 3)
    # a: 2 of 3 relevant found -> 2/3; b: 0 of 1 -> mean 1/3
    assert recall_at_k(RECS, TRUTH, k=3) == pytest.approx(1 / 3)
    # with k=1 a has 1 hit of 1 shown; recall 1/3
    assert precision_at_k(RECS, TRUTH, k=1) == pytest.approx(0.5)
    assert recall_at_k(RECS, TRUTH, k=1) == pytest.approx((1 / 3) / 2)


def test_ndcg_graded_known_answer():
    # DCG(a) = 3/log2(2) + 1/log2(4) = 3.5
    # IDCG(a) = 3/log2(2) + 2/log2(3) + 1/log2(4)
    idcg = 3 + 2 / math.log2(3) + 0.5
    expected_a = 3.5 / idcg
    assert ndcg_at_k(RECS, TRUTH, k=3) == pytest.approx(expected_a / 2)
    # at k=2: DCG = 3, IDCG = 3 + 2/log2(3)
    assert ndcg_at_k(RECS, TRUTH, k=2) == pytest.approx((3 / (3 + 2 / math.log2(3))) / 2)


def test_map_denominator_is_min_k_relevant():
    # AP@3(a) = (P@1 * 1 + P@3 * 1) / min(3, 3) = (1 + 2/3) / 3
    assert map_at_k(RECS, TRUTH, k=3) == pytest.approx(((1 + 2 / 3) / 3) / 2)
    # AP@1(a) = 1 / min(1, 3) = 1: a perfect top-1 is perfect even with 3 relevant
    pw = per_worker_metrics(RECS, TRUTH, k=1)
    assert pw.loc["a", "ap"] == pytest.approx(1.0)
    assert pw.loc["b", "ap"] == 0.0
    assert list(pw.index) == ["a", "b"]


def test_min_grade_restricts_relevance():
    # only hires or better count: a has v1 (3), v9 (2); b has v5 (2)
    assert precision_at_k(RECS, TRUTH, k=3, min_grade=2) == pytest.approx((1 / 3) / 2)
    assert recall_at_k(RECS, TRUTH, k=3, min_grade=2) == pytest.approx((1 / 2) / 2)


def test_perfect_ranking_scores_one():
    t = truth([("a", "v1", 1), ("a", "v2", 3), ("a", "v3", 2)])
    r = recs([("a", "v2", 1), ("a", "v3", 2), ("a", "v1", 3)])
    assert ndcg_at_k(r, t, k=3) == pytest.approx(1.0)
    assert map_at_k(r, t, k=3) == pytest.approx(1.0)
    assert recall_at_k(r, t, k=3) == pytest.approx(1.0)
    # right items, wrong order: NDCG below 1, precision still 1
    r_bad = recs([("a", "v1", 1), ("a", "v3", 2), ("a", "v2", 3)])
    assert ndcg_at_k(r_bad, t, k=3) < 1.0
    assert precision_at_k(r_bad, t, k=3) == pytest.approx(1.0)


def test_coverage():
    cat = [f"v{i}" for i in range(1, 11)]
    # top-3 of a and c: v1 v2 v3 v4 -> 4/10; top-1: v1 v4 -> 2/10
    assert catalogue_coverage(RECS, cat, k=3) == pytest.approx(0.4)
    assert catalogue_coverage(RECS, cat, k=1) == pytest.approx(0.2)
    # ids outside the catalogue do not count
    assert catalogue_coverage(RECS, ["v1", "zz"], k=3) == pytest.approx(0.5)
    assert math.isnan(catalogue_coverage(RECS, [], k=3))


def test_duplicates_count_once_and_empty_truth_is_nan():
    r = recs([("a", "v1", 1), ("a", "v1", 2)])
    t = truth([("a", "v1", 1)])
    assert precision_at_k(r, t, k=2) == pytest.approx(0.5)
    assert math.isnan(ndcg_at_k(r, truth([]), k=2))


def test_outcome_grades_take_the_best_event():
    ev = pd.DataFrame(
        {
            "worker_id": ["a", "a", "a", "b", "b", "c"],
            "vacancy_id": ["v1", "v1", "v1", "v2", "v3", "v4"],
            "event": ["applied", "hired", "retained_3m", "viewed", "applied", "rejected"],
            "occurred_at": pd.Timestamp("2024-01-01"),
        }
    )
    g = outcome_grades(ev)
    assert g.values.tolist() == [["a", "v1", 3], ["b", "v3", 1]]
    assert len(outcome_grades(ev, min_grade=0)) == 4


def test_bad_input_names_the_missing_column():
    with pytest.raises(ValueError, match="rank"):
        ndcg_at_k(RECS.drop(columns="rank"), TRUTH)
    with pytest.raises(ValueError, match="positive"):
        ndcg_at_k(RECS, TRUTH, k=0)


def test_compute_metrics_keys():
    m = compute_metrics(RECS, TRUTH, ks=(1, 3), catalogue=[f"v{i}" for i in range(10)])
    assert m["n_workers"] == 2
    assert m["ndcg@3"] == pytest.approx(ndcg_at_k(RECS, TRUTH, 3))
    assert set(m) >= {"precision@1", "recall@3", "map@3", "coverage@1"}


def _brute_ndcg(r, t, k):
    out = []
    for w, tw in t.groupby("worker_id"):
        grade = dict(zip(tw.vacancy_id, tw.grade, strict=True))
        rw = r[(r.worker_id == w) & (r["rank"] <= k)].sort_values("rank")
        dcg = sum(
            grade.get(v, 0) / math.log2(rk + 1)
            for v, rk in zip(rw.vacancy_id, rw["rank"], strict=True)
        )
        ideal = sorted(grade.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        out.append(dcg / idcg)
    return float(np.mean(out))


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    k=st.integers(1, 6),
)
def test_vectorised_matches_brute_force(data, k):
    workers = ["w0", "w1", "w2"]
    vacs = [f"v{i}" for i in range(8)]
    rows = []
    for w in workers:
        chosen = data.draw(st.lists(st.sampled_from(vacs), unique=True, max_size=8))
        rows += [(w, v, i + 1) for i, v in enumerate(chosen)]
    t_rows = []
    for w in workers:
        held = data.draw(st.dictionaries(st.sampled_from(vacs), st.integers(1, 3), min_size=1))
        t_rows += [(w, v, g) for v, g in held.items()]
    r, t = recs(rows), truth(t_rows)
    ndcg = ndcg_at_k(r, t, k)
    assert ndcg == pytest.approx(_brute_ndcg(r, t, k))
    assert 0.0 <= ndcg <= 1.0 + 1e-12
    assert 0.0 <= map_at_k(r, t, k) <= 1.0 + 1e-12
