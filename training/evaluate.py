"""Evaluate ranking models on a time split, all measured the same way in the same run.

:func:`compare` fits each model on ``split.train`` (never on test data), asks it
for the top ``max(ks)`` vacancies of every evaluated worker (those with a test
pair, see :mod:`training.split`), and measures:

* precision, recall, NDCG (graded: retained 3, hired 2, applied 1) and MAP
  (AP denominator ``min(k, relevant)``) at k = 5, 10, 20, for all, warm and
  cold workers (:mod:`matcher.evaluation.metrics`);
* catalogue coverage: the share of vacancies open at the cutoff that appear in
  at least one evaluated worker's top k;
* calibration: for every recommended pair, its score against whether it became a
  stable placement in the test weeks (retained 3 months, grade 3), in bins;
* score distributions (the scores of recommended pairs);
* per channel: recall@10 and NDCG@10 against the test pairs of each vacancy
  channel, using each worker's full top-10 list (how well each channel's
  outcomes are found).

The ``lightfm`` and ``content`` baselines are, by default, read off the candidate
after it is fitted (:class:`Ablation`, ``Recommender.ablation``): its retrieval
LightFM ranking alone, and its dense and lexical similarity ranking alone. A
separate ``Recommender(stages="lightfm" | "content")`` fit on the same snapshot and
seed learns exactly these (``tests/training`` checks that both recommend the same),
so the run saves two full fits; ``ModelRun.derived_from`` and the model card say
how each baseline was obtained.

Every result is a tidy :class:`pandas.DataFrame`; :func:`summary_table` pivots the
metrics to rows × models with the quality ratios against the keyword and
popularity baselines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from matcher.data.schema import Columns
from matcher.evaluation.metrics import GRADE, catalogue_coverage, per_worker_metrics
from matcher.models.base import RankingModel
from matcher.protocols import AblatingModel, FilteringModel, JointFitModel, RefreshableModel
from training.split import TimeSplit

DEFAULT_KS: tuple[int, ...] = (5, 10, 20)
#: Grade of a stable placement (retained three months) for calibration.
STABLE_GRADE = 3
#: Grade of a hire (hired, whatever came after).
HIRED_GRADE = 2
METRICS = ("ndcg", "precision", "recall", "map")
SEGMENTS = ("all", "warm", "cold")
#: The baselines and the candidate, in report order.
BASELINE_NAMES = ("popularity", "keyword", "lightfm", "content")
CANDIDATE_NAME = "full"

__all__ = [
    "Ablation",
    "CANDIDATE_NAME",
    "DEFAULT_KS",
    "Comparison",
    "ModelRun",
    "calibration",
    "compare",
    "default_models",
    "evaluate_recommendations",
    "evaluate_model",
    "per_channel",
    "recommend_for_split",
    "serve_split",
    "summary_table",
]


@dataclass
class ModelRun:
    """One model's recommendations on a split and how long it took."""

    name: str
    recommendations: pd.DataFrame
    fit_seconds: float
    recommend_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    #: Name of the model this run was read off (an :class:`Ablation`), else None.
    derived_from: str | None = None


@dataclass(frozen=True)
class Ablation:
    """A baseline read off another model of the same run once it is fitted and served.

    :func:`compare` evaluates the model named ``of`` first, then scores
    ``model.ablation(stages)`` (``matcher.serving.recommender.Recommender.ablation``) on the
    same served snapshot: no second fit.
    """

    stages: str
    of: str = CANDIDATE_NAME

    def describe(self) -> str:
        channel = {
            "lightfm": "its retrieval LightFM score alone (hybrid matrix factorisation, WARP, "
            "fitted on the training snapshot's interactions)",
            "content": "the mean of its dense and lexical text similarities alone (sentence "
            "model and TF-IDF vocabulary of the snapshot's texts; nothing learned from outcomes)",
        }.get(self.stages, f"stages={self.stages!r}")
        return (
            f"read off the {self.of!r} model fitted in this run (Recommender.ablation"
            f"({self.stages!r})): eligible vacancies ranked by {channel}, no ranker; the same "
            f"recommendations as a separate Recommender(stages={self.stages!r}) fit with the same "
            "parameters and seed"
        )


