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

Labels never hold ids or personal data: routes are reported by their template
(``/api/v1/workers/{worker_id}``), not the concrete path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
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


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/workers/{worker_id}``), never concrete ids."""
    if scope.get("route") is None:
        return "unmatched"
    params = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    parts = [f"{{{params[p]}}}" if p in params else p for p in scope["path"].split("/")]
    return "/".join(parts)


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
            template = route_template(scope)
            labels = (scope.get("method", ""), template, str(status_code))
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
            self.metrics.requests.labels(*labels).inc()
