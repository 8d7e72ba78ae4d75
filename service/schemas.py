"""Request and response bodies of the API, one family per entity.

``XCreate`` (a record of the data contract, same field names), ``XUpdate`` (every
field optional; only the fields sent change), ``XPublic`` (what a reader gets) and
``XsPublic(data, count)`` for lists. Shapes and types are checked here; the
contract's rules (known region codes, wage_min <= wage_max, ...) are checked by
``matcher.data.contract`` in the service layer, so API bodies and imported files obey
exactly the same rules. Field names, types, enums and text lengths are those of
``matcher.data.schema`` and ``matcher.data.contract.MAX_LENGTH``;
``tests/contract/test_schema_sync.py`` compares them field by field.

Employers never receive a worker schema: they get :class:`EmployerCandidate`, which
has no field for name, phone, id number or birth year (privacy by construction).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from matcher.data.contract import EARLIEST, LATEST, MAX_INT, MAX_LENGTH
from matcher.data.schema import (
    CONTRACT,
    Channel,
    Education,
    EventType,
    Gender,
    HouseholdStatus,
    Kind,
    LaborCapacity,
    Mobility,
    VacancyStatus,
)


def _split_list(value: Any) -> Any:
    """Lists may come as JSON arrays or as the CSV form ``"zh;bo"``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


StrList = Annotated[list[str], BeforeValidator(_split_list)]


def _limits(table: str, name: str) -> Any:
    """The range of a number field, for ``Annotated[int, _limits(...)]``: the contract's;
    integers at most what the store's 32-bit columns hold (OpenAPI documents both)."""
    spec = CONTRACT[table].field(name)
    cast = int if spec.kind == Kind.INT else float
    low = None if spec.min_value is None else cast(spec.min_value)
    high = None if spec.max_value is None else cast(spec.max_value)
    if high is None and spec.kind == Kind.INT:
        high = MAX_INT
    return Field(ge=low, le=high)


#: Supported years of any time the service keeps (the data contract's range).
FIRST_YEAR, END_YEAR = EARLIEST.year, LATEST.year
_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(END_YEAR, 1, 1, tzinfo=UTC)
_NUMBER_RE = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_OUT_OF_RANGE = f"times from {FIRST_YEAR} to {END_YEAR - 1} are supported"


