"""Equal service per market variant (issue 18): how big the groups are, how sure the gaps are.

The truth bench (``bench/truth_bench.py``) reports issue 18's two NDCG ratios per market
variant — the worst language group's NDCG@10 over the best's and semi/weak labour's over
full labour's — as point values. At its sizes a variant has about 165 judged workers, of
whom a dozen are semi/weak labour, so a single ratio says little on its own. This bench
measures the same ratios with what they need to be read:

* per variant, the judged workers per group and the ratios with 95 % bootstrap intervals
  (workers resampled within their group; pooled over ``--seeds``: one market per seed,
  i.e. another snapshot of the same variant, which multiplies the judged workers);
* the same markets judged with two versions of the code — ``--baseline-ref`` (a git
  commit, default ``main``; its Recommender parameters ``--baseline-param``) and this
  working tree (``--param``) — each in its own subprocess, one after
  the other, and the paired change of each ratio (the same workers resampled for both);
* whether a group's lists are weaker because the engine serves it worse or because its
  truth is harder to order: per group, NDCG@10 of the keyword and popularity baselines
  fitted on the same snapshot, of a random order of the candidates, the share of the
  headroom over a random order the engine takes, and the engine's order with one
  ranker stage (apply, hire, stay) replaced by the truth's probability;
* why public-welfare seats are rarely planned: per variant and seed, the public-welfare
  vacancies posted over the horizon, filled or closed before the snapshot, open at it
  with their seats, the seeking workers with an eligible welfare pair, and the planned
  seats that go to priority workers (semi/weak labour or home-bound).

Per market (``build_market(workers, employers, weeks, seed, variant)``, written with its
truth as ``jobmatch synth`` does) and per code version, the subprocess imports the folder
into a fresh SQLite store (``import_folder``, which skips the truth), fits the engine the
way ``jobmatch train``'s refit stage does (``training.evaluate.default_models``'s
candidate, ``random_state`` = seed, the sentence embedder with a cache shared by the run,
on the whole snapshot; the pipeline's evaluation split and report are skipped — they do
not change the model), runs the nightly plan (``service.nightly.run_match`` on that
model), writes every active worker's top 10 (``recommend_many``), every candidate's
score and stage probabilities, and the baselines' top 10. Only then does this
process read the truth and judge (``matcher.evaluation.truth``, the truth bench's
functions).

Run: ``python bench/equal_bench.py`` (writes the ``equal`` section of
docs/benchmarks.md); ``--no-write`` prints it only; ``--baseline-ref none`` skips the
baseline; ``--variants a,b`` and ``--seeds 7,8`` choose the markets; ``--workdir DIR
--reuse`` judges the results a previous run left in DIR again (labelled with the code
that measured them) without measuring.
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
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SCRIPT = "bench/equal_bench.py"
ROOT = Path(__file__).resolve().parent.parent
K = 10
#: issue 18's targets
TARGET_RATIO = 0.95
TARGET_WELFARE = 0.80
LANGUAGE_GROUPS = ("minority only", "bilingual", "Mandarin only")
#: a language group needs this many judged workers to count for the worst/best ratio
MIN_GROUP = 5
WELFARE = "public_welfare_post"
#: a list length above any worker's candidate count: the ranker's score of every candidate
ALL_CANDIDATES = 100_000
#: the ranker's stages and the truth's column for each
STAGE_TRUTH = {"apply": "p_apply", "hire": "p_hire", "stay": "p_stay6m"}


# --------------------------------------------------------------------------- subprocess


def measure(
    folder: Path, out: Path, seed: int, cache: Path, params: dict[str, Any] | None = None
) -> None:
    """Import, fit, plan and list for the market in ``folder``; the engine comes from
    PYTHONPATH, with Recommender ``params`` other than its defaults (experiments). Writes ``lists.parquet``, ``plan.parquet``, ``groups.parquet``,
    ``open.parquet`` and ``run.json`` into ``out``."""
    from threadpoolctl import threadpool_limits

    from matcher.evaluation.baselines import KeywordRecommender, PopularityRecommender
    from matcher.evaluation.groups import worker_groups
    from matcher.text.encoders import embedder_from_env
    from service.importer import import_folder
    from service.nightly import active_workers, open_vacancies, run_match, snapshot_time
    from service.store.db import make_engine
    from service.store.repository import load_dataset
    from training.evaluate import CANDIDATE_NAME, default_models

    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{out / 'store.db'}"
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    import_folder(folder, url)
    engine = make_engine(url)
    try:
        ds = load_dataset(engine)
        at = snapshot_time(ds)
        seconds["import"] = time.perf_counter() - t
        t = time.perf_counter()
        with threadpool_limits(limits=1):
            model = default_models(
                random_state=seed,
                embedder=embedder_from_env(cache_path=str(cache)),
                include=(CANDIDATE_NAME,),
            )[CANDIDATE_NAME]
            if params:
                model.set_params(**params)
            model.fit(ds)
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        run = run_match(
            engine, model=model, model_version="equal-bench", use_settings_scheduler=False
        )
    finally:
        engine.dispose()
    assert run.plan is not None
    run.plan[["worker_id", "vacancy_id"]].to_parquet(out / "plan.parquet")
    ids = active_workers(ds)["worker_id"].tolist()
    model = model.refresh(ds, at=at) or model
    lists = model.recommend_many(ids, K, reasons=False)
    lists[["worker_id", "vacancy_id", "score"]].to_parquet(out / "lists.parquet")
    # every candidate the ranker scores (retrieval's union over the eligible open
    # vacancies), for the per-group recall and calibration diagnosis
    every = model.recommend_many(ids, ALL_CANDIDATES, reasons=False)
    every = every[["worker_id", "vacancy_id", "score"]].reset_index(drop=True)
    # and each candidate's stage probabilities (apply, hire | applied, stay | hired): the
    # judge swaps one stage for the truth's to see which stage a group's lists lose on
    every[list(STAGE_TRUTH)] = _stages(model, every)
    every.to_parquet(out / "scores.parquet")
    # the keyword and popularity baselines on the same snapshot (the truth bench's)
    for label, baseline in (
        ("keyword", KeywordRecommender()),
        ("popularity", PopularityRecommender()),
    ):
        found = baseline.fit(ds).recommend_many(ids, K)
        found[["worker_id", "vacancy_id", "score"]].to_parquet(out / f"lists-{label}.parquet")
    seconds["plan+lists"] = time.perf_counter() - t
    worker_groups(ds.workers, ds.events).reindex(pd.Index(ids, name="worker_id")).to_parquet(
        out / "groups.parquet"
    )
    opened = open_vacancies(ds, at)
    opened[["vacancy_id", "channel", "headcount"]].astype({"channel": str}).to_parquet(
        out / "open.parquet"
    )
    (out / "run.json").write_text(
        json.dumps(
            {"priority": run.summary.get("priority_posts") or {}, "seconds": seconds},
            default=str,
        )
    )


def _stages(model: Any, pairs: pd.DataFrame) -> np.ndarray:
    """The ranker's stage probabilities ``(n, 3)`` — apply, hire | applied, stay | hired —
    of ``pairs`` (``worker_id, vacancy_id`` the catalogue holds)."""
    from matcher.models.features import RANKER_COLUMNS

    cat = model.catalogue
    wi = cat.wp.ids.get_indexer(pd.Index(pairs["worker_id"], dtype=object)).astype(np.int64)
    vi = cat.vp.ids.get_indexer(pd.Index(pairs["vacancy_id"], dtype=object)).astype(np.int64)
    values, _ = model.scorer.pair_values(cat, wi, vi)
    return np.asarray(model.ranker_.predict_stages(values[:, : len(RANKER_COLUMNS)]))


def _run(
    code: Path, folder: Path, out: Path, seed: int, cache: Path, params: dict[str, Any]
) -> None:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", str(folder)]
    cmd += ["--out", str(out), "--seed", str(seed), "--cache", str(cache)]
    cmd += ["--params", json.dumps(params)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {folder} with {code} failed:\n{done.stderr[-4000:]}")


def _slot(code: Path) -> str:
    return "this" if code == ROOT else "baseline"


# --------------------------------------------------------------------------- judging


def judge(folder: Path, out: Path) -> pd.DataFrame:
    """Per active worker: NDCG@10 with true gains (NaN when not judged) and the groups."""
    from matcher.evaluation.truth import candidate_diagnosis, ndcg_true_gains
    from training.synth import read_truth

    truth = read_truth(folder)
    lists = pd.read_parquet(out / "lists.parquet")
    groups = pd.read_parquet(out / "groups.parquet")
    best = truth.groupby("worker_id")["value"].max()
    judged = best.index[best > 0].intersection(groups.index)
    ndcg = ndcg_true_gains(lists, truth, K, judged)
    # the truth holds every pair the market's hard rules allow a seeking worker: a listed
    # pair it lacks is one the market forbids (value 0 by construction)
    allowed = pd.MultiIndex.from_frame(truth[["worker_id", "vacancy_id"]])
    top = lists.groupby("worker_id", sort=False).head(K)
    forbidden = ~pd.MultiIndex.from_frame(top[["worker_id", "vacancy_id"]]).isin(allowed)
    places = top.assign(forbidden=forbidden).groupby("worker_id")["forbidden"].agg(["sum", "size"])
    out_frame = groups.assign(
        ndcg=ndcg.reindex(groups.index),
        forbidden=places["sum"].reindex(groups.index),
        places=places["size"].reindex(groups.index),
    )
    for label in ("keyword", "popularity"):
        if (out / f"lists-{label}.parquet").exists():
            found = pd.read_parquet(out / f"lists-{label}.parquet")
            out_frame[f"ndcg {label}"] = ndcg_true_gains(found, truth, K, judged)
    if (out / "scores.parquet").exists():
        scores = pd.read_parquet(out / "scores.parquet")
        diagnosis = candidate_diagnosis(scores, truth, K, judged)
        out_frame = out_frame.join(diagnosis)
        if set(STAGE_TRUTH) <= set(scores.columns):
            out_frame = out_frame.join(stage_swaps(scores, truth, judged))
    return out_frame


def stage_swaps(scores: pd.DataFrame, truth: pd.DataFrame, judged: pd.Index) -> pd.DataFrame:
    """Per judged worker, NDCG@10 of his candidates ordered by the product of the
    ranker's stages (``stages``; the served order up to the joint map's ties) and by the
    same product with one stage replaced by the truth's probability (``true apply``,
    ``true hire``, ``true stay``): the stage whose swap gains most is where a group's
    lists are lost; what even the swap leaves is in the other stages."""
    from matcher.evaluation.truth import ndcg_true_gains

    key = pd.MultiIndex.from_frame(scores[["worker_id", "vacancy_id"]])
    true = truth.set_index(["worker_id", "vacancy_id"]).reindex(key)
    model = scores[list(STAGE_TRUTH)].to_numpy(dtype=float)
    ways = {"stages": model.prod(axis=1)}
    for j, (stage, column) in enumerate(STAGE_TRUTH.items()):
        swapped = model.copy()
        # a pair the truth lacks is one the market forbids: its true probability is 0
        swapped[:, j] = true[column].fillna(0.0).to_numpy(dtype=float)
        ways[f"true {stage}"] = swapped.prod(axis=1)
    pairs = scores[["worker_id", "vacancy_id"]]
    return pd.DataFrame(
        {
            f"ndcg {way}": ndcg_true_gains(pairs.assign(score=score), truth, K, judged)
            for way, score in ways.items()
        }
    )


def welfare_facts(folder: Path, out: Path) -> dict[str, Any]:
    """Why public-welfare seats are (not) planned on this market."""
    from matcher.planning.priority_posts import is_priority_worker
    from training.synth import read_truth

    vac = pd.read_csv(folder / "vacancies.csv", dtype={"region": str})
    workers = pd.read_csv(folder / "workers.csv", dtype={"home_region": str})
    posted = vac[vac["channel"] == WELFARE]
    opened = pd.read_parquet(out / "open.parquet")
    open_w = opened[opened["channel"] == WELFARE]
    truth = read_truth(folder)
    pairs = truth[truth["vacancy_id"].isin(open_w["vacancy_id"])]
    priority = is_priority_worker(workers)
    seekers = pairs.loc[pairs["value"] > 0, "worker_id"].unique()
    priority_posts = json.loads((out / "run.json").read_text())["priority"]
    report = priority_posts.get(WELFARE, {})
    factory = priority_posts.get("employment_factory", {})
    return {
        "posted": len(posted),
        "filled before": int((posted["status"] == "filled").sum()),
        "closed before": int((posted["status"] == "closed").sum()),
        "open": len(open_w),
        "open seats": int(pd.to_numeric(open_w["headcount"]).sum()),
        "seekers eligible": int(pairs["worker_id"].nunique()),
        "priority seekers eligible": int(priority.reindex(seekers).fillna(False).sum()),
        "seats planned": int(report.get("seats_planned") or 0),
        "to priority": int(report.get("to_priority") or 0),
        "factory seats planned": int(factory.get("seats_planned") or 0),
        "factory seats to priority": int(factory.get("to_priority") or 0),
    }


def ratios(frame: pd.DataFrame) -> tuple[float, float, str]:
    """(worst/best language group NDCG, semi-weak/full NDCG, worst language group)."""
    from matcher.evaluation.groups import worst_and_best_groups

    lang = frame.groupby("language")["ndcg"].agg(["mean", "count"])
    lang = lang[lang.index.isin(LANGUAGE_GROUPS)]
    table = lang.rename(columns={"count": "n"}).rename_axis("group").reset_index()
    spread = worst_and_best_groups(table, MIN_GROUP)
    cap = frame.groupby("labour capacity")["ndcg"].mean()
    worst = spread.worst if spread else "–"
    lr = spread.ratio if spread else np.nan
    cr = float(cap.get("semi/weak", np.nan) / cap.get("full", np.nan))
    return lr, cr, worst


def bootstrap(frames: dict[str, pd.DataFrame], n_boot: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Resampled (language ratio, capacity ratio) per code version, the same workers drawn
    for every version (within their language × capacity cell), shape (n_boot, 2)."""
    rng = np.random.default_rng(seed)
    first = next(iter(frames.values()))
    judged = first.index[first["ndcg"].notna()]
    cells = first.loc[judged].groupby(["language", "labour capacity"]).indices
    out = {k: np.empty((n_boot, 2)) for k in frames}
    parts = {k: f.reindex(judged) for k, f in frames.items()}
    for b in range(n_boot):
        pick = np.concatenate([idx[rng.integers(0, len(idx), len(idx))] for idx in cells.values()])
        for k, f in parts.items():
            lr, cr, _ = ratios(f.iloc[pick])
            out[k][b] = (lr, cr)
    return out