@dataclass
class Comparison:
    """Everything one evaluation run measured (all frames tidy)."""

    split: TimeSplit
    metrics: pd.DataFrame  # model, segment, metric, k, value
    calibration: pd.DataFrame  # model, bin, score_mean, observed, n
    per_channel: pd.DataFrame  # model, channel, metric, value, n_workers
    runs: dict[str, ModelRun]

    def value(self, model: str, metric: str = "ndcg", k: int = 10, segment: str = "all") -> float:
        m = self.metrics
        row = m[
            (m["model"] == model)
            & (m["metric"] == metric)
            & (m["k"] == k)
            & (m["segment"] == segment)
        ]
        if row.empty:
            raise KeyError(f"no {metric}@{k} ({segment}) for model {model!r}")
        return float(row["value"].iloc[0])

    def scores(self) -> dict[str, np.ndarray]:
        """Scores of every recommended pair, per model (for distributions)."""
        return {
            name: run.recommendations[Columns.Score].to_numpy(dtype=float)
            for name, run in self.runs.items()
        }


def serve_split(model: RankingModel, split: TimeSplit) -> RankingModel:
    """Hand a model fitted on ``split.train`` the serving snapshot at the cutoff.

    ``refresh(split.serving, at=split.cutoff)`` adds the profiles of workers
    registered in the test weeks and fixes the open vacancies at the cutoff, for
    every model alike (see :mod:`training.split`).

    Raises
    ------
    TypeError
        The model has no ``refresh`` (it could not serve new workers fairly).
    """
    if not isinstance(model, RefreshableModel):
        raise TypeError(
            f"{type(model).__name__} has no refresh(dataset, at): every evaluated model must "
            "serve workers registered after training the same way"
        )
    model.refresh(split.serving, at=split.cutoff)
    return model


def recommend_for_split(model: RankingModel, split: TimeSplit, k: int) -> pd.DataFrame:
    """Top ``k`` of a fitted model for every evaluated worker of ``split``."""
    workers = list(split.test_workers)
    recs = model.recommend_many(workers, k=k)
    return recs.reset_index(drop=True)


def _segment_workers(split: TimeSplit) -> dict[str, pd.Index]:
    return {"all": split.test_workers, "warm": split.warm_workers, "cold": split.cold_workers}


def evaluate_recommendations(
    recommendations: pd.DataFrame,
    split: TimeSplit,
    ks: Sequence[int] = DEFAULT_KS,
    name: str = "model",
) -> pd.DataFrame:
    """Metrics of ready-made recommendations on a split.

    Parameters
    ----------
    recommendations : pandas.DataFrame
        ``worker_id, vacancy_id, rank`` (at least ``max(ks)`` per worker to be fair).
    split : TimeSplit
    ks : sequence of int
    name : str
        Written into the ``model`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, segment, metric, k, value``; ``segment`` in all / warm /
        cold, ``metric`` in ndcg, precision, recall, map, coverage, n_workers.
    """
    rows: list[tuple[str, str, str, int, float]] = []
    segments = _segment_workers(split)
    test = split.test
    for k in ks:
        pw = per_worker_metrics(recommendations, test, k=k)
        for seg, workers in segments.items():
            part = pw.reindex(workers)
            for metric in METRICS:
                col = "ap" if metric == "map" else metric
                val = float(part[col].mean()) if len(part) else float("nan")
                rows.append((name, seg, metric, k, val))
            rows.append((name, seg, "n_workers", k, float(len(part))))
        rows.append(
            (name, "all", "coverage", k, catalogue_coverage(recommendations, split.candidates, k))
        )
    return pd.DataFrame(rows, columns=["model", "segment", "metric", "k", "value"])


