"""Public-welfare seats and priority workers: how much of issue 18's target the market allows.

Issue 18 asks that at least 0.80 of the nightly plan's public-welfare seats go to priority
workers (semi/weak labour or workers who cannot leave home). On the truth bench's seeds 8
and 9 several markets fall far short. This script asks why, on the kept models of a
``bench/truth_bench.py --workdir`` run (``--model MARKET:MODEL_DIR:VERSION``, repeatable),
planning each market's active workers four ways with the nightly run's policy weights
(``plan_placements``: monitored households x1.5, welfare bonus 2.0), all on the same
scores:

* **top 10**: each worker's top-10 list, as the nightly run plans today;
* **+ priority welfare**: also every open public-welfare post each priority worker may take
  (``Recommender.worker_mask``) and has not in his list, scored by the same model;
* **top 10, reserved** and **+ priority welfare, reserved**: the same, with public-welfare
  seats closed to workers who are not priority workers.

For each: the plan's true value as a share of the oracle LP (``matcher.evaluation.truth``),
public-welfare seats planned and the share that go to priority workers. And the market's
bound: **priority could take**, the most welfare seats priority workers can hold at once
(a plan of every eligible (priority worker, welfare post) pair with equal scores: each
worker one seat, each post its open seats, each household one welfare post), over the
seats the top-10 plan fills. Where that bound is under 0.80 the target cannot be met
without leaving welfare seats empty that others would fill.

    python bench/priority_posts_bench.py --model W/default-s9:W/models:VERSION
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.kept import load_kept, rankable_pairs  # noqa: E402
from bench.report import markdown_table  # noqa: E402

K = 10
WELFARE = "public_welfare_post"


def eligible_welfare_pairs(
    model: Any, worker_ids: Iterable[str], welfare_ids: Iterable[str]
) -> pd.DataFrame:
    """``worker_id, vacancy_id`` of every open welfare post each worker may take."""
    pairs = rankable_pairs(model, worker_ids)
    return pairs[pairs["vacancy_id"].isin(set(welfare_ids))].reset_index(drop=True)


def market_rows(folder: Path, model_dir: str, version: str) -> list[list[object]]:
    from matcher.evaluation.truth import lp_value, plan_value
    from matcher.planning.assignment import plan_placements
    from matcher.planning.priority_posts import is_priority_worker
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model, workers, vacancies = kept.model, kept.workers, kept.vacancies
    truth = read_truth(folder)
    oracle = lp_value(truth, workers, vacancies)
    priority = is_priority_worker(workers)
    welfare = set(vacancies.loc[vacancies["channel"] == WELFARE, "vacancy_id"])
    lists = model.recommend_many(workers["worker_id"].tolist(), K, reasons=False)
    lists = lists[["worker_id", "vacancy_id", "score"]]
    pairs = eligible_welfare_pairs(model, priority.index[priority.to_numpy()], welfare)
    have = pd.MultiIndex.from_frame(lists[["worker_id", "vacancy_id"]])
    extra = pairs[~pd.MultiIndex.from_frame(pairs).isin(have)]
    extra = extra.assign(
        score=model.pair_stages(extra["worker_id"], extra["vacancy_id"])["score"].to_numpy()
    )
    extended = pd.concat([lists, extra], ignore_index=True)

    def reserved(c: pd.DataFrame) -> pd.DataFrame:
        keep = ~c["vacancy_id"].isin(welfare) | c["worker_id"].map(priority).fillna(False)
        return c[keep.to_numpy(dtype=bool)]

    def plan(c: pd.DataFrame) -> tuple[float, int, int]:
        p = plan_placements(c, workers, vacancies).plan
        on = p["vacancy_id"].isin(welfare)
        to_priority = int(p.loc[on, "worker_id"].map(priority).fillna(False).sum())
        return plan_value(p, truth) / oracle, int(on.sum()), to_priority

    bound = plan_placements(
        pairs.assign(score=1.0), workers, vacancies, monitored_weight=1.0
    ).plan  # equal gains: the most pairs
    could = int(bound["vacancy_id"].isin(welfare).sum())
    rows: list[list[object]] = []
    planned_top10 = None
    for way, c in (
        ("top 10", lists),
        ("+ priority welfare", extended),
        ("top 10, reserved", reserved(lists)),
        ("+ priority welfare, reserved", reserved(extended)),
    ):
        share, planned, to_priority = plan(c)
        planned_top10 = planned if planned_top10 is None else planned_top10
        rows.append(
            [
                folder.name,
                way,
                f"{share:.3f}",
                planned,
                f"{to_priority / planned:.3f}" if planned else "–",
            ]
        )
    rows[0].append(f"{could} ({min(1.0, could / planned_top10):.3f})" if planned_top10 else could)
    for r in rows[1:]:
        r.append("")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="MARKET:MODEL_DIR:VERSION")
    args = ap.parse_args(argv)
    rows: list[list[object]] = []
    for spec in args.model:
        folder, model_dir, version = spec.split(":")
        part = market_rows(Path(folder), model_dir, version)
        for r in part:
            print(" ".join(str(x) for x in r), flush=True)
        rows += part
    print(
        markdown_table(
            [
                "market",
                "candidates",
                "plan / oracle LP",
                "welfare seats planned",
                "to priority",
                "priority could take (over top-10 plan's seats)",
            ],
            rows,
        )
    )
    shares = np.array([float(r[2]) for r in rows]).reshape(-1, 4).mean(axis=0)
    print("mean plan / oracle LP:", ", ".join(f"{s:.3f}" for s in shares))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
