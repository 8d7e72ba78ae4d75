"""The service layer: what each API route and web page does, in domain terms.

Routes stay thin: they parse the request and call one function here. This is the only
place where domain errors become HTTP errors (404 unknown id, 403 outside scope, 409
duplicate, 422 contract violation, 503 no model). Reads of workers' personal data
are written to the audit log here, in the same transaction as the read.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_, select
from sqlalchemy.orm import Session

from matcher.data import reference
from matcher.data.schema import CONTRACT, OFFICER_OUTCOMES, PERSONAL_FIELDS
from matcher.models.explain import for_employer
from matcher.protocols import CatalogueModel, HouseholdRuleModel
from service import answers, audit, clock, employer_risk, followups, lifecycle, proposals
from service.answers import Ranked
from service.auth import Principal, Role
from service.domain_errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    ServingFailure,
    Unavailable,
    field_error,
    not_found,
)
from service.model_holder import (
    LoadedModel,
    ModelHolder,
    RecommendationBatcher,
    VacancyChanges,
)
from service.schemas import (
    EmployerCreate,
    OutcomeCreate,
    VacancyCreate,
    VacancyUpdate,
    WorkerCreate,
    WorkerUpdate,
)
from service.serving_cache import (
    VACANCY_STAMP,
    ServingCache,
    open_now,
    row_stamp,
    vacancy_cards,
)
from service.store.models import Employer, Event, Vacancy, Worker

log = logging.getLogger(__name__)

MAX_PAGE = 500
MAX_K = 200

# --------------------------------------------------------------------------- errors


def forbidden(message: str) -> Forbidden:
    return Forbidden(message)


def unprocessable(errors: list[dict]) -> Invalid:
    return Invalid(errors)


def contract_error_detail(exc: Exception) -> list[dict]:
    """Field-level problems of a ``matcher.data.contract.ContractError`` in FastAPI's 422 shape.

    Values of personal fields are never echoed.
    """
    problems = None
    for attr in ("problems", "errors", "issues"):
        value = getattr(exc, attr, None)
        if value:
            problems = value
            break
    if not problems:
        return [{"loc": ["body"], "msg": str(exc), "type": "contract"}]
    out = []
    for p in problems if isinstance(problems, list | tuple) else [problems]:
        if isinstance(p, dict):
            get = p.get
        else:

            def get(name: str, default: Any = None, _p: Any = p) -> Any:
                return getattr(_p, name, default)

        field = get("field") or get("column") or get("name")
        message = get("message") or get("msg") or get("rule") or str(p)
        rule = get("rule")
        if rule and rule not in message:
            message = f"{message} ({rule})"
        item: dict[str, Any] = {
            "loc": ["body", field] if field else ["body"],
            "msg": str(message),
            "type": "contract",
        }
        value = get("value")
        if field not in PERSONAL_FIELDS and value is not None:
            item["input"] = value
        out.append(item)
    return out


def _contract_check(table: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` checked against the data contract and in normal form; 422 otherwise."""
    from matcher.data import contract

    try:
        return contract.validate_record(table, record)
    except contract.ContractError as exc:
        raise unprocessable(contract_error_detail(exc)) from None


def vacancy_problems(record: dict[str, Any]) -> list[dict]:
    """Every contract problem of a vacancy record, without writing anything (a form shows
    them together with its own problems). Empty when the record is fine."""
    columns = CONTRACT["vacancies"].columns
    try:
        _check_occupation_code(
            _contract_check("vacancies", {k: v for k, v in record.items() if k in columns})
        )
    except DomainError as exc:
        return list(exc.detail) if isinstance(exc.detail, list) else [{"msg": str(exc.detail)}]
    return []


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """Body values as stored: enums as their text, times naive UTC."""
    out = {}
    for k, v in record.items():
        if isinstance(v, datetime):
            v = _naive_utc(v)
        elif hasattr(v, "value") and isinstance(v.value, str):
            v = v.value
        out[k] = v
    return out


def region_label(code: str | None) -> str | None:
    return reference.region_name(code) if code else None


# --------------------------------------------------------------------------- workers


def _scoped_worker(session: Session, principal: Principal, worker_id: str) -> Worker:
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise not_found("worker", worker_id)
    _check_worker_region(principal, worker_id, worker.home_region)
    return worker


#: Built once: constructing a statement costs more than running this one (SQLAlchemy's
#: coercions and cache key; about a third of the query's CPU, measured).
_WORKER_SCOPE = select(Worker.home_region, Worker.status).where(
    Worker.worker_id == bindparam("worker_id")
)


def check_worker_scope(session: Session, principal: Principal, worker_id: str) -> str:
    """404 / 403 as :func:`_scoped_worker`, reading only the worker's home region and
    status (no personal field is loaded; the recommendation route calls this on every
    request). Returns the worker's status."""
    row = session.execute(_WORKER_SCOPE, {"worker_id": worker_id}).first()
    if row is None:
        raise not_found("worker", worker_id)
    _check_worker_region(principal, worker_id, row[0])
    return str(row[1])


def _check_worker_region(principal: Principal, worker_id: str, home_region: str | None) -> None:
    if not principal.sees_region(home_region):
        raise forbidden(
            f"worker {worker_id} lives outside your region {principal.region_prefix}; "
            "ask the officer of that region or an admin"
        )


