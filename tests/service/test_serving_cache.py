"""The recommendation route's per-process caches (``service.serving_cache``): what they
spare the store, and the freshness contract - a closed vacancy is not served once the
change is seen (at once in the process that made it, within the stamp check elsewhere),
a risk warning recorded elsewhere appears, and the scope of an officer is still checked
against the store on every request."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from service_fixtures import EMPLOYER, Service
from sqlalchemy import create_engine, make_url, select
from sqlalchemy.pool import QueuePool

from service.serving_cache import (
    SETTLE,
    ServingCache,
    VacancyCard,
    open_now,
    written_table,
)
from service.store.db import session_scope
from service.store.models import Vacancy, Worker

IN_SCOPE = "W000"  # home county 542427, inside the officer's region 5424


def _recommend(s: Service, worker: str = IN_SCOPE, role: str = "officer", k: int = 10):
    return s.client.get(f"/api/v1/workers/{worker}/recommendations?k={k}", headers=s.as_(role))


def _sqlite_path(s: Service) -> str:
    return s.url.split("///", 1)[1]


def _close_elsewhere(s: Service, vacancy_id: str) -> None:
    """Close a vacancy the way another process does: its own connection to the store,
    nothing this process's engine sees."""
    with sqlite3.connect(_sqlite_path(s)) as conn:
        conn.execute(
            "UPDATE vacancies SET status = 'closed', closed_reason = 'employer', "
            "updated_at = CURRENT_TIMESTAMP WHERE vacancy_id = ?",
            (vacancy_id,),
        )


def _owned_first(s: Service) -> tuple[str, list[str]]:
    """A worker whose answer holds a vacancy of the test employer, and that answer."""
    with session_scope(s.app.state.engine) as session:
        workers = session.scalars(
            select(Worker.worker_id).where(Worker.home_region.startswith("5424"))
        ).all()
    for worker in workers:
        r = _recommend(s, worker)
        assert r.status_code == 200, r.text
        ids = [x["vacancy_id"] for x in r.json()["data"]]
        if any(x["employer_id"] == EMPLOYER for x in r.json()["data"]):
            return worker, ids
    pytest.skip("no answer holds a vacancy of the test employer")


def test_written_table_reads_the_target_of_every_kind_of_write():
    assert written_table("UPDATE vacancies SET status=? WHERE vacancies.vacancy_id = ?") == (
        "vacancies"
    )
    assert written_table('INSERT INTO "events" (worker_id) VALUES (?)') == "events"
    assert written_table("insert or replace into follow_ups values (1)") == "follow_ups"
    assert written_table("  DELETE FROM placements WHERE id = 1") == "placements"
    assert written_table("INSERT INTO public.vacancies (a) VALUES (1)") == "vacancies"
    assert written_table("SELECT * FROM vacancies") is None
    assert written_table("") is None


def test_open_now_is_the_engines_rule():
    now = datetime(2026, 12, 6, 8, 0)
    card = VacancyCard("V", "t", "E", "542427", None, None, None, None, "open", 2, None)
    assert open_now(card, now)
    assert open_now(card.__class__(**{**card.__dict__, "status": None}), now)
    for change in (
        {"status": "closed"},
        {"status": "filled"},
        {"headcount": 0},
        {"closes_at": now},
        {"closes_at": now - timedelta(seconds=1)},
    ):
        assert not open_now(card.__class__(**{**card.__dict__, **change}), now), change
    assert open_now(card.__class__(**{**card.__dict__, "closes_at": now + timedelta(1)}), now)


def test_repeated_requests_read_only_the_workers_scope_from_the_store(
    sqlite_service: Service, statements
):
    s = sqlite_service
    first = _recommend(s)
    assert first.status_code == 200, first.text
    statements.clear()
    again = _recommend(s)
    assert again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    reads = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert [q for q in reads if "FROM workers" in q], reads  # the scope, every time
    assert not [q for q in reads if "FROM vacancies" in q and "vacancy_id IN" in q], reads
    assert not [q for q in reads if "FROM events" in q or "FROM follow_ups" in q], reads


def test_the_cached_answer_is_the_uncached_one(sqlite_service: Service):
    s = sqlite_service
    cached = _recommend(s).json()
    _recommend(s)
    s.app.state.serving_cache = None  # the route reads the store itself
    assert _recommend(s).json() == cached


