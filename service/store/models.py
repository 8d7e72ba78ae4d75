"""SQLAlchemy 2 tables of the store. Migrations under ``service/store/migrations``.

The contract tables (workers, employers, vacancies, events) hold exactly the data
contract's columns (``matcher.data.schema``) plus bookkeeping columns. List fields are
JSON arrays; times are naive UTC. Personal-data columns (name, phone, id_number)
are never logged: ``Worker.__repr__`` leaves them out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Worker(Base):
    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    id_number: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    home_region: Mapped[str] = mapped_column(String(6), index=True)
    education: Mapped[str | None] = mapped_column(String(32))
    languages: Mapped[list[str] | None] = mapped_column(JSON)
    skills: Mapped[str | None] = mapped_column(Text)
    work_history: Mapped[str | None] = mapped_column(Text)
    certificates: Mapped[list[str] | None] = mapped_column(JSON)
    labor_capacity: Mapped[str | None] = mapped_column(String(16))
    mobility: Mapped[str | None] = mapped_column(String(16))
    max_commute_km: Mapped[float | None] = mapped_column(Float)
    preferred_regions: Mapped[list[str] | None] = mapped_column(JSON)
    expected_wage: Mapped[float | None] = mapped_column(Float)
    household_status: Mapped[str | None] = mapped_column(String(16))
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    household_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # bookkeeping
    # active | employed | to_replace | inactive (service.lifecycle.WorkerStatus): kept in
    # line with the recorded outcomes by service.lifecycle
    status: Mapped[str] = mapped_column(
        String(16), default="active", server_default="active", index=True
    )
    status_reason: Mapped[str | None] = mapped_column(String(32))
    status_since: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now(), index=True
    )

    def __repr__(self) -> str:  # never personal data
        return f"Worker({self.worker_id!r}, home_region={self.home_region!r})"


class Employer(Base):
    __tablename__ = "employers"

    employer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(6), index=True)
    industry: Mapped[str | None] = mapped_column(String(200))
    verified: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )


class Vacancy(Base):
    __tablename__ = "vacancies"

    vacancy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    employer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("employers.employer_id"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    occupation_code: Mapped[str | None] = mapped_column(String(16), index=True)
    region: Mapped[str] = mapped_column(String(6), index=True)
    headcount: Mapped[int] = mapped_column(Integer)
    wage_min: Mapped[float | None] = mapped_column(Float)
    wage_max: Mapped[float | None] = mapped_column(Float)
    required_skills: Mapped[list[str] | None] = mapped_column(JSON)
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str] | None] = mapped_column(JSON)
    housing: Mapped[bool | None] = mapped_column(Boolean)
    meals: Mapped[bool | None] = mapped_column(Boolean)
    labor_contract: Mapped[bool | None] = mapped_column(Boolean)
    social_insurance: Mapped[bool | None] = mapped_column(Boolean)
    channel: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str | None] = mapped_column(String(16), index=True)
    # bookkeeping: how occupation_code was obtained ("given" or "inferred") and how sure
    occupation_source: Mapped[str | None] = mapped_column(String(16))
    occupation_confidence: Mapped[float | None] = mapped_column(Float)
    # why a closed vacancy closed: "deadline" (swept when its closes_at passed),
    # "employer" (closed by hand) or "filled"; None while open
    closed_reason: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now(), index=True
    )


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("worker_id", "vacancy_id", "event", "occurred_at", name="uq_event"),
        Index("ix_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.worker_id"), index=True)
    vacancy_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("vacancies.vacancy_id"), index=True
    )
    event: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    # bookkeeping: "import" or the API key id of the officer who recorded it
    source: Mapped[str | None] = mapped_column(String(64))
    # the officer's note on the outcome (e.g. "电话回访确认已到岗")
    note: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | officer | employer
    region_prefix: Mapped[str | None] = mapped_column(String(6))
    employer_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """Every read of a worker's personal data: who, when, what and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now(), index=True)
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    purpose: Mapped[str | None] = mapped_column(String(300))
    path: Mapped[str | None] = mapped_column(String(300))


class MatchRun(Base):
    """One nightly matching run. A plan is visible only once status is 'succeeded'."""

    __tablename__ = "match_runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    model_version: Mapped[str | None] = mapped_column(String(64))
    input_hash: Mapped[str | None] = mapped_column(String(64))
    objective: Mapped[float | None] = mapped_column(Float)
    counts: Mapped[dict | None] = mapped_column(JSON)
    summary: Mapped[dict | None] = mapped_column(JSON)  # per channel, per county, per province
    params: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # host:pid:start of the process running it, and its last sign of life: a run whose
    # process is gone is marked failed (service.nightly.reap_abandoned_runs)
    owner: Mapped[str | None] = mapped_column(String(160))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)