def calibration(
    recommendations: pd.DataFrame, split: TimeSplit, n_bins: int = 10, name: str = "model"
) -> pd.DataFrame:
    """Score of recommended pairs against the observed outcome in the test weeks.

    Scores within [0, 1] (probabilities) are binned uniformly; other scores by
    quantiles (equal-count bins), since only their order is meaningful.

    A stable placement (retained three months, grade 3) can only be observed in
    the test window for a pair hired at least three months earlier — and such pairs
    were pursued before the cutoff, so they are not test pairs. With a test window
    shorter than three months ``observed`` is therefore mostly 0; ``hired`` (grade
    2 or more: hired, whatever came after) is the outcome the window can show.

    Returns
    -------
    pandas.DataFrame
        ``model, bin, score_mean, observed, hired, n``: per bin the mean score, the
        share of pairs retained three months (grade 3) and the share hired or better.
    """
    cols = ["model", "bin", "score_mean", "observed", "hired", "n"]
    if recommendations.empty:
        return pd.DataFrame(columns=cols)
    truth = split.test.set_index([Columns.Worker, Columns.Vacancy])[GRADE]
    keys = pd.MultiIndex.from_frame(recommendations[[Columns.Worker, Columns.Vacancy]])
    grade = truth.reindex(keys).fillna(0).to_numpy()
    stable = (grade >= STABLE_GRADE).astype(float)
    hired = (grade >= HIRED_GRADE).astype(float)
    score = recommendations[Columns.Score].to_numpy(dtype=float)
    finite = np.isfinite(score)
    score, stable, hired = score[finite], stable[finite], hired[finite]
    if len(score) == 0:
        return pd.DataFrame(columns=cols)
    if score.min() >= 0.0 and score.max() <= 1.0:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        edges = np.array([score.min(), score.max() + 1e-12])
    idx = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": idx, "score": score, "stable": stable, "hired": hired})
    out = frame.groupby("bin").agg(
        score_mean=("score", "mean"),
        observed=("stable", "mean"),
        hired=("hired", "mean"),
        n=("stable", "size"),
    )
    out = out.reset_index()
    out.insert(0, "model", name)
    return out[cols]


def per_channel(
    recommendations: pd.DataFrame, split: TimeSplit, k: int = 10, name: str = "model"
) -> pd.DataFrame:
    """Recall@k and NDCG@k against the test pairs of each vacancy channel.

    Returns
    -------
    pandas.DataFrame
        ``model, channel, metric, value, n_workers``.
    """
    vac = split.train.vacancies.set_index(Columns.Vacancy)["channel"]
    test = split.test.assign(
        channel=split.test[Columns.Vacancy].map(vac).fillna("unknown").astype(str)
    )
    rows = []
    for channel, part in test.groupby("channel", sort=True):
        pw = per_worker_metrics(recommendations, part, k=k)
        rows.append((name, channel, f"recall@{k}", float(pw["recall"].mean()), len(pw)))
        rows.append((name, channel, f"ndcg@{k}", float(pw["ndcg"].mean()), len(pw)))
    return pd.DataFrame(rows, columns=["model", "channel", "metric", "value", "n_workers"])


def evaluate_model(
    model: RankingModel,
    split: TimeSplit,
    ks: Sequence[int] = DEFAULT_KS,
    name: str = "model",
    fit: bool = True,
) -> ModelRun:
    """Fit ``model`` on ``split.train`` (unless ``fit=False``), serve the split
    (:func:`serve_split`; a model with ``fit_and_refresh`` does both in one call)
    and recommend for the test workers.

    Returns
    -------
    ModelRun
        The recommendations (top ``max(ks)``) and the fit/recommend times.
    """
    t0 = time.perf_counter()
    if fit and isinstance(model, JointFitModel):
        # the same as fit then serve_split, one catalogue fewer
        model.fit_and_refresh(split.train, split.serving, at=split.cutoff)
    else:
        if fit:
            model.fit(split.train)
        serve_split(model, split)
    t1 = time.perf_counter()
    recs = recommend_for_split(model, split, max(ks))
    t2 = time.perf_counter()
    try:
        params = dict(model.get_params())
    except Exception:  # noqa: BLE001 - params are informative only
        params = {}
    if isinstance(model, FilteringModel):
        params["filter_"] = model.filter_
    return ModelRun(name, recs, t1 - t0, t2 - t1, params)


