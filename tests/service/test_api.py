"""Every API route for every role, against SQLite and the real PostgreSQL.

Known data (tests/service/service_market.py): workers W000..W059 live in 542427,
542421, 522301, 513401 in turn (W000, W001, W004, W005... in the officer's region
5424); vacancies V000..V029 belong to employers E000..E004.
"""

from __future__ import annotations

import pytest
from service_fixtures import EMPLOYER, Service
from service_market import worker_id_number, worker_name, worker_phone
from sqlalchemy import select

from matcher.data.schema import CONTRACT
from service.schemas import (
    EmployerCandidate,
    EmployerCreate,
    VacancyCreate,
    WorkerCreate,
)
from service.store.db import session_scope
from service.store.models import AuditEntry, Event, Vacancy

IN_SCOPE = "W000"  # home 542427, inside 5424
OUT_OF_SCOPE = "W002"  # home 522301


def new_worker(worker_id: str = "W900", home: str = "542427", **extra) -> dict:
    body = {
        "worker_id": worker_id,
        "home_region": home,
        "name": "新登记姓名",
        "phone": "13911112222",
        "id_number": "542427199001019999",
        "birth_year": 1992,
        "skills": "电焊 焊工",
        "work_history": "工厂焊工两年",
        "languages": "zh;bo",
        "mobility": "any",
        "labor_capacity": "full",
    }
    body.update(extra)
    return body


def new_vacancy(vacancy_id: str = "V900", **extra) -> dict:
    body = {
        "vacancy_id": vacancy_id,
        "title": "急招焊工包吃住月入8000",
        "region": "440306",
        "headcount": 4,
        "wage_min": 6000,
        "wage_max": 8000,
        "housing": True,
        "labor_contract": True,
        "channel": "cross_province_transfer",
    }
    body.update(extra)
    return body


def own_vacancy(s: Service) -> str:
    with session_scope(s.app.state.engine) as session:
        return session.scalars(
            select(Vacancy.vacancy_id).where(Vacancy.employer_id == EMPLOYER).limit(1)
        ).one()


def other_vacancy(s: Service) -> str:
    with session_scope(s.app.state.engine) as session:
        return session.scalars(
            select(Vacancy.vacancy_id).where(Vacancy.employer_id != EMPLOYER).limit(1)
        ).one()


# --------------------------------------------------------------------------- authentication


def test_health_and_ready_need_no_key(service: Service):
    assert service.client.get("/api/v1/health").json() == {"status": "ok"}
    r = service.client.get("/api/v1/ready")
    assert r.status_code == 200
    assert r.json()["ready"] is True
    assert r.json()["model_version"] == "20260101T000000Z"
    assert r.headers["x-model-version"] == "20260101T000000Z"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer jm_00000000_notarealkeynotarealkeynotareal"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_wrong_key_is_401(sqlite_service: Service, headers):
    c = sqlite_service.client
    for method, path in [
        ("get", "/api/v1/workers"),
        ("get", f"/api/v1/workers/{IN_SCOPE}"),
        ("get", f"/api/v1/workers/{IN_SCOPE}/recommendations"),
        ("get", "/api/v1/vacancies/V000/candidates"),
        ("post", "/api/v1/vacancies"),
        ("post", "/api/v1/outcomes"),
        ("post", "/api/v1/occupations/classify"),
        ("post", "/api/v1/admin/reload-model"),
        ("get", "/api/v1/me"),
    ]:
        r = getattr(c, method)(path, headers=headers)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_401(sqlite_service: Service):
    from service.auth import revoke_key

    s = sqlite_service
    me = s.client.get("/api/v1/me", headers=s.as_("officer")).json()
    assert me["role"] == "officer" and me["region_prefix"] == "5424"
    with session_scope(s.app.state.engine) as session:
        revoke_key(session, me["key_id"])
    assert s.client.get("/api/v1/me", headers=s.as_("officer")).status_code == 401


