"""Request metrics are labelled by the template of the route Starlette matched, or
``unmatched``: never a concrete path, so ids stay out of the labels and the label set is
bounded by the app's routes whatever paths clients send."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from service_fixtures import Service

from service.observability import UNMATCHED


def request_labels(client: TestClient) -> dict[tuple[str, str, str], float]:
    """(method, route, status) -> requests counted, from ``/metrics``."""
    counts = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "jobmatch_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    counts[labels["method"], labels["route"], labels["status"]] = sample.value
    return counts


def templates(app) -> set[str]:
    """The app's own routes and those of the routers it includes."""
    own = {route.path for route in app.routes if isinstance(getattr(route, "path", None), str)}
    return own | app.state.metrics.routes.templates()


def test_every_api_route_has_its_full_template(no_model_service: Service):
    known = templates(no_model_service.app)
    api_paths = set(no_model_service.client.get("/api/v1/openapi.json").json()["paths"])
    assert api_paths and api_paths <= known
    assert "/api/v1/workers/{worker_id}" in known and "/workers/{worker_id}" not in known


def test_an_id_equal_to_another_segment_keeps_the_template(no_model_service: Service):
    s = no_model_service
    officer = s.as_("officer")
    for worker_id in ("v1", "api", "workers"):
        assert s.client.get(f"/api/v1/workers/{worker_id}", headers=officer).status_code == 404
    s.client.get("/api/v1/workers/v1/recommendations", headers=officer)
    s.client.delete("/api/v1/metrics")  # the path matches, the method does not: 405
    s.client.get("/api/v1/no/such/route")
    labels = request_labels(s.client)
    assert labels["GET", "/api/v1/workers/{worker_id}", "404"] == 3
    assert any(r == "/api/v1/workers/{worker_id}/recommendations" for _, r, _ in labels)
    assert labels["DELETE", "/api/v1/metrics", "405"] == 1
    assert labels["GET", UNMATCHED, "404"] == 1
    routes = {route for _, route, _ in labels}
    assert routes <= templates(s.app) | {UNMATCHED}
    assert not any("{worker_id}/workers" in r or r.startswith("/api/{") for r in routes)


SEGMENTS = st.one_of(
    st.sampled_from(
        ["api", "v1", "workers", "vacancies", "employers", "recommendations", "candidates"]
        + ["metrics", "health", "me", "nightly", "runs", "occupations", "", "W000", "v2"]
    ),
    st.text(
        alphabet=st.characters(
            whitelist_categories=("Lu", "Ll", "Nd", "Lo"), whitelist_characters="-_.~"
        ),
        min_size=1,
        max_size=12,
    ),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    paths=st.lists(
        st.tuples(
            st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
            st.lists(SEGMENTS, min_size=0, max_size=6).map(lambda s: "/" + "/".join(s)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fuzzed_paths_keep_the_label_set_bounded(no_model_service: Service, paths):
    s = no_model_service
    client = TestClient(s.app, raise_server_exceptions=False, follow_redirects=False)
    before = sum(v for (_, route, _), v in request_labels(client).items() if route != "/metrics")
    for method, path in paths:
        # an absolute URL, so that a path beginning "//x" stays a path (a relative
        # "//x" is read as a network-path reference whose host is "x")
        client.request(method, "http://testserver" + path, headers=s.as_("officer"))
    labels = request_labels(client)
    routes = {route for _, route, _ in labels}
    assert routes <= templates(s.app) | {UNMATCHED}, routes - templates(s.app)
    after = sum(v for (_, route, _), v in labels.items() if route != "/metrics")
    # every request counted once (the /metrics reads themselves are left out)
    assert after - before == sum(1 for _, path in paths if path != "/metrics")
