"""Training examples read off the contract events: what the ranker's stages learn from.

Per (worker, vacancy) pair the outcome of a proposal or application (:func:`pair_labels`:
applied, hired, retained, decided), each view of a shown pair as a trial of the apply
stage (:func:`view_trials`), the applications whose employer decision was due
(:func:`due_applications`) and the competition each met (:func:`application_competition`),
the hires at risk of leaving in a window with their tenure (:func:`hires_at_risk`,
:func:`spells_of`), the proposals of a calibration slice and their outcomes
(:func:`proposal_outcomes`), and where the history windows of ``history_stages`` start
(:func:`history_cutoffs`). Everything here reads events only; no model, no catalogue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.schema import PURSUED_EVENTS, Columns, EventType
from matcher.models.calibration import Spells
from matcher.models.features import (
    HIRED_EVENTS,
    LEAVING_EVENTS,
    RANKER_COLUMNS,
    RETAINED_EVENTS,
    first_spells,
)
from matcher.models.ranking import HIRE_COMPETITION

#: Days after an application by which the employer's decision is taken as due.
DECISION_DAYS = 7
_DECIDED = (EventType.REJECTED.value, EventType.DECLINED.value)
LABEL_COLUMNS = [
    Columns.Worker,
    Columns.Vacancy,
    "applied",
    "hired",
    "retained",
    "decided",
    "applied_at",
    "source",
]


#: No earlier applications (a hire stage on covariates fitted on the slice's alone).
NO_APPLICATIONS: tuple[pd.DataFrame, np.ndarray, np.ndarray] = (
    pd.DataFrame(columns=RANKER_COLUMNS),
    np.zeros(0),
    np.zeros((0, 2)),
)


#: Pairs shown, each view a trial: features, applied (0/1), weight (views).
ShownTrials = tuple[pd.DataFrame, np.ndarray, np.ndarray]
NO_VIEWS: ShownTrials = (pd.DataFrame(columns=RANKER_COLUMNS), np.zeros(0), np.zeros(0))


def view_trials(shown: pd.DataFrame, applied: pd.DataFrame) -> pd.DataFrame:
    """Each view of a pair a trial of the apply stage: ``shown`` (worker, vacancy,
    ``views``) against the pairs ``applied`` to; an applied pair is one trial with
    ``y`` 1 and its other views trials with ``y`` 0 (columns worker, vacancy, ``y``,
    ``w``: the trials a row stands for)."""
    keys = [Columns.Worker, Columns.Vacancy]
    did = pd.MultiIndex.from_frame(shown[keys]).isin(pd.MultiIndex.from_frame(applied[keys]))
    n_views = shown["views"].to_numpy(dtype=float)
    trials = pd.concat(
        [
            shown.loc[did, keys].assign(y=1.0, w=1.0),
            shown[keys].assign(y=0.0, w=n_views - did),
        ],
        ignore_index=True,
    )
    return trials[trials["w"] > 0]


def concat_trials(parts: list[ShownTrials | None]) -> ShownTrials | None:
    """The trials of several windows as one (None when no window has any)."""
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return (
        pd.concat([p[0] for p in kept], ignore_index=True),
        np.concatenate([p[1] for p in kept]),
        np.concatenate([p[2] for p in kept]),
    )


def due_applications(
    dataset: Dataset, windows: list[tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The applications of training windows whose decision was due by the window's end
    (hired, rejected or declined in it, or applied at least :data:`DECISION_DAYS` before
    it), with their features, hired (0/1) and the competition each met
    (:func:`application_competition`). ``windows``: (features, labels, end) per window,
    the rows of ``RankerTrainer._ranker_fold`` (:mod:`matcher.models.ranker_training`;
    sampled negatives are left out)."""
    feats, hired, comp = [], [], []
    for window_feats, labels, end in windows:
        due = _due(labels, end)
        rows = labels[due.to_numpy()].reset_index(drop=True)
        feats.append(window_feats[due.to_numpy()].reset_index(drop=True))
        hired.append(rows["hired"].to_numpy(dtype=float))
        comp.append(
            application_competition(dataset.events, dataset.vacancies, rows, rows["applied_at"])
        )
    if not feats:
        return NO_APPLICATIONS
    return (
        pd.concat(feats, ignore_index=True),
        np.concatenate(hired),
        np.vstack(comp),
    )


def _due(labels: pd.DataFrame, end: pd.Timestamp) -> pd.Series:
    """Which rows of ``labels`` are applications whose decision was due by ``end``."""
    return (labels["applied"] == 1) & (
        (labels["hired"] == 1)
        | (labels["decided"] == 1)
        | (labels["applied_at"] < end - pd.Timedelta(days=DECISION_DAYS))
    )


