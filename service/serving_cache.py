"""What the recommendation route reads from the store besides the worker, kept in each
server process: the vacancies' display fields (with whether they are still open) and
the employers' risk warnings.

Why
---
A recommendation request read the store four times (the worker's scope, the previous
employer when the worker is to be re-placed, the shown vacancies' fields, the
employers' risk cases in two queries); on the serve bench the store took about a
quarter of a request's CPU. Vacancies and risk cases change seldom compared with how
often they are read, so both are cached here; the worker's scope (who may see whom)
is still read on every request.

Freshness: the contract (``tests/service/test_serving_cache.py``)
------------------------------------------------------------------
* **Changes made in this process** (any ``INSERT``, ``UPDATE`` or ``DELETE`` this
  process's engine runs on a watched table, through the ORM or not: the API, the web
  pages, an import or a sweep) invalidate what depends on that table as the statement
  runs and again when its connection goes back to the pool (after the commit). The
  next request reads the store again.
* **Changes made by another process** (another server worker, ``jobmatch import``, a
  nightly run) are noticed through each table's *stamp* (:data:`STAMPS`: row count
  and latest ``updated_at``, or latest id), read at most every ``every`` seconds
  (default :data:`CHECK_EVERY`) by the first request that finds the last reading
  older. A stamp whose latest ``updated_at`` is less than :data:`SETTLE` seconds old
  (by the store's clock) counts as changed at every reading: ``updated_at`` has
  1-second resolution on SQLite and is the transaction's start on PostgreSQL, so two
  changes in the same second, or one committed a little after it started, leave the
  same stamp.
* **Nothing is kept longer than** ``max_age`` seconds (default :data:`MAX_AGE`),
  whatever the stamps say (a transaction running longer than :data:`SETTLE` that
  updates rows without adding any is the case the stamps can miss).
* A vacancy whose cached record says it no longer takes anyone (status not open, no
  seats, deadline passed) is **never served**: :func:`open_now` is checked on every
  answer, so once the change is seen (above) the route drops the vacancy even while
  the model's catalogue still lists it.

A cache fill is only kept when no watched change was noticed while it read the store
(the generation is compared before and after), so a reader racing a writer cannot
store what the writer just replaced.

Answers from the precomputed lists (:class:`RankedAnswers`)
-----------------------------------------------------------
Re-ranking a worker's stored list took about two thirds of a request's CPU
(``bench/request_profile.py``). The re-rank is a function of the bound lists (one
model fit on one catalogue: the service binds them anew after every model swap and
every catalogue refresh, and the engine reads no clock), the worker and ``k``; so
its result is kept per bound lists object and dropped whole when the route is handed
another one. What the store says is still read on every request: the worker's scope,
whether each vacancy still takes anyone and the employers' risk warnings (above).
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, bindparam, event, func, select
from sqlalchemy.orm import Session

from service import employer_risk
from service.answers import Ranked
from service.store.models import Event, FollowUp, Placement, Vacancy, Worker

#: Seconds between two readings of the stamps of other processes' changes.
CHECK_EVERY = 1.0
#: A stamp whose latest change is younger than this (seconds) is not trusted.
SETTLE = 2.0
#: Seconds after which a cache is dropped whatever the stamps say.
MAX_AGE = 60.0

_WRITE_RE = re.compile(
    r"^\s*(?:insert\s+(?:or\s+\w+\s+)?into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)"
    r"\s+(?:\"?\w+\"?\.)?\"?(\w+)\"?",
    re.IGNORECASE,
)


def written_table(statement: str) -> str | None:
    """The table an ``INSERT``/``UPDATE``/``DELETE`` statement writes, else None."""
    m = _WRITE_RE.match(statement)
    return m.group(1).lower() if m else None


@dataclass(frozen=True)
class Stamp:
    """What a group's tables look like now: ``key`` changes when they change (mostly:
    see :data:`SETTLE`); ``latest`` is their latest ``updated_at`` and ``now`` the
    store's clock when it was read (both None for a group without ``updated_at``)."""

    key: tuple
    latest: Any = None
    now: Any = None


def row_stamp(table: type[Vacancy] | type[Worker]) -> Select[int, datetime | None]:
    """A table's row count and latest change (``updated_at``) as two subqueries of one
    statement: SQLite answers each from an index on its own (a b-tree count; the last
    entry of the ``updated_at`` index), where ``SELECT count(*), max(updated_at)`` reads
    every entry of the index: 0.4 ms instead of 4.2 ms at 100,000 vacancies, paid by
    every server process every second under load."""
    return select(
        select(func.count()).select_from(table).scalar_subquery(),
        select(func.max(table.updated_at)).scalar_subquery(),
    )


#: The vacancies' :func:`row_stamp` and the database's time.
VACANCY_STAMP = row_stamp(Vacancy).add_columns(func.now())


def _stamp_vacancies(session: Session) -> Stamp:
    n, latest, now = session.execute(VACANCY_STAMP).one()
    return Stamp((n, latest), latest, now)


