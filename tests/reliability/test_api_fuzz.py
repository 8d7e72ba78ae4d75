"""Property-based fuzzing of the whole API with schemathesis, as each role.

The served OpenAPI document (``/api/v1/openapi.json``) drives it: for every operation,
schemathesis generates valid and invalid requests (boundary values of every bounded
integer and length, wrong types, missing fields, unknown ids) and sends them to the app
on a real uvicorn server over loopback, with an admin's, an officer's and an employer's
key. Every answer must be a documented status with a body matching its documented
schema; no request may end in a server error; invalid data must be refused; an operation
that needs a key must refuse a request without one or with a wrong one.

schemathesis runs as its command line does (``schemathesis run``), in a child process,
with a fixed seed and ``FUZZ_EXAMPLES`` generated requests per operation and phase, so
the whole fuzz takes about a minute; ``bench/fuzz_api.py`` runs the long form.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from service_fixtures import LiveServer, make_service

#: Generated requests per operation and phase (``JOBMATCH_FUZZ_EXAMPLES`` overrides).
FUZZ_EXAMPLES = int(os.environ.get("JOBMATCH_FUZZ_EXAMPLES", "5"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)


def schemathesis_command(base_url: str, key: str, examples: int, report: Path) -> list[str]:
    """``schemathesis run`` against ``base_url``'s OpenAPI document with ``key``."""
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    return [
        exe or "schemathesis",
        "run",
        f"{base_url}/api/v1/openapi.json",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(examples),
        "--seed",
        "16",
        "--generation-deterministic",
        "--continue-on-failure",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


@pytest.fixture(params=["admin", "officer", "employer"])
def role_server(request, tmp_path, trained_model_dir, frames):
    """A fresh store and server per role (an admin's fuzz revokes keys, creates
    records); failed authentications are not limited here (the fuzz sends wrong keys
    on purpose: the limit has its own tests)."""
    service = make_service(
        f"sqlite:///{tmp_path / 'jobmatch.db'}",
        trained_model_dir,
        frames,
        auth_failure_limit=0,
    )
    with LiveServer(service) as server:
        yield request.param, server


def test_every_operation_as_every_role(role_server, tmp_path):
    role, live = role_server
    run = subprocess.run(
        schemathesis_command(live.url, live.service.keys[role], FUZZ_EXAMPLES, tmp_path / "r.xml"),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # schemathesis keeps a cache in its working folder
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    tail = run.stdout[-12000:]
    if os.environ.get("JOBMATCH_FUZZ_LOG"):
        Path(f"{os.environ['JOBMATCH_FUZZ_LOG']}.{role}").write_text(run.stdout)
    assert run.returncode == 0, (
        f"schemathesis found failures as {role}:\n{tail}\n{run.stderr[-2000:]}"
    )
    assert re.search(r"Tested: (\d+)", run.stdout), tail
    assert re.search(r"\d+ generated, \d+ passed", run.stdout), tail
