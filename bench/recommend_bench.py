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

Each timing is repeated ``--runs`` times and the median of the runs is reported. Also
timed: ``recommend_many`` per worker in batches (the service micro-batches concurrent
requests; the nightly run scores many workers with ``reasons=False``), and the
candidate recall: how many of the top 10 that the ranker would pick from ALL eligible
vacancies the retrieval channels hand to it (the cost of ranking only candidates).

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
from matcher.data.dataset import Dataset  # noqa: E402
from matcher.evaluation.baselines import KeywordRecommender  # noqa: E402
from matcher.serving.recommender import Recommender  # noqa: E402
from matcher.text.encoders import HashingEmbedder  # noqa: E402
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


def ranker_threads(
    model: Recommender, worker_id: str, calls: int
) -> tuple[list[list[object]], str, int]:
    """Wall ms of the ranker's first stage on one request's candidate pairs, with the
    process allowed on every core: sklearn's ``decision_function`` with as many
    OpenMP threads as cores (its default: one parallel region per tree) against the
    one-thread tree sum the request path uses. Same numbers (checked here)."""
    import threadpoolctl

    from matcher.models.features import RANKER_COLUMNS
    from matcher.models.ranking import STAGES, ranker_input, tree_sum

    cat = model.catalogue
    got = model.recommend(worker_id, k=100_000, reasons=False)
    vi = cat.vp.ids.get_indexer(pd.Index(got["vacancy_id"], dtype=object)).astype(np.int64)
    wi = np.full(len(vi), int(cat.wp.ids.get_indexer([worker_id])[0]), dtype=np.int64)
    values, _ = model.scorer.pair_values(cat, wi, vi)
    ranker = model.ranker_
    assert ranker is not None
    x = ranker.booster_input(ranker_input(values[:, : len(RANKER_COLUMNS)]))
    name = next(s for s in STAGES if not isinstance(ranker.stages_[s], float))
    booster = ranker.stages_[name].calibrated_classifiers_[0].estimator
    pinned = os.sched_getaffinity(0)
    n_cpu = os.cpu_count() or 1
    os.sched_setaffinity(0, set(range(n_cpu)))
    rows = []
    try:
        with threadpoolctl.threadpool_limits(n_cpu, "openmp"):
            assert np.array_equal(booster.decision_function(x), tree_sum(booster, x))
            for label, fn in (
                (f"sklearn decision_function, {n_cpu} OpenMP threads", booster.decision_function),
                ("one-thread tree sum (request path)", lambda a: tree_sum(booster, a)),
            ):
                ms = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    fn(x)
                    ms.append((time.perf_counter() - t0) * 1000)
                p50, p95, p99, _mean = percentiles(ms)
                rows.append([label, len(x), calls, round(p50, 2), round(p95, 2), round(p99, 2)])
    finally:
        os.sched_setaffinity(0, pinned)
    return rows, name, int(booster.n_iter_)