def test_keys_are_stored_hashed(sqlite_service: Service):
    from service.store.models import ApiKey

    with session_scope(sqlite_service.app.state.engine) as session:
        stored = [(k.key_hash, k.key_prefix) for k in session.scalars(select(ApiKey))]
    for key in sqlite_service.keys.values():
        assert all(key not in h for h, _ in stored)
        assert any(len(h) == 64 and key.split("_")[1] == p for h, p in stored)


# --------------------------------------------------------------------------- workers


def test_workers_create_scope_and_validation(service: Service):
    c = service.client
    r = c.post("/api/v1/workers", json=new_worker(), headers=service.as_("officer"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["worker_id"] == "W900" and body["languages"] == ["zh", "bo"]
    assert body["home_region_name"].endswith("索县")
    # outside the officer's region
    r = c.post("/api/v1/workers", json=new_worker("W901", "522301"), headers=service.as_("officer"))
    assert r.status_code == 403
    # admin may register anywhere
    r = c.post("/api/v1/workers", json=new_worker("W901", "522301"), headers=service.as_("admin"))
    assert r.status_code == 201
    # employers may not
    r = c.post("/api/v1/workers", json=new_worker("W902"), headers=service.as_("employer"))
    assert r.status_code == 403
    # duplicate id
    r = c.post("/api/v1/workers", json=new_worker(), headers=service.as_("officer"))
    assert r.status_code == 409


def test_worker_bad_body_is_422_with_field_messages(service: Service):
    c = service.client
    cases = {
        "gender": new_worker(gender="X"),
        "home_region": new_worker(home_region="542499x"),
        "expected_wage": new_worker(expected_wage=-5),
        "languages": new_worker(languages="zh;chinese"),
        "colour": new_worker(colour="red"),
    }
    for field, body in cases.items():
        r = c.post("/api/v1/workers", json=body, headers=service.as_("admin"))
        assert r.status_code == 422, (field, r.text)
        fields = [e["loc"][-1] for e in r.json()["detail"]]
        assert field in fields, (field, r.json())
    # an unknown (but well-formed) region code is a contract error on the field
    r = c.post(
        "/api/v1/workers", json=new_worker(home_region="549999"), headers=service.as_("admin")
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "home_region"]
    # personal values are never echoed in errors
    r = c.post("/api/v1/workers", json=new_worker(phone=13911112222), headers=service.as_("admin"))
    assert r.status_code == 422
    assert "13911112222" not in r.text
    # not JSON at all
    r = c.post(
        "/api/v1/workers",
        content=b"not json",
        headers={**service.as_("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422


def test_workers_read_update_and_scope(service: Service):
    c = service.client
    r = c.get(f"/api/v1/workers/{IN_SCOPE}", headers=service.as_("officer"))
    assert r.status_code == 200
    assert r.json()["name"] == worker_name(0)
    assert (
        c.get(f"/api/v1/workers/{OUT_OF_SCOPE}", headers=service.as_("officer")).status_code == 403
    )
    assert c.get(f"/api/v1/workers/{OUT_OF_SCOPE}", headers=service.as_("admin")).status_code == 200
    assert c.get("/api/v1/workers/NOPE", headers=service.as_("officer")).status_code == 404
    assert c.get(f"/api/v1/workers/{IN_SCOPE}", headers=service.as_("employer")).status_code == 403

    r = c.patch(
        f"/api/v1/workers/{IN_SCOPE}",
        json={"skills": "厨师 炒菜", "status": "inactive"},
        headers=service.as_("officer"),
    )
    assert r.status_code == 200
    assert r.json()["skills"] == "厨师 炒菜" and r.json()["status"] == "inactive"
    assert r.json()["name"] == worker_name(0)  # untouched fields keep their value
    # moving a worker out of the officer's region is refused
    r = c.patch(
        f"/api/v1/workers/{IN_SCOPE}",
        json={"home_region": "522301"},
        headers=service.as_("officer"),
    )
    assert r.status_code == 403
    r = c.patch(
        f"/api/v1/workers/{IN_SCOPE}", json={"birth_year": 1800}, headers=service.as_("officer")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "birth_year"]
    r = c.patch(
        f"/api/v1/workers/{OUT_OF_SCOPE}", json={"skills": "x"}, headers=service.as_("officer")
    )
    assert r.status_code == 403


def test_workers_search_is_scoped(service: Service, frames):
    c = service.client
    r = c.get("/api/v1/workers?limit=500", headers=service.as_("officer"))
    assert r.status_code == 200
    ids = {w["worker_id"] for w in r.json()["data"]}
    expected = set(frames["workers"].query("home_region.str.startswith('5424')").worker_id)
    assert ids == expected and r.json()["count"] == len(expected)
    # by county
    r = c.get("/api/v1/workers?region=542421", headers=service.as_("officer"))
    assert {w["home_region"] for w in r.json()["data"]} == {"542421"}
    # outside the scope
    assert c.get("/api/v1/workers?region=5223", headers=service.as_("officer")).status_code == 403
    # skill text
    r = c.get("/api/v1/workers?q=焊工&limit=500", headers=service.as_("admin"))
    welders = frames["workers"][frames["workers"].skills.str.contains("焊工")]
    assert r.json()["count"] == len(welders)
    # status
    r = c.get("/api/v1/workers?status=employed", headers=service.as_("admin"))
    assert r.json()["count"] == 0
    r = c.get("/api/v1/workers?status=placed", headers=service.as_("admin"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "status"]
    # paging
    r = c.get("/api/v1/workers?limit=2&offset=1", headers=service.as_("admin"))
    assert [w["worker_id"] for w in r.json()["data"]] == ["W001", "W002"]
    assert c.get("/api/v1/workers?limit=0", headers=service.as_("admin")).status_code == 422
    assert c.get("/api/v1/workers", headers=service.as_("employer")).status_code == 403


def test_workers_by_county(service: Service, frames):
    r = service.client.get("/api/v1/workers/by-county", headers=service.as_("officer"))
    assert r.status_code == 200
    counts = {x["region"]: x["count"] for x in r.json()["data"]}
    expected = frames["workers"].home_region.value_counts()
    assert counts == {k: int(expected[k]) for k in ("542421", "542427")}
    r = service.client.get("/api/v1/workers/by-county", headers=service.as_("admin"))
    assert sum(x["count"] for x in r.json()["data"]) == len(frames["workers"])


# --------------------------------------------------------------------------- employers


def test_employers(service: Service):
    c = service.client
    body = {"employer_id": "E900", "name": "新企业", "region": "441900", "verified": "yes"}
    r = c.post("/api/v1/employers", json=body, headers=service.as_("officer"))
    assert r.status_code == 403
    r = c.post("/api/v1/employers", json={**body, "verified": True}, headers=service.as_("admin"))
    assert r.status_code == 201 and r.json()["verified"] is True
    assert c.post("/api/v1/employers", json=body, headers=service.as_("admin")).status_code in (
        409,
        422,
    )
    r = c.post(
        "/api/v1/employers",
        json={"employer_id": "E901", "region": "000000"},
        headers=service.as_("admin"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "region"]
    assert (
        c.get(f"/api/v1/employers/{EMPLOYER}", headers=service.as_("employer")).status_code == 200
    )
    assert c.get("/api/v1/employers/E002", headers=service.as_("employer")).status_code == 403
    assert c.get("/api/v1/employers/E002", headers=service.as_("officer")).status_code == 200
    assert c.get("/api/v1/employers/NOPE", headers=service.as_("admin")).status_code == 404
    r = c.get("/api/v1/employers", headers=service.as_("officer"))
    assert r.status_code == 200 and r.json()["count"] == 6
    assert c.get("/api/v1/employers", headers=service.as_("employer")).status_code == 403


# --------------------------------------------------------------------------- vacancies


def test_employer_posts_vacancy_and_occupation_is_inferred(service: Service):
    c = service.client
    r = c.post("/api/v1/vacancies", json=new_vacancy(), headers=service.as_("employer"))
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["employer_id"] == EMPLOYER and v["status"] == "open"
    assert v["occupation_code"].startswith("6-")  # a production trade (welding)
    assert v["occupation_source"] == "inferred" and 0 < v["occupation_confidence"] <= 1
    assert v["occupation_name"]
    # a given code is kept and marked as given
    r = c.post(
        "/api/v1/vacancies",
        json=new_vacancy("V901", occupation_code="4-03-02-01", title="厨师"),
        headers=service.as_("employer"),
    )
    assert r.json()["occupation_code"] == "4-03-02-01"
    assert r.json()["occupation_source"] == "given"
    # an unknown code is a field error
    r = c.post(
        "/api/v1/vacancies",
        json=new_vacancy("V902", occupation_code="9-99-99-99"),
        headers=service.as_("employer"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "occupation_code"]


def test_vacancy_rules(service: Service):
    c = service.client
    emp = service.as_("employer")
    r = c.post("/api/v1/vacancies", json=new_vacancy(wage_min=9000, wage_max=8000), headers=emp)
    assert r.status_code == 422
    assert ["body", "wage_min"] in [e["loc"] for e in r.json()["detail"]]
    r = c.post("/api/v1/vacancies", json=new_vacancy(region="999999"), headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "region"]
    r = c.post("/api/v1/vacancies", json=new_vacancy(channel="moon"), headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "channel"]
    r = c.post("/api/v1/vacancies", json=new_vacancy(headcount=-1), headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "headcount"]
    r = c.post("/api/v1/vacancies", json=new_vacancy(min_age=50, max_age=20), headers=emp)
    assert r.status_code == 422
    body = new_vacancy()
    del body["title"]
    r = c.post("/api/v1/vacancies", json=body, headers=emp)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "title"]
    # posting for another employer
    r = c.post("/api/v1/vacancies", json=new_vacancy(employer_id="E002"), headers=emp)
    assert r.status_code == 403
    # officers do not post vacancies
    assert (
        c.post("/api/v1/vacancies", json=new_vacancy(), headers=service.as_("officer")).status_code
        == 403
    )
    # admins post for any employer, and must say which
    assert (
        c.post("/api/v1/vacancies", json=new_vacancy(), headers=service.as_("admin")).status_code
        == 422
    )
    r = c.post(
        "/api/v1/vacancies", json=new_vacancy(employer_id="E002"), headers=service.as_("admin")
    )
    assert r.status_code == 201
    r = c.post(
        "/api/v1/vacancies",
        json=new_vacancy("V903", employer_id="NOPE"),
        headers=service.as_("admin"),
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "employer_id"]


def test_vacancy_update_close_and_visibility(service: Service):
    c = service.client
    mine, theirs = own_vacancy(service), other_vacancy(service)
    emp = service.as_("employer")
    r = c.patch(f"/api/v1/vacancies/{mine}", json={"headcount": 1}, headers=emp)
    assert r.status_code == 200 and r.json()["headcount"] == 1
    r = c.patch(f"/api/v1/vacancies/{mine}", json={"wage_min": 99999}, headers=emp)
    assert r.status_code == 422
    assert (
        c.patch(f"/api/v1/vacancies/{theirs}", json={"headcount": 1}, headers=emp).status_code
        == 403
    )
    assert c.get(f"/api/v1/vacancies/{theirs}", headers=emp).status_code == 403
    assert c.get(f"/api/v1/vacancies/{theirs}", headers=service.as_("officer")).status_code == 200
    assert c.get("/api/v1/vacancies/NOPE", headers=service.as_("officer")).status_code == 404
    r = c.post(f"/api/v1/vacancies/{mine}/close", headers=emp)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert c.post(f"/api/v1/vacancies/{theirs}/close", headers=emp).status_code == 403
    assert (
        c.post(f"/api/v1/vacancies/{theirs}/close", headers=service.as_("officer")).status_code
        == 403
    )
    r = c.get("/api/v1/vacancies?limit=500", headers=emp)
    assert r.status_code == 200
    assert {v["employer_id"] for v in r.json()["data"]} == {EMPLOYER}
    assert c.get("/api/v1/vacancies?employer_id=E002", headers=emp).status_code == 403
    r = c.get("/api/v1/vacancies?limit=500", headers=service.as_("officer"))
    assert r.json()["count"] == 30
    r = c.get("/api/v1/vacancies?status=closed", headers=service.as_("officer"))
    assert [v["vacancy_id"] for v in r.json()["data"]] == [mine]


# --------------------------------------------------------------------------- outcomes


def test_outcomes(service: Service):
    c = service.client
    off = service.as_("officer")
    body = {"worker_id": IN_SCOPE, "vacancy_id": "V000", "event": "hired"}
    r = c.post("/api/v1/outcomes", json=body, headers=off)
    assert r.status_code == 201, r.text
    me = c.get("/api/v1/me", headers=off).json()
    assert r.json()["source"] == f"key:{me['key_id']}"
    with session_scope(service.app.state.engine) as session:
        stored = session.scalars(
            select(Event).where(Event.worker_id == IN_SCOPE, Event.source == f"key:{me['key_id']}")
        ).all()
        assert [e.event for e in stored] == ["hired"]
    for event in ("applied", "left", "retained_3m", "retained_6m", "wage_arrears", "injury"):
        r = c.post("/api/v1/outcomes", json={**body, "event": event}, headers=off)
        assert r.status_code == 201, event
    r = c.get(f"/api/v1/workers/{IN_SCOPE}/outcomes", headers=off)
    assert r.status_code == 200 and r.json()["count"] >= 7
    # not an officer outcome, unknown event, unknown vacancy, future, out of scope, employer
    assert (
        c.post("/api/v1/outcomes", json={**body, "event": "viewed"}, headers=off).status_code == 422
    )
    r = c.post("/api/v1/outcomes", json={**body, "event": "promoted"}, headers=off)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event"]
    r = c.post("/api/v1/outcomes", json={**body, "vacancy_id": "NOPE"}, headers=off)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "vacancy_id"]
    r = c.post("/api/v1/outcomes", json={**body, "occurred_at": "2999-01-01T00:00:00"}, headers=off)
    assert r.status_code == 422
    r = c.post("/api/v1/outcomes", json={**body, "worker_id": OUT_OF_SCOPE}, headers=off)
    assert r.status_code == 403
    assert c.post("/api/v1/outcomes", json=body, headers=service.as_("employer")).status_code == 403
    assert c.post("/api/v1/outcomes", json=body, headers=service.as_("admin")).status_code == 201
    # the same outcome at the same time is recorded once
    at = {**body, "occurred_at": "2026-03-01T08:00:00+08:00"}
    first = c.post("/api/v1/outcomes", json=at, headers=off).json()
    again = c.post("/api/v1/outcomes", json=at, headers=off).json()
    assert first["id"] == again["id"] and first["occurred_at"] == "2026-03-01T00:00:00Z"


# --------------------------------------------------------------------------- matching


def test_recommendations_for_officer(service: Service):
    c = service.client
    r = c.get(f"/api/v1/workers/{IN_SCOPE}/recommendations?k=5", headers=service.as_("officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "20260101T000000Z" == r.headers["x-model-version"]
    assert 0 < body["count"] <= 5 == 5
    ranks = [x["rank"] for x in body["data"]]
    assert ranks == list(range(1, len(ranks) + 1))
    scores = [x["score"] for x in body["data"]]
    assert scores == sorted(scores, reverse=True)
    for item in body["data"]:
        assert isinstance(item["reasons"], list) and isinstance(item["warnings"], list)
        assert item["title"] and item["employer_id"]
    assert (
        c.get(
            f"/api/v1/workers/{OUT_OF_SCOPE}/recommendations", headers=service.as_("officer")
        ).status_code
        == 403
    )
    assert (
        c.get(
            f"/api/v1/workers/{IN_SCOPE}/recommendations", headers=service.as_("employer")
        ).status_code
        == 403
    )
    assert (
        c.get("/api/v1/workers/NOPE/recommendations", headers=service.as_("admin")).status_code
        == 404
    )
    for k in (0, 1000, "x"):
        r = c.get(f"/api/v1/workers/{IN_SCOPE}/recommendations?k={k}", headers=service.as_("admin"))
        assert r.status_code == 422


def test_employer_never_receives_personal_data(service: Service, frames):
    c = service.client
    mine = own_vacancy(service)
    r = c.get(f"/api/v1/vacancies/{mine}/candidates?k=50", headers=service.as_("employer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] > 0 and body["model_version"] == "20260101T000000Z"
    assert r.headers["x-model-version"] == "20260101T000000Z"
    text = r.text
    for i in range(len(frames["workers"])):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in text
    for item in body["data"]:
        assert set(item) == set(EmployerCandidate.model_fields)
        assert item["candidate_ref"].startswith("C-")
        assert "worker_id" not in item and "birth_year" not in item
        assert item["age_band"] and "-" in item["age_band"]
        assert item["reasons"] is not None
    # nor through any other employer route
    for path in (
        "/api/v1/vacancies?limit=500",
        f"/api/v1/vacancies/{mine}",
        f"/api/v1/employers/{EMPLOYER}",
    ):
        text = c.get(path, headers=service.as_("employer")).text
        assert not any(worker_name(i) in text or worker_phone(i) in text for i in range(60))
    # another employer's vacancy
    theirs = other_vacancy(service)
    r = c.get(f"/api/v1/vacancies/{theirs}/candidates", headers=service.as_("employer"))
    assert r.status_code == 403


def test_officer_candidates_carry_worker_ids(service: Service):
    r = service.client.get("/api/v1/vacancies/V000/candidates?k=10", headers=service.as_("officer"))
    assert r.status_code == 200
    items = r.json()["data"]
    assert items and all(x["worker_id"].startswith("W") for x in items)
    assert all(x["in_scope"] == x["home_region"].startswith("5424") for x in items)
    assert "name" not in items[0] and "phone" not in items[0]


def test_records_created_after_training_are_served(service: Service):
    c = service.client
    r = c.post("/api/v1/workers", json=new_worker("W950"), headers=service.as_("officer"))
    assert r.status_code == 201
    r = c.get("/api/v1/workers/W950/recommendations?k=5", headers=service.as_("officer"))
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0
    r = c.post("/api/v1/vacancies", json=new_vacancy("V950"), headers=service.as_("employer"))
    assert r.status_code == 201
    r = c.get("/api/v1/vacancies/V950/candidates?k=5", headers=service.as_("employer"))
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0


# --------------------------------------------------------------------------- audit


def test_reads_of_personal_data_are_audited(service: Service):
    c = service.client
    off = service.as_("officer", **{"X-Purpose": "placement follow-up"})
    me = c.get("/api/v1/me", headers=off).json()
    c.get(f"/api/v1/workers/{IN_SCOPE}", headers=off)
    c.get(f"/api/v1/workers/{IN_SCOPE}?purpose=ignored-header-wins", headers=off)
    c.get("/api/v1/workers?region=542421&limit=3", headers=service.as_("officer"))
    with session_scope(service.app.state.engine) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        reads = [r for r in rows if r.action == "read_worker"]
        assert [(r.worker_id, r.purpose, r.api_key_id, r.role) for r in reads] == [
            (IN_SCOPE, "placement follow-up", me["key_id"], "officer")
        ] * 2
        assert reads[0].at is not None and reads[0].path == f"/api/v1/workers/{IN_SCOPE}"
        listed = [r for r in rows if r.action == "list_workers"]
        assert len(listed) == 3 and listed[0].purpose == "worker search"
    # the audit log itself: admins only
    r = c.get(f"/api/v1/admin/audit?worker_id={IN_SCOPE}", headers=service.as_("admin"))
    assert r.status_code == 200 and r.json()["count"] == 2
    assert c.get("/api/v1/admin/audit", headers=service.as_("officer")).status_code == 403
    # a refused read is not a read
    c.get(f"/api/v1/workers/{OUT_OF_SCOPE}", headers=off)
    r = c.get(f"/api/v1/admin/audit?worker_id={OUT_OF_SCOPE}", headers=service.as_("admin"))
    assert r.json()["count"] == 0


# --------------------------------------------------------------------------- misc routes


def test_occupation_classify(sqlite_service: Service):
    c = sqlite_service.client
    for role in ("admin", "officer", "employer"):
        r = c.post(
            "/api/v1/occupations/classify",
            json={"text": "急招焊工包吃住月入8000"},
            headers=sqlite_service.as_(role),
        )
        assert r.status_code == 200
        assert r.json()["code"].startswith("6-") and 0 < r.json()["confidence"] <= 1
    r = c.post(
        "/api/v1/occupations/classify", json={"text": ""}, headers=sqlite_service.as_("admin")
    )
    assert r.status_code == 422


def test_metrics_and_me(sqlite_service: Service):
    c = sqlite_service.client
    c.get(f"/api/v1/workers/{IN_SCOPE}/recommendations", headers=sqlite_service.as_("officer"))
    text = c.get("/metrics").text
    assert 'jobmatch_model_info{version="20260101T000000Z"} 1.0' in text
    assert "jobmatch_model_loaded 1.0" in text
    assert 'route="/api/v1/workers/{worker_id}/recommendations"' in text
    assert "jobmatch_http_request_duration_seconds_bucket" in text
    assert 'jobmatch_store_rows{table="workers"} 60.0' in text
    assert IN_SCOPE not in text  # labels carry route templates, never ids
    assert c.get("/api/v1/metrics").text.startswith("# HELP")
    me = c.get("/api/v1/me", headers=sqlite_service.as_("employer")).json()
    assert me["role"] == "employer" and me["employer_id"] == EMPLOYER


def test_openapi_docs(sqlite_service: Service):
    c = sqlite_service.client
    assert c.get("/docs").status_code == 200
    spec = c.get("/api/v1/openapi.json").json()
    assert "/api/v1/workers/{worker_id}/recommendations" in spec["paths"]
    assert "/api/v1/nightly/runs" in spec["paths"]


def test_schemas_use_contract_field_names():
    contract = {name: set(spec.columns) for name, spec in CONTRACT.items()}
    assert set(WorkerCreate.model_fields) == contract["workers"]
    assert set(EmployerCreate.model_fields) == contract["employers"]
    assert set(VacancyCreate.model_fields) == contract["vacancies"]
    assert not set(EmployerCandidate.model_fields) & {
        "name",
        "phone",
        "id_number",
        "birth_year",
        "worker_id",
    }


# --------------------------------------------------------------------------- no model


def test_service_answers_without_a_model(no_model_service: Service):
    s = no_model_service
    c = s.client
    r = c.get("/api/v1/ready")
    assert r.status_code == 503
    assert r.json()["database"] == "ok" and "jobmatch train" in r.json()["reason"]
    r = c.get(f"/api/v1/workers/{IN_SCOPE}/recommendations", headers=s.as_("officer"))
    assert r.status_code == 503
    assert r.json()["detail"] == "no model trained yet: run `jobmatch train`"
    assert r.headers["x-model-version"] == "none"
    r = c.get("/api/v1/vacancies/V000/candidates", headers=s.as_("admin"))
    assert r.status_code == 503
    # everything else works
    assert c.get(f"/api/v1/workers/{IN_SCOPE}", headers=s.as_("officer")).status_code == 200
    assert c.post("/api/v1/workers", json=new_worker(), headers=s.as_("officer")).status_code == 201
    assert "jobmatch_model_loaded 0.0" in c.get("/metrics").text
    r = c.post("/api/v1/admin/reload-model", headers=s.as_("admin"))
    assert r.status_code == 200 and r.json()["model_loaded"] is False
    assert "jobmatch train" in r.json()["reason"]
