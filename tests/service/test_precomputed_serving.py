"""The service answers from precomputed recommendations (``jobmatch recommend --all
--precompute``) when the promoted model has them: the same answer as the live engine,
said in ``source`` and ``X-Recommendation-Source``; live without them, with lists of
another model, or with ``JOBMATCH_PRECOMPUTED=0``; rebuilt lists are picked up by a
running service."""

from __future__ import annotations

import json
import logging
import sqlite3
import weakref
from dataclasses import replace
from pathlib import Path

import pytest
from service_fixtures import Service, copy_model_dir, load_market, make_service
from sqlalchemy import event
from typer.testing import CliRunner

from matcher.serving.precomputed import MANIFEST
from service.answers import Ranked
from service.cli import app as cli
from service.serving_cache import RankedAnswers, ServingCache
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


def test_an_answer_from_the_lists_is_re_ranked_once_per_bound_lists(
    sqlite_url, model_dir, frames, monkeypatch
):
    assert _precompute(sqlite_url, model_dir, frames, monkeypatch, "--precompute").exit_code == 0
    s = make_service(sqlite_url, model_dir, frames)
    # the market's rows an hour old, so that no stamp reading finds them unsettled and
    # drops the caches (however slow the machine), then caches that know nothing yet
    with sqlite3.connect(sqlite_url.split("///", 1)[1]) as conn:
        conn.execute("UPDATE vacancies SET updated_at = datetime('now', '-1 hour')")
    s.app.state.serving_cache = ServingCache(s.app.state.engine)
    holder = s.app.state.models
    calls: list[str] = []

    def counted(loaded):
        answer = loaded.lists.answer

        def spy(worker_id, k, *args, **kwargs):
            calls.append(worker_id)
            return answer(worker_id, k, *args, **kwargs)

        monkeypatch.setattr(loaded.lists, "answer", spy)

    counted(holder.peek())
    first = _recs(s, IN_SCOPE[0])
    again = _recs(s, IN_SCOPE[0])
    assert first.headers["X-Recommendation-Reused"] == "0"
    assert again.headers["X-Recommendation-Reused"] == "1"
    assert again.headers["X-Recommendation-Source"] == "precomputed"
    assert again.json()["data"] == first.json()["data"]
    assert calls == [IN_SCOPE[0]]  # re-ranked once
    # a reused answer reads the store once: the worker's scope (warm caches; the stamp
    # readings of other processes' changes, once a second, left aside)
    seen: list[str] = []
    engine = s.app.state.engine

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert _recs(s, IN_SCOPE[0]).headers["X-Recommendation-Reused"] == "1"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [q for q in seen if "count(" not in q and "max(" not in q and "serving_" not in q]
    assert len(reads) == 1 and "FROM workers" in reads[0], reads
    assert _recs(s, IN_SCOPE[0], 3).headers["X-Recommendation-Reused"] == "0"  # another k
    assert _recs(s, IN_SCOPE[1]).headers["X-Recommendation-Reused"] == "0"
    assert len(calls) == 3
    # the lists bound anew (what a catalogue refresh or a model swap does): re-ranked again
    loaded = holder.peek()
    holder.swap(replace(loaded, lists=loaded.lists.lists.bind(loaded.model)))
    counted(holder.peek())
    after = _recs(s, IN_SCOPE[0])
    assert after.headers["X-Recommendation-Reused"] == "0"
    assert after.json()["data"] == first.json()["data"]
    assert calls[-1] == IN_SCOPE[0] and len(calls) == 4


def test_ranked_answers_keep_one_owner_and_a_bounded_number():
    class Lists:  # an owner (the bound lists of a served model)
        pass

    answers = RankedAnswers(size=2)
    one, other = Lists(), Lists()
    a = Ranked(("V1",), (1,), (0.5,), (None,), ((),), ((),))
    answers.put(one, "W1", 10, a)
    assert answers.get(one, "W1", 10) is a
    assert answers.get(one, "W1", 5) is None and answers.get(other, "W1", 10) is None
    answers.put(one, "W2", 10, a)
    answers.get(one, "W1", 10)  # W1 used last: W2 goes first
    answers.put(one, "W3", 10, a)
    assert len(answers) == 2 and answers.get(one, "W2", 10) is None
    answers.put(other, "W1", 10, a)  # another owner: the first one's answers are gone
    assert len(answers) == 1 and answers.get(one, "W1", 10) is None
    gone = weakref.ref(one)
    del one
    assert gone() is None  # the memo does not keep a replaced owner alive


def test_a_reused_answer_still_checks_scope_and_open_vacancies(
    sqlite_url, model_dir, frames, monkeypatch
):
    assert _precompute(sqlite_url, model_dir, frames, monkeypatch, "--precompute").exit_code == 0
    s = make_service(sqlite_url, model_dir, frames)
    worker = IN_SCOPE[0]
    first = _recs(s, worker).json()["data"]
    closed = first[0]["vacancy_id"]
    r = s.client.post(f"/api/v1/vacancies/{closed}/close", headers=s.as_("admin"))
    assert r.status_code == 200, r.text
    again = _recs(s, worker)
    assert again.headers["X-Recommendation-Reused"] == "1"
    data = again.json()["data"]
    assert closed not in [x["vacancy_id"] for x in data]
    assert [x["rank"] for x in data] == list(range(1, len(data) + 1))
    # the worker moves out of the officer's region (in the store, not through this app)
    with sqlite3.connect(sqlite_url.split("///", 1)[1]) as conn:
        conn.execute("UPDATE workers SET home_region = '522301' WHERE worker_id = ?", (worker,))
    r = s.client.get(f"/api/v1/workers/{worker}/recommendations", headers=s.as_("officer"))
    assert r.status_code == 403
