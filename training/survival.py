"""Retention as survival: the stay model judged on time to leaving, with censoring.

The ranker's stay stage predicts P(still in the job three months after the hire | hired)
(``matcher.models.ranking``), or, calibrated (``Recommender.stable_weeks``), P(still there
after that many weeks | hired): the curve below is anchored at that horizon then. Here it is evaluated as a survival model on the hires whose fate
was unknown at the split's cutoff:

* **Evaluated hires** — every hire before ``until`` that had not ended (the worker left
  that job: :data:`matcher.models.features.LEAVING_EVENTS`, the event the stay stage is trained
  on; wage arrears and injuries do not end a spell) and was not recorded retained before
  the cutoff: the
  hires made in the test weeks, and those made earlier whose outcome the model fitted at
  the cutoff could not have seen. Time runs from the hire in days; a hire made before the
  cutoff enters observation at the cutoff (left truncation, ``entry = cutoff - hire``);
  it ends when the worker first left that job (event) or at ``until`` (censored).
* **Kaplan–Meier baseline** — the survival curve of the hires of the training period
  (observed until the cutoff, censored there): one curve for everybody, no features.
* **The model's survival curve** for a hire with predicted stay probability ``p``:
  ``S(t) = S_KM(t) ** h`` with ``h = log p / log S_KM(90)``, i.e. the baseline's shape
  with a proportional hazard set so that ``S(90) = p`` (the horizon the stay stage is
  trained for). When the baseline cannot anchor (no departure in training) ``h`` is
  ``(1 - p) / mean(1 - p)``.
* **Metrics** (``matcher.evaluation.survival``): Harrell's concordance of ``1 - p`` (the baseline
  ranks everyone alike: 0.5), IPCW Brier scores at 30 / 90 / 180 days for the model
  and the baseline, conditional on having lasted until entry. A horizon beyond the
  longest follow-up is reported as not estimable, never filled in.

No figure here uses a test outcome to build a prediction: the baseline and the curve's
shape come from training-period hires, ``p`` from the model fitted at the cutoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.schema import Columns, EventType
from matcher.evaluation.survival import brier_score, concordance_index, kaplan_meier, survival_at
from matcher.models.base import StablePlacementModel
from matcher.models.features import LEAVING_EVENTS, RETAINED_EVENTS
from matcher.protocols import ExplainingModel, StageScoringModel

log = logging.getLogger(__name__)

HORIZONS: tuple[int, ...] = (30, 90, 180)
#: The horizon the stay stage predicts (retained three months).
ANCHOR_DAYS = 90
_DAY = pd.Timedelta(days=1)


@dataclass
class SurvivalReport:
    n: int = 0
    events: int = 0
    skipped: int = 0  # hires the model could not score (e.g. vacancy posted after the cutoff)
    max_follow_up_days: float = 0.0
    train_hires: int = 0
    concordance: float | None = None
    concordance_baseline: float = 0.5
    brier: dict[int, float | None] = field(default_factory=dict)
    brier_baseline: dict[int, float | None] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "events": self.events,
            "skipped": self.skipped,
            "max_follow_up_days": round(self.max_follow_up_days, 1),
            "train_hires": self.train_hires,
            "concordance": self.concordance,
            "concordance_baseline": self.concordance_baseline,
            "brier": {str(k): v for k, v in self.brier.items()},
            "brier_baseline": {str(k): v for k, v in self.brier_baseline.items()},
            "curves": self.curves,
            "note": self.note,
        }


def hire_spells(events: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """One row per hire: ``worker_id, vacancy_id, hired_at, ended_at`` (first time the
    worker left that job after the hire, :data:`~matcher.models.features.LEAVING_EVENTS`; NaT if
    never), ``retained_at`` (latest retained outcome of that job)."""
    ev = events[[Columns.Worker, Columns.Vacancy, Columns.Event, Columns.OccurredAt]]
    ev = ev[ev[Columns.OccurredAt] < until]
    key = [Columns.Worker, Columns.Vacancy]
    hired = (
        ev[ev[Columns.Event] == EventType.HIRED.value]
        .groupby(key)[Columns.OccurredAt]
        .min()
        .rename("hired_at")
        .reset_index()
    )
    ends = ev[ev[Columns.Event].isin(LEAVING_EVENTS)].merge(hired, on=key)
    ends = ends[ends[Columns.OccurredAt] >= ends["hired_at"]]
    first_end = ends.groupby(key)[Columns.OccurredAt].min().rename("ended_at")
    kept = ev[ev[Columns.Event].isin(RETAINED_EVENTS)].groupby(key)[Columns.OccurredAt].max()
    out = hired.set_index(key).join(first_end).join(kept.rename("retained_at"))
    return out.reset_index()


def _stay_probabilities(model: ExplainingModel, hires: pd.DataFrame) -> np.ndarray:
    """P(stay | hired) of each hire's pair (NaN where the model cannot score it): all
    pairs at once from a model that scores stages in bulk
    (:class:`matcher.protocols.StageScoringModel`), else one :meth:`explain` each."""
    workers = hires[Columns.Worker].astype(str).to_numpy()
    vacancies = hires[Columns.Vacancy].astype(str).to_numpy()
    if isinstance(model, StageScoringModel):
        frame = model.pair_stages(workers, vacancies)
        if "stay" not in frame.columns:
            return np.full(len(hires), np.nan)
        return frame["stay"].to_numpy(dtype=float)
    p = np.full(len(hires), np.nan)
    for i, (w, v) in enumerate(zip(workers, vacancies, strict=True)):
        try:
            stages = model.explain(w, v).get("stages") or {}
        except (KeyError, ValueError, LookupError) as exc:
            log.debug("stay model cannot score %s/%s: %s", w, v, type(exc).__name__)
            continue
        if "stay" in stages:
            p[i] = float(stages["stay"])
    return p


def evaluate_survival(
    model: ExplainingModel,
    dataset: Dataset,
    cutoff: pd.Timestamp,
    until: pd.Timestamp,
    horizons: tuple[int, ...] = HORIZONS,
) -> SurvivalReport:
    """The stay model as a survival model (see the module docstring)."""
    rep = SurvivalReport()
    spells = hire_spells(dataset.events, until)
    if spells.empty:
        rep.note = "no hires in the snapshot"
        return rep
    # --- the baseline: training-period hires, observed until the cutoff
    train = spells[spells["hired_at"] < cutoff]
    t_end = train["ended_at"].where(train["ended_at"] < cutoff)
    spell = pd.to_timedelta(t_end.fillna(cutoff) - train["hired_at"])
    train_time = (spell.dt.total_seconds() / _DAY.total_seconds()).to_numpy(float)
    train_event = t_end.notna().to_numpy()
    rep.train_hires = len(train)
    km_t, km_s = kaplan_meier(train_time, train_event)
    # --- the evaluated hires: fate unknown at the cutoff
    known = (spells["ended_at"] < cutoff) | (spells["retained_at"] < cutoff)
    ev = spells[~known.fillna(False)].reset_index(drop=True)
    if ev.empty:
        rep.note = "every hire's fate was known at the cutoff"
        return rep
    p = _stay_probabilities(model, ev)
    ok = np.isfinite(p)
    rep.skipped = int((~ok).sum())
    ev, p = ev[ok].reset_index(drop=True), np.clip(p[ok], 1e-6, 1 - 1e-6)
    if ev.empty:
        rep.note = "the model scored none of the evaluated hires"
        return rep
    entry = np.maximum(((cutoff - ev["hired_at"]) / _DAY).to_numpy(float), 0.0)
    end = ev["ended_at"]
    time = ((end.fillna(until) - ev["hired_at"]) / _DAY).to_numpy(float)
    event = end.notna().to_numpy()
    time = np.maximum(time, entry)
    rep.n, rep.events = len(ev), int(event.sum())
    rep.max_follow_up_days = float(time.max())

    # a calibrated ranker's stay stage is P(still there after its horizon | hired)
    # (matcher.models.calibration): anchor there; beyond the training follow-up the
    # baseline's last value stands in (its tail is not estimable)
    anchor_days = float(ANCHOR_DAYS)
    if isinstance(model, StablePlacementModel) and model.stable_weeks is not None:
        anchor_days = 7.0 * model.stable_weeks
    anchor = float(survival_at(km_t, km_s, anchor_days))
    if 0.0 < anchor < 1.0:
        hazard = np.log(p) / np.log(anchor)
    else:
        hazard = (1 - p) / max(float(np.mean(1 - p)), 1e-9)

    def model_surv(t: float | np.ndarray) -> np.ndarray:
        return np.power(survival_at(km_t, km_s, t), hazard)

    rep.concordance = _finite(concordance_index(time, event, 1 - p, entry=entry))
    if np.ptp(p) == 0:
        rep.note = (
            "the stay stage gave every hire the same probability (it falls back to the base "
            "rate when training holds too few hires of known fate, e.g. no 3-month retention "
            "can be observed in a training window shorter than 3 months): concordance 0.5"
        )
    at_entry_model = np.power(survival_at(km_t, km_s, entry), hazard)
    at_entry_km = survival_at(km_t, km_s, entry)
    for h in horizons:
        if time.max() < h:
            rep.brier[h] = rep.brier_baseline[h] = None
            continue
        rep.brier[h] = _finite(
            brier_score(
                time, event, model_surv(h), h, entry=entry, predicted_at_entry=at_entry_model
            )
        )
        base = np.full(len(ev), float(survival_at(km_t, km_s, h)))
        rep.brier_baseline[h] = _finite(
            brier_score(time, event, base, h, entry=entry, predicted_at_entry=at_entry_km)
        )
    grid = np.arange(0, max(horizons) + 1, 5, dtype=float)
    obs_t, obs_s = kaplan_meier(time, event, entry)
    observed = survival_at(obs_t, obs_s, grid[grid <= time.max()])
    rep.curves = {
        "days": grid.tolist(),
        "baseline": survival_at(km_t, km_s, grid).tolist(),
        "model_mean": [float(np.mean(model_surv(t))) for t in grid],
        "observed": observed.tolist(),
    }
    return rep


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
