"""Reading and writing the contract tables in bulk.

* :func:`upsert` writes a frame in the contract's normal form (``matcher.data.dataset``)
  into its table: insert-or-update by the table's key with the dialect's own
  ``INSERT ... ON CONFLICT`` (SQLite: executemany through the driver; PostgreSQL:
  COPY into a temporary table), inside the caller's transaction. Events are
  de-duplicated on (worker_id, vacancy_id, event, occurred_at). It tells how many
  rows were inserted, updated and left unchanged.
* :func:`load_dataset` reads the four tables into a :class:`matcher.Dataset`.
* Small read helpers: :func:`existing_ids`, :func:`counts`.

Only the columns present in a frame are written: a column the caller did not send
keeps its stored value; a blank cell in a sent column stores NULL.
Personal-data values are never logged here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
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
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from matcher.data.dataset import Dataset, normalise_frame
from matcher.data.schema import CONTRACT, PERSONAL_FIELDS
from matcher.occupations.classifier import LabelledTitle
from service.store.models import Base

log = logging.getLogger(__name__)

#: SQLite: loads of at least this many rows (and no fewer than the table holds) drop
#: the table's secondary indexes first and rebuild them afterwards, in the same transaction.
REBUILD_MIN_ROWS = 20_000
#: Events: a re-import compares with the stored keys in memory (anti-join) when the
#: table holds at most this many rows; beyond, ON CONFLICT DO NOTHING does the work.
ANTI_JOIN_MAX_STORED = 5_000_000
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


def _none_for_missing(series: pd.Series) -> list[Any]:
    """Native Python values (int, float, bool, str), None where missing; vectorised."""
    return series.astype(object).where(series.notna(), None).tolist()


def _python_values(series: pd.Series, column) -> list[Any]:
    """The column's values as the Python objects the driver binds (None for missing)."""
    ctype = column.type
    if isinstance(ctype, JSON):
        out: list[Any] = []
        for v in series.tolist():
            if isinstance(v, list | tuple | np.ndarray):
                out.append([str(x) for x in v])
            elif _missing(v):
                out.append([])
            else:
                out.append([str(x) for x in str(v).split(";") if str(x).strip()])
        return out
    if isinstance(ctype, DateTime):
        ts = pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_convert(None)
        missing = ts.isna().tolist()
        return [None if m else v for v, m in zip(ts.dt.to_pydatetime(), missing, strict=True)]
    if isinstance(ctype, Boolean):
        return _none_for_missing(series.astype("boolean"))
    if isinstance(ctype, Integer):
        return _none_for_missing(pd.to_numeric(series).astype("Int64"))
    if isinstance(ctype, Float):
        return _none_for_missing(pd.to_numeric(series).astype("float64"))
    strings = series.astype("str")  # Arrow-backed: numbers become text, missing stays missing
    return _none_for_missing(strings) if strings.hasnans else strings.tolist()


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


def chunks(items: Iterable, size: int) -> Iterable[list]:
    """``items`` in lists of at most ``size`` (bounded ``IN (...)`` look-ups)."""
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _naive_utc(series: pd.Series) -> pd.Series:
    """Times as naive UTC at microsecond resolution (what the store keeps)."""
    ts = pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_convert(None)
    return ts.astype("datetime64[us]")


def _db_values(
    series: pd.Series, column, dialect: str, python: list[Any] | None = None
) -> list[Any]:
    """Values of one column as the raw driver binds them (bypassing SQLAlchemy's
    per-value processing, which dominates bulk loads). Matches what SQLAlchemy itself
    stores: on SQLite datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` text, booleans as
    1/0 and JSON as text."""
    ctype = column.type
    if isinstance(ctype, DateTime):
        ts = _naive_utc(series)
        missing = ts.isna().to_numpy()
        iso = np.datetime_as_string(ts.to_numpy(), unit="us")
        iso = np.char.replace(iso, "T", " ")
        return [None if m else t for t, m in zip(iso.tolist(), missing.tolist(), strict=True)]
    values = _python_values(series, column) if python is None else python
    if isinstance(ctype, JSON):
        cache: dict[tuple, str] = {}  # list values repeat a lot (languages, regions)
        out = []
        for v in values:
            k = tuple(v)
            dumped = cache.get(k)
            if dumped is None:
                dumped = cache[k] = json.dumps(v, ensure_ascii=False)
            out.append(dumped)
        return out
    if isinstance(ctype, Boolean) and dialect == "sqlite":
        return [None if v is None else int(v) for v in values]
    return values