# --------------------------------------------------------------------------- report


def _judged_groups(frames: dict[str, pd.DataFrame]):
    """(code version, group, its judged workers) for each code version and each language
    and labour-capacity group with judged workers."""
    for label, f in frames.items():
        j = f[f["ndcg"].notna()]
        for dim, group in [
            *(("language", g) for g in LANGUAGE_GROUPS),
            ("labour capacity", "full"),
            ("labour capacity", "semi/weak"),
        ]:
            g = j[j[dim] == group]
            if len(g):
                yield label, group, g


def per_group_rows(name: str, frames: dict[str, pd.DataFrame]) -> list[list[object]]:
    """Rows of the per-group table of one variant: each code version x each language and
    labour-capacity group."""
    out: list[list[object]] = []
    for label, group, g in _judged_groups(frames):
        row: list[object] = [name, label, group, len(g), _f(float(g["ndcg"].mean()))]
        if "recall" in g.columns:
            calib = float(g["score_sum"].sum() / g["value_sum"].sum())
            row += [
                _f(float(g["recall"].mean())),
                f"{g['options'].mean():.1f}",
                _f(float(g["random"].mean())),
                _f(float(g["spearman"].mean())),
                _f(calib),
            ]
        else:
            row += ["–"] * 5
        out.append(row)
    return out


