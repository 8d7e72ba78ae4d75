"""Known answers for matcher.evaluation.truth: NDCG with true gains, calibration, plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.evaluation.truth import (
    attach_truth,
    brier_by_worker,
    brier_score,
    expected_calibration_error,
    lp_value,
    ndcg_true_gains,
    oracle_plan,
    oracle_plan_value,
    per_worker_constant,
    plan_value,
    reliability_bins,
)


def _truth(rows):
    return pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "value"])


TRUTH = _truth(
    [
        ("a", "x", 0.5),
        ("a", "y", 0.3),
        ("a", "z", 0.0),
        ("b", "x", 0.2),
        ("c", "y", 0.0),  # nothing to gain: left out of NDCG
    ]
)


def test_ndcg_with_true_gains_known_answer():
    recs = pd.DataFrame(
        {"worker_id": ["a", "a", "a"], "vacancy_id": ["y", "x", "q"], "rank": [1, 2, 3]}
    )
    got = ndcg_true_gains(recs, TRUTH, k=10)
    d = 1 / np.log2(3)
    assert got["a"] == pytest.approx((0.3 + 0.5 * d) / (0.5 + 0.3 * d))
    assert got["b"] == 0.0  # no list
    assert "c" not in got.index
    oracle = pd.DataFrame({"worker_id": ["a", "a", "b"], "vacancy_id": ["x", "y", "x"]})
    oracle["score"] = [0.9, 0.8, 0.7]
    assert ndcg_true_gains(oracle, TRUTH, k=10).tolist() == [1.0, 1.0]
    # k cuts both the list and the ideal
    assert ndcg_true_gains(recs, TRUTH, k=1)["a"] == pytest.approx(0.3 / 0.5)
    with pytest.raises(ValueError, match="at least 1"):
        ndcg_true_gains(recs, TRUTH, k=0)


def test_attach_truth_zero_when_absent_and_refuses_duplicates():
    pairs = pd.DataFrame({"worker_id": ["a", "b", "zz"], "vacancy_id": ["y", "y", "x"]})
    assert attach_truth(pairs, TRUTH).tolist() == [0.3, 0.0, 0.0]
    with pytest.raises(ValueError, match="more than once"):
        attach_truth(pairs, pd.concat([TRUTH, TRUTH]))
    with pytest.raises(ValueError, match="lacks column"):
        attach_truth(pairs, TRUTH.drop(columns="value"))


def test_calibration_known_answers():
    rng = np.random.default_rng(0)
    v = rng.random(1000)
    assert expected_calibration_error(v, v) == pytest.approx(0.0)
    assert expected_calibration_error(
        np.clip(v, 0, 0.9) + 0.1, np.clip(v, 0, 0.9)
    ) == pytest.approx(0.1)
    # uniform bins: predictions 0.05 (truth 0.15) and 0.95 (truth 0.95), equal counts
    p = np.r_[np.full(50, 0.05), np.full(50, 0.95)]
    y = np.r_[np.full(50, 0.15), np.full(50, 0.95)]
    table = reliability_bins(p, y, bins=10, strategy="uniform")
    assert table["n"].tolist() == [50, 50]
    assert table["true"].tolist() == pytest.approx([0.15, 0.95])
    assert expected_calibration_error(p, y, strategy="uniform") == pytest.approx(0.05)
    quant = reliability_bins(v, v, bins=4)
    assert quant["n"].tolist() == [250] * 4
    assert quant["predicted"].is_monotonic_increasing
    with pytest.raises(ValueError, match="strategy"):
        reliability_bins(v, v, strategy="weird")
    with pytest.raises(ValueError, match="shape"):
        reliability_bins(v, v[:3])


def test_brier_and_the_per_worker_constant():
    v = np.array([0.5, 0.1, 0.2, 0.2])
    workers = np.array(["a", "a", "b", "b"])
    assert brier_score(v, v) == pytest.approx(np.mean(v * (1 - v)))
    assert brier_score(np.zeros(4), np.ones(4)) == pytest.approx(1.0)
    const = per_worker_constant(workers, v)
    assert const.tolist() == pytest.approx([0.3, 0.3, 0.2, 0.2])
    assert brier_score(const, v) == pytest.approx(np.mean((const - v) ** 2 + v * (1 - v)))
    assert brier_score(v, v) < brier_score(const, v)


def test_brier_by_worker_splits_the_excess_into_scale_and_order():
    v = np.array([0.5, 0.1, 0.2, 0.2])
    workers = np.array(["a", "a", "b", "b"])
    # each list in the right order, the scale of a's list 0.1 too low: all of it between
    p = v - np.array([0.1, 0.1, 0.0, 0.0])
    between, within = brier_by_worker(workers, p, v)
    assert between == pytest.approx(0.005) and within == pytest.approx(0.0)
    # the right means, a's list reversed: all of it within
    p = np.array([0.1, 0.5, 0.2, 0.2])
    between, within = brier_by_worker(workers, p, v)
    assert between == pytest.approx(0.0) and within == pytest.approx(0.08)
    # the parts add up to the excess, and the constant's excess is its within part
    p = np.array([0.3, 0.05, 0.4, 0.1])
    between, within = brier_by_worker(workers, p, v)
    assert between + within == pytest.approx(np.mean((p - v) ** 2))
    const = per_worker_constant(workers, v)
    assert brier_by_worker(workers, const, v) == pytest.approx((0.0, np.mean((const - v) ** 2)))
    with pytest.raises(ValueError, match="length"):
        brier_by_worker(workers[:3], p, v)


def test_plan_values_known_answer():
    # a: x 0.5, y 0.45; b: x 0.4. One seat each: the best plan is a-y + b-x = 0.85
    truth = _truth([("a", "x", 0.5), ("a", "y", 0.45), ("b", "x", 0.4)])
    workers = pd.DataFrame({"worker_id": ["a", "b"]})
    vacancies = pd.DataFrame({"vacancy_id": ["x", "y"], "headcount": [1, 1]})
    plan, bound = oracle_plan_value(truth, workers, vacancies)
    assert plan == pytest.approx(0.85) and bound == pytest.approx(0.85)
    greedy = pd.DataFrame({"worker_id": ["a"], "vacancy_id": ["x"]})
    assert plan_value(greedy, truth) == pytest.approx(0.5)
    assert plan_value(pd.DataFrame({"worker_id": ["a"], "vacancy_id": ["nope"]}), truth) == 0.0
    # restricted to the engine's lists: a only knows x -> a-x or b-x, best 0.5
    lists = pd.DataFrame({"worker_id": ["a", "b"], "vacancy_id": ["x", "x"]})
    assert lp_value(truth, workers, vacancies, lists) == pytest.approx(0.5)
    # two seats at x: both there, 0.9
    vacancies2 = pd.DataFrame({"vacancy_id": ["x", "y"], "headcount": [2, 1]})
    assert oracle_plan_value(truth, workers, vacancies2)[0] == pytest.approx(0.9)


def test_policy_oracle_pays_for_the_policy_in_expected_placements():
    # one seat; m (monitored household) 0.3, o 0.4: unweighted the seat goes to o, with
    # the monitored weight 1.5 to m (0.45 > 0.4), which costs 0.1 expected placements
    truth = _truth([("m", "x", 0.3), ("o", "x", 0.4)])
    workers = pd.DataFrame({"worker_id": ["m", "o"], "household_status": ["monitored", "none"]})
    vacancies = pd.DataFrame({"vacancy_id": ["x"], "headcount": [1]})
    assert oracle_plan_value(truth, workers, vacancies) == pytest.approx((0.4, 0.4))
    policy = oracle_plan(truth, workers, vacancies, monitored_weight=1.5, welfare_priority=0.0)
    assert policy.plan["worker_id"].tolist() == ["m"]
    assert plan_value(policy.plan, truth) == pytest.approx(0.3)
    assert policy.objective == pytest.approx(0.45)
    # the weighted LP bounds the policy oracle's weighted objective, not its placements
    weighted = lp_value(truth, workers, vacancies, monitored_weight=1.5, welfare_priority=0.0)
    assert weighted == pytest.approx(0.45)


def test_oracle_plan_with_a_village_group_against_the_lp():
    # a village pair worth 0.1 each at x's two seats, two others 0.9 each: the oracle
    # leaves the pair out (1.8); the earlier rule seated the pair first (0.2)
    truth = _truth([("g1", "x", 0.1), ("g2", "x", 0.1), ("a", "x", 0.9), ("b", "x", 0.9)])
    workers = pd.DataFrame(
        {"worker_id": ["g1", "g2", "a", "b"], "group_id": ["G", "G", None, None]}
    )
    vacancies = pd.DataFrame({"vacancy_id": ["x"], "headcount": [2], "employer_id": ["E"]})
    assert oracle_plan_value(truth, workers, vacancies) == pytest.approx((1.8, 1.8))
    first = oracle_plan(truth, workers, vacancies, group_rule="first")
    assert plan_value(first.plan, truth) == pytest.approx(0.2)


def test_candidate_diagnosis_known_answer():
    from matcher.evaluation.truth import candidate_diagnosis

    truth = pd.DataFrame(
        {
            "worker_id": ["a", "a", "a"] + ["b"] * 5,
            "vacancy_id": ["v1", "v2", "v3", "u1", "u2", "u3", "u4", "u5"],
            "value": [0.5, 0.3, 0.2, 0.5, 0.4, 0.3, 0.2, 0.1],
        }
    )
    scores = pd.DataFrame(
        {
            # a: v2 (second best) never reached the ranker; v9 is a pair the truth lacks
            "worker_id": ["a", "a", "a"] + ["b"] * 5,
            "vacancy_id": ["v1", "v3", "v9", "u1", "u2", "u3", "u4", "u5"],
            "score": [0.1, 0.9, 0.5, 0.9, 0.8, 0.7, 0.6, 0.5],
        }
    )
    d = candidate_diagnosis(scores, truth, k=2)
    assert d.loc["a", "recall"] == 0.5 and d.loc["b", "recall"] == 1.0
    assert d.loc["a", "options"] == 3 and d.loc["b", "options"] == 5
    # a in random order: mean candidate value (0.5 + 0.2 + 0) / 3 at each of 2 places
    ideal_a = 0.5 + 0.3 / np.log2(3)
    assert d.loc["a", "random"] == pytest.approx((0.7 / 3) * (1 + 1 / np.log2(3)) / ideal_a)
    assert np.isnan(d.loc["a", "spearman"])  # fewer than 5 candidates
    assert d.loc["b", "spearman"] == pytest.approx(1.0)  # scores order as the truth
    assert d.loc["a", "score_sum"] == pytest.approx(1.5)
    assert d.loc["a", "value_sum"] == pytest.approx(0.7)
    assert candidate_diagnosis(scores, truth, k=2, workers=["b"]).index.tolist() == ["b"]


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_ece_is_the_reliability_tables_weighted_gap(strategy):
    rng = np.random.default_rng(3)
    p = rng.random(1001) ** 2
    y = np.clip(p + rng.normal(0, 0.1, len(p)), 0, 1)
    table = reliability_bins(p, y, 10, strategy)
    weighted = float(
        (table["n"] / table["n"].sum() * (table["predicted"] - table["true"]).abs()).sum()
    )
    assert expected_calibration_error(p, y, 10, strategy) == pytest.approx(weighted, rel=1e-12)
    assert np.isnan(expected_calibration_error([], [], 10, strategy))
    with pytest.raises(ValueError, match="differ in shape"):
        expected_calibration_error(p, y[:-1], 10, strategy)
