"""Reading and writing the contract tables in bulk.

* :func:`upsert` writes a frame in the contract's normal form (``matcher.dataset``)
  into its table: insert-or-update by the table's key with the dialect's own
  ``INSERT ... ON CONFLICT``, in batches, inside the caller's transaction. Events
  are de-duplicated on (worker_id, vacancy_id, event, occurred_at). It tells how
  many rows were inserted, updated and left unchanged.
* :func:`load_dataset` reads the four tables into a :class:`matcher.Dataset`.
* Small read helpers: :func:`existing_ids`, :func:`counts`.

Only the columns present in a frame are written: a column the caller did not send
keeps its stored value; a blank cell in a sent column stores NULL.
Personal-data values are never logged here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    Table,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from matcher.dataset import Dataset
from matcher.schema import CONTRACT, PERSONAL_FIELDS
from service.store.models import Base

log = logging.getLogger(__name__)

#: Rows per INSERT batch (SQLite's default limit is 32,766 bound parameters per statement).
BATCH_ROWS = 5_000
#: Ids per ``IN (...)`` lookup.
LOOKUP_CHUNK = 900
#: Columns the store maintains itself; callers never write them.
_BOOKKEEPING = frozenset({"updated_at", "id"})
#: Extra vacancy columns kept in the Dataset (how the occupation code was obtained).
_EXTRA_READ = {"vacancies": ("occupation_source", "occupation_confidence")}


@dataclass(frozen=True)
class UpsertResult:
    """What one :func:`upsert` did to one table."""

    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.unchanged


def table(name: str) -> Table:
    """The SQLAlchemy table of the store called ``name``."""
    try:
        return Base.metadata.tables[name]
    except KeyError:
        raise KeyError(
            f"the store has no table {name!r}; tables are {', '.join(sorted(Base.metadata.tables))}"
        ) from None


# --------------------------------------------------------------------------- values


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _python_values(series: pd.Series, column) -> list[Any]:
    """The column's values as the Python objects the driver binds (None for missing)."""
    ctype = column.type
    values = series.tolist()
    if isinstance(ctype, JSON):
        out: list[Any] = []
        for v in values:
            if isinstance(v, list | tuple | np.ndarray):
                out.append([str(x) for x in v])
            elif _missing(v):
                out.append([])
            else:
                out.append([str(x) for x in str(v).split(";") if str(x).strip()])
        return out
    if isinstance(ctype, DateTime):
        ts = pd.to_datetime(series, utc=True, format="ISO8601")
        ts = ts.dt.tz_convert(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in ts]
    if isinstance(ctype, Boolean):
        return [None if _missing(v) else bool(v) for v in values]
    if isinstance(ctype, Integer):
        return [None if _missing(v) else int(v) for v in values]
    if isinstance(ctype, Float):
        return [None if _missing(v) else float(v) for v in values]
    return [None if _missing(v) else str(v) for v in values]


def _canonical(v: Any) -> Any:
    """A value in a form that compares equal across the file and the store."""
    if isinstance(v, list | tuple):
        return tuple(v)
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)
    return v


def _null_list_as_empty(v: Any) -> Any:
    return () if v is None else v


# --------------------------------------------------------------------------- writing


