"""Which stage of the engine's score costs the plan: each stage swapped for the truth.

The per-proposal score is P(apply | proposed) x P(hired | applied) x P(stays | hired),
through the joint map, times the worker's P(looking for work). For each trained model
(``--model MARKET:MODEL_DIR:VERSION``, e.g. the folders of a ``bench/truth_bench.py
--workdir`` run) this script scores every active worker's top-10 list once, then plans
(``matcher.planning.assignment.plan_placements``: the min-cost flow of the nightly run
without its policy weights and groups) on versions of the score that differ in one
place, all in the same run on the same lists, and values each plan with the truth as a
share of the oracle LP:

* **served**: the model's score;
* **true values**: the truth itself over the same lists (the best any score can do with
  these lists; its gap to 1 is ranking loss);
* **true apply / true hire / true stay**: one calibrated stage replaced by the
  generator's true stage probability (pairs the truth lacks keep the model's), the
  rest as served (joint map left out, availability kept);
* **no availability**, **no joint map**: the served score without either factor;
* **true availability**: the served score with the model's P(looking for work) replaced
  by the truth's (1 for a worker seeking at the snapshot, 0 otherwise);
* **true worker scale**: the served score divided, per worker, by its value-weighted
  mean ratio to the truth over the worker's list (the geometric mean, weights the true
  values): each worker's level is the truth's, the order within the list the model's;
* **true order, served scale**: the truth times that same ratio: the order within each
  list is the truth's, each worker's level the model's. Which of the two recovers more
  says whether the plan loses on the scale ACROSS workers competing for seats or on
  the choice WITHIN each worker's list.

A stage whose replacement gains most is where the plan is lost. The oracle LP keeps
village groups together as the nightly plan does; this flow places their members one
by one, so a share can pass 1. The truth is read by this script only.

    python bench/stage_truth_bench.py --model W/distance-driven:W/models:VERSION

``--exhaustive`` ranks instead: NDCG@10 with true gains when the model orders every pair
the truth holds (all eligible vacancies of each judged worker), served and with one stage
swapped for the truth, next to the served top-10 lists — whether a market's ranking loss
is retrieval or a stage. ``--stay-fit`` judges the stay stage alone: how well it orders
each worker's listed vacancies by the truth's P(stay 6 months), against the best linear
hazard on its own covariates.

``--param NAME=VALUE`` (repeatable) first fits the kept model's calibration again with
those Recommender parameters (``Recommender.recalibrate``: same boosters, same slice).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.kept import load_kept, rankable_pairs, served_lists  # noqa: E402
from bench.report import markdown_table  # noqa: E402

K = 10


def variant_rows(
    folder: Path,
    model_dir: str,
    version: str,
    params: dict[str, Any] | None = None,
    plan_k: int = K,
) -> list[list[object]]:
    from matcher.evaluation.truth import lp_value, plan_value
    from matcher.planning.assignment import plan_placements
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model, workers, vacancies = kept.model, kept.workers, kept.vacancies
    if params:
        # the kept boosters with their calibration fitted again under these parameters
        model = model.set_params(**params).recalibrate(kept.dataset)
    truth = read_truth(folder)
    served_pairs = served_lists(model, workers["worker_id"].tolist(), plan_k, truth)
    lists, stages, true = served_pairs.lists, served_pairs.stages, served_pairs.true
    ranker = model.ranker_
    product = stages.prod(axis=1)
    joint = product if ranker.joint_ is None else ranker.joint_.predict(product)
    available = model.worker_availability(pd.Index(lists["worker_id"]))
    seeking = pd.Index(truth["worker_id"].unique())
    # the premise of "true availability": no listed pair of a seeking worker lacks a truth row
    outside = int((lists["worker_id"].isin(seeking) & true["value"].isna().to_numpy()).sum())
    print(f"{folder.name}: listed pairs of seeking workers the truth lacks: {outside}", flush=True)
    oracle = lp_value(truth, workers, vacancies)

    def share(score: np.ndarray) -> float:
        cands = lists[["worker_id", "vacancy_id"]].assign(score=score)
        plan = plan_placements(cands, workers, vacancies).plan
        return plan_value(plan, truth) / oracle

    def swapped(stage: int, column: str) -> np.ndarray:
        s = stages.copy()
        t = true[column].to_numpy(dtype=float)
        s[:, stage] = np.where(np.isnan(t), s[:, stage], t)
        return s.prod(axis=1) * available

    served = lists["score"].to_numpy(dtype=float)
    value = true["value"].fillna(0.0).to_numpy(dtype=float)
    ratio = worker_ratio(lists["worker_id"], served, value)
    ways = {
        "served": served,
        "true values": true["value"].fillna(0.0).to_numpy(dtype=float),
        "true apply": swapped(0, "p_apply"),
        "true hire": swapped(1, "p_hire"),
        "true stay": swapped(2, "p_stay6m"),
        "no availability": joint,
        # the truth's own availability: 1 for a worker seeking at the snapshot (the truth
        # holds his eligible pairs), 0 for one who is not. A worker with a list whom the
        # truth lacks is not seeking: every pair the engine may rank is one the truth
        # deems eligible (the engine's rules are the generator's, or stricter)
        "true availability": joint * lists["worker_id"].isin(seeking).to_numpy(dtype=float),
        "no joint map": product * available,
        "true worker scale": served / ratio,
        "true order, served scale": value * ratio,
    }
    return [[folder.name, way, share(score)] for way, score in ways.items()]


def exhaustive_rows(
    folder: Path, model_dir: str, version: str, params: dict[str, Any] | None = None
) -> list[list[object]]:
    """NDCG@10 with true gains when the model ranks **every** pair the truth holds (each
    seeking worker's eligible vacancies), served and with one stage swapped for the truth,
    next to the served top-10 lists: whether a market's ranking loss is retrieval (the
    served lists below the exhaustive ranking) or a stage (a swap that gains most)."""
    from matcher.evaluation.truth import ndcg_true_gains
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model = kept.model
    if params:
        model = model.set_params(**params).recalibrate(kept.dataset)
    truth = read_truth(folder)
    judged = truth.loc[truth["value"] > 0, "worker_id"].unique()
    # the pairs the engine may rank: each judged worker's eligible open vacancies not
    # pursued yet (the engine's exclusions, which the truth's eligibility does not apply)
    pairs = truth.merge(rankable_pairs(model, judged), on=["worker_id", "vacancy_id"])
    stages = model.pair_stages(pairs["worker_id"], pairs["vacancy_id"])
    scored = stages["score"].notna().to_numpy()
    served = model.recommend_many(list(judged), K, reasons=False)

    def ndcg(score: np.ndarray) -> float:
        recs = pairs[["worker_id", "vacancy_id"]].assign(score=score)[scored]
        return float(ndcg_true_gains(recs, truth, K, workers=judged).mean())

    probs = stages[["apply", "hire", "stay"]].to_numpy(dtype=float)

    def swapped(stage: int, column: str) -> np.ndarray:
        s = probs.copy()
        t = pairs[column].to_numpy(dtype=float)
        s[:, stage] = np.where(np.isnan(t), s[:, stage], t)
        return s.prod(axis=1)

    ways = {
        "served top-10 lists": float(ndcg_true_gains(served, truth, K, workers=judged).mean()),
        "exhaustive, served score": ndcg(stages["score"].to_numpy(dtype=float)),
        "exhaustive, true apply": ndcg(swapped(0, "p_apply")),
        "exhaustive, true hire": ndcg(swapped(1, "p_hire")),
        "exhaustive, true stay": ndcg(swapped(2, "p_stay6m")),
        "exhaustive, true values": ndcg(pairs["value"].to_numpy(dtype=float)),
    }
    return [[folder.name, way, value] for way, value in ways.items()]


def stay_fit_rows(
    folder: Path, model_dir: str, version: str, params: dict[str, Any] | None = None
) -> list[list[object]]:
    """How well the stay stage orders each worker's listed vacancies against the truth's
    P(stay 6 months), and how well any linear hazard on the same covariates could: the
    within-worker correlation of log P(stay), weighted by the pairs' true values, for the
    model and for the least-squares fit of the truth's log P(stay) on the model's own
    stay covariates (in-sample, so an upper bound for a linear hazard on these inputs);
    and the share of the model's within-worker error that employer dummies explain (what
    an employer-level correction could reach at most)."""
    from matcher.models.ranking import stay_covariate_matrix
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model = kept.model
    if params:
        model = model.set_params(**params).recalibrate(kept.dataset)
    truth = read_truth(folder)
    served = served_lists(model, kept.workers["worker_id"].tolist(), K, truth)
    value = served.true["value"].to_numpy(dtype=float)
    ok = np.isfinite(value) & (value > 0) & np.isfinite(served.stages[:, 2])
    worker = served.lists["worker_id"].to_numpy()[ok]
    weight = value[ok] / value[ok].sum()

    def within(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return x - pd.Series(x).groupby(worker).transform("mean").to_numpy()

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(
            np.sum(weight * a * b) / np.sqrt(np.sum(weight * a**2) * np.sum(weight * b**2))
        )

    model_log = within(np.log(np.maximum(served.stages[ok, 2], 1e-12)))
    true_log = within(np.log(np.maximum(served.true["p_stay6m"].to_numpy(dtype=float)[ok], 1e-12)))
    covariates = stay_covariate_matrix(served.features.to_numpy(dtype=float)[ok])
    x = np.column_stack([within(covariates[:, j]) for j in range(covariates.shape[1])])
    root = np.sqrt(weight)
    beta, *_ = np.linalg.lstsq(x * root[:, None], true_log * root, rcond=None)
    error = model_log - true_log
    employers = kept.dataset.vacancies.set_index("vacancy_id")["employer_id"]
    employer = served.lists["vacancy_id"].map(employers)
    dummies = pd.get_dummies(employer.to_numpy()[ok]).to_numpy(dtype=float)
    d = np.column_stack([within(dummies[:, j]) for j in range(dummies.shape[1])])
    gamma, *_ = np.linalg.lstsq(d * root[:, None], error * root, rcond=None)
    rest = error - d @ gamma
    return [
        [folder.name, "within-worker corr, model's stay", corr(model_log, true_log)],
        [
            folder.name,
            "within-worker corr, best linear on its covariates",
            corr(x @ beta, true_log),
        ],
        [
            folder.name,
            "model's error explained by employer",
            1.0 - float(np.sum(weight * rest**2) / np.sum(weight * error**2)),
        ],
    ]


def worker_ratio(worker: pd.Series, served: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Per pair, its worker's geometric mean of served / true over the worker's pairs,
    weighted by the true value (1 for a worker without a positive true value)."""
    positive = value > 0
    log_ratio = np.zeros(len(value))
    log_ratio[positive] = np.log(np.maximum(served[positive], 1e-12)) - np.log(value[positive])
    frame = pd.DataFrame({"w": worker.to_numpy(), "x": log_ratio * value, "v": value})
    sums = frame.groupby("w")[["x", "v"]].transform("sum")
    mean = np.where(sums["v"] > 0, sums["x"] / sums["v"].where(sums["v"] > 0, 1.0), 0.0)
    return np.exp(mean)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="MARKET:MODEL_DIR:VERSION")
    ap.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="recalibrate the kept model with this Recommender parameter (a string) first",
    )
    ap.add_argument(
        "--exhaustive",
        action="store_true",
        help="NDCG@10 of the model ranking all eligible pairs, with stage swaps, instead of plans",
    )
    ap.add_argument(
        "--stay-fit",
        action="store_true",
        help="the stay stage's within-worker order against the truth, and a linear bound",
    )
    ap.add_argument(
        "--plan-k",
        type=int,
        default=K,
        help="candidates per worker in the plans' input (the nightly run's k; default 10)",
    )
    args = ap.parse_args(argv)
    from bench.truth_bench import parse_params

    params = parse_params(args.param)
    rows: list[list[object]] = []
    for spec in args.model:
        folder, model_dir, version = spec.split(":")
        if args.stay_fit:
            part = stay_fit_rows(Path(folder), model_dir, version, params)
        elif args.exhaustive:
            part = exhaustive_rows(Path(folder), model_dir, version, params)
        else:
            part = variant_rows(Path(folder), model_dir, version, params, args.plan_k)
        for r in part:
            print(f"{r[0]}: {r[1]} {r[2]:.3f}", flush=True)
        rows += part
    print(
        markdown_table(
            [
                "variant",
                "score",
                "value"
                if args.stay_fit
                else "NDCG@10 (true gains)"
                if args.exhaustive
                else "plan / oracle LP",
            ],
            [[a, b, f"{c:.3f}"] for a, b, c in rows],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
