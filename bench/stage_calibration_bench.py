"""Each stage of the served score against the truth's own stage probability, near and far.

The per-proposal score is P(apply | proposed) x P(hired | applied) x P(stays 26 weeks |
hired) through the joint map, times the worker's P(looking for work). The generator's
truth file carries the three stage probabilities of every eligible pair of a seeking
worker (``p_apply``, ``p_hire``, ``p_stay6m``). For each kept model (``--model
MARKET:MODEL_DIR:VERSION``, e.g. the folders of a ``bench/truth_bench.py --workdir``
run) this script scores every active worker's top 10 once, as the truth bench does, and
prints per stage, over the pairs of seeking workers: the engine's mean, the truth's mean,
their ratio, the ECE of the stage (10 equal-count bins) and the correlation — overall
and split by the pair feature ``far`` (workplace more than 300 km from home), where a
stage that is right on average can still misorder near against far options. Also the
served score's ECE over all the lists (the truth bench's figure) and with each stage
swapped for the truth's.

The truth is read by this script only. It prints; it writes nothing.

    python bench/stage_calibration_bench.py --model W/default:W/models:VERSION ...
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
STAGE_TRUTH = (("apply", "p_apply"), ("hire", "p_hire"), ("stay", "p_stay6m"))


def variant_rows(folder: Path, model_dir: Path, version: str) -> list[dict[str, object]]:
    from matcher.evaluation.calibration import expected_calibration_error
    from training.synth import read_truth

    kept = load_kept(folder, model_dir, version)
    model = kept.model
    truth = read_truth(folder)
    served_pairs = served_lists(model, kept.workers["worker_id"].tolist(), K, truth)
    lists, feats, stages, true = (
        served_pairs.lists,
        served_pairs.features,
        served_pairs.stages,
        served_pairs.true,
    )
    ranker = model.ranker_
    served = lists["score"].to_numpy(float)
    v = true["value"].fillna(0.0).to_numpy(float)
    # the served score over its stages: the joint map and availability (and any factor
    # of the scorer) as one multiplier, kept when a stage is swapped for the truth's
    product = stages.prod(axis=1)
    joint = product if ranker.joint_ is None else ranker.joint_.predict(product)
    factor = np.divide(served, joint, out=np.zeros_like(served), where=joint > 0)
    far = feats["far"].to_numpy(float) > 0.5
    rows: list[dict[str, object]] = []
    base = {"variant": folder.name}
    rows.append(
        {
            **base,
            "stage": "served score",
            "pairs": "all",
            "n": len(v),
            "engine mean": served.mean(),
            "true mean": v.mean(),
            "true/engine": v.mean() / max(served.mean(), 1e-12),
            "ECE": expected_calibration_error(served, v),
            "corr": np.corrcoef(served, v)[0, 1],
        }
    )
    for j, (name, column) in enumerate(STAGE_TRUTH):
        t = true[column].to_numpy(float)
        known = ~np.isnan(t)
        swapped = stages.copy()
        swapped[known, j] = t[known]
        prod = swapped.prod(axis=1)
        again = (prod if ranker.joint_ is None else ranker.joint_.predict(prod)) * factor
        for label, mask in (("all", known), ("near", known & ~far), ("far", known & far)):
            if mask.sum() < 2:
                continue
            e = stages[mask, j]
            rows.append(
                {
                    **base,
                    "stage": name,
                    "pairs": label,
                    "n": int(mask.sum()),
                    "engine mean": e.mean(),
                    "true mean": t[mask].mean(),
                    "true/engine": t[mask].mean() / max(e.mean(), 1e-12),
                    "ECE": expected_calibration_error(e, t[mask]),
                    "corr": np.corrcoef(e, t[mask])[0, 1],
                    "served ECE, this stage true": (
                        expected_calibration_error(again, v) if label == "all" else np.nan
                    ),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model",
        action="append",
        required=True,
        help="MARKET_FOLDER:MODEL_DIR:VERSION (the folder holds store.db and truth.parquet)",
    )
    args = ap.parse_args(argv)
    rows: list[dict[str, object]] = []
    for spec in args.model:
        folder, model_dir, version = spec.split(":")
        rows += variant_rows(Path(folder), Path(model_dir), version)
    table = pd.DataFrame(rows)
    cols = list(table.columns)
    print(
        markdown_table(
            cols,
            [
                [
                    ""
                    if isinstance(x, float) and np.isnan(x)
                    else f"{x:.4f}"
                    if isinstance(x, float)
                    else x
                    for x in r
                ]
                for r in table.itertuples(index=False)
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
