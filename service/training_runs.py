"""Training runs against the store: the service's side of ``training.pipeline``.

``training/`` works on ``matcher.Dataset`` snapshots and never imports the store; these
wrappers hand it a loader that reads the store at ``database_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from matcher.data.dataset import Dataset
from service.store.db import make_engine
from service.store.migrate import ensure_schema
from service.store.repository import load_dataset
from training.evaluate import DEFAULT_KS
from training.pipeline import TrainOptions, TrainResult, remeasure_from, train_from
from training.registry import Remeasure


def store_loader(database_url: str) -> Callable[[], Dataset]:
    """A loader that migrates the store if needed and reads it as one snapshot."""

    def load() -> Dataset:
        ensure_schema(database_url)
        engine = make_engine(database_url)
        try:
            return load_dataset(engine)
        finally:
            engine.dispose()

    return load


def train_from_store(
    database_url: str, model_dir: str | Path, options: TrainOptions | None = None
) -> TrainResult:
    """Load the store at ``database_url`` and run ``training.pipeline.train``."""
    return train_from(store_loader(database_url), model_dir, options)


def remeasure_from_store(
    database_url: str, model_dir: str | Path, ks: Sequence[int] = DEFAULT_KS
) -> Remeasure:
    """``training.pipeline.remeasure_from`` reading the store lazily (for ``models promote``)."""
    return remeasure_from(store_loader(database_url), model_dir, ks)
