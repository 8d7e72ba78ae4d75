"""The recalibration bench's issue-18 ratio and its paired summary, on toy cases with a
known answer."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.recalibration_bench import language_ratio, summary


def test_language_ratio_is_worst_over_best_among_groups_of_five() -> None:
    ids = [f"w{i}" for i in range(12)]
    languages = [["bo"]] * 5 + [["zh"]] * 5 + [["bo", "zh"]] * 2
    workers = pd.DataFrame({"worker_id": ids, "languages": languages})
    ndcg = pd.Series([0.6] * 5 + [0.8] * 5 + [0.1] * 2, index=ids)
    # the two bilingual workers are fewer than 5: left out, so 0.6 / 0.8
    assert language_ratio(ndcg, workers, pd.DataFrame({"worker_id": ids})) == pytest.approx(0.75)


def test_language_ratio_without_a_group_of_five_is_nan() -> None:
    workers = pd.DataFrame({"worker_id": ["a", "b"], "languages": [["zh"], ["bo"]]})
    ndcg = pd.Series([0.5, 0.9], index=["a", "b"])
    assert pd.isna(language_ratio(ndcg, workers, pd.DataFrame({"worker_id": ["a"]})))


def test_summary_counts_each_market_by_the_measures_better_direction() -> None:
    this = "this code"
    table = pd.DataFrame(
        {
            "variant": ["m1", "m1", "m2", "m2", "m3", "m3"],
            "calibration": ["as trained", this] * 3,
            "NDCG@10": [0.90, 0.92, 0.80, 0.80, 0.70, 0.60],
            "ECE": [0.010, 0.020, 0.030, 0.010, 0.005, 0.005],
        }
    )
    text = summary(table, this)
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()[2:]}
    # NDCG: higher is better; m1 up, m2 equal, m3 down; worst = min
    assert "| 1 / 1 / 1 |" in rows["NDCG@10"]
    assert "0.8000 → 0.7733" in rows["NDCG@10"]
    assert "0.7000 → 0.6000" in rows["NDCG@10"]
    # ECE: lower is better; m1 worse, m2 better, m3 equal; worst = max
    assert "| 1 / 1 / 1 |" in rows["ECE"]
    assert "0.0300 → 0.0200" in rows["ECE"]
    assert "nightly/oracle" not in rows