#: the stage-swap table's columns after the group's NDCG@10, and the judged frame's
#: column behind each
SWAP_COLUMNS = {
    "keyword": "ndcg keyword",
    "popularity": "ndcg popularity",
    "random": "random",
    "stages": "ndcg stages",
    "true apply": "ndcg true apply",
    "true hire": "ndcg true hire",
    "true stay": "ndcg true stay",
}


def swap_rows(name: str, frames: dict[str, pd.DataFrame]) -> list[list[object]]:
    """Rows of the stage-swap table of one variant: per code version and language or
    labour-capacity group, NDCG@10 of the engine, the baselines and a random order, the
    headroom over a random order the engine takes, and the engine with one stage
    replaced by the truth's."""
    out: list[list[object]] = []
    for label, group, g in _judged_groups(frames):
        engine = float(g["ndcg"].mean())
        means = {
            k: float(g[c].mean()) if c in g.columns else np.nan for k, c in SWAP_COLUMNS.items()
        }
        headroom = (engine - means["random"]) / (1.0 - means["random"])
        out.append(
            [name, label, group, len(g), _f(engine), _f(headroom)] + [_f(v) for v in means.values()]
        )
    return out


def _ci(values: np.ndarray) -> str:
    v = values[np.isfinite(values)]
    if not len(v):
        return "–"
    lo, hi = np.percentile(v, [2.5, 97.5])
    return f"[{lo:.3f}, {hi:.3f}]"


