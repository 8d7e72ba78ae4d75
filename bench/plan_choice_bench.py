"""Which pairs the plan gets wrong: the plan on the served score against the plan on the truth.

On the same top-10 lists (a kept model, ``--model MARKET:MODEL_DIR:VERSION``, e.g. the
folders of a ``bench/truth_bench.py --workdir`` run), this script plans twice with
``matcher.planning.assignment.plan_placements`` (the min-cost flow of the nightly run
without its policy weights and groups, as ``bench/stage_truth_bench.py``): once on the
served score and once on the truth's value. It then splits the planned pairs into those
only the served plan holds, those only the truth's plan holds and those both hold, and
prints, per split, the pairs, their true value, and each stage's engine mean against the
truth's (``p_apply``, ``p_hire``, ``p_stay6m``). A stage whose engine mean is above the
truth's on the served-only pairs and below it on the truth-only pairs is one the plan
chases: the flow picks the pairs a stage overrates (the winner's curse of a noisy
score), and that stage's error, not its mean level, costs the plan.

Also the workers: placed by both plans (and the value each plan gets of them), by one
only, and the lists' workers whose best served score rounds to no gain in the flow.

The truth is read by this script only. It prints; it writes nothing.

    python bench/plan_choice_bench.py --model W/wage-driven:W/models:VERSION
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

from bench.kept import load_kept, served_lists  # noqa: E402
from bench.report import markdown_table  # noqa: E402

K = 10
STAGES = (("apply", "p_apply"), ("hire", "p_hire"), ("stay", "p_stay6m"))


def variant_rows(folder: Path, model_dir: str, version: str) -> tuple[list[list[object]], str]:
    """The per-split rows of one kept model and a line about its workers."""
    from matcher.evaluation.truth import lp_value
    from matcher.planning.assignment import DEFAULT_SCALE, plan_placements
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    truth = read_truth(folder)
    workers, vacancies = kept.workers, kept.vacancies
    pairs = served_lists(kept.model, workers["worker_id"].tolist(), K, truth)
    lists, stages, true = pairs.lists, pairs.stages, pairs.true
    served = lists["score"].to_numpy(dtype=float)
    value = true["value"].fillna(0.0).to_numpy(dtype=float)
    oracle = lp_value(truth, workers, vacancies)

    def planned(score: np.ndarray) -> np.ndarray:
        cands = lists[["worker_id", "vacancy_id"]].assign(score=score)
        plan = plan_placements(cands, workers, vacancies).plan
        chosen = pd.MultiIndex.from_frame(plan[["worker_id", "vacancy_id"]])
        return pd.MultiIndex.from_frame(lists[["worker_id", "vacancy_id"]]).isin(chosen)

    in_served, in_true = planned(served), planned(value)
    rows: list[list[object]] = []
    for label, mask in (
        ("served plan only", in_served & ~in_true),
        ("truth's plan only", in_true & ~in_served),
        ("both plans", in_served & in_true),
    ):
        row: list[object] = [folder.name, label, int(mask.sum()), f"{value[mask].mean():.4f}"]
        for j, (_, column) in enumerate(STAGES):
            t = true[column].to_numpy(dtype=float)
            known = mask & np.isfinite(t)
            row.append(f"{stages[known, j].mean():.3f} / {t[known].mean():.3f}")
        rows.append(row)
    worker = lists["worker_id"].to_numpy()
    by_served = set(worker[in_served])
    by_true = set(worker[in_true])
    both = by_served & by_true
    got_served = value[in_served & np.isin(worker, list(both))].sum()
    got_true = value[in_true & np.isin(worker, list(both))].sum()
    best = pd.Series(served).groupby(worker).max()
    line = (
        f"{folder.name}: plan/oracle LP served {value[in_served].sum() / oracle:.3f}, truth "
        f"{value[in_true].sum() / oracle:.3f}; workers placed by both {len(both)} (value "
        f"{got_served:.2f} served vs {got_true:.2f} truth), by the served plan only "
        f"{len(by_served - both)} (value {value[in_served & ~np.isin(worker, list(both))].sum():.2f}), "
        f"by the truth's only {len(by_true - both)} (value "
        f"{value[in_true & ~np.isin(worker, list(both))].sum():.2f}); list workers whose best "
        f"served score rounds to no gain {int((best * DEFAULT_SCALE < 0.5).sum())} of {len(best)}"
    )
    return rows, line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="MARKET:MODEL_DIR:VERSION")
    args = ap.parse_args(argv)
    rows: list[list[object]] = []
    lines: list[str] = []
    for spec in args.model:
        folder, model_dir, version = spec.split(":")
        part, line = variant_rows(Path(folder), model_dir, version)
        print(line, flush=True)
        rows += part
        lines.append(line)
    print(
        markdown_table(
            [
                "variant",
                "pairs",
                "n",
                "true value",
                "apply engine / true",
                "hire engine / true",
                "stay engine / true",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
