"""The ``Dataset``: the four contract tables in one normal form, with id mappings.

Every model in jobmatch takes a ``Dataset``; ids are mapped to integer indices
here, once, and models never see raw ids (the LightFM habit). A Dataset is a
snapshot: build it from validated frames (``Dataset.from_frames``), from the
store (``service.store.repository.load_dataset``) or from the sample market.

Normal form of the frames
-------------------------
* list fields (languages, skills lists, regions): Python lists of str, ``[]`` when empty
* booleans: pandas nullable ``boolean``; integers: ``Int64``; floats: ``float64``
* times: ``datetime64[ns]`` naive UTC
* strings and enum values: ``object`` holding ``str`` or ``None``
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.data.schema import CONTRACT, Columns, Kind, TableSpec

_LIST_KINDS = (Kind.STR_LIST, Kind.REGION_LIST, Kind.LANG_LIST)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    return [str(v) for v in value]


def normalise_frame(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Bring an already-validated frame to the normal form, with every contract column.

    Missing optional columns are added empty; extra columns are kept (the
    contract grows only by optional columns).
    """
    out = frame.copy()
    for f in spec.fields:
        if f.name not in out.columns:
            out[f.name] = None
        col = out[f.name]
        if f.kind in _LIST_KINDS:
            out[f.name] = [_as_list(v) for v in col]
        elif f.kind == Kind.BOOL:
            out[f.name] = col.astype("boolean")
        elif f.kind == Kind.INT:
            out[f.name] = pd.to_numeric(col).astype("Int64")
        elif f.kind == Kind.FLOAT:
            out[f.name] = pd.to_numeric(col).astype("float64")
        elif f.kind in (Kind.DATE, Kind.DATETIME):
            ts = pd.to_datetime(col, utc=True, format="ISO8601")
            out[f.name] = ts.dt.tz_convert(None).astype("datetime64[ns]")
        else:
            out[f.name] = col.astype(object).where(col.notna(), None)
    extra = [c for c in out.columns if c not in spec.columns]
    return out[spec.columns + extra].reset_index(drop=True)


@dataclass
class Dataset:
    """A snapshot of the labour market: workers, employers, vacancies and events.

    Attributes
    ----------
    workers, employers, vacancies, events : pandas.DataFrame
        The contract tables in normal form.
    worker_index, vacancy_index : pandas.Index
        External id -> row position mappings (position i is row i of the frame).
    """

    workers: pd.DataFrame
    employers: pd.DataFrame
    vacancies: pd.DataFrame
    events: pd.DataFrame
    worker_index: pd.Index = field(init=False)
    vacancy_index: pd.Index = field(init=False)
    employer_index: pd.Index = field(init=False)

    def __post_init__(self) -> None:
        self.worker_index = pd.Index(self.workers[Columns.Worker], name=Columns.Worker)
        self.vacancy_index = pd.Index(self.vacancies[Columns.Vacancy], name=Columns.Vacancy)
        self.employer_index = pd.Index(self.employers[Columns.Employer], name=Columns.Employer)

    @classmethod
    def from_frames(
        cls,
        workers: pd.DataFrame,
        employers: pd.DataFrame,
        vacancies: pd.DataFrame,
        events: pd.DataFrame | None = None,
    ) -> Dataset:
        """Build a Dataset from validated contract frames (any column order)."""
        if events is None:
            events = pd.DataFrame(columns=CONTRACT["events"].columns)
        ds = cls(
            workers=normalise_frame(workers, CONTRACT["workers"]),
            employers=normalise_frame(employers, CONTRACT["employers"]),
            vacancies=normalise_frame(vacancies, CONTRACT["vacancies"]),
            events=normalise_frame(events, CONTRACT["events"])
            .sort_values([Columns.OccurredAt, Columns.Worker, Columns.Vacancy, Columns.Event])
            .reset_index(drop=True),
        )
        return ds

    # ------------------------------------------------------------------ views

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_vacancies(self) -> int:
        return len(self.vacancies)

    def worker_pos(self, ids) -> np.ndarray:
        """Row positions of worker ids; -1 where an id is unknown."""
        return self.worker_index.get_indexer(pd.Index(ids))

    def vacancy_pos(self, ids) -> np.ndarray:
        """Row positions of vacancy ids; -1 where an id is unknown."""
        return self.vacancy_index.get_indexer(pd.Index(ids))

    def worker(self, worker_id: str) -> pd.Series:
        pos = self.worker_index.get_indexer(pd.Index([worker_id]))[0]
        if pos < 0:
            raise KeyError(f"unknown worker_id {worker_id!r}")
        return self.workers.iloc[pos]

    def vacancy(self, vacancy_id: str) -> pd.Series:
        pos = self.vacancy_index.get_indexer(pd.Index([vacancy_id]))[0]
        if pos < 0:
            raise KeyError(f"unknown vacancy_id {vacancy_id!r}")
        return self.vacancies.iloc[pos]

    def open_vacancies(self, at: pd.Timestamp | None = None) -> pd.DataFrame:
        """Vacancies open with seats left (and, given ``at``, posted and not yet closed)."""
        v = self.vacancies
        mask = (v["status"].fillna("open") == "open") & (v["headcount"].fillna(0) > 0)
        if at is not None:
            mask &= v["posted_at"].isna() | (v["posted_at"] <= at)
            mask &= v["closes_at"].isna() | (v["closes_at"] > at)
        return v[mask]

    # ------------------------------------------------------------------ time

    def until(self, cutoff: pd.Timestamp) -> Dataset:
        """The market as it was known strictly before ``cutoff``.

        Events at or after the cutoff are dropped; so are workers registered
        and vacancies posted at or after it. Nothing about the future leaks
        into the returned snapshot.
        """
        cutoff = pd.Timestamp(cutoff)
        w = self.workers[
            self.workers["registered_at"].isna() | (self.workers["registered_at"] < cutoff)
        ]
        v = self.vacancies[
            self.vacancies["posted_at"].isna() | (self.vacancies["posted_at"] < cutoff)
        ]
        e = self.events[self.events[Columns.OccurredAt] < cutoff]
        e = e[
            e[Columns.Worker].isin(w[Columns.Worker]) & e[Columns.Vacancy].isin(v[Columns.Vacancy])
        ]
        return Dataset(
            workers=w.reset_index(drop=True),
            employers=self.employers.copy(),
            vacancies=v.reset_index(drop=True),
            events=e.reset_index(drop=True),
        )

    def fingerprint(self) -> str:
        """A stable hash of the snapshot's contents (for model cards and run ids)."""
        h = hashlib.sha256()
        for name in ("workers", "employers", "vacancies", "events"):
            frame = getattr(self, name)
            h.update(name.encode())
            h.update(str(len(frame)).encode())
            hashed = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
            h.update(hashed.tobytes())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        return {
            "workers": self.n_workers,
            "employers": len(self.employers),
            "vacancies": self.n_vacancies,
            "events": len(self.events),
        }


def snapshot_time(dataset: Dataset) -> pd.Timestamp | None:
    """The latest time the snapshot knows of (events, postings, registrations); None
    for a snapshot with no time in it."""
    stamps = [
        dataset.events[Columns.OccurredAt].max() if len(dataset.events) else pd.NaT,
        dataset.vacancies["posted_at"].max() if len(dataset.vacancies) else pd.NaT,
        dataset.workers["registered_at"].max() if len(dataset.workers) else pd.NaT,
    ]
    valid = [pd.Timestamp(s) for s in stamps if not pd.isna(s)]
    return max(valid) if valid else None
