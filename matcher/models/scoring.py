"""THE scoring function of the engine: pair features -> calibrated P(stable placement).

:class:`PairScorer` is what every execution path ranks with — the live request and
micro-batch (:meth:`matcher.serving.recommender.Recommender.recommend_many`), the precomputed
lists (:mod:`matcher.serving.precomputed`, through ``Recommender.recommend_open``), the nightly
batch scorer (:class:`matcher.serving.batch.BatchScorer`, exact ranking of its shortlist) and
the reasons written for a planned pair (:func:`matcher.serving.batch.explain_pairs`). Paths
differ only in which pairs they score (their candidate sets), never in how a pair is
scored, so the score of one (worker, vacancy) pair is the same number on every path.

A fitted :class:`~matcher.serving.recommender.Recommender` hands out its scorer as
``model.scorer``; it reads the encoded sides of a catalogue (:class:`EncodedSides`:
profiles, vacancy context and the three text/LightFM vector pairs) and the pair
statistics learned at fit time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.models.explain import Reason, explain_pair
from matcher.models.features import AVAILABLE, PAIR_COLUMNS, RANKER_COLUMNS, pair_matrix
from matcher.models.ranking import ONE_THREAD_ROWS, DeferredColumns, top_k_per_group

_AVAILABLE_COL = PAIR_COLUMNS.index(AVAILABLE)
_FAR_COL = PAIR_COLUMNS.index("far")
#: The pair columns :meth:`PairScorer.rank_top` computes only for the pairs the ranker's
#: cascade needs (:class:`matcher.models.ranking.DeferredColumns`): the text similarities,
#: the lexical one a sparse product per pair (the costliest pair feature), the dense one
#: a dot product of sentence vectors.
RANK_DEFERRED = ("lexical", "dense")
_DEFERRED_COLS = [PAIR_COLUMNS.index(name) for name in RANK_DEFERRED]
#: :meth:`PairScorer.rank_top` defers :data:`RANK_DEFERRED` when its pairs hold at least
#: this many per group on average (a run of equal consecutive groups counted as one): the
#: deferral pays where most of a group's candidates are far below its top (the exact
#: path's ~1,000 per worker: about half of them filled), not where the candidates are
#: already a short list of near-top pairs (the batch path's 10 per channel + the proxy's
#: best 100 to 500: two thirds to three quarters filled, and the bound's own cost on
#: top). The lists are the same either way; only the cost differs.
DEFER_PAIRS_PER_GROUP = 600

if TYPE_CHECKING:
    from matcher.models.features import (
        PairStatistics,
        VacancyContext,
        VacancyProfiles,
        WorkerProfiles,
    )
    from matcher.models.festival import FestivalKeep
    from matcher.models.ranking import StablePlacementRanker
    from matcher.models.rows import PatchedRows


class EncodedSides(Protocol):
    """The encoded workers and vacancies of a catalogue, by catalogue position."""

    year: int
    wp: WorkerProfiles
    vp: VacancyProfiles
    vctx: VacancyContext
    w_dense: np.ndarray
    w_lex: sp.csr_matrix
    w_lfm: np.ndarray
    v_dense: np.ndarray | PatchedRows
    v_lex: sp.csr_matrix | PatchedRows
    v_lfm: np.ndarray


def rowwise_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot products of matching rows of two dense matrices."""
    return np.einsum("ij,ij->i", a, b) if len(a) else np.zeros(0, np.float32)