def _f(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--baseline-ref", default="main", help="git commit of the baseline, or none")
    ap.add_argument("--variants", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--seeds", default="7", help="comma-separated market seeds")
    ap.add_argument("--workers", type=int, default=1200)
    ap.add_argument("--employers", type=int, default=50)
    ap.add_argument("--weeks", type=int, default=40)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, default=None, help="keep markets and results here")
    ap.add_argument("--no-write", action="store_true", help="print; leave docs/ alone")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="judge the results already in --workdir again instead of measuring (same code)",
    )
    ap.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Recommender parameter of THIS checkout's model (experiments; the baseline "
        "keeps its defaults unless --baseline-param), as bench/truth_bench.py's --param",
    )
    ap.add_argument(
        "--baseline-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Recommender parameter of the --baseline-ref commit's model (as --param), e.g. "
        "to compare one more opt-in parameter against opt-in ones the baseline shares",
    )
    args = ap.parse_args(argv)
    if args.measure is not None:  # the engine comes from PYTHONPATH
        measure(args.measure, args.out, args.seed, args.cache, json.loads(args.params))
        return 0
    sys.path.insert(0, str(ROOT))
    from bench.report import LoadSampler, extract_commit, git, markdown_table, write_section
    from bench.truth_bench import parse_params

    try:
        params = parse_params(args.param)
        base_params = parse_params(args.baseline_param)
    except ValueError as exc:
        ap.error(str(exc))
    if base_params and args.baseline_ref.lower() == "none":
        ap.error("--baseline-param needs a --baseline-ref")
    from training.synth import VARIANTS, build_market, write_market, write_truth

    names = [n for n in (args.variants or ",".join(VARIANTS)).split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; use {', '.join(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="equal-bench-")
        work = Path(tmp.name)
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    codes: dict[str, Path] = {}
    if args.baseline_ref.lower() != "none":
        base = work / "baseline-code"
        if not base.exists():
            extract_commit(args.baseline_ref, base)
        base_with = "".join(f", {k}={v}" for k, v in base_params.items())
        codes[f"baseline ({git('rev-parse', '--short', args.baseline_ref)}{base_with})"] = base
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    with_params = "".join(f", {k}={v}" for k, v in params.items())
    this = f"this code ({head}{', modified' if dirty else ''}{with_params})"
    codes[this] = ROOT
    if args.reuse:  # the labels of the code that measured the saved results
        first = work / f"{names[0]}-{seeds[0]}"
        codes = {
            (first / _slot(c) / "code.txt").read_text(): c
            for c in codes.values()
            if (first / _slot(c) / "code.txt").exists()
        } or codes
    cache = work / "embeddings.sqlite"

    per: dict[str, dict[str, list[pd.DataFrame]]] = {n: {k: [] for k in codes} for n in names}
    welfare_rows: list[list[object]] = []
    wall0 = time.perf_counter()
    measured = 0.0
    with LoadSampler() as load:
        for seed in seeds:
            for name in names:
                folder = work / f"{name}-{seed}"
                if not (folder / "truth.parquet").exists():
                    market = build_market(
                        args.workers,
                        args.employers,
                        args.weeks,
                        seed,
                        variant=name,
                        start="2026-01-05",
                    )
                    assert market.truth is not None
                    write_market(market.frames, folder)
                    write_truth(market.truth, folder)
                    del market
                for label, code in codes.items():
                    out = folder / _slot(code)
                    t = time.perf_counter()
                    if not (args.reuse and (out / "run.json").exists()):
                        _run(
                            code, folder, out, seed, cache, params if code == ROOT else base_params
                        )
                        (out / "code.txt").write_text(label)
                    measured += sum(json.loads((out / "run.json").read_text())["seconds"].values())
                    judged = judge(folder, out)
                    judged.index = pd.Index([f"{seed}:{w}" for w in judged.index], name="worker_id")
                    per[name][label].append(judged)
                    lr, cr, _ = ratios(judged)
                    print(
                        f"{name} seed {seed} {label}: NDCG {judged['ndcg'].mean():.3f}, "
                        f"language {lr:.3f}, semi/full {cr:.3f}; {time.perf_counter() - t:.0f} s",
                        flush=True,
                    )
                    if code == ROOT:
                        facts = welfare_facts(folder, out)
                        welfare_rows.append([name, seed, *facts.values()])
                        welfare_cols = list(facts)
    wall = time.perf_counter() - wall0

    labels = list(codes)
    rows, size_rows, group_rows, swap_table = [], [], [], []
    verdict = {"language": [], "capacity": []}
    for name in names:
        frames = {k: pd.concat(v) for k, v in per[name].items()}
        boot = bootstrap(frames, args.bootstrap)
        f0 = frames[labels[-1]]
        j = f0[f0["ndcg"].notna()]
        size_rows.append(
            [
                name,
                len(j),
                *(int((j["language"] == g).sum()) for g in LANGUAGE_GROUPS),
                int((j["labour capacity"] == "full").sum()),
                int((j["labour capacity"] == "semi/weak").sum()),
            ]
        )
        for label in labels:
            f = frames[label]
            lr, cr, worst = ratios(f)
            b = boot[label]
            j = f[f["ndcg"].notna()]
            weak = j[j["labour capacity"] == "semi/weak"]
            row = [
                name,
                label,
                _f(float(f["ndcg"].mean())),
                f"{int(weak['forbidden'].sum())} / {int(weak['places'].sum())}",
                worst,
                _f(lr),
                _ci(b[:, 0]),
                _f(cr),
                _ci(b[:, 1]),
            ]
            if label != labels[0]:
                d = b - boot[labels[0]]
                row += [_ci(d[:, 0]), _ci(d[:, 1])]
            else:
                row += ["", ""]
            rows.append(row)
        group_rows += per_group_rows(name, frames)
        swap_table += swap_rows(name, frames)
        lr, cr, _ = ratios(frames[labels[-1]])
        verdict["language"].append(lr)
        verdict["capacity"].append(cr)
    headers = [
        "variant",
        "code",
        "NDCG@10",
        "semi/weak top-10 places the market forbids",
        "worst language group",
        "worst/best language",
        "95 % interval",
        "semi-weak/full",
        "95 % interval",
        "change of language ratio vs baseline (95 %)",
        "change of semi-weak/full vs baseline (95 %)",
    ]
    worst_l = float(np.nanmin(verdict["language"]))
    worst_c = float(np.nanmin(verdict["capacity"]))
    wf = pd.DataFrame(welfare_rows, columns=["variant", "seed", *welfare_cols])
    planned = int(wf["seats planned"].sum())
    to_pri = int(wf["to priority"].sum())

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    body = "\n".join(
        [
            (
                f"Judged again (`--reuse`) from the results a run left in its work folder; "
                f"measuring them took {measured / 60:.1f} min wall clock in its subprocesses "
                "(import, fit, plan and lists; their load was not recorded)."
                if args.reuse
                else f"Load average during the run (min / mean / max): {load.summary()}. "
                f"Whole run {wall / 60:.1f} min wall clock."
            ),
            "",
            f"Markets: {len(names)} variants × seeds {', '.join(map(str, seeds))} of "
            f"`training.synth` ({args.workers:,} workers, {args.employers} employers, "
            f"{args.weeks} weeks from 2026-01-05; a seed is another market of the variant, "
            "so another snapshot). Per market and code version, in a subprocess: "
            "`import_folder` into a fresh SQLite store, the engine fitted as `jobmatch "
            "train`'s refit stage fits it (`default_models`' candidate, random_state = "
            "seed, on the whole snapshot), the nightly `run_match`, every active worker's "
            "top 10; then the truth is read and NDCG@10 with true gains judged per seeking "
            "worker with a positive option. Intervals: 95 % percentile bootstrap over "
            f"{args.bootstrap} resamples of the judged workers (within each language × "
            "capacity cell); the change against the baseline resamples the same workers "
            "for both versions (paired).",
            "",
            "Judged workers per group (this code; pooled over the seeds):",
            "",
            markdown_table(
                ["variant", "judged", *LANGUAGE_GROUPS, "full labour", "semi/weak labour"],
                size_rows,
            ),
            "",
            f"Issue 18's ratios (targets ≥ {TARGET_RATIO}; a language group counts with ≥ "
            f"{MIN_GROUP} judged workers). *Places the market forbids*: top-10 places of the "
            "judged semi/weak workers on pairs the truth does not hold (it holds every pair "
            "the market's hard rules allow), of all their places:",
            "",
            markdown_table(headers, rows),
            "",
            "Per group and code version: judged workers, NDCG@10, and why a group's lists "
            "are weaker — *recall*: share of the workers' true top 10 among the candidates "
            "the ranker scores; *options*: open vacancies with a positive true value per "
            "worker; *random*: NDCG@10 of the candidates in random order (how hard the "
            "lists are to order); *ρ*: rank correlation of score and true value over a "
            "worker's candidates; *score/truth*: the group's mean score over its mean true "
            "value on those candidates (calibration per group; 1 = calibrated):",
            "",
            markdown_table(
                [
                    "variant",
                    "code",
                    "group",
                    "judged",
                    "NDCG@10",
                    "recall",
                    "options",
                    "random",
                    "ρ",
                    "score/truth",
                ],
                group_rows,
            ),
            "",
            "Is a group's list weaker because the engine serves it worse or because its "
            "truth is harder to order? Per group and code version: NDCG@10 of the engine, "
            "*headroom taken* — (engine − random) / (1 − random), the share of what "
            "ordering can add over a random order that the engine adds —, the keyword and "
            "popularity baselines fitted on the same snapshot (the truth bench's), a random "
            "order of the candidates, the product of the ranker's stages over every "
            "candidate (*stages*: the served order but for the joint map's ties), and the "
            "same product with one stage replaced by the truth's probability (*true "
            "apply*, *true hire*, *true stay*): the stage whose swap gains most is where "
            "the group's lists are lost:",
            "",
            markdown_table(
                ["variant", "code", "group", "judged", "NDCG@10", "headroom taken", *SWAP_COLUMNS],
                swap_table,
            ),
            "",
            f"This code, worst over the variants: language {_f(worst_l)} — "
            f"{met(worst_l >= TARGET_RATIO)}; semi-weak/full {_f(worst_c)} — "
            f"{met(worst_c >= TARGET_RATIO)}.",
            "",
            "Public-welfare posts per market (this code): posted over the horizon, filled "
            "or closed before the snapshot, open at it (vacancies and seats), seeking "
            "workers with an eligible welfare pair (all, and priority workers — semi/weak "
            "labour or home-bound — with a positive true value), and the nightly plan's "
            "welfare seats (all, and to priority workers); for comparison the plan's "
            "employment-factory seats, which policy also gives first to priority workers "
            "(the plan has no priority rule for them):",
            "",
            markdown_table(["variant", "seed", *welfare_cols], wf.values.tolist()),
            "",
            f"Planned welfare seats over all these markets: {planned}, of which {to_pri} "
            f"to priority workers"
            + (
                f" ({to_pri / planned:.3f}; target ≥ {TARGET_WELFARE} — "
                f"{met(to_pri / planned >= TARGET_WELFARE)})."
                if planned
                else " (nothing planned: the target cannot be measured on these markets)."
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("equal", "Equal service: group gaps with intervals (issue 18)", body, SCRIPT)
        print("wrote docs/benchmarks.md (equal)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
