"""Where one precomputed recommendation request's CPU goes, in-process (no HTTP, no clients).

The app (``service.app.create_app``, as ``jobmatch serve`` builds it from the
environment) answers ``GET /api/v1/workers/{id}/recommendations?k=10`` called straight
through its ASGI interface, one request at a time, on a store and a promoted model
with precomputed lists (the set-up of ``bench/serve_bench.py``: ``--store DIR`` reuses
the folder of a ``serve_bench.py --keep DIR`` run, e.g. its 100,000 vacancies; without
it a small market of ``--vacancies`` vacancies is built here). Per request it measures:

* **CPU** (user + system of the whole process, every thread: ``time.process_time``),
  and wall time;
* **store statements** and **store sessions** (connection check-outs) per request,
  counted on the app's engine, by kind;
* **CPU by part**: py-spy samples the process (every thread holding the GIL) while the
  requests run; each sample goes to the deepest frame matching a part of
  :data:`bench.profile_parts.PARTS`, and a part's milliseconds are its share of the samples times the CPU
  per request. Work outside the GIL (SQLite's C code between Python calls) is not
  sampled: the parts add up to the Python CPU, and the table says how much that is.

The HTTP layer (uvicorn's parser, sockets) is outside this measurement: the serve
bench's profile covers it.

``--baseline COMMIT`` measures the service code of ``COMMIT`` too (``git archive``,
run in a subprocess with ``PYTHONPATH`` on it), on the same store and model, in the
same run, one variant after the other, twice each, alternating (``--rounds``), and
reports the median of each variant.

Run: ``python bench/request_profile.py [--store DIR] [--requests 2000]
[--baseline COMMIT] [--no-write]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench.profile_parts import PARTS, REQUEST_FRAME, part_of, stacks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- child


class Counter:
    """Statements and connection check-outs on an engine, while ``on``."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.on = False
        self.statements: dict[str, int] = {}
        self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "checkout", self._checkout)

    def _statement(self, conn, cursor, statement, *args) -> None:
        if self.on:
            words = statement.split()
            kind = words[0].upper() if words else "?"
            table = "?"
            for i, w in enumerate(words):
                if w.upper() in ("FROM", "INTO", "UPDATE") and i + 1 < len(words):
                    table = words[i + 1].strip('"')
                    break
            name = f"{kind} {table}"
            self.statements[name] = self.statements.get(name, 0) + 1

    def _checkout(self, *args) -> None:
        if self.on:
            self.checkouts += 1