def _chunks(seq: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _insert(session: Session) -> Any:
    """The dialect's ``insert`` construct (it has ``on_conflict_do_update``)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    raise RuntimeError(f"upsert supports SQLite and PostgreSQL, not {dialect}")


def _stored_rows(
    session: Session, tbl: Table, key: str, ids: list[str], columns: list[str]
) -> dict[str, tuple]:
    """Stored rows (canonical tuples of ``columns``) of the given ids, by id."""
    out: dict[str, tuple] = {}
    cols = [tbl.c[c] for c in columns]
    json_pos = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    for chunk in _chunks(ids, LOOKUP_CHUNK):
        rows = session.execute(select(tbl.c[key], *cols).where(tbl.c[key].in_(chunk)))
        for row in rows:
            values = [_canonical(v) for v in row[1:]]
            for i in json_pos:
                values[i] = _null_list_as_empty(values[i])
            out[row[0]] = tuple(values)
    return out


def upsert(
    session: Session,
    table_name: str,
    frame: pd.DataFrame,
    *,
    source: str = "import",
    batch_rows: int = BATCH_ROWS,
) -> UpsertResult:
    """Insert or update the rows of ``frame`` in ``table_name``, by the table's key.

    Parameters
    ----------
    session : Session
        An open session; the writes join its transaction (nothing is committed here).
    table_name : str
        ``workers``, ``employers``, ``vacancies``, ``events`` or another store table
        with a single-column primary key.
    frame : DataFrame
        Rows in the normal form of ``matcher.dataset`` (validated already). Only the
        columns present are written; unknown columns are ignored.
    source : str
        For events: recorded in ``events.source`` (``import`` or an API key id).

    Returns
    -------
    UpsertResult
        Counts of inserted, updated and unchanged rows. Rows whose values equal the
        stored ones are not written at all (their ``updated_at`` stays).
    """
    tbl = table(table_name)
    if table_name == "events":
        return _insert_events(session, tbl, frame, source=source, batch_rows=batch_rows)
    pk = [c.name for c in tbl.primary_key.columns]
    if len(pk) != 1:
        raise ValueError(f"upsert needs a single-column key; {table_name} has {pk}")
    key = pk[0]
    if key not in frame.columns:
        raise ValueError(f"the {table_name} frame has no {key} column")
    if frame.empty:
        return UpsertResult(table_name)
    frame = frame.drop_duplicates(subset=[key], keep="last")
    columns = [c for c in frame.columns if c in tbl.c and c != key and c not in _BOOKKEEPING]
    ids = [str(v) for v in frame[key].tolist()]
    values = {c: _python_values(frame[c], tbl.c[c]) for c in columns}
    json_pos = [i for i, c in enumerate(columns) if isinstance(tbl.c[c].type, JSON)]

    stored = _stored_rows(session, tbl, key, ids, columns)
    to_write: list[dict[str, Any]] = []
    inserted = updated = unchanged = 0
    for i, id_ in enumerate(ids):
        row = [values[c][i] for c in columns]
        old = stored.get(id_)
        if old is not None:
            canon = [_canonical(v) for v in row]
            for j in json_pos:
                canon[j] = _null_list_as_empty(canon[j])
            if tuple(canon) == old:
                unchanged += 1
                continue
            updated += 1
        else:
            inserted += 1
        record = dict(zip(columns, row, strict=True))
        record[key] = id_
        to_write.append(record)

    if to_write:
        insert = _insert(session)
        stmt = insert(tbl)
        set_ = {c: stmt.excluded[c] for c in columns}
        if "updated_at" in tbl.c:
            set_["updated_at"] = func.now()
        stmt = (
            stmt.on_conflict_do_update(index_elements=[tbl.c[key]], set_=set_)
            if set_
            else stmt.on_conflict_do_nothing(index_elements=[tbl.c[key]])
        )
        for batch in _chunks(to_write, batch_rows):
            session.execute(stmt, list(batch))
    log.info(
        "upsert %s: %d inserted, %d updated, %d unchanged",
        table_name,
        inserted,
        updated,
        unchanged,
    )
    return UpsertResult(table_name, inserted, updated, unchanged)


def _insert_events(
    session: Session, tbl: Table, frame: pd.DataFrame, *, source: str, batch_rows: int
) -> UpsertResult:
    key = list(CONTRACT["events"].key)
    missing = [c for c in key if c not in frame.columns]
    if missing:
        raise ValueError(f"the events frame lacks {', '.join(missing)}")
    if frame.empty:
        return UpsertResult("events")
    n = len(frame)
    values = {c: _python_values(frame[c], tbl.c[c]) for c in key}
    records = [
        {
            "worker_id": w,
            "vacancy_id": v,
            "event": e,
            "occurred_at": t,
            "source": source,
        }
        for w, v, e, t in zip(
            values["worker_id"],
            values["vacancy_id"],
            values["event"],
            values["occurred_at"],
            strict=True,
        )
    ]
    before = session.execute(select(func.count()).select_from(tbl)).scalar_one()
    stmt = _insert(session)(tbl).on_conflict_do_nothing(index_elements=[tbl.c[c] for c in key])
    for batch in _chunks(records, batch_rows):
        session.execute(stmt, list(batch))
    after = session.execute(select(func.count()).select_from(tbl)).scalar_one()
    inserted = int(after - before)
    log.info("upsert events: %d inserted, %d already stored or repeated", inserted, n - inserted)
    return UpsertResult("events", inserted=inserted, unchanged=n - inserted)


# --------------------------------------------------------------------------- reading


def existing_ids(session: Session | Connection, table_name: str, ids: Iterable[str]) -> set[str]:
    """The subset of ``ids`` present in ``table_name`` (by its single-column key)."""
    tbl = table(table_name)
    key = next(iter(tbl.primary_key.columns))
    wanted = sorted({str(i) for i in ids})
    found: set[str] = set()
    for chunk in _chunks(wanted, LOOKUP_CHUNK):
        found.update(session.execute(select(key).where(key.in_(chunk))).scalars())
    return found


def counts(session: Session | Connection) -> dict[str, int]:
    """Row counts of the four contract tables."""
    return {
        name: int(session.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in CONTRACT
    }


def _read(conn: Connection, name: str, columns: list[str], where=None) -> pd.DataFrame:
    tbl = table(name)
    stmt = select(*[tbl.c[c] for c in columns])
    if where is not None:
        stmt = stmt.where(where)
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=columns)


def load_dataset(
    engine: Engine | Connection,
    until: pd.Timestamp | datetime | str | None = None,
    *,
    include_personal: bool = False,
) -> Dataset:
    """Read the four contract tables into a :class:`matcher.Dataset`.

    Parameters
    ----------
    engine : Engine or Connection
        The store.
    until : timestamp, optional
        Only what was known strictly before this time (naive UTC): see
        ``Dataset.until``. Filtering happens in SQL first, so old snapshots read less.
    include_personal : bool
        Personal-data columns (name, phone, id_number) are left empty unless True;
        models and plans never need them.

    Returns
    -------
    Dataset
        Vacancies also carry ``occupation_source`` and ``occupation_confidence``.
    """
    cutoff = None if until is None else pd.Timestamp(until)
    if cutoff is not None and cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    cut = None if cutoff is None else cutoff.to_pydatetime()

    def columns(name: str) -> list[str]:
        cols = [
            c
            for c in CONTRACT[name].columns
            if include_personal or name != "workers" or c not in PERSONAL_FIELDS
        ]
        return cols + list(_EXTRA_READ.get(name, ()))

    def read(conn: Connection) -> dict[str, pd.DataFrame]:
        w, v, e = table("workers"), table("vacancies"), table("events")
        return {
            "workers": _read(
                conn,
                "workers",
                columns("workers"),
                None if cut is None else or_(w.c.registered_at.is_(None), w.c.registered_at < cut),
            ),
            "employers": _read(conn, "employers", columns("employers")),
            "vacancies": _read(
                conn,
                "vacancies",
                columns("vacancies"),
                None if cut is None else or_(v.c.posted_at.is_(None), v.c.posted_at < cut),
            ),
            "events": _read(
                conn, "events", columns("events"), None if cut is None else e.c.occurred_at < cut
            ),
        }

    if isinstance(engine, Connection):
        frames = read(engine)
    else:
        with engine.connect() as conn:
            frames = read(conn)
    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    if cutoff is not None:
        ds = ds.until(cutoff)
    log.info("loaded dataset from the store: %s", ds.counts())
    return ds


__all__ = [
    "BATCH_ROWS",
    "UpsertResult",
    "counts",
    "existing_ids",
    "load_dataset",
    "table",
    "upsert",
]
