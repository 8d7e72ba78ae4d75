"""Who takes public-welfare and employment-factory seats: a toy plan with a known answer."""

from __future__ import annotations

import pandas as pd
import pytest

from matcher.planning.priority_posts import (
    is_priority_worker,
    priority_post_report,
    worker_situation,
)


def _market() -> tuple[pd.DataFrame, pd.DataFrame]:
    workers = pd.DataFrame(
        {
            "worker_id": ["a", "b", "c", "d", "e"],
            "labor_capacity": ["weak", "full", "full", "semi", None],
            "mobility": ["any", "local", "any", "local", "province"],
        }
    )
    vacancies = pd.DataFrame(
        {
            "vacancy_id": ["w1", "w2", "f1", "t1"],
            "channel": [
                "public_welfare_post",
                "public_welfare_post",
                "employment_factory",
                "cross_province_transfer",
            ],
            "headcount": [2, 1, 3, 5],
        }
    )
    return workers, vacancies


def test_priority_workers_and_situations() -> None:
    workers, _ = _market()
    assert is_priority_worker(workers).to_dict() == {
        "a": True,
        "b": True,
        "c": False,
        "d": True,
        "e": False,
    }
    assert worker_situation(workers).to_dict() == {
        "a": "semi/weak, mobile",
        "b": "full, home-bound",
        "c": "full, mobile",
        "d": "semi/weak, home-bound",
        "e": "not stated",
    }


def test_report_counts_who_takes_the_seats() -> None:
    workers, vacancies = _market()
    plan = pd.DataFrame({"worker_id": ["a", "c", "b", "e"], "vacancy_id": ["w1", "w1", "f1", "t1"]})
    candidates = pd.DataFrame(
        {
            "worker_id": ["a", "c", "b", "d", "d", "e"],
            "vacancy_id": ["w1", "w1", "f1", "w2", "f1", "t1"],
        }
    )
    report = priority_post_report(plan, workers, vacancies, candidates)
    welfare = report["public_welfare_post"]
    assert welfare["seats_open"] == 3
    assert welfare["seats_planned"] == 2
    assert welfare["to_priority"] == 1
    assert welfare["share_to_priority"] == pytest.approx(0.5)
    assert welfare["by_group"]["semi/weak, mobile"] == 1
    assert welfare["by_group"]["full, mobile"] == 1
    # d (semi, home-bound) had w2 as a candidate, stays unplaced, and w2's seat stays empty
    assert welfare["priority_unplaced_with_candidate"] == 1
    assert welfare["seats_left_with_priority_candidate"] == 1
    factory = report["employment_factory"]
    assert (factory["seats_open"], factory["seats_planned"], factory["to_priority"]) == (3, 1, 1)
    assert factory["share_to_priority"] == pytest.approx(1.0)
    assert factory["by_group"]["full, home-bound"] == 1
    # f1 has 2 empty seats and d wanted it
    assert factory["seats_left_with_priority_candidate"] == 2


def test_empty_plan_has_no_share_and_bad_input_is_named() -> None:
    workers, vacancies = _market()
    empty = pd.DataFrame(columns=["worker_id", "vacancy_id"])
    report = priority_post_report(empty, workers, vacancies)
    assert report["public_welfare_post"]["share_to_priority"] is None
    assert "priority_unplaced_with_candidate" not in report["public_welfare_post"]
    with pytest.raises(ValueError, match="vacancies lacks column.*channel"):
        priority_post_report(empty, workers, vacancies.drop(columns="channel"))
