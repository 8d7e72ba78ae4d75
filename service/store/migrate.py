"""Create or upgrade the store's schema with the Alembic migrations shipped in this package.

Every command and the service call :func:`ensure_schema` before touching the store;
it is cheap once the schema is current (one query per URL and process). The
migrations live in ``service/store/migrations`` and are configured in code, so an
installed jobmatch migrates from any working directory.

PostgreSQL URLs may select a schema with ``?options=-csearch_path%3D<schema>``; the
tables and the ``alembic_version`` table are then created in that schema.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from service.store.db import make_engine
from service.store.models import Base

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_MIGRATIONS = _HERE / "migrations"
_ensured: set[str] = set()
_lock = threading.Lock()
# Any constant works; it only has to be the same in every jobmatch process.
_PG_LOCK_KEY = 0x6A6F626D  # "jobm"


def alembic_config() -> Config:
    """The Alembic configuration of the store, built in code (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this jobmatch."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError(f"no Alembic revisions found under {_MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade_on(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Serialise concurrent start-ups (service workers, nightly run, CLI) on one database.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    if current_revision(connection) is None:
        existing = set(inspect(connection).get_table_names())
        expected = set(Base.metadata.tables)
        if expected <= existing:
            # Tables made by ``Base.metadata.create_all`` (e.g. in a test) before
            # migrations existed: they match the initial revision, so record it.
            log.warning("store tables exist without an Alembic version; stamping them at head")
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.stamp(cfg, "head")
            return
        if existing & expected:
            raise RuntimeError(
                "the database holds some jobmatch tables but no Alembic version "
                f"({', '.join(sorted(existing & expected))}); migrate it by hand or "
                "start from an empty database"
            )
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def upgrade(url: str | Engine) -> str:
    """Create the schema, or upgrade it to the newest revision. Safe to call repeatedly.

    Parameters
    ----------
    url : str or Engine
        SQLAlchemy URL (SQLite or PostgreSQL) or an engine.

    Returns
    -------
    str
        The revision the database is at afterwards (the head).
    """
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        try:
            with engine.begin() as conn:
                _upgrade_on(conn)
        except DBAPIError:
            # Another process may have migrated SQLite at the same moment (SQLite has no
            # advisory lock): fine if the database is now at head, else a real failure.
            with engine.connect() as conn:
                if current_revision(conn) != head_revision():
                    raise
        with engine.connect() as conn:
            return current_revision(conn) or ""
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def _sqlite_file_missing(url: str) -> bool:
    if not url.startswith("sqlite"):
        return False
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def ensure_schema(url: str | Engine) -> None:
    """Make sure the store at ``url`` has the current schema (upgrading it if needed).

    Cheap after the first call for a URL in a process. Call it at start-up of every
    command and of the service, before opening sessions.
    """
    key = url if isinstance(url, str) else url.url.render_as_string(hide_password=False)
    if key in _ensured and _sqlite_file_missing(key):
        _ensured.discard(key)  # the database file was deleted since: migrate it again
    if key in _ensured:
        return
    with _lock:
        if key in _ensured:
            return
        engine = url if isinstance(url, Engine) else make_engine(url)
        try:
            with engine.connect() as conn:
                at_head = current_revision(conn) == head_revision()
        finally:
            if not isinstance(url, Engine):
                engine.dispose()
        if not at_head:
            upgrade(url)
        _ensured.add(key)