def test_scope_is_checked_on_every_request_with_warm_caches(sqlite_service: Service):
    s = sqlite_service
    assert _recommend(s).status_code == 200
    assert _recommend(s, role="admin").status_code == 200
    assert _recommend(s, role="other_officer").status_code == 403
    assert _recommend(s, "NO-SUCH-WORKER").status_code == 404
    # the worker moves out of the officer's region (in the store, not through this app)
    with sqlite3.connect(_sqlite_path(s)) as conn:
        conn.execute("UPDATE workers SET home_region = '522301' WHERE worker_id = ?", (IN_SCOPE,))
    assert _recommend(s).status_code == 403
    assert _recommend(s, role="other_officer").status_code == 200


def test_a_vacancy_closed_in_this_process_is_not_served_at_once(sqlite_service: Service):
    s = sqlite_service
    worker, ids = _owned_first(s)
    owned = next(
        x["vacancy_id"]
        for x in _recommend(s, worker).json()["data"]
        if x["employer_id"] == EMPLOYER
    )
    r = s.client.post(f"/api/v1/vacancies/{owned}/close", headers=s.as_("employer"))
    assert r.status_code == 200, r.text
    # the model's catalogue still lists it (no catalogue refresh in these tests)
    assert s.app.state.models.peek().model.knows_vacancy(owned)
    after = _recommend(s, worker).json()["data"]
    assert owned not in [x["vacancy_id"] for x in after]
    assert [x["rank"] for x in after] == list(range(1, len(after) + 1))
    assert [x["vacancy_id"] for x in after] == [v for v in ids if v != owned][: len(after)]


def test_a_vacancy_closed_by_another_process_is_not_served_after_the_stamp_check(
    sqlite_service: Service,
):
    s = sqlite_service
    every = 0.2
    s.app.state.serving_cache = ServingCache(s.app.state.engine, every=every)
    worker, ids = _owned_first(s)
    _recommend(s, worker)  # cached now
    closed = ids[0]
    _close_elsewhere(s, closed)
    time.sleep(every)
    assert closed not in [x["vacancy_id"] for x in _recommend(s, worker).json()["data"]]


def test_a_change_in_the_same_second_as_the_last_reading_is_still_noticed(
    sqlite_service: Service,
):
    """updated_at has 1 s resolution on SQLite: a close in the same second as a change
    already read leaves the stamp as it was; an unsettled stamp invalidates anyway."""
    s = sqlite_service
    every = 0.05
    cache = s.app.state.serving_cache = ServingCache(s.app.state.engine, every=every)
    worker, ids = _owned_first(s)
    with sqlite3.connect(_sqlite_path(s)) as conn:  # a change: the stamp is now recent
        conn.execute(
            "UPDATE vacancies SET updated_at = CURRENT_TIMESTAMP WHERE vacancy_id = ?", (ids[-1],)
        )
    time.sleep(every)
    _recommend(s, worker)  # reads the stamp with that change, and caches the cards
    stamp = cache.watch._stamps["vacancies"]
    _close_elsewhere(s, ids[0])
    time.sleep(every)
    assert ids[0] not in [x["vacancy_id"] for x in _recommend(s, worker).json()["data"]]
    assert SETTLE >= 1.0 and stamp is not None


def test_nothing_is_kept_longer_than_max_age(sqlite_service: Service, monkeypatch):
    import service.serving_cache as serving_cache

    class Clock:  # the caches' clock, moved by the test (a loaded machine is slow)
        now = 1000.0

        def monotonic(self) -> float:
            return self.now

    clock = Clock()
    monkeypatch.setattr(serving_cache, "time", clock)
    s = sqlite_service
    cache = s.app.state.serving_cache = ServingCache(s.app.state.engine, every=3600, max_age=60)
    worker, ids = _owned_first(s)
    _recommend(s, worker)
    # a change the stamps cannot see: same row count, updated_at not touched
    with sqlite3.connect(_sqlite_path(s)) as conn:
        conn.execute("UPDATE vacancies SET status = 'closed' WHERE vacancy_id = ?", (ids[0],))
    clock.now += 59
    assert ids[0] in [x["vacancy_id"] for x in _recommend(s, worker).json()["data"]]
    clock.now += 2
    assert ids[0] not in [x["vacancy_id"] for x in _recommend(s, worker).json()["data"]]
    assert cache._cards.hits > 0