def _iso_text(value: Any) -> Any:
    """Refuse numbers for a time: pydantic would read them as Unix seconds, which no
    client of this API means (times are ISO 8601 text)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER_RE.match(value)):
        raise ValueError("a time is ISO 8601 text, e.g. 2026-03-01T08:00:00+08:00")
    return value


def _supported_time(value: datetime) -> datetime:
    """``value`` in UTC (one without an offset is UTC), refused outside the supported
    years; checked on the wall clock first, as converting a time near year 1 or 9999
    to UTC overflows."""
    wall = value.replace(tzinfo=UTC)
    if not _EARLIEST <= wall < _LATEST:
        raise ValueError(_OUT_OF_RANGE)
    utc = wall if value.tzinfo is None else value.astimezone(UTC)
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError(_OUT_OF_RANGE)
    return utc


def _supported_wall_time(value: datetime) -> datetime:
    """``value`` as given (with or without its zone), refused outside the supported years."""
    _supported_time(value.replace(tzinfo=None))
    if value.tzinfo is not None:
        _supported_time(value)
    return value


#: A time, ISO 8601 (RFC 3339 in answers, always UTC); one without an offset is UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_supported_time)]
#: A time whose meaning without an offset is the route's (e.g. the office's clock).
WallTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_supported_wall_time)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- workers


class _WorkerFields(_Body):
    name: str | None = Field(None, max_length=MAX_LENGTH["name"], description="personal data")
    phone: str | None = Field(None, max_length=MAX_LENGTH["phone"], description="personal data")
    id_number: str | None = Field(
        None, max_length=MAX_LENGTH["id_number"], description="personal data"
    )
    gender: Gender | None = None
    birth_year: Annotated[int, _limits("workers", "birth_year")] | None = None
    education: Education | None = None
    languages: StrList | None = Field(None, description="ISO 639-1 codes, e.g. ['zh', 'bo']")
    skills: str | None = None
    work_history: str | None = None
    certificates: StrList | None = None
    labor_capacity: LaborCapacity | None = None
    mobility: Mobility | None = None
    max_commute_km: Annotated[float, _limits("workers", "max_commute_km")] | None = None
    preferred_regions: StrList | None = None
    expected_wage: Annotated[float, _limits("workers", "expected_wage")] | None = Field(
        None, description="CNY per month"
    )
    household_status: HouseholdStatus | None = None
    group_id: str | None = Field(None, max_length=MAX_LENGTH["group_id"])
    registered_at: Timestamp | None = None
    household_id: str | None = Field(None, max_length=MAX_LENGTH["household_id"])


class WorkerCreate(_WorkerFields):
    """A worker record of the data contract."""

    worker_id: str = Field(..., min_length=1, max_length=MAX_LENGTH["worker_id"])
    home_region: str = Field(..., description="6-digit GB/T 2260 county code, e.g. 542427")


class WorkerUpdate(_WorkerFields):
    """Fields to change; fields not sent keep their value, ``null`` clears one."""

    home_region: str | None = None
    status: str | None = Field(
        None,
        max_length=24,
        description="active | inactive (employed and to_replace follow from outcomes)",
    )


class PlacementPublic(BaseModel):
    """The job a worker was hired into (open while ``ended_at`` is null)."""

    placement_id: int
    vacancy_id: str
    vacancy_title: str | None = None
    employer_id: str
    employer_name: str | None = None
    started_at: Timestamp = Field(description="the hire's time (UTC)")
    ended_at: Timestamp | None = None
    end_reason: str | None = Field(None, description="left | wage_arrears | injury | moved")


class WorkerPublic(_WorkerFields):
    """A worker as an officer or admin sees it (includes personal data; reads are audited)."""

    model_config = ConfigDict(from_attributes=True)

    worker_id: str
    home_region: str
    home_region_name: str | None = None
    status: str | None = Field(
        None,
        description="active (job-seeking) | employed | to_replace (needs re-placement) | inactive",
    )
    status_since: Timestamp | None = Field(None, description="when the status began (UTC)")
    needs_replacement: bool = Field(
        False, description="left the job, unpaid or injured: to be re-placed"
    )
    replacement_reason: str | None = Field(
        None, description="left | wage_arrears | injury, when needs_replacement"
    )
    placement: PlacementPublic | None = Field(
        None, description="the current job (employed) or the one just lost (to_replace)"
    )
    updated_at: Timestamp | None = None


class WorkersPublic(BaseModel):
    data: list[WorkerPublic]
    count: int = Field(description="matching workers in all pages")


class CountyCount(BaseModel):
    region: str
    name: str
    count: int = Field(description="registered workers")
    seeking: int = Field(0, description="job-seekers: active or to be re-placed")
    employed: int = Field(0, description="in a job recorded as hired")
    needs_replacement: int = Field(0, description="left, unpaid or injured: to be re-placed")


class CountyCountsPublic(BaseModel):
    data: list[CountyCount]
    count: int


# --------------------------------------------------------------------------- employers


class EmployerCreate(_Body):
    """An employer record of the data contract."""

    employer_id: str = Field(..., min_length=1, max_length=MAX_LENGTH["employer_id"])
    name: str | None = Field(None, max_length=MAX_LENGTH["name"])
    region: str
    industry: str | None = Field(None, max_length=MAX_LENGTH["industry"])
    verified: bool | None = None


class EmployerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    employer_id: str
    name: str | None = None
    region: str
    industry: str | None = None
    verified: bool | None = None


class EmployersPublic(BaseModel):
    data: list[EmployerPublic]
    count: int


# --------------------------------------------------------------------------- vacancies


class _VacancyFields(_Body):
    description: str | None = None
    occupation_code: str | None = Field(
        None,
        max_length=MAX_LENGTH["occupation_code"],
        description="CSCO 2022 code; inferred from the title when blank",
    )
    wage_min: Annotated[float, _limits("vacancies", "wage_min")] | None = Field(
        None, description="CNY per month"
    )
    wage_max: Annotated[float, _limits("vacancies", "wage_max")] | None = Field(
        None, description="CNY per month"
    )
    required_skills: StrList | None = None
    min_age: Annotated[int, _limits("vacancies", "min_age")] | None = None
    max_age: Annotated[int, _limits("vacancies", "max_age")] | None = None
    languages: StrList | None = None
    housing: bool | None = None
    meals: bool | None = None
    labor_contract: bool | None = None
    social_insurance: bool | None = None
    channel: Channel | None = None
    posted_at: Timestamp | None = None
    closes_at: Timestamp | None = None
    status: VacancyStatus | None = None


class VacancyCreate(_VacancyFields):
    """A vacancy record of the data contract (an employer's key may leave out employer_id)."""

    vacancy_id: str = Field(..., min_length=1, max_length=MAX_LENGTH["vacancy_id"])
    employer_id: str | None = Field(None, max_length=MAX_LENGTH["employer_id"])
    title: str = Field(..., min_length=1, max_length=MAX_LENGTH["title"])
    region: str = Field(..., description="6-digit GB/T 2260 code of the workplace")
    headcount: int = Field(
        ..., ge=1, le=MAX_INT, description="seats still open (a new vacancy has one or more)"
    )


class VacancyUpdate(_VacancyFields):
    """Fields to change; fields not sent keep their value."""

    title: str | None = Field(None, min_length=1, max_length=MAX_LENGTH["title"])
    region: str | None = None
    headcount: Annotated[int, _limits("vacancies", "headcount")] | None = None


class VacancyPublic(_VacancyFields):
    model_config = ConfigDict(from_attributes=True)

    vacancy_id: str
    employer_id: str
    title: str
    region: str
    region_name: str | None = None
    headcount: int
    occupation_name: str | None = None
    occupation_source: str | None = Field(None, description="given | inferred")
    occupation_confidence: float | None = None
    closed_reason: str | None = Field(None, description="deadline | employer | filled")
    updated_at: Timestamp | None = None


class VacanciesPublic(BaseModel):
    data: list[VacancyPublic]
    count: int


# --------------------------------------------------------------------------- outcomes


class OutcomeCreate(_Body):
    """An outcome an officer records for a worker and a vacancy."""

    worker_id: str = Field(..., min_length=1, max_length=MAX_LENGTH["worker_id"])
    vacancy_id: str = Field(..., min_length=1, max_length=MAX_LENGTH["vacancy_id"])
    event: EventType = Field(
        ...,
        description="applied | hired | left | retained_3m | retained_6m | wage_arrears | injury",
    )
    occurred_at: Timestamp | None = Field(None, description="default: now (UTC)")
    note: str | None = Field(
        None, max_length=500, description="the officer's note, e.g. how the outcome was confirmed"
    )


class OutcomePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    worker_id: str
    vacancy_id: str
    event: str
    occurred_at: Timestamp
    source: str | None = None
    note: str | None = None


class OutcomesPublic(BaseModel):
    data: list[OutcomePublic]
    count: int


# --------------------------------------------------------------------------- matching


class RecommendationItem(BaseModel):
    rank: int
    vacancy_id: str
    score: float
    stable_chance: str | None = Field(
        None,
        description="the score said plainly when it is a calibrated probability per "
        "proposal, e.g. 约 28% 的机会稳定就业 6 个月 (null for an uncalibrated model)",
    )
    reasons: list[str]
    warnings: list[str]
    title: str | None = None
    employer_id: str | None = None
    region: str | None = None
    region_name: str | None = None
    occupation_code: str | None = None
    wage_min: float | None = None
    wage_max: float | None = None
    channel: str | None = None


class PreviousEmployerNote(BaseModel):
    """For a worker to re-place: the employer just left and what the list does with it."""

    employer_id: str
    employer_name: str | None = None
    vacancy_id: str
    reason: str = Field(description="left | wage_arrears | injury")
    ended_at: Timestamp
    action: Literal["excluded", "ranked_lower"] = Field(
        description="excluded after wage arrears or injury; ranked after the others after left"
    )
    message: str


class RecommendationsPublic(BaseModel):
    worker_id: str
    model_version: str
    previous_employer: PreviousEmployerNote | None = Field(
        None, description="set for a worker to re-place (needs_replacement)"
    )
    source: Literal["precomputed", "live"] = Field(
        "live",
        description="precomputed: re-ranked from the lists built ahead for this model "
        "(jobmatch recommend --all --precompute); live: every open vacancy scored now",
    )
    household_holds_public_post: bool | None = Field(
        None,
        description="true: a member of this worker's household (possibly the worker) holds "
        "a public-welfare post (公益性岗位: hired on a vacancy of channel public_welfare_post, "
        "no left event since), so no other public-welfare post is proposed to the worker; "
        "false: the rule does not apply; null: the serving model does not apply this rule. "
        "Read from the serving model's catalogue, as the list is",
    )
    data: list[RecommendationItem]
    count: int


class CandidateProfile(BaseModel):
    """What anyone may know of a candidate: no name, phone, id number or birth date."""

    age_band: str | None = Field(None, description="e.g. 30-39")
    home_region: str | None = None
    home_region_name: str | None = None
    skills: str | None = None
    languages: list[str] = []
    work_history: str | None = None


class EmployerCandidate(CandidateProfile):
    """A candidate as an employer sees it: an opaque reference instead of the worker id."""

    rank: int
    candidate_ref: str = Field(description="opaque reference to quote to the placement office")
    score: float
    stable_chance: str | None = Field(
        None, description="the score said plainly when the model is calibrated (else null)"
    )
    reasons: list[str]
    warnings: list[str]


class OfficerCandidate(CandidateProfile):
    """A candidate as an officer or admin sees it (the worker page has the personal data)."""

    rank: int
    worker_id: str
    in_scope: bool = Field(description="inside this officer's region")
    score: float
    stable_chance: str | None = Field(
        None, description="the score said plainly when the model is calibrated (else null)"
    )
    reasons: list[str]
    warnings: list[str]


class EmployerCandidatesPublic(BaseModel):
    vacancy_id: str
    model_version: str
    data: list[EmployerCandidate]
    count: int


class OfficerCandidatesPublic(BaseModel):
    vacancy_id: str
    model_version: str
    data: list[OfficerCandidate]
    count: int


class Explanation(BaseModel):
    worker_id: str
    vacancy_id: str
    model_version: str
    score: float | None = None
    eligible: bool | None = None
    reasons: list[str]
    warnings: list[str]


# --------------------------------------------------------------------------- occupations


class ClassifyRequest(_Body):
    text: str = Field(..., min_length=1, max_length=500, examples=["急招焊工包吃住月入8000"])


class OccupationPublic(BaseModel):
    text: str
    code: str | None
    name: str | None
    confidence: float
    level: int | None = Field(
        None, description="CSCO level: 4 detailed, 3 minor, 2 sub-major, 1 major"
    )
    level_name: str | None = Field(None, examples=["detailed"])


class OccupationsPublic(BaseModel):
    text: str
    data: list[OccupationPublic]
    count: int


class OccupationCorrectionCreate(_Body):
    code: str = Field(..., min_length=1, max_length=16, examples=["6-18-02-04"])
    text: str | None = Field(
        None,
        max_length=200,
        description="workers only: the line of skills or work history that names the occupation",
        examples=["在东莞做过电焊"],
    )


class OccupationCorrectionPublic(BaseModel):
    id: int
    subject: str
    subject_id: str
    text: str
    code: str
    name: str | None
    previous_code: str | None
    created_at: Timestamp | None = None


class OccupationCorrectionsPublic(BaseModel):
    data: list[OccupationCorrectionPublic]
    count: int


# --------------------------------------------------------------------------- system


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    database: str
    model_loaded: bool
    model_version: str | None = None
    reason: str | None = None


class ServingProcessPublic(BaseModel):
    """A server process and the model version it serves."""

    process: str = Field(description="host:pid:start of the process")
    version: str | None = None
    loaded_at: Timestamp | None = None
    seen_at: Timestamp = Field(description="when it last reported (every few seconds)")
    reason: str | None = Field(None, description="why it serves no model, if so")
    this_process: bool = Field(description="the process that answered this request")


class ModelStatus(BaseModel):
    """The model this process serves, the version the store says to serve, and what
    every live server process serves."""

    model_loaded: bool
    model_version: str | None = None
    path: str | None = None
    loaded_at: Timestamp | None = None
    reason: str | None = None
    decided_version: str | None = Field(
        None, description="the version every process should serve (the store's record)"
    )
    processes: list[ServingProcessPublic] = []


class Me(BaseModel):
    role: str
    key_id: int
    region_prefix: str | None = None
    employer_id: str | None = None
    name: str | None = None


class Problem(BaseModel):
    """Error body: ``detail`` is a message, or a list of field-level problems for 422;
    a 500 also carries the ``request_id`` to quote when reporting it."""

    detail: Any
    request_id: str | None = None


# --------------------------------------------------------------------------- follow-ups


class FollowUpPlacement(BaseModel):
    placement_id: int
    vacancy_id: str
    vacancy_title: str | None = None
    vacancy_region: str | None = None
    vacancy_region_name: str | None = None
    employer_id: str
    employer_name: str | None = None
    started_at: Timestamp = Field(description="the hire (UTC)")
    ended_at: Timestamp | None = None
    end_reason: str | None = None


class FollowUpComplete(_Body):
    """What a follow-up visit (or call) found."""

    still_employed: bool = Field(..., description="the worker still works in this job")
    paid_on_time: bool | None = Field(None, description="wages paid in full and on time")
    contract_signed: bool | None = Field(None, description="a written labour contract")
    social_insurance: bool | None = Field(None, description="social insurance paid")
    left_reason: str | None = Field(
        None, max_length=200, description="why the worker left (required when not employed)"
    )
    arrears_months: int | None = Field(None, ge=0, le=120, description="months of wages owed")
    arrears_amount: float | None = Field(None, ge=0, le=10_000_000, description="CNY owed")
    injury: bool = Field(False, description="a work injury")
    note: str | None = Field(None, max_length=2000)
    visited_at: WallTime | None = Field(
        None, description="when the visit took place (default now; without a zone: office time)"
    )


class FollowUpFindings(BaseModel):
    still_employed: bool | None = None
    paid_on_time: bool | None = None
    contract_signed: bool | None = None
    social_insurance: bool | None = None
    left_reason: str | None = None
    arrears_months: int | None = None
    arrears_amount: float | None = None
    injury: bool | None = None
    note: str | None = None


class FollowUpPublic(BaseModel):
    id: int
    worker_id: str
    home_region: str
    home_region_name: str | None = None
    household_status: str | None = None
    day: int = Field(description="days after the hire")
    due_at: Timestamp = Field(description="UTC")
    due_date: date = Field(description="the due day in the office time zone")
    status: Literal["open", "overdue", "done", "cancelled"]
    placement: FollowUpPlacement
    completed_at: Timestamp | None = None
    completed_by: str | None = Field(None, description="key:<id> of the officer, or outcomes")
    findings: FollowUpFindings | None = None


class FollowUpsPublic(BaseModel):
    data: list[FollowUpPublic]
    count: int


class FollowUpCounts(BaseModel):
    overdue: int
    due_today: int = Field(description="open and due before the end of today, office time")
    open: int = Field(description="open, overdue included")
    done: int


class ReplacementCase(BaseModel):
    worker_id: str
    name: str | None = Field(None, description="personal data (the read is audited)")
    home_region: str
    home_region_name: str | None = None
    household_status: str | None = None
    priority: int = Field(description="0 monitored household, 1 lifted, 2 other")
    reason: str | None = Field(None, description="left | wage_arrears | injury")
    since: Timestamp | None = None
    previous_employer_id: str | None = None
    previous_employer_name: str | None = None
    previous_vacancy_id: str | None = None


class ReplacementsPublic(BaseModel):
    data: list[ReplacementCase]
    count: int


# --------------------------------------------------------------------------- employer risk


class EmployerRiskFigures(BaseModel):
    hires: int = Field(description="placements recorded with this employer")
    arrears: int = Field(description="jobs with wage arrears reported (outcomes, follow-ups)")
    no_contract: int = Field(description="jobs a follow-up found without a written contract")
    no_insurance: int = Field(description="jobs a follow-up found without social insurance")
    injuries: int
    arrears_amount: float = Field(description="CNY owed, as the follow-ups recorded it")
    recent: int = Field(description="arrears + no-contract cases within the window")
    first_at: Timestamp | None = None
    last_at: Timestamp | None = None
    flagged: bool = Field(description="recent >= threshold: report to the labour inspectorate")
    threshold: int
    warning: str | None = None


class EmployerRiskCase(BaseModel):
    kind: Literal["wage_arrears", "no_contract", "no_insurance", "injury"]
    at: Timestamp
    vacancy_id: str
    vacancy_title: str | None = None
    home_region: str = Field(description="the worker's home county")
    worker_id: str | None = Field(None, description="only for workers of your region")
    arrears_months: int | None = None
    arrears_amount: float | None = None


class EmployerRiskPublic(EmployerRiskFigures):
    employer_id: str
    employer_name: str | None = None
    window_days: int
    cases: list[EmployerRiskCase]


class FlaggedEmployer(EmployerRiskFigures):
    employer_id: str
    employer_name: str | None = None


class FlaggedEmployersPublic(BaseModel):
    data: list[FlaggedEmployer]
    count: int


# --------------------------------------------------------------------------- proposals


class ProposalCreate(_Body):
    """An officer proposes a worker of their region for an open vacancy."""

    worker_id: str = Field(..., min_length=1, max_length=64)
    vacancy_id: str = Field(..., min_length=1, max_length=64)
    note: str | None = Field(None, max_length=500, description="for the officers only")


class ProposalAnswer(_Body):
    """The employer's answer to a proposed candidate."""

    answer: Literal["interested", "not_suitable"]
    reason: (
        Literal["skills", "experience", "language", "location", "filled", "unreachable", "other"]
        | None
    ) = Field(None, description="required when not_suitable")
    note: str | None = Field(None, max_length=500)


class EmployerProposal(CandidateProfile):
    """A proposed candidate as the employer sees it (no personal data)."""

    proposal_id: int
    candidate_ref: str
    proposed_at: Timestamp
    status: Literal["proposed", "interested", "not_suitable", "hired"]
    answered_at: Timestamp | None = None
    reason: str | None = None
    note: str | None = None


class ProposalAnswered(BaseModel):
    """What the employer answered (the candidate stays an opaque reference)."""

    proposal_id: int
    status: Literal["interested", "not_suitable"]
    reason: str | None = None
    answered_at: Timestamp


class EmployerProposalsPublic(BaseModel):
    vacancy_id: str
    data: list[EmployerProposal]
    count: int


class OfficerProposal(BaseModel):
    proposal_id: int
    worker_id: str
    vacancy_id: str
    employer_id: str
    employer_name: str | None = None
    proposed_at: Timestamp
    status: Literal["proposed", "interested", "not_suitable", "hired"]
    answered_at: Timestamp | None = None
    reason: str | None = None
    note: str | None = None


class OfficerProposalsPublic(BaseModel):
    data: list[OfficerProposal]
    count: int


class EmployerReplyStats(BaseModel):
    employer_id: str
    employer_name: str | None = None
    proposed: int
    answered: int
    reply_rate: float = Field(description="answered / proposed")
    median_hours_to_answer: float | None = None
    interested_share: float | None = Field(None, description="interested / answered")
    oldest_waiting_days: float | None = Field(None, description="oldest unanswered proposal")


class EmployerReplyStatsPublic(BaseModel):
    data: list[EmployerReplyStats]
    count: int


class NoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    employer_id: str
    vacancy_id: str | None = None
    kind: str
    message: str
    created_at: Timestamp
    read_at: Timestamp | None = None


class NoticesPublic(BaseModel):
    data: list[NoticePublic]
    count: int


# --------------------------------------------------------------------------- retention


class RetentionPoint(BaseModel):
    month: int = Field(description="months since the hire")
    survival: float = Field(description="share still in the job (Kaplan–Meier)")


class RetentionSeries(BaseModel):
    key: str = Field(description="province code, employer id, 'all' or 'other'")
    name: str
    n: int = Field(description="placements")
    left: int = Field(description="placements that ended")
    points: list[RetentionPoint]


class RetentionPublic(BaseModel):
    by: Literal["province", "employer"]
    months: int
    series: list[RetentionSeries]


# --------------------------------------------------------------------------- training


class Course(BaseModel):
    """A course of the training catalogue (``matcher/data/training_courses.csv``)."""

    course_id: str
    name: str
    skill: str = Field(description="what the course grants, in one phrase")
    skills: list[str]
    certificates: list[str]
    languages: list[str]
    occupation_codes: list[str]
    duration_days: int = Field(ge=1)
    providers: list[str]


class CoursesPublic(BaseModel):
    data: list[Course]
    count: int


class CourseSuggestion(Course):
    """A course's effect on one worker, computed by re-scoring the worker with it."""

    extra_expected_placements: float = Field(
        description="expected stable placements among the k proposals with the course, "
        "minus without it"
    )
    expected_placements_after: float
    vacancies_unlocked: int = Field(
        ge=0, description="open vacancies eligible with the course and not without it"
    )
    unlocked_vacancy_ids: list[str] = Field(description="up to 20 of them")


class TrainingSuggestionsPublic(BaseModel):
    worker_id: str
    model_version: str
    k: int = Field(description="proposals per worker the expectation is taken over")
    stable_weeks: int | None = Field(description="horizon of a stable placement, in weeks")
    calibrated: bool = Field(
        description="scores are calibrated chances per proposal (else they only order courses)"
    )
    expected_placements: float = Field(description="without any course")
    held: list[str] = Field(description="courses whose grants the worker holds already")
    data: list[CourseSuggestion]
    count: int


class CountyCourseEffect(Course):
    """A course's estimated effect over a county's job-seekers."""

    total_extra_expected_placements: float = Field(
        description="estimated over every job-seeker of the county from the sample"
    )
    standard_error: float = Field(ge=0, description="of the total (sampling error only)")
    mean_extra_per_trainee: float
    sampled_without_course: int = Field(ge=0)
    share_gaining: float = Field(ge=0, le=1)
    workers_with_unlocked: int = Field(ge=0, description="sampled workers it unlocks any for")
    vacancies_unlocked: int = Field(ge=0, description="distinct, within the sample (at least)")


class CountyTrainingPublic(BaseModel):
    region: str
    name: str
    model_version: str
    k: int
    seekers: int = Field(description="job-seekers of the county in the store")
    in_model: int = Field(description="of them, held by the served model's catalogue")
    sampled: int = Field(description="re-scored (all of them when no more than the sample)")
    elapsed_s: float = Field(description="time the re-scoring took")
    calibrated: bool
    data: list[CountyCourseEffect]
    count: int
