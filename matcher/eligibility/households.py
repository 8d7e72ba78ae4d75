"""One public-welfare post per household, against the posts households already hold.

Public-welfare posts (公益性岗位, channel ``public_welfare_post``) go one per household:
while a member holds one, no member of the household is proposed another. The nightly
plan keeps that rule among its own proposals (``matcher.planning.assignment``); this
module applies it against the posts the events say a household holds at a time ``at``,
so that neither the lists nor the plan spend a seat on a pair that cannot end in a hire.

A worker *holds* a post from its ``hired`` event until a ``left`` event on the same
vacancy (at or before ``at``); a worker without a ``household_id`` is a household of one.
The events, the vacancies' channels and the workers' households are all the rule reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.data.schema import Channel, Columns, EventType

#: the workers table's column that links members of one household
HOUSEHOLD = "household_id"
#: the vacancies table's column that names the channel
CHANNEL = "channel"


def household_keys(workers: pd.DataFrame) -> pd.Series:
    """Each worker's household key (by worker id): ``household_id``, or the worker's own
    id (``worker:<id>``) when it is blank or the column is absent."""
    ids = workers[Columns.Worker].astype(str)
    own = "worker:" + ids
    if HOUSEHOLD not in workers.columns:
        return pd.Series(own.to_numpy(), index=ids.to_numpy())
    hh = workers[HOUSEHOLD]
    blank = hh.isna() | (hh.astype(str).str.strip() == "")
    keys = hh.astype(str).where(~blank, own)
    return pd.Series(keys.to_numpy(), index=ids.to_numpy())


def public_vacancy_ids(vacancies: pd.DataFrame) -> pd.Index:
    """The ids of the vacancies that are public-welfare posts."""
    return pd.Index(vacancies.loc[is_public_post(vacancies), Columns.Vacancy].astype(str))


def is_public_post(vacancies: pd.DataFrame) -> np.ndarray:
    """Whether each row of ``vacancies`` is a public-welfare post."""
    if CHANNEL not in vacancies.columns:
        return np.zeros(len(vacancies), dtype=bool)
    return (vacancies[CHANNEL].astype(str) == Channel.PUBLIC_WELFARE_POST.value).to_numpy()


def public_post_holders(
    events: pd.DataFrame,
    vacancies: pd.DataFrame,
    workers: pd.DataFrame,
    at: pd.Timestamp | None = None,
) -> frozenset[str]:
    """The household keys (:func:`household_keys`) of the households a member of which
    holds a public-welfare post at ``at`` (all events when None): hired on it at or
    before ``at`` and no ``left`` event on the same vacancy after that hire and at or
    before ``at``."""
    public = public_vacancy_ids(vacancies)
    if len(public) == 0 or len(events) == 0:
        return frozenset()
    ev = events[events[Columns.Vacancy].astype(str).isin(public)]
    kinds = ev[Columns.Event].astype(str)
    ev = ev[kinds.isin([EventType.HIRED.value, EventType.LEFT.value])]
    if at is not None:
        when = pd.Timestamp(at)
        if when.tzinfo is not None:  # the events are naive UTC
            when = when.tz_convert("UTC").tz_localize(None)
        ev = ev[pd.to_datetime(ev[Columns.OccurredAt]) <= when]
    if len(ev) == 0:
        return frozenset()
    ev = ev.assign(
        _t=pd.to_datetime(ev[Columns.OccurredAt]),
        _left=(ev[Columns.Event].astype(str) == EventType.LEFT.value),
    )
    # the last hire or leave of each (worker, post); a leave at the hire's own time ends it
    last = (
        ev.sort_values(["_t", "_left"], kind="stable")
        .groupby([Columns.Worker, Columns.Vacancy], sort=False)["_left"]
        .last()
    )
    holding = last[~last].index.get_level_values(0).astype(str)
    keys = household_keys(workers)
    out = {keys.get(w, f"worker:{w}") for w in holding}
    return frozenset(out)


def in_households(workers: pd.DataFrame, households: frozenset[str]) -> np.ndarray:
    """Whether each row of ``workers`` belongs to one of ``households`` (keys of
    :func:`household_keys`)."""
    if not households or len(workers) == 0:
        return np.zeros(len(workers), dtype=bool)
    return household_keys(workers).isin(list(households)).to_numpy()


def barred_public_pairs(
    workers: pd.DataFrame, vacancies: pd.DataFrame, holders: frozenset[str]
) -> pd.DataFrame:
    """``worker_id, vacancy_id``: each worker of ``workers`` whose household is in
    ``holders`` with each public-welfare post of ``vacancies``."""
    empty = pd.DataFrame(
        {Columns.Worker: pd.Series(dtype=object), Columns.Vacancy: pd.Series(dtype=object)}
    )
    if not holders or len(workers) == 0:
        return empty
    posts = public_vacancy_ids(vacancies)
    if len(posts) == 0:
        return empty
    barred = pd.Index(workers[Columns.Worker].astype(str))[in_households(workers, holders)]
    if len(barred) == 0:
        return empty
    return pd.DataFrame(
        {
            Columns.Worker: np.repeat(barred.to_numpy(dtype=object), len(posts)),
            Columns.Vacancy: np.tile(posts.to_numpy(dtype=object), len(barred)),
        }
    )
