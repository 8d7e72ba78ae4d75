"""Evaluate ranking models on a time split, all measured the same way in the same run.

:func:`compare` fits each model on ``split.train`` (never on test data), asks it
for the top ``max(ks)`` vacancies of every evaluated worker (those with a test
pair, see :mod:`training.split`), and measures:

* precision, recall, NDCG (graded: retained 3, hired 2, applied 1) and MAP
  (AP denominator ``min(k, relevant)``) at k = 5, 10, 20, for all, warm and
  cold workers (:mod:`matcher.metrics`);
* catalogue coverage: the share of vacancies open at the cutoff that appear in
  at least one evaluated worker's top k;
* calibration: for every recommended pair, its score against whether it became a
  stable placement in the test weeks (retained 3 months, grade 3), in bins;
* score distributions (the scores of recommended pairs);
* per channel: recall@10 and NDCG@10 against the test pairs of each vacancy
  channel, using each worker's full top-10 list (how well each channel's
  outcomes are found).

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

from matcher.base import RankingModel
from matcher.metrics import GRADE, catalogue_coverage, per_worker_metrics
from matcher.schema import Columns
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
    refresh = getattr(model, "refresh", None)
    if refresh is None:
        raise TypeError(
            f"{type(model).__name__} has no refresh(dataset, at): every evaluated model must "
            "serve workers registered after training the same way"
        )
    refresh(split.serving, at=split.cutoff)
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
    (:func:`serve_split`) and recommend for the test workers.

    Returns
    -------
    ModelRun
        The recommendations (top ``max(ks)``) and the fit/recommend times.
    """
    t0 = time.perf_counter()
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
    if hasattr(model, "filter_"):
        params["filter_"] = model.filter_
    return ModelRun(name, recs, t1 - t0, t2 - t1, params)


def compare(
    models: Mapping[str, RankingModel],
    split: TimeSplit,
    ks: Sequence[int] = DEFAULT_KS,
    fit: bool = True,
    progress: bool = True,
    on_fitted: Callable[[str, RankingModel], None] | None = None,
) -> Comparison:
    """Fit and evaluate every model on the same split (see the module docstring).

    Parameters
    ----------
    models : mapping of name -> RankingModel
        Unfitted models (``fit=True``) or models fitted on ``split.train``.
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
    runs: dict[str, ModelRun] = {}
    metric_frames, cal_frames, chan_frames = [], [], []
    bar = tqdm(list(models.items()), desc="evaluate", unit="model", disable=not progress)
    for name, model in bar:
        bar.set_postfix_str(name)
        run = evaluate_model(model, split, ks, name=name, fit=fit)
        runs[name] = run
        if progress:
            tqdm.write(
                f"{name}: fit {run.fit_seconds:.1f} s, recommend {run.recommend_seconds:.1f} s "
                f"for {len(split.test_workers)} workers"
            )
        metric_frames.append(evaluate_recommendations(run.recommendations, split, ks, name))
        cal_frames.append(calibration(run.recommendations, split, name=name))
        chan_frames.append(per_channel(run.recommendations, split, k=10, name=name))
        if on_fitted is not None:
            on_fitted(name, model)
    return Comparison(
        split=split,
        metrics=pd.concat(metric_frames, ignore_index=True),
        calibration=pd.concat(cal_frames, ignore_index=True),
        per_channel=pd.concat(chan_frames, ignore_index=True),
        runs=runs,
    )


def default_models(
    random_state: int = 0,
    embedder: Any = None,
    candidate_params: Mapping[str, Any] | None = None,
    include: Sequence[str] = (*BASELINE_NAMES, CANDIDATE_NAME),
) -> dict[str, RankingModel]:
    """The baselines and the candidate measured in every training run.

    ``popularity`` and ``keyword`` are :mod:`matcher.baselines` with their default
    filter (the eligibility rules); ``keyword_location`` and ``popularity_location``
    the same behind the location filter only (the bare job board); ``lightfm``,
    ``content`` and ``full`` are ``matcher.recommender.Recommender`` with
    ``stages`` set accordingly and the same ``random_state``, ``embedder`` and
    ``candidate_params`` (so the ablations differ from the candidate only in the
    stages used).
    """
    from matcher.baselines import KeywordRecommender, PopularityRecommender

    out: dict[str, RankingModel] = {}
    extra = dict(candidate_params or {})
    for name in include:
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
            from matcher.recommender import Recommender

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
