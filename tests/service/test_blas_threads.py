"""Each server process limits its BLAS threads at start-up (``JOBMATCH_BLAS_THREADS``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

#: builds the app as ``jobmatch serve``'s workers do (the factory, settings from the
#: environment) in a fresh process and prints its BLAS pools' threads before and after
PROBE = """
import json
from threadpoolctl import threadpool_info
import numpy  # loads OpenBLAS
def blas():
    return sorted(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
before = blas()
from service.app import create_app
create_app(warm_up=False)
print(json.dumps({"before": before, "after": blas()}))
"""


def _probe(tmp_path: Path, threads: str | None) -> dict[str, list[int]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JOBMATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "JOBMATCH_MODEL_DIR": str(tmp_path / "models"),
    }
    env.pop("JOBMATCH_BLAS_THREADS", None)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    if threads is not None:
        env["JOBMATCH_BLAS_THREADS"] = threads
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_server_process_uses_one_blas_thread_by_default(tmp_path):
    got = _probe(tmp_path, None)
    assert got["before"], "numpy loaded no BLAS library threadpoolctl can see"
    assert got["after"] and set(got["after"]) == {1}


def test_zero_leaves_the_library_alone_and_a_number_is_taken(tmp_path):
    left = _probe(tmp_path, "0")
    # the app loads one more BLAS (scipy's) after numpy's: each at its library's default
    assert set(left["after"]) == set(left["before"])
    if max(left["before"]) >= 2:  # a machine with one core has nothing to limit to 2
        assert set(_probe(tmp_path, "2")["after"]) == {2}


def test_a_negative_count_is_refused_with_the_setting_named():
    with pytest.raises(ValidationError, match="blas_threads"):
        Settings(blas_threads=-1)