def _check_in_scope(principal: Principal, home_region: str | None) -> None:
    if home_region and not principal.sees_region(home_region):
        raise Forbidden(
            f"home_region {home_region} is outside your region {principal.region_prefix}"
        )


def worker_view(worker: Worker, session: Session | None = None) -> dict[str, Any]:
    """A worker as officers see it; with ``session`` also their job or re-placement flag."""
    data = {c: getattr(worker, c) for c in CONTRACT["workers"].columns}
    data["home_region_name"] = region_label(worker.home_region)
    data["status"] = worker.status
    data["updated_at"] = worker.updated_at
    data.update(lifecycle_view(session, worker) if session is not None else {})
    return data


def lifecycle_view(session: Session, worker: Worker) -> dict[str, Any]:
    """Where the worker stands: job-seeking, employed (where, since when) or to re-place (why)."""
    needs = worker.status == lifecycle.WorkerStatus.NEEDS_REPLACEMENT
    out: dict[str, Any] = {
        "status_since": worker.status_since,
        "needs_replacement": needs,
        "replacement_reason": worker.status_reason if needs else None,
        "placement": None,
    }
    placement = lifecycle.last_placement(session, worker.worker_id)
    if placement is not None and (placement.ended_at is None or needs):
        employer = session.get(Employer, placement.employer_id)
        title = session.scalar(
            select(Vacancy.title).where(Vacancy.vacancy_id == placement.vacancy_id)
        )
        out["placement"] = {
            "placement_id": placement.id,
            "vacancy_id": placement.vacancy_id,
            "vacancy_title": title,
            "employer_id": placement.employer_id,
            "employer_name": employer.name if employer else None,
            "started_at": placement.started_at,
            "ended_at": placement.ended_at,
            "end_reason": placement.end_reason,
        }
    return out


def create_worker(
    session: Session, principal: Principal, body: WorkerCreate, *, path: str
) -> dict[str, Any]:
    record = _plain(body.model_dump())
    _check_in_scope(principal, record["home_region"])
    record = _contract_check("workers", record)
    if session.get(Worker, record["worker_id"]) is not None:
        raise Conflict(
            f"worker {record['worker_id']} exists already; use PATCH /api/v1/workers/"
            f"{record['worker_id']} to change it",
        )
    worker = Worker(**record)
    session.add(worker)
    session.flush()
    audit.record(session, principal, "create_worker", [worker.worker_id], "registration", path)
    return worker_view(worker, session)


def update_worker(
    session: Session, principal: Principal, worker_id: str, body: WorkerUpdate, *, path: str
) -> dict[str, Any]:
    worker = _scoped_worker(session, principal, worker_id)
    changes = _plain(body.model_dump(exclude_unset=True))
    if "home_region" in changes:
        if changes["home_region"] is None:
            raise unprocessable([field_error("home_region", "home_region is required")])
        _check_in_scope(principal, changes["home_region"])
    new_status = changes.pop("status", None)
    if new_status and new_status not in lifecycle.SETTABLE_STATUSES:
        raise unprocessable(
            [
                field_error(
                    "status",
                    f"status {new_status!r} cannot be set by hand: employed and "
                    "to_replace follow from the outcomes recorded (hired, left, "
                    f"wage_arrears, injury); set one of {', '.join(lifecycle.SETTABLE_STATUSES)}",
                )
            ]
        )
    merged = {c: getattr(worker, c) for c in CONTRACT["workers"].columns}
    merged.update(changes)
    clean = _contract_check("workers", merged)
    for key in changes:
        setattr(worker, key, clean[key])
    if new_status and new_status != worker.status:
        worker.status = new_status
        worker.status_reason = None
        worker.status_since = clock.now_utc()
        if new_status == lifecycle.WorkerStatus.ACTIVE:
            lifecycle.rebuild(session, [worker_id])  # back from inactive: as the outcomes say
    session.flush()
    audit.record(session, principal, "update_worker", [worker_id], "registration", path)
    return worker_view(worker, session)


def get_worker(
    session: Session, principal: Principal, worker_id: str, *, purpose: str | None, path: str
) -> dict[str, Any]:
    worker = _scoped_worker(session, principal, worker_id)
    audit.record(session, principal, "read_worker", [worker_id], purpose or "case work", path)
    return worker_view(worker, session)


#: The status filter value that selects every job-seeker (active or to re-place).
SEEKING = "seeking"


@dataclass(frozen=True)
class WorkerFilter:
    region: str | None = None
    status: str | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0


def _worker_conditions(principal: Principal, flt: WorkerFilter) -> list:
    conditions = []
    if principal.role == Role.OFFICER:
        assert principal.region_prefix
        if flt.region and not (
            flt.region.startswith(principal.region_prefix)
            or principal.region_prefix.startswith(flt.region)
        ):
            raise forbidden(f"region {flt.region} is outside your region {principal.region_prefix}")
        conditions.append(Worker.home_region.startswith(principal.region_prefix))
    if flt.region:
        conditions.append(Worker.home_region.startswith(flt.region))
    if flt.status == SEEKING:
        conditions.append(lifecycle.seeking_condition())
    elif flt.status:
        conditions.append(Worker.status == flt.status)
    if flt.q:
        text = flt.q.strip()
        pattern = f"%{text}%"
        conditions.append(
            or_(
                Worker.skills.ilike(pattern),
                Worker.work_history.ilike(pattern),
                Worker.worker_id == text,
                # officers find people by name, phone or id number (the read is audited)
                Worker.name.ilike(pattern),
                Worker.phone == text,
                Worker.id_number == text.upper(),
            )
        )
    return conditions


