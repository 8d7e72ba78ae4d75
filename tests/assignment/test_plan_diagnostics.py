"""Plan diagnostics (matcher.planning.assignment.plan_diagnostics) on toy markets with a known
answer: unplaced workers beside an empty seat they qualify for, and why; open seats
nobody is a candidate for; the Gini of candidates and placements per vacancy."""

from __future__ import annotations

import numpy as np
import pytest
from test_assignment import market

from matcher.planning.assignment import gini, plan_placements


def test_gini_known_answers():
    assert gini(np.array([3, 3, 3, 3])) == 0.0
    assert gini(np.zeros(5)) == 0.0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n - 1) / n
    assert gini(np.array([1, 2, 3])) == pytest.approx(2 / 9)


def test_exact_flow_leaves_no_worker_beside_an_empty_seat():
    workers = [{"worker_id": w} for w in ("A", "B", "C", "D")]
    vacancies = [
        {"vacancy_id": "X", "headcount": 1},
        {"vacancy_id": "Y", "headcount": 2},
        {"vacancy_id": "Z", "headcount": 3},  # nobody's candidate
    ]
    edges = [("A", "X", 0.5), ("B", "X", 0.4), ("C", "X", 0.3), ("C", "Y", 0.1), ("D", "X", 0.2)]
    c, w, v = market(workers, vacancies, edges)
    stats = plan_placements(c, w, v).stats
    # B and D only want X (taken by A): no empty seat they qualify for
    assert stats["unplaced_with_open_seat"] == 0 and stats["unplaced_reasons"] == {}
    assert stats["open_seat_share_without_candidate"] == pytest.approx(3 / 6)
    assert stats["seats_left_empty"] == 1 + 3  # one of Y's, all of Z's
    # candidates per vacancy (4, 1, 0); placements (1, 1, 0)
    assert stats["gini_candidates_per_vacancy"] == pytest.approx(gini(np.array([4, 1, 0])))
    assert stats["gini_placements_per_vacancy"] == pytest.approx(gini(np.array([1, 1, 0])))


def test_group_and_household_explain_the_empty_seats():
    workers = [
        {"worker_id": "G1", "group_id": "G"},
        {"worker_id": "G2", "group_id": "G"},
        {"worker_id": "H1", "labor_capacity": "weak", "household_id": "H"},
        {"worker_id": "H2", "labor_capacity": "weak", "household_id": "H"},
        {"worker_id": "Z", "labor_capacity": "full"},
    ]
    vacancies = [
        # the group's members have candidates at two employers, each with one seat
        {"vacancy_id": "X", "employer_id": "EX", "headcount": 1},
        {"vacancy_id": "Y", "employer_id": "EY", "headcount": 1},
        {"vacancy_id": "P1", "headcount": 1, "channel": "public_welfare_post"},
        {"vacancy_id": "P2", "headcount": 1, "channel": "public_welfare_post"},
        {"vacancy_id": "F", "headcount": 1, "channel": "in_province"},
    ]
    edges = [
        ("G1", "X", 0.6),
        ("G2", "Y", 0.6),
        ("H1", "P1", 0.5),
        ("H2", "P2", 0.4),  # one welfare post per household: H2 waits beside P2
        ("Z", "F", 0.0001),  # 0.0001 * 10,000 = 1: still worth placing
    ]
    c, w, v = market(workers, vacancies, edges)
    res = plan_placements(c, w, v)
    assert set(res.plan["worker_id"]) == {"H1", "Z"}
    stats = res.stats
    assert stats["unplaced_with_open_seat"] == 3
    assert stats["unplaced_reasons"] == {"group": 2, "household": 1}


def test_a_score_that_rounds_to_nothing_is_named():
    workers = [{"worker_id": "A"}]
    vacancies = [{"vacancy_id": "X", "headcount": 1}]
    c, w, v = market(workers, vacancies, [("A", "X", 0.00001)])  # rounds to cost 0
    stats = plan_placements(c, w, v).stats
    assert stats["placed"] == 0
    assert stats["unplaced_reasons"] == {"zero_score": 1}
    assert stats["unplaced_reasons"].get("unexplained", 0) == 0
