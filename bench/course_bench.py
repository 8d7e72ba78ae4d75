"""Training suggestions on the sample market: cost of re-scoring, and the county view's
sampled totals against the exact totals over every worker of the county.

The market is ``make sample``'s (``training.synth.generate_market(3000, 120, weeks=40,
seed=7)``); the model a ``Recommender(random_state=0)`` with the packaged sentence model
(``--hashing``: the HashingEmbedder) fitted on it. Measured:

* one worker (what ``GET /workers/{id}/training-suggestions`` computes):
  ``matcher.serving.courses.course_effects`` for one worker, median over ``--workers-timed``
  workers of the county;
* the county view: the exact reference is ``course_effects`` over every worker of the
  county (the home county with the most workers); each sample size re-scores a seeded
  sample (the service's sampling) and estimates each course's total as mean gain x
  county size. Reported: time, the largest error of a course's total relative to the
  exact total of the best course, whether the best course is the same, and Spearman's
  rank correlation of the courses' totals.

    .venv/bin/python bench/course_bench.py [--hashing] [--small] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import LoadSampler, machine, markdown_table, write_section  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3000)
    parser.add_argument("--employers", type=int, default=120)
    parser.add_argument("--weeks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", default="50,100,200")
    parser.add_argument("--workers-timed", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--hashing", action="store_true")
    parser.add_argument(
        "--small",
        action="store_true",
        help="fit with the service tests' small parameters (3 LightFM epochs, 8 components, "
        "20 boosting rounds): a short fit on a busy machine; the booster then costs less "
        "per pair than the default one",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    from matcher.data.dataset import Dataset
    from matcher.serving.courses import course_effects, load_courses
    from matcher.serving.recommender import Recommender
    from training.synth import generate_market

    print(f"machine: {machine()}", flush=True)
    t0 = time.perf_counter()
    frames = generate_market(args.workers, args.employers, weeks=args.weeks, seed=args.seed)
    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    print(f"market in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.hashing:
        from matcher.text.encoders import HashingEmbedder

        embedder = HashingEmbedder()
        embedder_name = "HashingEmbedder"
    else:
        from matcher.text.encoders import embedder_from_env

        embedder = embedder_from_env()
        embedder_name = "the packaged all-MiniLM-L6-v2"
    t0 = time.perf_counter()
    small = {"epochs": 3, "no_components": 8, "n_clusters": 4, "max_iter": 20} if args.small else {}
    model = Recommender(random_state=0, embedder=embedder, **small).fit(ds)
    fit_s = time.perf_counter() - t0
    print(f"fitted in {fit_s:.0f} s; stable_weeks={model.stable_weeks}", flush=True)
    courses = load_courses()
    workers = model.catalogue_.workers
    n_open = len(model.catalogue_.open_pos)
    county = workers["home_region"].value_counts().index[0]
    people = workers[workers["home_region"] == county].reset_index(drop=True)
    population = len(people)
    print(f"county {county}: {population} workers; {n_open} open vacancies", flush=True)

    results: list[list[object]] = []
    with LoadSampler() as load:
        one = []
        for i in range(min(args.workers_timed, population)):
            t = time.perf_counter()
            course_effects(model, people.iloc[[i]], courses, k=args.k)
            one.append(time.perf_counter() - t)
        one_s = statistics.median(one)
        print(f"one worker: median {one_s:.2f} s over {len(one)}", flush=True)
        t = time.perf_counter()
        exact = course_effects(model, people, courses, k=args.k)
        exact_s = time.perf_counter() - t
        print(f"exact county: {exact_s:.1f} s", flush=True)
        ids = [c.course_id for c in courses]
        exact_total = (
            exact.groupby("course_id")["extra_expected_placements"].sum().reindex(ids).fillna(0.0)
        )
        best = exact_total.idxmax()
        results.append(
            [
                f"exact: every worker ({population})",
                round(exact_s, 1),
                "—",
                best,
                "—",
            ]
        )
        rng = np.random.default_rng(0)  # the service's sampling
        for n in [int(x) for x in args.samples.split(",")]:
            if n >= population:
                continue
            rng = np.random.default_rng(0)
            chosen = sorted(
                rng.choice(people["worker_id"].to_numpy(dtype=object), n, replace=False)
            )
            rows = people.set_index("worker_id", drop=False).loc[chosen].reset_index(drop=True)
            t = time.perf_counter()
            got = course_effects(model, rows, courses, k=args.k)
            took = time.perf_counter() - t
            gains = got.groupby("course_id")["extra_expected_placements"].sum().reindex(ids)
            estimate = gains.fillna(0.0) / n * population
            err = float((estimate - exact_total).abs().max() / max(exact_total.max(), 1e-9))
            rho = float(spearmanr(estimate.to_numpy(), exact_total.to_numpy()).statistic)
            results.append(
                [
                    f"sample of {n}",
                    round(took, 1),
                    f"{100 * err:.1f}%",
                    estimate.idxmax() + (" (same)" if estimate.idxmax() == best else " (differs)"),
                    f"{rho:.2f}",
                ]
            )
            print(results[-1], flush=True)

    table = markdown_table(
        [
            "county view",
            "re-scoring s",
            "largest error of a course total (share of the best course's exact total)",
            "best course",
            "Spearman vs exact",
        ],
        results,
    )
    totals = pd.DataFrame(
        {
            "course": [c.name for c in courses],
            "exact total": exact_total.round(2).to_numpy(),
            "workers gaining": [
                int(
                    (
                        exact[exact["course_id"] == c.course_id]["extra_expected_placements"]
                        >= 0.005
                    ).sum()
                )
                for c in courses
            ],
            "unlocking for workers": [
                int((exact[exact["course_id"] == c.course_id]["vacancies_unlocked"] > 0).sum())
                for c in courses
            ],
        }
    ).sort_values("exact total", ascending=False)
    totals_table = markdown_table(list(totals.columns), totals.values.tolist())
    print(table)
    print(totals_table)
    body = f"""
Market: `training.synth.generate_market({args.workers}, {args.employers}, weeks={args.weeks},
seed={args.seed})` (`make sample`'s), {n_open:,} vacancies open at the snapshot. Model:
`Recommender(random_state=0{", " + ", ".join(f"{k}={v}" for k, v in small.items()) if small else ""})`
with {embedder_name}, fitted in {fit_s:.0f} s
(calibrated: {model.stable_weeks is not None}). Courses: the {len(courses)} of
`matcher/data/training_courses.csv`; expected placements over the top {args.k}.
County: {county}, the home county with the most workers ({population:,}; every registered
worker of the county, the bench has no store to tell job-seekers apart).

One worker (`GET /api/v1/workers/{{id}}/training-suggestions`): median
{one_s:.2f} s over {len(one)} workers.

The county view against the exact reference (every worker re-scored), in the same run:

{table}

Exact totals per course over the county (expected stable placements added, summed over its
workers; workers gaining at least 0.005; workers for whom it unlocks any vacancy):

{totals_table}

Load average (1 min) while timing: {load.summary()} (min / mean / max) on
{os.cpu_count()} cores; the times include contention from other processes.
"""
    if not args.no_write:
        path = write_section(
            "courses",
            "Training suggestions (re-scoring with a course)",
            body,
            "bench/course_bench.py",
        )
        print(f"wrote the courses section of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
