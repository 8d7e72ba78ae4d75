"""Whether a worker is looking for work (matcher.models.availability): states read off the
job history, factors in [0, 1] from the search rates of a toy history with a known
answer, and the served score multiplied by it on every path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.models.availability import (
    IN_JOB,
    IN_JOB_FLAGGED,
    LEFT_6,
    NEVER,
    STATES,
    Availability,
    worker_states,
)

T0 = pd.Timestamp("2026-01-05")
DAY = pd.Timedelta(days=1)


def _events(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Events from (worker, vacancy, event, day after T0)."""
    return pd.DataFrame(
        {
            "worker_id": [r[0] for r in rows],
            "vacancy_id": [r[1] for r in rows],
            "event": [r[2] for r in rows],
            "occurred_at": [T0 + r[3] * DAY for r in rows],
        }
    )


def test_states_follow_the_latest_job():
    ev = _events(
        [
            ("never", "V1", "viewed", 1),
            ("working", "V1", "hired", 2),
            ("flagged", "V2", "hired", 2),
            ("flagged", "V2", "wage_arrears", 20),
            ("flagged", "V2", "retained_3m", 93),
            ("left_now", "V3", "hired", 2),
            ("left_now", "V3", "left", 96),
            ("left_2w", "V3", "hired", 2),
            ("left_2w", "V3", "left", 100 - 17.5),
            ("left_long", "V4", "hired", 2),
            ("left_long", "V4", "left", 30),
            # left one job, then hired at another: in a job
            ("moved", "V4", "hired", 2),
            ("moved", "V4", "left", 30),
            ("moved", "V5", "hired", 40),
            # an injury on an earlier job does not flag the current one
            ("earlier_flag", "V4", "hired", 2),
            ("earlier_flag", "V4", "injury", 10),
            ("earlier_flag", "V4", "left", 12),
            ("earlier_flag", "V5", "hired", 40),
            # events after the time asked about do not count
            ("later", "V1", "hired", 150),
        ]
    )
    ids = pd.Index(
        [
            "never",
            "working",
            "flagged",
            "left_now",
            "left_2w",
            "left_long",
            "moved",
            "earlier_flag",
            "later",
            "unknown",
        ]
    )
    got = worker_states(ev, ids, T0 + 100 * DAY)
    want = [NEVER, IN_JOB, IN_JOB_FLAGGED, 1, 3, LEFT_6, IN_JOB, IN_JOB, NEVER, NEVER]
    assert [STATES[s] for s in got] == [STATES[s] for s in want]
    # tz-aware events and a naive time (UTC) agree
    aware = ev.assign(occurred_at=ev["occurred_at"].dt.tz_localize("UTC"))
    assert (worker_states(aware, ids, T0 + 100 * DAY) == got).all()


def _history(n_free: int, weeks: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Free workers view every week; a worker who leaves a job rests exactly two weeks
    (no views), then views every week again; workers in a job never view."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(n_free):
        for week in range(weeks):
            rows.append((f"F{w}", "V1", "viewed", 7 * week + 3))
    for w in range(n_free):  # hired in week 2, left in week 8 (day 56), rests to day 70
        wid = f"L{w}"
        rows.append((wid, "V2", "hired", 14))
        rows.append((wid, "V2", "left", 56 + rng.uniform(0, 0.5)))
        for week in range(10, weeks):
            rows.append((wid, "V1", "viewed", 7 * week + 3))
    for w in range(n_free):
        rows.append((f"J{w}", "V3", "hired", 1))
    ev = _events(rows)
    ids = sorted(ev["worker_id"].unique())
    workers = pd.DataFrame({"worker_id": ids, "registered_at": T0 - 30 * DAY})
    return ev, workers


def test_factors_have_the_known_answer_and_stay_in_unit_interval():
    ev, workers = _history(40, 20, 0)
    model = Availability().fit(ev, workers)
    f = model.factor_
    assert ((f >= 0) & (f <= 1)).all()
    assert f[NEVER] == 1.0 and f[LEFT_6] == 1.0
    assert f[IN_JOB] < 0.02  # never search while in a job
    # resting two weeks after leaving: no search in the first two weeks, then all
    assert f[1] < 0.15 and f[2] < 0.15
    assert f[3] > 0.85 and f[4] > 0.85
    table = model.table()
    assert list(table["state"]) == list(STATES)
    # a state never seen keeps the neutral factor
    assert f[IN_JOB_FLAGGED] == pytest.approx(1.0)
    at = model.at(ev, pd.Index(["F0", "J0", "L0"]), T0 + 60 * DAY)
    assert at[0] == 1.0 and at[1] < 0.02 and at[2] < 0.15


def test_no_events_means_everyone_counts_as_looking():
    model = Availability().fit(_events([]), pd.DataFrame({"worker_id": ["a"]}))
    assert (model.factor_ == 1.0).all()
