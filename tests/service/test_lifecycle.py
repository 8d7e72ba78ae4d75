"""Worker lifecycle: hired -> employed (在岗), left / arrears / injury -> to be re-placed,
and every count of job-seekers (search, dashboard, nightly pool) agreeing with the status."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from service_fixtures import Service, fresh_workers
from sqlalchemy import func, select

from service import lifecycle, nightly
from service.lifecycle import Outcome, WorkerStatus, replay
from service.store.db import make_engine, session_scope
from service.store.models import Placement, Worker

T0 = datetime(2026, 3, 1, 8, 0)


def at(day: int) -> datetime:
    return T0.replace(day=day)


# --------------------------------------------------------------------------- replay


def test_replay_hire_then_leave_then_hire_elsewhere():
    life = replay(
        [
            Outcome("V2", "hired", at(20)),
            Outcome("V1", "hired", at(1)),  # any order: replayed by time
            Outcome("V1", "left", at(10)),
        ]
    )
    assert [(s.vacancy_id, s.ended_at, s.end_reason) for s in life.spells] == [
        ("V1", at(10), "left"),
        ("V2", None, None),
    ]
    assert life.status == WorkerStatus.EMPLOYED and life.since == at(20) and life.reason is None


def test_replay_arrears_and_injury_flag_for_replacement():
    for event in ("left", "wage_arrears", "injury"):
        life = replay([Outcome("V1", "hired", at(1)), Outcome("V1", event, at(5))])
        assert life.status == WorkerStatus.NEEDS_REPLACEMENT
        assert life.reason == event and life.since == at(5)
        assert life.spells[0].ended_at == at(5) and life.spells[0].end_reason == event


def test_replay_ignores_outcomes_about_an_earlier_job_and_duplicate_hires():
    life = replay(
        [
            Outcome("V1", "hired", at(1)),
            Outcome("V2", "hired", at(3)),  # moved: V1 ends
            Outcome("V2", "hired", at(4)),  # the same hire again: first start counts
            Outcome("V1", "wage_arrears", at(6)),  # about the old job: the new one goes on
            Outcome("V2", "retained_3m", at(9)),
        ]
    )
    assert [(s.vacancy_id, s.started_at, s.end_reason) for s in life.spells] == [
        ("V1", at(1), "moved"),
        ("V2", at(3), None),
    ]
    assert life.status == WorkerStatus.EMPLOYED


def test_replay_hired_and_left_at_the_same_time_ends_to_replace():
    life = replay([Outcome("V1", "left", at(2)), Outcome("V1", "hired", at(2))])
    assert life.status == WorkerStatus.NEEDS_REPLACEMENT


def test_replay_without_outcomes_is_job_seeking():
    life = replay([Outcome("V1", "applied", at(2))])
    assert life.status == WorkerStatus.ACTIVE and life.spells == []


# --------------------------------------------------------------------------- through the API


def _status(service: Service, worker_id: str) -> dict:
    r = service.client.get(f"/api/v1/workers/{worker_id}", headers=service.as_("officer"))
    assert r.status_code == 200, r.text
    return r.json()


def test_hired_then_left_moves_the_worker_through_the_lifecycle(service: Service):
    c, off = service.client, service.as_("officer")
    wid = fresh_workers(service)[0]
    vacancies = c.get("/api/v1/vacancies?limit=2", headers=off).json()["data"]
    vac = vacancies[0]
    assert _status(service, wid)["status"] == "active"

    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": wid,
            "vacancy_id": vac["vacancy_id"],
            "event": "hired",
            "occurred_at": "2026-03-02T09:30:00+08:00",  # Beijing time: stored as UTC
        },
        headers=off,
    )
    assert r.status_code == 201, r.text
    w = _status(service, wid)
    assert w["status"] == "employed" and w["needs_replacement"] is False
    assert w["placement"]["vacancy_id"] == vac["vacancy_id"]
    assert w["placement"]["employer_id"] == vac["employer_id"]
    assert w["placement"]["started_at"].startswith("2026-03-02T01:30:00")
    assert w["status_since"].startswith("2026-03-02T01:30:00")
    # out of the job-seeking pool everywhere
    seekers = c.get("/api/v1/workers?status=seeking&limit=500", headers=off).json()["data"]
    assert wid not in {x["worker_id"] for x in seekers}
    employed = c.get("/api/v1/workers?status=employed&limit=500", headers=off).json()["data"]
    assert wid in {x["worker_id"] for x in employed}

    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": wid,
            "vacancy_id": vac["vacancy_id"],
            "event": "wage_arrears",
            "occurred_at": "2026-04-01T00:00:00Z",
        },
        headers=off,
    )
    assert r.status_code == 201, r.text
    w = _status(service, wid)
    assert w["status"] == "to_replace" and w["needs_replacement"] is True
    assert w["replacement_reason"] == "wage_arrears"
    assert w["placement"]["end_reason"] == "wage_arrears"  # the job just lost
    seekers = c.get("/api/v1/workers?status=seeking&limit=500", headers=off).json()["data"]
    assert wid in {x["worker_id"] for x in seekers}

    # hired again: employed, the flag is gone
    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": wid,
            "vacancy_id": vacancies[1]["vacancy_id"],
            "event": "hired",
            "occurred_at": "2026-04-10T00:00:00Z",
        },
        headers=off,
    )
    w = _status(service, wid)
    assert w["status"] == "employed" and w["replacement_reason"] is None
    assert w["placement"]["vacancy_id"] == vacancies[1]["vacancy_id"]


def test_status_employed_cannot_be_set_by_hand(service: Service):
    r = service.client.patch(
        "/api/v1/workers/W000", json={"status": "employed"}, headers=service.as_("officer")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]


def test_counts_agree_between_search_dashboard_and_nightly(service: Service):
    engine = make_engine(service.url)
    with session_scope(engine) as session:
        summary = lifecycle.rebuild(session)
    assert summary.employed > 0  # the test market has hires
    c, adm = service.client, service.as_("admin")
    counties = c.get("/api/v1/workers/by-county", headers=adm).json()["data"]
    seeking = sum(x["seeking"] for x in counties)
    employed = sum(x["employed"] for x in counties)
    assert employed == summary.employed
    assert sum(x["count"] for x in counties) == seeking + employed + _count(c, adm, "inactive")
    assert _count(c, adm, "seeking") == seeking and _count(c, adm, "employed") == employed

    from service.store.repository import load_dataset

    ds = load_dataset(engine)
    with engine.connect() as conn:
        statuses = pd.DataFrame(
            conn.execute(select(Worker.worker_id, Worker.status)).all(),
            columns=["worker_id", "status"],
        )
    pool = set(nightly.active_workers(ds, statuses)["worker_id"])
    seekers = c.get("/api/v1/workers?status=seeking&limit=500", headers=adm).json()["data"]
    assert pool == {x["worker_id"] for x in seekers}
    with session_scope(engine) as session:
        open_placements = session.scalar(
            select(func.count()).select_from(Placement).where(Placement.ended_at.is_(None))
        )
    assert open_placements == employed
    engine.dispose()


def _count(c, headers, status: str) -> int:
    return c.get(f"/api/v1/workers?status={status}&limit=1", headers=headers).json()["count"]


# --------------------------------------------------------------------------- re-placement


def _items(*employers: str) -> list[dict]:
    return [
        {"rank": i + 1, "vacancy_id": f"V{i}", "employer_id": e, "warnings": []}
        for i, e in enumerate(employers)
    ]


def test_previous_employer_left_is_ranked_after_the_others():
    prev = lifecycle.PreviousEmployer("E1", "V9", "left", at(5))
    out = lifecycle.apply_previous_employer(_items("E1", "E2", "E1", "E3"), prev, k=3)
    assert [(x["employer_id"], x["rank"]) for x in out] == [("E2", 1), ("E3", 2), ("E1", 3)]
    assert prev.action == "ranked_lower" and out[2]["warnings"] == [prev.message]
    assert "2026-03-05" in prev.message and "排在其他岗位之后" in prev.message


def test_previous_employer_unpaid_or_injured_is_excluded():
    for reason in ("wage_arrears", "injury"):
        prev = lifecycle.PreviousEmployer("E1", "V9", reason, at(5))
        out = lifecycle.apply_previous_employer(_items("E1", "E2", "E1", "E3"), prev, k=10)
        assert [x["employer_id"] for x in out] == ["E2", "E3"] and prev.action == "excluded"
        assert [x["rank"] for x in out] == [1, 2] and "不再推荐" in prev.message


def test_fresh_recommendations_of_a_worker_to_replace_name_the_previous_employer(
    service: Service,
):
    c, off = service.client, service.as_("officer")
    wid = fresh_workers(service)[0]
    # k = every vacancy of the test market: the previous employer's other vacancies stay
    # in the answer (ranked last), so where they land can be checked
    every = 30
    before = c.get(f"/api/v1/workers/{wid}/recommendations?k={every}", headers=off).json()
    assert before["previous_employer"] is None
    listed = [x["employer_id"] for x in before["data"]]

    def movable(pos: int) -> bool:
        """Item ``pos``'s employer has another item that some other employer's follows:
        ranking that employer last after the worker leaves is then a visible change."""
        e = listed[pos]
        return any(
            listed[j] == e and j != pos and any(f != e for f in listed[j + 1 :])
            for j in range(len(listed))
        )

    top = before["data"][next(pos for pos in range(len(listed)) if movable(pos))]
    employer = top["employer_id"]
    for event, day in (("hired", "2026-03-01"), ("left", "2026-03-20")):
        r = c.post(
            "/api/v1/outcomes",
            json={
                "worker_id": wid,
                "vacancy_id": top["vacancy_id"],
                "event": event,
                "occurred_at": f"{day}T00:00:00Z",
            },
            headers=off,
        )
        assert r.status_code == 201, r.text
    after = c.get(f"/api/v1/workers/{wid}/recommendations?k={every}", headers=off).json()
    note = after["previous_employer"]
    assert note["employer_id"] == employer and note["action"] == "ranked_lower"
    assert note["reason"] == "left" and note["message"]
    employers = [x["employer_id"] for x in after["data"]]
    theirs = [i for i, e in enumerate(employers) if e == employer]
    assert theirs and len(theirs) < len(employers)
    assert all(i > j for i in theirs for j, e in enumerate(employers) if e != employer)
    assert all(after["data"][i]["warnings"][0] == note["message"] for i in theirs)
    assert [x["rank"] for x in after["data"]] == list(range(1, len(after["data"]) + 1))
    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": wid,
            "vacancy_id": top["vacancy_id"],
            "event": "wage_arrears",
            "occurred_at": "2026-03-10T00:00:00Z",  # recorded late: the reason becomes arrears
        },
        headers=off,
    )
    assert r.status_code == 201
    again = c.get(f"/api/v1/workers/{wid}/recommendations?k={every}", headers=off).json()
    assert again["previous_employer"]["action"] == "excluded"
    assert employer not in {x["employer_id"] for x in again["data"]}
