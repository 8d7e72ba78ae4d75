"""The role matrix: every API route, called by every role, answers the expected status.

Roles: ``anon`` (no key), ``admin``, ``officer`` (region 5424), ``other_officer``
(region 5223), ``employer`` (E001), ``other_employer`` (E002). W000 lives in 542427
(inside 5424); V_OWN belongs to E001.
"""

from __future__ import annotations

from service_fixtures import make_service
from sqlalchemy import select

from service.store.db import session_scope
from service.store.models import Vacancy

ROLES = ("anon", "admin", "officer", "other_officer", "employer", "other_employer")


def _matrix(own: str) -> list[tuple[str, str, dict | None, dict[str, int]]]:
    """(method, path, json body, expected status per role); missing roles expect 403."""
    worker = {"worker_id": "WNEW", "home_region": "542427"}
    vacancy = {"vacancy_id": "VNEW", "title": "电工", "region": "440306", "headcount": 1}
    outcome = {"worker_id": "W000", "vacancy_id": own, "event": "applied"}
    staff = {"admin": 200, "officer": 200, "other_officer": 200}
    return [
        ("get", "/api/v1/health", None, dict.fromkeys(ROLES, 200)),
        ("get", "/api/v1/me", None, {**dict.fromkeys(ROLES, 200), "anon": 401}),
        ("get", "/api/v1/workers", None, staff),
        ("get", "/api/v1/workers/by-county", None, staff),
        ("post", "/api/v1/workers", worker, {"admin": 201, "officer": 201}),
        ("get", "/api/v1/workers/W000", None, {"admin": 200, "officer": 200}),
        ("patch", "/api/v1/workers/W000", {"skills": "电工"}, {"admin": 200, "officer": 200}),
        ("get", "/api/v1/workers/W000/outcomes", None, {"admin": 200, "officer": 200}),
        ("get", "/api/v1/workers/W000/recommendations", None, {"admin": 200, "officer": 200}),
        ("get", "/api/v1/employers", None, staff),
        ("get", "/api/v1/employers/E001", None, {**staff, "employer": 200}),
        (
            "post",
            "/api/v1/employers",
            {"employer_id": "ENEW", "region": "440306"},
            {"admin": 201},
        ),
        ("get", "/api/v1/vacancies", None, {**staff, "employer": 200, "other_employer": 200}),
        ("get", f"/api/v1/vacancies/{own}", None, {**staff, "employer": 200}),
        (
            "post",
            "/api/v1/vacancies",
            {**vacancy, "employer_id": "E001"},
            {"admin": 201, "employer": 201},
        ),
        ("patch", f"/api/v1/vacancies/{own}", {"headcount": 2}, {"admin": 200, "employer": 200}),
        ("get", f"/api/v1/vacancies/{own}/candidates", None, {**staff, "employer": 200}),
        ("post", f"/api/v1/vacancies/{own}/close", None, {"admin": 200, "employer": 200}),
        ("post", "/api/v1/outcomes", outcome, {"admin": 201, "officer": 201}),
        (
            "post",
            "/api/v1/occupations/classify",
            {"text": "电工"},
            {
                **dict.fromkeys(ROLES, 200),
                "anon": 401,
            },
        ),
        ("get", "/api/v1/admin/model", None, {"admin": 200}),
        ("post", "/api/v1/admin/reload-model", None, {"admin": 200}),
        ("get", "/api/v1/admin/audit", None, {"admin": 200}),
        ("get", "/api/v1/nightly/runs", None, staff),
    ]


def test_every_route_for_every_role(sqlite_url, trained_model_dir, frames):
    s = make_service(sqlite_url, trained_model_dir, frames)
    with session_scope(s.app.state.engine) as session:
        own = session.scalars(
            select(Vacancy.vacancy_id).where(Vacancy.employer_id == "E001")
        ).first()
    failures = []
    for role in ROLES:
        for method, path, body, expected in _matrix(own):
            # one service for all roles: ids of created rows (…NEW) get the role as a
            # suffix so that creations do not collide; changes to W000 and the own
            # vacancy accumulate across roles
            headers = {} if role == "anon" else s.as_(role)
            kwargs = {"headers": headers}
            if body is not None:
                kwargs["json"] = {
                    k: (
                        f"{v}-{role}"
                        if k in ("worker_id", "vacancy_id", "employer_id")
                        and str(v).endswith("NEW")
                        else v
                    )
                    for k, v in body.items()
                }
            r = getattr(s.client, method)(path, **kwargs)
            want = expected.get(role, 401 if role == "anon" else 403)
            if r.status_code != want:
                failures.append(
                    f"{role} {method.upper()} {path}: {r.status_code} != {want} {r.text[:120]}"
                )
    assert failures == []
