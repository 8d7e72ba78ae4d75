"""Training suggestions through the API: shapes, role checks (officers only for their region,
employers never), bounds (bad input is a 422 naming the field) and the county view adding up
the workers' own figures when every job-seeker is re-scored."""

from __future__ import annotations

import pytest
from service_fixtures import Service

COUNTY = "542427"  # in the officer's region (5424)


def _seekers(service: Service, county: str) -> list[str]:
    r = service.client.get(
        f"/api/v1/workers?region={county}&status=seeking&limit=500",
        headers=service.as_("admin"),
    )
    assert r.status_code == 200, r.text
    return [w["worker_id"] for w in r.json()["data"]]


def test_catalogue_lists_the_courses(service: Service):
    r = service.client.get("/api/v1/training-courses", headers=service.as_("officer"))
    assert r.status_code == 200, r.text
    ids = {c["course_id"] for c in r.json()["data"]}
    assert {"electrician", "welder", "forklift", "eldercare", "cook", "putonghua"} <= ids
    r = service.client.get("/api/v1/training-courses", headers=service.as_("employer"))
    assert r.status_code == 403


def test_a_worker_gets_courses_ranked_by_their_effect(service: Service):
    c, off = service.client, service.as_("officer")
    wid = _seekers(service, COUNTY)[0]
    r = c.get(f"/api/v1/workers/{wid}/training-suggestions?k=5", headers=off)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["worker_id"] == wid and body["k"] == 5 and body["count"] == len(body["data"])
    assert body["calibrated"] == (body["stable_weeks"] is not None)
    assert body["expected_placements"] >= 0
    extras = [x["extra_expected_placements"] for x in body["data"]]
    assert extras == sorted(extras, reverse=True)
    names = {x["course_id"] for x in body["data"]} | set(body["held"])
    assert "electrician" in names and "putonghua" in names
    for x in body["data"]:
        assert x["skill"] and x["duration_days"] > 0 and x["providers"]
        assert x["vacancies_unlocked"] == len(x["unlocked_vacancy_ids"])
        after = x["expected_placements_after"] - body["expected_placements"]
        assert after == pytest.approx(x["extra_expected_placements"], abs=2e-4)
    # the test market's workers all speak Mandarin: the course is held, nothing is unlocked
    assert "putonghua" in body["held"]


def test_roles_and_regions(service: Service):
    c = service.client
    wid = _seekers(service, COUNTY)[0]
    path = f"/api/v1/workers/{wid}/training-suggestions"
    assert c.get(path, headers=service.as_("admin")).status_code == 200
    assert c.get(path, headers=service.as_("other_officer")).status_code == 403
    assert c.get(path, headers=service.as_("employer")).status_code == 403
    assert c.get(path).status_code == 401
    assert (
        c.get(
            "/api/v1/workers/NOPE/training-suggestions", headers=service.as_("officer")
        ).status_code
        == 404
    )
    county = f"/api/v1/counties/{COUNTY}/training-suggestions"
    assert c.get(county, headers=service.as_("other_officer")).status_code == 403
    assert c.get(county, headers=service.as_("employer")).status_code == 403


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/workers/W000/training-suggestions?k=0", "k"),
        ("/api/v1/workers/W000/training-suggestions?k=51", "k"),
        ("/api/v1/workers/W000/training-suggestions?k=many", "k"),
        (f"/api/v1/counties/{COUNTY}/training-suggestions?sample=5", "sample"),
        (f"/api/v1/counties/{COUNTY}/training-suggestions?sample=100000", "sample"),
        ("/api/v1/counties/54242/training-suggestions", "region"),
        ("/api/v1/counties/西藏/training-suggestions", "region"),
    ],
)
def test_bad_input_names_the_field(service: Service, path: str, field: str):
    r = service.client.get(path, headers=service.as_("officer"))
    assert r.status_code == 422, r.text
    assert any(field in [str(p) for p in e["loc"]] for e in r.json()["detail"]), r.text


def test_the_county_view_adds_up_its_workers(service: Service):
    """With every job-seeker re-scored (sample >= seekers) the county's total of a course
    is exactly the sum of the workers' own figures, and nothing is left to chance."""
    c, off = service.client, service.as_("officer")
    seekers = _seekers(service, COUNTY)
    r = c.get(f"/api/v1/counties/{COUNTY}/training-suggestions?k=5&sample=100", headers=off)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["seekers"] == len(seekers) == view["in_model"] == view["sampled"]
    assert view["elapsed_s"] >= 0 and view["name"]
    totals = [x["total_extra_expected_placements"] for x in view["data"]]
    assert totals == sorted(totals, reverse=True)
    summed: dict[str, float] = {}
    for wid in seekers:
        body = c.get(f"/api/v1/workers/{wid}/training-suggestions?k=5", headers=off).json()
        for x in body["data"]:
            summed[x["course_id"]] = (
                summed.get(x["course_id"], 0.0) + x["extra_expected_placements"]
            )
    for x in view["data"]:
        assert x["total_extra_expected_placements"] == pytest.approx(
            summed.get(x["course_id"], 0.0), abs=1e-3 * len(seekers)
        )
        assert x["standard_error"] == 0.0
    # a sample smaller than the county: the estimate says so and carries an error
    r = c.get(f"/api/v1/counties/{COUNTY}/training-suggestions?k=5&sample=10", headers=off)
    small = r.json()
    assert small["sampled"] == 10 < small["in_model"]
    assert any(x["standard_error"] > 0 for x in small["data"])