def test_a_risk_warning_recorded_elsewhere_appears(sqlite_service: Service):
    s = sqlite_service
    every = 0.1
    s.app.state.serving_cache = ServingCache(s.app.state.engine, every=every)
    worker, _ = _owned_first(s)
    before = _recommend(s, worker).json()["data"]
    target = next(x for x in before if x["employer_id"] == EMPLOYER)
    n_before = _arrears(target["warnings"])
    at = (datetime.now(UTC) - timedelta(days=3)).replace(tzinfo=None).isoformat(" ")
    with sqlite3.connect(_sqlite_path(s)) as conn:
        for n in range(3):
            conn.execute(
                "INSERT INTO events (worker_id, vacancy_id, event, occurred_at) "
                "VALUES (?, ?, 'wage_arrears', ?)",
                (f"W00{n + 1}", target["vacancy_id"], at),
            )
    time.sleep(every)
    after = _recommend(s, worker).json()["data"]
    warned = next(x for x in after if x["vacancy_id"] == target["vacancy_id"])
    assert _arrears(warned["warnings"]) == n_before + 3, warned["warnings"]


def _arrears(warnings: list[str]) -> int:
    """The number of wage-arrears cases a risk warning states (0 without one)."""
    found = [re.search(r"欠薪 (\d+) 起", w) for w in warnings]
    return next((int(m.group(1)) for m in found if m), 0)


def test_a_fill_that_raced_a_write_is_not_kept(sqlite_service: Service):
    s = sqlite_service
    cache = ServingCache(s.app.state.engine, every=3600)
    engine = s.app.state.engine
    with session_scope(engine) as session:
        vid = session.scalar(select(Vacancy.vacancy_id).limit(1))

    def fetch_then_write(session, ids):
        from service.serving_cache import vacancy_cards

        found = vacancy_cards(session, ids)
        with session_scope(engine) as other:  # a write lands while the fill reads
            other.get(Vacancy, vid).title = "changed meanwhile"
        return found

    with session_scope(engine) as session:
        got = cache._cards.get_many(session, [vid], fetch_then_write)
    assert got[vid].title != "changed meanwhile"  # what the fill read, answered once
    with session_scope(engine) as session:  # but not kept
        assert cache.cards(session, [vid])[vid].title == "changed meanwhile"


def test_the_cache_survives_stamp_readings_that_find_no_change(sqlite_service: Service, statements):
    s = sqlite_service
    # the market's rows an hour old (written by "another process": this process's engine
    # does not see it), so that no stamp reading can find them unsettled, however slow
    # the machine; then a cache that reads the stamps on every request (every=0)
    with sqlite3.connect(_sqlite_path(s)) as conn:
        conn.execute("UPDATE vacancies SET updated_at = datetime('now', '-1 hour')")
    s.app.state.serving_cache = ServingCache(s.app.state.engine, every=0.0)
    assert _recommend(s).status_code == 200
    statements.clear()
    assert _recommend(s).status_code == 200  # after a stamp reading
    assert [q for q in statements if "max(vacancies.updated_at)" in q.lower()], statements
    assert not [q for q in statements if "FROM vacancies" in q and "vacancy_id IN" in q]


def test_a_fill_needs_no_second_store_connection(sqlite_service: Service):
    """A request fills the cache with the one connection it holds, also when the stamps are
    due for a reading after the fetch (every=0): a second connection taken while the
    cache's lock is held deadlocks a drained pool (the requests queued on the lock hold
    the rest) until its timeout. A pool of one connection makes that a timeout at once."""
    s = sqlite_service
    one = create_engine(
        make_url(s.url), poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    cache = ServingCache(one, every=0.0)
    try:
        with session_scope(one) as session:
            ids = list(session.scalars(select(Vacancy.vacancy_id).limit(3)))
            assert set(cache.cards(session, ids)) == set(ids)
            assert set(cache.cards(session, ids)) == set(ids)  # a stamp reading each time
    finally:
        one.dispose()