def due_offers(
    dataset: Dataset, windows: list[tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]]
) -> np.ndarray:
    """:func:`offer_outcomes` of :func:`due_applications`' rows, in its order ``(n, 2)``."""
    out = [
        offer_outcomes(dataset.events, labels[_due(labels, end).to_numpy()])
        for _, labels, end in windows
    ]
    return np.vstack(out) if out else np.zeros((0, 2))


def offer_outcomes(events: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Per (worker, vacancy) application of ``pairs``, ``(n, 2)``: whether the employer
    made an offer (1 when the pair was ``hired`` or ``declined``: an offer taken or
    turned down) and ``log1p`` of the worker's other offers within
    :data:`COMPETITION_DAYS` of this one's (0 without an offer). The worker's choice among
    the offers he held is in the second (the hire stage's acceptance,
    :class:`matcher.models.calibration.OfferAcceptance`)."""
    n = len(pairs)
    if n == 0:
        return np.zeros((0, 2))
    kinds = events[Columns.Event].astype(str)
    made = events[kinds.isin((EventType.HIRED.value, EventType.DECLINED.value))]
    offers = made.groupby([Columns.Worker, Columns.Vacancy], sort=False)[Columns.OccurredAt].min()
    key = pd.MultiIndex.from_arrays(
        [
            pairs[Columns.Worker].to_numpy(dtype=object),
            pairs[Columns.Vacancy].to_numpy(dtype=object),
        ]
    )
    at = pd.Series(offers.reindex(key).to_numpy())
    offered = at.notna().to_numpy()
    when = _seconds(at)
    offer_w = offers.index.get_level_values(0).to_numpy(dtype=object)
    offer_t = _seconds(pd.Series(offers.to_numpy()))
    half = int(COMPETITION_DAYS * 86_400)
    worker = pairs[Columns.Worker].to_numpy(dtype=object)
    near = _count_near(offer_w, offer_t, worker, np.where(offered, when, 0), half)
    held = np.where(offered, np.maximum(near - 1.0, 0.0), 0.0)
    return np.column_stack([offered.astype(float), np.log1p(held)])


#: ``history_stages``: the history before the calibration slice is cut into windows
#: (latest first, ``history_windows`` of them) of this share of the events each, shorter
#: than a vacancy stays open, so that most applications fall on a vacancy open at the
#: start of their window (a window holds only those).
HISTORY_SHARE = 0.1
#: No hires at risk (a history without windows).
NO_SPELLS = pd.DataFrame(
    {
        Columns.Worker: pd.Series(dtype=object),
        Columns.Vacancy: pd.Series(dtype=object),
        "entry": pd.Series(dtype=float),
        "exit": pd.Series(dtype=float),
        "left": pd.Series(dtype=float),
    }
)


def history_cutoffs(times: pd.Series, calibration_share: float, windows: int) -> list[pd.Timestamp]:
    """Starts of the history windows of ``history_stages`` (latest first): the
    ``1 - calibration_share - k * HISTORY_SHARE`` quantiles of the event ``times`` for
    ``k = 1 .. windows``, down to the 0.05 quantile (a window needs events
    before it to fit retrieval on); each window ends where the next later one starts,
    the latest at the calibration slice."""
    out: list[pd.Timestamp] = []
    for k in range(1, windows + 1):
        share = calibration_share + k * HISTORY_SHARE
        if share > 0.95 + 1e-9:
            break
        out.append(pd.Timestamp(times.quantile(1.0 - share)))  # type: ignore[arg-type]
    return out


def history_applications(
    dataset: Dataset,
    windows: list[tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]],
    hire_map: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The applications of the history ``windows`` whose decision was due by each
    window's end, as the hire booster takes them
    (:meth:`matcher.models.ranking.StablePlacementRanker.fit`, ``applications``):
    features and labels (``hired``; with ``hire_map="competition"`` the competition
    each met, :data:`HIRE_COMPETITION`)."""
    feats, hired, comp = due_applications(dataset, windows)
    labels = pd.DataFrame({"hired": hired})
    if hire_map == "competition":
        labels[list(HIRE_COMPETITION)] = comp
    return feats, labels


def pair_labels(events: pd.DataFrame) -> pd.DataFrame:
    """Per (worker, vacancy): applied, hired (0/1), retained (1, 0, NaN unknown),
    ``decided`` (rejected or declined, 0/1) and ``applied_at`` (first application)."""
    if len(events) == 0:
        return pd.DataFrame(columns=LABEL_COLUMNS)
    ev = events[[Columns.Worker, Columns.Vacancy, Columns.Event, Columns.OccurredAt]].copy()
    e = ev[Columns.Event].astype(str)
    ev["applied"] = e.isin(PURSUED_EVENTS).astype(float)
    ev["hired"] = e.isin(HIRED_EVENTS).astype(float)
    ev["ret"] = e.isin(RETAINED_EVENTS).astype(float)
    ev["left"] = e.isin(LEAVING_EVENTS).astype(float)
    ev["decided"] = e.isin(_DECIDED).astype(float)
    at = ev[Columns.OccurredAt]
    ev["applied_at"] = at.where(ev["applied"] == 1)
    g = ev.groupby([Columns.Worker, Columns.Vacancy], sort=True).agg(
        applied=("applied", "max"),
        hired=("hired", "max"),
        ret=("ret", "max"),
        left=("left", "max"),
        decided=("decided", "max"),
        applied_at=("applied_at", "min"),
    )
    retained = np.where(g["ret"] == 1, 1.0, np.where(g["left"] == 1, 0.0, np.nan))
    out = g.reset_index()[
        [Columns.Worker, Columns.Vacancy, "applied", "hired", "decided", "applied_at"]
    ]
    out["retained"] = retained
    out["source"] = "event"
    return out[LABEL_COLUMNS]


#: Applications this close in time (either side) compete for the same seats and offers:
#: the sample market's employers decide on a week's applicants together.
COMPETITION_DAYS = 3.5


def application_competition(
    events: pd.DataFrame,
    vacancies: pd.DataFrame,
    pairs: pd.DataFrame,
    at: pd.Series,
) -> np.ndarray:
    """The competition each (worker, vacancy) pair of ``pairs`` met at time ``at`` (one
    per row), in :data:`matcher.models.ranking.HIRE_COMPETITION` order, ``(n, 2)``:

    * ``log1p(rivals / seats)``: the other workers' applications (``applied`` events) to
      the vacancy within :data:`COMPETITION_DAYS` of ``at``, per seat then left (the
      vacancy's ``headcount`` now plus its hires at or after ``at``; at least 1);
    * ``log1p(own)``: the worker's applications to other vacancies within
      :data:`COMPETITION_DAYS` of ``at`` (a worker with several offers takes one).

    Outcomes are not read: only applications, seats and hires, which the hire stage's
    calibration slice holds anyway. A missing ``at`` counts nothing (0, 0).
    """
    n = len(pairs)
    if n == 0:
        return np.zeros((0, 2))
    kinds = events[Columns.Event].astype(str)
    apps = events[kinds == EventType.APPLIED.value]
    hires = events[kinds == EventType.HIRED.value]
    half = int(COMPETITION_DAYS * 86_400)
    when = _seconds(pd.Series(at).reset_index(drop=True))
    known = when >= 0
    worker = pairs[Columns.Worker].to_numpy(dtype=object)
    vacancy = pairs[Columns.Vacancy].to_numpy(dtype=object)
    app_w = apps[Columns.Worker].to_numpy(dtype=object)
    app_v = apps[Columns.Vacancy].to_numpy(dtype=object)
    app_t = _seconds(apps[Columns.OccurredAt])
    own_pair = _count_near(_pair_key(app_w, app_v), app_t, _pair_key(worker, vacancy), when, half)
    on_vacancy = _count_near(app_v, app_t, vacancy, when, half)
    by_worker = _count_near(app_w, app_t, worker, when, half)
    hire_t = _seconds(hires[Columns.OccurredAt])
    hire_v = hires[Columns.Vacancy].to_numpy(dtype=object)
    later = _count_near(hire_v, hire_t, vacancy, when, lo=0, hi=None)
    heads = vacancies.set_index(Columns.Vacancy)["headcount"]
    now = pd.Series(vacancy).map(heads).to_numpy(dtype=float)
    seats = np.maximum(np.nan_to_num(now, nan=1.0) + later, 1.0)
    rivals = np.maximum(on_vacancy - own_pair, 0)
    own = np.maximum(by_worker - own_pair, 0)
    out = np.column_stack([np.log1p(rivals / seats), np.log1p(own)])
    out[~known] = 0.0
    return out


def _seconds(times: pd.Series) -> np.ndarray:
    """Whole seconds since the epoch (int64), -1 where missing."""
    t = pd.to_datetime(times)
    ns = t.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.where(t.isna().to_numpy(), -1, ns // 10**9)


def _pair_key(worker: np.ndarray, vacancy: np.ndarray) -> np.ndarray:
    return (
        pd.Series(worker).astype(str).str.cat(pd.Series(vacancy).astype(str), sep="\x1f").to_numpy()
    )


def _count_near(
    keys: np.ndarray,
    times: np.ndarray,
    q_keys: np.ndarray,
    q_times: np.ndarray,
    half: int | None = None,
    *,
    lo: int | None = None,
    hi: int | None = 0,
) -> np.ndarray:
    """For each query (key, time): how many events of the same key fall within ``half``
    seconds of its time, or (``half`` None) in ``[time + lo, time + hi]`` (``hi`` None:
    no upper end)."""
    if half is not None:
        lo, hi = -half, half
    codes, uniques = pd.factorize(pd.Series(np.concatenate([keys, q_keys]), dtype=object))
    ev_code, q_code = codes[: len(keys)].astype(np.int64), codes[len(keys) :].astype(np.int64)
    if len(keys) == 0:
        return np.zeros(len(q_keys))
    base = int(min(times.min(), q_times.min())) - 10**7
    span = int(max(times.max(), q_times.max())) - base + 2 * 10**7
    composite = np.sort(ev_code * span + (times - base))
    start = q_code * span + (q_times - base + (lo or 0))
    stop = q_code * span + (q_times - base + hi) if hi is not None else (q_code + 1) * span - 1
    return (
        np.searchsorted(composite, stop, side="right")
        - np.searchsorted(composite, start, side="left")
    ).astype(float)


def hires_at_risk(events: pd.DataFrame, start: pd.Timestamp, stop: pd.Timestamp) -> pd.DataFrame:
    """Hires at risk of leaving in ``[start, stop)``: hired before ``stop`` and not left
    before ``start``. Per (worker, vacancy), in tenure weeks: ``entry`` (0 when hired in
    the window, else the tenure at ``start``: left truncation), ``exit`` (tenure at
    leaving or at ``stop``) and ``left`` (1 when it left before ``stop``, 0 censored)."""
    out = first_spells(events, (EventType.HIRED,), stop)
    out = out[out["left_at"].isna() | (out["left_at"] >= start)]
    week = pd.Timedelta(weeks=1).total_seconds()
    stopped = out["left_at"].where(out["left_at"].notna(), stop)
    begun = out["hired_at"].where(out["hired_at"] > start, start)
    return pd.DataFrame(
        {
            Columns.Worker: out[Columns.Worker].to_numpy(dtype=object),
            Columns.Vacancy: out[Columns.Vacancy].to_numpy(dtype=object),
            "entry": (begun - out["hired_at"]).dt.total_seconds().to_numpy(dtype=float) / week,
            "exit": (stopped - out["hired_at"]).dt.total_seconds().to_numpy(dtype=float) / week,
            "left": out["left_at"].notna().to_numpy(dtype=float),
        }
    )


def proposal_outcomes(
    views: pd.DataFrame,
    shown: pd.DataFrame,
    fresh: pd.DataFrame,
    at_risk: pd.DataFrame,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """The proposals of a calibration slice and their outcomes, for the joint calibration
    (:class:`matcher.models.ranking.Proposals`): the servable pairs ``shown`` (with their
    ``views``) whose decision is due (first shown at least ``DECISION_DAYS`` before
    ``end``, or hired); ``hired`` when the pair was hired in the slice (``fresh``), with
    ``weeks`` from the hire to leaving or to the end and ``left`` from ``at_risk``.
    A hired pair is one row of weight 1 plus a row for its other views (0, weight
    views - 1); a pair not hired is one row weighted by its views."""
    keys = [Columns.Worker, Columns.Vacancy]
    if len(shown) == 0:
        return pd.DataFrame(columns=[*keys, "hired", "weeks", "left", "w", "first_view"])
    first = views.groupby(keys)[Columns.OccurredAt].min().rename("first_view")
    out = shown.join(first, on=keys)
    hires = fresh.loc[fresh["hired"] == 1, keys].assign(hired=1.0)
    out = out.merge(hires, on=keys, how="left")
    out["hired"] = out["hired"].fillna(0.0)
    due = (out["hired"] == 1) | (out["first_view"] < end - pd.Timedelta(days=DECISION_DAYS))
    out = out[due]
    spells = at_risk.assign(weeks=at_risk["exit"])[[*keys, "weeks", "left"]]
    out = out.merge(spells, on=keys, how="left")
    hired = out["hired"].to_numpy() == 1
    # a hire without a spell (its hire event outside the slice's view): no stay known
    out = out[~hired | out["weeks"].notna().to_numpy()]
    out["weeks"] = out["weeks"].fillna(0.0)
    out["left"] = out["left"].fillna(0.0)
    views_n = out["views"].to_numpy(dtype=float)
    hired_rows = out[out["hired"] == 1].assign(w=1.0)
    rest = out.assign(hired=0.0, weeks=0.0, left=0.0, w=views_n - out["hired"].to_numpy())
    both = pd.concat([hired_rows, rest[rest["w"] > 0]], ignore_index=True)
    return both[[*keys, "hired", "weeks", "left", "w", "first_view"]]


def spells_of(frame: pd.DataFrame) -> Spells:
    return Spells(
        frame["entry"].to_numpy(dtype=float),
        frame["exit"].to_numpy(dtype=float),
        frame["left"].to_numpy(dtype=float),
    )
