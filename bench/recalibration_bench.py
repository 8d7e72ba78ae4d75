"""The same trained models with their ranker's calibration as trained and as this
checkout's code fits it, judged against the ground truth of the sample markets.

A calibration change (``matcher.models.calibration``, ``RankerTrainer`` in ``matcher.models.ranker_training``) leaves
the boosters alone: the stages, retrieval and availability of a model trained by the
code before it are exactly those the new code trains. So this script takes models a
``bench/truth_bench.py --workdir`` run (or any ``train_from_store`` on a generated
market's store) trained, fits the ranker's calibration once more with the code it
imports (same events, same calibration cutoff, same seed) and judges both versions of
each model in the same run with ``matcher.evaluation.truth``:

* ECE and expected Brier of the top-10 pairs' scores (as the truth bench), mean score
  and mean truth;
* the nightly plan (``service.nightly.run_match`` with the model, as of the snapshot,
  policy weights and group rule as served) as a share of the oracle LP;
* the hire stage's and the joint map's calibration rows;
* the worst language group's NDCG@10 over the best's (issue 18; groups of at least 5
  judged workers, as the truth bench).

After the per-market table, a summary: each measure's mean and worst over the markets on
both sides, and on how many markets the recalibrated side is better, equal or worse.

Recalibrating with the code that trained a model reproduces it exactly (checked: same
figures to the last digit), so the difference is the calibration change alone.

    python bench/recalibration_bench.py --model W/default:W/models:20261206T103109Z ...
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.report import git, markdown_table  # noqa: E402

K = 10


def language_ratio(per_worker: pd.Series, workers: pd.DataFrame, events: pd.DataFrame) -> float:
    """Issue 18's ratio: the worst language group's mean NDCG@10 over the best's, groups
    of at least 5 judged workers (``matcher.evaluation.groups.worst_and_best_groups``, as
    ``bench/truth_bench.py``'s ``group_gaps``)."""
    from matcher.evaluation.groups import MIN_JUDGED_WORKERS, worker_groups, worst_and_best_groups

    language = worker_groups(workers, events)["language"]
    joined = pd.DataFrame({"ndcg": per_worker}).join(language, how="inner")
    means = joined.groupby("language")["ndcg"].agg(["mean", "size"])
    table = means.rename(columns={"size": "n"}).rename_axis("group").reset_index()
    spread = worst_and_best_groups(table, MIN_JUDGED_WORKERS)
    return spread.ratio if spread else float("nan")


def judge(model, ds, folder: Path, label: str, nightly: bool) -> dict[str, object]:
    from matcher.evaluation.truth import (
        attach_truth,
        brier_score,
        expected_calibration_error,
        ndcg_true_gains,
        oracle_plan_value,
        plan_value,
    )
    from service.nightly import active_workers, open_vacancies, run_match, snapshot_time
    from service.store.db import make_engine
    from training.synth import read_truth

    at = snapshot_time(ds)
    workers = active_workers(ds)
    vacancies = open_vacancies(ds, at)
    truth = read_truth(folder)
    _, oracle_lp = oracle_plan_value(truth, workers, vacancies)
    served = model.refresh(ds, at=at) or model
    lists = served.recommend_many(workers["worker_id"].tolist(), K, reasons=False)
    p = lists["score"].to_numpy(float)
    v = attach_truth(lists, truth)
    seeking = truth.groupby("worker_id")["value"].max()
    judged = seeking.index[seeking > 0].intersection(pd.Index(workers["worker_id"]))
    ranker = model.ranker_
    counts = ranker.calibration_counts_
    per_worker = ndcg_true_gains(lists, truth, K, judged)
    row: dict[str, object] = {
        "variant": folder.name,
        "calibration": label,
        "NDCG@10": float(per_worker.mean()),
        "worst/best language": language_ratio(per_worker, workers, ds.events),
        "ECE": expected_calibration_error(p, v),
        "Brier": brier_score(p, v),
        "mean score": float(p.mean()),
        "mean true": float(v.mean()),
        "hire rows": counts.get("hire", {}).get("rows", np.nan),
        "hire positives": counts.get("hire", {}).get("positives", np.nan),
        "joint rows": counts.get("joint", {}).get("rows", np.nan),
    }
    if nightly:
        engine = make_engine(f"sqlite:///{folder / 'store.db'}")
        try:
            run = run_match(
                engine,
                model=model,
                model_version=f"recalibration-{label}",
                use_settings_scheduler=False,
                run_id=f"recalibration-{folder.name}-{label}-{time.time_ns()}",
            )
        finally:
            engine.dispose()
        assert run.plan is not None
        row["nightly/oracle"] = plan_value(run.plan[["worker_id", "vacancy_id"]], truth) / max(
            oracle_lp, 1e-12
        )
    return row


def main(argv: list[str] | None = None) -> int:
    from service.store.db import make_engine
    from service.store.repository import load_dataset
    from training import registry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model",
        action="append",
        required=True,
        help="MARKET_FOLDER:MODEL_DIR:VERSION (the folder holds store.db and truth.parquet)",
    )
    ap.add_argument("--no-nightly", action="store_true", help="skip the nightly plan")
    ap.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a Recommender parameter before recalibrating (VALUE as JSON when it parses, else text), e.g. hire_map=competition or stay_l2=1.0",
    )
    args = ap.parse_args(argv)
    from bench.truth_bench import parse_params

    params = parse_params(args.param)
    rows = []
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    this = (
        f"this code ({head}{', modified' if dirty else ''}{''.join(' ' + p for p in args.param)})"
    )
    for spec in args.model:
        folder_s, model_dir, version = spec.split(":")
        folder = Path(folder_s)
        engine = make_engine(f"sqlite:///{folder / 'store.db'}")
        try:
            ds = load_dataset(engine)
        finally:
            engine.dispose()
        model = registry.load_model(model_dir, version)
        rows.append(judge(model, ds, folder, "as trained", not args.no_nightly))
        print(rows[-1], flush=True)
        again = copy.deepcopy(model).set_params(**params).recalibrate(ds)
        rows.append(judge(again, ds, folder, this, not args.no_nightly))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    cols = list(table.columns)
    print(
        markdown_table(
            cols,
            [
                [f"{x:.4f}" if isinstance(x, float) else x for x in r]
                for r in table.itertuples(index=False)
            ],
        )
    )
    print(summary(table, this))
    return 0


