"""A small labour market for the service tests, with recognisable personal data.

Every worker's name, phone and id number are distinctive strings, so a test can
search any response body for them (an employer must never receive one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset

#: (CSCO code, vacancy title, worker skills, work history)
TRADES = [
    ("6-18-02-04", "电焊工", "电焊 氩弧焊 焊工", "在深圳工厂做焊工三年"),
    ("4-03-02-01", "中式烹调师", "炒菜 厨师 中式烹调", "县城饭店厨师两年"),
    ("6-31-01-03", "电工", "电工 布线 维修电工", "工地电工"),
    ("6-05-01-03", "缝纫工", "缝纫 车工 缝纫工", "服装厂车工"),
    ("4-07-05-01", "保安员", "保安 巡逻 门卫", "小区保安"),
]
#: Home counties: two in Nagqu (5424xx), one in Guizhou, one in Liangshan.
HOMES = ["542427", "542421", "522301", "513401"]
DESTS = ["440306", "441900", "440100", "520100", "542427"]
START = pd.Timestamp("2026-01-05")


def worker_name(i: int) -> str:
    return f"测试姓名{i:03d}号"


def worker_phone(i: int) -> str:
    return f"1390000{i:04d}"


def worker_id_number(i: int) -> str:
    return f"54242719900101{i:04d}"


def market(seed: int = 7, n_workers: int = 60, n_vacancies: int = 30, n_employers: int = 5):
    """Workers, employers, vacancies and events as contract frames (a dict of DataFrames)."""
    rng = np.random.default_rng(seed)
    trade_w = rng.integers(0, len(TRADES), n_workers)
    workers = pd.DataFrame(
        {
            "worker_id": [f"W{i:03d}" for i in range(n_workers)],
            "name": [worker_name(i) for i in range(n_workers)],
            "phone": [worker_phone(i) for i in range(n_workers)],
            "id_number": [worker_id_number(i) for i in range(n_workers)],
            "gender": rng.choice(["F", "M"], n_workers),
            "birth_year": rng.integers(1972, 2004, n_workers),
            "home_region": [HOMES[i % len(HOMES)] for i in range(n_workers)],
            "education": rng.choice(["primary", "junior_secondary", "vocational"], n_workers),
            "languages": [["zh", "bo"] if i % 4 < 2 else ["zh"] for i in range(n_workers)],
            "skills": [TRADES[t][2] for t in trade_w],
            "work_history": [TRADES[t][3] for t in trade_w],
            "labor_capacity": "full",
            "mobility": "any",
            "expected_wage": rng.integers(3000, 7000, n_workers).astype(float),
            "household_status": rng.choice(["none", "lifted", "monitored"], n_workers),
            "registered_at": [START - pd.Timedelta(days=60)] * n_workers,
        }
    )
    employers = pd.DataFrame(
        {
            "employer_id": [f"E{i:03d}" for i in range(n_employers)],
            "name": [f"测试企业{i}" for i in range(n_employers)],
            "region": [DESTS[i % len(DESTS)] for i in range(n_employers)],
            "industry": "制造业",
            "verified": True,
        }
    )
    trade_v = np.arange(n_vacancies) % len(TRADES)
    emp_v = rng.integers(0, n_employers, n_vacancies)
    vacancies = pd.DataFrame(
        {
            "vacancy_id": [f"V{i:03d}" for i in range(n_vacancies)],
            "employer_id": [f"E{e:03d}" for e in emp_v],
            "title": [f"招{TRADES[t][1]}" for t in trade_v],
            "description": [f"{TRADES[t][2]} 包吃住" for t in trade_v],
            "occupation_code": [TRADES[t][0] for t in trade_v],
            "region": [DESTS[e % len(DESTS)] for e in emp_v],
            "headcount": rng.integers(2, 10, n_vacancies),
            "wage_min": 4000.0,
            "wage_max": 7000.0,
            "housing": True,
            "meals": rng.random(n_vacancies) < 0.5,
            "labor_contract": rng.random(n_vacancies) < 0.8,
            "social_insurance": rng.random(n_vacancies) < 0.6,
            "channel": "cross_province_transfer",
            "posted_at": [START - pd.Timedelta(days=30)] * n_vacancies,
            "status": "open",
        }
    )
    rows = []
    for w in range(n_workers):
        same = np.flatnonzero(trade_v == trade_w[w])
        for v in rng.choice(same, size=min(3, len(same)), replace=False):
            t = START + pd.Timedelta(days=int(rng.integers(0, 40)))
            rows.append((f"W{w:03d}", f"V{v:03d}", "viewed", t))
            if rng.random() < 0.7:
                rows.append((f"W{w:03d}", f"V{v:03d}", "applied", t + pd.Timedelta(days=1)))
                if rng.random() < 0.6:
                    rows.append((f"W{w:03d}", f"V{v:03d}", "hired", t + pd.Timedelta(days=3)))
                    if rng.random() < 0.6:
                        rows.append(
                            (f"W{w:03d}", f"V{v:03d}", "retained_3m", t + pd.Timedelta(days=40))
                        )
        other = rng.choice(np.flatnonzero(trade_v != trade_w[w]))
        rows.append(
            (f"W{w:03d}", f"V{other:03d}", "viewed", START + pd.Timedelta(days=int(w % 30)))
        )
    events = pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "event", "occurred_at"])
    return {"workers": workers, "employers": employers, "vacancies": vacancies, "events": events}


def dataset(frames: dict[str, pd.DataFrame]) -> Dataset:
    return Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )


#: A household (``household_id`` HH-PUB) of two workers of the officer's region: HOLDER
#: holds the public-welfare post HELD_POST (hired, no left event); MEMBER is proposed no
#: other. LONE is a worker of the same county in no household. OPEN_POST is a second
#: public-welfare post, open, that MEMBER and LONE could take.
HOUSEHOLD = "HH-PUB"
HOLDER, MEMBER, LONE = "W000", "W004", "W008"
HELD_POST, OPEN_POST = "V950", "V951"
#: when HOLDER was hired on HELD_POST: after every other event of the market
HIRED_AT = START + pd.Timedelta(days=100)


def public_post_market(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``frames`` (of :func:`market`) with the household above: two public-welfare posts
    of a county employer, HOLDER hired on HELD_POST (its only event, so it is at work
    there) and MEMBER with no event of its own."""
    workers = frames["workers"].copy()
    workers["household_id"] = None
    workers.loc[workers["worker_id"].isin([HOLDER, MEMBER]), "household_id"] = HOUSEHOLD
    posts = pd.concat([frames["vacancies"].iloc[[4]]] * 2, ignore_index=True)
    posts["vacancy_id"] = [HELD_POST, OPEN_POST]
    posts["title"] = ["村级保洁员（公益性岗位）", "护林员（公益性岗位）"]
    posts["description"] = ["保安 巡逻 门卫 本村保洁", "保安 巡逻 门卫 本县护林"]
    posts["region"] = "542427"
    posts["channel"] = "public_welfare_post"
    events = frames["events"]
    events = events[~events["worker_id"].isin([HOLDER, MEMBER])]
    hire = pd.DataFrame(
        [(HOLDER, HELD_POST, "hired", HIRED_AT)],
        columns=["worker_id", "vacancy_id", "event", "occurred_at"],
    )
    return {
        **frames,
        "workers": workers,
        "vacancies": pd.concat([frames["vacancies"], posts], ignore_index=True),
        "events": pd.concat([events, hire], ignore_index=True),
    }
