"""Time split of a market snapshot: train on the past, test on the weeks after.

The rule, the same for every model measured in a run
----------------------------------------------------
``cutoff = until - test_weeks``.

* **Train snapshot** — ``dataset.until(cutoff)``: workers registered, vacancies
  posted and events that occurred strictly before the cutoff. Vacancy
  ``status`` is then rewritten *as it was at the cutoff* (the stored status is
  today's, which would leak: a vacancy filled during the test weeks must still
  look open at the cutoff). ``headcount`` is, by the contract, the seats still
  open *at the snapshot*, so the seats open at the cutoff are the stored
  headcount plus the workers hired on or after the cutoff — the state the
  market was really in, which a model at the cutoff could have seen. Status:
  ``closed`` when ``closes_at <= cutoff``, ``filled`` when no seat was left at
  the cutoff, else ``open``. A stored ``closed`` without a ``closes_at`` cannot
  be dated and counts as open.
  Models are fitted on this snapshot only, so every feature, statistic,
  vocabulary and embedding they use comes from training-period data.
* **Candidate vacancies** — those open at the cutoff (by the rule above): what
  an officer could have been shown on that day. Vacancies posted during the
  test weeks are unknown to a model fitted at the cutoff; test outcomes on
  them are left out (their number is reported in :attr:`TimeSplit.dropped`).
* **Test pairs** — (worker, vacancy) pairs whose best outcome in
  ``[cutoff, until)`` is graded (applied 1, hired 2, retained 3), on a
  candidate vacancy, for a worker registered before ``until``, and *first
  pursued* in the test weeks: a pair that already had a graded event before the
  cutoff (e.g. applied in training, hired in test) is left out, because the
  question is which new vacancies a worker should be shown.
* **Serving snapshot** — :attr:`TimeSplit.serving`: the train snapshot plus the
  *profiles* of workers registered during the test weeks (no events of theirs,
  no new vacancies). After fitting, every model is handed it with
  ``refresh(serving, at=cutoff)`` — exactly what the service does for a worker
  who registers after the nightly training — so new workers are served from
  content and nothing learned changes. Profiles are not outcomes; that is the
  only test-period information a model sees.
* **Warm / cold workers** — warm: the worker has at least one training event;
  cold: none (registered before the cutoff without history, or registered
  during the test weeks).

Errors say what to do (:class:`TrainingDataError`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.schema import OUTCOME_GRADE, Columns, EventType, VacancyStatus
from matcher.evaluation.metrics import GRADE, outcome_grades

DEFAULT_TEST_WEEKS = 4

__all__ = [
    "DEFAULT_TEST_WEEKS",
    "TimeSplit",
    "TrainingDataError",
    "as_of",
    "check_trainable",
    "default_until",
    "time_split",
]


class TrainingDataError(ValueError):
    """The store holds too little (or the wrong) data to train or evaluate; says what to do."""


def default_until(dataset: Dataset) -> pd.Timestamp:
    """End of the day (UTC) of the last event: the natural end of the data."""
    last = pd.Timestamp(dataset.events[Columns.OccurredAt].max())
    return last.normalize() + pd.Timedelta(days=1)


def check_trainable(dataset: Dataset) -> None:
    """Refuse a snapshot no model can learn from, with a message saying what to do.

    Raises
    ------
    TrainingDataError
        Empty store (no workers or no vacancies), no events, or only one kind of
        outcome among the events.
    """
    if dataset.n_workers == 0 or dataset.n_vacancies == 0:
        raise TrainingDataError(
            f"the store is empty ({dataset.n_workers} workers, {dataset.n_vacancies} vacancies): "
            "import data first with `jobmatch import FOLDER` "
            "(or make a sample market with `jobmatch synth`)"
        )
    if len(dataset.events) == 0:
        raise TrainingDataError(
            f"the store has {dataset.n_workers} workers and {dataset.n_vacancies} vacancies but "
            "no events (applications, hires, retentions): a model learns from outcomes; "
            "import events.csv with `jobmatch import`"
        )
    kinds = sorted({str(k) for k in pd.unique(dataset.events[Columns.Event])})
    graded = [k for k in kinds if OUTCOME_GRADE.get(k, 0) > 0]
    if not graded:
        raise TrainingDataError(
            f"no application, hire or retention among the events (only {', '.join(kinds)}): "
            "a model learns which vacancies workers pursue and keep; import applied/hired/"
            "retained_3m events as well"
        )
    if len(kinds) < 2:
        raise TrainingDataError(
            f"the events hold only one kind of outcome ({', '.join(kinds)}): the ranker must "
            "tell outcomes apart (applied, hired, retained_3m, rejected...); import the other "
            "outcomes recorded for these workers as well"
        )


def _as_timestamp(value, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if pd.isna(ts):
        raise TrainingDataError(f"{name} is not a date: {value!r}")
    return ts


def as_of(dataset: Dataset, cutoff) -> Dataset:
    """The market as known strictly before ``cutoff``, with vacancy status as of then.

    Parameters
    ----------
    dataset : matcher.Dataset
        The full snapshot.
    cutoff : timestamp-like
        Naive UTC (or tz-aware, converted).

    Returns
    -------
    matcher.Dataset
        ``dataset.until(cutoff)`` with ``vacancies.headcount`` (seats open) and
        ``status`` as they were at the cutoff (see the module docstring).
    """
    cutoff = _as_timestamp(cutoff, "cutoff")
    past = dataset.until(cutoff)
    v = past.vacancies.copy()
    ev = dataset.events
    later = ev[(ev[Columns.OccurredAt] >= cutoff) & (ev[Columns.Event] == EventType.HIRED.value)]
    hired_later = (
        later.drop_duplicates([Columns.Worker, Columns.Vacancy]).groupby(Columns.Vacancy).size()
    )
    seats_now = v["headcount"].astype("Float64")
    seats = seats_now + v[Columns.Vacancy].map(hired_later).fillna(0).astype("Float64")
    v["headcount"] = seats.round().astype("Int64")
    seats_left = seats.fillna(0).to_numpy(dtype=float)
    closed = (v["closes_at"].notna() & (v["closes_at"] <= cutoff)).to_numpy()
    status = np.where(
        closed,
        VacancyStatus.CLOSED.value,
        np.where(seats_left <= 0, VacancyStatus.FILLED.value, VacancyStatus.OPEN.value),
    )
    v["status"] = pd.Series(status, index=v.index, dtype=object)
    return Dataset(workers=past.workers, employers=past.employers, vacancies=v, events=past.events)


@dataclass
class TimeSplit:
    """A train snapshot and the held-out outcomes after it (see the module docstring).

    Attributes
    ----------
    cutoff, until : pandas.Timestamp
        Train on ``[.., cutoff)``, test on ``[cutoff, until)``.
    train : matcher.Dataset
        What models are fitted on.
    serving : matcher.Dataset
        ``train`` plus the profiles of workers registered in the test weeks.
    test : pandas.DataFrame
        ``worker_id, vacancy_id, grade``: the held-out pairs.
    candidates : pandas.Index
        Vacancy ids open at the cutoff (the catalogue for coverage).
    warm_workers, cold_workers : pandas.Index
        Evaluated workers (those with a test pair), by training history.
    dropped : dict
        Counts of test outcomes left out and why.
    """

    cutoff: pd.Timestamp
    until: pd.Timestamp
    train: Dataset
    serving: Dataset
    test: pd.DataFrame
    candidates: pd.Index
    warm_workers: pd.Index
    cold_workers: pd.Index
    source_fingerprint: str
    dropped: dict[str, int] = field(default_factory=dict)
    sample: dict[str, int] | None = None

    @property
    def test_workers(self) -> pd.Index:
        return self.warm_workers.append(self.cold_workers)

    def identity(self) -> dict[str, str]:
        """What makes two splits the same: the data and the two dates.

        Two models' NDCG are comparable only on the same identity (the promotion guard).
        """
        out = {
            "cutoff": self.cutoff.isoformat(),
            "until": self.until.isoformat(),
            "data_fingerprint": self.source_fingerprint,
        }
        if self.sample is not None:
            out["sample"] = f"{self.sample['max_workers']} workers, seed {self.sample['seed']}"
        return out

    def identity_hash(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def summary(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "until": self.until.isoformat(),
            "train": self.train.counts(),
            "test_pairs": len(self.test),
            "test_workers": len(self.test_workers),
            "warm_workers": len(self.warm_workers),
            "cold_workers": len(self.cold_workers),
            "candidate_vacancies": len(self.candidates),
            "workers_registered_in_test_weeks": self.serving.n_workers - self.train.n_workers,
            "dropped": dict(self.dropped),
        }


def time_split(
    dataset: Dataset,
    until=None,
    test_weeks: float = DEFAULT_TEST_WEEKS,
    fingerprint: str | None = None,
    max_workers: int | None = None,
    sample_seed: int = 0,
) -> TimeSplit:
    """Split a snapshot by time (see the module docstring for every rule).

    Parameters
    ----------
    dataset : matcher.Dataset
        The whole snapshot read from the store.
    until : timestamp-like, optional
        End of the test window (exclusive). Default: the end of the day of the
        last event (:func:`default_until`). Events at or after it are ignored.
    test_weeks : float, default 4
        Length of the test window.
    fingerprint : str, optional
        ``dataset.fingerprint()`` if already computed (it is the split's identity).
    max_workers : int, optional
        Evaluate at most this many workers: a uniform random sample (``sample_seed``)
        of the workers with test pairs, so evaluation time stays bounded on a large
        store. Part of the split's identity.
    sample_seed : int

    Returns
    -------
    TimeSplit

    Raises
    ------
    TrainingDataError
        Empty store, no events, one kind of outcome, no training events before
        the cutoff, or no test pairs in the window.
    """
    check_trainable(dataset)
    if test_weeks <= 0:
        raise TrainingDataError(f"--test-weeks must be positive, got {test_weeks}")
    until_ts = default_until(dataset) if until is None else _as_timestamp(until, "--until")
    cutoff = until_ts - pd.Timedelta(weeks=float(test_weeks))
    ev = dataset.events
    first, last = ev[Columns.OccurredAt].min(), ev[Columns.OccurredAt].max()
    span = f"events run from {first:%Y-%m-%d} to {last:%Y-%m-%d}"

    train = as_of(dataset, cutoff)
    if len(train.events) == 0:
        raise TrainingDataError(
            f"too little data for the split: no events before the cutoff {cutoff:%Y-%m-%d} "
            f"(until {until_ts:%Y-%m-%d} minus {test_weeks:g} test weeks); {span}. "
            "Use a smaller --test-weeks or a later --until"
        )
    window = ev[(ev[Columns.OccurredAt] >= cutoff) & (ev[Columns.OccurredAt] < until_ts)]
    graded = outcome_grades(window)
    n_window_pairs = len(graded)
    if n_window_pairs == 0:
        raise TrainingDataError(
            f"too little data for the split: no applications, hires or retentions between the "
            f"cutoff {cutoff:%Y-%m-%d} and {until_ts:%Y-%m-%d}; {span}. "
            "Use a larger --test-weeks or an --until within the data"
        )

    open_v = train.open_vacancies()
    candidates = pd.Index(open_v[Columns.Vacancy], name=Columns.Vacancy)
    wk = dataset.workers
    registered = wk["registered_at"]
    newcomers = wk[registered.notna() & (registered >= cutoff) & (registered < until_ts)]
    serving = Dataset(
        workers=pd.concat([train.workers, newcomers], ignore_index=True),
        employers=train.employers,
        vacancies=train.vacancies,
        events=train.events,
    )
    known_workers = serving.worker_index
    on_candidate = graded[Columns.Vacancy].isin(candidates)
    known = graded[Columns.Worker].isin(known_workers)
    past = outcome_grades(train.events)
    seen = pd.MultiIndex.from_frame(past[[Columns.Worker, Columns.Vacancy]])
    pair = pd.MultiIndex.from_frame(graded[[Columns.Worker, Columns.Vacancy]])
    repeat = pair.isin(seen)
    keep = on_candidate & known & ~repeat
    test = graded[keep].reset_index(drop=True)
    dropped = {
        "pairs_in_window": int(n_window_pairs),
        "new_vacancies": int((~on_candidate).sum()),
        "unknown_workers": int((on_candidate & ~known).sum()),
        "pursued_before_cutoff": int((on_candidate & known & repeat).sum()),
    }
    if len(test) == 0:
        raise TrainingDataError(
            f"too little data for the split: of {n_window_pairs} outcome pairs between "
            f"{cutoff:%Y-%m-%d} and {until_ts:%Y-%m-%d}, none is on a vacancy open at the cutoff "
            f"for a worker registered before {until_ts:%Y-%m-%d} ({dropped}); {span}. "
            "Use a larger --test-weeks or a different --until"
        )

    active = pd.Index(train.events[Columns.Worker].unique())
    workers = pd.Index(np.sort(test[Columns.Worker].unique()), name=Columns.Worker)
    if max_workers is not None and len(workers) > max_workers:
        if max_workers < 1:
            raise TrainingDataError(f"max_workers must be at least 1, got {max_workers}")
        rng = np.random.default_rng(sample_seed)
        chosen = np.sort(rng.choice(len(workers), size=max_workers, replace=False))
        dropped["workers_not_sampled"] = int(len(workers) - max_workers)
        workers = workers[chosen]
        test = test[test[Columns.Worker].isin(workers)].reset_index(drop=True)
    is_warm = workers.isin(active)
    return TimeSplit(
        cutoff=cutoff,
        until=until_ts,
        train=train,
        serving=serving,
        test=test[[Columns.Worker, Columns.Vacancy, GRADE]],
        candidates=candidates,
        warm_workers=workers[is_warm],
        cold_workers=workers[~is_warm],
        source_fingerprint=fingerprint or dataset.fingerprint(),
        dropped=dropped,
        sample=None if max_workers is None else {"max_workers": max_workers, "seed": sample_seed},
    )
