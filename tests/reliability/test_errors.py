"""One error boundary: domain errors answer 4xx, anything else a logged 500 with a
request id and no personal data; limits the fuzz found are documented and enforced."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from service_fixtures import make_service
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service import domain
from service.domain_errors import Conflict, Forbidden, Invalid, NotFound, Unavailable

SECRET_NAME = "测试姓名秘密"


@pytest.fixture
def svc(sqlite_url, trained_model_dir, frames):
    return make_service(sqlite_url, trained_model_dir, frames)


def test_unexpected_exception_is_a_500_with_request_id_and_no_personal_data(svc, caplog):
    app = svc.app

    @app.get("/api/v1/test-boom")
    def boom() -> None:
        raise RuntimeError(f"worker {SECRET_NAME} phone 13900000001 broke something")

    client = TestClient(app)
    with caplog.at_level(logging.ERROR):
        r = client.get("/api/v1/test-boom", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 500
    body = r.json()
    assert body["request_id"] == "abc-123" == r.headers["x-request-id"]
    assert SECRET_NAME not in r.text and "13900000001" not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "abc-123" in logged and "RuntimeError" in logged and "/api/v1/test-boom" in logged
    assert SECRET_NAME not in logged and "13900000001" not in logged
    # a request id the caller did not give (or gave malformed) is made up
    r = client.get("/api/v1/test-boom", headers={"X-Request-ID": "bad id\n"})
    assert r.status_code == 500 and len(r.json()["request_id"]) == 32


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("no worker with id 'W9'"), 404),
        (Forbidden("outside your region"), 403),
        (Conflict("exists already"), 409),
        (Invalid([{"loc": ["body", "x"], "msg": "bad", "type": "contract"}]), 422),
        (Unavailable("no model", headers={"Retry-After": "60"}), 503),
    ],
)
def test_domain_errors_map_to_their_status(svc, error, status):
    @svc.app.get("/api/v1/test-domain")
    def refuse() -> None:
        raise error

    r = TestClient(svc.app).get("/api/v1/test-domain")
    assert r.status_code == status
    assert r.json()["detail"] == error.detail
    for name, value in error.headers.items():
        assert r.headers[name] == value
    assert r.headers["x-request-id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/employers?offset=5528109519190856447145432580096",
        "/api/v1/vacancies?offset=5528109519190856447145432580096",
        "/api/v1/admin/audit?offset=5528109519190856447145432580096",
        "/api/v1/admin/audit?api_key_id=99999999999999999999",
        f"/api/v1/workers/{'W' * 65}",
    ],
)
def test_values_beyond_the_store_are_refused_before_reaching_it(svc, path):
    r = svc.client.get(path, headers=svc.as_("admin"))
    assert r.status_code == 422, r.text


def test_deleting_a_pin_beyond_64_bits_is_refused(svc):
    r = svc.client.delete(
        "/api/v1/nightly/pins/20657302569026054852182016", headers=svc.as_("admin")
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:01.0+01:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:00:00Z"],
)
def test_times_outside_the_supported_years_are_refused(svc, value):
    r = svc.client.patch(
        "/api/v1/workers/W000", json={"registered_at": value}, headers=svc.as_("officer")
    )
    assert r.status_code == 422
    assert "1900" in r.text and "2199" in r.text


@pytest.mark.parametrize("value", [0.5, 1767225600, "1767225600"])
def test_numbers_are_not_times(svc, value):
    r = svc.client.patch(
        "/api/v1/workers/W000", json={"registered_at": value}, headers=svc.as_("officer")
    )
    assert r.status_code == 422 and "ISO 8601" in r.text


def test_times_are_answered_in_utc_with_an_offset(svc):
    r = svc.client.patch(
        "/api/v1/workers/W000",
        json={"registered_at": "2026-03-01T08:00:00+08:00"},
        headers=svc.as_("officer"),
    )
    assert r.status_code == 200
    assert r.json()["registered_at"] == "2026-03-01T00:00:00Z"


def test_openapi_documents_the_limits_and_the_error_statuses(svc):
    doc = svc.client.get("/api/v1/openapi.json").json()
    offset = next(
        p for p in doc["paths"]["/api/v1/employers"]["get"]["parameters"] if p["name"] == "offset"
    )
    assert offset["schema"]["maximum"] == 2**31 - 1
    worker = doc["components"]["schemas"]["WorkerCreate"]["properties"]
    assert worker["birth_year"]["anyOf"][0]["maximum"] == 2100
    responses = doc["paths"]["/api/v1/workers/{worker_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422", "429", "500"} <= set(responses)
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def _models():
    import inspect

    from pydantic import BaseModel

    from service import api, schemas

    modules = [schemas]
    for router_module in ("admin", "nightly", "followups", "occupations", "workers"):
        try:
            modules.append(__import__(f"service.api.{router_module}", fromlist=["x"]))
        except ImportError:
            continue
    assert api is not None
    for module in modules:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
                yield obj


def test_every_time_field_of_the_api_is_a_checked_utc_time():
    """A plain ``datetime`` field answers naive times (not RFC 3339, so not the
    documented format) and takes any year; the API's times are Timestamp/WallTime."""
    import typing
    from datetime import datetime

    from service.schemas import Timestamp, WallTime

    checked = {id(m) for t in (Timestamp, WallTime) for m in typing.get_args(t)[1:]}
    plain = []
    for model in _models():
        for name, field in model.model_fields.items():
            inner = field.annotation
            args = typing.get_args(inner)
            is_time = inner is datetime or datetime in args
            if is_time and not any(id(m) in checked for m in field.metadata):
                plain.append(f"{model.__name__}.{name}")
    assert plain == []


def test_no_store_connection_within_the_pool_timeout_is_a_503_to_retry(svc):
    app = svc.app

    @app.get("/api/v1/test-busy")
    def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    r = TestClient(app).get("/api/v1/test-busy")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert "busy" in r.json()["detail"]


def test_a_recommendation_holds_no_store_connection_while_the_engine_works(svc, monkeypatch):
    """50 clients at once drained a process's pool while each request held its connection
    through the engine's re-rank (bench/serve_bench.py saturated: 15 answers of 500)."""
    pool = svc.app.state.engine.pool
    held: list[int] = []
    real = domain.run_model

    def watched(*args, **kwargs):
        held.append(pool.checkedout())
        return real(*args, **kwargs)

    monkeypatch.setattr(domain, "run_model", watched)
    r = svc.client.get("/api/v1/workers/W000/recommendations?k=5", headers=svc.as_("officer"))
    assert r.status_code == 200 and r.json()["data"]
    assert held == [0]
