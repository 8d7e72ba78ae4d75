"""The engine's per-proposal score with and without its last two steps, on the SAME model,
against the ground truth of the sample markets (issue 12).

``bench/truth_bench.py --workdir DIR`` keeps each variant's market, store and trained
model. This script loads each of them and scores every active worker's top 10 four
ways, changing only how the ranker's stages become the served score:

* **per-stage**: the product of the stages calibrated one by one on the later slice (the
  score before issue 12's joint calibration and availability);
* **+ joint**: that product through the joint map fitted on the slice's proposals
  (``ranker.joint_``, :class:`matcher.models.calibration.JointCalibrator`);
* **+ availability**: the per-stage product times the worker's P(looking for work)
  (:mod:`matcher.models.availability`);
* **+ joint + availability**: the served score of this checkout.

For each: ECE over the top-10 pairs (10 equal-count bins), expected Brier and the
per-worker constant's (an oracle: each worker's mean TRUE value over its list — it knows
the truth, the engine cannot), NDCG@10 with true gains, and the min-cost-flow plan
(``matcher.planning.assignment.plan_placements`` on the top-10 lists with the scores, as the
nightly run plans) valued on the truth, over the oracle LP and beside the LP with true
values over the same lists (the best any scores could do with these lists).

    python bench/truth_bench.py --variants default,villager-retention --no-write --workdir W
    python bench/score_ablation.py --workdir W            # --no-write: print only
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.kept import load_kept  # noqa: E402
from bench.report import markdown_table, write_section  # noqa: E402

SCRIPT = "bench/score_ablation.py"
K = 10
WAYS = {
    "per-stage": (False, False),
    "+ joint": (True, False),
    "+ availability": (False, True),
    "+ joint + availability": (True, True),
}


def variant_rows(folder: Path, model_dir: Path, version: str) -> list[dict[str, object]]:
    from matcher.evaluation.truth import (
        attach_truth,
        brier_score,
        expected_calibration_error,
        lp_value,
        ndcg_true_gains,
        per_worker_constant,
        plan_value,
    )
    from matcher.planning.assignment import plan_placements
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model, workers, vacancies = kept.model, kept.workers, kept.vacancies
    ids = workers["worker_id"].tolist()
    truth = read_truth(folder)
    seeking = truth.groupby("worker_id")["value"].max()
    judged = seeking.index[seeking > 0].intersection(pd.Index(ids))
    oracle = lp_value(truth, workers, vacancies)
    ranker = model.ranker_
    assert ranker is not None
    joint = ranker.joint_
    available = model.catalogue_.wp.available
    rows = []
    try:
        for way, (use_joint, use_available) in WAYS.items():
            ranker.joint_ = joint if use_joint else None
            model.catalogue_.wp.available = available if use_available else np.zeros(0)
            lists = model.recommend_many(ids, K, reasons=False)
            p = lists["score"].to_numpy(float)
            v = attach_truth(lists, truth)
            const = per_worker_constant(lists["worker_id"].to_numpy(), v)
            plan = plan_placements(
                lists[["worker_id", "vacancy_id", "score"]], workers, vacancies
            ).plan
            rows.append(
                {
                    "variant": folder.name,
                    "score": way,
                    "ECE": expected_calibration_error(p, v),
                    "Brier": brier_score(p, v),
                    "Brier per-worker constant (oracle)": brier_score(const, v),
                    "NDCG@10": float(ndcg_true_gains(lists, truth, K, judged).mean()),
                    "plan/oracle LP": plan_value(plan, truth) / oracle,
                    "lists, true LP/oracle LP": lp_value(truth, workers, vacancies, lists) / oracle,
                    "mean score": float(p.mean()),
                    "mean true": float(v.mean()),
                    "joint map": "none"
                    if joint is None
                    else f"a={joint.coef_[1]:.2f} b={joint.coef_[0]:.2f}",
                }
            )
    finally:
        ranker.joint_ = joint
        model.catalogue_.wp.available = available
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True, help="a truth_bench --workdir")
    ap.add_argument("--no-write", action="store_true", help="print; leave docs/ alone")
    args = ap.parse_args()
    model_dir = args.workdir / "models"
    versions = sorted(p.name for p in model_dir.iterdir() if p.is_dir())
    folders = sorted(
        (p for p in args.workdir.iterdir() if (p / "store.db").exists()),
        key=lambda p: (p / "store.db").stat().st_mtime,
    )
    if len(folders) < len(versions):
        raise SystemExit(f"{len(folders)} markets but {len(versions)} models in {args.workdir}")
    # markets and models were made in the same order; a market still training is left out
    rows: list[dict[str, object]] = []
    for folder, version in zip(folders[: len(versions)], versions, strict=True):
        rows += variant_rows(folder, model_dir, version)
        print(pd.DataFrame(rows[-len(WAYS) :]).round(4).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    headers = list(table.columns)
    body = (
        "Same trained model per variant (`bench/truth_bench.py --workdir`, the sizes and seed of "
        "its run), four ways from the ranker's stages to the served score; every figure against "
        "the generator's truth. The per-worker constant knows each worker's mean true value "
        "(truth the engine cannot see): an oracle bound, not a deployable baseline.\n\n"
        + markdown_table(headers, table.to_numpy().tolist())
    )
    if args.no_write:
        print(body)
    else:
        write_section(
            "score-ablation", "Per-proposal score, step by step, against the truth", body, SCRIPT
        )
        print("wrote docs/benchmarks.md (score-ablation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
