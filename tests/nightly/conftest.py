"""Fixtures of the nightly tests: a small sample market with two village groups, and a
small fitted Recommender (HashingEmbedder, few epochs)."""

from __future__ import annotations

import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from matcher.serving.recommender import Recommender
from matcher.text.encoders import HashingEmbedder
from service.store.db import make_engine, session_scope
from service.store.migrate import ensure_schema
from service.store.repository import upsert
from training.synth import generate_market


@pytest.fixture(scope="session")
def frames() -> dict[str, pd.DataFrame]:
    f = generate_market(160, 12, weeks=6, seed=11)
    w = f["workers"].copy()
    # two point-to-point groups from one village, and a shared household
    ids = w["worker_id"].tolist()
    w["group_id"] = None
    w.loc[w["worker_id"].isin(ids[0:3]), "group_id"] = "G-village-1"
    w.loc[w["worker_id"].isin(ids[10:12]), "group_id"] = "G-village-2"
    f["workers"] = w
    return f


@pytest.fixture(scope="session")
def model(frames) -> Recommender:
    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    return Recommender(
        embedder=HashingEmbedder(), epochs=3, max_iter=20, n_clusters=4, random_state=0
    ).fit(ds)


def store(url: str, frames: dict[str, pd.DataFrame]) -> None:
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            for name in ("workers", "employers", "vacancies", "events"):
                upsert(s, name, frames[name])
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def load_store():
    """``load_store(url, frames)`` migrates the store at ``url`` and loads the market."""
    return store
