"""The nightly API and pages through the real app: runs, plans (officer scope), pins,
roles, and the web pages with their chart."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from service import nightly
from service.app import create_app
from service.auth import create_key
from service.settings import Settings
from service.store.db import session_scope


@pytest.fixture(scope="module")
def app_client(tmp_path_factory, frames, model, load_store):
    tmp_path = tmp_path_factory.mktemp("nightly-api")
    sqlite_url = f"sqlite:///{tmp_path / 'jobmatch.db'}"
    load_store(sqlite_url, frames)
    summary = nightly.run_match(
        sqlite_url, None, run_id="api-run", model=model, model_version="m1", k=5
    )
    model.save(tmp_path / "models" / "20260101T000000Z")
    (tmp_path / "models" / "current").write_text("20260101T000000Z\n", encoding="utf-8")
    settings = Settings(database_url=sqlite_url, model_dir=tmp_path / "models")
    app = create_app(settings, model_check_every=0.0, catalogue_sync_every=0.0)
    home = frames["workers"].set_index("worker_id")["home_region"]
    region = home[summary.plan["worker_id"].iloc[0]][:4]
    with session_scope(app.state.engine) as s:
        keys = {
            "admin": create_key(s, "admin").key,
            "officer": create_key(s, "officer", region_prefix=region).key,
            "employer": create_key(s, "employer", employer_id="E0001").key,
        }
    return TestClient(app), keys, summary, region, home


def _h(keys, role):
    return {"Authorization": f"Bearer {keys[role]}"}


def test_runs_and_plan_respect_roles_and_scope(app_client):
    client, keys, summary, region, home = app_client
    r = client.get("/api/v1/nightly/runs", headers=_h(keys, "officer"))
    assert r.status_code == 200 and r.json()["count"] == 1
    run = client.get("/api/v1/nightly/runs/api-run", headers=_h(keys, "officer")).json()
    assert run["status"] == "succeeded" and run["counts"]["placed"] == len(summary.plan)
    assert client.get("/api/v1/nightly/runs", headers=_h(keys, "employer")).status_code == 403
    assert client.get("/api/v1/nightly/runs/nope", headers=_h(keys, "admin")).status_code == 404
    full = client.get(
        "/api/v1/nightly/runs/api-run/plan?limit=1000", headers=_h(keys, "admin")
    ).json()
    assert full["count"] == len(summary.plan)
    mine = client.get(
        "/api/v1/nightly/runs/api-run/plan?limit=1000", headers=_h(keys, "officer")
    ).json()
    in_scope = [w for w in summary.plan["worker_id"] if home[w].startswith(region)]
    assert mine["count"] == len(in_scope) >= 1
    assert {row["worker_id"] for row in mine["data"]} == set(in_scope)
    assert "name" not in mine["data"][0] and "phone" not in mine["data"][0]
    page = client.get(
        "/api/v1/nightly/runs/api-run/plan?limit=1&offset=0", headers=_h(keys, "admin")
    ).json()
    assert len(page["data"]) == 1 and page["count"] == len(summary.plan)


def test_pins_api_scope_and_lifecycle(app_client, frames):
    client, keys, summary, region, home = app_client
    mine = next(w for w in frames["workers"]["worker_id"] if home[w].startswith(region))
    other = next(w for w in frames["workers"]["worker_id"] if not home[w].startswith(region))
    vac = frames["vacancies"]["vacancy_id"].iloc[0]
    body = {"worker_id": mine, "vacancy_id": vac, "kind": "exclude"}
    r = client.post("/api/v1/nightly/pins", json=body, headers=_h(keys, "officer"))
    assert r.status_code == 201, r.text
    pin_id = r.json()["id"]
    assert (
        client.post("/api/v1/nightly/pins", json=body, headers=_h(keys, "officer")).status_code
        == 409
    )
    out_of_scope = {"worker_id": other, "vacancy_id": vac, "kind": "pin"}
    assert (
        client.post(
            "/api/v1/nightly/pins", json=out_of_scope, headers=_h(keys, "officer")
        ).status_code
        == 404
    )
    bad = {"worker_id": mine, "vacancy_id": vac, "kind": "maybe"}
    assert (
        client.post("/api/v1/nightly/pins", json=bad, headers=_h(keys, "officer")).status_code
        == 422
    )
    listed = client.get("/api/v1/nightly/pins", headers=_h(keys, "officer")).json()
    assert listed["count"] == 1 and listed["data"][0]["kind"] == "exclude"
    assert (
        client.delete(f"/api/v1/nightly/pins/{pin_id}", headers=_h(keys, "officer")).status_code
        == 204
    )
    assert client.get("/api/v1/nightly/pins", headers=_h(keys, "admin")).json()["count"] == 0


def test_trigger_needs_admin_and_runs_in_background(app_client):
    client, keys, summary, *_ = app_client
    r = client.post("/api/v1/nightly/runs", json={}, headers=_h(keys, "officer"))
    assert r.status_code == 403
    r = client.post(
        "/api/v1/nightly/runs", json={"run_id": "bg-1", "k": 5}, headers=_h(keys, "admin")
    )
    assert r.status_code == 202 and r.json() == {"run_id": "bg-1", "status": "running"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = client.get("/api/v1/nightly/runs/bg-1", headers=_h(keys, "admin")).json()
        if run["status"] != "running":
            break
        time.sleep(0.5)
    assert run["status"] == "succeeded", run.get("error")
    assert run["model_version"] == "20260101T000000Z"
    # the same store and model give the same plan as the run made directly
    plan = client.get("/api/v1/nightly/runs/bg-1/plan?limit=1000", headers=_h(keys, "admin")).json()
    assert [r["worker_id"] for r in plan["data"]] == summary.plan["worker_id"].tolist()


def test_pages_show_history_chart_and_plan(app_client):
    client, keys, summary, *_ = app_client
    client.cookies.set("jobmatch_key", keys["admin"])
    page = client.get("/nightly?lang=en")
    assert page.status_code == 200
    assert "api-run" in page.text and 'id="province-channel-chart"' in page.text
    assert "<rect" in page.text
    plan = client.get("/nightly/api-run?lang=en")
    assert plan.status_code == 200 and 'id="plan"' in plan.text
    assert summary.plan["worker_id"].iloc[0] in plan.text
    assert 'id="priority-posts"' in plan.text and "Public-welfare posts" in plan.text
    client.cookies.clear()
    assert client.get("/nightly", follow_redirects=False).status_code in (302, 303, 307)


def test_pin_report_shows_officers_only_their_workers(app_client, frames):
    client, keys, summary, region, home = app_client
    from service.store.models import MatchRun

    mine = next(w for w in frames["workers"]["worker_id"] if home[w].startswith(region))
    other = next(w for w in frames["workers"]["worker_id"] if not home[w].startswith(region))
    report = [
        {"worker_id": mine, "vacancy_id": "V1", "honoured": False, "reason": "x"},
        {"worker_id": other, "vacancy_id": "V1", "honoured": False, "reason": "y"},
    ]
    with session_scope(client.app.state.engine) as s:
        row = s.get(MatchRun, "api-run")
        row.summary = {**row.summary, "pins": report}
    seen = client.get("/api/v1/nightly/runs/api-run", headers=_h(keys, "officer")).json()
    assert [p["worker_id"] for p in seen["summary"]["pins"]] == [mine]
    listed = client.get("/api/v1/nightly/runs", headers=_h(keys, "officer")).json()["data"]
    run = next(r for r in listed if r["run_id"] == "api-run")
    assert [p["worker_id"] for p in run["summary"]["pins"]] == [mine]
    admin = client.get("/api/v1/nightly/runs/api-run", headers=_h(keys, "admin")).json()
    assert len(admin["summary"]["pins"]) == 2
