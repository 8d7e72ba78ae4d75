"""Whether a worker is looking for work now, learned from the events.

The ranker's probability of a stable placement is learned and calibrated on pairs that
were *shown* to workers who were searching (a view is an exposure); it says what a
proposal is worth to a worker who is looking. Proposals also go to workers who are not:
one who left a job last week and rests at home before searching again, one whose job
had wage arrears or an injury recorded but who never left it (the service marks the job
as needing attention, yet the worker is still there). A proposal to them is worth far
less, and on one probability scale across workers that must show.

:class:`Availability` estimates, per *state* of a worker's job history at a given time
(:func:`worker_states`), the share of searching that workers in that state do, relative
to workers who are plainly free (never placed, or their last job ended at least
:data:`FREE_AFTER_WEEKS` weeks ago):

    factor(s) = min(1, rate(s) / rate(free)),
    rate(s)   = worker-weeks in s with a view or an application / worker-weeks in s,

counted on a weekly grid over the events it is fitted on (each worker registered by
the week's start; a state with few worker-weeks is shrunk towards 1 by
:data:`PRIOR_WEEKS` pseudo-weeks at the free rate). The per-proposal probability is the
ranker's probability times the worker's factor (:class:`matcher.models.scoring.PairScorer`):
P(stable | proposed) = P(looking | state) x P(stable | proposed, looking), with
P(looking | state) estimated by the ratio of search rates (activity differences between
states cancel only on average; the ratio is capped at 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.data.schema import Columns, EventType

#: The states of a worker's job history, by code.
STATES = (
    "never placed",
    "left < 1 week ago",
    "left 1-2 weeks ago",
    "left 2-3 weeks ago",
    "left 3-4 weeks ago",
    "left 4-6 weeks ago",
    "left >= 6 weeks ago",
    "in a job",
    "in a job with arrears or an injury recorded",
)
NEVER, LEFT_6 = 0, 6
IN_JOB, IN_JOB_FLAGGED = 7, 8
#: Upper edges (weeks since the last job ended) of the "left ..." states 1-5.
LEFT_EDGES = (1.0, 2.0, 3.0, 4.0, 6.0)
#: A worker whose last job ended this many weeks ago counts as free (the reference).
FREE_AFTER_WEEKS = 6.0
#: Pseudo worker-weeks at the free rate added to every state (shrinks thin states to 1).
PRIOR_WEEKS = 5.0
#: Events that show a worker searching.
SEARCH_EVENTS = (EventType.VIEWED.value, EventType.APPLIED.value)
_FLAGS = (EventType.WAGE_ARREARS.value, EventType.INJURY.value)
WEEK = pd.Timedelta(weeks=1)


def worker_states(events: pd.DataFrame, worker_ids: pd.Index, at: pd.Timestamp) -> np.ndarray:
    """The state code (:data:`STATES`) of each worker of ``worker_ids`` at ``at``, from the
    events before ``at``: the worker's latest hire decides it (left since: weeks since it
    ended; not left: in a job, flagged when wage arrears or an injury were recorded on it).

    Parameters
    ----------
    events : DataFrame
        Contract events (``worker_id, vacancy_id, event, occurred_at``).
    worker_ids : Index
        The workers, in the order of the result.
    at : Timestamp
        The time of the state (naive UTC or tz-aware, like the events' times).

    Returns
    -------
    ndarray of int8
    """
    out = np.full(len(worker_ids), NEVER, dtype=np.int8)
    if len(events) == 0 or len(worker_ids) == 0:
        return out
    times = events[Columns.OccurredAt]
    at = _like(pd.Timestamp(at), times)
    kinds = events[Columns.Event].astype(str)
    before = times < at
    hires = events[before & (kinds == EventType.HIRED.value)]
    if len(hires) == 0:
        return out
    keys = [Columns.Worker, Columns.Vacancy]
    last = (
        hires.sort_values(Columns.OccurredAt, kind="stable")
        .drop_duplicates(Columns.Worker, keep="last")[[*keys, Columns.OccurredAt]]
        .rename(columns={Columns.OccurredAt: "hired_at"})
    )
    later = events[before & kinds.isin((EventType.LEFT.value, *_FLAGS))]
    later = later.merge(last, on=keys)
    later = later[later[Columns.OccurredAt] >= later["hired_at"]]
    kind = later[Columns.Event].astype(str)
    left_at = later[kind == EventType.LEFT.value].groupby(Columns.Worker)[Columns.OccurredAt].min()
    flagged = pd.Index(later.loc[kind.isin(_FLAGS), Columns.Worker].unique())
    pos = worker_ids.get_indexer(pd.Index(last[Columns.Worker]))
    ok = pos >= 0
    w = pd.Index(last[Columns.Worker].to_numpy()[ok])
    state = np.where(w.isin(flagged), IN_JOB_FLAGGED, IN_JOB).astype(np.int8)
    ended = left_at.reindex(w)
    has_left = ended.notna().to_numpy()
    weeks = (at - ended[has_left]).dt.total_seconds().to_numpy(dtype=float) / WEEK.total_seconds()
    state[has_left] = 1 + np.searchsorted(np.asarray(LEFT_EDGES), weeks, side="right")
    out[pos[ok]] = state
    return out


def _like(at: pd.Timestamp, times: pd.Series) -> pd.Timestamp:
    """``at`` with the time zone of ``times`` (naive means UTC)."""
    tz = getattr(times.dt, "tz", None)
    if tz is not None and at.tzinfo is None:
        return at.tz_localize("UTC").tz_convert(tz)
    if tz is None and at.tzinfo is not None:
        return at.tz_convert("UTC").tz_localize(None)
    return at


class Availability:
    """P(looking for work | state of the job history), by the ratio of search rates.

    Parameters
    ----------
    step_days : int, default 7
        Spacing of the grid of weeks it counts on.

    Attributes
    ----------
    factor_ : ndarray of shape (len(STATES),)
        The factor of each state, in ``(0, 1]``.
    weeks_, searched_ : ndarray
        Worker-weeks per state, and those with a view or an application.
    """

    def __init__(self, step_days: int = 7) -> None:
        self.step_days = step_days

    def fit(self, events: pd.DataFrame, workers: pd.DataFrame) -> Availability:
        """Count worker-weeks by state and search on a weekly grid over ``events``.

        Parameters
        ----------
        events : DataFrame
            Contract events.
        workers : DataFrame
            ``worker_id`` and optionally ``registered_at`` (a worker counts from the
            week after registering; without the column, from the first week).

        Returns
        -------
        self
        """
        n = len(STATES)
        self.weeks_ = np.zeros(n)
        self.searched_ = np.zeros(n)
        ids = pd.Index(workers[Columns.Worker])
        if len(events) and len(ids):
            times = events[Columns.OccurredAt]
            kinds = events[Columns.Event].astype(str)
            search = events[kinds.isin(SEARCH_EVENTS)]
            registered = (
                pd.to_datetime(workers["registered_at"], utc=True)
                if "registered_at" in workers
                else pd.Series(pd.NaT, index=workers.index)
            )
            reg = _to_events_tz(registered, times)
            start, stop = pd.Timestamp(times.min()), pd.Timestamp(times.max())
            step = pd.Timedelta(days=self.step_days)
            t = start + step
            while t + step <= stop:
                state = worker_states(events, ids, t)
                present = (reg.isna() | (reg < t)).to_numpy()
                window = search[
                    (search[Columns.OccurredAt] >= t) & (search[Columns.OccurredAt] < t + step)
                ]
                did = ids.isin(pd.Index(window[Columns.Worker].unique()))
                self.weeks_ += np.bincount(state[present], minlength=n)
                self.searched_ += np.bincount(state[present & did], minlength=n)
                t += step
        free = np.array([NEVER, LEFT_6])
        weeks, searched = self.weeks_[free].sum(), self.searched_[free].sum()
        self.free_rate_ = float(searched / weeks) if weeks > 0 else 1.0
        if self.free_rate_ <= 0:
            self.factor_ = np.ones(n)
            return self
        rate = (self.searched_ + PRIOR_WEEKS * self.free_rate_) / (self.weeks_ + PRIOR_WEEKS)
        self.factor_ = np.clip(rate / self.free_rate_, 0.0, 1.0)
        self.factor_[free] = 1.0
        return self

    def predict(self, states: np.ndarray) -> np.ndarray:
        """The factor of each state code."""
        return self.factor_[np.asarray(states, dtype=np.intp)]

    def at(self, events: pd.DataFrame, worker_ids: pd.Index, at: pd.Timestamp) -> np.ndarray:
        """The factor of each worker of ``worker_ids`` at ``at`` (:func:`worker_states`)."""
        return self.predict(worker_states(events, worker_ids, at))

    def table(self) -> pd.DataFrame:
        """Per state: worker-weeks, searched share and factor (for the model card)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = self.searched_ / self.weeks_
        return pd.DataFrame(
            {"state": STATES, "weeks": self.weeks_, "searched": share, "factor": self.factor_}
        )


def _to_events_tz(stamps: pd.Series, times: pd.Series) -> pd.Series:
    """UTC ``stamps`` in the time zone of ``times`` (naive when they are naive)."""
    tz = getattr(times.dt, "tz", None)
    if tz is None:
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.dt.tz_convert(tz)
