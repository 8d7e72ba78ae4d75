"""upsert and load_dataset on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import String, select

from matcher.data.contract import MAX_LENGTH, validate_record
from matcher.data.dataset import normalise_frame
from matcher.data.schema import CONTRACT
from service.store.db import make_engine, session_scope
from service.store.migrate import ensure_schema
from service.store.models import Base
from service.store.repository import counts, existing_ids, load_dataset, table, upsert


@pytest.fixture
def engine(database_url):
    ensure_schema(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def frame(name: str, rows: list[dict]) -> pd.DataFrame:
    return normalise_frame(pd.DataFrame(rows), CONTRACT[name])


EMPLOYERS = frame("employers", [{"employer_id": "E1", "region": "441900", "verified": True}])
WORKERS = frame(
    "workers",
    [
        {
            "worker_id": "W1",
            "name": "次仁",
            "home_region": "542427",
            "languages": "bo;zh",
            "birth_year": 1990,
            "registered_at": "2024-01-01T08:00:00+08:00",
        },
        {"worker_id": "W2", "home_region": "513431", "registered_at": "2024-03-01"},
    ],
)
VACANCIES = frame(
    "vacancies",
    [
        {
            "vacancy_id": "V1",
            "employer_id": "E1",
            "title": "普工",
            "region": "441900",
            "headcount": 5,
            "wage_min": 4000.0,
            "required_skills": "装配;质检",
            "housing": True,
            "posted_at": "2024-01-15",
        }
    ],
)
EVENTS = frame(
    "events",
    [
        {
            "worker_id": "W1",
            "vacancy_id": "V1",
            "event": "applied",
            "occurred_at": "2024-02-01T10:00:00",
        },
        {
            "worker_id": "W1",
            "vacancy_id": "V1",
            "event": "hired",
            "occurred_at": "2024-02-03T10:00:00",
        },
        {
            "worker_id": "W2",
            "vacancy_id": "V1",
            "event": "viewed",
            "occurred_at": "2024-03-02T10:00:00",
        },
        {
            "worker_id": "W2",
            "vacancy_id": "V1",
            "event": "viewed",
            "occurred_at": "2024-03-02T10:00:00",
        },
    ],
)


def load_all(session) -> list:
    return [
        upsert(session, "employers", EMPLOYERS),
        upsert(session, "workers", WORKERS),
        upsert(session, "vacancies", VACANCIES),
        upsert(session, "events", EVENTS),
    ]


def test_upsert_inserts_then_leaves_unchanged_then_updates(engine):
    with session_scope(engine) as s:
        first = load_all(s)
    assert [(r.inserted, r.updated, r.unchanged) for r in first] == [
        (1, 0, 0),
        (2, 0, 0),
        (1, 0, 0),
        (3, 0, 1),  # the repeated "viewed" is stored once
    ]
    with session_scope(engine) as s:
        again = load_all(s)
        assert counts(s) == {"workers": 2, "employers": 1, "vacancies": 1, "events": 3}
    assert all(r.inserted == 0 and r.updated == 0 for r in again)
    changed = WORKERS.copy()
    changed.loc[1, "expected_wage"] = 4200.0
    with session_scope(engine) as s:
        result = upsert(s, "workers", changed)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    with engine.connect() as conn:
        wage = conn.execute(
            select(table("workers").c.expected_wage).where(table("workers").c.worker_id == "W2")
        ).scalar_one()
    assert wage == 4200.0


def test_columns_absent_from_the_frame_keep_their_stored_values(engine):
    with session_scope(engine) as s:
        load_all(s)
        upsert(s, "workers", WORKERS[["worker_id", "home_region"]].assign(home_region="441900"))
    ds = load_dataset(engine, include_personal=True)
    w1 = ds.worker("W1")
    assert w1["home_region"] == "441900"
    assert w1["name"] == "次仁" and w1["languages"] == ["bo", "zh"] and w1["birth_year"] == 1990


def test_a_failed_transaction_writes_nothing(engine):
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        load_all(s)
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert counts(conn) == {"workers": 0, "employers": 0, "vacancies": 0, "events": 0}


def test_load_dataset_round_trips_the_normal_form(engine):
    with session_scope(engine) as s:
        load_all(s)
        assert existing_ids(s, "workers", ["W1", "W9"]) == {"W1"}
    ds = load_dataset(engine)
    assert ds.counts() == {"workers": 2, "employers": 1, "vacancies": 1, "events": 3}
    w1 = ds.worker("W1")
    assert w1["languages"] == ["bo", "zh"]
    assert w1["registered_at"] == pd.Timestamp("2024-01-01 00:00:00")
    assert w1["name"] is None  # personal data left out unless asked for
    v1 = ds.vacancy("V1")
    assert v1["required_skills"] == ["装配", "质检"] and bool(v1["housing"]) is True
    assert v1["headcount"] == 5 and ds.vacancies["headcount"].dtype == "Int64"
    assert str(ds.events["occurred_at"].dtype) == "datetime64[ns]"
    assert ds.events["event"].tolist() == ["applied", "hired", "viewed"]
    assert (
        list(ds.workers.columns[: len(CONTRACT["workers"].columns)]) == CONTRACT["workers"].columns
    )
    assert "occupation_source" in ds.vacancies.columns


def test_load_dataset_until_sees_only_the_past(engine):
    with session_scope(engine) as s:
        load_all(s)
    ds = load_dataset(engine, until="2024-02-02")
    assert ds.worker_index.tolist() == ["W1"]
    assert ds.events[["event"]].to_dict("list") == {"event": ["applied"]}


def test_validated_records_can_be_upserted(engine):
    """What the API does: validate_record -> one-row frame -> upsert."""
    record = validate_record(
        "employers", {"employer_id": "E7", "region": "542427", "verified": "no"}
    )
    with session_scope(engine) as s:
        result = upsert(s, "employers", pd.DataFrame([record]))
    assert result.inserted == 1
    assert load_dataset(engine).employers.set_index("employer_id").loc["E7", "verified"] == False  # noqa: E712


def test_contract_length_limits_match_the_store_columns():
    for name, limit in MAX_LENGTH.items():
        for tbl in Base.metadata.tables.values():
            if name in tbl.c and tbl.name in CONTRACT and isinstance(tbl.c[name].type, String):
                assert tbl.c[name].type.length == limit, (tbl.name, name)


def _schema_objects(engine) -> tuple[set[str], set[str]]:
    from sqlalchemy import inspect

    insp = inspect(engine)
    indexes = {ix["name"] for ix in insp.get_indexes("events")}
    fks = {fk["referred_table"] for fk in insp.get_foreign_keys("events")}
    return indexes, fks


def test_big_loads_rebuild_indexes_and_keys_in_the_same_transaction(engine, monkeypatch):
    """Loads above REBUILD_MIN_ROWS drop and rebuild secondary indexes (and, on
    PostgreSQL, foreign keys); afterwards, and after a rollback, the schema is whole."""
    from service.store import repository

    monkeypatch.setattr(repository, "REBUILD_MIN_ROWS", 1)
    expected_indexes, expected_fks = _schema_objects(engine)
    assert {"ix_events_vacancy_id", "ix_events_occurred_at"} <= expected_indexes
    assert expected_fks == {"workers", "vacancies"}

    with pytest.raises(RuntimeError), session_scope(engine) as s:
        load_all(s)
        raise RuntimeError("boom")
    assert _schema_objects(engine) == (expected_indexes, expected_fks)
    with engine.connect() as conn:
        assert counts(conn)["events"] == 0

    with session_scope(engine) as s:
        assert load_all(s)[3].inserted == 3
    assert _schema_objects(engine) == (expected_indexes, expected_fks)


def test_the_store_refuses_events_naming_unknown_workers(engine, monkeypatch):
    """Even past the importer's checks, with the foreign keys dropped for a big load."""
    from sqlalchemy.exc import IntegrityError

    from service.store import repository

    monkeypatch.setattr(repository, "REBUILD_MIN_ROWS", 1)
    bad = frame(
        "events",
        [{"worker_id": "W404", "vacancy_id": "V1", "event": "viewed", "occurred_at": "2024-03-01"}],
    )
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        load_all(s)
        upsert(s, "events", bad)
    with engine.connect() as conn:
        assert counts(conn)["events"] == 0


def test_load_dataset_of_an_empty_store(engine):
    ds = load_dataset(engine, until="2024-01-01T08:00:00+08:00")
    assert ds.counts() == {"workers": 0, "employers": 0, "vacancies": 0, "events": 0}
    assert list(ds.events.columns) == CONTRACT["events"].columns
