"""Known answers for matcher.evaluation.groups: who is in which group, means and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.evaluation.groups import (
    group_calibration,
    group_means,
    worker_groups,
    worst_and_best_groups,
)

WORKERS = pd.DataFrame(
    {
        "worker_id": ["a", "b", "c", "d"],
        "languages": [["bo"], ["zh", "bo"], ["zh"], []],
        "gender": ["F", "M", "unknown", None],
        "labor_capacity": ["semi", "full", "weak", None],
        "mobility": ["local", "any", "province", None],
        "household_status": ["monitored", "none", "lifted", None],
    }
)
EVENTS = pd.DataFrame({"worker_id": ["b", "b", "c"]})


def test_worker_groups_known_answer():
    g = worker_groups(WORKERS, EVENTS)
    assert g.loc["a"].tolist() == [
        "minority only",
        "F",
        "semi/weak",
        "home-bound",
        "monitored",
        "cold",
    ]
    assert g.loc["b"].tolist() == ["bilingual", "M", "full", "mobile", "none", "known"]
    assert g.loc["c", "language"] == "Mandarin only" and g.loc["c", "gender"] == "not stated"
    assert g.loc["c", "labour capacity"] == "semi/weak" and g.loc["c", "history"] == "known"
    assert (g.loc["d"] == ["not stated"] * 5 + ["cold"]).all()
    assert (worker_groups(WORKERS[["worker_id"]])["history"] == "known").all()


def test_group_means_with_intervals():
    groups = pd.DataFrame(
        {"history": ["cold"] * 4 + ["known"] * 3},
        index=pd.Index(list("abcdefg"), name="worker_id"),
    )
    per_worker = pd.DataFrame(
        {"placed": [1, 0, 1, 0, 1, 1, 1], "ndcg": [0.5, np.nan, 0.5, 0.5, 0.2, 0.4, 0.6]},
        index=list("abcdefg"),
    )
    out = group_means(per_worker, groups, n_boot=500).set_index(["group", "metric"])
    assert out.loc[("cold", "placed"), "mean"] == pytest.approx(0.5)
    assert out.loc[("cold", "placed"), "n"] == 4
    lo, hi = out.loc[("cold", "placed"), ["lo", "hi"]]
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    # a constant metric has a degenerate interval; NaN workers are left out
    assert out.loc[("cold", "ndcg")].tolist()[1:] == [3, 0.5, 0.5, 0.5]
    assert out.loc[("known", "placed"), ["mean", "lo", "hi"]].tolist() == [1.0, 1.0, 1.0]
    assert out.loc[("known", "ndcg"), "mean"] == pytest.approx(0.4)


def test_group_calibration_known_answer():
    groups = pd.DataFrame(
        {"language": ["minority only"] * 3 + ["Mandarin only"] * 3},
        index=pd.Index(list("abcdef"), name="worker_id"),
    )
    rng = np.random.default_rng(1)
    rows = []
    for w in "abcdef":
        v = rng.random(20) * 0.8
        offset = 0.1 if w in "def" else 0.0
        rows += [(w, p + offset, p) for p in v]
    pairs = pd.DataFrame(rows, columns=["worker_id", "predicted", "true"])
    out = group_calibration(pairs, groups, n_boot=50).set_index("group")
    assert out.loc["minority only", ["mean", "lo", "hi"]].tolist() == pytest.approx([0, 0, 0])
    assert out.loc["Mandarin only", ["mean", "lo", "hi"]].tolist() == pytest.approx([0.1] * 3)
    assert out.loc["Mandarin only", "n"] == 3


def _means(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["group", "n", "mean"])


def test_worst_and_best_groups_known_answer():
    """Small groups, "not stated" and groups without a mean are left out; the first of
    tied groups in table order is named."""
    means = _means(
        [
            ("minority only", 6, 0.6),
            ("bilingual", 4, 0.1),  # fewer than 5 workers
            ("Mandarin only", 9, 0.8),
            ("not stated", 50, 0.05),  # no group of people
            ("other", 7, float("nan")),
            ("tied", 5, 0.6),
        ]
    )
    spread = worst_and_best_groups(means, min_workers=5)
    assert spread is not None
    assert (spread.worst, spread.worst_mean) == ("minority only", 0.6)
    assert (spread.best, spread.best_mean) == ("Mandarin only", 0.8)
    assert spread.groups == ("minority only", "Mandarin only", "tied")
    assert spread.ratio == pytest.approx(0.75)
    # fewer groups left than asked for: no spread
    assert worst_and_best_groups(means, min_workers=8) is not None
    assert worst_and_best_groups(means, min_workers=8, min_groups=2) is None
    assert worst_and_best_groups(means, min_workers=100) is None
    # a best mean of 0: no ratio
    assert np.isnan(worst_and_best_groups(_means([("a", 5, 0.0)]), 5).ratio)
