"""The service answers from precomputed recommendations (``jobmatch recommend --all
--precompute``) when the promoted model has them: the same answer as the live engine,
said in ``source`` and ``X-Recommendation-Source``; live without them, with lists of
another model, or with ``JOBMATCH_PRECOMPUTED=0``; rebuilt lists are picked up by a
running service."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from service_fixtures import Service, copy_model_dir, load_market, make_service
from typer.testing import CliRunner

from matcher.precomputed import MANIFEST
from service.cli import app as cli
from service.settings import get_settings

IN_SCOPE = ["W000", "W001", "W004", "W005"]  # home counties inside the officer's region 5424
VERSION = "20260101T000000Z"


@pytest.fixture
def model_dir(tmp_path, trained_model_dir) -> Path:
    return copy_model_dir(trained_model_dir, tmp_path / "models")


def _precompute(url: str, model_dir: Path, frames, monkeypatch, *args: str):
    load_market(url, frames)
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", url)
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(model_dir))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, ["recommend", "--all", *args])
    finally:
        get_settings.cache_clear()


def _recs(s: Service, worker: str, k: int = 10):
    r = s.client.get(f"/api/v1/workers/{worker}/recommendations?k={k}", headers=s.as_("officer"))
    assert r.status_code == 200, r.text
    return r


def test_the_cli_builds_lists_the_service_answers_from(sqlite_url, model_dir, frames, monkeypatch):
    r = _precompute(
        sqlite_url, model_dir, frames, monkeypatch, "--precompute", "--depth", "20", "--jobs", "2"
    )
    assert r.exit_code == 0, r.output
    manifest = json.loads((model_dir / VERSION / "precomputed" / MANIFEST).read_text())
    assert manifest["depth"] == 20 and manifest["workers"] == len(frames["workers"])
    assert "stored the 20 best vacancies" in r.output

    s = make_service(sqlite_url, model_dir, frames)
    live_dir = copy_model_dir(model_dir, model_dir.parent / "live")
    live = make_service(sqlite_url, live_dir, frames, precomputed=False)
    for worker in IN_SCOPE:
        for k in (3, 10):
            fast, slow = _recs(s, worker, k), _recs(live, worker, k)
            assert fast.headers["X-Recommendation-Source"] == "precomputed"
            assert fast.json()["source"] == "precomputed"
            assert slow.headers["X-Recommendation-Source"] == "live"
            assert fast.json()["data"] == slow.json()["data"]
    # above the stored depth: live
    assert _recs(s, IN_SCOPE[0], 25).json()["source"] == "live"
    metrics = s.client.get("/metrics").text
    assert 'jobmatch_recommendations_total{kind="recommendations",source="precomputed"} 8.0' in (
        metrics
    )
    assert 'jobmatch_recommendations_total{kind="recommendations",source="live"} 1.0' in metrics


def test_precompute_goes_with_all_and_no_csv(sqlite_url, model_dir, frames, monkeypatch):
    r = _precompute(sqlite_url, model_dir, frames, monkeypatch, "--precompute", "--out", "x.csv")
    assert r.exit_code == 2 and "--precompute goes with --all" in r.output
    assert not (model_dir / VERSION / "precomputed").exists()


def test_lists_of_another_model_are_ignored(sqlite_url, model_dir, frames, monkeypatch, caplog):
    assert _precompute(sqlite_url, model_dir, frames, monkeypatch, "--precompute").exit_code == 0
    path = model_dir / VERSION / "precomputed" / MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "fit_key": "another model"}))
    with caplog.at_level(logging.WARNING, logger="service.model_holder"):
        s = make_service(sqlite_url, model_dir, frames)
    assert "built for another model" in caplog.text
    assert _recs(s, IN_SCOPE[0]).json()["source"] == "live"


def test_a_running_service_picks_up_rebuilt_lists(sqlite_url, model_dir, frames, monkeypatch):
    s = make_service(sqlite_url, model_dir, frames)
    assert _recs(s, IN_SCOPE[0]).json()["source"] == "live"
    assert _precompute(sqlite_url, model_dir, frames, monkeypatch, "--precompute").exit_code == 0
    holder = s.app.state.models
    before = holder.peek()
    holder.load()  # what the pointer watch does in the background when the manifest changes
    after = holder.peek()
    assert after.model is before.model  # the model is kept; only the lists are new
    assert after.lists is not None
    assert _recs(s, IN_SCOPE[0]).json()["source"] == "precomputed"
