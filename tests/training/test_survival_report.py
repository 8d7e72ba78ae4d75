"""training.survival on a toy market whose answer is known: a stay model that orders the
hires exactly as they leave has concordance 1 and beats the Kaplan–Meier baseline."""

from __future__ import annotations

import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from training.report import survival_section
from training.survival import evaluate_survival, hire_spells

CUTOFF = pd.Timestamp("2026-06-01")
UNTIL = pd.Timestamp("2026-12-01")


class Oracle:
    """Stay probability by worker; raises for unknown pairs like the real model."""

    def __init__(self, p: dict[str, float]) -> None:
        self.p = p

    def explain(self, worker_id: str, vacancy_id: str) -> dict:
        if worker_id not in self.p:
            raise KeyError(worker_id)
        return {"stages": {"apply": 0.5, "hire": 0.5, "stay": self.p[worker_id]}}


def _market(spec: list[tuple[str, str, int | None]]) -> Dataset:
    """spec: (worker, hired on, days until leaving or None)."""
    n = len(spec)
    workers = pd.DataFrame({"worker_id": [w for w, _, _ in spec], "home_region": ["542427"] * n})
    employers = pd.DataFrame({"employer_id": ["E"], "region": ["440300"]})
    vacancies = pd.DataFrame(
        {
            "vacancy_id": ["V"],
            "employer_id": ["E"],
            "title": ["普工"],
            "region": ["440300"],
            "headcount": [50],
        }
    )
    rows = []
    for w, day, left in spec:
        t = pd.Timestamp(day)
        rows.append((w, "V", "hired", t))
        if left is not None:
            rows.append((w, "V", "left", t + pd.Timedelta(days=left)))
    events = pd.DataFrame(rows, columns=["worker_id", "vacancy_id", "event", "occurred_at"])
    return Dataset.from_frames(workers, employers, vacancies, events)


def test_oracle_stay_model_is_concordant_and_beats_the_baseline():
    spec = [(f"T{i}", "2026-01-05", 10 + 10 * i) for i in range(8)]  # training: leave 10..80 d
    spec += [(f"T{i}", "2026-01-05", None) for i in range(8, 12)]  # still there at the cutoff
    # evaluated: hired after the cutoff, leaving after 5, 20, 40, 60, 100 days or never
    leave = [5, 20, 40, 60, 100, None, None]
    spec += [(f"E{i}", "2026-06-02", d) for i, d in enumerate(leave)]
    ds = _market(spec)
    # the oracle: the sooner one leaves, the lower the stay probability
    p = {f"E{i}": 0.1 + 0.12 * i for i in range(len(leave))}
    rep = evaluate_survival(Oracle(p), ds, CUTOFF, UNTIL)
    # T8..T11 (fate unknown at the cutoff, never scored by the oracle) are skipped
    assert rep.n == 7 and rep.events == 5 and rep.skipped == 4
    assert rep.concordance == pytest.approx(1.0)
    assert rep.train_hires == 12
    for h in (30, 90, 180):
        assert rep.brier[h] is not None and rep.brier_baseline[h] is not None
    assert rep.brier[90] < rep.brier_baseline[90]
    # a reversed model is perfectly discordant
    rev = {k: 1 - v for k, v in p.items()}
    assert evaluate_survival(Oracle(rev), ds, CUTOFF, UNTIL).concordance == pytest.approx(0.0)
    html = "".join(survival_section(rep.as_dict()))
    assert "Retention as survival" in html and "data:image/png;base64" in html


def test_horizons_beyond_the_follow_up_are_not_estimable():
    spec = [(f"T{i}", "2026-05-01", 5 + i) for i in range(5)]
    spec += [(f"E{i}", "2026-11-20", None) for i in range(3)]
    ds = _market(spec)
    rep = evaluate_survival(Oracle({f"E{i}": 0.5 for i in range(3)}), ds, CUTOFF, UNTIL)
    assert rep.max_follow_up_days < 30
    assert rep.brier == {30: None, 90: None, 180: None}


def test_hire_spells_take_the_first_ending_of_the_same_job():
    ds = _market([("A", "2026-01-01", 30)])
    spells = hire_spells(ds.events, UNTIL)
    assert len(spells) == 1
    assert spells["ended_at"].iloc[0] - spells["hired_at"].iloc[0] == pd.Timedelta(days=30)
    assert pd.isna(spells["retained_at"].iloc[0])


def test_a_constant_stay_model_is_said_to_be_one():
    spec = [(f"T{i}", "2026-01-05", 10 + 10 * i) for i in range(4)]
    spec += [(f"E{i}", "2026-06-02", d) for i, d in enumerate([5, 50, None])]
    rep = evaluate_survival(Oracle({f"E{i}": 0.4 for i in range(3)}), _market(spec), CUTOFF, UNTIL)
    assert rep.concordance == pytest.approx(0.5) and "same probability" in (rep.note or "")
    assert "same probability" in "".join(survival_section(rep.as_dict()))


def test_a_spell_ends_when_the_worker_leaves_not_at_arrears_or_injury():
    """The report judges the stay stage on the event the stage is trained on
    (matcher.models.features.LEAVING_EVENTS): wage arrears and an injury on a job the worker
    still holds do not end the spell; leaving later does."""
    ds = _market([("A", "2026-01-01", 50), ("B", "2026-01-01", None)])
    extra = pd.DataFrame(
        [
            ("A", "V", "wage_arrears", pd.Timestamp("2026-01-11")),
            ("B", "V", "injury", pd.Timestamp("2026-01-21")),
        ],
        columns=["worker_id", "vacancy_id", "event", "occurred_at"],
    )
    events = pd.concat([ds.events[extra.columns], extra], ignore_index=True)
    spells = hire_spells(events, UNTIL).set_index("worker_id")
    assert spells.loc["A", "ended_at"] - spells.loc["A", "hired_at"] == pd.Timedelta(days=50)
    assert pd.isna(spells.loc["B", "ended_at"])
