"""Occupation codes of the sample markets' own titles, against the generator's true codes.

The truth bench's markets publish about one vacancy in five without an occupation code;
the import infers one from the title with the shipped classifier (trained on real
postings), and ``Recommender(title_coding="market")`` codes those titles again with the
shipped classifier adapted to the market's own coded postings
(:func:`matcher.occupations.classifier.market_classifier`). This bench builds each
variant's market as ``bench/truth_bench.py`` does (same sizes and seed) and compares, on
the vacancies published WITHOUT a code, each coder's answer with the code the generator
drew (``SampleMarket.true_occupation``; ground truth, read only here):

* **shipped**: what the import stores (``title_coding="stored"``);
* **market-adapted**: the shipped classifier's channels re-fitted on the shipped
  labelled titles plus the market's coded postings (the decision rule kept);
* **normaliser**: the dictionary normaliser the engine falls back to for blank codes.

It also reports how often a worker's true main trade is among the codes the engine reads
from the worker's skills and history (the normaliser), the other side of an occupation
match. Accuracy only: whether the engine ranks better with the adapted codes is the truth
bench's question (``docs/benchmarks.md``, the market title coding section says what it
found).

    python bench/market_coding_bench.py [--variants default,distance-driven] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.report import write_section  # noqa: E402


def _levels(pred: list[str | None], truth: np.ndarray) -> tuple[float, float, float]:
    p = np.asarray([c or "" for c in pred], dtype=object)
    exact = float(np.mean(p == truth))
    minor = float(np.mean([a[:4] == b[:4] for a, b in zip(p, truth, strict=True)]))
    major = float(np.mean([a[:1] == b[:1] for a, b in zip(p, truth, strict=True)]))
    return exact, minor, major


def measure(name: str, args: argparse.Namespace) -> dict[str, object]:
    from matcher.occupations.classifier import LabelledTitle, load_classifier, market_classifier
    from matcher.occupations.normaliser import default_normaliser
    from matcher.serving.recommender import Recommender
    from training.synth import build_market

    market = build_market(
        args.workers, args.employers, args.weeks, args.seed, variant=name, start="2026-01-05"
    )
    vac = market.frames["vacancies"]
    blank = vac[vac["occupation_code"].isna()]
    given = vac[vac["occupation_code"].notna()]
    truth = market.true_occupation.loc[blank["vacancy_id"]].to_numpy(dtype=object)
    titles = blank["title"].tolist()
    t = time.process_time()
    adapted = market_classifier(
        [
            LabelledTitle(str(a), str(c))
            for a, c in zip(given["title"], given["occupation_code"], strict=True)
        ]
    )
    fit_cpu = time.process_time() - t
    normalised = default_normaliser().classify_many(titles)
    if isinstance(normalised, pd.DataFrame):
        normalised_codes = [c if isinstance(c, str) else None for c in normalised["code"]]
    else:
        normalised_codes = [getattr(m, "code", None) for m in normalised]
    rows = {
        "shipped": _levels([m.code for m in load_classifier().classify_many(titles)], truth),
        "market-adapted": _levels([m.code for m in adapted.classify_many(titles)], truth),
        "normaliser": _levels(normalised_codes, truth),
    }
    workers = market.frames["workers"]
    model = Recommender()
    model.occupation_cache_ = {}
    codes = model.worker_codes(workers)
    trade = market.worker_trade.loc[workers["worker_id"]].to_numpy(dtype=object)
    known = [(t_, c) for t_, c in zip(trade, codes, strict=True) if t_ is not None]
    return {
        "variant": name,
        "vacancies": len(vac),
        "blank": len(blank),
        "given": len(given),
        "fit_cpu": fit_cpu,
        "rows": rows,
        "workers": len(known),
        "trade_found": float(np.mean([t_ in c for t_, c in known])),
        "trade_minor": float(np.mean([any(x[:4] == t_[:4] for x in c) for t_, c in known])),
    }


def render(results: list[dict[str, object]], args: argparse.Namespace) -> str:
    lines = [
        f"Markets of `bench/truth_bench.py` ({args.workers} workers, {args.employers} "
        f"employers, {args.weeks} weeks, seed {args.seed}). Accuracy on the vacancies "
        "published without a code, against the generator's true code (exact / same minor "
        "group / same major group):",
        "",
        "| variant | vacancies | without a code | coded postings learned from | shipped | "
        "market-adapted | normaliser | adapted fit CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [
            " / ".join(f"{x:.3f}" for x in r["rows"][k])  # type: ignore[index]
            for k in ("shipped", "market-adapted", "normaliser")
        ]
        lines.append(
            f"| {r['variant']} | {r['vacancies']} | {r['blank']} | {r['given']} | "
            + " | ".join(cells)
            + f" | {r['fit_cpu']:.0f} |"
        )
    same = len({repr(r["rows"]) for r in results}) == 1
    if same and len(results) > 1:
        lines += [
            "",
            "The variants differ in how people behave, not in what is posted: the same seed "
            "gives every variant the same postings, hence the same row.",
        ]
    mean = {
        k: np.mean([r["rows"][k][0] for r in results])  # type: ignore[index]
        for k in ("shipped", "market-adapted", "normaliser")
    }
    lines += [
        "",
        f"Mean exact: shipped {mean['shipped']:.3f}, market-adapted "
        f"{mean['market-adapted']:.3f}, normaliser {mean['normaliser']:.3f}.",
        "",
        "Workers' side (the engine reads a worker's codes from skills and history with the "
        "normaliser): share of workers with a trade whose true trade is among them — "
        + ", ".join(
            f"{r['variant']} {r['trade_found']:.3f} (same minor group {r['trade_minor']:.3f})"
            for r in results
        )
        + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    from training.synth import VARIANTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1200)
    ap.add_argument("--employers", type=int, default=50)
    ap.add_argument("--weeks", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names")
    ap.add_argument("--no-write", action="store_true", help="print; leave docs/ alone")
    args = ap.parse_args()
    results = []
    for name in args.variants.split(","):
        results.append(measure(name, args))
        print(name, results[-1]["rows"], flush=True)
    body = render(results, args)
    print(body)
    if not args.no_write:
        write_section(
            "market-coding",
            "Occupation codes of the sample markets' titles (market-adapted coder)",
            body,
            "bench/market_coding_bench.py",
        )


if __name__ == "__main__":
    main()
