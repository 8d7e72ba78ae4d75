"""Spring Festival departures (春节返乡不返岗), learnt from the events.

Migrant workers go home in the fortnight before the Spring Festival and some do not come
back: field studies of rural labour transfer name it the largest single cause of early
leaving, and more so for jobs far from home. A stay stage learnt from spells in tenure
weeks cannot see it: whether a job's first six months hold a festival depends on the
calendar month of the hire, and a model trained on the spring and summer's spells serves
autumn proposals whose six months all cross the next festival.

:class:`FestivalLeave` measures it on the snapshot's own events: for each festival the
events cover, the hires in post at its cut-off (``WINDOW_DAYS`` before the festival) and
how many of them left between the cut-off and the festival, against the leaving rate of
the same jobs in the rest of the year; by distance (:data:`FAR_KM`, as the pair feature
``far``), shrunk towards no effect (``PRIOR_HIRES``). :meth:`FestivalLeave.keep` is then
the share of a hire's jobs that a festival inside the stay horizon leaves in post, per
distance class, for a hire at a given time; the scorer multiplies the ranker's
P(stable placement | proposed) by it (:class:`matcher.models.scoring.PairScorer`,
``Recommender(festival_leave="learnt")``).

The festival dates come from ``matcher/data/synth_calendar.csv``
(:func:`matcher.data.reference.spring_festivals`); a horizon past its last year holds no
festival.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.reference import coordinate_array, haversine_km, spring_festivals
from matcher.data.schema import Columns
from matcher.models.features import FAR_KM, HIRED_EVENTS, first_spells

__all__ = ["FAR_KM", "WINDOW_DAYS", "FestivalKeep", "FestivalLeave", "far_pairs"]

#: Days before the festival in which workers leave to go home.
WINDOW_DAYS = 14
#: Hires in post worth of "no festival effect" that the estimate is shrunk towards.
PRIOR_HIRES = 20.0
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class FestivalKeep:
    """The share of hires still in post after the festivals inside a stay horizon: ``near``
    for jobs up to :data:`FAR_KM` from home, ``far`` beyond (1.0: no festival ahead)."""

    near: float = 1.0
    far: float = 1.0

    def of(self, far: np.ndarray) -> np.ndarray:
        """Per pair, from the pair feature ``far`` (1 beyond :data:`FAR_KM`, else 0)."""
        return np.where(np.asarray(far, dtype=float) > 0.5, self.far, self.near)


class FestivalLeave:
    """P(leaving at a Spring Festival | in post at its cut-off), near and far from home.

    Attributes
    ----------
    leave_ : dict[str, float]
        ``near`` and ``far``: the excess share leaving in the festival window over the
        same jobs' leaving rate in the rest of the year, shrunk by ``PRIOR_HIRES``.
    counts_ : dict[str, Any]
        Festivals measured, hires in post at their cut-offs and leavers in the windows.
    """

    def __init__(self, window_days: int = WINDOW_DAYS, prior_hires: float = PRIOR_HIRES) -> None:
        self.window_days = window_days
        self.prior_hires = prior_hires

    def fit(self, dataset: Dataset) -> Self:
        """Measure the festival departures of ``dataset``'s events (the hires' distance
        from the worker's home county to the vacancy's region, as the pair feature
        ``far`` has it)."""
        events = dataset.events
        spells = first_spells(events, HIRED_EVENTS)
        self.leave_ = {"near": 0.0, "far": 0.0}
        self.counts_: dict[str, Any] = {"festivals": [], "near": [0, 0], "far": [0, 0]}
        if spells.empty:
            return self
        spells["far"] = far_pairs(
            dataset.workers, dataset.vacancies, spells[Columns.Worker], spells[Columns.Vacancy]
        )
        week_ns = 7 * 86_400 * 10**9
        hired = _weeks(spells["hired_at"], week_ns)
        gone = _weeks(spells["left_at"], week_ns)  # NaN while in post
        last = _weeks(pd.Series([events[Columns.OccurredAt].max()]), week_ns)[0]
        window = self.window_days / 7.0
        festivals = spring_festivals() / week_ns
        covered = [f for f in festivals if f - window > hired.min() and f <= last]
        self.counts_["festivals"] = [
            str(pd.Timestamp(int(round(f * week_ns))).date()) for f in covered
        ]
        is_far = spells["far"].to_numpy(dtype=bool)
        for name, mask in (("near", ~is_far), ("far", is_far)):
            if not mask.any():
                continue
            start, left_at = hired[mask], gone[mask]
            end = np.where(np.isnan(left_at), last, left_at)
            n_post, n_left = 0, 0
            in_window = np.zeros(len(start), dtype=bool)
            exposure_in = np.zeros(len(start))
            for f in covered:
                cut = f - window
                post = (start < cut) & (end >= cut)
                left = post & ~np.isnan(left_at) & (left_at < f)
                n_post += int(post.sum())
                n_left += int(left.sum())
                in_window |= left
                exposure_in += np.clip(np.minimum(end, f) - np.maximum(start, cut), 0.0, None)
            # the same jobs' weekly rate of leaving outside the festival windows
            exposure = float((np.clip(end - start, 0.0, None) - exposure_in).sum())
            left_out = float((~np.isnan(left_at) & ~in_window).sum())
            rate = left_out / max(exposure, 1e-9)
            expected = n_post * (1.0 - np.exp(-rate * window))
            excess = max(n_left - expected, 0.0)
            self.leave_[name] = float(min(excess / (n_post + self.prior_hires), 0.95))
            self.counts_[name] = [n_post, n_left]
        return self

    def keep(self, at: object, horizon_weeks: float) -> FestivalKeep:
        """The share of hires made at ``at`` still in post after the festivals whose
        cut-off falls in their first ``horizon_weeks`` weeks (1.0 when none does or
        before :meth:`fit`)."""
        leave = getattr(self, "leave_", None)
        if leave is None or at is None:
            return FestivalKeep()
        t = pd.Timestamp(str(at))
        if t.tzinfo is not None:
            t = t.tz_convert(None)
        window = self.window_days * _DAY
        end = t + pd.Timedelta(weeks=horizon_weeks)
        n = sum(1 for f in spring_festivals() if t < pd.Timestamp(int(f)) - window <= end)
        return FestivalKeep(near=(1.0 - leave["near"]) ** n, far=(1.0 - leave["far"]) ** n)


def far_pairs(
    workers: pd.DataFrame, vacancies: pd.DataFrame, worker_ids: pd.Series, vacancy_ids: pd.Series
) -> np.ndarray:
    """Per pair, whether the vacancy's region is more than :data:`FAR_KM` from the
    worker's home county (great-circle distance between their reference coordinates, as
    :func:`matcher.models.features.pair_matrix` measures it; False where either is
    unknown)."""
    home = workers.set_index(Columns.Worker)["home_region"]
    region = vacancies.set_index(Columns.Vacancy)["region"]
    a = pd.Index(worker_ids).map(home).to_numpy(dtype=object)
    b = pd.Index(vacancy_ids).map(region).to_numpy(dtype=object)
    codes = pd.unique(np.concatenate([a, b]))
    where = pd.DataFrame(coordinate_array(list(codes)), index=pd.Index(codes), columns=["x", "y"])
    wa = where.reindex(a).to_numpy(dtype=float)
    wb = where.reindex(b).to_numpy(dtype=float)
    dist = haversine_km(wa[:, 0], wa[:, 1], wb[:, 0], wb[:, 1]) if len(a) else np.zeros(0)
    return np.nan_to_num(np.asarray(dist, dtype=float), nan=0.0) > FAR_KM


def _weeks(times: pd.Series, week_ns: int) -> np.ndarray:
    """Timestamps (naive or UTC) as float weeks since the epoch; NaN for NaT."""
    t = pd.to_datetime(times)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert(None)
    ns = t.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
    ns[t.isna().to_numpy()] = np.nan
    return ns / week_ns
