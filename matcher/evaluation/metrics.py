"""Ranking metrics for recommendations against held-out outcomes (RecTools style).

Every metric takes two tidy frames:

* ``recommendations`` — one row per recommended pair, columns ``worker_id``,
  ``vacancy_id`` and ``rank`` (1 = best). Other columns are ignored.
* ``interactions`` — the held-out truth, one row per pair, columns
  ``worker_id``, ``vacancy_id`` and ``grade`` (see :func:`outcome_grades`).

and returns the mean over the **evaluated workers**: every worker with at least
one relevant held-out pair (``grade >= min_grade``). A worker who received no
recommendations scores 0; recommendations for workers without relevant
held-out pairs are ignored (they cannot be judged), except by
:func:`catalogue_coverage`.

Definitions (``k`` is the cut-off, ``rel(i)`` is 1 when the pair at rank ``i``
has ``grade >= min_grade``, ``R`` the number of the worker's relevant pairs):

* precision@k = ``sum_{i<=k} rel(i) / k``
* recall@k = ``sum_{i<=k} rel(i) / R``
* NDCG@k = ``DCG@k / IDCG@k`` with linear gain equal to the grade
  (retained 3, hired 2, applied 1, ``matcher.data.schema.OUTCOME_GRADE``) and
  discount ``1 / log2(i + 1)``; IDCG@k is the DCG of the worker's own
  held-out grades sorted descending, cut at k (Järvelin & Kekäläinen, 2002).
* AP@k = ``sum_{i<=k} precision@i * rel(i) / min(k, R)`` — the denominator is
  ``min(k, R)``, so a perfect top-k list scores 1 even when the worker has more
  than ``k`` relevant pairs. MAP@k is the mean of AP@k.
* catalogue coverage = distinct vacancies appearing in anyone's top-k /
  size of the catalogue (the vacancies that could have been recommended).

All metrics are vectorised over pandas/numpy; nothing loops over workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from matcher.data.schema import OUTCOME_GRADE, Columns

GRADE = "grade"

__all__ = [
    "GRADE",
    "catalogue_coverage",
    "compute_metrics",
    "map_at_k",
    "ndcg_at_k",
    "outcome_grades",
    "per_worker_metrics",
    "precision_at_k",
    "recall_at_k",
]


def outcome_grades(events: pd.DataFrame, min_grade: int = 1) -> pd.DataFrame:
    """Graded relevance of each (worker, vacancy) pair from its events.

    Parameters
    ----------
    events : pandas.DataFrame
        Contract events (``worker_id``, ``vacancy_id``, ``event``, ...).
    min_grade : int, default 1
        Pairs whose grade is below this are dropped.

    Returns
    -------
    pandas.DataFrame
        Columns ``worker_id``, ``vacancy_id``, ``grade`` (int): the highest
        ``OUTCOME_GRADE`` among the pair's events (retained 3, hired 2,
        applied/interviewed 1; other events 0). One row per pair, sorted.
    """
    grades = events[Columns.Event].map(lambda e: OUTCOME_GRADE.get(e, 0)).astype("int64")
    frame = pd.DataFrame(
        {
            Columns.Worker: events[Columns.Worker].to_numpy(),
            Columns.Vacancy: events[Columns.Vacancy].to_numpy(),
            GRADE: grades.to_numpy(),
        }
    )
    out = frame.groupby([Columns.Worker, Columns.Vacancy], sort=True, as_index=False)[GRADE].max()
    out = out[out[GRADE] >= min_grade]
    return out.reset_index(drop=True)


def _check(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} frame lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, frame.columns)) or 'no columns'}"
        )


def _relevant(interactions: pd.DataFrame, min_grade: int) -> pd.DataFrame:
    _check(interactions, [Columns.Worker, Columns.Vacancy, GRADE], "interactions")
    rel = interactions[[Columns.Worker, Columns.Vacancy, GRADE]]
    best: pd.DataFrame = rel.groupby([Columns.Worker, Columns.Vacancy], as_index=False, sort=False)[
        [GRADE]
    ].max()
    return best[best[GRADE] >= min_grade]


def _top_k(recommendations: pd.DataFrame, k: int) -> pd.DataFrame:
    _check(recommendations, [Columns.Worker, Columns.Vacancy, Columns.Rank], "recommendations")
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    recs = recommendations[[Columns.Worker, Columns.Vacancy, Columns.Rank]]
    recs = recs[recs[Columns.Rank] <= k]
    # a pair listed twice counts once, at its best rank
    recs = recs.sort_values(Columns.Rank, kind="stable").drop_duplicates(
        [Columns.Worker, Columns.Vacancy]
    )
    return recs


def per_worker_metrics(
    recommendations: pd.DataFrame,
    interactions: pd.DataFrame,
    k: int = 10,
    min_grade: int = 1,
) -> pd.DataFrame:
    """Precision, recall, NDCG and AP at ``k`` for every evaluated worker.

    Parameters
    ----------
    recommendations : pandas.DataFrame
        ``worker_id, vacancy_id, rank`` (rank 1 = best).
    interactions : pandas.DataFrame
        ``worker_id, vacancy_id, grade`` held-out truth.
    k : int, default 10
        Cut-off.
    min_grade : int, default 1
        A pair counts as relevant when its grade is at least this (NDCG always
        uses the grade itself as gain, over the relevant pairs).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``worker_id`` (every worker with a relevant pair), columns
        ``precision``, ``recall``, ``ndcg``, ``ap``, ``n_relevant``, ``hits``.

    Raises
    ------
    ValueError
        If a frame lacks a required column or ``k < 1``.
    """
    rel = _relevant(interactions, min_grade)
    recs = _top_k(recommendations, k)
    workers = pd.Index(np.sort(rel[Columns.Worker].unique()), name=Columns.Worker)
    n_rel = rel.groupby(Columns.Worker).size().reindex(workers).to_numpy(dtype=float)

    hits = recs.merge(rel, on=[Columns.Worker, Columns.Vacancy], how="inner")
    hits = hits.sort_values([Columns.Worker, Columns.Rank], kind="stable")
    ranks = hits[Columns.Rank].to_numpy(dtype=float)
    # position of each hit among the worker's hits (1-based): precision@rank = hit_no / rank
    hit_no = hits.groupby(Columns.Worker).cumcount().to_numpy(dtype=float) + 1.0
    hits = hits.assign(
        _dcg=hits[GRADE].to_numpy(dtype=float) / np.log2(ranks + 1.0),
        _prec=hit_no / ranks,
    )
    by = hits.groupby(Columns.Worker)
    n_hits = by.size().reindex(workers, fill_value=0).to_numpy(dtype=float)
    dcg = by["_dcg"].sum().reindex(workers, fill_value=0.0).to_numpy()
    prec_sum = by["_prec"].sum().reindex(workers, fill_value=0.0).to_numpy()

    # ideal DCG: the worker's own grades, best first, cut at k
    ideal = rel.sort_values([Columns.Worker, GRADE], ascending=[True, False], kind="stable")
    pos = ideal.groupby(Columns.Worker).cumcount().to_numpy(dtype=float) + 1.0
    ideal = ideal.assign(_pos=pos)
    ideal = ideal[ideal["_pos"] <= k]
    idcg = (
        (ideal[GRADE].to_numpy(dtype=float) / np.log2(ideal["_pos"].to_numpy() + 1.0))
        if len(ideal)
        else np.array([], dtype=float)
    )
    idcg_s = (
        pd.Series(idcg, index=ideal[Columns.Worker].to_numpy())
        .groupby(level=0)
        .sum()
        .reindex(workers, fill_value=0.0)
        .to_numpy()
    )

    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = np.where(idcg_s > 0, dcg / idcg_s, 0.0)
        recall = np.where(n_rel > 0, n_hits / n_rel, 0.0)
        ap = np.where(n_rel > 0, prec_sum / np.minimum(k, n_rel), 0.0)
    return pd.DataFrame(
        {
            "precision": n_hits / k,
            "recall": recall,
            "ndcg": ndcg,
            "ap": ap,
            "n_relevant": n_rel.astype(int),
            "hits": n_hits.astype(int),
        },
        index=workers,
    )


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")


def precision_at_k(
    recommendations: pd.DataFrame, interactions: pd.DataFrame, k: int = 10, min_grade: int = 1
) -> float:
    """Mean precision@k over evaluated workers (see the module docstring).

    Parameters
    ----------
    recommendations, interactions : pandas.DataFrame
        See :func:`per_worker_metrics`.
    k : int
        Cut-off.
    min_grade : int
        Relevance threshold on the grade.

    Returns
    -------
    float
        NaN when no worker has a relevant held-out pair.
    """
    return _mean(per_worker_metrics(recommendations, interactions, k, min_grade)["precision"])


def recall_at_k(
    recommendations: pd.DataFrame, interactions: pd.DataFrame, k: int = 10, min_grade: int = 1
) -> float:
    """Mean recall@k over evaluated workers: hits in the top k / relevant pairs.

    Returns
    -------
    float
        NaN when no worker has a relevant held-out pair.
    """
    return _mean(per_worker_metrics(recommendations, interactions, k, min_grade)["recall"])


def ndcg_at_k(
    recommendations: pd.DataFrame, interactions: pd.DataFrame, k: int = 10, min_grade: int = 1
) -> float:
    """Mean NDCG@k with the outcome grade as linear gain (retained 3, hired 2, applied 1).

    Returns
    -------
    float
        NaN when no worker has a relevant held-out pair.
    """
    return _mean(per_worker_metrics(recommendations, interactions, k, min_grade)["ndcg"])


def map_at_k(
    recommendations: pd.DataFrame, interactions: pd.DataFrame, k: int = 10, min_grade: int = 1
) -> float:
    """MAP@k; each worker's AP@k is divided by ``min(k, number of relevant pairs)``.

    Returns
    -------
    float
        NaN when no worker has a relevant held-out pair.
    """
    return _mean(per_worker_metrics(recommendations, interactions, k, min_grade)["ap"])


def catalogue_coverage(
    recommendations: pd.DataFrame, catalogue: Iterable[str], k: int = 10
) -> float:
    """Share of the catalogue that appears in at least one worker's top ``k``.

    Parameters
    ----------
    recommendations : pandas.DataFrame
        ``worker_id, vacancy_id, rank``.
    catalogue : iterable of str
        Vacancy ids that could have been recommended (e.g. open at the cutoff).
        Recommended ids outside it are not counted.
    k : int
        Cut-off.

    Returns
    -------
    float
        In [0, 1]; NaN for an empty catalogue.
    """
    cat = pd.Index(pd.unique(pd.Series(list(catalogue), dtype=object)))
    if len(cat) == 0:
        return float("nan")
    recs = _top_k(recommendations, k)
    shown = pd.Index(recs[Columns.Vacancy].unique())
    return float(cat.isin(shown).sum() / len(cat))


def compute_metrics(
    recommendations: pd.DataFrame,
    interactions: pd.DataFrame,
    ks: Sequence[int] = (5, 10, 20),
    catalogue: Iterable[str] | None = None,
    min_grade: int = 1,
) -> dict[str, float]:
    """All metrics at every cut-off in one pass per ``k``.

    Returns
    -------
    dict
        Keys ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, and
        ``coverage@k`` when ``catalogue`` is given, plus ``n_workers`` (the
        number of evaluated workers).
    """
    out: dict[str, float] = {}
    cat = list(catalogue) if catalogue is not None else None
    n_workers = 0
    for k in ks:
        pw = per_worker_metrics(recommendations, interactions, k, min_grade)
        n_workers = len(pw)
        out[f"precision@{k}"] = _mean(pw["precision"])
        out[f"recall@{k}"] = _mean(pw["recall"])
        out[f"ndcg@{k}"] = _mean(pw["ndcg"])
        out[f"map@{k}"] = _mean(pw["ap"])
        if cat is not None:
            out[f"coverage@{k}"] = catalogue_coverage(recommendations, cat, k)
    out["n_workers"] = float(n_workers)
    return out
