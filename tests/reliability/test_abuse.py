"""Abuse and secrets: keys stored hashed, expiring and revocable (CLI and admin API),
failed authentication limited per client address, every read of a worker's personal
data audited, and officers kept inside their region by every door (API reads and
search, CSV export, web pages)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from service_fixtures import make_service
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from service import auth
from service.store.db import make_engine, session_scope
from service.store.models import ApiKey, AuditEntry

IN_REGION = ["W000", "W001"]  # home 542427, 542421: inside the officer's 5424
OUTSIDE = "W002"  # home 522301 (Guizhou)


@pytest.fixture
def svc(sqlite_url, trained_model_dir, frames):
    return make_service(sqlite_url, trained_model_dir, frames, auth_failure_limit=3)


def _key_id(key: str, svc) -> int:
    with session_scope(svc.app.state.engine) as session:
        principal = auth.authenticate(session, key)
        assert principal is not None
        return principal.key_id


def _audit(svc, **where) -> list[AuditEntry]:
    with session_scope(svc.app.state.engine) as session:
        q = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            q = q.where(getattr(AuditEntry, name) == value)
        return list(session.scalars(q).all())


# --------------------------------------------------------------------------- keys


def test_keys_are_stored_as_hashes_only(svc):
    engine = make_engine(svc.url)
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM api_keys")).fetchall())
    engine.dispose()
    for key in svc.keys.values():
        # jm_<prefix>_<secret>: the secret is URL-safe base64 and may itself hold "_"
        secret = key.split("_", 2)[2]
        assert len(secret) >= 20
        assert key not in dump and secret not in dump
        assert auth.hash_key(key) in dump


def test_admin_api_creates_lists_expires_and_revokes_keys(svc):
    c, admin = svc.client, svc.as_("admin")
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = c.post(
        "/api/v1/admin/keys",
        json={"role": "officer", "region_prefix": "5424", "name": "索县", "expires_at": soon},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    key = created["key"]
    assert created["state"] == "active" and created["expires_at"].endswith("Z")
    assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    listing = c.get("/api/v1/admin/keys", headers=admin)
    assert listing.status_code == 200 and "jm_" not in listing.text
    assert created["id"] in [k["id"] for k in listing.json()["data"]]

    # expired: the store says so (as time passing would), the key stops working
    with session_scope(svc.app.state.engine) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == created["id"])
            .values(expires_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1))
        )
    auth.forget_cached_keys()  # the process cache would keep it 5 s longer
    r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    states = {
        k["id"]: k["state"] for k in c.get("/api/v1/admin/keys", headers=admin).json()["data"]
    }
    assert states[created["id"]] == "expired"

    # an expiry in the past, a scope that does not fit the role: refused with the field
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = c.post("/api/v1/admin/keys", json={"role": "admin", "expires_at": past}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "expires_at"]
    r = c.post("/api/v1/admin/keys", json={"role": "officer"}, headers=admin)
    assert r.status_code == 422 and "region" in r.text

    # revoke: works at once; the key in use cannot revoke itself; unknown ids are 404
    employer_id = _key_id(svc.keys["employer"], svc)
    r = c.post(f"/api/v1/admin/keys/{employer_id}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert c.get("/api/v1/me", headers=svc.as_("employer")).status_code == 401
    own = _key_id(svc.keys["admin"], svc)
    assert c.post(f"/api/v1/admin/keys/{own}/revoke", headers=admin).status_code == 409
    assert c.post("/api/v1/admin/keys/99999/revoke", headers=admin).status_code == 404
    # only admins manage keys
    r = c.post("/api/v1/admin/keys", json={"role": "admin"}, headers=svc.as_("officer"))
    assert r.status_code == 403


def test_cli_creates_expiring_keys_and_lists_their_state(tmp_path, monkeypatch):
    from service.cli import app
    from service.settings import get_settings

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(
            app,
            ["keys", "create", "--role", "officer", "--region", "5424", "--expires-in-days", "30"],
        )
        assert r.exit_code == 0, r.output
        assert re.search(r"expires \d{4}-\d\d-\d\d", r.output)
        key = r.output.strip().splitlines()[-1]
        r = runner.invoke(app, ["keys", "create", "--role", "admin", "--expires-in-days", "0"])
        assert r.exit_code == 2
        engine = make_engine(url)
        with session_scope(engine) as session:
            assert auth.authenticate(session, key) is not None
            session.execute(
                update(ApiKey).values(expires_at=datetime.now(UTC).replace(tzinfo=None))
            )
        auth.forget_cached_keys()
        with session_scope(engine) as session:
            assert auth.authenticate(session, key) is None
        r = runner.invoke(app, ["keys", "list"])
        assert r.exit_code == 0 and "\texpired\t" in r.output and key not in r.output
        engine.dispose()
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------- failed authentication


def test_failed_authentication_is_limited_per_client_address(svc):
    wrong = {"Authorization": "Bearer jm_00000000_" + "x" * 43}
    attacker = TestClient(svc.app, client=("10.0.0.66", 40000))
    for _ in range(3):
        assert attacker.get("/api/v1/me", headers=wrong).status_code == 401
    r = attacker.get("/api/v1/me", headers=wrong)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # a valid key from that address waits too; other addresses are not affected
    assert attacker.get("/api/v1/me", headers=svc.as_("officer")).status_code == 429
    other = TestClient(svc.app, client=("10.0.0.7", 40000))
    assert other.get("/api/v1/me", headers=svc.as_("officer")).status_code == 200
    # the web login counts the same failures
    r = attacker.post("/login", data={"key": "jm_00000000_" + "y" * 43})
    assert r.status_code == 429


def test_the_limit_forgets_failures_after_its_window():
    limiter = auth.FailedAuthLimiter(limit=2, window=0.2)
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") == 1 and limiter.retry_after("b") is None
    import time

    time.sleep(0.25)
    assert limiter.retry_after("a") is None
    assert auth.FailedAuthLimiter(limit=0).retry_after("a") is None


# --------------------------------------------------------------------------- audit and scope


def test_every_read_of_personal_data_is_audited_with_who_when_and_which_worker(svc):
    officer = svc.as_("officer", **{"X-Purpose": "home visit"})
    officer_id = _key_id(svc.keys["officer"], svc)
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=2)

    assert svc.client.get("/api/v1/workers/W000", headers=officer).status_code == 200
    (entry,) = _audit(svc, worker_id="W000", action="read_worker")
    assert entry.api_key_id == officer_id and entry.role == "officer"
    assert entry.purpose == "home visit" and entry.at >= started.replace(microsecond=0)

    r = svc.client.get("/api/v1/workers", params={"limit": 500}, headers=officer)
    listed = {w["worker_id"] for w in r.json()["data"]}
    audited = {e.worker_id for e in _audit(svc, action="list_workers", api_key_id=officer_id)}
    assert listed and audited == listed

    web = TestClient(svc.app, cookies={auth.KEY_COOKIE: svc.keys["officer"]})
    assert web.get("/officer/workers/W001").status_code == 200
    assert [e.api_key_id for e in _audit(svc, worker_id="W001", path="/officer/workers/W001")] == [
        officer_id
    ]
    r = web.get("/officer/export.csv", params={"region": "542427"})
    assert r.status_code == 200
    exported = {e.worker_id for e in _audit(svc, path="/officer/export.csv")}
    assert exported and all(w in r.text for w in exported)


def test_officers_cannot_read_outside_their_region_by_any_door(svc):
    officer = svc.as_("officer")
    c = svc.client
    # one worker outside the region: refused (403) or not found (404), never read
    refused = (403, 404)
    assert c.get(f"/api/v1/workers/{OUTSIDE}", headers=officer).status_code in refused
    assert c.get(f"/api/v1/workers/{OUTSIDE}/outcomes", headers=officer).status_code in refused
    r = c.get(f"/api/v1/workers/{OUTSIDE}/recommendations", headers=officer)
    assert r.status_code in refused
    r = c.patch(f"/api/v1/workers/{OUTSIDE}", json={"skills": "x"}, headers=officer)
    assert r.status_code in refused and "测试姓名" not in r.text
    # search: another region is refused, no filter means the own region only
    assert c.get("/api/v1/workers", params={"region": "52"}, headers=officer).status_code == 403
    r = c.get("/api/v1/workers", params={"limit": 500, "q": "工"}, headers=officer)
    homes = {w["home_region"] for w in r.json()["data"]}
    assert homes and all(h.startswith("5424") for h in homes)
    # web pages and the CSV export
    web = TestClient(svc.app, cookies={auth.KEY_COOKIE: svc.keys["officer"]})
    r = web.get(f"/officer/workers/{OUTSIDE}")
    assert r.status_code in refused and "测试姓名002" not in r.text
    r = web.get("/officer/export.csv", params={"region": "52"})
    assert r.status_code == 403 and OUTSIDE not in r.text
    r = web.get("/officer/export.csv")
    assert r.status_code == 200 and OUTSIDE not in r.text and "W000" in r.text
    r = web.get("/officer", params={"q": "工"})
    assert r.status_code == 200 and OUTSIDE not in r.text
    # and nothing outside the region was read
    assert _audit(svc, worker_id=OUTSIDE) == []
