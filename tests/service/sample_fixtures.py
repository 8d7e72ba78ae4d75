"""The sample market (``training.synth``) generated as ``jobmatch synth`` does — its horizon
ending this week — in a store, with a small model trained on it, served once per test
session. The pages' tests walk it as an officer and an employer would after ``make run``.

Shared by ``tests/service`` and ``tests/browser`` (re-exported by their conftests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from service_fixtures import Service, small_recommender
from service_market import dataset

from service.app import create_app
from service.auth import create_key
from service.settings import Settings
from service.store.db import session_scope

#: sample size: small enough to generate and train in seconds, big enough for real pages
N_WORKERS, N_EMPLOYERS, WEEKS, SEED = 400, 24, 8, 11


@dataclass
class Sample:
    """The served sample market and what a test needs to walk it."""

    service: Service
    frames: dict[str, pd.DataFrame]
    officer_region: str  # the prefecture with the most workers
    employer_id: str  # the employer with the most open vacancies


@pytest.fixture(scope="session")
def sample_frames() -> dict[str, pd.DataFrame]:
    from service.commands.synth import live_start
    from training.synth import build_market

    start = live_start(WEEKS).isoformat()
    return build_market(N_WORKERS, N_EMPLOYERS, WEEKS, SEED, start=start).frames


@pytest.fixture(scope="session")
def sample_model_dir(tmp_path_factory, sample_frames) -> Path:
    model = small_recommender().fit(dataset(sample_frames))
    root = tmp_path_factory.mktemp("sample-models")
    model.save(root / "20260101T000000Z")
    (root / "current").write_text("20260101T000000Z\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def sample(tmp_path_factory, sample_frames, sample_model_dir) -> Sample:
    """The app on a SQLite store holding the sample market, one key per role."""
    f = sample_frames
    from service.importer import import_folder
    from training.synth import write_market

    folder = tmp_path_factory.mktemp("sample-files")
    write_market(f, folder, fmt="csv")
    url = f"sqlite:///{tmp_path_factory.mktemp('sample-store') / 'jobmatch.db'}"
    # as `make sample` does: the import replays outcomes (workers employed or to re-place)
    # and schedules the follow-ups of the hires
    import_folder(folder, url, infer_occupations=False)
    region = f["workers"]["home_region"].str[:4].value_counts().index[0]
    v = f["vacancies"]
    employer = v[v["status"] == "open"]["employer_id"].value_counts().index[0]
    settings = Settings(database_url=url, model_dir=sample_model_dir, precomputed=False)
    app = create_app(settings, model_check_every=0.0, catalogue_sync_every=0.0, warm_up=False)
    keys = {}
    with session_scope(app.state.engine) as session:
        keys["admin"] = create_key(session, "admin", name="sample admin").key
        keys["officer"] = create_key(session, "officer", region_prefix=region).key
        keys["employer"] = create_key(session, "employer", employer_id=employer).key
    from fastapi.testclient import TestClient

    return Sample(Service(TestClient(app), app, keys, url), f, region, employer)