def _bulk_write(
    session: Session,
    tbl: Table,
    names: list[str],
    values: list[list[Any]],
    *,
    conflict: list[str],
    update: list[str] | None,
    known_new: bool = False,
) -> None:
    """INSERT ... ON CONFLICT through the driver, inside the session's transaction.

    SQLite: one prepared statement run by ``executemany``. PostgreSQL: ``COPY`` into a
    temporary table, then one ``INSERT ... SELECT ... ON CONFLICT``; or, with
    ``known_new`` (the caller has already left out every stored key), ``COPY``
    straight into the table.

    A big load into a small table (at least ``REBUILD_MIN_ROWS`` rows, and no fewer
    than the table holds) drops the table's non-unique indexes first and builds them
    again afterwards, in the same transaction: maintaining them row by row in random
    key order costs far more than building them once. (On PostgreSQL this holds an
    exclusive lock on the table until the import commits.)
    """
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - settings allow the two
        raise RuntimeError(f"bulk writes support SQLite and PostgreSQL, not {dialect}")
    quoted = ", ".join(f'"{c}"' for c in names)
    target = f'"{tbl.name}"'
    on_conflict = f"ON CONFLICT ({', '.join(chr(34) + c + chr(34) for c in conflict)}) "
    if update:
        sets = [f'"{c}" = excluded."{c}"' for c in update]
        if "updated_at" in tbl.c:
            sets.append('"updated_at" = CURRENT_TIMESTAMP')
        on_conflict += "DO UPDATE SET " + ", ".join(sets)
    else:
        on_conflict += "DO NOTHING"
    rows = list(zip(*values, strict=True))
    conn = session.connection()
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    if dialect == "sqlite" and not dbapi.in_transaction:
        # pysqlite opens transactions lazily, only before DML; the index DDL below
        # must be part of the import's transaction too
        dbapi.execute("BEGIN")
    existing = conn.execute(select(func.count()).select_from(tbl)).scalar_one()
    rebuild = (
        [ix for ix in tbl.indexes if not ix.unique]
        if len(rows) >= REBUILD_MIN_ROWS and len(rows) >= existing
        else []
    )
    for ix in rebuild:
        ix.drop(conn)
    # PostgreSQL checks foreign keys with a trigger per row; for a big load, checking
    # them once when the constraint is added back (one join) is many times faster. The
    # importer has checked every reference already; if one were wrong, adding the
    # constraint back fails and the whole transaction rolls back.
    foreign_keys = (
        [fk for fk in inspect(conn).get_foreign_keys(tbl.name) if fk.get("name")]
        if rebuild and dialect == "postgresql"
        else []
    )
    for fk in foreign_keys:
        conn.execute(text(f'ALTER TABLE {target} DROP CONSTRAINT "{fk["name"]}"'))
    if dialect == "sqlite":
        marks = ", ".join("?" * len(names))
        # exec_driver_sql: one executemany, no per-value processing, SQLAlchemy errors
        conn.exec_driver_sql(
            f"INSERT INTO {target} ({quoted}) VALUES ({marks}) {on_conflict}", rows
        )
    else:
        _pg_copy(conn, dbapi, tbl, quoted, rows, on_conflict, known_new)
    for ix in rebuild:
        ix.create(conn)
    for fk in foreign_keys:
        cols = ", ".join(f'"{c}"' for c in fk["constrained_columns"])
        ref_cols = ", ".join(f'"{c}"' for c in fk["referred_columns"])
        conn.execute(
            text(
                f'ALTER TABLE {target} ADD CONSTRAINT "{fk["name"]}" FOREIGN KEY ({cols}) '
                f'REFERENCES "{fk["referred_table"]}" ({ref_cols})'
            )
        )


def _pg_copy(
    conn: Connection,
    dbapi: Any,
    tbl: Table,
    quoted: str,
    rows: list[tuple],
    on_conflict: str,
    known_new: bool,
) -> None:
    """COPY rows into the table (``known_new``) or via a temporary table and ON CONFLICT.

    Driver errors are raised as SQLAlchemy's (``IntegrityError`` etc.), like every
    other statement of the session.
    """
    target = f'"{tbl.name}"'
    statement = f"COPY {target} ({quoted}) FROM STDIN"
    try:
        with dbapi.cursor() as cur:
            if known_new:
                with cur.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            tmp = f"jobmatch_load_{tbl.name}"
            cur.execute(f"DROP TABLE IF EXISTS {tmp}")
            cur.execute(
                f"CREATE TEMPORARY TABLE {tmp} ON COMMIT DROP AS "
                f"SELECT {quoted} FROM {target} WITH NO DATA"
            )
            statement = f"COPY {tmp} ({quoted}) FROM STDIN"
            with cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            statement = f"INSERT INTO {target} ({quoted}) SELECT {quoted} FROM {tmp} {on_conflict}"
            cur.execute(statement)
            cur.execute(f"DROP TABLE {tmp}")
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


