"""Prometheus metrics of one service process, on its own registry (one per app).

Exposed at ``GET /metrics`` (and ``/api/v1/metrics``) in the Prometheus text format:

* ``jobmatch_http_request_duration_seconds`` histogram by method, route template, status
* ``jobmatch_http_requests_total`` counter by method, route template, status
* ``jobmatch_model_info{version}`` 1 for the serving model; ``jobmatch_model_loaded`` 0/1
* ``jobmatch_model_swaps_total`` models swapped in since start
* ``jobmatch_recommendations_total{kind, source}`` recommendation / candidate lists served
  (``source``: ``precomputed`` lists or the ``live`` engine)
* ``jobmatch_store_rows{table}`` rows per table, read when scraped

With several worker processes each process reports its own figures.
Every response carries ``Server-Timing: app;dur=<ms>``: the time from the request
reaching the app to its answer being ready (what the service spent, queueing inside
the process included; not the network or the client).

Labels never hold ids or personal data: routes are reported by the matched route's
template (``/api/v1/workers/{worker_id}``), not the concrete path; a request no route
matched is reported as ``unmatched``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.model_holder import LoadedModel

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StoreRows(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self):
        family = GaugeMetricFamily("jobmatch_store_rows", "Rows per store table", labels=["table"])
        try:
            for table, n in self._counts().items():
                family.add_metric([table], n)
        except Exception:  # noqa: BLE001 - a scrape must not fail because the store is down
            pass
        yield family


class Metrics:
    """The metric objects of one app."""

    def __init__(self) -> None:
        self.routes = RouteTemplates()
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "jobmatch_http_request_duration_seconds",
            "Request latency",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "jobmatch_http_requests",
            "Requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "jobmatch_model_info",
            "The serving model (value 1)",
            ["version"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "jobmatch_model_loaded", "1 when a model is loaded", registry=self.registry
        )
        self.swaps = Counter(
            "jobmatch_model_swaps", "Models swapped in since start", registry=self.registry
        )
        self.served = Counter(
            "jobmatch_recommendations",
            "Recommendation and candidate lists served, by where the answer came from "
            "(precomputed lists or the live engine)",
            ["kind", "source"],
            registry=self.registry,
        )

    def watch_store(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_StoreRows(counts))

    def model_swapped(self, loaded: LoadedModel | None) -> None:
        self.model_info.clear()
        if loaded is not None:
            self.model_info.labels(version=loaded.version).set(1)
        self.model_loaded.set(1 if loaded is not None else 0)
        self.swaps.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


#: The route label of a request no route matched (404s, slash redirects): one label for
#: all of them, so arbitrary paths cannot grow the label set.
UNMATCHED = "unmatched"


class RouteTemplates:
    """The full template of every route of an app, by the route object the router puts
    in ``scope["route"]`` when it matches a request.

    A route's ``path`` is its template inside its own router (``/workers/{worker_id}``);
    FastAPI includes a router under a prefix without copying its routes, so the prefix
    is recorded here when the app includes the router (:meth:`include`). Routes the app
    defines itself (``/metrics``, ``/docs``) carry their full template already.
    """

    def __init__(self) -> None:
        # id(route) -> (route, prefix, template) per inclusion (a router may be
        # included under several prefixes); routes compare by value, so not dict keys
        self._included: dict[int, list[tuple[BaseRoute, str, str]]] = {}

    def include(self, routes: Iterable[BaseRoute], prefix: str = "") -> None:
        """Record the routes of a router the app includes under ``prefix``."""
        for route in routes:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                self._included.setdefault(id(route), []).append((route, prefix, prefix + path))

    def templates(self) -> set[str]:
        """Every template recorded by :meth:`include`."""
        return {template for entries in self._included.values() for _, _, template in entries}

    def template(self, scope: Scope) -> str:
        """The matched route's full template (``/api/v1/workers/{worker_id}``), or
        :data:`UNMATCHED`. Taken from the route itself, never rebuilt from the concrete
        path, so labels hold no ids and their set is bounded by the app's routes (plus
        ``unmatched``) whatever paths clients send."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        path = str(scope.get("path", ""))
        candidates = [
            (prefix, template)
            for known, prefix, template in self._included.get(id(route), ())
            if known is route and path.startswith(prefix)
        ]
        if candidates:
            return max(candidates, key=lambda c: len(c[0]))[1]
        own = getattr(route, "path", None)
        return own if isinstance(own, str) and own else UNMATCHED


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request (cheaper than BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def _send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                # time from the request reaching the app to its answer being ready, so a
                # client can tell the service's time from the network and its own
                spent = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", []), (b"server-timing", b"app;dur=%.1f" % spent)]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            template = self.metrics.routes.template(scope)
            labels = (scope.get("method", ""), template, str(status_code))
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            self.metrics.requests.labels(*labels).inc()
