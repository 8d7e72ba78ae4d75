"""``jobmatch train``: store -> time split -> fit and evaluate against baselines ->
refit on all data -> ``models/<version>/`` -> promotion.

Stages (each with a progress bar, each timed into the model card):

1. **load** the snapshot through a loader (the service passes one reading the store: ``service.training_runs``);
   refuse an unusable one (:func:`training.split.check_trainable`).
2. **split** by time (:func:`training.split.time_split`).
3. **evaluate** the candidate and the baselines on the split, all fitted on the
   training snapshot only (:func:`training.evaluate.compare`).
4. **incumbent**: if a model is promoted, refit its recipe (class and parameters,
   read from its artifact) on the same training snapshot and measure it on the
   same test set, so the promotion guard compares like with like.
5. **refit** the candidate on all data up to ``until``.
6. **write** ``models/<version>/``: the artifact (the model's ``save``),
   ``model_card.json`` and ``report.html``.
7. **promote** through the guard (:func:`training.registry.promote`), unless
   ``promote=False``.

The same data and seed give the same metrics (every model takes ``random_state``).
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from matcher.data.dataset import Dataset
from matcher.protocols import Embedder, ExplainingModel
from training import registry
from training.evaluate import (
    BASELINE_NAMES,
    CANDIDATE_NAME,
    DEFAULT_KS,
    Ablation,
    Comparison,
    compare,
    default_models,
    evaluate_model,
    evaluate_recommendations,
    summary_table,
)
from training.groups import GAP_METRIC, MIN_GROUP_WORKERS, groups_to_card, heldout_group_table
from training.registry import GuardDecision, PromotionRefused
from training.report import write_report
from training.split import DEFAULT_TEST_WEEKS, TimeSplit, as_of, check_trainable, time_split
from training.survival import evaluate_survival

log = logging.getLogger(__name__)

#: Workers evaluated at most (a seeded uniform sample beyond that).
DEFAULT_MAX_EVAL_WORKERS = 5000
#: Persistent cache of sentence embeddings, shared by training runs (in model_dir).
EMBEDDING_CACHE = ".embeddings.sqlite"
PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightfm-next",
    "sentence-transformers",
    "torch",
    "joblib",
)

__all__ = [
    "DatasetLoader",
    "TrainOptions",
    "TrainResult",
    "package_versions",
    "remeasure_from",
    "train",
    "train_from",
]


@dataclass
class TrainOptions:
    """What ``jobmatch train`` was asked to do.

    Attributes
    ----------
    until : timestamp-like, optional
        End of the data used (exclusive); default: the end of the last event's day.
    test_weeks : float
        Length of the test window.
    seed : int
        ``random_state`` of every model.
    force : bool
        Promote even if the guard refuses.
    tolerance : float
        Absolute NDCG@10 drop the guard allows.
    gap_tolerance : float
        Absolute widening of a per-group gap the guard allows (``training.registry``).
    gap_min_workers : int
        Smallest group (evaluated workers) that counts for the gap guard.
    promote : bool
        Try to promote the new model at all.
    baselines : sequence of str
        Which baselines to measure (default: all four).
    candidate_params : mapping
        Extra keyword arguments of the candidate ``Recommender`` (and its ablations).
    embedder : matcher.protocols.Embedder, optional
        Dense text channel for the Recommender (tests pass a HashingEmbedder); None:
        ``matcher.text.encoders.embedder_from_env`` with a SQLite cache beside the models.
    max_eval_workers : int, optional
        Evaluate a uniform sample of at most this many test workers (bounded time
        on a large store); None evaluates all.
    progress : bool
        Show progress bars.
    threads : int or None, default 1
        BLAS and OpenMP threads while training (``threadpoolctl``); None leaves the
        libraries' defaults. One by default: on a small machine shared with other
        work, multi-threaded BLAS and OpenMP spend their time waiting for each other
        (measured at load 4 on 2 cores: an SVD 45x, k-means 12x and gradient boosting
        4x slower with 2 threads than with 1), while a quiet machine gains little.
    """

    until: Any = None
    test_weeks: float = DEFAULT_TEST_WEEKS
    seed: int = 0
    force: bool = False
    tolerance: float = registry.DEFAULT_TOLERANCE
    gap_tolerance: float = registry.DEFAULT_GAP_TOLERANCE
    gap_min_workers: int = MIN_GROUP_WORKERS
    promote: bool = True
    baselines: Sequence[str] = BASELINE_NAMES
    candidate_params: Mapping[str, Any] = field(default_factory=dict)
    embedder: Embedder | None = None
    ks: Sequence[int] = DEFAULT_KS
    max_eval_workers: int | None = DEFAULT_MAX_EVAL_WORKERS
    progress: bool = True
    models_factory: Callable[..., dict[str, Any]] | None = None
    threads: int | None = 1


@dataclass
class TrainResult:
    """What a training run produced."""

    version: str
    folder: Path
    card: dict[str, Any]
    comparison: Comparison
    summary: pd.DataFrame
    decision: GuardDecision | None
    promoted: bool
    refusal: str | None
    timings: dict[str, float]


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        out["jobmatch"] = metadata.version("jobmatch")
    except metadata.PackageNotFoundError:
        out["jobmatch"] = "source"
    return out


class _Stages:
    """A progress bar over the stages, with a timing for each."""

    def __init__(self, names: Sequence[str], progress: bool) -> None:
        self.bar = tqdm(total=len(names), desc="train", unit="stage", disable=not progress)
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        self.bar.set_postfix_str(name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)
            self.bar.update(1)
            if not self.bar.disable:
                tqdm.write(f"stage {name}: {self.timings[name]:.1f} s")

    def close(self) -> None:
        self.bar.close()


def _metrics_by_model(comparison: Comparison) -> dict[str, dict[str, float]]:
    """``{model: {"ndcg@10": .., "ndcg@10/warm": .., "coverage@10": ..}}`` (all workers unsuffixed)."""
    out: dict[str, dict[str, float]] = {}
    m = comparison.metrics
    for model, metric, k, segment, value in zip(
        m["model"], m["metric"], m["k"], m["segment"], m["value"], strict=True
    ):
        key = f"{metric}@{k}" + ("" if segment == "all" else f"/{segment}")
        out.setdefault(str(model), {})[key] = round(float(value), 6)
    return out


def _clone(model: Any) -> Any:
    """An unfitted copy with the same parameters (the model's recipe)."""
    return type(model)(**model.get_params())


def _remeasure_incumbent(
    model_dir: Path, version: str, split: TimeSplit, ks: Sequence[int]
) -> dict[str, Any]:
    """Refit the promoted model's recipe on ``split.train`` and measure NDCG@10 on its test."""
    current = registry.load_model(model_dir, version)
    run = evaluate_model(_clone(current), split, ks, name="incumbent")
    m = evaluate_recommendations(run.recommendations, split, ks, name="incumbent")
    row = m[(m["metric"] == "ndcg") & (m["k"] == 10) & (m["segment"] == "all")]
    # its per-group NDCG@10 on the same held-out weeks, for the gap guard (no intervals)
    table = heldout_group_table({"incumbent": run.recommendations}, split, n_boot=0)
    table = table[table["metric"] == GAP_METRIC]
    return {
        "version": version,
        registry.GUARD_METRIC: round(float(row["value"].iloc[0]), 6),
        "split": split.identity(),
        "groups": groups_to_card(table),
    }


def train(
    dataset: Dataset, model_dir: str | Path, options: TrainOptions | None = None
) -> TrainResult:
    """Run the whole training pipeline on a snapshot (see the module docstring).

    Parameters
    ----------
    dataset : matcher.Dataset
        The store's snapshot.
    model_dir : path
        Where ``<version>/`` folders and ``current`` live.
    options : TrainOptions

    Returns
    -------
    TrainResult

    Raises
    ------
    training.split.TrainingDataError
        Empty store, no events, one kind of outcome, too little data for the split.
    """
    opts = options or TrainOptions()
    with threadpool_limits(limits=opts.threads):  # None: no limit
        return _train(dataset, Path(model_dir), opts)


def _train(dataset: Dataset, root: Path, opts: TrainOptions) -> TrainResult:
    stages = _Stages(
        ["check", "split", "evaluate", "groups", "incumbent", "refit", "write", "promote"],
        opts.progress,
    )
    try:
        with stages.stage("check"):
            check_trainable(dataset)
            fingerprint = dataset.fingerprint()
        with stages.stage("split"):
            split = time_split(
                dataset,
                opts.until,
                opts.test_weeks,
                fingerprint=fingerprint,
                max_workers=opts.max_eval_workers,
                sample_seed=opts.seed,
            )
        factory = opts.models_factory or default_models
        include = (*opts.baselines, CANDIDATE_NAME)
        embedder = opts.embedder
        if embedder is None:
            # one embedder for every model of the run: texts are encoded once, and the
            # SQLite cache beside the models makes the next training run cheaper
            from matcher.text.encoders import embedder_from_env

            root.mkdir(parents=True, exist_ok=True)
            embedder = embedder_from_env(cache_path=str(root / EMBEDDING_CACHE))
        models = factory(
            random_state=opts.seed,
            embedder=embedder,
            candidate_params=opts.candidate_params,
            include=include,
        )
        with stages.stage("evaluate"):
            comparison = compare(models, split, opts.ks, progress=opts.progress)
            survival = _survival(models.get(CANDIDATE_NAME), dataset, split)
        with stages.stage("groups"):
            groups = _groups(comparison, split, opts.seed)
        incumbent: dict[str, Any] | None = None
        current = registry.current_version(root)
        with stages.stage("incumbent"):
            if current is not None and opts.promote:
                try:
                    incumbent = _remeasure_incumbent(root, current, split, opts.ks)
                except Exception as exc:  # noqa: BLE001 - reported, guard decides
                    log.warning("could not re-measure the current model %s: %s", current, exc)
                    incumbent = {"version": current, "error": str(exc)}
        with stages.stage("refit"):
            full_data = dataset if opts.until is None else as_of(dataset, split.until)
            final: Any = factory(
                random_state=opts.seed,
                embedder=embedder,
                candidate_params=opts.candidate_params,
                include=(CANDIDATE_NAME,),
            )[CANDIDATE_NAME]
            final.fit(full_data)
        with stages.stage("write"):
            folder = registry.new_version_dir(root)
            try:
                final.save(folder)
                card = _model_card(
                    folder.name, final, dataset, full_data, fingerprint, split, comparison, opts
                )
                card["incumbent"] = incumbent
                card["survival"] = survival
                card["groups"] = groups
                card["timings"] = dict(stages.timings)
                registry.write_card(folder, card)
                write_report(folder / registry.REPORT, comparison, card)
            except BaseException:
                # never leave a half-written version behind for `models list` or promote
                shutil.rmtree(folder, ignore_errors=True)
                raise
        decision: GuardDecision | None = None
        refusal = None
        promoted = False
        with stages.stage("promote"):
            if opts.promote:
                try:
                    decision = registry.promote(
                        root,
                        folder.name,
                        tolerance=opts.tolerance,
                        gap_tolerance=opts.gap_tolerance,
                        gap_min_workers=opts.gap_min_workers,
                        force=opts.force,
                        reason="jobmatch train",
                    )
                    promoted = True
                except PromotionRefused as exc:
                    refusal = str(exc)
        card["timings"] = dict(stages.timings)
        card["promotion"] = {
            "promoted": promoted,
            "forced": bool(opts.force and promoted),
            "decision": decision.message() if decision else None,
            "refused": refusal,
        }
        registry.write_card(folder, card)
        write_report(folder / registry.REPORT, comparison, card)
    finally:
        stages.close()
    return TrainResult(
        version=folder.name,
        folder=folder,
        card=card,
        comparison=comparison,
        summary=summary_table(comparison.metrics),
        decision=decision,
        promoted=promoted,
        refusal=refusal,
        timings=dict(stages.timings),
    )


#: Models measured per group of workers in the training report.
GROUP_MODELS = (CANDIDATE_NAME, "keyword", "popularity")


def _groups(comparison: Comparison, split: TimeSplit, seed: int) -> dict[str, Any]:
    """Per-group held-out metrics of the candidate and the baselines (``training.groups``)."""
    recs = {
        name: comparison.runs[name].recommendations
        for name in GROUP_MODELS
        if name in comparison.runs
    }
    return groups_to_card(heldout_group_table(recs, split, seed=seed))


def _survival(model: Any, dataset: Dataset, split: TimeSplit) -> dict[str, Any] | None:
    """The candidate's stay stage judged as a survival model (``training.survival``)."""
    if not isinstance(model, ExplainingModel):
        return None
    try:
        return evaluate_survival(model, dataset, split.cutoff, split.until).as_dict()
    except Exception as exc:  # noqa: BLE001 - the report says so; training goes on
        log.warning("survival evaluation failed: %s", exc)
        return {"note": f"survival evaluation failed: {type(exc).__name__}: {exc}"}


def _model_card(
    version: str,
    model: Any,
    dataset: Dataset,
    full_data: Dataset,
    fingerprint: str,
    split: TimeSplit,
    comparison: Comparison,
    opts: TrainOptions,
) -> dict[str, Any]:
    try:
        params = {k: repr(v) for k, v in model.get_params().items()}
    except Exception:  # noqa: BLE001
        params = {}
    return {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": params,
        "seed": opts.seed,
        "threads": opts.threads,
        "data": {
            "counts": dataset.counts(),
            "fingerprint": fingerprint,
            "refit_counts": full_data.counts(),
            "first_event": str(dataset.events["occurred_at"].min()),
            "last_event": str(dataset.events["occurred_at"].max()),
        },
        "split": {
            "identity": split.identity(),
            "summary": split.summary(),
            "test_weeks": opts.test_weeks,
            "sample": split.sample,
            "rules": "training/split.py module docstring",
        },
        "metrics": _metrics_by_model(comparison),
        "metric_definitions": {
            "ndcg": "linear gain = outcome grade (retained 3, hired 2, applied 1), "
            "discount 1/log2(rank+1), ideal from the worker's own held-out grades",
            "map": "AP@k divided by min(k, number of relevant pairs)",
            "precision": "hits in top k / k",
            "recall": "hits in top k / relevant pairs",
            "coverage": "open vacancies at the cutoff shown in any evaluated worker's top k "
            "/ open vacancies at the cutoff",
            "relevant": "grade >= 1 in the test weeks, first pursued there",
        },
        "baselines": [n for n in comparison.runs if n != CANDIDATE_NAME],
        "baseline_filters": {
            n: r.params.get("filter_") for n, r in comparison.runs.items() if "filter_" in r.params
        },
        "fit_seconds": {n: round(r.fit_seconds, 3) for n, r in comparison.runs.items()},
        "baseline_methods": {
            n: (
                Ablation(str(r.params.get("stages")), r.derived_from).describe()
                if r.derived_from
                else "fitted on the training snapshot on its own"
            )
            for n, r in comparison.runs.items()
            if n != CANDIDATE_NAME
        },
        "packages": package_versions(),
    }


#: Returns the market snapshot to train on; the service passes one that reads the store
#: (``service.training_runs.store_loader``), so training/ never imports the store.
DatasetLoader = Callable[[], Dataset]


def train_from(
    load: DatasetLoader, model_dir: str | Path, options: TrainOptions | None = None
) -> TrainResult:
    """Load a snapshot with ``load`` and run :func:`train`, timing the load as a stage."""
    opts = options or TrainOptions()
    t0 = time.perf_counter()
    dataset = load()
    load_seconds = round(time.perf_counter() - t0, 3)
    result = train(dataset, model_dir, opts)
    result.timings = {"load": load_seconds, **result.timings}
    result.card["timings"] = dict(result.timings)
    registry.write_card(result.folder, result.card)
    return result


def remeasure_from(
    load: DatasetLoader, model_dir: str | Path, ks: Sequence[int] = DEFAULT_KS
) -> registry.Remeasure:
    """A ``remeasure`` for :func:`training.registry.promote` that loads the snapshot lazily.

    It rebuilds the candidate's split from its card (same ``until`` and test
    weeks), checks that the store still holds the same data (the fingerprint),
    refits the current model's recipe on that split's training snapshot and
    returns its record there (NDCG@10 and per-group figures, as the card's ``incumbent``).
    """

    def remeasure(card: dict[str, Any], current: str) -> dict[str, Any]:
        split_info = card.get("split", {})
        identity = split_info.get("identity") or {}
        dataset = load()
        fingerprint = dataset.fingerprint()
        if identity.get("data_fingerprint") != fingerprint:
            raise PromotionRefused(
                f"the store changed since {card.get('version')} was trained, so it cannot be "
                f"compared with {current} on its split; run `jobmatch train` again (it measures "
                "both on the same split) or pass --force"
            )
        sample = split_info.get("sample") or {}
        split = time_split(
            dataset,
            identity.get("until"),
            float(split_info.get("test_weeks", DEFAULT_TEST_WEEKS)),
            fingerprint=fingerprint,
            max_workers=sample.get("max_workers"),
            sample_seed=int(sample.get("seed", 0)),
        )
        with threadpool_limits(limits=TrainOptions.threads):
            # the whole record: NDCG@10 and the per-group figures for the gap guard
            return _remeasure_incumbent(Path(model_dir), current, split, ks)

    return remeasure
