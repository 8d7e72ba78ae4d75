"""Request latency of one worker's recommendations against 100,000 open vacancies.

The model is fitted on a sample market (``training.synth.generate_market``), then its
catalogue is refreshed with a market of 100,000 open vacancies (the serving
situation: vacancies posted after training are served without retraining). Then
200+ single-worker ``recommend(worker_id, k=10)`` requests are timed on ONE core
(process pinned to CPU 0; OpenMP/BLAS/torch threads 1), with the keyword baseline
(TF-IDF job-board search behind the eligibility filter) timed on the same workers
in the same run.

The dense channel uses ``HashingEmbedder(dim=384)``: vectors of the same shape as
all-MiniLM-L6-v2, so the request does exactly the same arithmetic, while the
benchmark does not spend minutes encoding 100,000 texts (encoding happens at
refresh, never inside a request).

Run: ``.venv/bin/python bench/recommend_bench.py [--vacancies 100000] [--requests 300]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import markdown_table, write_section  # noqa: E402
from matcher.baselines import KeywordRecommender  # noqa: E402
from matcher.dataset import Dataset  # noqa: E402
from matcher.recommender import Recommender  # noqa: E402
from matcher.text import HashingEmbedder  # noqa: E402
from training.synth import generate_market  # noqa: E402


def pin_one_core() -> str:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    return f"pinned to CPU {sorted(os.sched_getaffinity(0))[0]}"


def percentiles(ms: list[float]) -> tuple[float, float, float, float]:
    a = np.asarray(ms)
    return (
        float(np.percentile(a, 50)),
        float(np.percentile(a, 95)),
        float(np.percentile(a, 99)),
        float(statistics.mean(ms)),
    )


def time_requests(fn, ids: list[str], cpu: list[float] | None = None) -> list[float]:
    """Wall-clock ms of each request (and, into ``cpu``, the process CPU ms: on a shared
    machine the wall time includes waiting for the core, the CPU time does not)."""
    for w in ids[:5]:  # warm-up
        fn(w)
    out = []
    for w in ids:
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn(w)
        out.append((time.perf_counter() - t0) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vacancies", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--train-workers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--serving-workers", type=int, default=2000)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    pinned = pin_one_core()

    t0 = time.perf_counter()
    train = Dataset.from_frames(
        **generate_market(args.train_workers, 120, weeks=16, seed=args.seed)
    )
    big = Dataset.from_frames(
        **generate_market(
            args.serving_workers,
            4000,
            weeks=4,
            seed=args.seed + 1,
            with_events=False,
            n_vacancies=args.vacancies,
        )
    )
    # every vacancy of the serving market open with seats, as in the target
    v = big.vacancies.copy()
    v["status"] = "open"
    v["headcount"] = v["headcount"].fillna(0).clip(lower=1)
    v["closes_at"] = pd.NaT
    big = Dataset(big.workers, big.employers, v, big.events)
    t_data = time.perf_counter() - t0
    print(f"markets: train {train.counts()}, serving {big.counts()} ({t_data:.0f} s)")

    t0 = time.perf_counter()
    model = Recommender(embedder=HashingEmbedder(dim=384), random_state=args.seed).fit(train)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.refresh(big)
    t_refresh = time.perf_counter() - t0
    n_open = len(model.catalogue_.open_pos)
    print(f"fit {t_fit:.0f} s, refresh to {n_open} open vacancies {t_refresh:.0f} s")

    rng = np.random.default_rng(args.seed)
    ids = list(
        rng.choice(big.workers["worker_id"].to_numpy(dtype=object), args.requests, replace=False)
    )
    ours_cpu: list[float] = []
    ours = time_requests(lambda w: model.recommend(w, k=10), ids, ours_cpu)
    n_results = np.mean([len(model.recommend(w, k=10)) for w in ids[:20]])
    n_cands = np.mean([len(model.recommend(w, k=100_000)) for w in ids[:20]])

    t0 = time.perf_counter()
    keyword = KeywordRecommender().fit(big)
    t_kw = time.perf_counter() - t0
    theirs_cpu: list[float] = []
    theirs = time_requests(lambda w: keyword.recommend(w, k=10), ids, theirs_cpu)

    rows = []
    for name, ms in (
        ("jobmatch Recommender (full), wall clock", ours),
        ("keyword baseline (TF-IDF), wall clock", theirs),
        ("jobmatch Recommender (full), CPU time", ours_cpu),
        ("keyword baseline (TF-IDF), CPU time", theirs_cpu),
    ):
        p50, p95, p99, mean = percentiles(ms)
        rows.append([name, len(ms), round(p50, 2), round(p95, 2), round(p99, 2), round(mean, 2)])
    table = markdown_table(["model", "requests", "p50 ms", "p95 ms", "p99 ms", "mean ms"], rows)
    p95 = rows[0][3]
    verdict = "meets" if p95 < 50 else "MISSES"
    p95_cpu = rows[2][3]
    verdict_cpu = "meets" if p95_cpu < 50 else "MISSES"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body = f"""
One worker's top-10 against **{n_open:,} open vacancies**, single requests, one core
({pinned}; OpenMP/BLAS/torch threads 1). {len(ours)} requests for random workers
(after 5 warm-up requests), the keyword baseline timed on the same workers in the
same run. A request = LightFM mat-vec + dense mat-vec (384-d vectors projected to a
{model.catalogue_.open_text.dense.shape[1]}-d principal subspace for retrieval; the ranker's
dense feature is the exact cosine) + sparse TF-IDF product + referral/network and
popularity gathers + eligibility mask + union of the top {model.n_candidates} of each of the five
channels ({n_cands:.0f} candidates on average) + pair features + three calibrated boosted
stages + reasons for the 10 shown (on average {n_results:.1f} results per request).

{table}

p95 {p95} ms wall clock: {verdict} the target (< 50 ms); p95 {p95_cpu} ms of CPU time
per request: {verdict_cpu} it. The machine is shared (load average {load:.1f} on 2 cores at
the end of the run), so the wall clock includes time spent waiting for the core.

Set-up: model fitted on a {train.n_workers:,}-worker, {train.n_vacancies:,}-vacancy sample
market with {len(train.events):,} events in {t_fit:.0f} s; catalogue refreshed to the serving
market ({big.n_workers:,} workers, {big.n_vacancies:,} vacancies) in {t_refresh:.0f} s;
keyword baseline fitted on the serving market in {t_kw:.0f} s. Dense channel:
`HashingEmbedder(dim=384)` (same shape as all-MiniLM-L6-v2; encoding happens at
refresh, never in a request).
"""
    print(body)
    if not args.no_write:
        write_section(
            "recommend",
            "Recommendation latency (one worker vs 100,000 open vacancies)",
            body,
            "bench/recommend_bench.py",
        )


if __name__ == "__main__":
    main()
