"""The wage-arrears and contract channel: follow-up findings become an employer's risk
figures, warnings beside its vacancies and, above the threshold, a flag for the labour
inspectorate with evidence scoped to the reader's region."""

from __future__ import annotations

from service_fixtures import Service
from sqlalchemy import select

from service import lifecycle
from service.store.db import make_engine, session_scope
from service.store.models import Vacancy, Worker


def _workers_and_vacancy(service: Service, n: int) -> tuple[list[str], str, str]:
    engine = make_engine(service.url)
    with session_scope(engine) as session:
        lifecycle.rebuild(session)
        ids = session.scalars(
            select(Worker.worker_id)
            .where(Worker.home_region.startswith("5424"), Worker.status == "active")
            .order_by(Worker.worker_id)
        ).all()[:n]
        vacancy, employer = session.execute(
            select(Vacancy.vacancy_id, Vacancy.employer_id).order_by(Vacancy.vacancy_id)
        ).first()
    engine.dispose()
    return list(ids), vacancy, employer


def _hire_and_visit(service: Service, wid: str, vacancy: str, findings: dict) -> None:
    c, off = service.client, service.as_("officer")
    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": wid,
            "vacancy_id": vacancy,
            "event": "hired",
            "occurred_at": "2026-06-01T00:00:00Z",
        },
        headers=off,
    )
    assert r.status_code == 201, r.text
    first = c.get(f"/api/v1/follow-ups?worker_id={wid}", headers=off).json()["data"][0]
    r = c.post(
        f"/api/v1/follow-ups/{first['id']}/complete",
        json={"visited_at": "2026-06-09T10:00:00+08:00", **findings},
        headers=off,
    )
    assert r.status_code == 200, r.text


def test_findings_flag_the_employer_with_scoped_evidence(service: Service):
    c, off = service.client, service.as_("officer")
    (a, b, d), vacancy, employer = _workers_and_vacancy(service, 3)
    assert c.get("/api/v1/employer-risk", headers=off).json()["count"] == 0

    _hire_and_visit(
        service,
        a,
        vacancy,
        {
            "still_employed": True,
            "paid_on_time": False,
            "arrears_months": 2,
            "arrears_amount": 8000,
        },
    )
    risk = c.get(f"/api/v1/employer-risk/{employer}", headers=off).json()
    assert risk["arrears"] == 1 and risk["arrears_amount"] == 8000 and not risk["flagged"]
    assert risk["warning"] and "欠薪 1 起" in risk["warning"]

    _hire_and_visit(service, b, vacancy, {"still_employed": True, "contract_signed": False})
    _hire_and_visit(
        service,
        d,
        vacancy,
        {"still_employed": False, "left_reason": "拖欠工资", "arrears_months": 1},
    )
    risk = c.get(f"/api/v1/employer-risk/{employer}", headers=off).json()
    assert (risk["arrears"], risk["no_contract"], risk["recent"]) == (2, 1, 3)
    assert risk["flagged"] is True and risk["threshold"] == 3
    assert risk["last_at"].startswith("2026-06-09T02:00")
    assert "已达提请劳动监察标准" in risk["warning"]
    kinds = sorted((x["kind"], x["worker_id"]) for x in risk["cases"])
    assert kinds == sorted([("wage_arrears", a), ("no_contract", b), ("wage_arrears", d)])
    assert all(x["home_region"].startswith("5424") for x in risk["cases"])

    flagged = c.get("/api/v1/employer-risk", headers=off).json()["data"]
    assert [x["employer_id"] for x in flagged] == [employer]

    # an officer of another region sees the counts and dates, never these workers' ids
    other = c.get(f"/api/v1/employer-risk/{employer}", headers=service.as_("other_officer"))
    assert other.status_code == 200
    assert other.json()["recent"] == 3 and all(
        x["worker_id"] is None for x in other.json()["cases"]
    )
    text = other.text
    for wid in (a, b, d):
        assert wid not in text
    # employers never
    for path in ("/api/v1/employer-risk", f"/api/v1/employer-risk/{employer}"):
        assert c.get(path, headers=service.as_("employer")).status_code == 403
    assert c.get("/api/v1/employer-risk/NOPE", headers=off).status_code == 404


def test_one_job_reported_twice_counts_once_and_warns_beside_recommendations(service: Service):
    c, off = service.client, service.as_("officer")
    (a,), vacancy, employer = _workers_and_vacancy(service, 1)
    _hire_and_visit(service, a, vacancy, {"still_employed": True, "arrears_months": 1})
    # the officer records the same arrears as an outcome too
    r = c.post(
        "/api/v1/outcomes",
        json={
            "worker_id": a,
            "vacancy_id": vacancy,
            "event": "wage_arrears",
            "occurred_at": "2026-06-20T00:00:00Z",
        },
        headers=off,
    )
    assert r.status_code == 201
    risk = c.get(f"/api/v1/employer-risk/{employer}", headers=off).json()
    assert risk["arrears"] == 1 and risk["cases"][0]["at"].startswith("2026-06-09")

    # some worker whose list holds this employer's vacancies sees the warning there
    seen = 0
    for wid in c.get("/api/v1/workers?limit=20", headers=off).json()["data"]:
        recs = c.get(f"/api/v1/workers/{wid['worker_id']}/recommendations?k=30", headers=off).json()
        for item in recs["data"]:
            if item["employer_id"] == employer:
                assert any("回访与结果记录" in w for w in item["warnings"])
                seen += 1
            else:
                assert not any("回访与结果记录" in w for w in item["warnings"])
    assert seen > 0
