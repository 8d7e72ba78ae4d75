"""Per-group held-out metrics of the training report and their gaps, on known answers."""

from __future__ import annotations

import pandas as pd
import pytest
from toy_market import UNTIL

from training.groups import group_gaps, groups_from_card, groups_to_card, heldout_group_table
from training.registry import compare_gaps
from training.split import time_split


def _oracle(split) -> pd.DataFrame:
    """Every evaluated worker's held-out pairs, best grade first: NDCG@10 = 1 for each."""
    test = split.test.sort_values(["worker_id", "grade"], ascending=[True, False])
    return pd.DataFrame(
        {
            "worker_id": test["worker_id"].to_numpy(),
            "vacancy_id": test["vacancy_id"].to_numpy(),
            "rank": test.groupby("worker_id").cumcount().to_numpy() + 1,
            "score": 0.5,
        }
    )


def test_known_answer_oracle_for_mobile_workers_nothing_for_home_bound(toy):
    split = time_split(toy, UNTIL, 2)
    mobility = toy.workers.set_index("worker_id")["mobility"]
    evaluated = list(split.test_workers)
    home_bound = [w for w in evaluated if mobility[w] == "local"]
    assert home_bound and len(home_bound) < len(evaluated)
    oracle = _oracle(split)
    # the home-bound workers get lists without any of their held-out pairs
    other = split.candidates.difference(split.test["vacancy_id"])[:1]
    assert len(other) == 1
    oracle.loc[oracle["worker_id"].isin(home_bound), "vacancy_id"] = other[0]
    table = heldout_group_table({"full": oracle}, split, n_boot=50)
    nd = table[(table["metric"] == "ndcg@10") & (table["dimension"] == "mobility")]
    by = nd.set_index("group")
    assert by.loc["home-bound", "mean"] == 0.0 and by.loc["home-bound", "n"] == len(home_bound)
    assert by.loc["mobile", "mean"] == pytest.approx(1.0)
    # a constant group has a degenerate interval at its mean
    assert by.loc["mobile", "lo"] == pytest.approx(1.0) == by.loc["mobile", "hi"]
    gaps = group_gaps(table, "full", min_workers=1)
    assert gaps["mobility"]["gap"] == pytest.approx(1.0)
    assert (gaps["mobility"]["worst"], gaps["mobility"]["best"]) == ("home-bound", "mobile")
    # every evaluated worker with a list is placed or not (scores are probabilities)
    placed = table[(table["metric"] == "placed") & (table["dimension"] == "history")]
    assert placed["n"].sum() == len(evaluated)
    assert placed["mean"].between(0, 1).all()
    # JSON round trip for the model card
    back = groups_from_card(groups_to_card(table))
    pd.testing.assert_frame_equal(
        back.sort_values(list(back.columns[:4])).reset_index(drop=True),
        table.sort_values(list(table.columns[:4])).reset_index(drop=True),
        check_dtype=False,
        atol=1e-6,
    )


def _table(model: str, means: dict[str, float], n: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": model,
                "dimension": "language",
                "group": g,
                "metric": "ndcg@10",
                "n": n,
                "mean": m,
                "lo": m,
                "hi": m,
            }
            for g, m in means.items()
        ]
    )


def test_gap_is_one_minus_worst_over_best_and_small_groups_are_left_out():
    table = pd.concat(
        [
            _table("full", {"minority only": 0.45, "bilingual": 0.55, "Mandarin only": 0.60}),
            _table("full", {"not stated": 0.01}),
            _table("full", {"tiny": 0.0}, n=3),
        ]
    )
    gaps = group_gaps(table, "full", min_workers=20)
    assert gaps["language"]["gap"] == pytest.approx(0.25)
    assert gaps["language"]["worst"] == "minority only"
    assert gaps["language"]["best"] == "Mandarin only"


def test_compare_gaps_refuses_a_wider_gap_and_names_it():
    incumbent = _table("incumbent", {"minority only": 0.54, "Mandarin only": 0.60})  # gap 0.10
    candidate = _table("full", {"minority only": 0.48, "Mandarin only": 0.64})  # gap 0.25
    decision = compare_gaps(candidate, incumbent, tolerance=0.02)
    assert not decision.allowed
    assert decision.dimension == "language"
    assert decision.widened_by == pytest.approx(0.15)
    assert "'minority only'" in decision.message() and "+0.1500" in decision.message()
    assert compare_gaps(candidate, incumbent, tolerance=0.2).allowed
    # a narrower gap passes; no figures for the incumbent: passes and says why
    assert compare_gaps(incumbent.assign(model="full"), candidate.assign(model="incumbent")).allowed
    empty = compare_gaps(candidate, incumbent.iloc[0:0])
    assert empty.allowed and "no per-group figures" in empty.message()


def test_groups_below_the_minimum_do_not_count_for_the_guard():
    # the widening is in groups of 30 workers: counted at min_workers 20, ignored at 50
    incumbent = _table("incumbent", {"minority only": 0.54, "Mandarin only": 0.60}, n=30)
    candidate = _table("full", {"minority only": 0.30, "Mandarin only": 0.60}, n=30)
    assert not compare_gaps(candidate, incumbent, min_workers=20).allowed
    ignored = compare_gaps(candidate, incumbent, min_workers=50)
    assert ignored.allowed and ignored.dimension is None
    with pytest.raises(ValueError, match="gap-min-workers"):
        compare_gaps(candidate, incumbent, min_workers=0)
