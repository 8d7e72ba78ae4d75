"""Occupation coding in domain terms: classify, suggest, and officers' corrections.

Titles are coded by the learned classifiers (:mod:`service.occupation_coder`: classify and
suggest use the suggestion coder, a vacancy's inferred code the engine's coder). Officers
(of the record's region) and admins correct a vacancy's code or name the occupation of a
line of a worker's skills or work history; each correction is stored in
``occupation_corrections`` and ``jobmatch occupation train`` learns from it. Errors are
raised with the helpers of ``service.domain`` (the one place that turns them into HTTP
statuses).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.data import reference
from matcher.occupations.classifier import LEVEL_NAMES, clean_title
from matcher.occupations.normaliser import OccupationMatch
from service.auth import Principal, Role
from service.domain import field_error, forbidden, not_found, unprocessable
from service.occupation_coder import occupation_coder, suggestion_coder
from service.store.models import OccupationCorrection, Vacancy, Worker

#: Suggestions shown to an employer posting a vacancy.
SUGGESTIONS = 3
#: Longest text a correction stores (a title or one line of a work history).
MAX_CORRECTION_TEXT = 200
MAX_PAGE = 500


def match_view(text: str, match: OccupationMatch) -> dict[str, Any]:
    return {
        "text": text,
        "code": match.code,
        "name": match.name,
        "level": match.level,
        "level_name": LEVEL_NAMES[match.level],
        "confidence": round(float(match.confidence), 4),
    }


def classify(text: str) -> dict[str, Any]:
    """The code of one title at the level its evidence supports (never blank)."""
    return match_view(text, suggestion_coder().classify(text))


def suggest(text: str, k: int = SUGGESTIONS) -> dict[str, Any]:
    """The ``k`` most probable codes for a vacancy title, best first, with names."""
    matches = suggestion_coder().suggest(text, k=k)
    return {"text": text, "data": [match_view(text, m) for m in matches], "count": len(matches)}


def infer_for_vacancy(title: str | None) -> OccupationMatch | None:
    """The inferred code of a vacancy title, or None when the title holds no words."""
    if not title or not clean_title(title):
        return None
    return occupation_coder().classify(title)


def _check_code(code: str) -> str:
    code = (code or "").strip()
    if not reference.is_csco_code(code) or code not in reference.occupations():
        raise unprocessable(
            [
                field_error(
                    "code",
                    f"{code!r} is not a CSCO 2022 occupation code (e.g. 6-29-01-01)",
                    kind="value_error",
                )
            ]
        )
    return code


def _check_text(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise unprocessable([field_error("text", "give the text that names the occupation")])
    if len(text) > MAX_CORRECTION_TEXT:
        raise unprocessable(
            [
                field_error(
                    "text",
                    f"{len(text)} characters, more than {MAX_CORRECTION_TEXT}; give one title "
                    "or one line of the work history",
                )
            ]
        )
    return text


def _officer_only(principal: Principal) -> None:
    if principal.role not in (Role.OFFICER, Role.ADMIN):
        raise forbidden("only officers and admins correct occupation codes")


def correction_view(c: OccupationCorrection) -> dict[str, Any]:
    return {
        "id": c.id,
        "subject": c.subject,
        "subject_id": c.subject_id,
        "text": c.text,
        "code": c.code,
        "name": _name(c.code),
        "previous_code": c.previous_code,
        "created_at": c.created_at,
    }


def _name(code: str | None) -> str | None:
    if not code:
        return None
    occ = reference.occupations().get(code)
    return occ.name if occ is not None else None


def _record(
    session: Session,
    principal: Principal,
    subject: str,
    subject_id: str,
    region: str | None,
    text: str,
    code: str,
    previous_code: str | None,
) -> OccupationCorrection:
    """Store one correction after checking the record is in the principal's region."""
    if not principal.sees_region(region):
        raise forbidden(
            f"{subject} {subject_id} is outside your region {principal.region_prefix}; "
            "ask the officer of that region or an admin"
        )
    correction = OccupationCorrection(
        subject=subject,
        subject_id=subject_id,
        text=text,
        code=code,
        previous_code=previous_code,
        created_by=principal.key_id,
    )
    session.add(correction)
    return correction


def correct_vacancy(
    session: Session, principal: Principal, vacancy_id: str, code: str
) -> dict[str, Any]:
    """Set a vacancy's code as an officer's correction and store it as training data.

    Officers correct vacancies in their region; admins any. The vacancy keeps
    ``occupation_source = corrected``; the correction's text is its title.
    """
    _officer_only(principal)
    code = _check_code(code)
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise not_found("vacancy", vacancy_id)
    title = " ".join((vacancy.title or "").split())[:MAX_CORRECTION_TEXT]
    correction = _record(
        session,
        principal,
        "vacancy",
        vacancy_id,
        vacancy.region,
        _check_text(title),
        code,
        vacancy.occupation_code,
    )
    vacancy.occupation_code = code
    vacancy.occupation_source = "corrected"
    vacancy.occupation_confidence = None
    session.flush()
    return correction_view(correction)


def correct_worker(
    session: Session, principal: Principal, worker_id: str, text: str, code: str
) -> dict[str, Any]:
    """Store that ``text`` (a line of the worker's skills or history) names ``code``."""
    _officer_only(principal)
    code = _check_code(code)
    text = _check_text(text)
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise not_found("worker", worker_id)
    previous = occupation_coder().classify(text).code
    correction = _record(
        session, principal, "worker", worker_id, worker.home_region, text, code, previous
    )
    session.flush()
    return correction_view(correction)


def list_corrections(
    session: Session,
    principal: Principal,
    subject_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Corrections, newest first (officers: those of their region's records)."""
    _officer_only(principal)
    query = select(OccupationCorrection)
    if subject_id:
        query = query.where(OccupationCorrection.subject_id == subject_id)
    rows = list(
        session.scalars(
            query.order_by(OccupationCorrection.created_at.desc(), OccupationCorrection.id.desc())
        )
    )
    if principal.role == Role.OFFICER:
        rows = [c for c in rows if _in_region(session, principal, c)]
    return [correction_view(c) for c in rows[offset : offset + limit]], len(rows)


def _in_region(session: Session, principal: Principal, c: OccupationCorrection) -> bool:
    if c.subject == "vacancy":
        region = session.scalar(select(Vacancy.region).where(Vacancy.vacancy_id == c.subject_id))
    else:
        region = session.scalar(select(Worker.home_region).where(Worker.worker_id == c.subject_id))
    return region is not None and principal.sees_region(region)
