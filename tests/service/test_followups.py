"""Follow-ups: scheduled on hired (dates, office time zone), listed, completed, and what
completing one does to the worker (re-placement) -- through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from service_fixtures import Service, fresh_workers
from sqlalchemy import select

from service import followups, lifecycle
from service.settings import Settings
from service.store.db import make_engine, session_scope
from service.store.models import Event, FollowUp, Worker


def _hire(service: Service, worker_id: str, when: str, vacancy: str = "V000") -> None:
    r = service.client.post(
        "/api/v1/outcomes",
        json={"worker_id": worker_id, "vacancy_id": vacancy, "event": "hired", "occurred_at": when},
        headers=service.as_("officer"),
    )
    assert r.status_code == 201, r.text


def _list(service: Service, role: str = "officer", **params) -> dict:
    r = service.client.get("/api/v1/follow-ups", params=params, headers=service.as_(role))
    assert r.status_code == 200, r.text
    return r.json()


def test_hired_schedules_follow_ups_at_7_30_90_180_days_in_utc(sqlite_service: Service):
    wid = fresh_workers(sqlite_service)[0]
    # 07:00 in Beijing is 23:00 UTC the day before
    _hire(sqlite_service, wid, "2026-03-02T07:00:00+08:00")
    body = _list(sqlite_service, worker_id=wid)
    assert body["count"] == 4
    rows = body["data"]
    assert [r["day"] for r in rows] == [7, 30, 90, 180]
    hire = datetime(2026, 3, 1, 23, 0)
    for r in rows:
        due = datetime.fromisoformat(r["due_at"]).replace(tzinfo=None)
        assert due == hire + timedelta(days=r["day"])
        assert r["status"] == "overdue"  # all in the past
        assert r["placement"]["vacancy_id"] == "V000"
        assert r["placement"]["employer_id"]
    # the due day is the office's calendar day (Asia/Shanghai), not UTC's
    assert rows[0]["due_at"].startswith("2026-03-08T23:00") and rows[0]["due_date"] == "2026-03-09"
    # due_before without a zone is office time: 2026-03-09 07:00 +08 is the due instant
    assert _list(sqlite_service, worker_id=wid, due_before="2026-03-09T07:00:00")["count"] == 0
    assert _list(sqlite_service, worker_id=wid, due_before="2026-03-09T07:00:01")["count"] == 1
    assert _list(sqlite_service, worker_id=wid, due_before="2026-03-08T23:00:01Z")["count"] == 1


def test_open_versus_overdue_and_summary(sqlite_service: Service):
    wid = fresh_workers(sqlite_service)[0]
    when = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0).isoformat()
    _hire(sqlite_service, wid, when)
    statuses = [r["status"] for r in _list(sqlite_service, worker_id=wid)["data"]]
    assert statuses == ["overdue", "open", "open", "open"]
    assert _list(sqlite_service, worker_id=wid, status="open")["count"] == 3
    assert _list(sqlite_service, worker_id=wid, status="overdue")["count"] == 1
    s = sqlite_service.client.get(
        "/api/v1/follow-ups/summary", headers=sqlite_service.as_("officer")
    ).json()
    assert s["overdue"] >= 1 and s["open"] >= 4


def test_completing_follow_ups(sqlite_service: Service):
    c, off = sqlite_service.client, sqlite_service.as_("officer")
    wid = fresh_workers(sqlite_service)[0]
    _hire(sqlite_service, wid, "2026-03-02T07:00:00+08:00")
    first, second, *later = _list(sqlite_service, worker_id=wid)["data"]

    r = c.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json={
            "still_employed": True,
            "paid_on_time": True,
            "contract_signed": False,
            "social_insurance": True,
            "visited_at": "2026-03-09T10:00:00",
        },
        headers=off,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done" and done["findings"]["contract_signed"] is False
    assert done["completed_at"].startswith("2026-03-09T02:00")  # office time -> UTC
    w = c.get(f"/api/v1/workers/{wid}", headers=off).json()
    assert w["status"] == "employed"
    # twice: 409
    r = c.post(
        f"/api/v1/follow-ups/{first['id']}/complete", json={"still_employed": True}, headers=off
    )
    assert r.status_code == 409

    # bad input: field messages
    r = c.post(
        f"/api/v1/follow-ups/{second['id']}/complete", json={"still_employed": False}, headers=off
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "left_reason"]
    r = c.post(
        f"/api/v1/follow-ups/{second['id']}/complete",
        json={"still_employed": True, "arrears_months": -1},
        headers=off,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "arrears_months"]
    r = c.post(
        f"/api/v1/follow-ups/{second['id']}/complete",
        json={"still_employed": True, "visited_at": "2999-01-01T00:00:00Z"},
        headers=off,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "visited_at"]
    # other officer, employer: refused; unknown id: 404
    r = c.post(
        f"/api/v1/follow-ups/{second['id']}/complete",
        json={"still_employed": True},
        headers=sqlite_service.as_("other_officer"),
    )
    assert r.status_code == 403
    for method, path in (
        ("get", "/api/v1/follow-ups"),
        ("post", f"/api/v1/follow-ups/{second['id']}/complete"),
    ):
        assert (
            c.request(
                method, path, json={"still_employed": True}, headers=sqlite_service.as_("employer")
            ).status_code
            == 403
        )
    assert c.get("/api/v1/follow-ups/999999", headers=off).status_code == 404

    # unpaid and gone at the 30-day visit: the worker is to be re-placed, later visits cancelled
    r = c.post(
        f"/api/v1/follow-ups/{second['id']}/complete",
        json={
            "still_employed": False,
            "left_reason": "老板拖欠工资",
            "paid_on_time": False,
            "arrears_months": 2,
            "arrears_amount": 9000,
            "visited_at": "2026-04-01T10:00:00+08:00",
        },
        headers=off,
    )
    assert r.status_code == 200, r.text
    w = c.get(f"/api/v1/workers/{wid}", headers=off).json()
    assert w["status"] == "to_replace" and w["needs_replacement"] is True
    assert w["replacement_reason"] == "wage_arrears"
    statuses = {r["day"]: r["status"] for r in _list(sqlite_service, worker_id=wid)["data"]}
    assert statuses == {7: "done", 30: "done", 90: "cancelled", 180: "cancelled"}
    outcomes = c.get(f"/api/v1/workers/{wid}/outcomes", headers=off).json()["data"]
    assert {o["event"] for o in outcomes} >= {"hired", "left", "wage_arrears"}
    cases = c.get("/api/v1/re-placements?limit=500", headers=off).json()["data"]
    case = next(x for x in cases if x["worker_id"] == wid)
    assert case["reason"] == "wage_arrears" and case["previous_vacancy_id"] == "V000"
    # other region's officer does not see the case or the follow-ups
    other = c.get("/api/v1/re-placements?limit=500", headers=sqlite_service.as_("other_officer"))
    assert wid not in {x["worker_id"] for x in other.json()["data"]}
    r = c.get(f"/api/v1/follow-ups?worker_id={wid}", headers=sqlite_service.as_("other_officer"))
    assert r.status_code == 403


def test_replacement_list_is_sorted_by_household_priority(sqlite_service: Service):
    engine = make_engine(sqlite_service.url)
    t = datetime(2026, 3, 1)
    with session_scope(engine) as session:
        lifecycle.rebuild(session)
        ids = session.scalars(
            select(Worker.worker_id).where(
                Worker.home_region.startswith("5424"), Worker.status == "active"
            )
        ).all()[:3]
        for wid, hh, day in zip(ids, ("none", "monitored", "lifted"), (1, 3, 2), strict=True):
            session.get(Worker, wid).household_status = hh
            session.add(Event(worker_id=wid, vacancy_id="V001", event="hired", occurred_at=t))
            session.add(
                Event(
                    worker_id=wid,
                    vacancy_id="V001",
                    event="left",
                    occurred_at=t + timedelta(days=day),
                )
            )
        session.flush()
        lifecycle.rebuild(session, ids)
    engine.dispose()
    cases = sqlite_service.client.get(
        "/api/v1/re-placements?limit=500", headers=sqlite_service.as_("officer")
    ).json()["data"]
    mine = [x for x in cases if x["worker_id"] in ids]
    assert [x["household_status"] for x in mine] == ["monitored", "lifted", "none"]
    priorities = [x["priority"] for x in cases]
    assert priorities == sorted(priorities)


def test_follow_up_days_are_configurable_and_validated(sqlite_service: Service):
    assert Settings(followup_days=[30, 7]).followup_days == (7, 30)
    for bad in ([], [0], [7, 7]):
        with pytest.raises(ValidationError):
            Settings(followup_days=bad)
    with pytest.raises(ValidationError):
        Settings(office_timezone="Mars/Base")
    engine = make_engine(sqlite_service.url)
    wid = fresh_workers(sqlite_service, 2)[1]
    with session_scope(engine) as session:
        session.add(
            Event(
                worker_id=wid,
                vacancy_id="V002",
                event="hired",
                occurred_at=datetime(2026, 1, 31, 20),
            )
        )
        session.flush()
        lifecycle.rebuild(session, [wid])
        assert followups.schedule(session, [wid], (3, 14)) == 2
        assert followups.schedule(session, [wid], (3, 14)) == 0  # idempotent
        due = sorted(session.scalars(select(FollowUp.due_at).where(FollowUp.worker_id == wid)))
    engine.dispose()
    assert due == [datetime(2026, 2, 3, 20), datetime(2026, 2, 14, 20)]


def test_past_follow_ups_are_answered_by_recorded_outcomes(sqlite_service: Service):
    engine = make_engine(sqlite_service.url)
    a, b, c = fresh_workers(sqlite_service, 5)[2:]
    t = datetime(2026, 1, 5, 8)
    with session_scope(engine) as session:
        for ev in (
            (a, "hired", t),
            (a, "retained_3m", t + timedelta(days=92)),  # there at 7, 30, 90
            (b, "hired", t),
            (b, "wage_arrears", t + timedelta(days=20)),  # gone before day 30
            (c, "hired", t),  # nothing known: stays open
        ):
            session.add(Event(worker_id=ev[0], vacancy_id="V003", event=ev[1], occurred_at=ev[2]))
        session.flush()
        lifecycle.rebuild(session, [a, b, c])
        followups.schedule(session, [a, b, c])
        settled = followups.settle_from_outcomes(session, [a, b, c], now=datetime(2026, 12, 1))
        rows = session.execute(
            select(
                FollowUp.worker_id,
                FollowUp.day,
                FollowUp.status,
                FollowUp.still_employed,
                FollowUp.paid_on_time,
            )
        ).all()
    engine.dispose()
    got = {(w, d): (s, e, p) for w, d, s, e, p in rows if w in (a, b, c)}
    assert got[(a, 90)] == ("done", True, None) and got[(a, 180)][0] == "open"
    assert got[(b, 7)] == ("done", True, None)  # still there: the arrears came on day 20
    assert (b, 30) not in got  # ended before it was due: never scheduled
    assert all(got[(c, d)][0] == "open" for d in (7, 30, 90, 180))
    assert settled == 4
