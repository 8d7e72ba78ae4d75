"""The API bodies (service/schemas.py) and the store's columns (service/store/models.py)
agree with the data contract (matcher/data/schema.py) field by field: names, types, enum
values, text lengths and which fields are required."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from enum import StrEnum

import pytest
from pydantic import BaseModel
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text

from matcher.data.schema import CONTRACT, FieldSpec, Kind
from service import schemas
from service.store import models

PYTHON_TYPE = {
    Kind.STR: str,
    Kind.REGION: str,
    Kind.INT: int,
    Kind.FLOAT: float,
    Kind.BOOL: bool,
    Kind.DATE: date,
    Kind.DATETIME: datetime,
    Kind.STR_LIST: list[str],
    Kind.REGION_LIST: list[str],
    Kind.LANG_LIST: list[str],
}
STORE_TYPE = {
    Kind.STR: (String, Text),
    Kind.REGION: (String,),
    Kind.ENUM: (String,),
    Kind.INT: (Integer,),
    Kind.FLOAT: (Float,),
    Kind.BOOL: (Boolean,),
    Kind.DATE: (DateTime,),
    Kind.DATETIME: (DateTime,),
    Kind.STR_LIST: (JSON,),
    Kind.REGION_LIST: (JSON,),
    Kind.LANG_LIST: (JSON,),
}
#: Region codes are 6 digits (GB/T 2260).
REGION_LENGTH = 6

#: table -> (create body, update body or None, public body); the update body leaves out
#: the key (it is in the path), and the vacancy's employer (a vacancy never moves).
BODIES = {
    "workers": (schemas.WorkerCreate, schemas.WorkerUpdate, schemas.WorkerPublic),
    "employers": (schemas.EmployerCreate, None, schemas.EmployerPublic),
    "vacancies": (schemas.VacancyCreate, schemas.VacancyUpdate, schemas.VacancyPublic),
    "events": (schemas.OutcomeCreate, None, None),
}
NOT_UPDATED = {"workers": {"worker_id"}, "vacancies": {"vacancy_id", "employer_id"}}
#: Contract-required fields a create body may leave out, and why.
OPTIONAL_IN_BODY = {
    ("vacancies", "employer_id"): "an employer's key implies it",
    ("events", "occurred_at"): "defaults to now",
}
#: Fields a create body adds to the contract's, and why.
EXTRA_IN_BODY = {("events", "note"): "the officer's note on the outcome"}
STORE_TABLE = {
    "workers": models.Worker,
    "employers": models.Employer,
    "vacancies": models.Vacancy,
    "events": models.Event,
}


def unwrap(annotation: object) -> tuple[object, bool]:
    """(the type inside ``X | None`` and ``Annotated[X, ...]``, whether None is allowed)."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            assert len(args) == 1, f"ambiguous union {annotation}"
            annotation = args[0]
        else:
            return annotation, optional


def max_length(model: type[BaseModel], name: str) -> int | None:
    limits = [m.max_length for m in model.model_fields[name].metadata if hasattr(m, "max_length")]
    return limits[0] if limits else None


def check_type(where: str, spec: FieldSpec, annotation: object) -> None:
    inner, _ = unwrap(annotation)
    if spec.kind == Kind.ENUM:
        assert isinstance(inner, type) and issubclass(inner, StrEnum), f"{where}: not an enum"
        assert tuple(e.value for e in inner) == spec.choices, f"{where}: enum values differ"
    else:
        assert inner == PYTHON_TYPE[spec.kind], f"{where}: {inner} is not {spec.kind}"


def cases():
    for table, (create, update, public) in BODIES.items():
        for spec in CONTRACT[table].fields:
            yield pytest.param(table, spec, create, update, public, id=f"{table}.{spec.name}")


@pytest.mark.parametrize(("table", "spec", "create", "update", "public"), list(cases()))
def test_bodies_follow_the_contract_field(table, spec, create, update, public):
    where = f"{create.__name__}.{spec.name}"
    field = create.model_fields[spec.name]
    check_type(where, spec, field.annotation)
    assert max_length(create, spec.name) == spec.max_length, f"{where}: max_length"
    if (table, spec.name) not in OPTIONAL_IN_BODY:
        assert field.is_required() == spec.required, f"{where}: required"
    if update is not None and spec.name not in NOT_UPDATED.get(table, set()):
        where = f"{update.__name__}.{spec.name}"
        check_type(where, spec, update.model_fields[spec.name].annotation)
        assert not update.model_fields[spec.name].is_required(), f"{where}: all optional"
        assert max_length(update, spec.name) == spec.max_length, f"{where}: max_length"
    if public is not None:
        where = f"{public.__name__}.{spec.name}"
        check_type(where, spec, public.model_fields[spec.name].annotation)
        assert max_length(public, spec.name) in (None, spec.max_length), f"{where}: max_length"


@pytest.mark.parametrize("table", list(BODIES))
def test_bodies_have_the_contracts_fields(table):
    create, update, _ = BODIES[table]
    contract = set(CONTRACT[table].columns)
    extra = {name for t, name in EXTRA_IN_BODY if t == table}
    assert set(create.model_fields) == contract | extra
    if update is not None:
        own = set(update.model_fields) - contract
        assert contract - NOT_UPDATED.get(table, set()) <= set(update.model_fields)
        assert own == ({"status"} if table == "workers" else set()), own


@pytest.mark.parametrize(
    ("table", "spec"),
    [pytest.param(t, s, id=f"{t}.{s.name}") for t in CONTRACT for s in CONTRACT[t].fields],
)
def test_store_columns_follow_the_contract_field(table, spec):
    column = STORE_TABLE[table].__table__.columns[spec.name]
    where = f"{STORE_TABLE[table].__name__}.{spec.name}"
    assert isinstance(column.type, STORE_TYPE[spec.kind]), f"{where}: {column.type!r}"
    length = getattr(column.type, "length", None)
    if spec.max_length is not None:
        assert length == spec.max_length, f"{where}: String({length}), contract {spec.max_length}"
    if spec.kind == Kind.REGION:
        assert length == REGION_LENGTH, where
    if spec.kind == Kind.ENUM:
        assert length is not None and length >= max(map(len, spec.choices)), where
    if isinstance(column.type, String) and not isinstance(column.type, Text):
        assert spec.max_length is not None or spec.kind in (Kind.REGION, Kind.ENUM), (
            f"{where}: a String({length}) column for a field the contract sets no length for"
        )


def test_an_over_long_field_is_refused_by_the_body_as_by_the_import():
    from matcher.data.contract import validate_record

    too_long = "x" * (CONTRACT["vacancies"].field("title").max_length + 1)
    with pytest.raises(ValueError, match="at most 300 characters"):
        schemas.VacancyCreate(vacancy_id="V1", title=too_long, region="542427", headcount=1)
    with pytest.raises(ValueError, match="longer than 300 characters"):
        validate_record(
            "vacancies",
            {"vacancy_id": "V1", "employer_id": "E1", "title": too_long}
            | {"region": "542427", "headcount": 1},
        )
