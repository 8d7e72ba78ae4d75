"""A hand-made toy market whose answers are known (see each test for the arithmetic).

A module of its own (not conftest) so that tests import it by a unique name."""

from __future__ import annotations

import pandas as pd

from matcher.data.dataset import Dataset

T0 = pd.Timestamp("2025-03-03")  # a Monday


def day(n: float) -> str:
    return (T0 + pd.Timedelta(days=n)).isoformat()


def toy_frames() -> dict[str, pd.DataFrame]:
    workers = pd.DataFrame(
        [
            # id, home, mobility, km, skills, history, registered
            ("w1", "522636", "any", None, "焊工 电焊", "深圳 焊工 三年", day(-30)),
            ("w2", "522636", "local", 50.0, "缝纫 车工", "服装厂 缝纫工", day(-30)),
            ("w3", "520122", "province", None, "厨师 炒菜", "饭店 厨师", day(-30)),
            ("w4", "522636", "any", None, "焊工", "工地 焊工", day(-30)),  # cold: no history
            ("w5", "522636", "any", None, "焊工", "", day(30)),  # registers after cutoff
            ("w6", "520122", "any", None, "缝纫", "服装厂", day(-30)),
        ],
        columns=[
            "worker_id",
            "home_region",
            "mobility",
            "max_commute_km",
            "skills",
            "work_history",
            "registered_at",
        ],
    )
    workers["labor_capacity"] = "full"
    workers["birth_year"] = 1990
    employers = pd.DataFrame(
        {"employer_id": ["e1", "e2", "e3"], "region": ["440305", "522636", "520121"]}
    )
    vacancies = pd.DataFrame(
        [
            # id, employer, title, region, headcount, posted, closes, status, channel
            ("v1", "e1", "焊工", "440305", 5, day(-20), None, "open", "cross_province_transfer"),
            ("v2", "e2", "缝纫工", "522636", 3, day(-20), None, "filled", "employment_factory"),
            ("v3", "e3", "厨师", "520121", 2, day(-20), None, "open", "in_province"),
            ("v4", "e1", "电焊工", "440303", 2, day(29), None, "open", "cross_province_transfer"),
            ("v5", "e3", "保洁", "520121", 1, day(-20), day(5), "closed", "in_province"),
            ("v6", "e1", "普工", "440305", 10, day(-20), None, "open", "cross_province_transfer"),
        ],
        columns=[
            "vacancy_id",
            "employer_id",
            "title",
            "region",
            "headcount",
            "posted_at",
            "closes_at",
            "status",
            "channel",
        ],
    )
    vacancies["description"] = vacancies["title"] + " 包吃住"
    events = pd.DataFrame(
        [
            # training period: days 0..27
            ("w1", "v1", "applied", day(1)),
            ("w1", "v1", "hired", day(3)),
            ("w3", "v3", "applied", day(2)),
            ("w2", "v6", "viewed", day(2)),
            ("w6", "v1", "applied", day(4)),
            ("w6", "v1", "rejected", day(6)),
            ("w6", "v6", "applied", day(7)),
            # test period: days 28..41 (cutoff = day 28 with until = day 42, test_weeks = 2)
            ("w1", "v1", "retained_3m", day(30)),  # pursued before the cutoff: not a test pair
            ("w2", "v2", "applied", day(29)),
            ("w2", "v2", "hired", day(31)),
            ("w4", "v6", "applied", day(30)),  # cold worker
            ("w3", "v4", "applied", day(33)),  # vacancy posted after the cutoff
            ("w5", "v6", "applied", day(34)),  # worker registered after the cutoff
            ("w6", "v3", "applied", day(35)),
            ("w6", "v3", "hired", day(36)),
            ("w6", "v3", "retained_3m", day(40)),
        ],
        columns=["worker_id", "vacancy_id", "event", "occurred_at"],
    )
    return {"workers": workers, "employers": employers, "vacancies": vacancies, "events": events}


def build(frames: dict[str, pd.DataFrame]) -> Dataset:
    return Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )


CUTOFF = T0 + pd.Timedelta(days=28)
UNTIL = T0 + pd.Timedelta(days=42)
