"""The truth bench's tally of a same-run comparison (``bench/truth_bench.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.truth_bench import change_counts, counts_markdown, gap_side_by_side, side_by_side

VARIANTS = ["default s7", "wage-driven s7", "cold-start s7"]


def _summary(ndcg, plan, ece) -> pd.DataFrame:
    cols = {"NDCG engine": ndcg, "nightly/oracle": plan, "ECE": ece}
    table = pd.DataFrame(
        {
            c: cols.get(c, [np.nan] * 3)
            for c in (
                "NDCG engine",
                "nightly/oracle",
                "engine lists (true LP)/oracle",
                "ECE",
                "Brier",
                "Brier excess between",
                "Brier excess within",
                "mean score",
                "mean true",
            )
        },
        index=VARIANTS,
    )
    # summarise's own rows, which the tally must not count
    table.loc["mean"] = table.mean()
    table.loc["worst"] = table.min()
    return table


def test_counts_better_equal_worse_per_measure_with_its_direction():
    base = _summary([0.90, 0.80, 0.70], [0.85, 0.75, 0.95], [0.010, 0.020, 0.030])
    this = _summary([0.95, 0.80, 0.6996], [0.80, 0.80, 0.95], [0.005, 0.025, 0.030])
    side = side_by_side(base, this, "baseline abc", "def")
    gaps_base = pd.DataFrame(
        {"worst/best language NDCG": [0.9, 0.95, 0.97], "semi-weak/full NDCG": [1.0, np.nan, 0.9]},
        index=VARIANTS,
    )
    gaps_this = pd.DataFrame(
        {"worst/best language NDCG": [0.93, 0.94, 0.97], "semi-weak/full NDCG": [1.0, 0.8, 0.95]},
        index=VARIANTS,
    )
    ratios = gap_side_by_side(gaps_base, gaps_this, "baseline abc", "def")
    counts = change_counts(side, ratios, "baseline abc", "def")

    nd = counts.loc["NDCG@10"]
    # 0.6996 rounds to 0.700: equal at the summary's precision
    assert (nd["better"], nd["equal"], nd["worse"]) == (1, 2, 0)
    assert nd["worst (baseline)"] == 0.70 and nd["worst (this)"] == 0.6996
    plan = counts.loc["nightly/oracle"]
    assert (plan["better"], plan["equal"], plan["worse"]) == (1, 1, 1)
    assert plan["mean (this)"] == np.mean([0.80, 0.80, 0.95])
    # lower is better: the worst ECE is the largest
    ece = counts.loc["ECE"]
    assert (ece["better"], ece["equal"], ece["worse"]) == (1, 1, 1)
    assert ece["worst (baseline)"] == 0.030 and ece["worst (this)"] == 0.030
    lang = counts.loc["worst/best language NDCG"]
    assert (lang["better"], lang["equal"], lang["worse"]) == (1, 1, 1)
    # a variant without the ratio on one side is not counted
    semi = counts.loc["semi-weak/full NDCG"]
    assert (semi["better"], semi["equal"], semi["worse"]) == (1, 1, 0)

    text = "\n".join(counts_markdown(counts))
    assert "| NDCG@10 | 0.800 → 0.817 | 0.700 → 0.700 | 1 / 2 / 0 |" in text
