"""Candidate recall at 100,000 open vacancies: how much of the exhaustive top 10 (the
ranker's 10 best of EVERY eligible vacancy the worker has not pursued) the candidate
generator hands to the ranker, with and without the ranker proxy, in the same run.

Set-up as ``bench/recommend_bench.py`` (a model fitted on the sample market, its
catalogue refreshed to a serving market of ``--vacancies`` open vacancies). For
``--workers`` random workers the exhaustive top 10 is computed by scoring every
eligible vacancy with the model's scorer (``CandidateGenerator.recall``), and each
configuration's candidates are compared with it:

* channels only (``proxy_candidates=0``: the union of the five channels' 100 best --
  the generator before the proxy, the baseline);
* channels + the ranker proxy's best ``m`` (``m`` = ``--proxy`` values; the served
  default is ``matcher.models.retrieval.PROXY_CANDIDATES``).

Also per configuration: the number of candidates and the CPU time of one
``recommend(worker, k=10, reasons=False)`` (median over the workers, this process).

Run: ``nice -n 10 python bench/recall_bench.py [--vacancies 100000] [--workers 50]``
(``--served FILE``: a joblib ``(model, market)`` of a served model, e.g. written by
``bench/catalogue_bench.py --keep-served``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.recommend_bench import serving_markets  # noqa: E402
from bench.report import LoadSampler, markdown_table, write_section  # noqa: E402
from matcher.models.retrieval import PROXY_CANDIDATES, CandidateGenerator, fit_ranker_proxy  # noqa: E402
from matcher.serving.recommender import Recommender  # noqa: E402
from matcher.text.encoders import HashingEmbedder  # noqa: E402


def served(args) -> Recommender:
    import joblib

    if args.served and Path(args.served).exists():
        model, _ = joblib.load(args.served)
        return model
    train, big = serving_markets(
        args.train_workers, args.serving_workers, args.vacancies, args.seed
    )
    model = Recommender(embedder=HashingEmbedder(dim=384), random_state=args.seed).fit(train)
    return model.refresh(big)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vacancies", type=int, default=100_000)
    ap.add_argument("--train-workers", type=int, default=3000)
    ap.add_argument("--serving-workers", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=50)
    ap.add_argument("--proxy", default=f"{PROXY_CANDIDATES},1000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--served", default="")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()

    with LoadSampler() as load:
        model = served(args)
        cat = model.catalogue
        t0 = time.perf_counter()
        if cat.proxy is None:  # a catalogue built before the proxy existed
            model.catalogue_ = copy.copy(cat)
            model.catalogue_.proxy = fit_ranker_proxy(
                cat, model.scorer, model.candidate_generator, random_state=model.random_state
            )
            cat = model.catalogue
        t_proxy = time.perf_counter() - t0
        rng = np.random.default_rng(args.seed)
        workers = np.sort(rng.choice(len(cat.wp.ids), args.workers, replace=False))
        sizes = [int(model.worker_mask(cat, w).sum()) for w in workers]
        stats = model.retrieval_.stats
        rows = []
        configs = [0] + [int(m) for m in args.proxy.split(",")]
        reference = CandidateGenerator(model.stages, model.n_candidates, stats, 0)
        t0 = time.perf_counter()
        tops = [reference.exhaustive_top(cat, model.scorer, int(w), 10) for w in workers]
        t_exhaustive = (time.perf_counter() - t0) / len(workers)
        for m in configs:
            gen = CandidateGenerator(model.stages, model.n_candidates, stats, m)
            recall = np.array(
                [
                    np.isin(top, gen.for_workers(cat, np.array([w]))[0]).mean()
                    if len(top)
                    else np.nan
                    for w, top in zip(workers, tops, strict=True)
                ]
            )
            n_cands = [len(gen.for_workers(cat, np.array([w]))[0]) for w in workers]
            # one served request with this generator: candidates, then the exact ranking
            cpu = []
            for w in workers:
                c0 = time.process_time()
                got = gen.for_workers(cat, np.array([w]))[0]
                model.rank_pairs(
                    np.full(len(got), w, np.int64), cat.open_pos[got], 10, "zh", "worker", False
                )
                cpu.append((time.process_time() - c0) * 1000)
            ok = recall[~np.isnan(recall)]
            label = "channels only (before)" if m == 0 else f"channels + proxy's best {m}"
            rows.append(
                [
                    label,
                    round(float(ok.mean()), 3),
                    round(float(np.percentile(ok, 10)), 2),
                    round(float(ok.min()), 2),
                    round(float(np.mean(n_cands))),
                    round(float(np.median(cpu)), 1),
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        [
            "candidates",
            "recall of exhaustive top 10 (mean)",
            "p10",
            "min",
            "candidates per worker",
            "request CPU ms (median)",
        ],
        rows,
    )
    best = max(r[1] for r in rows[1:]) if len(rows) > 1 else rows[0][1]
    verdict = "meets" if best >= 0.95 else "MISSES"
    default_row = next((r for r in rows if r[0].endswith(f"best {PROXY_CANDIDATES}")), rows[-1])
    body = f"""
Candidate recall against the exhaustive reference at **{len(cat.open_pos):,} open
vacancies**, {len(workers)} random workers (eligible and not yet pursued: median
{int(np.median(sizes)):,}, mean {int(np.mean(sizes)):,} vacancies per worker -- most
workers may take most vacancies, so eligibility alone does not make the set small). The
exhaustive top 10 is the scorer's 10 best of all of them; recall is the share of it
among the candidates (the ranker then orders the candidates exactly, so the served top
10 holds exactly these). Ranking every eligible vacancy instead took {t_exhaustive:.1f} s
wall clock per worker here.

{table}

The ranker proxy (`matcher.models.retrieval.RankerProxy`, fitted per catalogue in
{t_proxy:.1f} s here when the served catalogue lacked one) is a linear stand-in for the
ranker's log score -- channel scores, occupation match, distance, same
county/prefecture/province, wage ratio and a per-vacancy term -- computed for every
eligible vacancy of a request; its best are added to the channels' union. Served
default: {PROXY_CANDIDATES} (recall {default_row[1]}). Best recall here {best}: it
{verdict} the 0.95 contract. CPU times are of one process on a shared machine (load
min / mean / max {load.summary()} on {os.cpu_count()} cores).
"""
    print(body)
    if not args.no_write:
        write_section(
            "recall", "Candidate recall at 100k open vacancies", body, "bench/recall_bench.py"
        )


if __name__ == "__main__":
    main()