def _stamp_risk(session: Session) -> Stamp:
    events = session.scalar(select(func.max(Event.id)))
    placements = session.scalar(select(func.max(Placement.id)))
    done = session.execute(
        select(func.count(), func.max(FollowUp.completed_at)).where(FollowUp.status == "done")
    ).one()
    return Stamp((events, placements, *done))


#: Per watched group: the tables whose writes invalidate it and how to read its stamp.
STAMPS: dict[str, tuple[frozenset[str], Callable[[Session], Stamp]]] = {
    "vacancies": (frozenset({"vacancies"}), _stamp_vacancies),
    "risk": (
        frozenset({"events", "follow_ups", "placements", "vacancies"}),
        _stamp_risk,
    ),
}


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _settled(stamp: Stamp) -> bool:
    """False when the stamp's latest change is younger than :data:`SETTLE`."""
    latest, now = _as_datetime(stamp.latest), _as_datetime(stamp.now)
    if latest is None or now is None:
        return True
    latest, now = latest.replace(tzinfo=None), now.replace(tzinfo=None)
    return latest < now - timedelta(seconds=SETTLE)


class StoreWatch:
    """A generation number per watched group (:data:`STAMPS`) that grows whenever a
    change to one of its tables is seen, in this process or through the stamps."""

    def __init__(self, engine: Engine, every: float = CHECK_EVERY) -> None:
        self.engine = engine
        self.every = every
        self._generation = dict.fromkeys(STAMPS, 0)
        self._stamps: dict[str, tuple | None] = dict.fromkeys(STAMPS)  # their keys
        self._checked = 0.0
        self._lock = threading.Lock()
        self._groups_of: dict[str, list[str]] = {}
        for group, (tables, _) in STAMPS.items():
            for table in tables:
                self._groups_of.setdefault(table, []).append(group)
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine, "checkin", self._checked_in)

    # ------------------------------------------------------------ this process's writes

    def _executed(self, conn, cursor, statement, parameters, context, executemany) -> None:
        table = written_table(statement) if statement[:1] in "IiUuDdRr \n" else None
        if table is None or table not in self._groups_of:
            return
        groups = self._groups_of[table]
        conn.info.setdefault("serving_cache_written", set()).update(groups)
        self._bump(groups)

    def _checked_in(self, dbapi_connection, record) -> None:
        groups = record.info.pop("serving_cache_written", None)
        if groups:
            self._bump(groups)

    def _bump(self, groups: Iterable[str]) -> None:
        with self._lock:
            for group in groups:
                self._generation[group] += 1

    # ------------------------------------------------------------ other processes' writes

    def generation(self, group: str, session: Session | None = None) -> int:
        """The group's generation now, after reading the stamps when the last reading
        is older than ``every`` seconds (with ``session``, else a session of its own)."""
        if time.monotonic() - self._checked >= self.every:
            self.check(session)
        return self._generation[group]

    def check(self, session: Session | None = None) -> None:
        """Read every group's stamp; bump the groups whose stamp changed or is unsettled."""
        if session is None:
            with Session(self.engine) as own:
                stamps = {g: read(own) for g, (_, read) in STAMPS.items()}
        else:
            stamps = {g: read(session) for g, (_, read) in STAMPS.items()}
        with self._lock:
            for group, stamp in stamps.items():
                if stamp.key != self._stamps[group] or not _settled(stamp):
                    self._generation[group] += 1
                self._stamps[group] = stamp.key
            self._checked = time.monotonic()


@dataclass(frozen=True)
class VacancyCard:
    """What a recommendation shows of a vacancy, and whether it still takes anyone."""

    vacancy_id: str
    title: str | None
    employer_id: str | None
    region: str | None
    occupation_code: str | None
    wage_min: float | None
    wage_max: float | None
    channel: str | None
    status: str | None
    headcount: int | None
    closes_at: datetime | None


_CARD_COLUMNS = (
    Vacancy.vacancy_id,
    Vacancy.title,
    Vacancy.employer_id,
    Vacancy.region,
    Vacancy.occupation_code,
    Vacancy.wage_min,
    Vacancy.wage_max,
    Vacancy.channel,
    Vacancy.status,
    Vacancy.headcount,
    Vacancy.closes_at,
)


_CARDS = select(*_CARD_COLUMNS).where(Vacancy.vacancy_id.in_(bindparam("ids", expanding=True)))


def vacancy_cards(session: Session, vacancy_ids: Sequence[str]) -> dict[str, VacancyCard]:
    """The cards of ``vacancy_ids`` from the store (ids it lacks are left out)."""
    if not vacancy_ids:
        return {}
    rows = session.execute(_CARDS, {"ids": list(vacancy_ids)})
    return {row[0]: VacancyCard(*row) for row in rows}


