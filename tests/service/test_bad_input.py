"""Property: no request body, however wrong, makes the API answer 500."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.data.schema import CONTRACT

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON cannot carry NaN or inf
    st.text(max_size=30),
    st.sampled_from(["542427", "440306", "999999", "F", "open", "zh;bo", "2026-02-30", "-1"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def bodies(table: str):
    names = [*CONTRACT[table].columns, "unknown_field"]
    return st.dictionaries(st.sampled_from(names), values, max_size=len(names))


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def post_answers(s, path: str, role: str, body, allowed: tuple[int, ...]) -> None:
    """POST ``body`` as JSON to ``path`` as ``role``; the status must be one of ``allowed``."""
    r = s.client.post(path, json=body, headers=s.as_(role))
    assert r.status_code in allowed, r.text


@SETTINGS
@given(body=bodies("workers"))
def test_worker_bodies_never_500(sqlite_service, body):
    s = sqlite_service
    post_answers(s, "/api/v1/workers", "officer", body, (201, 403, 409, 422))
    if body.get("worker_id") and isinstance(body["worker_id"], str):
        r = s.client.patch(
            "/api/v1/workers/W000",
            json={k: v for k, v in body.items() if k != "worker_id"},
            headers=s.as_("officer"),
        )
        assert r.status_code in (200, 403, 422), r.text


@SETTINGS
@given(body=bodies("vacancies"))
def test_vacancy_bodies_never_500(sqlite_service, body):
    post_answers(sqlite_service, "/api/v1/vacancies", "employer", body, (201, 403, 409, 422))


@SETTINGS
@given(body=bodies("events"), raw=st.binary(max_size=40))
def test_outcome_bodies_never_500(sqlite_service, body, raw):
    s = sqlite_service
    post_answers(s, "/api/v1/outcomes", "officer", body, (201, 403, 422))
    r = s.client.post(
        "/api/v1/outcomes",
        content=raw,
        headers={**s.as_("officer"), "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text


def test_non_standard_json_numbers_never_500(sqlite_service):
    s = sqlite_service
    r = s.client.post(
        "/api/v1/outcomes",
        content=b'{"worker_id": "W000", "vacancy_id": NaN, "event": Infinity}',
        headers={**s.as_("officer"), "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
