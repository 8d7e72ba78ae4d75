"""The truth bench's table per variant over several market seeds (``bench/truth_bench.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.truth_bench import SEED_COLUMNS, market_label, over_seeds


def test_market_label_names_the_seed_only_when_several_are_drawn():
    assert market_label("default", 7, [7]) == "default"
    assert market_label("cold-start", 8, [7, 8]) == "cold-start s8"


def test_over_seeds_means_and_worst_cases_per_variant():
    index = ["default s7", "cold-start s7", "default s8", "cold-start s8"]
    table = pd.DataFrame(
        {
            "NDCG engine": [0.9, 0.8, 0.7, 0.6],
            "engine/keyword": [1.5, 1.4, 1.3, 1.2],
            "nightly/oracle": [0.95, 0.85, 0.75, 0.65],
            "ECE": [0.01, 0.02, 0.03, 0.05],
        },
        index=index,
    )
    gaps = pd.DataFrame(
        {
            "worst/best language NDCG": [0.96, 0.93, 0.94, 0.97],
            "semi-weak/full NDCG": [1.0, 0.9, np.nan, 1.1],
        },
        index=index,
    )
    out = over_seeds(table, gaps, ["default", "cold-start"])
    assert list(out.index) == ["default", "cold-start"]
    assert len(out.columns) == 2 * len(SEED_COLUMNS)
    d, c = out.loc["default"], out.loc["cold-start"]
    assert d["NDCG engine mean"] == pytest.approx(0.8) and d["NDCG engine worst"] == 0.7
    assert (
        c["ECE mean"] == pytest.approx(0.035) and c["ECE worst"] == 0.05
    )  # the worst ECE is the largest
    assert d["worst/best language NDCG worst"] == 0.94
    assert c["nightly/oracle worst"] == 0.65
    # a ratio missing on one seed (no group to judge) is left out, not counted as 0
    assert d["semi-weak/full NDCG mean"] == 1.0


def test_group_gaps_rate_the_engine_and_the_staying_blind_oracle_alike():
    from bench.truth_bench import BLIND, group_gaps

    def rows(metric, tibetan, mandarin, semi, full):
        return [
            {"variant": "default", "metric": metric, "dimension": d, "group": g, "n": 50, "mean": m}
            for d, g, m in (
                ("language", "Tibetan only", tibetan),
                ("language", "Mandarin only", mandarin),
                ("language", "not stated", 0.1),
                ("labour capacity", "semi/weak", semi),
                ("labour capacity", "full", full),
            )
        ]

    by_variant = pd.DataFrame(
        rows("NDCG engine", 0.8, 0.9, 0.85, 0.9) + rows(f"NDCG {BLIND}", 0.97, 0.99, 0.9, 0.9)
    )
    gaps = group_gaps(by_variant)
    row = gaps.loc["default"]
    assert row["worst language group"] == "Tibetan only"
    assert row["worst/best language NDCG"] == pytest.approx(0.8 / 0.9)
    assert row["semi-weak/full NDCG"] == pytest.approx(0.85 / 0.9)
    # "not stated" is no language group, for the oracle either
    assert row[f"worst/best language NDCG, {BLIND}"] == pytest.approx(0.97 / 0.99)
