"""One public-welfare post per household, against the posts households already hold
(matcher.eligibility.households)."""

from __future__ import annotations

import pandas as pd

from matcher.eligibility.households import (
    barred_public_pairs,
    household_keys,
    in_households,
    public_post_holders,
)

PUBLIC = "public_welfare_post"


def _vacancies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "vacancy_id": ["P1", "P2", "F1"],
            "channel": [PUBLIC, PUBLIC, "employment_factory"],
        }
    )


def _workers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "worker_id": ["A", "B", "C", "D", "E"],
            "household_id": ["H1", "H1", "H2", None, "  "],
        }
    )


def _events(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"worker_id": w, "vacancy_id": v, "event": e, "occurred_at": pd.Timestamp(t)}
            for w, v, e, t in rows
        ]
    )


def test_household_keys_fall_back_to_the_worker():
    keys = household_keys(_workers())
    assert keys.to_dict() == {
        "A": "H1",
        "B": "H1",
        "C": "H2",
        "D": "worker:D",
        "E": "worker:E",
    }
    no_column = household_keys(_workers().drop(columns="household_id"))
    assert no_column["A"] == "worker:A"


def test_a_hire_on_a_public_post_holds_it_until_the_worker_leaves():
    ev = _events(
        ("A", "P1", "applied", "2026-03-01"),
        ("A", "P1", "hired", "2026-03-05"),
        ("C", "P2", "hired", "2026-03-02"),
        ("C", "P2", "left", "2026-04-01"),
        ("D", "F1", "hired", "2026-03-01"),  # not a public post
    )
    v, w = _vacancies(), _workers()
    assert public_post_holders(ev, v, w) == frozenset({"H1"})
    # before A's hire nobody held one; while C was still there H2 did
    assert public_post_holders(ev, v, w, pd.Timestamp("2026-03-04")) == frozenset({"H2"})
    assert public_post_holders(ev, v, w, pd.Timestamp("2026-03-10")) == frozenset({"H1", "H2"})
    # C's leave at its own time ends the spell
    assert "H2" not in public_post_holders(ev, v, w, pd.Timestamp("2026-04-01"))


def test_a_second_hire_after_a_leave_holds_the_post_again():
    ev = _events(
        ("D", "P1", "hired", "2026-03-01"),
        ("D", "P1", "left", "2026-03-20"),
        ("D", "P1", "hired", "2026-05-01"),
    )
    assert public_post_holders(ev, _vacancies(), _workers()) == frozenset({"worker:D"})
    at = pd.Timestamp("2026-04-01")
    assert public_post_holders(ev, _vacancies(), _workers(), at) == frozenset()


def test_no_public_posts_or_no_events_hold_nothing():
    ev = _events(("A", "F1", "hired", "2026-03-01"))
    assert public_post_holders(ev, _vacancies(), _workers()) == frozenset()
    assert public_post_holders(ev.iloc[:0], _vacancies(), _workers()) == frozenset()
    factory_only = _vacancies().assign(channel="employment_factory")
    ev = _events(("A", "P1", "hired", "2026-03-01"))
    assert public_post_holders(ev, factory_only, _workers()) == frozenset()


def test_barred_pairs_are_the_members_with_the_open_public_posts():
    w, v = _workers(), _vacancies()
    assert in_households(w, frozenset({"H1", "worker:E"})).tolist() == [
        True,
        True,
        False,
        False,
        True,
    ]
    pairs = barred_public_pairs(w, v[v["vacancy_id"].isin(["P2", "F1"])], frozenset({"H1"}))
    assert sorted(zip(pairs["worker_id"], pairs["vacancy_id"], strict=True)) == [
        ("A", "P2"),
        ("B", "P2"),
    ]
    assert barred_public_pairs(w, v[v["vacancy_id"] == "F1"], frozenset({"H1"})).empty
    assert barred_public_pairs(w, v[v["vacancy_id"] == "P1"], frozenset()).empty


def test_a_time_with_a_zone_is_read_as_utc():
    ev = _events(("A", "P1", "hired", "2026-03-05 10:00"))
    at = pd.Timestamp("2026-03-05 18:30", tz="Asia/Shanghai")  # 10:30 UTC
    assert public_post_holders(ev, _vacancies(), _workers(), at) == frozenset({"H1"})
    early = pd.Timestamp("2026-03-05 17:30", tz="Asia/Shanghai")  # 09:30 UTC
    assert public_post_holders(ev, _vacancies(), _workers(), early) == frozenset()
