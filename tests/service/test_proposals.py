"""The employer side: proposed candidates per vacancy (no personal data), answers with
reasons, idle vacancies closed with a notice, reply rates for officers."""

from __future__ import annotations

from datetime import datetime, timedelta

from service_fixtures import EMPLOYER, Service
from service_market import worker_id_number, worker_name, worker_phone
from sqlalchemy import select, update

from service import proposals
from service.store.db import make_engine, session_scope
from service.store.models import Vacancy, Worker


def _employer_vacancy(service: Service) -> str:
    engine = make_engine(service.url)
    with session_scope(engine) as session:
        vid = session.scalar(
            select(Vacancy.vacancy_id)
            .where(Vacancy.employer_id == EMPLOYER, Vacancy.status == "open")
            .order_by(Vacancy.vacancy_id)
        )
        workers = session.scalars(
            select(Worker.worker_id)
            .where(Worker.home_region.startswith("5424"))
            .order_by(Worker.worker_id)
        ).all()
    engine.dispose()
    assert vid is not None
    return vid, list(workers)


def test_propose_answer_and_reply_stats(sqlite_service: Service):
    s = sqlite_service
    c, off, emp = s.client, s.as_("officer"), s.as_("employer")
    vid, workers = _employer_vacancy(s)
    ids = []
    for wid in workers[:3]:
        r = c.post("/api/v1/proposals", json={"worker_id": wid, "vacancy_id": vid}, headers=off)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "proposed"
        ids.append(r.json()["proposal_id"])
    # twice: 409; out of region: 403; unknown: 422 with the field; employer cannot propose
    r = c.post("/api/v1/proposals", json={"worker_id": workers[0], "vacancy_id": vid}, headers=off)
    assert r.status_code == 409
    r = c.post("/api/v1/proposals", json={"worker_id": "W002", "vacancy_id": vid}, headers=off)
    assert r.status_code == 403
    r = c.post(
        "/api/v1/proposals", json={"worker_id": workers[0], "vacancy_id": "NOPE"}, headers=off
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "vacancy_id"]
    r = c.post("/api/v1/proposals", json={"worker_id": workers[0], "vacancy_id": vid}, headers=emp)
    assert r.status_code == 403

    # the employer sees its candidates without personal data
    r = c.get(f"/api/v1/vacancies/{vid}/proposals", headers=emp)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 3 and {x["status"] for x in body["data"]} == {"proposed"}
    assert all(x["candidate_ref"].startswith("C-") for x in body["data"])
    text = r.text
    for i in range(60):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in text
    assert not any(w in text for w in workers[:3])  # no worker ids either
    assert "expected_wage" not in text and "preferred_regions" not in text
    # another employer: refused
    assert (
        c.get(f"/api/v1/vacancies/{vid}/proposals", headers=s.as_("other_employer")).status_code
        == 403
    )

    # answers
    r = c.post(f"/api/v1/proposals/{ids[0]}/answer", json={"answer": "interested"}, headers=emp)
    assert r.status_code == 200 and r.json()["status"] == "interested"
    r = c.post(f"/api/v1/proposals/{ids[1]}/answer", json={"answer": "not_suitable"}, headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = c.post(
        f"/api/v1/proposals/{ids[1]}/answer",
        json={"answer": "not_suitable", "reason": "other"},
        headers=emp,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "note"]
    r = c.post(f"/api/v1/proposals/{ids[1]}/answer", json={"answer": "maybe"}, headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "answer"]
    r = c.post(
        f"/api/v1/proposals/{ids[1]}/answer",
        json={"answer": "not_suitable", "reason": "skills"},
        headers=emp,
    )
    assert r.status_code == 200 and r.json()["reason"] == "skills"
    assert (
        c.post(
            f"/api/v1/proposals/{ids[1]}/answer", json={"answer": "interested"}, headers=emp
        ).status_code
        == 409
    )
    assert (
        c.post(
            f"/api/v1/proposals/{ids[2]}/answer",
            json={"answer": "interested"},
            headers=s.as_("other_employer"),
        ).status_code
        == 403
    )
    assert (
        c.post(
            "/api/v1/proposals/99999/answer", json={"answer": "interested"}, headers=emp
        ).status_code
        == 404
    )

    # a hire recorded by the officer shows as hired to the employer
    r = c.post(
        "/api/v1/outcomes",
        json={"worker_id": workers[0], "vacancy_id": vid, "event": "hired"},
        headers=off,
    )
    assert r.status_code == 201
    statuses = sorted(
        x["status"] for x in c.get(f"/api/v1/vacancies/{vid}/proposals", headers=emp).json()["data"]
    )
    assert statuses == ["hired", "not_suitable", "proposed"]

    # officers: their proposals and the employer's reply rate
    mine = c.get("/api/v1/proposals", headers=off).json()
    assert mine["count"] == 3
    assert c.get("/api/v1/proposals", headers=s.as_("other_officer")).json()["count"] == 0
    stats = {
        x["employer_id"]: x for x in c.get("/api/v1/employer-replies", headers=off).json()["data"]
    }
    e = stats[EMPLOYER]
    assert (e["proposed"], e["answered"]) == (3, 2)
    assert abs(e["reply_rate"] - 2 / 3) < 1e-9 and e["interested_share"] == 0.5
    assert e["median_hours_to_answer"] is not None and e["median_hours_to_answer"] >= 0
    assert c.get("/api/v1/employer-replies", headers=emp).status_code == 403


def test_idle_vacancies_close_with_a_notice(sqlite_service: Service):
    s = sqlite_service
    c, emp = s.client, s.as_("employer")
    vid, _ = _employer_vacancy(s)
    engine = make_engine(s.url)
    old = datetime(2026, 1, 1)
    with session_scope(engine) as session:
        session.execute(
            update(Vacancy)
            .where(Vacancy.vacancy_id == vid)
            .values(updated_at=old, posted_at=old, closes_at=None)
        )
    with session_scope(engine) as session:
        # 29 days after the last action: still open
        assert proposals.close_idle(session, now=old + timedelta(days=29)) == 0
    with session_scope(engine) as session:
        assert vid in {
            v.vacancy_id for v in session.scalars(select(Vacancy).where(Vacancy.status == "open"))
        }
    engine.dispose()
    # today: far more than 30 days -> closed on the next read, with a notice
    r = c.get(f"/api/v1/vacancies/{vid}", headers=emp)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    notes = c.get("/api/v1/notices", headers=emp).json()["data"]
    assert any(n["vacancy_id"] == vid and n["kind"] == "vacancy_closed_idle" for n in notes)
    assert all("30 天内没有任何操作" in n["message"] for n in notes if n["vacancy_id"] == vid)
    # the other employer does not see it; officers have no notices
    other = c.get("/api/v1/notices", headers=s.as_("other_employer")).json()["data"]
    assert vid not in {n["vacancy_id"] for n in other}
    assert c.get("/api/v1/notices", headers=s.as_("officer")).status_code == 403
