"""``jobmatch match`` and ``jobmatch pins`` against a store and a promoted model folder."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app
from service.settings import get_settings


@pytest.fixture
def env(tmp_path, sqlite_url, frames, model, load_store, monkeypatch):
    load_store(sqlite_url, frames)
    models = tmp_path / "models"
    model.save(models / "20260101T000000Z")
    (models / "current").write_text("20260101T000000Z\n", encoding="utf-8")
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(models))
    monkeypatch.delenv("JOBMATCH_DASK_SCHEDULER", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_match_writes_plan_and_reports_pins(env, frames):
    runner = CliRunner()
    worker = frames["workers"]["worker_id"].iloc[5]
    vacancy = frames["vacancies"]["vacancy_id"].iloc[0]
    r = runner.invoke(app, ["pins", "add", f"{worker}:{vacancy}", "--exclude"])
    assert r.exit_code == 0, r.output
    assert f"exclude {worker}:{vacancy}" in runner.invoke(app, ["pins", "list"]).output
    out = env / "plan.csv"
    r = runner.invoke(app, ["match", "--out", str(out), "--run-id", "cli-1", "--k", "5"])
    assert r.exit_code == 0, r.output
    assert "run cli-1: succeeded (model 20260101T000000Z)" in r.output
    assert "expected stable placements if every planned pair is proposed" in r.output
    plan = pd.read_csv(out, dtype=str)
    assert plan.columns.tolist() == ["worker_id", "vacancy_id", "score", "reasons"]
    assert not ((plan["worker_id"] == worker) & (plan["vacancy_id"] == vacancy)).any()
    # a pin naming an unknown worker is refused before the run, with what to fix
    r = runner.invoke(app, ["match", "--pin", f"NOPE:{vacancy}"])
    assert r.exit_code == 2 and "no worker 'NOPE'" in r.output
    r = runner.invoke(app, ["match", "--pin", "no-colon"])
    assert r.exit_code == 2 and "WORKER_ID:VACANCY_ID" in r.output


def test_match_without_model_says_what_to_do(tmp_path, sqlite_url, frames, load_store, monkeypatch):
    load_store(sqlite_url, frames)
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(tmp_path / "none"))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["match"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2
    assert "jobmatch train" in r.output


def test_match_scoring_choice(env):
    runner = CliRunner()
    r = runner.invoke(app, ["match", "--scoring", "fast"])
    assert r.exit_code == 2 and "--scoring must be one of batch, live, exact" in r.output
    batch = env / "batch.csv"
    exact = env / "exact.csv"
    r = runner.invoke(app, ["match", "--out", str(batch), "--run-id", "b", "--k", "5"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["match", "--out", str(exact), "--run-id", "e", "--k", "5", "--scoring", "exact"]
    )
    assert r.exit_code == 0, r.output
    for path in (batch, exact):
        plan = pd.read_csv(path, dtype=str)
        assert len(plan) > 0
        assert not plan["worker_id"].duplicated().any()
