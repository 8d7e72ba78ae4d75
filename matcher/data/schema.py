"""Data contract v1: column names, enumerations and field rules, defined once.

Every other part of jobmatch (file import, store, API bodies, synthetic market,
models) takes its column names and allowed values from here. The contract is
documented for people in ``docs/data-contract.md``; change it only by adding
optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Columns:
    """Column names shared by every DataFrame that crosses a module boundary."""

    Worker = "worker_id"
    Vacancy = "vacancy_id"
    Employer = "employer_id"
    Event = "event"
    OccurredAt = "occurred_at"
    Score = "score"
    Rank = "rank"
    Reasons = "reasons"
    Warnings = "warnings"
    Weight = "weight"


class Gender(StrEnum):
    F = "F"
    M = "M"
    OTHER = "other"
    UNKNOWN = "unknown"


class Education(StrEnum):
    NONE = "none"
    PRIMARY = "primary"
    JUNIOR_SECONDARY = "junior_secondary"
    SENIOR_SECONDARY = "senior_secondary"
    VOCATIONAL = "vocational"
    COLLEGE = "college"


class LaborCapacity(StrEnum):
    FULL = "full"
    SEMI = "semi"
    WEAK = "weak"


class Mobility(StrEnum):
    ANY = "any"
    PROVINCE = "province"
    LOCAL = "local"


class HouseholdStatus(StrEnum):
    NONE = "none"
    LIFTED = "lifted"
    MONITORED = "monitored"


class Channel(StrEnum):
    CROSS_PROVINCE_TRANSFER = "cross_province_transfer"
    IN_PROVINCE = "in_province"
    EMPLOYMENT_FACTORY = "employment_factory"
    PUBLIC_WELFARE_POST = "public_welfare_post"
    INFRASTRUCTURE_PROJECT = "infrastructure_project"


class VacancyStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"


class EventType(StrEnum):
    VIEWED = "viewed"
    APPLIED = "applied"
    INTERVIEWED = "interviewed"
    REJECTED = "rejected"
    DECLINED = "declined"
    HIRED = "hired"
    LEFT = "left"
    RETAINED_3M = "retained_3m"
    RETAINED_6M = "retained_6m"
    WAGE_ARREARS = "wage_arrears"
    INJURY = "injury"


#: Graded relevance of an outcome for evaluation (retained 3, hired 2, applied 1).
#: A pair's grade is the highest grade among its events.
OUTCOME_GRADE: dict[str, int] = {
    EventType.APPLIED: 1,
    EventType.INTERVIEWED: 1,
    EventType.HIRED: 2,
    EventType.RETAINED_3M: 3,
    EventType.RETAINED_6M: 3,
}

#: Events that mean the worker went beyond viewing a vacancy (applied or further): such a
#: vacancy is not recommended to that worker again.
PURSUED_EVENTS: frozenset[str] = frozenset(
    e.value
    for e in (
        EventType.APPLIED,
        EventType.INTERVIEWED,
        EventType.REJECTED,
        EventType.DECLINED,
        EventType.HIRED,
        EventType.LEFT,
        EventType.RETAINED_3M,
        EventType.RETAINED_6M,
    )
)

#: Outcomes that officers record through the service (viewed etc. come from logs/imports).
OFFICER_OUTCOMES: tuple[EventType, ...] = (
    EventType.APPLIED,
    EventType.HIRED,
    EventType.LEFT,
    EventType.RETAINED_3M,
    EventType.RETAINED_6M,
    EventType.WAGE_ARREARS,
    EventType.INJURY,
)


class Kind(StrEnum):
    """How a field's text is parsed and checked."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    ENUM = "enum"
    REGION = "region"
    STR_LIST = "str_list"
    REGION_LIST = "region_list"
    LANG_LIST = "lang_list"


@dataclass(frozen=True)
class FieldSpec:
    """One column of the contract.

    ``min_value`` applies to numbers; ``choices`` to enums; ``max_length`` to text
    the store keeps in a column of that size (ids, names; longer values are errors);
    ``personal`` marks personal data that must never reach logs, employers or error
    messages.
    """

    name: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    personal: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    references: dict[str, str] = field(default_factory=dict)  # column -> table it names

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def personal(self) -> list[str]:
        return [f.name for f in self.fields if f.personal]

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}; fields are {', '.join(self.columns)}")


