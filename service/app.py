"""The FastAPI application: API under ``/api/v1``, web pages, metrics.

``create_app(settings)`` builds one app for one store and one model folder: it
migrates the store (``ensure_schema``), loads the promoted model (the service also
starts without one and says why), and wires routers, error handlers and metrics.
``jobmatch serve`` runs it with uvicorn (``service.app:create_app`` as a factory, so
every worker process builds its own).
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import Engine

from service import api, auth
from service.api import errors
from service.domain import CatalogueSync, store_counts
from service.model_holder import ModelHolder, RecommendationBatcher, freeze_heap
from service.observability import CONTENT_TYPE, Metrics, MetricsMiddleware
from service.serving_cache import ServingCache
from service.serving_state import ServingState
from service.settings import Settings, get_settings
from service.store.db import make_engine
from service.store.migrate import ensure_schema
from service.threads import limit_blas_threads

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

DESCRIPTION = """
Job matching for rural labour transfer: placement officers manage workers and record
outcomes, employers post vacancies and see candidates (without personal data), and
everyone gets ranked, explained matches from the promoted model.

**Authentication**: `Authorization: Bearer <key>`; keys are created with
`jobmatch keys create --role admin | --role officer --region 5424 | --role employer --employer E0001`.

**Purpose of reads**: reads of personal data are audited; say why with an `X-Purpose`
header or a `purpose` query parameter.

**Model version**: recommendation responses carry `model_version` and the
`X-Model-Version` header. Without a trained model they answer **503** with the reason.
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    model_holder: ModelHolder | None = None,
    model_check_every: float = 3.0,
    catalogue_sync_every: float = 1.0,
    batch_recommendations: bool = True,
    warm_up: bool = True,
) -> FastAPI:
    """Build the jobmatch app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    limit_blas_threads(settings.blas_threads)
    engine = engine or make_engine(settings.database_url)
    ensure_schema(engine)
    serving = ServingState(engine)
    model_dir = settings.model_dir
    holder = model_holder or ModelHolder(
        model_dir,
        check_every=model_check_every,
        precomputed=settings.precomputed,
        decided=lambda: serving.decided(model_dir),
    )
    metrics = Metrics()
    holder.on_swap.append(metrics.model_swapped)
    # every process says what it serves: when it swaps, and at each check (heartbeat)
    holder.on_swap.append(lambda loaded: serving.report(loaded, holder.reason))
    holder.on_check.append(lambda loaded: serving.report(loaded, holder.reason))
    if model_holder is None or model_holder.peek() is None:
        holder.start()
    metrics.model_swapped(holder.peek())
    serving.report(holder.peek(), holder.reason)

    app = FastAPI(
        title="jobmatch",
        version="1",
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        # the service's metrics are Prometheus's (/metrics); FastAPI's OpenTelemetry
        # bridge, left on, asks for the global tracer, meter and logger providers on every
        # request (environment look-ups: about 5% of a served recommendation's CPU on the
        # serve bench's profile)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    from service.web import api_docs

    api_docs.install(app)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = auth.session_factory(engine)
    app.state.auth_limiter = auth.FailedAuthLimiter(
        settings.auth_failure_limit, settings.auth_failure_window
    )
    app.state.models = holder
    app.state.serving_state = serving
    app.state.metrics = metrics
    app.state.catalogue_sync = CatalogueSync(engine, holder, every=catalogue_sync_every)
    app.state.batcher = RecommendationBatcher() if batch_recommendations else None
    app.state.serving_cache = ServingCache(engine)

    metrics.watch_store(lambda: store_counts(engine))
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    for router in api.routers():
        errors.document_errors(router)
        app.include_router(router, prefix=API_PREFIX)
        metrics.routes.include(router.routes, prefix=API_PREFIX)

    @app.get("/metrics", include_in_schema=False)
    def metrics_root() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    for router in api.web_routers():
        app.include_router(router)
        metrics.routes.include(router.routes)
    errors.install(app)  # its boundary is the outermost layer
    from service.web import errors as web_errors

    web_errors.install(app)
    if warm_up:
        # the occupation normaliser takes seconds to build: do it before the first
        # vacancy is posted rather than inside that request
        threading.Thread(
            target=_warm_up, args=(holder.freeze_heap,), name="warm-up", daemon=True
        ).start()
    return app


def _warm_up(freeze: bool = True) -> None:
    try:
        from service.domain import occupation_normaliser

        occupation_normaliser()
    except Exception:  # noqa: BLE001 - the first request will report the real error
        log.exception("warming up the occupation normaliser failed")
    if freeze:
        # the normaliser's tables live as long as the process, like the model: out of
        # the cyclic collector's reach, or each full collection walks them (0.1-0.2 s
        # measured on the serve bench, a stall for every request of the process)
        freeze_heap()