def list_workers(
    session: Session,
    principal: Principal,
    flt: WorkerFilter,
    *,
    purpose: str | None,
    path: str,
) -> tuple[list[dict[str, Any]], int]:
    conditions = _worker_conditions(principal, flt)
    count = session.scalar(select(func.count()).select_from(Worker).where(*conditions)) or 0
    limit = max(1, min(flt.limit, MAX_PAGE))
    rows = session.scalars(
        select(Worker)
        .where(*conditions)
        .order_by(Worker.worker_id)
        .limit(limit)
        .offset(max(flt.offset, 0))
    ).all()
    audit.record(
        session,
        principal,
        "list_workers",
        [w.worker_id for w in rows],
        purpose or "worker search",
        path,
    )
    return [worker_view(w) for w in rows], int(count)


def workers_by_county(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Workers per home county inside the principal's scope (no personal data): all of
    them (``count``), the job-seekers (``seeking``: active or to re-place, the nightly
    plan's pool), those employed and those to re-place."""
    stmt = select(Worker.home_region, Worker.status, func.count()).group_by(
        Worker.home_region, Worker.status
    )
    if principal.role == Role.OFFICER:
        stmt = stmt.where(Worker.home_region.startswith(principal.region_prefix or ""))
    counts: dict[str, dict[str, int]] = {}
    for region, st, n in session.execute(stmt.order_by(Worker.home_region)).all():
        if region:
            counts.setdefault(region, {})[st] = int(n)
    out = []
    for region, by_status in counts.items():
        out.append(
            {
                "region": region,
                "name": region_label(region) or region,
                "count": sum(by_status.values()),
                "seeking": sum(by_status.get(s, 0) for s in lifecycle.SEEKING_STATUSES),
                "employed": by_status.get(lifecycle.WorkerStatus.EMPLOYED, 0),
                "needs_replacement": by_status.get(lifecycle.WorkerStatus.NEEDS_REPLACEMENT, 0),
            }
        )
    return out


# --------------------------------------------------------------------------- employers


def create_employer(session: Session, body: EmployerCreate) -> Employer:
    record = _contract_check("employers", _plain(body.model_dump()))
    if session.get(Employer, record["employer_id"]) is not None:
        raise Conflict(f"employer {record['employer_id']} exists already")
    employer = Employer(**record)
    session.add(employer)
    session.flush()
    return employer


def get_employer(session: Session, principal: Principal, employer_id: str) -> Employer:
    if principal.role == Role.EMPLOYER and principal.employer_id != employer_id:
        raise forbidden(f"your key belongs to employer {principal.employer_id}")
    employer = session.get(Employer, employer_id)
    if employer is None:
        raise not_found("employer", employer_id)
    return employer


def list_employers(
    session: Session, region: str | None, limit: int, offset: int
) -> tuple[list[Employer], int]:
    conditions = [Employer.region.startswith(region)] if region else []
    count = session.scalar(select(func.count()).select_from(Employer).where(*conditions)) or 0
    rows = session.scalars(
        select(Employer)
        .where(*conditions)
        .order_by(Employer.employer_id)
        .limit(max(1, min(limit, MAX_PAGE)))
        .offset(max(offset, 0))
    ).all()
    return list(rows), int(count)


# --------------------------------------------------------------------------- vacancies


def vacancy_view(v: Vacancy) -> dict[str, Any]:
    data = {c: getattr(v, c) for c in CONTRACT["vacancies"].columns}
    data["region_name"] = region_label(v.region)
    data["occupation_name"] = _occupation_name(v.occupation_code)
    data["occupation_source"] = v.occupation_source
    data["occupation_confidence"] = v.occupation_confidence
    data["closed_reason"] = v.closed_reason
    data["updated_at"] = v.updated_at
    return data


def _occupation_name(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return reference.occupation(code).name
    except KeyError:
        return None


def occupation_normaliser() -> Any:
    """The project's occupation coder (the learned classifier), loaded once per process."""
    from service.occupation_coder import occupation_coder

    return occupation_coder()


def classify_occupation(text: str) -> dict[str, Any]:
    """One title's code as people see it (the suggestion coder,
    :func:`service.occupation_coder.suggestion_coder`)."""
    from matcher.occupations.classifier import LEVEL_NAMES
    from service.occupation_coder import suggestion_coder

    match = suggestion_coder().classify(text)
    return {
        "text": text,
        "code": match.code,
        "name": match.name,
        "confidence": float(match.confidence),
        "level": match.level,
        "level_name": LEVEL_NAMES[match.level],
    }


def _fill_occupation(record: dict[str, Any]) -> None:
    """Fill a blank occupation code from the title (and say how it was obtained)."""
    if record.get("occupation_code"):
        record["occupation_source"] = "given"
        record["occupation_confidence"] = None
        return
    from matcher.occupations.classifier import clean_title

    title = record.get("title") or ""
    if clean_title(title):
        match = occupation_normaliser().classify(title)
        record["occupation_code"] = match.code
        record["occupation_source"] = "inferred"
        record["occupation_confidence"] = float(match.confidence)
    else:  # the title holds no words that could name an occupation
        record["occupation_source"] = None
        record["occupation_confidence"] = None


def _owned_vacancy(session: Session, principal: Principal, vacancy_id: str) -> Vacancy:
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise not_found("vacancy", vacancy_id)
    if principal.role == Role.EMPLOYER and vacancy.employer_id != principal.employer_id:
        raise forbidden(f"vacancy {vacancy_id} belongs to another employer")
    return vacancy


def _check_occupation_code(record: dict[str, Any]) -> None:
    code = record.get("occupation_code")
    if code and not reference.is_csco_code(code):
        raise unprocessable(
            [
                field_error(
                    "occupation_code",
                    f"{code!r} is not a CSCO 2022 occupation code (e.g. 6-29-01-01); "
                    "leave it blank to infer it from the title",
                )
            ]
        )


def create_vacancy(session: Session, principal: Principal, body: VacancyCreate) -> dict[str, Any]:
    record = _plain(body.model_dump())
    if principal.role == Role.EMPLOYER:
        if record.get("employer_id") in (None, ""):
            record["employer_id"] = principal.employer_id
        elif record["employer_id"] != principal.employer_id:
            raise forbidden(
                f"your key posts vacancies for employer {principal.employer_id}, "
                f"not {record['employer_id']}"
            )
    if not record.get("employer_id"):
        raise unprocessable([field_error("employer_id", "employer_id is required")])
    record.setdefault("status", None)
    record["status"] = record["status"] or "open"
    record["posted_at"] = record.get("posted_at") or clock.now_utc()
    record = _contract_check("vacancies", record)
    _check_occupation_code(record)
    if session.get(Employer, record["employer_id"]) is None:
        raise unprocessable(
            [field_error("employer_id", f"unknown employer {record['employer_id']!r}")]
        )
    if session.get(Vacancy, record["vacancy_id"]) is not None:
        raise Conflict(f"vacancy {record['vacancy_id']} exists already; use PATCH to change it")
    _fill_occupation(record)
    vacancy = Vacancy(**record)
    session.add(vacancy)
    session.flush()
    return vacancy_view(vacancy)


def update_vacancy(
    session: Session, principal: Principal, vacancy_id: str, body: VacancyUpdate
) -> dict[str, Any]:
    vacancy = _owned_vacancy(session, principal, vacancy_id)
    changes = _plain(body.model_dump(exclude_unset=True))
    for required in ("title", "region", "headcount"):
        if required in changes and changes[required] is None:
            raise unprocessable([field_error(required, f"{required} is required")])
    merged = {c: getattr(vacancy, c) for c in CONTRACT["vacancies"].columns}
    merged.update(changes)
    merged = _contract_check("vacancies", merged)
    changes = {key: merged[key] for key in changes}
    _check_occupation_code(merged)
    refill = "occupation_code" in changes or (
        "title" in changes and vacancy.occupation_source != "given"
    )
    if refill:
        if "occupation_code" not in changes:
            merged["occupation_code"] = None
        _fill_occupation(merged)
        for key in ("occupation_code", "occupation_source", "occupation_confidence"):
            changes[key] = merged[key]
    for key, value in changes.items():
        setattr(vacancy, key, value)
    if (
        vacancy.closed_reason == "deadline"
        and "closes_at" in changes
        and (vacancy.closes_at is None or vacancy.closes_at > clock.now_utc())
    ):
        # a new deadline ahead reopens a vacancy that only closed because the old one passed
        vacancy.status = "open"
        vacancy.closed_reason = None
    session.flush()
    return vacancy_view(vacancy)


def close_vacancy(session: Session, principal: Principal, vacancy_id: str) -> dict[str, Any]:
    vacancy = _owned_vacancy(session, principal, vacancy_id)
    if vacancy.status != "closed":
        vacancy.status = "closed"
        vacancy.closed_reason = "employer"
    vacancy.closes_at = vacancy.closes_at or clock.now_utc()
    session.flush()
    return vacancy_view(vacancy)


def new_vacancy_id(session: Session, employer_id: str, on: date | None = None) -> str:
    """A fresh vacancy id for a posting made on a page: ``<employer>-<yyyymmdd>-<n>``."""
    stem = f"{employer_id or 'V'}-{(on or date.today()).strftime('%Y%m%d')}-"
    taken = set(
        session.scalars(select(Vacancy.vacancy_id).where(Vacancy.vacancy_id.startswith(stem)))
    )
    n = len(taken) + 1
    while f"{stem}{n:02d}" in taken:
        n += 1
    return f"{stem}{n:02d}"


def close_past_deadline(session: Session, now: datetime | None = None) -> int:
    """Close every open vacancy whose deadline has passed, saying why (``closed_reason``
    ``deadline``), so it shows as 已截止 instead of silently dropping out of the matches.
    Returns how many were closed; idempotent and cheap (one indexed UPDATE)."""
    from sqlalchemy import update

    at = now or clock.now_utc()
    result = session.execute(
        update(Vacancy)
        .where(
            or_(Vacancy.status == "open", Vacancy.status.is_(None)),
            Vacancy.closes_at.is_not(None),
            Vacancy.closes_at <= at,
        )
        .values(status="closed", closed_reason="deadline")
        .execution_options(synchronize_session="fetch")
    )
    n = int(getattr(result, "rowcount", 0) or 0)
    if n:
        log.info("closed %d vacancies past their deadline", n)
    return n


def get_vacancy(session: Session, principal: Principal, vacancy_id: str) -> dict[str, Any]:
    close_past_deadline(session)
    proposals.close_idle(session)  # 30 days without action: closed, employer notified
    return vacancy_view(_owned_vacancy(session, principal, vacancy_id))


@dataclass(frozen=True)
class VacancyFilter:
    employer_id: str | None = None
    region: str | None = None
    status: str | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0


def list_vacancies(
    session: Session, principal: Principal, flt: VacancyFilter
) -> tuple[list[dict[str, Any]], int]:
    close_past_deadline(session)
    proposals.close_idle(session)  # 30 days without action: closed, employer notified
    conditions = []
    employer_id = flt.employer_id
    if principal.role == Role.EMPLOYER:
        if employer_id and employer_id != principal.employer_id:
            raise forbidden(f"your key belongs to employer {principal.employer_id}")
        employer_id = principal.employer_id
    if employer_id:
        conditions.append(Vacancy.employer_id == employer_id)
    if flt.region:
        conditions.append(Vacancy.region.startswith(flt.region))
    if flt.status:
        conditions.append(Vacancy.status == flt.status)
    if flt.q:
        pattern = f"%{flt.q.strip()}%"
        conditions.append(or_(Vacancy.title.ilike(pattern), Vacancy.description.ilike(pattern)))
    count = session.scalar(select(func.count()).select_from(Vacancy).where(*conditions)) or 0
    rows = session.scalars(
        select(Vacancy)
        .where(*conditions)
        .order_by(Vacancy.posted_at.desc(), Vacancy.vacancy_id)
        .limit(max(1, min(flt.limit, MAX_PAGE)))
        .offset(max(flt.offset, 0))
    ).all()
    return [vacancy_view(v) for v in rows], int(count)


# --------------------------------------------------------------------------- outcomes


def record_outcome(
    session: Session,
    principal: Principal,
    body: OutcomeCreate,
    followup_days: Sequence[int] = followups.DEFAULT_DAYS,
) -> Event:
    if body.event not in OFFICER_OUTCOMES:
        allowed = ", ".join(e.value for e in OFFICER_OUTCOMES)
        raise unprocessable(
            [field_error("event", f"officers record one of {allowed}; got {body.event.value}")]
        )
    _scoped_worker(session, principal, body.worker_id)
    if session.get(Vacancy, body.vacancy_id) is None:
        raise unprocessable([field_error("vacancy_id", f"unknown vacancy {body.vacancy_id!r}")])
    occurred = _naive_utc(body.occurred_at) or clock.now_utc()
    if (
        occurred > clock.now_utc().replace(microsecond=0)
        and (occurred - clock.now_utc()).total_seconds() > 300
    ):
        raise unprocessable([field_error("occurred_at", "an outcome cannot be in the future")])
    existing = session.scalar(
        select(Event).where(
            Event.worker_id == body.worker_id,
            Event.vacancy_id == body.vacancy_id,
            Event.event == body.event.value,
            Event.occurred_at == occurred,
        )
    )
    if existing is not None:
        return existing
    event = Event(
        worker_id=body.worker_id,
        vacancy_id=body.vacancy_id,
        event=body.event.value,
        occurred_at=occurred,
        source=f"key:{principal.key_id}",
        note=(body.note or "").strip() or None,
    )
    session.add(event)
    session.flush()
    if body.event.value in lifecycle.LIFECYCLE_EVENTS:
        # the worker's status and placements follow the outcome (re-played in time order,
        # so an outcome recorded late lands where it belongs)
        lifecycle.rebuild(session, [body.worker_id])
        followups.schedule(session, [body.worker_id], followup_days)
    return event


def list_outcomes(
    session: Session, principal: Principal, worker_id: str, *, limit: int = 100
) -> tuple[list[Event], int]:
    _scoped_worker(session, principal, worker_id)
    conditions = [Event.worker_id == worker_id]
    count = session.scalar(select(func.count()).select_from(Event).where(*conditions)) or 0
    rows = session.scalars(
        select(Event)
        .where(*conditions)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(max(1, min(limit, MAX_PAGE)))
    ).all()
    return list(rows), int(count)


# --------------------------------------------------------------------------- matching


def age_band(birth_year: int | None, today: date | None = None) -> str | None:
    """A ten-year band (``30-39``) instead of the exact age or birth date."""
    if birth_year is None:
        return None
    age = (today or date.today()).year - int(birth_year)
    if age < 0 or age > 120:
        return None
    low = (age // 10) * 10
    if low < 20:
        return "16-19" if age >= 16 else f"<{16}"
    return f"{low}-{low + 9}"


def candidate_ref(vacancy_id: str, worker_id: str) -> str:
    """An opaque per-vacancy reference the employer can quote to the placement office."""
    digest = hashlib.sha256(f"jobmatch-candidate|{vacancy_id}|{worker_id}".encode()).hexdigest()
    return "C-" + digest[:10].upper()


def resolve_candidate_ref(session: Session, vacancy_id: str, ref: str) -> str | None:
    """The worker behind a candidate reference (for officers), or None."""
    ref = ref.strip().upper()
    for worker_id in session.scalars(select(Worker.worker_id)):
        if candidate_ref(vacancy_id, worker_id) == ref:
            return worker_id
    return None


def model_or_503(holder: ModelHolder) -> LoadedModel:
    loaded = holder.current()
    if loaded is None:
        raise Unavailable(
            holder.reason or "no model loaded",
            headers={"Retry-After": "60", "X-Model-Version": "none"},
        )
    return loaded


#: The workers' row count and latest change (two index look-ups).
_WORKER_STAMP = row_stamp(Worker)


class CatalogueSync:
    """Keeps the serving model aware of records added or changed in the store.

    The store's *stamp* (row counts and latest update times of workers and vacancies) is
    read at most every ``every`` seconds; when it changed, the model is brought up to
    date in a background thread (requests keep being served meanwhile): when only
    vacancies changed, the rows written since are read and taken into the catalogue
    incrementally (:meth:`vacancy_changes`); otherwise the model is refreshed with a
    new snapshot. A
    request for a worker or vacancy the model does not know yet waits for a refresh
    instead, so records created after training are served at once (cold, from content).
    """

    def __init__(self, engine: Engine, holder: ModelHolder, every: float = 5.0) -> None:
        self.engine = engine
        self.holder = holder
        self.every = every
        self._next = 0.0
        self._thread: threading.Thread | None = None

    def stamp(self) -> tuple:
        with Session(self.engine) as session:
            w = session.execute(_WORKER_STAMP).one()
            v = session.execute(VACANCY_STAMP).one()
        return (int(w[0]), w[1], int(v[0]), v[1])

    def snapshot(self) -> Any:
        from service.store.repository import load_dataset

        return load_dataset(self.engine)

    def vacancy_changes(self, since: tuple, stamp: tuple) -> VacancyChanges | None:
        """The vacancy rows written since the store was at ``since`` (a :meth:`stamp`),
        when only vacancies changed between ``since`` and ``stamp`` (the workers' count
        and latest update are the same, no vacancy was deleted); else None (a full
        refresh is needed)."""
        from service.store.repository import load_vacancy_changes

        n_w, w_upd, n_v, v_upd = since
        if (n_w, w_upd) != tuple(stamp[:2]) or stamp[2] < n_v or v_upd is None:
            return None
        vacancies, employers = load_vacancy_changes(self.engine, v_upd)
        return VacancyChanges(vacancies, employers)

    def sync(self, stamp: tuple) -> LoadedModel | None:
        """Bring the serving model to the store at ``stamp``: vacancy changes alone
        into its catalogue when that is all that changed, else a full refresh."""
        return self.holder.sync_catalogue(
            stamp, self.snapshot, lambda since: self.vacancy_changes(since, stamp)
        )

    def now(self, loaded: LoadedModel) -> LoadedModel:
        """Refresh synchronously (the request needs a record the model lacks)."""
        try:
            return self.sync(self.stamp()) or loaded
        except Exception:  # noqa: BLE001 - serve what we have, say so in the log
            log.exception("refreshing the model's catalogue failed")
            return loaded

    def tick(self) -> None:
        """Start a background refresh when the store changed (cheap, throttled)."""
        if self.every <= 0 or self.holder.peek() is None:
            return
        now = time.monotonic()
        if now < self._next or (self._thread is not None and self._thread.is_alive()):
            return
        self._next = now + self.every
        self._thread = threading.Thread(target=self._refresh, name="catalogue-sync", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        loaded = self.holder.peek()
        if loaded is None:
            return
        try:
            stamp = self.stamp()
            if loaded.catalogue_stamp is None and catalogue_is_current(loaded.model, stamp):
                # the model's own catalogue is this store's current content
                self.holder.adopt_stamp(loaded, stamp)
                return
            self.sync(stamp)
        except Exception:  # noqa: BLE001 - background work must not die loudly per tick
            log.exception("background catalogue refresh failed")


def catalogue_is_current(model: Any, stamp: tuple) -> bool:
    """True when the model's catalogue has the store's row counts and is newer than
    every row (so a refresh would change nothing)."""
    if not isinstance(model, CatalogueModel) or model.trained_at_ is None:
        return False
    try:
        n_workers, w_updated, n_vacancies, v_updated = stamp
        if model.catalogue_size() != (n_workers, n_vacancies):
            return False
        at = datetime.fromisoformat(str(model.trained_at_))
        at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
        return all(u is None or u <= at for u in (w_updated, v_updated))
    except (TypeError, ValueError):  # a stamp or time the store wrote differently
        return False


def catalogue_knows(model: Any, kind: str, ident: str) -> bool | None:
    """Whether the model's catalogue holds the worker or vacancy id (None when the model
    cannot tell, or ``kind`` names neither)."""
    if not isinstance(model, CatalogueModel) or kind not in ("worker", "vacancy"):
        return None
    return model.knows_worker(ident) if kind == "worker" else model.knows_vacancy(ident)


def household_holds_public_post(model: Any, worker_id: str) -> bool | None:
    """Whether the serving ``model``'s catalogue says a member of the worker's household
    holds a public-welfare post, so its lists propose the worker no other
    (:mod:`matcher.eligibility.households`); None when the model does not apply that
    rule (a baseline, a catalogue built before it) or does not hold the worker.

    Read from the catalogue that ranked the list rather than from the store: it costs
    no query (a binary search), and it always agrees with the list it is shown with
    (both the live and the precomputed answers are ranked against that catalogue). A
    hire or leave recorded since reaches it with the catalogue's next refresh (the
    worker's status changes, which :class:`CatalogueSync` follows)."""
    if not isinstance(model, HouseholdRuleModel):
        return None
    try:
        return model.household_holds_public_post(worker_id)
    except KeyError:
        return None


def run_model(
    loaded: LoadedModel,
    sync: CatalogueSync | None,
    kind: str,
    ident: str,
    call: Callable[[LoadedModel], Any],
) -> tuple[LoadedModel, Any]:
    """``call(loaded)`` with the catalogue brought up to date first when it does not
    hold the worker or vacancy ``ident`` (``kind``), and once more when the call raises
    ``KeyError``; any other failure of the model becomes :class:`ServingFailure` (the
    log gets its type and traceback, never record values). Returns the model used and
    the call's answer."""
    if sync is not None:
        if catalogue_knows(loaded.model, kind, ident) is False:
            loaded = sync.now(loaded)
        else:
            sync.tick()
    try:
        try:
            return loaded, call(loaded)
        except KeyError:
            if sync is None:
                raise
            loaded = sync.now(loaded)
            return loaded, call(loaded)
    except (KeyError, DomainError):
        raise
    except Exception as exc:
        # the exception's message may quote record values (personal data): the log gets
        # its type and where it was raised, the client its type only
        log.error(
            "model %s failed on %s %s: %s\n%s",
            loaded.version,
            kind,
            ident,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        raise ServingFailure(
            f"the serving model {loaded.version} failed ({type(exc).__name__}); its "
            "artifact may not match this jobmatch version: retrain with `jobmatch train` "
            "or roll back with `jobmatch models rollback`",
            headers={"X-Model-Version": loaded.version},
        ) from None


#: How the route gets the live engine's answer for (model, worker, k): directly, or
#: through the process's micro-batcher (:func:`batched`).
RecommendCall = Callable[[LoadedModel, str, int], Ranked]


def _direct(loaded: LoadedModel, worker_id: str, k: int) -> Ranked:
    return answers.ranked(loaded.model.recommend(worker_id, k), loaded.model)


def batched(batcher: RecommendationBatcher) -> RecommendCall:
    """Route recommendation calls through ``batcher`` (same answers, shared cost)."""
    return batcher.recommend_ranked


def recommendations(
    session: Session,
    principal: Principal,
    holder: ModelHolder,
    sync: CatalogueSync | None,
    worker_id: str,
    k: int,
    batcher: RecommendCall | None = None,
    risk_threshold: int = employer_risk.DEFAULT_THRESHOLD,
    cache: ServingCache | None = None,
) -> dict[str, Any]:
    """The ``k`` best open vacancies for a worker in ``principal``'s scope, with the
    fields a person reads. ``cache`` (the process's :class:`ServingCache`) spares the
    store the vacancies' fields and the employers' risk warnings; without it they are
    read from the store. Either way a vacancy the store says no longer takes anyone
    (closed, filled, past its deadline) is left out, even while the model's catalogue
    still lists it."""
    worker_status = check_worker_scope(session, principal, worker_id)
    loaded = model_or_503(holder)
    k = max(1, min(k, MAX_K))
    wanted = k
    # a worker to re-place: the employer just left is excluded or ranked last (asking
    # for more so that k remain)
    previous = lifecycle.previous_employer(session, worker_id, worker_status)
    if previous is not None:
        k = min(MAX_K, 2 * k + 10)
    recommend = batcher if batcher is not None else _direct
    source = "live"
    reused = False
    memo = cache.answers if cache is not None else None

    def answer(lm: LoadedModel) -> Ranked:
        nonlocal source, reused
        # the precomputed lists when they can answer (a few pairs re-ranked; the same
        # lists give the same answer, kept in ``answers``), else the live engine (every
        # open vacancy scored)
        if lm.lists is not None:
            kept = memo.get(lm.lists, worker_id, k) if memo is not None else None
            if kept is not None:
                source, reused = "precomputed", True
                return kept
            frame = lm.lists.answer(worker_id, k)
            if frame is not None:
                source = "precomputed"
                ranked = answers.ranked(frame, lm.model)
                if memo is not None:
                    memo.put(lm.lists, worker_id, k, ranked)
                return ranked
        source = "live"
        return recommend(lm, worker_id, k)

    # give the store connection back while the engine works (milliseconds of CPU each):
    # held through it, 50 concurrent requests drained a process's pool and waited out its
    # timeout (bench/serve_bench.py, saturated phase); the next read takes one again
    session.commit()
    try:
        loaded, ranked = run_model(loaded, sync, "worker", worker_id, answer)
    except KeyError as exc:
        raise Conflict(
            f"the model cannot serve worker {worker_id} yet: {exc}",
            headers={"X-Model-Version": loaded.version},
        ) from None
    ids = ranked.vacancy_ids
    n = len(ids)
    cards = cache.cards(session, ids) if cache is not None else vacancy_cards(session, ids)
    items = []
    now = clock.now_utc()
    for i, vacancy_id in enumerate(ids):
        v = cards.get(vacancy_id)
        if v is not None and not open_now(v, now):
            continue  # closed since the model's catalogue was built
        items.append(
            {
                "rank": ranked.ranks[i],
                "vacancy_id": vacancy_id,
                "score": ranked.scores[i],
                "stable_chance": ranked.chances[i],
                "reasons": list(ranked.reasons[i]),
                "warnings": list(ranked.warnings[i]),
                "title": v.title if v else None,
                "employer_id": v.employer_id if v else None,
                "region": v.region if v else None,
                "region_name": region_label(v.region) if v else None,
                "occupation_code": v.occupation_code if v else None,
                "wage_min": v.wage_min if v else None,
                "wage_max": v.wage_max if v else None,
                "channel": v.channel if v else None,
            }
        )
    if len(items) < n:  # some closed: the ranks of the others close up
        for rank, item in enumerate(items, start=1):
            item["rank"] = rank
    employers = [str(x["employer_id"]) for x in items if x["employer_id"]]
    if cache is not None:
        risky = cache.risk_warnings(session, employers, threshold=risk_threshold)
    else:
        risky = employer_risk.warnings_for(session, employers, threshold=risk_threshold)
    for item in items:
        if item["employer_id"] in risky:
            item["warnings"] = [*answers.as_list(item["warnings"]), risky[str(item["employer_id"])]]
    note = None
    if previous is not None:
        items = lifecycle.apply_previous_employer(items, previous, wanted)
        note = {
            "employer_id": previous.employer_id,
            "employer_name": session.scalar(
                select(Employer.name).where(Employer.employer_id == previous.employer_id)
            ),
            "vacancy_id": previous.vacancy_id,
            "reason": previous.reason,
            "ended_at": previous.ended_at,
            "action": previous.action,
            "message": previous.message,
        }
    return {
        "worker_id": worker_id,
        "model_version": loaded.version,
        "source": source,
        "reused": reused,
        "previous_employer": note,
        # from the catalogue that ranked this answer (``loaded`` is the model used)
        "household_holds_public_post": household_holds_public_post(loaded.model, worker_id),
        "data": items,
        "count": len(items),
    }


def candidate_profiles(session: Session, worker_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Non-personal profile fields of workers; personal columns are never selected."""
    cols = (
        Worker.worker_id,
        Worker.birth_year,
        Worker.home_region,
        Worker.skills,
        Worker.languages,
        Worker.work_history,
    )
    out = {}
    for row in session.execute(select(*cols).where(Worker.worker_id.in_(list(worker_ids)))):
        out[row.worker_id] = {
            "age_band": age_band(row.birth_year),
            "home_region": row.home_region,
            "home_region_name": region_label(row.home_region),
            "skills": row.skills,
            "languages": list(row.languages or []),
            "work_history": row.work_history,
        }
    return out


def candidates(
    session: Session,
    principal: Principal,
    holder: ModelHolder,
    sync: CatalogueSync | None,
    vacancy_id: str,
    k: int,
) -> dict[str, Any]:
    """Ranked candidates for a vacancy, anonymised (employers: opaque references)."""
    _owned_vacancy(session, principal, vacancy_id)
    loaded = model_or_503(holder)
    k = max(1, min(k, MAX_K))
    try:
        loaded, frame = run_model(
            loaded, sync, "vacancy", vacancy_id, lambda lm: lm.model.candidates(vacancy_id, k)
        )
    except KeyError as exc:
        raise Conflict(
            f"the model cannot serve vacancy {vacancy_id} yet: {exc}",
            headers={"X-Model-Version": loaded.version},
        ) from None
    rows = frame.to_dict("records") if len(frame) else []
    chance = answers.stable_chance_text(loaded.model)
    profiles = candidate_profiles(session, [str(r["worker_id"]) for r in rows])
    items = []
    for r in rows:
        wid = str(r["worker_id"])
        base = {
            "rank": int(r["rank"]),
            "score": float(r["score"]),
            "stable_chance": chance(float(r["score"])),
            "reasons": answers.as_list(r.get("reasons")),
            "warnings": answers.as_list(r.get("warnings")),
            **profiles.get(wid, {}),
        }
        if principal.role == Role.EMPLOYER:
            base["candidate_ref"] = candidate_ref(vacancy_id, wid)
            # written for the employer: never the worker's expected wage or preferences
            base["reasons"] = for_employer(base["reasons"])
            base["warnings"] = for_employer(base["warnings"])
        else:
            base["worker_id"] = wid
            base["in_scope"] = principal.sees_region(base.get("home_region"))
        items.append(base)
    return {
        "vacancy_id": vacancy_id,
        "model_version": loaded.version,
        "data": items,
        "count": len(items),
    }


# --------------------------------------------------------------------------- system


def store_counts(engine: Engine) -> dict[str, int]:
    out = {}
    with Session(engine) as session:
        for name, model in (
            ("workers", Worker),
            ("employers", Employer),
            ("vacancies", Vacancy),
            ("events", Event),
        ):
            out[name] = int(session.scalar(select(func.count()).select_from(model)) or 0)
    return out


def database_status(engine: Engine) -> str | None:
    """None when the store answers, else why not (no secrets: the URL is not repeated)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        return None
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        return f"database unreachable: {type(exc).__name__}"


def ids(items: Iterable[Any], attr: str) -> list[str]:
    return [getattr(x, attr) for x in items]
