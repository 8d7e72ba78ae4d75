"""Dependencies of the API routes beyond identity (see ``service.auth``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.domain import CatalogueSync, RecommendCall, batched
from service.model_holder import ModelHolder


def get_holder(request: Request) -> ModelHolder:
    return request.app.state.models


def get_sync(request: Request) -> CatalogueSync | None:
    return getattr(request.app.state, "catalogue_sync", None)


HolderDep = Annotated[ModelHolder, Depends(get_holder)]
SyncDep = Annotated[CatalogueSync | None, Depends(get_sync)]


def get_recommend(request: Request) -> RecommendCall | None:
    batcher = getattr(request.app.state, "batcher", None)
    return batched(batcher) if batcher is not None else None


RecommendDep = Annotated[RecommendCall | None, Depends(get_recommend)]