def _stored_rows(
    session: Session, tbl: Table, key: str, ids: list[str], columns: list[str]
) -> dict[str, tuple]:
    """Stored rows (canonical tuples of ``columns``) of the given ids, by id."""
    out: dict[str, tuple] = {}
    cols = [tbl.c[c] for c in columns]
    json_pos = [i for i, c in enumerate(cols) if isinstance(c.type, JSON)]
    for chunk in chunks(ids, LOOKUP_CHUNK):
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
        Rows in the normal form of ``matcher.data.dataset`` (validated already). Only the
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
        return _insert_events(session, tbl, frame, source=source)
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

    dialect = session.get_bind().dialect.name
    stored_count = session.execute(select(func.count()).select_from(tbl)).scalar_one()
    stored = _stored_rows(session, tbl, key, ids, columns) if stored_count else {}
    write_pos: list[int] = []
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
        write_pos.append(i)

    if write_pos:
        rows = frame.iloc[write_pos]
        names = [key, *columns]
        _bulk_write(
            session,
            tbl,
            names,
            [rows[key].astype(str).tolist()]
            + [
                _db_values(rows[c], tbl.c[c], dialect, [values[c][i] for i in write_pos])
                for c in columns
            ],
            conflict=[key],
            update=columns,
        )
    log.info(
        "upsert %s: %d inserted, %d updated, %d unchanged",
        table_name,
        inserted,
        updated,
        unchanged,
    )
    return UpsertResult(table_name, inserted, updated, unchanged)


def _stored_event_keys(session: Session) -> pd.DataFrame:
    """Every stored (worker_id, vacancy_id, event, occurred_at), read through the driver."""
    stored = _read(session.connection(), "events", list(CONTRACT["events"].key))
    stored["occurred_at"] = _naive_utc(stored["occurred_at"])
    return stored


def _insert_events(
    session: Session, tbl: Table, frame: pd.DataFrame, *, source: str
) -> UpsertResult:
    key = list(CONTRACT["events"].key)
    missing = [c for c in key if c not in frame.columns]
    if missing:
        raise ValueError(f"the events frame lacks {', '.join(missing)}")
    if frame.empty:
        return UpsertResult("events")
    n = len(frame)
    dialect = session.get_bind().dialect.name
    before = session.execute(select(func.count()).select_from(tbl)).scalar_one()
    frame = frame[key].drop_duplicates()
    frame = frame.assign(occurred_at=_naive_utc(frame["occurred_at"]))
    known_new = before == 0
    if 0 < before <= ANTI_JOIN_MAX_STORED:
        # a re-import: leave out, in one vectorised anti-join, what is stored already
        stored = _stored_event_keys(session)
        merged = frame.merge(stored, on=key, how="left", indicator=True)
        frame = merged.loc[merged["_merge"] == "left_only", key]
        known_new = True
    if len(frame):
        # sorted by the unique key: index pages fill in order, far fewer page splits
        codes = [pd.factorize(frame[c], sort=True)[0] for c in reversed(key)]
        frame = frame.iloc[np.lexsort(codes)]
        names = [*key, "source"]
        values = [_db_values(frame[c], tbl.c[c], dialect) for c in key] + [[source] * len(frame)]
        _bulk_write(session, tbl, names, values, conflict=key, update=None, known_new=known_new)
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
    for chunk in chunks(wanted, LOOKUP_CHUNK):
        found.update(session.execute(select(key).where(key.in_(chunk))).scalars())
    return found


