"""Dependencies of the API routes beyond identity (see ``service.auth``).

They are ``async`` (pure look-ups on the app's state): FastAPI runs a plain ``def``
dependency in the thread pool, one hop per dependency and request, which under load
costs more than the look-up itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from service.domain import CatalogueSync, RecommendCall, batched
from service.model_holder import ModelHolder
from service.observability import Metrics
from service.serving_cache import ServingCache
from service.store.db import transaction

T = TypeVar("T")


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.models


async def get_sync(request: Request) -> CatalogueSync:
    return request.app.state.catalogue_sync  # create_app always sets it


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SyncDep = Annotated[CatalogueSync, Depends(get_sync)]


@dataclass(frozen=True)
class Serving:
    """What the recommendation route serves with, as one dependency: FastAPI resolves
    each dependency of a request separately, and on the busiest route four
    look-ups cost more than the one."""

    holder: ModelHolder
    sync: CatalogueSync | None
    recommend: RecommendCall | None
    metrics: Metrics
    risk_threshold: int
    cache: ServingCache | None


async def get_serving(request: Request) -> Serving:
    state = request.app.state
    batcher = getattr(state, "batcher", None)
    return Serving(
        holder=state.models,
        sync=getattr(state, "catalogue_sync", None),
        recommend=batched(batcher) if batcher is not None else None,
        metrics=state.metrics,
        risk_threshold=state.settings.employer_risk_threshold,
        cache=getattr(state, "serving_cache", None),
    )


ServingDep = Annotated[Serving, Depends(get_serving)]


@dataclass(frozen=True)
class Store:
    """The app's store for an ``async`` route: ``await store.run(fn, *args)`` calls
    ``fn(session, *args)`` in one transaction in the thread pool (committed when ``fn``
    returns, rolled back when it raises). One thread hop for the whole of the route's
    blocking work, where ``SessionDep`` on a ``def`` route costs three."""

    factory: sessionmaker[Session]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(self._call, fn, *args)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        with transaction(self.factory) as session:
            return fn(session, *args)


async def get_store(request: Request) -> Store:
    return Store(request.app.state.session_factory)


StoreDep = Annotated[Store, Depends(get_store)]