def open_now(card: VacancyCard, now: datetime) -> bool:
    """True while the vacancy takes anyone: status blank or ``open``, seats left, and
    its deadline (``closes_at``, naive UTC) not passed (the engine's rule,
    ``matcher.Dataset.open_vacancies``)."""
    if card.status not in (None, "open"):
        return False
    if card.headcount is not None and card.headcount <= 0:
        return False
    return card.closes_at is None or card.closes_at.replace(tzinfo=None) > now


class _Cached:
    """id -> value for one watched group, dropped whole when the group's generation
    moves or the contents are older than ``max_age``."""

    def __init__(self, watch: StoreWatch, group: str, max_age: float) -> None:
        self.watch = watch
        self.group = group
        self.max_age = max_age
        self._items: dict[str, Any] = {}
        self._generation = -1
        self._since = 0.0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(
        self,
        session: Session,
        keys: Sequence[str],
        fetch: Callable[[Session, list[str]], dict[str, Any]],
        missing: Any = None,
    ) -> dict[str, Any]:
        generation = self.watch.generation(self.group, session)
        with self._lock:
            if generation != self._generation or time.monotonic() - self._since > self.max_age:
                self._items = {}
                self._generation = generation
                self._since = time.monotonic()
            items = self._items
        wanted = list(dict.fromkeys(keys))
        out = {k: items[k] for k in wanted if k in items}
        todo = [k for k in wanted if k not in out]
        self.hits += len(out)
        self.misses += len(todo)
        if todo:
            found = fetch(session, todo)
            fresh = {k: found.get(k, missing) for k in todo}
            out.update(fresh)
            # the stamps read (when due) with this request's session and outside the lock:
            # a reading with a session of its own needs a second connection while holding
            # the lock, and the requests queued on the lock hold theirs; with the pool
            # drained they all waited out its timeout (503s, bench/serve_bench.py saturated)
            now = self.watch.generation(self.group, session)
            with self._lock:
                # keep them only if nothing changed while the store was read
                if now == generation == self._generation:
                    if len(items) > 200_000:
                        items.clear()
                    items.update(fresh)
        return out


#: Answers kept per process (about 3 KB each at k=10).
RANKED_ANSWERS = 20_000


class RankedAnswers:
    """``(worker_id, k) -> Ranked`` for one *owner* (the bound precomputed lists of the
    model being served), least recently used dropped beyond ``size``; a request that
    brings another owner (a model swap or a catalogue refresh happened) empties it.
    The owner is weakly referenced: the memo never keeps a replaced model alive."""

    def __init__(self, size: int = RANKED_ANSWERS) -> None:
        self.size = size
        self._owner: weakref.ref[object] | None = None
        self._items: OrderedDict[tuple[str, int], Ranked] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, owner: object, worker_id: str, k: int) -> Ranked | None:
        with self._lock:
            if self._owner is None or self._owner() is not owner:
                self.misses += 1
                return None
            found = self._items.get((worker_id, k))
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end((worker_id, k))
            self.hits += 1
            return found

    def put(self, owner: object, worker_id: str, k: int, answer: Ranked) -> None:
        with self._lock:
            if self._owner is None or self._owner() is not owner:
                self._owner = weakref.ref(owner)
                self._items = OrderedDict()
            self._items[(worker_id, k)] = answer
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class ServingCache:
    """The per-process caches of the recommendation route (see the module docstring):
    vacancy cards, employers' risk warnings and (``answers``) the engine's answers from
    the precomputed lists."""

    def __init__(
        self,
        engine: Engine,
        *,
        every: float = CHECK_EVERY,
        max_age: float = MAX_AGE,
        answers: int = RANKED_ANSWERS,
    ) -> None:
        self.watch = StoreWatch(engine, every)
        self.max_age = max_age
        self.answers = RankedAnswers(answers)
        self._cards = _Cached(self.watch, "vacancies", max_age)
        self._risk: dict[int, _Cached] = {}

    def cards(self, session: Session, vacancy_ids: Sequence[str]) -> dict[str, VacancyCard]:
        """The cards of ``vacancy_ids`` (ids the store lacks are left out)."""
        got = self._cards.get_many(session, vacancy_ids, vacancy_cards)
        return {k: v for k, v in got.items() if v is not None}

    def risk_warnings(
        self, session: Session, employer_ids: Sequence[str], *, threshold: int
    ) -> dict[str, str]:
        """Per employer among ``employer_ids``: the live risk warning, when there is one
        (:func:`service.employer_risk.warnings_for`)."""

        def fetch(s: Session, ids: list[str]) -> dict[str, Any]:
            return employer_risk.warnings_for(s, ids, threshold=threshold)

        cached = self._risk.get(threshold)
        if cached is None:  # one per threshold (a setting: one per process in practice)
            cached = self._risk.setdefault(threshold, _Cached(self.watch, "risk", self.max_age))
        got = cached.get_many(session, employer_ids, fetch)
        return {k: v for k, v in got.items() if v is not None}
