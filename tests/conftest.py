"""Shared fixtures: databases (SQLite always, PostgreSQL when it answers) and the sample market.

``JOBMATCH_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) turns a missing PostgreSQL from a
skip into a failure.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from service.store.db import postgres_unavailable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

POSTGRES_URL = os.environ.get(
    "JOBMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    reason = postgres_unavailable(POSTGRES_URL)
    if reason:
        if os.environ.get("JOBMATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"JOBMATCH_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_base_url: str):
    """A fresh, empty schema in the test PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_base_url else "?"
    url = f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'jobmatch.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:
    """Runs a test once against SQLite and once against the real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")
