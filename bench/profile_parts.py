"""How a py-spy stack of a served request is put in a part (engine, store, JSON, ...):
shared by ``bench/request_profile.py`` and ``bench/serve_bench.py``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

#: The engine: a sample with any frame in ``matcher/`` (the numpy and pandas it calls
#: included).
ENGINE = (
    "engine: re-rank of a stored list or, live, the whole ranking (matcher/ and what it calls)",
    ("(matcher/",),
)
#: Parts of a request: the engine when a frame of the sample is in it, else the part of
#: the deepest matching frame (first match wins).
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ENGINE,
    ("pandas and numpy outside the engine (reading its answer)", ("(numpy/", "(pandas/")),
    ("key check (service/auth.py)", ("(service/auth.py",)),
    ("audit log (service/audit.py)", ("(service/audit.py",)),
    ("serving caches (service/serving_cache.py)", ("(service/serving_cache.py",)),
    ("store: sessions, statements, results (SQLAlchemy, sqlite3)", ("(sqlalchemy/", "(sqlite3/")),
    (
        "response: validation and JSON (pydantic, json, jsonable_encoder)",
        (
            "(pydantic/",
            "(pydantic_core/",
            "(json/",
            "(fastapi/encoders.py",
            "(fastapi/_compat",
            "serialize_response (",
            "(starlette/responses.py",
        ),
    ),
    ("metrics and timing middleware (service/observability.py)", ("(service/observability.py",)),
    ("error boundary middleware (service/api/errors.py)", ("(service/api/errors.py",)),
    ("prometheus_client", ("(prometheus_client/",)),
    ("route and domain code (service/)", ("(service/",)),
    ("FastAPI: dependencies, parameters, routing", ("(fastapi/",)),
    ("Starlette: routing, request", ("(starlette/",)),
    (
        "thread hand-off (anyio, threading, asyncio)",
        ("(anyio/", "(asyncio/", "(threading.py", "(concurrent/", "(queue.py"),
    ),
]


#: A frame of the threads that serve the requests: the event loop driving them and the
#: thread pool's workers (the app's other threads watch the model folder and the store).
REQUEST_FRAME = re.compile(r"^(?:BaseEventLoop\.run_until_complete|WorkerThread\.run) \(")


def part_of(frames: list[str], parts: list[tuple[str, tuple[str, ...]]] = PARTS) -> str:
    """The part of a py-spy stack (``function (file:line)`` frames, outermost first):
    :data:`ENGINE` when a frame is in it, else the part of the deepest frame that
    matches one, else ``other``."""
    if any(ENGINE[1][0] in frame for frame in frames):
        return ENGINE[0]
    for frame in reversed(frames):
        for name, patterns in parts:
            if any(p in frame for p in patterns):
                return name
    return "other"


def stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """The stacks of a py-spy ``--format raw`` file (frames outermost first) and their
    sample counts."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)
