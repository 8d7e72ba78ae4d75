"""Calibrated scores against the sample market's ground truth, before and after.

For each market variant (``training.synth.variants``) the bench generates the market
with its truth file (``training.synth.truth``: the true P(apply | proposed) x
P(hired | applied) x P(still there after 26 weeks | hired) of every eligible pair of a
seeking worker and an open vacancy at the snapshot), fits the engine on the market's
events and scores every seeking worker's top 10 at the snapshot; the truth is read by
this script only. It does so twice in the same run: with the code of ``--baseline-ref``
(a git commit, exported with ``git archive`` to a temporary folder: the engine before
calibration) and with the code of this checkout. Each engine runs in its own
subprocess on the same market files, one at a time.

Measured per variant and engine:

* NDCG@10 with the true value as gain (ideal: the worker's 10 best true values);
* calibration of the per-proposal probability over the proposals (each worker's top
  10): ECE (10 equal-count bins of the prediction), Brier score against the true
  value, and Brier of two constants: one for the market (the mean true value) and one
  per worker (the worker's own mean true value over its 10 proposals — an oracle
  constant that knows each worker's level);
* the plan: the min-cost-flow plan (``matcher.planning.assignment.plan_placements``, one
  placement per worker, seats as open at the snapshot, no welfare or household
  rules) on the engine's top-10 lists with its scores, valued with the true values,
  as a share of the oracle plan (the same flow over every eligible pair with the true
  values); and the same flow with the true values over the engine's lists (ranking
  loss vs calibration loss);
* ``recommend_many`` CPU milliseconds per worker (batches of all seeking workers) and
  the fit's seconds (load-dependent; the machine is shared).

    .venv/bin/python bench/calibration_bench.py --baseline-ref 7c3a86c
    .venv/bin/python bench/calibration_bench.py --variants default --no-write   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = ("default", "wage-driven", "distance-driven", "villager-retention", "scarce-seats")


def _market(folder: Path, variant: str, args: argparse.Namespace) -> None:
    from training.synth import build_market

    market = build_market(
        args.workers, args.employers, weeks=args.weeks, seed=args.seed, variant=variant
    )
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in market.frames.items():
        frame.to_pickle(folder / f"{name}.pkl")
    assert market.truth is not None
    market.truth.to_parquet(folder / "truth.parquet")


def measure(folder: Path) -> dict[str, object]:
    """Fit the engine on the code that is imported and measure it against the truth."""
    import numpy as np
    import pandas as pd

    from matcher.data.dataset import Dataset
    from matcher.planning.assignment import plan_placements
    from matcher.serving.recommender import Recommender
    from matcher.text.encoders import HashingEmbedder

    frames = {
        k: pd.read_pickle(folder / f"{k}.pkl")
        for k in ("workers", "employers", "vacancies", "events")
    }
    truth = pd.read_parquet(folder / "truth.parquet")
    ds = Dataset.from_frames(**frames)
    t0 = time.perf_counter()
    model = Recommender(embedder=HashingEmbedder(), random_state=0).fit(ds)
    fit_s = time.perf_counter() - t0
    ids = sorted(truth["worker_id"].unique())
    c0 = time.process_time()
    rec = model.recommend_many(ids, k=10, reasons=False)
    cpu = time.process_time() - c0
    value = truth.set_index(["worker_id", "vacancy_id"])["value"]
    key = pd.MultiIndex.from_frame(rec[["worker_id", "vacancy_id"]])
    rec["true"] = value.reindex(key).fillna(0.0).to_numpy()
    disc = 1 / np.log2(np.arange(2, 12))
    ideal = truth.sort_values(["worker_id", "value"], ascending=[True, False])
    ideal = ideal.groupby("worker_id").head(10).copy()
    ideal["r"] = ideal.groupby("worker_id").cumcount()
    idcg = (ideal["value"] * disc[ideal["r"]]).groupby(ideal["worker_id"]).sum()
    dcg = (rec["true"] * disc[rec["rank"] - 1]).groupby(rec["worker_id"]).sum()
    ndcg = (dcg.reindex(idcg.index).fillna(0.0) / idcg)[idcg > 0]
    p, y = rec["score"].to_numpy(dtype=float), rec["true"].to_numpy(dtype=float)
    edges = np.quantile(p, np.linspace(0, 1, 11))
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    ece = sum(abs(p[b == i].mean() - y[b == i].mean()) * (b == i).mean() for i in np.unique(b))
    per_worker = rec.groupby("worker_id")["true"].transform("mean").to_numpy()
    vac = frames["vacancies"]
    vac = vac[vac["vacancy_id"].isin(truth["vacancy_id"].unique())][["vacancy_id", "headcount"]]
    workers = pd.DataFrame({"worker_id": ids})
    plain = {"welfare_priority": 0.0, "monitored_weight": 1.0}

    def planned_value(cands: pd.DataFrame) -> float:
        plan = plan_placements(cands, workers, vac, **plain).plan
        k = pd.MultiIndex.from_frame(plan[["worker_id", "vacancy_id"]])
        return float(value.reindex(k).fillna(0.0).sum())

    oracle = planned_value(truth[["worker_id", "vacancy_id"]].assign(score=truth["value"]))
    engine = planned_value(rec[["worker_id", "vacancy_id", "score"]])
    true_on_lists = planned_value(rec[["worker_id", "vacancy_id"]].assign(score=rec["true"]))
    top1 = rec["rank"] == 1
    return {
        "seeking_workers": len(ids),
        "ndcg10_true": float(ndcg.mean()),
        "mean_score_top1": float(rec.loc[top1, "score"].mean()),
        "mean_true_top1": float(rec.loc[top1, "true"].mean()),
        "ece": float(ece),
        "brier": float(np.mean((p - y) ** 2)),
        "brier_market_constant": float(np.mean((y.mean() - y) ** 2)),
        "brier_worker_constant": float(np.mean((per_worker - y) ** 2)),
        "plan_share_of_oracle": engine / oracle if oracle else float("nan"),
        "true_values_on_engine_lists": true_on_lists / oracle if oracle else float("nan"),
        "oracle_expected_stable": oracle,
        "recommend_many_cpu_ms_per_worker": 1000 * cpu / max(1, len(ids)),
        "fit_seconds": fit_s,
    }


def _run(code: Path, folder: Path) -> dict[str, object]:
    """:func:`measure` in a subprocess importing the engine from ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--baseline-ref", default="7c3a86c", help="git commit of the baseline")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--workers", type=int, default=3000)
    ap.add_argument("--employers", type=int, default=120)
    ap.add_argument("--weeks", type=int, default=16)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.measure is not None:  # the engine comes from PYTHONPATH
        print("RESULT " + json.dumps(measure(args.measure)))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.report import extract_commit, machine, markdown_table, write_section

    rows: list[list[object]] = []
    results: dict[str, dict[str, dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="calibration-bench-") as tmp:
        base = extract_commit(args.baseline_ref, Path(tmp) / "baseline")
        for variant in args.variants:
            folder = Path(tmp) / variant
            _market(folder, variant, args)
            results[variant] = {}
            for name, code in (("baseline", base), ("calibrated", ROOT)):
                r = _run(code, folder)
                results[variant][name] = r
                print(variant, name, json.dumps(r), flush=True)
                rows.append(
                    [
                        variant,
                        name,
                        r["ndcg10_true"],
                        r["ece"],
                        r["brier"],
                        r["brier_market_constant"],
                        r["brier_worker_constant"],
                        r["mean_score_top1"],
                        r["mean_true_top1"],
                        r["plan_share_of_oracle"],
                        r["true_values_on_engine_lists"],
                        r["recommend_many_cpu_ms_per_worker"],
                    ]
                )
    headers = [
        "variant",
        "engine",
        "NDCG@10 (true gains)",
        "ECE",
        "Brier",
        "Brier market const.",
        "Brier worker const.",
        "top-1 score",
        "top-1 truth",
        "plan / oracle",
        "true values on lists / oracle",
        "recommend_many ms/worker",
    ]
    table = markdown_table(headers, rows)
    print(table)
    summary: list[list[object]] = []
    for name in ("baseline", "calibrated"):
        for metric in ("ndcg10_true", "ece", "brier", "plan_share_of_oracle"):
            vals = [float(results[v][name][metric]) for v in args.variants]  # type: ignore[arg-type]
            worst = max(vals) if metric in ("ece", "brier") else min(vals)
            summary.append([name, metric, sum(vals) / len(vals), worst])
    summary_table = markdown_table(["engine", "metric", "mean", "worst"], summary)
    print(summary_table)
    if not args.no_write:
        body = (
            f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Markets: "
            f"`build_market({args.workers}, {args.employers}, weeks={args.weeks}, "
            f"seed={args.seed}, variant=...)`, truth at the snapshot; engine "
            "`Recommender(embedder=HashingEmbedder(), random_state=0)` fitted on all "
            f"events; baseline = the code of commit `{args.baseline_ref}` (before "
            "calibration), same markets, same run. Proposals = each seeking worker's top 10. "
            "`recommend_many ms/worker`: CPU time of one call over all seeking workers, one "
            "run each (the machine is shared; a trend, not a latency figure: "
            "bench/recommend_bench.py measures latency)."
            "\n\n" + table + "\n\nMean and worst over the variants:\n\n" + summary_table
        )
        path = write_section(
            "calibration",
            "Calibrated scores against the ground truth",
            body,
            "bench/calibration_bench.py",
        )
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
