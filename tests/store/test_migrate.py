"""The store's schema comes from the shipped Alembic migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, inspect, text

from service.store import migrate
from service.store.db import make_engine
from service.store.models import Base


@contextmanager
def opened(url: str) -> Iterator[Engine]:
    """An engine on ``url``, disposed when the block ends."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    with opened(url) as engine:
        return set(inspect(engine).get_table_names())


def test_upgrade_creates_every_model_table_and_is_repeatable(database_url):
    assert migrate.upgrade(database_url) == migrate.head_revision()
    assert migrate.upgrade(database_url) == migrate.head_revision()  # second call: no-op
    tables = table_names(database_url)
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    with opened(database_url) as engine, engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_migrated_schema_matches_the_models(database_url):
    """Autogenerate finds nothing to do: the migration and service/store/models.py agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate.upgrade(database_url)
    with opened(database_url) as engine, engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_postgres_search_path_selects_the_schema(postgres_url):
    migrate.upgrade(postgres_url)
    schema = postgres_url.rsplit("%3D", 1)[1]
    engine = create_engine(postgres_url.split("?")[0])
    try:
        with engine.connect() as conn:
            names = conn.execute(
                text("select table_name from information_schema.tables where table_schema = :s"),
                {"s": schema},
            ).scalars()
            assert {"workers", "events", "alembic_version"} <= set(names)
    finally:
        engine.dispose()


def test_ensure_schema_upgrades_a_fresh_database_once(sqlite_url):
    migrate.ensure_schema(sqlite_url)
    migrate.ensure_schema(sqlite_url)
    assert "workers" in table_names(sqlite_url)


def test_tables_made_by_create_all_are_stamped_not_recreated(sqlite_url):
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("insert into employers (employer_id, region) values ('e1', '441900')"))
    assert migrate.upgrade(sqlite_url) == migrate.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from employers")).scalar_one() == 1
    engine.dispose()


def test_ensure_schema_notices_a_deleted_database_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    migrate.ensure_schema(url)
    (tmp_path / "gone.db").unlink()
    migrate.ensure_schema(url)
    assert "workers" in table_names(url)


def test_downgrade_to_base_and_back(database_url):
    from alembic import command

    migrate.upgrade(database_url)
    with opened(database_url) as engine, engine.begin() as conn:
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not set(Base.metadata.tables) & table_names(database_url)
    assert migrate.upgrade(database_url) == migrate.head_revision()


def test_lifecycle_revision_replays_the_outcomes_of_an_existing_store(sqlite_url):
    """A store at 0001 with hires and departures gets statuses and placements on upgrade."""
    from alembic import command

    with opened(sqlite_url) as engine, engine.begin() as conn:
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO employers (employer_id, region) VALUES ('E1', '440306')"))
        conn.execute(
            text(
                "INSERT INTO vacancies (vacancy_id, employer_id, title, region, headcount) "
                "VALUES ('V1', 'E1', '焊工', '440306', 3)"
            )
        )
        for wid, status in (("A", "active"), ("B", "active"), ("C", "inactive"), ("D", "active")):
            conn.execute(
                text(
                    "INSERT INTO workers (worker_id, home_region, status) VALUES (:w, '542427', :s)"
                ),
                {"w": wid, "s": status},
            )
        for wid, event, day in (
            ("A", "hired", 1),
            ("B", "hired", 1),
            ("B", "left", 9),
            ("C", "hired", 2),
            ("D", "applied", 1),
        ):
            conn.execute(
                text(
                    "INSERT INTO events (worker_id, vacancy_id, event, occurred_at) "
                    "VALUES (:w, 'V1', :e, :t)"
                ),
                {"w": wid, "e": event, "t": f"2026-03-0{day} 08:00:00.000000"},
            )
    assert migrate.upgrade(sqlite_url) == migrate.head_revision()
    with opened(sqlite_url) as engine, engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT worker_id, status FROM workers")).all())
        reasons = dict(conn.execute(text("SELECT worker_id, status_reason FROM workers")).all())
        placements = conn.execute(
            text("SELECT worker_id, employer_id, end_reason FROM placements ORDER BY worker_id")
        ).all()
    assert statuses == {"A": "employed", "B": "to_replace", "C": "inactive", "D": "active"}
    assert reasons["B"] == "left"
    assert [tuple(p) for p in placements] == [
        ("A", "E1", None),
        ("B", "E1", "left"),
        ("C", "E1", None),
    ]
