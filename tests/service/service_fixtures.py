"""Helpers and fixtures of the service (and browser) tests: a small market in a real store,
a model trained on it once per session, and an app with one key per role.

``tests/service/conftest.py`` and ``tests/browser/conftest.py`` re-export the fixtures."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event

os.environ.setdefault("OMP_NUM_THREADS", "1")

from fastapi.testclient import TestClient  # noqa: E402
from service_market import dataset, market  # noqa: E402

from service.app import create_app  # noqa: E402
from service.auth import create_key  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.store.db import make_engine, session_scope  # noqa: E402
from service.store.migrate import ensure_schema  # noqa: E402
from service.store.repository import upsert  # noqa: E402

#: The officer's region: Nagqu (5424), which holds counties 542427 and 542421.
OFFICER_REGION = "5424"
#: The employer whose key the tests use.
EMPLOYER = "E001"


@pytest.fixture(scope="session")
def frames():
    return market()


def small_recommender():
    """A Recommender small enough to train on a test market in seconds."""
    from matcher.serving.recommender import Recommender
    from matcher.text.encoders import HashingEmbedder

    return Recommender(
        embedder=HashingEmbedder(dim=64),
        epochs=3,
        no_components=8,
        n_clusters=4,
        max_iter=20,
        random_state=0,
    )


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, frames) -> Path:
    """A model folder holding two promoted-able versions of a small trained Recommender.

    ``current`` names ``20260101T000000Z``; ``20260102T000000Z`` is the same model saved
    again (a second version to swap to).
    """
    model = small_recommender().fit(dataset(frames))
    root = tmp_path_factory.mktemp("models")
    for version in ("20260101T000000Z", "20260102T000000Z"):
        model.save(root / version)
    (root / "current").write_text("20260101T000000Z\n", encoding="utf-8")
    return root


def copy_model_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def load_market(url: str, frames) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        for name in ("workers", "employers", "vacancies", "events"):
            upsert(session, name, frames[name])
    engine.dispose()


@dataclass
class Service:
    """An app on a store holding the test market, and one key per role."""

    client: TestClient
    app: object
    keys: dict[str, str]
    url: str

    def as_(self, role: str, **extra) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        headers.update(extra)
        return headers


def make_service(
    url: str,
    model_dir: Path,
    frames,
    *,
    check_every: float = 0.0,
    precomputed: bool = True,
    **settings_values,
) -> Service:
    """The app on ``url`` (loaded with ``frames``) with one key per role;
    ``settings_values`` are further :class:`Settings` fields."""
    load_market(url, frames)
    settings = Settings(
        database_url=url, model_dir=model_dir, precomputed=precomputed, **settings_values
    )
    app = create_app(settings, model_check_every=check_every, catalogue_sync_every=0.0)
    keys = {}
    with session_scope(app.state.engine) as session:
        keys["admin"] = create_key(session, "admin", name="test admin").key
        keys["officer"] = create_key(session, "officer", region_prefix=OFFICER_REGION).key
        keys["other_officer"] = create_key(session, "officer", region_prefix="5223").key
        keys["employer"] = create_key(session, "employer", employer_id=EMPLOYER).key
        keys["other_employer"] = create_key(session, "employer", employer_id="E002").key
    return Service(TestClient(app), app, keys, url)


def fresh_workers(service: Service, count: int = 1) -> list[str]:
    """``count`` in-scope (region 5424) active workers with no recorded hire, in id order, after
    the lifecycle is rebuilt, so that a test controls their history."""
    from sqlalchemy import select

    from service import lifecycle
    from service.store.models import Worker

    engine = make_engine(service.url)
    try:
        with session_scope(engine) as session:
            lifecycle.rebuild(session)
            ids = session.scalars(
                select(Worker.worker_id)
                .where(Worker.home_region.startswith(OFFICER_REGION), Worker.status == "active")
                .order_by(Worker.worker_id)
                .limit(count)
            ).all()
    finally:
        engine.dispose()
    assert len(ids) == count, f"the test market has {len(ids)} fresh workers, {count} wanted"
    return list(ids)


@pytest.fixture
def service(database_url, trained_model_dir, frames) -> Service:
    """The app with a trained model, on SQLite and on PostgreSQL."""
    return make_service(database_url, trained_model_dir, frames)


@pytest.fixture
def sqlite_service(sqlite_url, trained_model_dir, frames) -> Service:
    """The app with a trained model on SQLite only (for tests not about the store)."""
    return make_service(sqlite_url, trained_model_dir, frames)


@pytest.fixture
def no_model_service(sqlite_url, tmp_path, frames) -> Service:
    """The app without any trained model."""
    return make_service(sqlite_url, tmp_path / "empty-models", frames)


@pytest.fixture
def statements(sqlite_service: Service):
    """The SQL statements the app's engine runs while the test body runs."""
    seen: list[str] = []

    def _record(conn, cursor, statement, *args):
        seen.append(statement)

    engine = sqlite_service.app.state.engine
    event.listen(engine, "before_cursor_execute", _record)
    yield seen
    event.remove(engine, "before_cursor_execute", _record)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``service``'s app served by a real uvicorn on a free loopback port (in a thread)."""

    def __init__(self, service: Service) -> None:
        import uvicorn

        self.service = service
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            service.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
