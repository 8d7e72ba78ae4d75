"""Benchmark of the nightly matching run (issue 6).

(a) Scale, measured end to end: a 1,000,000-worker x 50,000-vacancy sample market
    (``generate_market(..., with_events=False)``, 1% of workers in village groups of 5)
    goes through ``service.nightly.run_match`` -- the real nightly run -- on a Dask
    ``LocalCluster`` of 2 single-threaded processes: input hash and active workers, the
    catalogue refresh with tonight's vacancies, the batch scorer's preparation (county
    priors, weights), scoring of EVERY active worker (top K eligible vacancies with the
    model's ranker, :mod:`matcher.serving.batch`), the min-cost-flow assignment, reasons for the
    planned pairs, and the plan written to plan.csv and to a SQLite store (run row and
    plan rows). Not in the run's time (setup, reported separately): generating the market,
    fitting the model on a small market with events, starting the cluster. The store is
    not loaded with the million workers (the run takes the snapshot as a Dataset;
    ``bench/import_bench.py`` measures store loading).
(b) Quality of the batch path against the exact one (``recommend_many``, every channel's
    top ``n_candidates`` ranked): top-K overlap, top-1 agreement and mean scores on a
    sample of the big market's workers; and on a smaller market with events, the plan's
    objective against the exact LP bound (GLOP) on the same candidates (target: within
    2%), with the batch path's candidates and with the exact path's.

Run: ``python bench/match_bench.py`` (full size) or ``--workers 100000`` for a quicker
look. Writes the ``match`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.report import LoadSampler, markdown_table, write_section  # noqa: E402
from matcher.data.dataset import Dataset  # noqa: E402
from matcher.planning.assignment import lp_upper_bound, plan_placements  # noqa: E402
from matcher.serving.batch import BatchScorer  # noqa: E402
from matcher.serving.recommender import Recommender  # noqa: E402
from matcher.text.encoders import HashingEmbedder  # noqa: E402
from service.nightly import (  # noqa: E402
    active_workers,
    pairs_not_proposed,
    run_match,
    score_candidates,
    snapshot_time,
)
from training.synth import generate_market  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg} (load {os.getloadavg()[0]:.1f})", flush=True)


def clock(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def add_groups(workers: pd.DataFrame, share: float, size: int, seed: int) -> pd.DataFrame:
    """Village groups: ``share`` of workers, ``size`` from one home county each."""
    rng = np.random.default_rng(seed)
    w = workers.copy()
    n_groups = int(len(w) * share / size)
    by_county = w.groupby("home_region").indices
    counties = [c for c, idx in by_county.items() if len(idx) >= size]
    gid = np.full(len(w), None, dtype=object)
    taken: set[int] = set()
    for g in range(n_groups):
        county = counties[int(rng.integers(len(counties)))]
        pool = [i for i in by_county[county][:400] if i not in taken]
        if len(pool) < size:
            continue
        members = rng.choice(pool, size, replace=False)
        taken.update(members.tolist())
        gid[members] = f"G{g:06d}"
    w["group_id"] = gid
    return w


def big_market(n_workers: int, n_employers: int, n_vacancies: int) -> Dataset:
    """The real-size market of the nightly benches: ``generate_market(..., weeks=16,
    seed=5, with_events=False)`` with 1% of workers in village groups of 5."""
    big = generate_market(
        n_workers, n_employers, weeks=16, seed=5, with_events=False, n_vacancies=n_vacancies
    )
    workers = add_groups(big["workers"], 0.01, 5, seed=7)
    return Dataset.from_frames(workers, big["employers"], big["vacancies"], big["events"])


def agreement(batch: pd.DataFrame, exact: pd.DataFrame, ids: list[str], k: int) -> dict:
    """How much the batch path's top K agrees with the exact path's on the same workers."""
    a = batch.groupby("worker_id")["vacancy_id"].apply(set)
    b = exact.groupby("worker_id")["vacancy_id"].apply(set)
    overlap = [len(a.get(i, set()) & b.get(i, set())) / max(1, len(b.get(i, set()))) for i in ids]
    top_a = batch[batch["rank"] == 1].set_index("worker_id")["vacancy_id"].reindex(ids)
    top_b = exact[exact["rank"] == 1].set_index("worker_id")["vacancy_id"].reindex(ids)
    return {
        "overlap": float(np.mean(overlap)),
        "top1": float((top_a == top_b).mean()),
        "mean_batch": float(batch["score"].mean()),
        "mean_exact": float(exact["score"].astype(float).mean()),
        "top1_batch": float(batch.loc[batch["rank"] == 1, "score"].mean()),
        "top1_exact": float(exact.loc[exact["rank"] == 1, "score"].astype(float).mean()),
        "per_worker_batch": len(batch) / max(1, len(ids)),
        "per_worker_exact": len(exact) / max(1, len(ids)),
    }


#: worker columns no scorer reads (identity, contact, bookkeeping): two workers equal in
#: every other column get the same list
IDENTITY_COLUMNS = (
    "worker_id",
    "name",
    "phone",
    "id_number",
    "registered_at",
    "household_id",
    "group_id",
)

#: the plan's group rules compared in the same run (matcher.planning.assignment.plan_placements)
RULES = (
    ("value (exact solve when small)", {}),
    ("value, scalable step only", {"exact_limit": 0}),
    ("groups first (earlier rule)", {"group_rule": "first"}),
)


def lp_rows(
    label: str, cands: pd.DataFrame, workers: pd.DataFrame, vac: pd.DataFrame, repeats: int
):
    rows = []
    for variant, v in (
        ("seats as posted", vac),
        ("one seat per vacancy (contested)", vac.assign(headcount=1)),
    ):
        bound, t_lp = clock(lambda v=v: lp_upper_bound(cands, workers, v))
        for rule, options in RULES:
            runs = []
            res = None
            for _ in range(repeats):
                res, dt = clock(lambda v=v, o=options: plan_placements(cands, workers, v, **o))
                runs.append(dt)
            assert res is not None
            gap = (bound - res.objective) / bound if bound > 0 else 0.0
            rows.append(
                [
                    label,
                    variant,
                    rule,
                    len(cands),
                    res.stats["placed"],
                    f"{res.stats['groups_placed']}/{res.stats['groups']}",
                    round(res.objective, 2),
                    round(bound, 2),
                    f"{100 * gap:.3f}%",
                    round(statistics.median(runs), 3),
                    round(t_lp, 2),
                ]
            )
            log(
                f"   {label}, {variant}, {rule}: objective {res.objective:.2f}, LP {bound:.2f}, "
                f"gap {100 * gap:.3f}%"
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, default=1_000_000)
    ap.add_argument("--vacancies", type=int, default=50_000)
    ap.add_argument("--employers", type=int, default=5_000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--sample", type=int, default=300, help="workers scored both ways")
    ap.add_argument("--small-workers", type=int, default=3_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the small assignment")
    ap.add_argument(
        "--shortlists",
        type=lambda t: [int(x) for x in t.split(",") if x],
        default=[128],
        help="further pre-score shortlists whose agreement is measured (comma-separated)",
    )
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    k = args.k
    body: list[str] = []
    log(f"start; {os.cpu_count()} cores")

    # ------------------------------------------------------------------ model (setup)
    small, _ = clock(
        lambda: generate_market(
            args.small_workers, max(20, args.small_workers // 20), weeks=12, seed=5
        )
    )
    sds = Dataset.from_frames(
        small["workers"], small["employers"], small["vacancies"], small["events"]
    )
    model, t_fit = clock(
        lambda: Recommender(embedder=HashingEmbedder(), epochs=5, max_iter=50, random_state=0).fit(
            sds
        )
    )
    log(f"model fitted in {t_fit:.1f} s on {sds.counts()}")

    # ------------------------------------------------------------------ (b) LP gap
    sw = add_groups(small["workers"], 0.05, 4, seed=3)
    sds_g = Dataset.from_frames(sw, small["employers"], small["vacancies"], small["events"])
    s_at = snapshot_time(sds_g)
    model.refresh(sds_g, at=s_at)
    s_workers = active_workers(sds_g)
    s_vac = sds_g.open_vacancies(s_at)
    (s_exact, _), t_s_exact = clock(
        lambda: score_candidates(model, s_workers["worker_id"].tolist(), k=k)
    )
    s_batch, t_s_batch = clock(
        lambda: BatchScorer(model).prepare(s_workers).score(s_workers, pairs_not_proposed(sds_g), k)
    )
    gap_rows = lp_rows("batch", s_batch, s_workers, s_vac, args.repeats)
    gap_rows += lp_rows("exact", s_exact, s_workers, s_vac, args.repeats)
    small_agree = agreement(s_batch, s_exact, s_workers["worker_id"].tolist(), k)

    # ------------------------------------------------------------------ (a) scale
    log(f"(a) generating the {args.workers:,} x {args.vacancies:,} market (setup)")
    bds, t_gen = clock(lambda: big_market(args.workers, args.employers, args.vacancies))
    at = snapshot_time(bds)
    b_vac = bds.open_vacancies(at)
    log(
        f"   generated in {t_gen:.0f} s; {len(b_vac):,} open vacancies, {int(b_vac['headcount'].sum()):,} seats"
    )

    from distributed import Client, LocalCluster

    from service.store.migrate import ensure_schema

    tmp = Path(tempfile.mkdtemp(prefix="match_bench_"))
    url = f"sqlite:///{tmp / 'store.db'}"
    ensure_schema(url)
    (cluster, client), t_cluster = clock(
        lambda: (
            c := LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ),
            Client(c),
        )
    )
    log(f"   LocalCluster of 2 processes up in {t_cluster:.1f} s; the run starts")
    load_before = os.getloadavg()
    sampler = LoadSampler(every=5.0)
    # CPU seconds used by this process and the Dask workers: on a shared machine the
    # wall clock depends on the others' load, the CPU time does not
    cpu_main0 = time.process_time()
    cpu_workers0 = sum(client.run(time.process_time).values())
    try:
        with sampler:
            run, t_run = clock(
                lambda: run_match(
                    url,
                    model=model,
                    model_version="bench",
                    dataset=bds,
                    scheduler=client,
                    use_settings_scheduler=False,
                    k=k,
                    out=tmp / "plan.csv",
                    as_of=at,
                    progress=log,
                    keep_candidates=True,
                )
            )
        cpu_main = time.process_time() - cpu_main0
        cpu_workers = sum(client.run(time.process_time).values()) - cpu_workers0
    finally:
        client.close()
        cluster.close()
    load_during = sampler.summary()
    log(f"   run {run.status} in {t_run:.0f} s: {run.counts.get('placed'):,} placed")
    # the assignment again on the run's own candidates, each group rule, in this process
    assert run.candidates is not None
    b_workers = active_workers(bds)
    scale_rows = []
    for rule, options in RULES:
        res, dt = clock(lambda o=options: plan_placements(run.candidates, b_workers, b_vac, **o))
        scale_rows.append(
            [
                rule,
                f"{dt:.0f} s",
                f"{res.stats['placed']:,}",
                f"{res.stats['groups_placed']:,}/{res.stats['groups']:,}",
                f"{res.objective:.1f}",
                f"{res.stats['expected_stable_placements']:.1f}",
                res.stats["plan_method"],
            ]
        )
        log(f"   re-planned ({rule}) in {dt:.0f} s: objective {res.objective:.1f}")
    run.candidates = None
    with open(tmp / "plan.csv", encoding="utf-8") as fh:
        plan_rows = sum(1 for _ in fh) - 1

    # agreement on a sample of the big market's workers, both paths
    rng = np.random.default_rng(1)
    b_active = active_workers(bds)
    sample = b_active.iloc[np.sort(rng.choice(len(b_active), args.sample, replace=False))]
    ids = sample["worker_id"].tolist()
    model.refresh(
        Dataset(sample.reset_index(drop=True), bds.employers, bds.vacancies, bds.events), at=at
    )
    exact, t_exact = clock(lambda: model.recommend_many(ids, k, reasons=False))
    scorer = BatchScorer(model).prepare(b_active)
    batch, t_batch = clock(lambda: scorer.score(sample, pairs_not_proposed(bds), k))
    agree = agreement(batch, exact, ids, k)
    exact_rate = len(ids) / t_exact
    log(f"   agreement on {len(ids)} workers: {agree}")
    # the batch path's candidate modes on the same sample, in this process (CPU time)
    b_pursued = pairs_not_proposed(bds)
    modes = [
        (f"pre-score shortlist {scorer.shortlist} (the run's; same lists as before)", scorer),
        *(
            (f"pre-score shortlist {m}", BatchScorer(model, shortlist=m).prepare(b_active))
            for m in args.shortlists
        ),
        ('live candidates (`candidates="live"`)', BatchScorer(model, candidates="live")),
    ]
    mode_rows = []
    for label, mode in modes:
        c0 = time.process_time()
        got = mode.score(sample, b_pursued, k)
        cpu = time.process_time() - c0
        a = agreement(got, exact, ids, k)
        per_worker = cpu / max(1, len(ids))
        mode_rows.append(
            [
                label,
                f"{100 * a['overlap']:.1f}%",
                f"{100 * a['top1']:.1f}%",
                f"{a['mean_batch']:.5f}",
                f"{1000 * per_worker:.1f} ms",
                f"{args.workers * per_worker / 2 / 60:.0f} min",
            ]
        )
        log(f"   {label}: overlap {a['overlap']:.3f}, {1000 * per_worker:.1f} ms CPU per worker")
    # identical scoring inputs: workers who differ only in fields no scorer reads
    inputs = b_active.drop(columns=[c for c in IDENTITY_COLUMNS if c in b_active.columns])
    distinct_inputs = len(inputs.astype(str).drop_duplicates())

    tm = run.timings
    stage_rows = [
        ["inputs: active workers, open vacancies, pins, input hash", f"{tm['load_seconds']:.0f} s"],
        [
            f"catalogue refresh ({len(bds.vacancies):,} vacancies, pinned workers)",
            f"{tm['refresh_seconds']:.0f} s",
        ],
        [
            "batch scorer preparation (county priors, weights; scattered once)",
            f"{tm['prepare_seconds']:.0f} s",
        ],
        [
            f"scoring {run.counts['active_workers']:,} workers, top {k} of {run.counts['open_vacancies']:,} open "
            f"vacancies ({run.summary['dask']['partitions']} partitions on 2 Dask processes)",
            f"{tm['score_seconds']:.0f} s",
        ],
        [
            f"assignment: {run.counts['candidates']:,} candidate pairs, {run.counts['seats']:,} seats, "
            f"{run.counts['groups']:,} groups",
            f"{tm['assign_seconds']:.0f} s",
        ],
        [
            f"reasons for the {run.counts['placed']:,} planned pairs",
            f"{tm.get('explain_seconds', 0):.0f} s",
        ],
        ["summaries, plan.csv and the store (run row, plan rows)", f"{tm['write_seconds']:.0f} s"],
        [
            "**the run, end to end (wall clock of `run_match`)**",
            f"**{t_run:.0f} s = {t_run / 60:.1f} min**",
        ],
    ]
    setup_rows = [
        ["market generation", f"{t_gen:.0f} s"],
        [f"model fit on {sds.counts()['workers']:,} workers with events", f"{t_fit:.0f} s"],
        ["LocalCluster start", f"{t_cluster:.1f} s"],
    ]
    body.append(
        f"### (a) {args.workers:,} workers x {args.vacancies:,} vacancies, end to end\n\n"
        f"`generate_market({args.workers}, {args.employers}, with_events=False, "
        f"n_vacancies={args.vacancies})`: {len(b_vac):,} vacancies open at the snapshot time, "
        f"{int(b_vac['headcount'].sum()):,} seats, 1% of workers in village groups of 5. "
        "The Recommender (HashingEmbedder, 5 LightFM epochs, 50 boosting rounds) is fitted on "
        f"a {sds.counts()['workers']:,}-worker market with events. One run of "
        "`service.nightly.run_match` (batch scoring, Dask LocalCluster of 2 single-threaded "
        "processes, plan written to plan.csv and to a SQLite store). The 15-minute target "
        "is measured on the last row: everything from the snapshot in memory to the plan "
        "stored; the store load of a million workers is not in it (see the import "
        "benchmark), nor the setup below.\n\n"
        + markdown_table(["stage of the run", "time"], stage_rows)
        + f"\n\nResult: {run.status}, {run.counts['placed']:,} placed ({plan_rows:,} rows in "
        f"plan.csv), {run.counts['groups_placed']:,} of {run.counts['groups']:,} groups placed, "
        f"objective {run.objective:.1f} (the plan's weighted gain, see matcher.planning.assignment), "
        f"{run.counts['expected_stable_placements']:.1f} expected stable placements if every "
        "planned pair is proposed (sum of P(apply) x P(hire | apply) x P(stay | hire)). "
        "Load average (1 min) "
        f"before the run {load_before[0]:.1f}; during it min / mean / max {load_during} "
        "(the machine is shared; 2 cores). CPU time of the run: "
        f"{cpu_main:.0f} s in the driver process, {cpu_workers:.0f} s in the 2 Dask worker "
        f"processes together ({(cpu_main + cpu_workers) / 60:.1f} CPU-minutes).\n\n"
        "Setup, not in the run:\n\n"
        + markdown_table(["setup", "time"], setup_rows)
        + "\n\n**The assignment by group rule**, re-run after the run in the driver process "
        "on the run's own candidate pairs (same workers, vacancies and seats; the first row's "
        "rule is the run's): `plan_placements` wall clock, placements, groups placed, the "
        "weighted objective and the expected stable placements (sum of the planned pairs' "
        "scores). At this size the exact solve does not run (more open edges than "
        "`exact_limit`), so the first two rows do the same work.\n\n"
        + markdown_table(
            [
                "group rule",
                "assignment",
                "placed",
                "groups placed",
                "objective",
                "expected stable",
                "method",
            ],
            scale_rows,
        )
    )
    body.append(
        "### (b) quality of the batch path\n\n"
        f"**Agreement with `recommend_many`** on {len(ids)} random active workers of the big "
        f"market (same model, same catalogue), top {k}: the batch path ranks "
        f"{scorer.shortlist} pre-scored pairs per worker, the exact path the union of every "
        f"channel's top {model.n_candidates}.\n\n"
        + markdown_table(
            [
                "market",
                "top-K overlap",
                "top-1 same",
                "mean score top K (batch / exact)",
                "mean score top 1 (batch / exact)",
            ],
            [
                [
                    f"big ({len(ids)} workers)",
                    f"{100 * agree['overlap']:.1f}%",
                    f"{100 * agree['top1']:.1f}%",
                    f"{agree['mean_batch']:.5f} / {agree['mean_exact']:.5f}",
                    f"{agree['top1_batch']:.5f} / {agree['top1_exact']:.5f}",
                ],
                [
                    f"small ({len(s_workers)} workers)",
                    f"{100 * small_agree['overlap']:.1f}%",
                    f"{100 * small_agree['top1']:.1f}%",
                    f"{small_agree['mean_batch']:.5f} / {small_agree['mean_exact']:.5f}",
                    f"{small_agree['top1_batch']:.5f} / {small_agree['top1_exact']:.5f}",
                ],
            ],
        )
        + "\n\n**The batch path's candidate modes** (`matcher.serving.batch.BatchScorer`) on "
        f"the same {len(ids)} workers in one process, against `recommend_many` (whose "
        f"candidates are the union of each channel's top {model.n_candidates} and the ranker "
        "proxy's best 1,000): top-K overlap, top-1 agreement, mean score of the top K, CPU "
        f"per worker and the scoring time of {args.workers:,} workers on 2 processes at that "
        "rate (extrapolated; the run's other stages not included). The live mode ranks "
        "each worker's live candidates with the same `PairScorer.rank_top`, so its lists "
        "are `recommend_many`'s (tests/nightly/test_batch_scoring.py proves it on a small "
        "market).\n\n"
        + markdown_table(
            [
                "candidates",
                "top-K overlap",
                "top-1 same",
                "mean score top K",
                "CPU per worker",
                f"{args.workers:,} workers, 2 processes",
            ],
            mode_rows,
        )
        + f"\n\nIdentical scoring inputs: {distinct_inputs:,} distinct workers of "
        f"{len(b_active):,} active ones once the columns no scorer reads "
        f"({', '.join(IDENTITY_COLUMNS)}) are left out, so scoring each distinct input "
        "once would save "
        f"{100 * (1 - distinct_inputs / max(1, len(b_active))):.2f}% of the work on this market "
        "(free-text skills and work history differ from worker to worker).\n\n"
        + f"Baseline in the same run: the exact path scored the sample at "
        f"{exact_rate:.0f} workers/s in one process ({args.workers / exact_rate / 3600:.1f} h "
        f"for {args.workers:,} workers in one process, extrapolated), the batch path at "
        f"{len(ids) / t_batch:.0f} workers/s on the same sample.\n\n"
        f"**Objective against the exact LP bound.** Small market ({args.small_workers:,} workers "
        f"with events, 5% of them in village groups of 4; {len(s_workers):,} active workers, "
        f"{len(s_vac):,} open vacancies, {int(s_vac['headcount'].sum()):,} seats); candidates "
        f"= the top {k} per active worker from the batch path (scored in {t_s_batch:.1f} s) or "
        f"the exact path ({t_s_exact:.1f} s). Bound: LP relaxation (groups as option variables) "
        f"with GLOP on the same candidates. Plan time: median of {args.repeats} runs.\n\n"
        + markdown_table(
            [
                "candidates",
                "variant",
                "group rule",
                "pairs",
                "placed",
                "groups placed",
                "objective",
                "LP bound",
                "gap",
                "plan s",
                "LP s",
            ],
            gap_rows,
        )
    )
    text = "\n\n".join(body)
    print(text)
    if not args.no_write:
        write_section("match", "Nightly matching run", text, "bench/match_bench.py")
        log("wrote the match section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
