"""Small hand-made labour markets for engine tests (fast: tens of rows).

:func:`random_market` draws a random but valid market (every contract rule kept)
from a seed, for property tests; :func:`toy_market` is the known-answer market:
welders, cooks and cleaners, where the right vacancy is obvious.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.models.features import RANKER_COLUMNS

#: (code, title, worker skill text)
OCCUPATIONS = [
    ("6-18-02-04", "电焊工", "电焊 氩弧焊 焊工"),
    ("4-03-02-01", "中式烹调师 厨师", "炒菜 厨师 中式烹调"),
    ("6-31-01-03", "电工", "电工 布线 维修电工"),
    ("6-29-01-01", "砌筑工", "砌砖 砌筑工 泥瓦工"),
    ("6-05-01-03", "缝纫工", "缝纫 车工 缝纫工"),
    ("4-07-05-01", "保安员", "保安 巡逻 门卫"),
    ("4-02-05-01", "装卸搬运工", "搬运 装卸 搬运工"),
]
HOME_COUNTIES = ["542427", "522301", "513401", "620100"]
DEST_REGIONS = ["440300", "441900", "440100", "530100", "520100", "510100", "542427", "522301"]
CHANNELS = [
    "cross_province_transfer",
    "in_province",
    "employment_factory",
    "public_welfare_post",
    "infrastructure_project",
]
START = pd.Timestamp("2026-01-05")


def fast_params() -> dict:
    """Recommender parameters small enough for a test market (a fresh embedder each
    call)."""
    from matcher.text.encoders import HashingEmbedder

    return {
        "embedder": HashingEmbedder(dim=64),
        "epochs": 3,
        "n_clusters": 4,
        "max_iter": 10,
        "no_components": 8,
        "random_state": 0,
    }


def random_market(
    seed: int,
    n_workers: int = 30,
    n_vacancies: int = 25,
    n_employers: int = 6,
    n_events: int = 150,
) -> Dataset:
    """A random valid market: mixed mobility, capacity, ages, languages, statuses."""
    rng = np.random.default_rng(seed)
    employers = pd.DataFrame(
        {
            "employer_id": [f"E{i}" for i in range(n_employers)],
            "name": [f"单位{i}" for i in range(n_employers)],
            "region": rng.choice(DEST_REGIONS, n_employers),
            "verified": rng.random(n_employers) < 0.7,
        }
    )
    occ_w = rng.integers(0, len(OCCUPATIONS), n_workers)
    workers = pd.DataFrame(
        {
            "worker_id": [f"W{i}" for i in range(n_workers)],
            "gender": rng.choice(["F", "M"], n_workers),
            "birth_year": rng.integers(1962, 2006, n_workers),
            "home_region": rng.choice(HOME_COUNTIES, n_workers),
            "education": rng.choice(["primary", "junior_secondary", "vocational"], n_workers),
            "languages": [
                ["zh"] if r < 0.7 else (["bo", "zh"] if r < 0.85 else ["bo"])
                for r in rng.random(n_workers)
            ],
            "skills": [OCCUPATIONS[o][2] for o in occ_w],
            "work_history": [f"做过{OCCUPATIONS[o][1]}两年" for o in occ_w],
            "labor_capacity": rng.choice(["full", "full", "full", "semi", "weak"], n_workers),
            "mobility": rng.choice(["any", "any", "province", "local"], n_workers),
            "max_commute_km": np.where(rng.random(n_workers) < 0.5, np.nan, 80.0),
            "expected_wage": rng.choice([3000.0, 4500.0, 6000.0, np.nan], n_workers),
            "household_status": rng.choice(["none", "lifted", "monitored"], n_workers),
            "registered_at": START - pd.to_timedelta(rng.integers(0, 60, n_workers), unit="D"),
        }
    )
    occ_v = rng.integers(0, len(OCCUPATIONS), n_vacancies)
    emp = rng.integers(0, n_employers, n_vacancies)
    wage_min = rng.choice([3000.0, 4000.0, 5000.0, 6500.0], n_vacancies)
    vacancies = pd.DataFrame(
        {
            "vacancy_id": [f"V{i}" for i in range(n_vacancies)],
            "employer_id": [f"E{e}" for e in emp],
            "title": [OCCUPATIONS[o][1] for o in occ_v],
            "description": ["" for _ in occ_v],
            "occupation_code": [
                OCCUPATIONS[o][0] if r > 0.15 else None
                for o, r in zip(occ_v, rng.random(n_vacancies), strict=True)
            ],
            "region": [employers["region"].iloc[e] for e in emp],
            "headcount": rng.choice([0, 1, 3, 10], n_vacancies, p=[0.1, 0.3, 0.3, 0.3]),
            "wage_min": wage_min,
            "wage_max": wage_min + rng.choice([0.0, 1000.0, 2000.0], n_vacancies),
            "min_age": rng.choice([16, 18, np.nan], n_vacancies),
            "max_age": rng.choice([45, 55, np.nan], n_vacancies),
            "languages": [["zh"] if r < 0.3 else [] for r in rng.random(n_vacancies)],
            "housing": rng.random(n_vacancies) < 0.5,
            "meals": rng.random(n_vacancies) < 0.5,
            "labor_contract": rng.random(n_vacancies) < 0.8,
            "social_insurance": rng.random(n_vacancies) < 0.6,
            "channel": rng.choice(CHANNELS, n_vacancies),
            "posted_at": START + pd.to_timedelta(rng.integers(0, 20, n_vacancies), unit="D"),
            "status": rng.choice(["open", "open", "open", "filled", "closed"], n_vacancies),
        }
    )
    vacancies["min_age"] = vacancies["min_age"].astype("Int64")
    vacancies["max_age"] = vacancies["max_age"].astype("Int64")
    ev_w = rng.integers(0, n_workers, n_events)
    ev_v = rng.integers(0, n_vacancies, n_events)
    kinds = rng.choice(
        ["viewed", "applied", "rejected", "hired", "retained_3m", "left", "wage_arrears"],
        n_events,
        p=[0.35, 0.25, 0.1, 0.12, 0.1, 0.05, 0.03],
    )
    events = pd.DataFrame(
        {
            "worker_id": [f"W{i}" for i in ev_w],
            "vacancy_id": [f"V{i}" for i in ev_v],
            "event": kinds,
            "occurred_at": START + pd.to_timedelta(rng.integers(20, 110, n_events), unit="D"),
        }
    ).drop_duplicates()
    return Dataset.from_frames(workers, employers, vacancies, events)


def toy_market() -> Dataset:
    """Known answer: worker ``welder`` (skills 电焊) must get vacancy ``V_weld`` first,
    and ``newcook`` must get ``V_cook`` first.

    Twelve welders and twelve cooks from one county. Over sixteen weeks each trade
    had three vacancies (now filled) of its own employer; most workers of a trade
    applied to one of their trade's vacancies and were hired (most retained), and
    looked at the other trade's vacancies without applying. Now one welding, one
    cooking, one cleaning and one guard vacancy are open, equally paid and equally
    eligible for everyone; ``welder`` and ``newcook`` have no history.
    """
    employers = pd.DataFrame(
        {
            "employer_id": ["E_factory", "E_hotel", "E_clean"],
            "region": ["441900", "440300", "440100"],
            "verified": [True, True, True],
        }
    )
    trades = {
        "weld": (
            "电焊 氩弧焊",
            "在工地做电焊工三年",
            "E_factory",
            "电焊工",
            "6-18-02-04",
            "441900",
        ),
        "cook": ("炒菜 厨师", "在饭店做厨师两年", "E_hotel", "中餐厨师", "4-03-02-01", "440300"),
    }
    rows_w = [(f"{t}{i}", spec[0], spec[1]) for t, spec in trades.items() for i in range(12)]
    rows_w.append(("welder", "电焊 二保焊", "做过电焊工"))
    rows_w.append(("newcook", "厨师 炒菜", ""))
    workers = pd.DataFrame(
        {
            "worker_id": [r[0] for r in rows_w],
            "home_region": "542427",
            "birth_year": 1990,
            "languages": [["zh", "bo"]] * len(rows_w),
            "skills": [r[1] for r in rows_w],
            "work_history": [r[2] for r in rows_w],
            "labor_capacity": "full",
            "mobility": "any",
            "expected_wage": 5000.0,
            "registered_at": START,
        }
    )
    vac = []
    for t, spec in trades.items():
        for j in range(3):
            vac.append((f"V_old_{t}{j}", spec[2], spec[3], spec[4], spec[5], "filled", 0))
    vac += [
        ("V_weld", "E_factory", "电焊工", "6-18-02-04", "441900", "open", 5),
        ("V_cook", "E_hotel", "中餐厨师", "4-03-02-01", "440300", "open", 5),
        ("V_clean", "E_clean", "保洁", "4-09-08-01", "440100", "open", 5),
        ("V_guard", "E_clean", "保安员", "4-07-05-01", "440100", "open", 5),
    ]
    vacancies = pd.DataFrame(
        {
            "vacancy_id": [v[0] for v in vac],
            "employer_id": [v[1] for v in vac],
            "title": [v[2] for v in vac],
            "occupation_code": [v[3] for v in vac],
            "region": [v[4] for v in vac],
            "status": [v[5] for v in vac],
            "headcount": [v[6] for v in vac],
            "wage_min": 5000.0,
            "wage_max": 7000.0,
            "housing": True,
            "meals": True,
            "labor_contract": True,
            "social_insurance": True,
            "channel": "cross_province_transfer",
            "posted_at": START,
        }
    )
    events = []
    for t in trades:
        other = "cook" if t == "weld" else "weld"
        for i in range(12):
            day = START + pd.Timedelta(days=7 * i)
            who, job = f"{t}{i}", f"V_old_{t}{i % 3}"
            events.append((who, f"V_old_{other}{i % 3}", "viewed", day))
            events.append((who, "V_clean" if i % 2 else "V_guard", "viewed", day))
            if i in (3, 9):  # two of each trade only looked
                events.append((who, job, "viewed", day))
                continue
            events += [
                (who, job, "viewed", day),
                (who, job, "applied", day + pd.Timedelta(days=1)),
                (who, job, "hired", day + pd.Timedelta(days=3)),
            ]
            if i < 6:
                events.append((who, job, "retained_3m", day + pd.Timedelta(days=93)))
            elif i < 8:
                events.append((who, job, "left", day + pd.Timedelta(days=40)))
    frame = pd.DataFrame(events, columns=["worker_id", "vacancy_id", "event", "occurred_at"])
    return Dataset.from_frames(workers, employers, vacancies, frame)


def booster_sample(
    rng: np.random.Generator, x: np.ndarray, applied: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranker's training rows of toy pairs ``x`` (:data:`RANKER_COLUMNS` in order):
    every application plus a tenth of the other pairs (the sampled negatives), each
    application hired with probability 0.4, retention unknown. Draws the kept pairs,
    then the hires, from ``rng``."""
    n = len(x)
    kept = applied | (rng.random(n) < 0.1)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    labels = pd.DataFrame(
        {
            "applied": applied.astype(int),
            "hired": (applied & (rng.random(n) < 0.4)).astype(int),
            "retained": np.nan,
        }
    )
    return feats[kept], labels[kept]
