"""training.evaluate: segments, coverage, calibration and the summary table on the toy split."""

from __future__ import annotations

import pandas as pd
import pytest
from toy_market import UNTIL

from training.evaluate import (
    calibration,
    compare,
    default_models,
    evaluate_recommendations,
    per_channel,
    summary_table,
)
from training.split import time_split


@pytest.fixture
def split(toy):
    return time_split(toy, until=UNTIL, test_weeks=2)


def recs(rows):
    return pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "rank", "score"])


# test pairs: w2-v2 (2), w6-v3 (3) are warm; w4-v6 (1), w5-v6 (1) are cold
ORACLE = recs(
    [
        ("w2", "v2", 1, 0.9),
        ("w6", "v3", 1, 0.8),
        ("w4", "v1", 1, 0.7),
        ("w4", "v6", 2, 0.3),
        ("w5", "v6", 1, 0.2),
    ]
)


def value(frame, segment, metric, k=10):
    row = frame[(frame.segment == segment) & (frame.metric == metric) & (frame.k == k)]
    return float(row["value"].iloc[0])


def test_segments_and_coverage(split):
    m = evaluate_recommendations(ORACLE, split, ks=(1, 10), name="oracle")
    assert value(m, "warm", "ndcg") == pytest.approx(1.0)
    # w4 finds v6 at rank 2: NDCG = (1/log2 3) / 1; w5 perfect -> mean
    import math

    assert value(m, "cold", "ndcg") == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert value(m, "cold", "ndcg", k=1) == pytest.approx(0.5)
    assert value(m, "all", "n_workers") == 4
    assert value(m, "cold", "n_workers") == 2
    # top-10 shows v1 v2 v3 v6 = all 4 candidates; top-1 shows v2 v3 v1 v6
    assert value(m, "all", "coverage") == pytest.approx(1.0)
    assert set(m["model"]) == {"oracle"}


def test_calibration_observed_is_stable_share(split):
    cal = calibration(ORACLE, split, n_bins=10)
    # only w6-v3 (score 0.8) was retained: its bin observes 1.0, all others 0
    assert cal.loc[cal["observed"] > 0, "score_mean"].tolist() == [pytest.approx(0.8)]
    assert cal["n"].sum() == len(ORACLE)
    # hired or better: w2-v2 (hired, 0.9) and w6-v3 (retained, 0.8)
    assert sorted(cal.loc[cal["hired"] > 0, "score_mean"]) == [
        pytest.approx(0.8),
        pytest.approx(0.9),
    ]


def test_per_channel(split):
    pc = per_channel(ORACLE, split, k=10)
    got = pc[pc.metric == "recall@10"].set_index("channel")["value"].to_dict()
    # v2 employment_factory, v3 in_province, v6 cross_province_transfer: all found
    assert got == {"cross_province_transfer": 1.0, "employment_factory": 1.0, "in_province": 1.0}


def test_compare_and_summary_ratios(split):
    models = default_models(include=("popularity", "keyword"))
    c = compare(models, split, progress=False)
    assert set(c.metrics["model"]) == {"popularity", "keyword"}
    t = summary_table(c.metrics, candidate="popularity")
    assert "popularity/keyword" in t.columns
    assert t.loc["ndcg@10 all", "popularity/keyword"] == pytest.approx(
        t.loc["ndcg@10 all", "popularity"] / t.loc["ndcg@10 all", "keyword"]
    )
    assert c.value("keyword", "ndcg", 10, "all") == t.loc["ndcg@10 all", "keyword"]


def test_model_without_refresh_is_refused(split):
    from matcher.models.base import RankingModel

    class Bare(RankingModel):
        def fit(self, dataset):
            return self

        def recommend(self, worker_id, k=10):
            return pd.DataFrame()

        def candidates(self, vacancy_id, k=20):
            return pd.DataFrame()

    with pytest.raises(TypeError, match="refresh"):
        compare({"bare": Bare()}, split, progress=False)