def _choices(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(e.value for e in enum)


WORKERS = TableSpec(
    name="workers",
    key=("worker_id",),
    fields=(
        FieldSpec("worker_id", Kind.STR, required=True, max_length=64),
        FieldSpec("name", Kind.STR, personal=True, max_length=200),
        FieldSpec("phone", Kind.STR, personal=True, max_length=64),
        FieldSpec("id_number", Kind.STR, personal=True, max_length=64),
        FieldSpec("gender", Kind.ENUM, choices=_choices(Gender)),
        FieldSpec("birth_year", Kind.INT, min_value=1900, max_value=2100),
        FieldSpec("home_region", Kind.REGION, required=True),
        FieldSpec("education", Kind.ENUM, choices=_choices(Education)),
        FieldSpec("languages", Kind.LANG_LIST),
        FieldSpec("skills", Kind.STR),
        FieldSpec("work_history", Kind.STR),
        FieldSpec("certificates", Kind.STR_LIST),
        FieldSpec("labor_capacity", Kind.ENUM, choices=_choices(LaborCapacity)),
        FieldSpec("mobility", Kind.ENUM, choices=_choices(Mobility)),
        FieldSpec("max_commute_km", Kind.FLOAT, min_value=0),
        FieldSpec("preferred_regions", Kind.REGION_LIST),
        FieldSpec("expected_wage", Kind.FLOAT, min_value=0),
        FieldSpec("household_status", Kind.ENUM, choices=_choices(HouseholdStatus)),
        FieldSpec("group_id", Kind.STR, max_length=64),
        FieldSpec("registered_at", Kind.DATETIME),
        # optional addition to v1: workers of one household share it (one public-welfare
        # post per household in the nightly plan)
        FieldSpec("household_id", Kind.STR, max_length=64),
    ),
)

EMPLOYERS = TableSpec(
    name="employers",
    key=("employer_id",),
    fields=(
        FieldSpec("employer_id", Kind.STR, required=True, max_length=64),
        FieldSpec("name", Kind.STR, max_length=200),
        FieldSpec("region", Kind.REGION, required=True),
        FieldSpec("industry", Kind.STR, max_length=200),
        FieldSpec("verified", Kind.BOOL),
    ),
)

VACANCIES = TableSpec(
    name="vacancies",
    key=("vacancy_id",),
    fields=(
        FieldSpec("vacancy_id", Kind.STR, required=True, max_length=64),
        FieldSpec("employer_id", Kind.STR, required=True, max_length=64),
        FieldSpec("title", Kind.STR, required=True, max_length=300),
        FieldSpec("description", Kind.STR),
        FieldSpec("occupation_code", Kind.STR, max_length=16),
        FieldSpec("region", Kind.REGION, required=True),
        FieldSpec("headcount", Kind.INT, required=True, min_value=0),
        FieldSpec("wage_min", Kind.FLOAT, min_value=0),
        FieldSpec("wage_max", Kind.FLOAT, min_value=0),
        FieldSpec("required_skills", Kind.STR_LIST),
        FieldSpec("min_age", Kind.INT, min_value=0, max_value=120),
        FieldSpec("max_age", Kind.INT, min_value=0, max_value=120),
        FieldSpec("languages", Kind.LANG_LIST),
        FieldSpec("housing", Kind.BOOL),
        FieldSpec("meals", Kind.BOOL),
        FieldSpec("labor_contract", Kind.BOOL),
        FieldSpec("social_insurance", Kind.BOOL),
        FieldSpec("channel", Kind.ENUM, choices=_choices(Channel)),
        FieldSpec("posted_at", Kind.DATETIME),
        FieldSpec("closes_at", Kind.DATETIME),
        FieldSpec("status", Kind.ENUM, choices=_choices(VacancyStatus)),
    ),
    references={"employer_id": "employers"},
)

EVENTS = TableSpec(
    name="events",
    key=("worker_id", "vacancy_id", "event", "occurred_at"),
    fields=(
        FieldSpec("worker_id", Kind.STR, required=True, max_length=64),
        FieldSpec("vacancy_id", Kind.STR, required=True, max_length=64),
        FieldSpec("event", Kind.ENUM, required=True, choices=_choices(EventType)),
        FieldSpec("occurred_at", Kind.DATETIME, required=True),
    ),
    references={"worker_id": "workers", "vacancy_id": "vacancies"},
)

#: The four tables of the contract, in the order they must be loaded.
CONTRACT: dict[str, TableSpec] = {t.name: t for t in (WORKERS, EMPLOYERS, VACANCIES, EVENTS)}

#: Personal-data columns of workers: never in logs, employer views or error messages.
PERSONAL_FIELDS: frozenset[str] = frozenset(WORKERS.personal) | {"birth_date"}