def rowwise_sparse_dot(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    """Dot products of matching rows of two sparse matrices."""
    if a.shape[0] == 0:
        return np.zeros(0)
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


#: :func:`pair_dot` takes one worker run at a time when the pairs hold at least this
#: many pairs per run on average (a request's or a block's pairs: a few runs of
#: hundreds of pairs); otherwise (a vacancy's candidates: one pair per worker) it
#: gathers both sides' rows pair by pair, as :func:`rowwise_dot`.
PAIRS_PER_RUN = 8


def worker_runs(wi: np.ndarray) -> np.ndarray:
    """Bounds of the runs of equal consecutive values of ``wi``: run ``j`` is
    ``wi[bounds[j]:bounds[j + 1]]``, all one worker (the candidate pairs of the batched
    paths come worker by worker)."""
    n = len(wi)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(wi[1:] != wi[:-1]) + 1
    return np.concatenate(([0], starts, [n])).astype(np.int64)


def pair_dot(w_rows: np.ndarray, v_rows: np.ndarray | PatchedRows, wi, vi) -> np.ndarray:
    """``rowwise_dot(w_rows[wi], v_rows[vi])``, the same numbers, without copying the
    worker's row once per pair: each run of one worker (:func:`worker_runs`) is one
    ``einsum("ij,j->i")`` of the run's vacancy rows with the worker's row (the same
    sum of products, in the same order, as ``einsum("ij,ij->i")``; a test holds them
    equal bit for bit)."""
    bounds = worker_runs(wi)
    if len(wi) < PAIRS_PER_RUN * (len(bounds) - 1) or len(wi) == 0:
        return rowwise_dot(w_rows[wi], v_rows[vi])
    v = v_rows[vi]
    out = np.empty(len(wi), dtype=np.result_type(w_rows.dtype, v.dtype))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        np.einsum("ij,j->i", v[lo:hi], w_rows[wi[lo]], out=out[lo:hi])
    return out


def rank_chunks(sizes: np.ndarray, limit: int = ONE_THREAD_ROWS) -> list[np.ndarray]:
    """Consecutive runs of positions whose ``sizes`` sum to at most ``limit`` (a position
    larger than ``limit`` alone): how the batched paths split the candidate lists of a
    block of workers into :meth:`PairScorer.rank_top` calls.

    A worker's list does not depend on which workers are ranked with him, so any split
    gives the same lists; this one keeps each call at most ``limit`` pairs (default
    :data:`matcher.models.ranking.ONE_THREAD_ROWS`, up to which the ranker sums its trees
    with its one-thread QuickScorer) and as few calls as that allows: one call per
    worker pays a fixed cost per call, and one call for a whole block of 128 workers
    (about 130,000 pairs at 26,000 open vacancies) spends more on its large temporary
    arrays than it saves (``bench/nightly_fidelity_bench.py``).

    Parameters
    ----------
    sizes : ndarray of int
        The number of candidate pairs of each worker, in order.
    limit : int
        The most pairs in one run (unless one worker has more).

    Returns
    -------
    list of ndarray of int
        Positions into ``sizes``, each run consecutive, every position once.
    """
    out: list[np.ndarray] = []
    start, total = 0, 0
    for j, size in enumerate(np.asarray(sizes).tolist()):
        if j > start and total + size > limit:
            out.append(np.arange(start, j))
            start, total = j, 0
        total += size
    if len(sizes) > start:
        out.append(np.arange(start, len(sizes)))
    return out


def candidate_runs(
    block: np.ndarray,
    unions: Sequence[np.ndarray],
    open_pos: np.ndarray,
    limit: int = ONE_THREAD_ROWS,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The candidate pairs of a block of workers as the batched paths rank them: one
    ``(worker positions, vacancy positions)`` pair of arrays per run of :func:`rank_chunks`
    (runs whose workers have no candidate are skipped).

    Parameters
    ----------
    block : ndarray of int
        The workers' catalogue positions.
    unions : sequence of ndarray of int
        Each worker's candidates (:meth:`CandidateGenerator.for_workers`), as positions
        into ``open_pos``.
    open_pos : ndarray of int
        The catalogue positions of the open vacancies.
    limit : int
        As :func:`rank_chunks`.
    """
    sizes = np.array([len(u) for u in unions], dtype=np.int64)
    for part in rank_chunks(sizes, limit):
        if sizes[part].any():
            yield (
                np.repeat(block[part], sizes[part]).astype(np.int64),
                open_pos[np.concatenate([unions[j] for j in part])],
            )


@dataclass
class RankedPairs:
    """The ``k`` best of some candidate pairs per group (:meth:`PairScorer.rank_top`):
    ``keep`` are rows of the candidate arrays, best first within each group, and the
    other fields are those rows' values."""

    keep: np.ndarray
    rank: np.ndarray  # from 1 within the group
    score: np.ndarray
    values: np.ndarray  # pair_values rows
    matched: np.ndarray


class PairScorer:
    """Pair features and the score that orders recommendations, for one fitted model.

    Parameters
    ----------
    stages : {"full", "lightfm", "content"}
        The full model scores with ``ranker``; the ablations with one channel.
    ranker : StablePlacementRanker or None
        The calibrated ranker (None: no events to learn from, or an ablation).
    stats : PairStatistics
        Statistics of the training market the pair features read.
    left_rate : float
        The market's share of placements that ended early (reasons quote it).
    stay_keep : FestivalKeep, optional
        The share of hires a Spring Festival inside the stay horizon leaves in post, near
        and far from home (:mod:`matcher.models.festival`; ``Recommender(festival_leave=
        "learnt")``): the ranker's probability is multiplied by it per pair (by the pair
        feature ``far``). None: no such factor.
    """

    def __init__(
        self,
        stages: str,
        ranker: StablePlacementRanker | None,
        stats: PairStatistics,
        left_rate: float = 0.0,
        stay_keep: FestivalKeep | None = None,
    ) -> None:
        self.stages = stages
        self.ranker = ranker
        self.stats = stats
        self.left_rate = left_rate
        self.stay_keep = stay_keep

    def pair_values(
        self, sides: EncodedSides, wi: np.ndarray, vi: np.ndarray, *, similarities: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features of the pairs ``(wi[j], vi[j])`` (catalogue positions; vacancies over
        all vacancies, not only open ones). ``similarities=False`` leaves the text
        similarities :data:`RANK_DEFERRED` NaN (:meth:`similarity_values` computes them
        for the rows that need them).

        Returns
        -------
        values : numpy.ndarray
            One row per pair, columns in :data:`matcher.models.features.PAIR_COLUMNS` order.
        matched : numpy.ndarray
            The occupation code each pair matched on (or None).
        """
        return pair_matrix(
            sides.wp,
            sides.vp,
            sides.vctx,
            self.stats,
            wi,
            vi,
            lightfm=pair_dot(sides.w_lfm, sides.v_lfm, wi, vi),
            dense=(
                pair_dot(sides.w_dense, sides.v_dense, wi, vi)
                if similarities
                else np.full(len(wi), np.nan)
            ),
            lexical=(
                self.lexical_values(sides, wi, vi) if similarities else np.full(len(wi), np.nan)
            ),
            year=sides.year,
        )

    def lexical_values(self, sides: EncodedSides, wi: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """The ``lexical`` pair feature of the pairs ``(wi[j], vi[j])``: the same numbers
        whichever pairs are computed together (each pair's own sparse product)."""
        return rowwise_sparse_dot(sides.w_lex[wi], sides.v_lex[vi])

    def similarity_values(self, sides: EncodedSides, wi: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """The :data:`RANK_DEFERRED` columns of the pairs ``(wi[j], vi[j])``, ``(n, 2)``,
        as :meth:`pair_values` gives them (the same numbers whichever pairs are computed
        together: each pair's own products)."""
        out = np.empty((len(wi), len(RANK_DEFERRED)))
        out[:, RANK_DEFERRED.index("lexical")] = self.lexical_values(sides, wi, vi)
        out[:, RANK_DEFERRED.index("dense")] = pair_dot(sides.w_dense, sides.v_dense, wi, vi)
        return out

    def pair_frame(self, sides: EncodedSides, wi: np.ndarray, vi: np.ndarray) -> pd.DataFrame:
        """:meth:`pair_values` as a frame (``PAIR_COLUMNS`` and ``matched_code``)."""
        values, matched = self.pair_values(sides, wi, vi)
        frame = pd.DataFrame(values, columns=PAIR_COLUMNS, copy=False)
        frame["matched_code"] = matched
        return frame

    def score(self, feats: pd.DataFrame) -> np.ndarray:
        """The reported score, which also orders the recommendations: for the full model
        the calibrated P(stable placement | proposed) — the ranker's probability for a
        worker who is looking (:meth:`looking_score`) times the worker's P(looking for
        work) when ``feats`` carries the :data:`matcher.models.features.AVAILABLE` column (every
        frame of :meth:`pair_frame` does; :mod:`matcher.models.availability`). (Ordering by the
        expected grade P(apply)(1 + P(hire|apply)(1 + P(stay|hire))) measured no better on
        the sample market's time split, so score and order agree.)

        Parameters
        ----------
        feats : DataFrame
            Pair features (at least :data:`matcher.models.features.RANKER_COLUMNS`).
        """
        score = self.looking_score(feats)
        if self._probability and AVAILABLE in feats.columns:
            score = score * feats[AVAILABLE].to_numpy(dtype=float)
        return score

    def looking_score(self, feats: pd.DataFrame) -> np.ndarray:
        """:meth:`score` without the worker's P(looking for work): for the full model the
        calibrated P(stable placement | proposed, the worker is looking). Within one
        worker it orders pairs as :meth:`score` does (the batch scorer's pre-score
        imitates it)."""
        if self.stages == "lightfm":
            return feats["lightfm"].to_numpy(dtype=float)
        if self.stages == "content":
            return ((feats["dense"] + feats["lexical"]) / 2).to_numpy(dtype=float)
        if self.ranker is None:  # no events to learn from: fall back to retrieval
            return 1 / (1 + np.exp(-feats["lightfm"].to_numpy(dtype=float)))
        score = self.ranker.predict_proba(feats)
        if self.stay_keep is not None:
            score = score * self.stay_keep.of(feats["far"].to_numpy(dtype=float))
        return score

    @property
    def _probability(self) -> bool:
        """The score is the ranker's probability (not an ablation's similarity)."""
        return self.stages not in ("lightfm", "content") and self.ranker is not None

    def score_top(
        self,
        values: np.ndarray,
        group: np.ndarray,
        k: int,
        deferred: DeferredColumns | None = None,
    ) -> np.ndarray:
        """:meth:`score` of :meth:`pair_values` rows when only the ``k`` best of each
        group are kept: the ranker computes its later stages only for pairs that can
        still reach a group's top ``k`` (:meth:`StablePlacementRanker.predict_top`).
        The kept pairs, their order and their scores are those of :meth:`score`; a
        pair left out carries an upper bound below its group's ``k``-th score.
        ``deferred``: columns of ``values`` not computed yet, filled (by its ``fill``,
        which writes them into ``values``) for the rows the ranker needs, or for every
        row when the score reads them all."""
        x = values[:, : len(RANKER_COLUMNS)]
        if self._probability:
            assert self.ranker is not None
            weight = values[:, _AVAILABLE_COL]
            if self.stay_keep is not None:
                weight = weight * self.stay_keep.of(values[:, _FAR_COL])
            score, _ = self.ranker.predict_top(x, group, k, weight=weight, deferred=deferred)
            return score
        if deferred is not None:
            deferred.fill(np.arange(len(values)))
        return self.score(pd.DataFrame(x, columns=RANKER_COLUMNS, copy=False))

    def rank_top(
        self,
        sides: EncodedSides,
        wi: np.ndarray,
        vi: np.ndarray,
        k: int,
        by: Literal["worker", "vacancy"] = "worker",
    ) -> RankedPairs:
        """The ``k`` best of the candidate pairs ``(wi[j], vi[j])`` (catalogue positions
        of ``sides``) per worker (``by="worker"``) or per vacancy: :meth:`score_top` of
        their :meth:`pair_values`, ordered by
        :func:`matcher.models.ranking.top_k_per_group`. Every path that ranks candidates
        -- the live request and micro-batch (``Recommender.rank_pairs``), the
        precomputed lists and the nightly batch scorer -- ranks them with this, so the
        same candidates give the same list, order and scores on each.

        Raises
        ------
        ValueError
            ``by`` is neither "worker" nor "vacancy", or ``wi`` and ``vi`` differ in length.
        """
        if by not in ("worker", "vacancy"):
            raise ValueError(f'by must be "worker" or "vacancy", got {by!r}')
        if len(wi) != len(vi):
            raise ValueError(f"{len(wi)} worker positions for {len(vi)} vacancy positions")
        # the text similarities only for the pairs the cascade scores or must bound
        # tighter (DeferredColumns): the kept pairs' rows are complete, and a pair left
        # without them is ranked below every kept pair whatever its similarities
        group, other = (wi, vi) if by == "worker" else (vi, wi)
        defer = (
            self._probability
            and self.ranker is not None
            and len(group) >= DEFER_PAIRS_PER_GROUP * (len(worker_runs(group)) - 1)
            and self.ranker.defers(RANK_DEFERRED)
        )
        values, matched = self.pair_values(sides, wi, vi, similarities=not defer)

        def fill(rows: np.ndarray) -> np.ndarray:
            # (rows in any order: each pair's similarities are its own products)
            values[rows[:, None], _DEFERRED_COLS] = self.similarity_values(
                sides, wi[rows], vi[rows]
            )
            return values[rows[:, None], _DEFERRED_COLS]

        score = self.score_top(
            values, group, k, DeferredColumns(RANK_DEFERRED, fill) if defer else None
        )
        keep, ranks = top_k_per_group(values, score, group, other, k)
        return RankedPairs(keep, ranks, score[keep], values[keep], matched[keep])

    def reasons(
        self, sides: EncodedSides, values: np.ndarray, matched: np.ndarray, vi: np.ndarray
    ) -> list[tuple[list[Reason], list[Reason]]]:
        """Reasons and warnings of pairs from their :meth:`pair_values` rows (``vi``:
        the pairs' vacancy positions)."""
        # plain dicts: a pandas row per pair cost more than the reasons themselves
        rows = [
            {**dict(zip(PAIR_COLUMNS, row, strict=True)), "matched_code": code}
            for row, code in zip(np.asarray(values).tolist(), matched, strict=True)
        ]
        return [
            explain_pair(row, sides.vp.region[v], self.left_rate)
            for row, v in zip(rows, vi, strict=True)
        ]
