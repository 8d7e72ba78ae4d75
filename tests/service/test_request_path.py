"""The recommendation route's fast path: the in-process key cache (and how revocation
reaches it), the scope check that loads no personal field, and the Server-Timing
header the serve bench reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from service_fixtures import Service
from sqlalchemy import update

from service import auth
from service.store.db import session_scope
from service.store.models import ApiKey

IN_SCOPE = "W000"  # home county 542427, inside the officer's region 5424


def _me(s: Service, role: str = "officer"):
    return s.client.get("/api/v1/me", headers=s.as_(role))


def _revoke_elsewhere(s: Service, key_id: int) -> None:
    """Revoke a key the way another process (``jobmatch keys revoke``) does: in the
    store only, without touching this process's cache."""
    with session_scope(s.app.state.engine) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .values(revoked_at=datetime.now(UTC).replace(tzinfo=None))
        )


def test_a_verified_key_is_answered_from_the_cache(sqlite_service: Service, statements):
    s = sqlite_service
    assert _me(s).status_code == 200
    statements.clear()
    assert _me(s).status_code == 200
    assert not [q for q in statements if "api_keys" in q]  # no key lookup the second time


def test_revocation_in_this_process_is_immediate(sqlite_service: Service):
    s = sqlite_service
    key_id = _me(s).json()["key_id"]
    assert auth.cached_principal(s.keys["officer"]) is not None
    with session_scope(s.app.state.engine) as session:
        auth.revoke_key(session, key_id)
    assert auth.cached_principal(s.keys["officer"]) is None
    assert _me(s).status_code == 401
    r = s.client.get(f"/api/v1/workers/{IN_SCOPE}/recommendations", headers=s.as_("officer"))
    assert r.status_code == 401


def test_revocation_elsewhere_takes_effect_within_the_cache_time(
    sqlite_service: Service, monkeypatch
):
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.3)
    auth.forget_cached_keys()
    s = sqlite_service
    key_id = _me(s).json()["key_id"]  # verified in the store, remembered for 0.3 s
    _revoke_elsewhere(s, key_id)
    deadline = time.monotonic() + 5
    while _me(s).status_code == 200:
        assert time.monotonic() < deadline, "a key revoked elsewhere kept working"
        time.sleep(0.05)
    assert _me(s).status_code == 401
    assert auth.cached_principal(s.keys["officer"]) is None
    # other keys are unaffected
    assert _me(s, "admin").status_code == 200


def test_unknown_and_malformed_keys_are_never_cached(sqlite_service: Service):
    s = sqlite_service
    bogus = "jm_0123abcd_" + "x" * 43
    for key in (bogus, "not-a-key", ""):
        r = s.client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401
        assert auth.cached_principal(key) is None


def test_recommendation_scope_check_reads_no_personal_field(sqlite_service: Service, statements):
    s = sqlite_service
    r = s.client.get(f"/api/v1/workers/{IN_SCOPE}/recommendations?k=3", headers=s.as_("admin"))
    assert r.status_code == 200, r.text
    worker_reads = [q for q in statements if "FROM workers" in q]
    assert worker_reads, statements
    for q in worker_reads:
        for personal in ("name", "phone", "id_number", "birth_year"):
            assert f"workers.{personal}" not in q, q


def test_responses_say_how_long_the_service_took(sqlite_service: Service):
    s = sqlite_service
    r = s.client.get(f"/api/v1/workers/{IN_SCOPE}/recommendations?k=3", headers=s.as_("admin"))
    assert r.status_code == 200
    name, _, value = r.headers["server-timing"].partition(";")
    assert name == "app" and value.startswith("dur=") and float(value[4:]) >= 0
    # errors too, and the health check
    assert "server-timing" in s.client.get("/api/v1/workers/NOPE/recommendations").headers
    assert "server-timing" in s.client.get("/api/v1/health").headers


def test_serve_keeps_idle_connections_open_longer_than_an_officer_pauses(monkeypatch, sqlite_url):
    import uvicorn
    from typer.testing import CliRunner

    from service.cli import app
    from service.commands.serve import KEEP_ALIVE_SECONDS
    from service.settings import get_settings

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"target": target, **kw}))
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["serve", "--port", "8123", "--workers", "2"])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["serve", "--keep-alive", "30"])
        assert r.exit_code == 0, r.output
    finally:
        get_settings.cache_clear()
    first, second = calls
    assert first["target"] == "service.app:create_app" and first["factory"] is True
    assert first["workers"] == 2 and first["port"] == 8123
    assert first["timeout_keep_alive"] == KEEP_ALIVE_SECONDS >= 60
    assert first["access_log"] is False  # paths carry worker ids
    assert second["timeout_keep_alive"] == 30


def test_a_request_asks_nothing_of_opentelemetry(sqlite_service: Service, monkeypatch):
    """FastAPI's OpenTelemetry bridge is off: no provider look-up per request."""
    from opentelemetry import metrics, trace

    asked: list[str] = []
    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda real=real, name=name: asked.append(name) or real())
    s = sqlite_service
    r = s.client.get(f"/api/v1/workers/{IN_SCOPE}/recommendations?k=3", headers=s.as_("admin"))
    assert r.status_code == 200
    assert asked == []