#: per measure: the better direction and the worst case (min or max over the markets)
HIGHER_IS_BETTER = {
    "NDCG@10": True,
    "worst/best language": True,
    "nightly/oracle": True,
    "ECE": False,
    "Brier": False,
}


def summary(table: pd.DataFrame, this: str) -> str:
    """Mean and worst over the markets of each judged measure, both sides, and on how many
    markets the recalibrated side is better, equal or worse (paired by market)."""
    base = table[table["calibration"] == "as trained"].set_index("variant")
    mine = table[table["calibration"] == this].set_index("variant")
    rows = []
    for col, higher in HIGHER_IS_BETTER.items():
        if col not in table.columns:
            continue
        a, b = base[col].astype(float), mine[col].astype(float).reindex(base.index)
        diff = (b - a) if higher else (a - b)
        worst = (lambda x: x.min()) if higher else (lambda x: x.max())
        rows.append(
            [
                col,
                f"{a.mean():.4f} → {b.mean():.4f}",
                f"{worst(a):.4f} → {worst(b):.4f}",
                f"{int((diff > 1e-12).sum())} / {int((diff.abs() <= 1e-12).sum())} / "
                f"{int((diff < -1e-12).sum())}",
            ]
        )
    return markdown_table(
        ["measure", "mean (as trained → this)", "worst", "markets better / equal / worse"], rows
    )


if __name__ == "__main__":
    raise SystemExit(main())