def serving_markets(
    train_workers: int, serving_workers: int, vacancies: int, seed: int
) -> tuple[Dataset, Dataset]:
    """The sample market a model is fitted on, and the serving market of ``vacancies``
    open vacancies (posted after training, every one open with seats) its catalogue is
    refreshed to: the set-up of the serving benchmarks."""
    train = Dataset.from_frames(**generate_market(train_workers, 120, weeks=16, seed=seed))
    big = Dataset.from_frames(
        **generate_market(
            serving_workers,
            4000,
            weeks=4,
            seed=seed + 1,
            with_events=False,
            n_vacancies=vacancies,
        )
    )
    v = big.vacancies.copy()
    v["status"] = "open"
    v["headcount"] = v["headcount"].fillna(0).clip(lower=1)
    v["closes_at"] = pd.NaT
    return train, Dataset(big.workers, big.employers, v, big.events)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vacancies", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--train-workers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--serving-workers", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3, help="timing runs (median reported)")
    ap.add_argument("--recall-workers", type=int, default=20)
    ap.add_argument("--thread-calls", type=int, default=300, help="ranker thread comparison")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    pinned = pin_one_core()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    t0 = time.perf_counter()
    train, big = serving_markets(
        args.train_workers, args.serving_workers, args.vacancies, args.seed
    )
    t_data = time.perf_counter() - t0
    print(f"markets: train {train.counts()}, serving {big.counts()} ({t_data:.0f} s)")

    t0 = time.perf_counter()
    model = Recommender(embedder=HashingEmbedder(dim=384), random_state=args.seed).fit(train)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.refresh(big)
    t_refresh = time.perf_counter() - t0
    n_open = len(model.catalogue.open_pos)
    print(f"fit {t_fit:.0f} s, refresh to {n_open} open vacancies {t_refresh:.0f} s")

    rng = np.random.default_rng(args.seed)
    ids = list(
        rng.choice(big.workers["worker_id"].to_numpy(dtype=object), args.requests, replace=False)
    )
    n_results = np.mean([len(model.recommend(w, k=10)) for w in ids[:20]])
    n_cands = np.mean([len(model.recommend(w, k=100_000, reasons=False)) for w in ids[:20]])
    t0 = time.perf_counter()
    keyword = KeywordRecommender().fit(big)
    t_kw = time.perf_counter() - t0

    timed: dict[str, list[list[float]]] = {}

    def record(name: str, ms: list[float]) -> None:
        timed.setdefault(name, []).append(ms)

    many_rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        cpu: list[float] = []
        record(
            "jobmatch Recommender (full), wall clock",
            time_requests(lambda w: model.recommend(w, k=10), ids, cpu),
        )
        record("jobmatch Recommender (full), CPU time", cpu)
        cpu = []
        record(
            "jobmatch, reasons=False, CPU time",
            (time_requests(lambda w: model.recommend(w, k=10, reasons=False), ids, cpu), cpu)[1],
        )
        cpu = []
        record(
            "keyword baseline (TF-IDF), wall clock",
            time_requests(lambda w: keyword.recommend(w, k=10), ids, cpu),
        )
        record("keyword baseline (TF-IDF), CPU time", cpu)
        for batch, with_reasons in ((16, True), (128, False)):
            c0 = time.process_time()
            for i in range(0, len(ids), batch):
                model.recommend_many(ids[i : i + batch], 10, reasons=with_reasons)
            label = f"batches of {batch}, reasons={with_reasons}"
            many_rows.setdefault(label, []).append((time.process_time() - c0) * 1000 / len(ids))

    rows = []
    for name, runs in timed.items():
        stats_ = np.array([percentiles(ms) for ms in runs])  # (runs, 4)
        p50, p95, p99, mean = np.median(stats_, axis=0)
        rows.append(
            [
                name,
                f"{len(runs[0])} x {len(runs)}",
                round(float(p50), 2),
                round(float(p95), 2),
                round(float(p99), 2),
                round(float(mean), 2),
            ]
        )
    table = markdown_table(
        ["model", "requests x runs", "p50 ms", "p95 ms", "p99 ms", "mean ms"], rows
    )
    many_table = markdown_table(
        ["recommend_many", "CPU ms per worker (median of runs)", "runs"],
        [[k, round(float(np.median(v)), 2), len(v)] for k, v in many_rows.items()],
    )

    # candidate recall: the ranker's top 10 over every eligible vacancy vs over candidates
    cat = model.catalogue
    overlap, kept = [], []
    for wid in ids[: args.recall_workers]:
        w = int(cat.wp.ids.get_indexer([wid])[0])
        vi = cat.open_pos[np.flatnonzero(model.worker_mask(cat, w))]
        best = model.rank_pairs(np.full(len(vi), w), vi, 10, "zh", by="worker", reasons=False)
        got = model.recommend(wid, k=10, reasons=False)
        if len(best) == 0:
            continue
        overlap.append(len(set(got["vacancy_id"]) & set(best["vacancy_id"])) / len(best))
        kept.append(got["score"].sum() / max(best["score"].sum(), 1e-12))
    thread_rows, stage, n_trees = ranker_threads(model, ids[0], args.thread_calls)
    thread_table = markdown_table(
        [
            f"ranker stage {stage!r}, {n_trees} trees",
            "pairs",
            "calls",
            "p50 ms",
            "p95 ms",
            "p99 ms",
        ],
        thread_rows,
    )
    p95 = rows[0][3]
    verdict = "meets" if p95 < 50 else "MISSES"
    p95_cpu = rows[1][3]
    verdict_cpu = "meets" if p95_cpu < 50 else "MISSES"
    p50_cpu = rows[1][2]
    verdict_engine = "meets" if p50_cpu <= 6 else "MISSES"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    body = f"""
One worker's top-10 against **{n_open:,} open vacancies**, single requests, one core
({pinned}; OpenMP/BLAS/torch threads 1). {len(ids)} requests for random workers
(after 5 warm-up requests), repeated {args.runs} times (each cell is the median over the
runs), the keyword baseline timed on the same workers in the same runs. A request = LightFM mat-vec + dense mat-vec (384-d vectors projected to a
{model.catalogue.open_text.row_vectors.shape[1]}-d principal subspace for retrieval; the ranker's
dense feature is the exact cosine) + sparse TF-IDF product + referral/network and
popularity gathers + eligibility mask + union of the top {model.n_candidates} of each of the five
channels ({n_cands:.0f} candidates on average) + pair features + three calibrated boosted
stages (the later stages only for pairs that can still reach the top 10) + reasons for
the 10 shown (on average {n_results:.1f} results per request).
A worker who may take fewer than half of the open vacancies is scored against those
only; the network and popularity channels add only vacancies with a pull (> 0).

{table}

p95 {p95} ms wall clock: {verdict} the target (< 50 ms); p95 {p95_cpu} ms of CPU time
per request: {verdict_cpu} it. Engine budget for the HTTP target (median CPU time
per `recommend` <= 6 ms): p50 {p50_cpu} ms, {verdict_engine} it. The machine is shared
(1-minute load average {load_before:.1f} at the start and {load:.1f} at the end of the run on
2 cores), so the wall clock includes time spent waiting for the core.

Batched scoring, the same {len(ids)} workers:

{many_table}

Ranker threads: the first learned stage ({stage}, {n_trees} trees) on one request's {thread_rows[0][1]}
candidate pairs, wall clock, process allowed on all cores of the shared machine (load
{os.getloadavg()[0]:.1f}); sklearn opens an OpenMP parallel region per tree, which waits
for a descheduled thread when the cores are busy. The request path sums the same
trees on one thread (identical numbers):

{thread_table}

Candidate recall ({len(overlap)} workers): of the 10 vacancies the ranker would pick
from all of a worker's eligible open vacancies (exhaustive ranking), the served top 10
holds {np.mean(overlap):.2f} on average, and
{np.mean(kept):.2f} of their summed P(stable placement) (min {np.min(kept):.2f}).
Retrieval, not the ranker, bounds what a request can find at this scale.

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