class PlanRow(Base):
    __tablename__ = "plan_rows"
    __table_args__ = (UniqueConstraint("run_id", "worker_id", name="uq_plan_worker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("match_runs.run_id"), index=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    vacancy_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[str | None] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class MatchPin(Base):
    """An officer's decision before a run: pin (must place) or exclude (never place) a pair."""

    __tablename__ = "match_pins"
    __table_args__ = (UniqueConstraint("worker_id", "vacancy_id", name="uq_pin_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.worker_id"))
    vacancy_id: Mapped[str] = mapped_column(String(64), ForeignKey("vacancies.vacancy_id"))
    kind: Mapped[str] = mapped_column(String(8))  # pin | exclude
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class Placement(Base):
    """A job a worker was hired into (from a ``hired`` outcome) and how it ended.

    Derived from the recorded outcomes by ``service.lifecycle``: open while
    ``ended_at`` is NULL; ``end_reason`` is left | wage_arrears | injury | moved.
    """

    __tablename__ = "placements"
    __table_args__ = (
        UniqueConstraint("worker_id", "vacancy_id", "started_at", name="uq_placement"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.worker_id"), index=True)
    vacancy_id: Mapped[str] = mapped_column(String(64), ForeignKey("vacancies.vacancy_id"))
    employer_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))


class FollowUp(Base):
    """A visit due some days after a hire, and what the officer found.

    Scheduled by ``service.followups`` for every placement; ``status`` is open, done or
    cancelled (the placement ended first); "overdue" is an open one past ``due_at``.
    """

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("placement_id", "day", name="uq_follow_up"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    placement_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("placements.id", ondelete="CASCADE"), index=True
    )
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.worker_id"), index=True)
    day: Mapped[int] = mapped_column(Integer)  # days after the hire
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # "key:<id>" of the officer, or "outcomes" when the recorded outcomes answered it
    completed_by: Mapped[str | None] = mapped_column(String(64))
    still_employed: Mapped[bool | None] = mapped_column(Boolean)
    paid_on_time: Mapped[bool | None] = mapped_column(Boolean)
    contract_signed: Mapped[bool | None] = mapped_column(Boolean)
    social_insurance: Mapped[bool | None] = mapped_column(Boolean)
    left_reason: Mapped[str | None] = mapped_column(String(200))
    arrears_months: Mapped[int | None] = mapped_column(Integer)
    arrears_amount: Mapped[float | None] = mapped_column(Float)
    injury: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)


class Proposal(Base):
    """A worker an officer proposed for a vacancy, and the employer's answer.

    ``status``: proposed (waiting for the employer), interested, not_suitable (with
    ``reason``). The employer sees it under an opaque candidate reference only.
    """

    __tablename__ = "proposals"
    __table_args__ = (UniqueConstraint("worker_id", "vacancy_id", name="uq_proposal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64), ForeignKey("workers.worker_id"), index=True)
    vacancy_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("vacancies.vacancy_id"), index=True
    )
    employer_id: Mapped[str] = mapped_column(String(64), index=True)
    proposed_at: Mapped[datetime] = mapped_column(DateTime)
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """A message to an employer (e.g. a vacancy closed for want of action)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employer_id: Mapped[str] = mapped_column(String(64), index=True)
    vacancy_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class OccupationCorrection(Base):
    """An officer's correction of a CSCO code: training data for the occupation coder.

    ``subject`` is ``vacancy`` (the vacancy's title was coded ``previous_code``; the
    vacancy now carries ``code``) or ``worker`` (a line of the worker's skills or work
    history names occupation ``code``). ``jobmatch occupation train`` learns (text, code).
    """

    __tablename__ = "occupation_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(16))
    previous_code: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now(), index=True)


class ServingModel(Base):
    """The model version every server process should serve (one row, id 1): set when an
    admin reloads the model or a model is promoted; each process follows it."""

    __tablename__ = "serving_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(160))


class ServingProcess(Base):
    """A server process (``host:pid:start``) and the model version it serves."""

    __tablename__ = "serving_processes"

    process: Mapped[str] = mapped_column(String(160), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(64))
    loaded_at: Mapped[datetime | None] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)
