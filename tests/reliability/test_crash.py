"""Crash and rerun with real processes: a nightly run or an import killed (SIGKILL) at
any stage leaves no partial result visible, and a rerun gives the same plan.

Each command runs as ``jobmatch`` does, in a child process (``child.py``, which can
stop at a chosen stage inside a transaction); the test kills it with SIGKILL, so no
``finally``, no rollback handler and no atexit hook of the child runs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from service_fixtures import load_market
from sqlalchemy import text

from service import nightly
from service.store.db import make_engine, session_scope
from service.store.models import MatchRun

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("child.py")
EXAMPLE_MARKET = ROOT / "examples" / "market"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def _env(database_url: str, model_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(CHILD.parent)]),
        "JOBMATCH_DATABASE_URL": database_url,
        "JOBMATCH_MODEL_DIR": str(model_dir),
        "OMP_NUM_THREADS": "1",
    }


class Child:
    """``jobmatch ARGS`` in a child process, stopping at ``stage`` (see child.py)."""

    def __init__(self, stage: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._err = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), stage, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )

    def wait_for(self, marker: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise AssertionError(f"child ended before {marker!r}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"no {marker!r} in {timeout} s:\n{self.log.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL
        self._err.close()

    def finish(self, timeout: float = 300.0) -> str:
        code = self.proc.wait(timeout)
        self._err.close()
        out = self.log.read_text(errors="replace")
        assert code == 0, out
        return out


def _plan(url: str, run_id: str) -> pd.DataFrame:
    engine = make_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT worker_id, vacancy_id, score, reasons, pinned FROM plan_rows "
                "WHERE run_id = :r ORDER BY worker_id"
            ),
            conn,
            params={"r": run_id},
        )
    engine.dispose()
    return frame


def _runs(url: str) -> dict[str, MatchRun]:
    """Runs as a reader sees them (listing marks abandoned runs failed first)."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows, _ = nightly.list_runs(session, limit=100)
        out = {r.run_id: r for r in rows}
    engine.dispose()
    return out


def _current(runs: dict[str, MatchRun]) -> str | None:
    done = [r for r in runs.values() if r.status == "succeeded"]
    return max(done, key=lambda r: r.started_at).run_id if done else None


@pytest.fixture
def store(tmp_path, frames, trained_model_dir):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    load_market(url, frames)
    return url, _env(url, trained_model_dir)


#: Where a run is killed: (child stage, line that says the run got there, run id).
KILLS = [
    ("reading", "PAUSED reading", "killed-after-reading"),  # recorded as running
    ("assigning", "PAUSED assigning", "killed-while-assigning"),  # candidates scored
    ("writing", "PAUSED writing", "killed-while-writing"),  # rows written, not committed
]


def test_killed_nightly_runs_leave_no_plan_and_a_rerun_gives_the_same_plan(store, tmp_path):
    url, env = store

    def run(stage: str, run_id: str) -> Child:
        args = ["match", "--run-id", run_id, "--out", str(tmp_path / f"{run_id}.csv")]
        return Child(stage, args, env, tmp_path / f"{run_id}.log")

    run("none", "first").finish()
    before = _plan(url, "first")
    assert len(before) > 3

    for stage, marker, run_id in KILLS:
        child = run(stage, run_id)
        child.wait_for(marker)
        child.kill()
        runs = _runs(url)
        assert runs[run_id].status == "failed", run_id
        assert "abandoned" in (runs[run_id].error or "")
        assert _plan(url, run_id).empty, run_id  # no partial plan visible
        assert not (tmp_path / f"{run_id}.csv").exists(), run_id  # nor a plan file
        assert _current(runs) == "first", run_id  # the previous plan stays current
        pd.testing.assert_frame_equal(_plan(url, "first"), before)

    # a killed run again, on the same snapshot: the plan of an undisturbed run
    rerun = KILLS[-1][2]
    run("none", rerun).finish()
    runs = _runs(url)
    assert runs[rerun].status == "succeeded" and _current(runs) == rerun
    assert runs[rerun].input_hash == runs["first"].input_hash
    pd.testing.assert_frame_equal(_plan(url, rerun), before)
    assert (tmp_path / f"{rerun}.csv").read_bytes() == (tmp_path / "first.csv").read_bytes()


def _store_digest(url: str) -> dict[str, str]:
    engine = make_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in ("workers", "employers", "vacancies", "events", "placements"):
            try:
                rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).fetchall()
            except Exception:  # noqa: BLE001 - a table this store version lacks
                continue
            out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    engine.dispose()
    return out


def test_killed_import_leaves_the_store_as_it_was(store, tmp_path):
    url, env = store
    before = _store_digest(url)
    child = Child("importing", ["import", str(EXAMPLE_MARKET)], env, tmp_path / "import.log")
    child.wait_for("PAUSED importing")
    child.kill()
    assert _store_digest(url) == before
    # the same import undisturbed does change the store (so the check above can fail)
    Child("none", ["import", str(EXAMPLE_MARKET)], env, tmp_path / "import2.log").finish()
    after = _store_digest(url)
    assert after["workers"] != before["workers"] and after["vacancies"] != before["vacancies"]