def evaluate_ablation(
    source: Any,
    ablation: Ablation,
    split: TimeSplit,
    ks: Sequence[int] = DEFAULT_KS,
    name: str = "model",
) -> tuple[ModelRun, RankingModel]:
    """Score ``source.ablation(stages)`` for the evaluated workers of ``split``.

    ``source`` must already be fitted on ``split.train`` and served the split
    (:func:`evaluate_model` does both); the ablation shares its catalogue.

    Returns
    -------
    (ModelRun, model)
        ``fit_seconds`` is the time to read the ablation off (no fit).
    """
    if not isinstance(source, AblatingModel):
        raise TypeError(
            f"{name!r} is an ablation of {ablation.of!r}, but {type(source).__name__} has no "
            "ablation(stages): pass a fitted model instead"
        )
    t0 = time.perf_counter()
    model = source.ablation(ablation.stages)
    t1 = time.perf_counter()
    recs = recommend_for_split(model, split, max(ks))
    t2 = time.perf_counter()
    params = dict(model.get_params())
    return ModelRun(name, recs, t1 - t0, t2 - t1, params, derived_from=ablation.of), model


def compare(
    models: Mapping[str, RankingModel | Ablation],
    split: TimeSplit,
    ks: Sequence[int] = DEFAULT_KS,
    fit: bool = True,
    progress: bool = True,
    on_fitted: Callable[[str, RankingModel], None] | None = None,
) -> Comparison:
    """Fit and evaluate every model on the same split (see the module docstring).

    Parameters
    ----------
    models : mapping of name -> RankingModel or Ablation
        Unfitted models (``fit=True``) or models fitted on ``split.train``; an
        :class:`Ablation` is read off the model it names once that one is evaluated.
        Results keep the order of ``models``.
    split : TimeSplit
    ks : sequence of int
    fit : bool
        Fit each model on ``split.train`` first.
    progress : bool
        Show a tqdm bar over the models.
    on_fitted : callable, optional
        Called with (name, model) after each model is evaluated.

    Returns
    -------
    Comparison
    """
    for name, spec in models.items():
        if isinstance(spec, Ablation) and isinstance(models.get(spec.of, spec), Ablation):
            raise ValueError(
                f"{name!r} is an ablation of {spec.of!r}, which is not among the models "
                f"({', '.join(models)}); include it or pass a model for {name!r}"
            )
    # ablations after the models they are read off; results in the order given
    todo = sorted(models.items(), key=lambda item: isinstance(item[1], Ablation))
    runs: dict[str, ModelRun] = {}
    served: dict[str, RankingModel] = {}
    frames: dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = {}
    bar = tqdm(todo, desc="evaluate", unit="model", disable=not progress)
    for name, spec in bar:
        bar.set_postfix_str(name)
        if isinstance(spec, Ablation):
            run, model = evaluate_ablation(served[spec.of], spec, split, ks, name=name)
        else:
            model = spec
            run = evaluate_model(model, split, ks, name=name, fit=fit)
        served[name] = model
        runs[name] = run
        if progress:
            how = f"read off {run.derived_from}" if run.derived_from else "fit"
            tqdm.write(
                f"{name}: {how} {run.fit_seconds:.1f} s, recommend {run.recommend_seconds:.1f} s "
                f"for {len(split.test_workers)} workers"
            )
        frames[name] = (
            evaluate_recommendations(run.recommendations, split, ks, name),
            calibration(run.recommendations, split, name=name),
            per_channel(run.recommendations, split, k=10, name=name),
        )
        if on_fitted is not None:
            on_fitted(name, model)
    names = list(models)
    return Comparison(
        split=split,
        metrics=pd.concat([frames[n][0] for n in names], ignore_index=True),
        calibration=pd.concat([frames[n][1] for n in names], ignore_index=True),
        per_channel=pd.concat([frames[n][2] for n in names], ignore_index=True),
        runs={n: runs[n] for n in names},
    )