def counts(session: Session | Connection) -> dict[str, int]:
    """Row counts of the four contract tables."""
    return {
        name: int(session.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in CONTRACT
    }


def _read(
    conn: Connection,
    name: str,
    columns: list[str],
    before: tuple[str, datetime] | None = None,
    *,
    since: tuple[str, datetime] | None = None,
    keys: tuple[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Columns of a table read through the driver (no per-value processing; a million
    events read in seconds). ``before=(column, cutoff)`` keeps rows whose column is
    missing or earlier than the cutoff; ``since=(column, start)`` the rows whose column
    is at or after the start; ``keys=(column, values)`` the rows whose column is one of
    the values.

    Values come back as the driver gives them: on SQLite, times as ISO text, JSON as
    text and booleans as 1/0, which :func:`_decode_json` and ``normalise_frame`` turn
    into the normal form.
    """
    tbl = table(name)
    sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{tbl.name}"'
    params: tuple = ()
    dialect = conn.dialect.name
    if before is not None:
        column, cutoff = before
        mark = "?" if dialect == "sqlite" else "%s"
        nullable = tbl.c[column].nullable
        sql += f' WHERE "{column}" < {mark}'
        if nullable:
            sql += f' OR "{column}" IS NULL'
        # SQLite stores times as text in SQLAlchemy's format, which sorts like time
        value = (
            cutoff.isoformat(sep=" ", timespec="microseconds") if dialect == "sqlite" else cutoff
        )
        params = (value,)
    if since is not None:
        column, start = since
        mark = "?" if dialect == "sqlite" else "%s"
        sql += f' WHERE "{column}" >= {mark}'
        params = (
            start.isoformat(sep=" ", timespec="microseconds") if dialect == "sqlite" else start,
        )
    if keys is not None:
        column, values = keys
        if not values:
            return pd.DataFrame(columns=columns, dtype=object)
        mark = "?" if dialect == "sqlite" else "%s"
        sql += f' WHERE "{column}" IN ({", ".join([mark] * len(values))})'
        params = tuple(values)
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    cur = dbapi.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall()
    finally:
        cur.close()
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    for c in columns:
        if isinstance(tbl.c[c].type, JSON):
            frame[c] = _decode_json(frame[c])
    return frame


def _decode_json(series: pd.Series) -> pd.Series:
    cache: dict[str, Any] = {}
    out = []
    for v in series.tolist():
        if isinstance(v, str):
            decoded = cache.get(v)
            if decoded is None:
                decoded = cache[v] = json.loads(v)
            out.append(list(decoded) if isinstance(decoded, list) else decoded)
        else:
            out.append(v)
    return pd.Series(out, dtype=object, index=series.index)


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
        return {
            "workers": _read(
                conn, "workers", columns("workers"), None if cut is None else ("registered_at", cut)
            ),
            "employers": _read(conn, "employers", columns("employers")),
            "vacancies": _read(
                conn, "vacancies", columns("vacancies"), None if cut is None else ("posted_at", cut)
            ),
            "events": _read(
                conn, "events", columns("events"), None if cut is None else ("occurred_at", cut)
            ),
        }

    if isinstance(engine, Connection):
        frames = read(engine)
    else:
        with engine.connect() as conn:
            frames = read(conn)
    vacancies = frames["vacancies"]
    vacancies["occupation_confidence"] = pd.to_numeric(vacancies["occupation_confidence"]).astype(
        "float64"
    )
    ds = Dataset.from_frames(frames["workers"], frames["employers"], vacancies, frames["events"])
    if cutoff is not None:
        ds = ds.until(cutoff)
    log.info("loaded dataset from the store: %s", ds.counts())
    return ds


#: How far before the last seen ``updated_at`` :func:`load_vacancy_changes` reads again:
#: SQLite stamps whole seconds and PostgreSQL's ``now()`` is the time a transaction
#: began, so a row committed after a stamp was read may carry an earlier time. Rows
#: read twice are applied twice, which changes nothing.
CHANGE_MARGIN = pd.Timedelta(minutes=2)


def load_vacancy_changes(
    engine: Engine | Connection, since: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The vacancies written (posted, edited, closed) at or after ``since`` minus
    :data:`CHANGE_MARGIN`, as they are now, and their employers: what a serving model
    needs to update its catalogue without reading the whole store
    (``matcher.serving.recommender.Recommender.update_vacancies``).

    Returns
    -------
    vacancies, employers : DataFrame
        Both in the :class:`matcher.Dataset` normal form.
    """
    when = pd.Timestamp(since)
    if when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    start = (when - CHANGE_MARGIN).to_pydatetime()

    def read(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
        cols = list(CONTRACT["vacancies"].columns) + list(_EXTRA_READ["vacancies"])
        vac = _read(conn, "vacancies", cols, since=("updated_at", start))
        owners = sorted({str(e) for e in vac["employer_id"].dropna()})
        emp = _read(
            conn, "employers", list(CONTRACT["employers"].columns), keys=("employer_id", owners)
        )
        return vac, emp

    if isinstance(engine, Connection):
        vac, emp = read(engine)
    else:
        with engine.connect() as conn:
            vac, emp = read(conn)
    vac["occupation_confidence"] = pd.to_numeric(vac["occupation_confidence"]).astype("float64")
    vacancies = normalise_frame(vac, CONTRACT["vacancies"])
    return vacancies, normalise_frame(emp, CONTRACT["employers"])


__all__ = [
    "CHANGE_MARGIN",
    "UpsertResult",
    "counts",
    "existing_ids",
    "load_dataset",
    "load_vacancy_changes",
    "table",
    "upsert",
]


def occupation_corrections(bind: Engine | Session | Connection) -> list[LabelledTitle]:
    """Officers' occupation code corrections as labelled titles, oldest first.

    ``jobmatch occupation train`` folds them into the labelled titles
    (:func:`matcher.occupations.classifier.merge_corrections`: a later correction of the
    same title replaces an earlier one).
    """
    from service.store.models import OccupationCorrection

    query = select(OccupationCorrection.text, OccupationCorrection.code).order_by(
        OccupationCorrection.created_at, OccupationCorrection.id
    )
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            rows = conn.execute(query).all()
    else:
        rows = bind.execute(query).all()
    return [LabelledTitle(title=str(t), code=str(c)) for t, c in rows]