async def call(app, path: str, query: str, key: str) -> tuple[int, dict[str, str], bytes]:
    """One GET through the app's ASGI interface: status, headers, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"accept", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    headers: dict[str, str] = {}
    body = bytearray()

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update((k.decode(), v.decode()) for k, v in message.get("headers", ()))
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, headers, bytes(body)


#: The micro-batcher's thread computed the live engine's answers for the requests
#: (``service.model_holder.RecommendationBatcher`` before it lost its thread: a
#: baseline's): its samples are the requests' work. Today the requests' own threads do it.
BATCHER_FRAME = re.compile(r"^RecommendationBatcher\._(?:run|answer) \(")

#: The passes of a measurement: workers asked for the first time in the process, then
#: the same workers asked again (an officer reopening a worker's page).
PASSES = ("first time", "asked again")


def measure(
    setup: dict, requests: int, profile_dir: Path | None, seed: int, live: bool = False
) -> dict:
    """Build the app as ``jobmatch serve`` does; after a warm-up on other workers, time
    one request for each of up to ``requests`` workers not asked before, then
    ``requests`` requests for those same workers again (random order); with
    ``profile_dir``, each pass is sampled by py-spy. ``live``: the precomputed lists
    switched off (``JOBMATCH_PRECOMPUTED=0``), every request answered by the live
    engine."""
    import gc

    os.environ["JOBMATCH_DATABASE_URL"] = setup["url"]
    os.environ["JOBMATCH_MODEL_DIR"] = str(setup["model_dir"])
    os.environ["JOBMATCH_PRECOMPUTED"] = "0" if live else "1"
    from service.app import create_app

    app = create_app()
    counter = Counter(app.state.engine)
    key = setup["key"]
    rng = random.Random(seed)
    ids = list(setup["worker_ids"])
    rng.shuffle(ids)
    warm, fresh = ids[: min(200, len(ids) // 5)], ids[min(200, len(ids) // 5) :][:requests]
    loop = asyncio.new_event_loop()

    def run(workers: list[str]) -> dict:
        statuses: dict[str, int] = {}
        counts = {"lists": 0, "reused": 0}

        async def go() -> None:
            for wid in workers:
                status, headers, _ = await call(
                    app, f"/api/v1/workers/{wid}/recommendations", "k=10", key
                )
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                counts["lists"] += headers.get("x-recommendation-source") == "precomputed"
                counts["reused"] += headers.get("x-recommendation-reused") == "1"

        t0, c0 = time.perf_counter(), time.process_time()
        loop.run_until_complete(go())
        n = max(len(workers), 1)
        return {
            "requests": len(workers),
            "wall_ms": (time.perf_counter() - t0) / n * 1000,
            "cpu_ms": (time.process_time() - c0) / n * 1000,
            "statuses": statuses,
            "from_lists": counts["lists"] / n,
            "reused": counts["reused"] / n,
        }

    deadline = time.monotonic() + 600
    while app.state.models.peek() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run(warm * 3)  # lazily built state, the caches, the key cache
    gc.collect()
    gc.freeze()
    again = [fresh[rng.randrange(len(fresh))] for _ in range(requests)]
    out: dict = {"passes": {}, "load": os.getloadavg()[0]}
    for name, workers in zip(PASSES, (fresh, again), strict=True):
        spy = _spy(profile_dir / f"{name.replace(' ', '-')}.txt") if profile_dir else None
        counter.statements, counter.checkouts, counter.on = {}, 0, True
        res = run(workers)
        counter.on = False
        n = max(len(workers), 1)
        res["statements"] = {k: v / n for k, v in counter.statements.items()}
        res["checkouts"] = counter.checkouts / n
        if spy is not None:
            proc, path = spy
            proc.send_signal(2)  # SIGINT: py-spy writes what it has
            _, err = proc.communicate(timeout=60)
            res["profile"] = parse_profile(path)
            if res["profile"] is None:
                print(f"py-spy: {err.strip()[-300:]}", file=sys.stderr)
        out["passes"][name] = res
    loop.close()
    return out


def _spy(path: Path) -> tuple[subprocess.Popen, Path] | None:
    """py-spy sampling this process (threads holding the GIL) until interrupted."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(os.getpid()), "--rate", "500", "--format", "raw"]
        + ["--output", str(path), "--nonblocking", "--gil"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # py-spy attaches
    return proc, path


def parse_profile(path: Path) -> dict | None:
    if not path.exists():
        return None
    parts: dict[str, int] = {}
    leaves: dict[str, int] = {}
    for frames, n in stacks(path):
        if not any(REQUEST_FRAME.search(f) or BATCHER_FRAME.search(f) for f in frames):
            # a sample outside the requests (the model and store watchers' threads)
            part = "outside the requests (background threads)"
        else:
            part = part_of(frames)
        parts[part] = parts.get(part, 0) + n
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + n
    return {"parts": parts, "leaves": leaves, "samples": sum(parts.values())}


# --------------------------------------------------------------------------- parent


def child(
    setup_file: Path,
    src: Path,
    requests: int,
    profile: Path,
    out: Path,
    seed: int,
    live: bool = False,
) -> dict:
    """:func:`measure` in a fresh process on the service code of ``src``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    code = (
        "import pickle, sys, json; from pathlib import Path;"
        f"sys.path.insert(0, {str(ROOT / 'bench')!r});"
        "import request_profile as rp;"
        f"setup = pickle.loads(Path({str(setup_file)!r}).read_bytes());"
        f"r = rp.measure(setup, {requests}, Path({str(profile)!r}), {seed}, live={live});"
        f"Path({str(out)!r}).write_text(json.dumps(r))"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=str(src))
    return json.loads(out.read_text())


def build_small(workdir: Path, vacancies: int, seed: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench.serve_bench import build

    return build(workdir, vacancies, seed, asked=500)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="a serve_bench.py --keep folder")
    ap.add_argument("--vacancies", type=int, default=2000, help="without --store")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2, help="measurements per variant")
    ap.add_argument("--baseline", default=None, metavar="COMMIT")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, default=None, help="keep the small store here")
    ap.add_argument(
        "--live",
        action="store_true",
        help="lists off (JOBMATCH_PRECOMPUTED=0): the live engine answers every request "
        "(written to its own section, request-profile-live)",
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.report import baseline_tree, machine, markdown_table, short_head, write_section

    work = Path(tempfile.mkdtemp(prefix="jobmatch-request-profile-"))
    try:
        t0 = time.perf_counter()
        if args.store is not None:
            setup = pickle.loads((args.store / "setup.pkl").read_bytes())
        else:
            folder = args.keep or work
            folder.mkdir(parents=True, exist_ok=True)
            cached = folder / "setup.pkl"
            if args.keep and cached.exists():
                setup = pickle.loads(cached.read_bytes())
            else:
                setup = build_small(folder, args.vacancies, args.seed)
                cached.write_bytes(pickle.dumps(setup))
        # each measurement on its own copy of the store (a newer service may migrate it)
        pristine = Path(setup["url"].split("///", 1)[1])
        setup_time = time.perf_counter() - t0
        variants: list[tuple[str, Path]] = []
        if args.baseline:
            variants.append((f"{args.baseline} (before)", baseline_tree(args.baseline, work)))
        variants.append((f"{short_head()} (this)" if args.baseline else short_head(), ROOT))
        results: dict[str, list[dict]] = {code: [] for code, _ in variants}
        loads = []
        for r in range(args.rounds):
            for i, (code, src) in enumerate(variants):
                copy = work / f"store-{r}-{i}.db"
                shutil.copyfile(pristine, copy)
                s = {**setup, "url": f"sqlite:///{copy}"}
                setup_file = work / f"setup-{r}-{i}.pkl"
                setup_file.write_bytes(pickle.dumps(s))
                res = child(
                    setup_file,
                    src,
                    args.requests,
                    (args.keep or args.store or work) / f"profile-{r}-{i}",
                    work / f"result-{r}-{i}.json",
                    args.seed + r,
                    args.live,
                )
                loads.append(res["load"])
                results[code].append(res)
                for name, p in res["passes"].items():
                    print(
                        f"[{code}] round {r + 1}, {name}: CPU {p['cpu_ms']:.2f} ms/req, wall "
                        f"{p['wall_ms']:.2f} ms/req, statements "
                        f"{sum(p['statements'].values()):.2f}/req, sessions "
                        f"{p['checkouts']:.2f}/req, reused {p['reused']:.0%}, statuses "
                        f"{p['statuses']}, load {res['load']:.1f}"
                    )
                copy.unlink()
    finally:
        pass
    body = report(args, setup, variants, results, loads, setup_time, machine, markdown_table)
    shutil.rmtree(work, ignore_errors=True)
    print(body)
    if not args.no_write:
        name = "request-profile-live" if args.live else "request-profile"
        write_section(
            name,
            "Where a live-engine recommendation request's CPU goes (in-process, lists off)"
            if args.live
            else "Where a recommendation request's CPU goes (in-process)",
            body,
            "bench/request_profile.py",
        )
        print(f"wrote the {name} section of docs/benchmarks.md")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(args, setup, variants, results, loads, setup_time, machine, markdown_table) -> str:
    codes = [c for c, _ in variants]
    cols = [(c, name) for name in PASSES for c in codes]
    heads = [f"{c}, {name}" for c, name in cols]

    def passes(c: str, name: str) -> list[dict]:
        return [r["passes"][name] for r in results[c]]

    def med(c: str, name: str, fn) -> float:
        return _median([fn(p) for p in passes(c, name)])

    measures = [
        ("CPU ms per request (process, all threads)", lambda p: p["cpu_ms"], ".2f"),
        ("wall ms per request (one at a time)", lambda p: p["wall_ms"], ".2f"),
        ("store statements per request", lambda p: sum(p["statements"].values()), ".2f"),
        ("store sessions (connection check-outs) per request", lambda p: p["checkouts"], ".2f"),
        ("answers from the precomputed lists", lambda p: p["from_lists"], ".0%"),
        ("answers re-ranked before, reused", lambda p: p["reused"], ".0%"),
        ("requests", lambda p: p["requests"], ".0f"),
    ]
    rows = [[m, *[format(med(c, n, fn), f) for c, n in cols]] for m, fn, f in measures]
    summary = markdown_table(["", *heads], rows)
    ratio_rows = []
    if len(codes) == 2:
        for name in PASSES:
            a = med(codes[0], name, lambda p: p["cpu_ms"])
            b = med(codes[1], name, lambda p: p["cpu_ms"])
            ratio_rows.append([name, f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}x"])
    ratios = (
        "CPU per request, after / before (same run):\n\n"
        + markdown_table(["workers", codes[0], codes[1], "after / before"], ratio_rows)
        + "\n\n"
        if ratio_rows
        else ""
    )
    kinds = sorted(
        {
            k
            for r in results.values()
            for x in r
            for p in x["passes"].values()
            for k in p["statements"]
        }
    )
    stmt_rows = [
        [k, *[f"{med(c, n, lambda p, k=k: p['statements'].get(k, 0.0)):.2f}" for c, n in cols]]
        for k in kinds
    ]
    stmts = markdown_table(["statement", *heads], stmt_rows) if stmt_rows else "none"
    # CPU by part: a part's share of the samples x the CPU per request of that pass
    part_names = [p for p, _ in PARTS] + ["other", "outside the requests (background threads)"]
    per_part: dict[tuple[str, str], dict[str, float]] = {}
    samples: dict[tuple[str, str], int] = {}
    for c, n in cols:
        profs = [p for p in passes(c, n) if p.get("profile")]
        samples[(c, n)] = sum(p["profile"]["samples"] for p in profs)
        per_part[(c, n)] = {
            part: _median(
                [
                    p["profile"]["parts"].get(part, 0)
                    / max(p["profile"]["samples"], 1)
                    * p["cpu_ms"]
                    for p in profs
                ]
            )
            for part in part_names
        }
    part_rows = []
    for part in part_names:
        vals = [per_part[cn][part] for cn in cols]
        if all(v != v or v < 0.005 for v in vals):
            continue
        part_rows.append([part, *[f"{v:.2f}" for v in vals]])
    part_rows.append(
        [
            "**sum of the parts**",
            *[f"{sum(v for v in per_part[cn].values() if v == v):.2f}" for cn in cols],
        ]
    )
    parts = markdown_table(["part (CPU ms per request)", *heads], part_rows)
    leaves = []
    for c, n in cols:
        total: dict[str, int] = {}
        count = 0
        for p in passes(c, n):
            if p.get("profile"):
                count += p["profile"]["samples"]
                for f, k in p["profile"]["leaves"].items():
                    total[f] = total.get(f, 0) + k
        top = sorted(total.items(), key=lambda kv: -kv[1])[:6]
        leaves.append(
            f"Busiest leaf functions, {c}, {n}:\n\n"
            + markdown_table(
                ["function (file:line)", "share"],
                [[f.replace("|", "/")[:110], f"{k / max(count, 1):.1%}"] for f, k in top],
            )
        )
    sizes = f"{setup['n_open']:,} open vacancies, {setup['n_workers']:,} workers"
    return (
        f"`GET /api/v1/workers/{{id}}/recommendations?k=10` called straight through the app's "
        f"ASGI interface (`create_app()` as `jobmatch serve` builds it; no HTTP parsing, no "
        f"sockets, no clients), one request at a time, after a warm-up on other workers: "
        f"first one request for each of up to {args.requests:,} workers not asked before in "
        f"the process (**first time**), then {args.requests:,} requests for those workers "
        f"again in random order (**asked again**: an officer reopening a worker's page). "
        + (
            "Precomputed lists switched off (`JOBMATCH_PRECOMPUTED=0`): the live engine "
            "answers every request (one at a time here, so `recommend_many` of one worker). "
            if args.live
            else "Workers with precomputed lists. "
        )
        + f"Store: SQLite with {sizes}. Each variant measured "
        f"{args.rounds} times, alternating, each in a fresh process; medians. Machine: "
        f"{machine()}, shared with other jobs: load average during the runs "
        f"{min(loads):.1f}-{max(loads):.1f} (CPU time is what a request costs whatever the "
        f"load, though a busy machine inflates it too; wall time moves with the load).\n\n"
        + summary
        + "\n\n"
        + ratios
        + "Store statements per request, by kind:\n\n"
        + stmts
        + "\n\n**CPU by part** (py-spy `--gil` at 500 Hz during each pass: "
        + ", ".join(f"{samples[cn]:,} samples for {h}" for cn, h in zip(cols, heads, strict=True))
        + "; a part's ms = its share of the samples x the CPU per request of that pass; "
        "sample with a frame in `matcher/` is the engine's, any other goes to the part of "
        "its deepest frame that matches one: `PARTS` in the script):\n\n"
        + parts
        + "\n\n"
        + "\n\n".join(leaves)
        + "\n"
    )


if __name__ == "__main__":
    main()