def default_models(
    random_state: int = 0,
    embedder: Any = None,
    candidate_params: Mapping[str, Any] | None = None,
    include: Sequence[str] = (*BASELINE_NAMES, CANDIDATE_NAME),
    derive_ablations: bool = True,
) -> dict[str, RankingModel | Ablation]:
    """The baselines and the candidate measured in every training run.

    ``popularity`` and ``keyword`` are :mod:`matcher.evaluation.baselines` with their default
    filter (the eligibility rules); ``keyword_location`` and ``popularity_location``
    the same behind the location filter only (the bare job board); ``full`` is
    ``matcher.serving.recommender.Recommender``. ``lightfm`` and ``content`` are the
    Recommender with ``stages`` set accordingly and the same ``random_state``,
    ``embedder`` and ``candidate_params`` (so the ablations differ from the
    candidate only in the stages used): read off the fitted candidate
    (:class:`Ablation`) when ``full`` is included and ``derive_ablations``, else
    fitted on their own.
    """
    from matcher.evaluation.baselines import KeywordRecommender, PopularityRecommender

    out: dict[str, RankingModel | Ablation] = {}
    extra = dict(candidate_params or {})
    for name in include:
        if name in ("lightfm", "content") and derive_ablations and CANDIDATE_NAME in include:
            out[name] = Ablation(name)
            continue
        if name == "popularity":
            out[name] = PopularityRecommender()
        elif name == "keyword":
            out[name] = KeywordRecommender()
        elif name == "keyword_location":
            # the bare job board: location filter only, none of the other hard rules
            out[name] = KeywordRecommender(filter="location")
        elif name == "popularity_location":
            out[name] = PopularityRecommender(filter="location")
        elif name in ("lightfm", "content", CANDIDATE_NAME):
            from matcher.serving.recommender import Recommender

            stages = "full" if name == CANDIDATE_NAME else name
            kwargs = {"stages": stages, "random_state": random_state, **extra}
            if embedder is not None:
                kwargs["embedder"] = embedder
            out[name] = Recommender(**kwargs)
        else:
            raise ValueError(
                f"unknown model {name!r}; choose from popularity, keyword, lightfm, content, "
                "full, keyword_location, popularity_location"
            )
    return out


def summary_table(
    metrics: pd.DataFrame, k: int = 10, candidate: str = CANDIDATE_NAME
) -> pd.DataFrame:
    """Rows = metric@k per segment (plus coverage), columns = models, and the ratios.

    The last two columns give the candidate's value divided by the keyword and
    the popularity baselines' (NaN where a baseline is 0 or missing).
    """
    m = metrics[(metrics["k"] == k) & (metrics["metric"] != "n_workers")]
    m = m.assign(row=m["metric"] + f"@{k} " + m["segment"])
    order = [f"{met}@{k} {seg}" for met in (*METRICS, "coverage") for seg in SEGMENTS]
    table = m.pivot_table(index="row", columns="model", values="value", aggfunc="first", sort=False)
    table = table.reindex([r for r in order if r in table.index])
    models = list(dict.fromkeys(metrics["model"]))
    table = table[[c for c in models if c in table.columns]]
    if candidate in table.columns:
        for base in ("keyword", "popularity"):
            if base in table.columns:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = table[candidate] / table[base].where(table[base] > 0)
                table[f"{candidate}/{base}"] = ratio
    table.columns.name = None
    table.index.name = None
    return table
