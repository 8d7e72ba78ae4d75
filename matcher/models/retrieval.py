"""Candidate retrieval: a LightFM hybrid model and nearest neighbours on text.

LightFM hybrid (Kula 2015)
--------------------------
Each worker ``u`` and vacancy ``i`` is described by a set of features
(:mod:`matcher.models.features`: attribute tokens plus an identity token for rows seen in
training). Every feature ``j`` has a latent vector ``e_j`` and a bias ``b_j``; a
row's representation is the (weighted) sum over its features,

    q_u = sum_{j in f_u} w_uj e^U_j,   p_i = sum_{j in f_i} w_ij e^I_j,
    b_u = sum_{j in f_u} w_uj b^U_j,   b_i = sum_{j in f_i} w_ij b^I_j,

and the score is ``r_ui = q_u . p_i + b_u + b_i``. A worker with no history (cold) is
scored from its attributes alone. We fit with the WARP loss (Weighted Approximate-
Rank Pairwise; Weston, Bengio & Usunier 2011, *WSABIE*): for a positive pair,
negatives are sampled until one outranks it by less than a margin of 1; the
number of draws ``N`` estimates the positive's rank as ``floor((|I| - 1) / N)``, and
the update is scaled by ``L(rank) = sum_{k<=rank} 1/k``, so errors near the top of the
list weigh most — which is what NDCG@10 rewards.

Interactions and sample weights
-------------------------------
A (worker, vacancy) pair enters the interaction matrix once, weighted by its best
outcome (:data:`OUTCOME_WEIGHT`): retained 3, hired 2, applied / interviewed /
rejected / declined 1, hired-then-left 1 (the worker wanted the job; the
placement was not stable). Pairs only viewed are left out: a view is an
impression, not a preference, and WARP draws its own negatives from all
vacancies. LightFM multiplies each pair's gradient by its weight.

Determinism: ``random_state`` seeds LightFM and training runs on one thread
(``num_threads=1``; with several threads Hogwild updates race), so the same data
and seed give the same factors.

Text neighbours
---------------
:class:`ContentIndex` keeps the vacancy text matrices: dense sentence embeddings
(L2-normalised, cosine = dot product) and lexical TF-IDF over character n-grams
(transposed CSR, so a worker's sparse row times the matrix touches only the
vacancies sharing its n-grams). They serve workers and vacancies with no
history as well as anyone else.

The candidate set of a worker is the union of the top ``n`` vacancies of each
channel, restricted to the eligible ones (:func:`top_n` takes the eligibility mask).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.data.schema import Columns, EventType
from matcher.models.array_codes import distinct_rows, value_codes

if TYPE_CHECKING:
    from matcher.models.features import EmbeddingClusters, FeatureSpace, PairStatistics
    from matcher.models.rows import PatchedRows
    from matcher.models.scoring import PairScorer

#: Weight of a (worker, vacancy) pair in the LightFM fit, by its best outcome.
OUTCOME_WEIGHT: dict[str, float] = {
    EventType.APPLIED: 1.0,
    EventType.INTERVIEWED: 1.0,
    EventType.REJECTED: 1.0,
    EventType.DECLINED: 1.0,
    EventType.HIRED: 2.0,
    EventType.RETAINED_3M: 3.0,
    EventType.RETAINED_6M: 3.0,
}
#: Weight of a pair whose hire ended with the worker leaving (and never retained).
LEFT_WEIGHT = 1.0


def interaction_weights(
    events: pd.DataFrame, worker_index: pd.Index, vacancy_index: pd.Index
) -> sp.coo_matrix:
    """The weighted interaction matrix ``(n_workers, n_vacancies)`` for LightFM.

    Parameters
    ----------
    events : DataFrame
        Contract events (worker_id, vacancy_id, event, occurred_at).
    worker_index, vacancy_index : Index
        External id -> row / column position.

    Returns
    -------
    scipy.sparse.coo_matrix
        One entry per pair with a non-zero weight (see :data:`OUTCOME_WEIGHT`);
        events naming ids outside the indexes are ignored.
    """
    ev = events[[Columns.Worker, Columns.Vacancy, Columns.Event]]
    w = ev[Columns.Event].map(OUTCOME_WEIGHT).fillna(0.0).astype(float)
    frame = pd.DataFrame(
        {
            "u": worker_index.get_indexer(pd.Index(ev[Columns.Worker])),
            "i": vacancy_index.get_indexer(pd.Index(ev[Columns.Vacancy])),
            "w": w.to_numpy(),
            "left": (ev[Columns.Event] == EventType.LEFT).to_numpy(),
            "retained": ev[Columns.Event]
            .isin([EventType.RETAINED_3M, EventType.RETAINED_6M])
            .to_numpy(),
        }
    )
    frame = frame[(frame["u"] >= 0) & (frame["i"] >= 0)]
    g = frame.groupby(["u", "i"], sort=True).agg(
        w=("w", "max"), left=("left", "any"), retained=("retained", "any")
    )
    weight = g["w"].to_numpy(dtype=np.float32)
    weight = np.where(g["left"].to_numpy() & ~g["retained"].to_numpy(), LEFT_WEIGHT, weight)
    keep = weight > 0
    u = g.index.get_level_values("u").to_numpy()[keep]
    i = g.index.get_level_values("i").to_numpy()[keep]
    return sp.coo_matrix(
        (weight[keep].astype(np.float32), (u, i)),
        shape=(len(worker_index), len(vacancy_index)),
    )


@dataclass
class RetrievalFit:
    """What one retrieval fit learns: the text clusters and LightFM feature spaces of
    both sides, the LightFM model and the training market's pair statistics."""

    clusters: EmbeddingClusters
    worker_space: FeatureSpace
    vacancy_space: FeatureSpace
    lightfm: LightFMRetriever
    stats: PairStatistics

    def with_statistics(self, stats: PairStatistics) -> RetrievalFit:
        """This fit's text clusters, feature spaces and LightFM model with the pair
        statistics ``stats`` (of another snapshot): the pair features that read no LightFM
        score of such a fit are those of a fit on that snapshot (ranker training's history
        windows, :mod:`matcher.models.ranker_training`)."""
        return dataclasses.replace(self, stats=stats)


class LightFMRetriever:
    """LightFM hybrid matrix factorisation with the WARP loss (see module docstring).

    Parameters
    ----------
    no_components : int, default 32
    epochs : int, default 20
    learning_rate : float, default 0.05
    item_alpha, user_alpha : float, default 1e-6
        L2 penalties on the feature embeddings.
    max_sampled : int, default 10
        WARP's negative draws per positive.
    loss : str, default "warp"
    random_state : int, default 0

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray of shape (n_features, no_components + 2)
        Per-feature ``[e_j, b_j, 1]`` (users) and ``[e_j, 1, b_j]`` (items) blocks, so
        that ``(X_u @ user_factors_) . (X_i @ item_factors_) = q.p + b_u + b_i`` for
        row-stochastic feature matrices.
    """

    def __init__(
        self,
        no_components: int = 32,
        epochs: int = 20,
        learning_rate: float = 0.05,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        max_sampled: int = 10,
        loss: str = "warp",
        random_state: int = 0,
    ) -> None:
        self.no_components = no_components
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.loss = loss
        self.random_state = random_state

    def fit(
        self,
        weights: sp.coo_matrix,
        user_features: sp.csr_matrix,
        item_features: sp.csr_matrix,
    ) -> LightFMRetriever:
        """Fit on a weighted interaction matrix (:func:`interaction_weights`)."""
        from lightfm import LightFM

        d = self.no_components
        if weights.nnz == 0:
            # nothing to learn from: every pair scores 0 and the text channels decide
            self.user_factors_ = np.zeros((user_features.shape[1], d + 2), np.float32)
            self.item_factors_ = np.zeros((item_features.shape[1], d + 2), np.float32)
            return self
        model = LightFM(
            no_components=d,
            loss=self.loss,
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            max_sampled=self.max_sampled,
            random_state=np.random.RandomState(self.random_state),
        )
        interactions = sp.coo_matrix(
            (np.ones(weights.nnz, np.float32), (weights.row, weights.col)), shape=weights.shape
        )
        model.fit(
            interactions,
            user_features=sp.csr_matrix(user_features, dtype=np.float32),
            item_features=sp.csr_matrix(item_features, dtype=np.float32),
            sample_weight=weights,
            epochs=self.epochs,
            num_threads=1,
        )
        uf = np.zeros((user_features.shape[1], d + 2), np.float32)
        uf[:, :d] = model.user_embeddings
        uf[:, d] = model.user_biases
        uf[:, d + 1] = 1.0
        itf = np.zeros((item_features.shape[1], d + 2), np.float32)
        itf[:, :d] = model.item_embeddings
        itf[:, d] = 1.0
        itf[:, d + 1] = model.item_biases
        self.user_factors_ = uf
        self.item_factors_ = itf
        return self

    def user_vectors(self, features: sp.csr_matrix) -> np.ndarray:
        """``[q_u, b_u, 1]`` for rows of a worker feature matrix (row-stochastic)."""
        out = np.asarray(features @ self.user_factors_, dtype=np.float32)
        # a row with no known feature has weight 0 everywhere; give it the bias slot 1
        d = self.no_components
        empty = np.asarray(features.sum(axis=1)).ravel() == 0
        out[empty, d + 1] = 1.0
        return out

    def item_vectors(self, features: sp.csr_matrix) -> np.ndarray:
        """``[p_i, 1, b_i]`` for rows of a vacancy feature matrix (row-stochastic)."""
        out = np.asarray(features @ self.item_factors_, dtype=np.float32)
        d = self.no_components
        empty = np.asarray(features.sum(axis=1)).ravel() == 0
        out[empty, d] = 1.0
        return out


#: Share of an index's rows its extra block may hold before :meth:`ContentIndex.spliced`
#: merges it into the main block.
EXTRA_SHARE = 0.05


class _RowBuffer:
    """An append-only block of rows with spare capacity, shared by the indexes that
    :meth:`ContentIndex.spliced` makes from one another: each reads its own first
    rows (a view), and a new index writes its new rows past the last one any index
    reads (``used``), never over them."""

    __slots__ = ("data", "used")

    def __init__(self, data: np.ndarray, used: int) -> None:
        self.data = data
        self.used = used


class ContentIndex:
    """Vacancy (or worker) text matrices for nearest-neighbour scoring.

    For speed at request time the dense channel scores in a ``project_dim``
    principal subspace of the indexed vectors (an orthonormal basis from the SVD of
    up to 5,000 evenly spaced rows; most of a sentence embedding's variance lives in
    a few dozen directions), and the lexical channel keeps only a query's
    ``max_query_terms`` heaviest n-grams (the rare, telling ones; single common
    characters such as 工 would touch nearly every vacancy). Both are used only to
    pick candidates: the ranker's dense and lexical features are exact cosines.

    Parameters
    ----------
    dense : ndarray of shape (n, dim)
        L2-normalised sentence embeddings.
    lexical : scipy.sparse matrix of shape (n, n_ngrams)
        L2-normalised TF-IDF rows.
    project_dim : int, default 64
    max_query_terms : int, default 32
    """

    #: rows added by :meth:`spliced` (transposed), and each row's column in
    #: ``[lexical_t, extra_t]`` (None: the rows are ``lexical_t``'s columns); class
    #: defaults, so indexes pickled before these existed read them as None
    extra_t: sp.csr_matrix | None = None
    columns: np.ndarray | None = None
    #: True when ``dense`` holds the *stored* rows (row ``s`` of ``dense`` is stored
    #: column ``s`` of ``[lexical_t, extra_t]``, read through ``columns``), as
    #: :meth:`spliced` leaves it; False (indexes built or pickled before): ``dense``
    #: holds the index's rows in order
    dense_stored: bool = False
    #: the append-only buffer ``dense`` is a view of, with room for rows that later
    #: :meth:`spliced` calls write past ``dense``'s end (not pickled)
    _buffer: _RowBuffer | None = None

    def __init__(
        self,
        dense: np.ndarray,
        lexical: sp.spmatrix,
        project_dim: int = 64,
        max_query_terms: int = 32,
    ) -> None:
        dense = np.ascontiguousarray(dense, dtype=np.float32)
        self.basis: np.ndarray | None = None
        if dense.shape[1] > project_dim and dense.shape[0] > project_dim:
            step = max(1, dense.shape[0] // 5000)
            _, _, vt = np.linalg.svd(dense[::step].astype(np.float64), full_matrices=False)
            self.basis = np.ascontiguousarray(vt[:project_dim].T, dtype=np.float32)
            dense = np.ascontiguousarray(dense @ self.basis)
        self.dense = dense
        self.lexical_t = sp.csr_matrix(lexical, dtype=np.float32).T.tocsr()
        self.max_query_terms = max_query_terms
        self.extra_t = None
        self.columns = None
        self.dense_stored = False
        self._buffer = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_buffer", None)  # the spare capacity is not worth storing
        return state

    def __len__(self) -> int:
        if self.columns is not None and self.dense_stored:
            return len(self.columns)
        return self.dense.shape[0]

    @property
    def row_vectors(self) -> np.ndarray:
        """The (projected) dense vectors of the index's rows, in order (a copy when
        the rows are read through ``columns``)."""
        if self.columns is not None and self.dense_stored:
            return self.dense[self.columns]
        return self.dense

    def project(self, dense: np.ndarray) -> np.ndarray:
        """Vectors in the space the dense channel scores in (the principal subspace,
        when there is one)."""
        q = np.ascontiguousarray(np.atleast_2d(np.asarray(dense, dtype=np.float32)))
        return np.ascontiguousarray(q @ self.basis) if self.basis is not None else q

    def reserve(self) -> None:
        """Give the stored dense rows spare capacity now (half again as many rows), so
        that the first :meth:`spliced` appends in place instead of copying them. The
        rows read are the same arrays' values: readers are unaffected."""
        if self._buffer is not None or (self.columns is not None and not self.dense_stored):
            return
        n = self.dense.shape[0]
        data = np.empty((int(1.5 * n) + 64, self.dense.shape[1]), dtype=np.float32)
        data[:n] = self.dense
        self._buffer = _RowBuffer(data, n)
        self.dense = data[:n]

    def _n_stored(self) -> int:
        return self.lexical_t.shape[1] + (0 if self.extra_t is None else self.extra_t.shape[1])

    def spliced(
        self, columns: np.ndarray, projected: np.ndarray, lexical: sp.spmatrix
    ) -> ContentIndex:
        """An index over other rows in this index's space, sharing what it can: row
        ``j`` of the new index is this index's row ``columns[j]`` when that is >= 0,
        else the next of the new rows (``projected``: dense rows from :meth:`project`,
        ``lexical``: their TF-IDF rows, in order). The basis is kept, not learned again.

        Nothing stored is copied: the new rows are appended to the stored ones (dense
        rows into spare capacity of an append-only buffer that grows by half when
        full, TF-IDF rows to a small extra block beside the shared transposed
        matrix), and the new index reads its rows through ``columns`` (each row's
        stored column). Rows no longer indexed stay stored until the stored rows
        that are not the index's (dropped ones and the extra block) exceed
        :data:`EXTRA_SHARE` of its rows; then they are merged into plain matrices
        (one copy, amortised over the updates before it). The incremental catalogue
        update uses this; this index is left as it was (requests in flight read it).
        """
        columns = np.asarray(columns, dtype=np.int64)
        kept = columns >= 0
        projected = np.asarray(projected, dtype=np.float32).reshape(-1, self.dense.shape[1])
        n_new = int((~kept).sum())
        out = ContentIndex.__new__(ContentIndex)
        out.basis = self.basis
        out.max_query_terms = self.max_query_terms
        n_stored = self._n_stored()
        base = self.dense  # the stored rows (row s: stored column s)
        if self.columns is not None and not self.dense_stored:
            # an index pickled before dense rows were stored: row j at its column
            base = np.zeros((n_stored, self.dense.shape[1]), dtype=np.float32)
            base[self.columns] = self.dense
        where = self._where()
        src = np.empty(len(columns), dtype=np.int64)
        src[kept] = where[columns[kept]]
        src[~kept] = n_stored + np.arange(n_new)
        fresh_t = sp.csr_matrix(lexical, dtype=np.float32).T.tocsr()
        extra = fresh_t if self.extra_t is None else sp.hstack([self.extra_t, fresh_t], "csr")
        stale = n_stored + n_new - len(columns)  # stored rows the new index does not read
        if extra.shape[1] + stale > EXTRA_SHARE * max(1, len(columns)):
            stored_t = sp.hstack([self.lexical_t, extra], "csr")
            out.lexical_t = sp.csr_matrix(stored_t[:, src])
            out.extra_t, out.columns = None, None
            # into a buffer with spare capacity: the next updates append in place
            data = np.empty((int(1.5 * len(columns)) + 64, base.shape[1]), dtype=np.float32)
            dense = data[: len(columns)]
            old = src < n_stored
            dense[old] = base[src[old]]
            dense[~old] = projected
            out.dense, out.dense_stored = dense, False
            out._buffer = _RowBuffer(data, len(columns))
            return out
        out.lexical_t, out.extra_t, out.columns = self.lexical_t, extra, src
        buffer = self._buffer if self.dense_stored or self.columns is None else None
        if buffer is None or buffer.used != n_stored or buffer.data.shape[0] < n_stored + n_new:
            # no buffer, another index already wrote past this one's rows, or full:
            # a new buffer with half again as much room
            capacity = max(n_stored + n_new, int(1.5 * n_stored) + 64)
            data = np.empty((capacity, base.shape[1]), dtype=np.float32)
            data[:n_stored] = base[:n_stored]
            buffer = _RowBuffer(data, n_stored)
        buffer.data[n_stored : n_stored + n_new] = projected
        buffer.used = n_stored + n_new
        out.dense, out.dense_stored, out._buffer = buffer.data[: buffer.used], True, buffer
        return out

    def _where(self) -> np.ndarray:
        """For each row, its column in ``[lexical_t, extra_t]``."""
        if self.columns is not None:
            return self.columns
        return np.arange(self.lexical_t.shape[1], dtype=np.int64)

    def dense_scores(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(Projected) cosine similarity of each query row to every indexed row (or to
        the indexed rows at positions ``rows``): ``(n_q, n)``."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.basis is not None:
            q = q @ self.basis
        if self.columns is not None and self.dense_stored:
            if rows is None:  # every stored row, then the index's in order
                return np.asarray(q @ self.dense.T, dtype=np.float32)[:, self.columns]
            return np.asarray(q @ self.dense[self.columns[rows]].T, dtype=np.float32)
        indexed = self.dense if rows is None else self.dense[rows]
        return np.asarray(q @ indexed.T, dtype=np.float32)

    def lexical_scores(self, queries: sp.spmatrix) -> np.ndarray:
        """TF-IDF similarity (query pruned to its heaviest n-grams) to every row: ``(n_q, n)``."""
        q = sp.csr_matrix(queries, dtype=np.float32)
        m = self.max_query_terms
        if m and np.diff(q.indptr).max(initial=0) > m:
            rows, cols, vals = [], [], []
            for r in range(q.shape[0]):
                lo, hi = q.indptr[r], q.indptr[r + 1]
                idx, val = q.indices[lo:hi], q.data[lo:hi]
                if len(val) > m:
                    keep = np.argsort(-val, kind="stable")[:m]
                    idx, val = idx[keep], val[keep]
                rows.append(np.full(len(idx), r))
                cols.append(idx)
                vals.append(val)
            q = sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=q.shape
            )
        scores = np.asarray((q @ self.lexical_t).toarray(), dtype=np.float32)
        extra = self.extra_t
        if extra is None or self.columns is None:
            return scores
        scores = np.hstack([scores, np.asarray((q @ extra).toarray(), dtype=np.float32)])
        return scores[:, self.columns]


def best_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest of ``scores`` (in no particular order), ties at the
    ``n``-th value taken first position first: among equal scores (vacancies with the
    same text have the same similarity) the choice does not depend on the rounding of
    the other scores, as ``argpartition``'s does -- a single request and a block of
    workers, whose matrix products round differently in the last bit, choose alike.

    A long array is first cut to the scores above a threshold taken from an evenly
    spaced sample of it (:func:`above_sample_cut`), when at least ``n`` are above it and
    all of those are finite: the ``n`` largest are among them, the ``n``-th value and its
    ties too, so the positions are the same (and in the same order) as those chosen from
    the whole array. ``np.partition`` is many times slower on arrays where most values
    are equal (a worker's lexical similarity is 0 for most vacancies); the cut leaves it
    a few hundred scores, mostly distinct."""
    if len(scores) <= n:
        return np.arange(len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    above = above_sample_cut(scores, n)
    if above is not None:
        return above[best_positions_of_all(scores[above], n)]
    return best_positions_of_all(scores, n)


#: :func:`best_positions` cuts arrays of at least this many scores at a sampled threshold,
#: taken from about this many of them (:func:`above_sample_cut`).
CUT_SAMPLE = 256
#: ... and aims at this many times ``n`` scores above the cut (fewer than ``n`` above it:
#: the whole array is partitioned, as without a cut).
CUT_SPARE = 2.0


def above_sample_cut(scores: np.ndarray, n: int) -> np.ndarray | None:
    """Positions (ascending) of the scores of a long array above a threshold ``c`` taken
    from an evenly spaced sample of it (the sample's value with about
    ``CUT_SPARE * n`` of the array expected above it), when at least ``n`` are above it
    and all of them are finite; None otherwise (a short array, a cut that keeps too few,
    a NaN or an infinity above it).

    Then the ``n`` largest scores, the ``n``-th value ``t`` and every score equal to it
    are among those positions (``t > c``), and no NaN is anywhere in ``scores`` (a NaN
    is kept by the cut, ``not s <= c``): :func:`best_positions` of the kept scores,
    mapped back, chooses what it chooses from the whole array."""
    size = len(scores)
    if size < 2 * CUT_SAMPLE or n * CUT_SPARE * 4 > size:
        return None
    step = size // CUT_SAMPLE
    sample = scores[::step]
    k = len(sample)
    # the sample's q-th largest value: about q * step scores above it
    q = int(np.ceil(CUT_SPARE * n / step))
    if q >= k:
        return None
    c = np.partition(sample, k - 1 - q)[k - 1 - q]
    if not np.isfinite(c):
        return None
    keep = scores <= c
    np.logical_not(keep, out=keep)  # a NaN is kept
    above = np.flatnonzero(keep)
    if len(above) < n or not np.isfinite(scores[above]).all():
        return None
    return above


def best_positions_of_all(scores: np.ndarray, n: int) -> np.ndarray:
    """:func:`best_positions` without the sampled cut: the same positions chosen from the
    whole array (the exact reference the cut is checked against; ``n > 0``)."""
    if len(scores) <= n:
        return np.arange(len(scores))
    # the set is decided by the n-th largest value alone: np.partition finds it at about
    # half argpartition's cost (no index array), unless a NaN is among the scores (it
    # sorts above every number there, below every number in -scores)
    top = np.partition(scores, len(scores) - n)[len(scores) - n :]
    t = top[0]
    # a NaN sorts above every number: when there is one, it is among the n best or t is
    # NaN (the n-th largest)
    if not np.isfinite(t) or np.isnan(top).any():
        part = np.argpartition(-scores, n - 1)[:n]
        t = scores[part].min()
        if not np.isfinite(t):  # NaN or -inf among the n best: no tie to settle by value
            return part
    else:
        chosen = np.flatnonzero(scores >= t)
        if len(chosen) == n:  # no tie at the n-th value left out: the set, in one pass
            return chosen
    above = np.flatnonzero(scores > t)
    tied = np.flatnonzero(scores == t)[: n - len(above)]
    return np.concatenate([above, tied])


def top_n(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` best eligible scores, best first (ties by position).

    Parameters
    ----------
    scores : ndarray of shape (m,)
    mask : ndarray of bool, shape (m,)
        Eligibility; masked-out positions are never returned.
    n : int

    Returns
    -------
    ndarray of int64
    """
    eligible = np.flatnonzero(mask)
    if len(eligible) == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    s = scores[eligible]
    part = best_positions(s, n)
    order = np.lexsort((eligible[part], -s[part]))
    return eligible[part][order].astype(np.int64)


def occupation_levels_of_one(worker_keys: np.ndarray, vacancy_keys: np.ndarray) -> np.ndarray:
    """:func:`matcher.models.features.occupation_match_level` of one worker against many
    vacancies, level by level (a request's tens of thousands of pairs): the deepest
    level at which a vacancy's key is one of the worker's keys of that level (keys
    nest, so a match at a level implies one at every level above it).

    Parameters
    ----------
    worker_keys : ndarray of shape (n_codes, 4)
        The worker's :func:`matcher.models.features.occupation_keys` (rows of -1 pad).
    vacancy_keys : ndarray of shape (n, 4)

    Returns
    -------
    ndarray of int8, shape (n,)
    """
    out = np.zeros(len(vacancy_keys), dtype=np.int8)
    for level in range(vacancy_keys.shape[1] if vacancy_keys.ndim == 2 else 0):
        wanted = worker_keys[:, level]
        wanted = wanted[wanted >= 0]
        if len(wanted) == 0:
            continue
        column = vacancy_keys[:, level]
        if len(wanted) <= KEYS_COMPARED_ONE_BY_ONE:
            # a worker's few codes: one comparison each (np.isin sorts both sides)
            hit = column == wanted[0]
            for key in wanted[1:].tolist():
                hit |= column == key
        else:
            hit = np.isin(column, wanted)
        out[hit] = level + 1
    return out


#: :func:`occupation_levels_of_one` compares a level's keys one by one up to this many.
KEYS_COMPARED_ONE_BY_ONE = 16


def same_code(values: np.ndarray, pos: np.ndarray, code: object) -> np.ndarray:
    """``values[pos] == code`` for an object array of region codes and a string (by the
    array's integer codes: the same answer without comparing strings pair by pair);
    other ``code`` values are compared object by object."""
    if not isinstance(code, str) or not isinstance(values, np.ndarray):
        return np.asarray(values[pos] == code, dtype=bool)
    codes, by_value = value_codes(values)
    return codes[pos] == by_value.get(code, -2)


#: ids of catalogue vacancy arrays -> (weak references to them, each position's group,
#: each group's first position): :func:`vacancy_groups` computes each set's once
_GROUPS: dict[tuple[int, ...], tuple[tuple[weakref.ref, ...], np.ndarray, np.ndarray]] = {}


def vacancy_groups(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Groups of the positions of catalogue vacancy arrays (one length) that hold the
    same row in every one of ``arrays`` (object arrays compared by value, missing
    values as one; numeric rows by their bytes): each position's group and each
    group's first position, computed once per set of arrays (the catalogue's arrays
    are replaced, never changed in place, when it changes). A province's 100,000
    vacancies fall in a few thousand groups of occupation, place and kind of post.

    Returns
    -------
    group_of : numpy.ndarray of intp, ``(len(arrays[0]),)``
    first : numpy.ndarray of intp, ``(n_groups,)``
    """
    key = tuple(id(a) for a in arrays)
    hit = _GROUPS.get(key)
    if (
        hit is not None
        and all(ref() is a for ref, a in zip(hit[0], arrays, strict=True))
        and len(hit[1]) == len(arrays[0])
    ):
        return hit[1], hit[2]
    columns = [value_codes(a)[0] if a.dtype == object else distinct_rows(a)[1] for a in arrays]
    # one integer per row, digit by digit (codes from -1 up), when it fits in 62 bits
    sizes = [int(c.max(initial=0)) + 2 for c in columns]
    if float(np.prod(np.array(sizes, dtype=float))) < 2.0**62:
        keys = np.zeros(len(arrays[0]), dtype=np.int64)
        for c, size in zip(columns, sizes, strict=True):
            keys *= size
            keys += c.astype(np.int64) + 1
        _, first, group_of = np.unique(keys, return_index=True, return_inverse=True)
    else:
        stacked = np.column_stack(columns).astype(np.int64)
        _, first, group_of = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    group_of = group_of.reshape(-1).astype(np.intp)
    first = first.astype(np.intp)

    def forget(_: object) -> None:  # an array is gone: its id may be reused
        _GROUPS.pop(key, None)

    _GROUPS[key] = (tuple(weakref.ref(a, forget) for a in arrays), group_of, first)
    return group_of, first


# --------------------------------------------------------------------------- candidates

#: A single request scores only the eligible vacancies when they are fewer than this
#: share of the open ones (gathering rows costs more than streaming when most are).
NARROW_SHARE = 0.5


class CandidateCatalogue(Protocol):
    """What candidate generation reads of a served catalogue
    (:class:`matcher.models.catalogue.Catalogue`)."""

    at: pd.Timestamp | None
    year: int
    workers: pd.DataFrame
    vacancies: pd.DataFrame
    wp: Any
    vp: Any
    vctx: Any
    proxy: RankerProxy | None
    w_lfm: np.ndarray
    w_dense: np.ndarray
    w_lex: sp.csr_matrix
    v_lfm: np.ndarray
    v_dense: np.ndarray | PatchedRows
    v_lex: sp.csr_matrix | PatchedRows
    open_pos: np.ndarray
    open_text: ContentIndex
    open_lfm: np.ndarray
    worker_text: ContentIndex
    eligibility: Any
    pursued: sp.csr_matrix
    open_tie_col: np.ndarray
    open_province_col: np.ndarray
    open_prefecture_col: np.ndarray
    open_popularity: np.ndarray


#: Vacancies the ranker proxy adds to a worker's candidates (its best eligible ones).
PROXY_CANDIDATES = 1000
#: Pair features the ranker proxy reads (computed for every open vacancy of a request
#: from the channel scores and the profiles, see :meth:`CandidateGenerator.proxy_features`).
PROXY_FEATURES = (
    "lightfm",
    "dense",
    "lexical",
    "network",
    "occ_match",
    "log_distance",
    "same_county",
    "same_prefecture",
    "same_province",
    "log_wage_ratio",
)
#: With a proxy margin (:class:`CandidateGenerator`, ``proxy_margin``): the proxy's best
#: this many are kept whatever their distance from its best score.
PROXY_MARGIN_FLOOR = 50
#: Workers whose candidates and a random draw of eligible vacancies fit the proxy.
PROXY_FIT_WORKERS = 40
#: Memory a generator spends on the proxy's static terms of the worker homes it has seen
#: (:meth:`CandidateGenerator._group_terms`; 8 bytes per home, place, kind of post and
#: occupation level): about 3,700 homes at 90 places and 5 kinds of post.
GROUP_TERMS_CACHE_BYTES = 64 * 2**20
PROXY_FIT_RANDOM = 300
#: Memory a generator spends on the network pull of the home counties it has seen
#: (:meth:`CandidateGenerator.county_network`; 8 bytes per county and open vacancy):
#: about 320 counties at 26,000 open vacancies.
NETWORK_CACHE_BYTES = 64 * 2**20
#: Workers whose eligible pairs :meth:`CandidateGenerator.for_workers` scores together
#: (network pull and ranker proxy as one element-wise pass over their pairs). Measured on
#: the nightly bench's market (26,121 open vacancies, 11,500 eligible per worker on
#: average, 10 per channel + the proxy's best 500 within 1.5; same run, 512 workers):
#: worker by worker 2.47 ms of CPU per worker, 16 together 1.83 ms, 8 together 1.92 ms;
#: a whole block of 128 was slower than worker by worker (its pair arrays leave the
#: caches), see docs/nightly-cost.md.
PAIR_BLOCK_WORKERS = 16


#: Knots of the proxy's piecewise-linear terms (:func:`proxy_basis`): log(1 + km) and
#: the log wage ratio.
DISTANCE_KNOTS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
WAGE_KNOTS = (-0.5, -0.2, 0.0, 0.2, 0.5)
#: The proxy's fit weighs each sampled pair by ``exp(clip(y - y10, -TOP_SPAN, 0))``, ``y``
#: its exact log score and ``y10`` the worker's 10th best sampled one: the fit has to
#: order the top of a worker's list, not the bulk of hopeless pairs.
TOP_SPAN = 5.0
#: ... and its exact log score floored at ``y10 - TARGET_FLOOR`` (where its weight stops
#: falling): how far below a worker's top a hopeless pair falls does not matter to the
#: candidates, and the stay stage on the job's terms gives log scores a long low tail
#: (a standard deviation near 10 nats within a worker on a small market) that, left as it
#: is, drives the least squares. Measured with the covariate stage maps (the defaults),
#: ``bench/recall_bench.py --fit-option``, 100,000 open vacancies, 80 workers, best 1000:
#: no floor 0.980, floor 1 0.949, 2 0.974, 3 0.979, 5 0.981; on the small market of
#: ``tests/engine/test_recall.py`` (best 80) no floor 0.840, 1 0.955, 5 0.867. A tight
#: floor loses the order between the 10th and the 1000th best that a large catalogue needs.
TARGET_FLOOR = TOP_SPAN
#: Second round of the proxy's fit: each sampled worker's best by the first fit (the
#: region where it must be right), scored exactly and added to the sample.
PROXY_FIT_TOP = 1000
#: Reference workers of the proxy's per-vacancy residual (:func:`fit_ranker_proxy`): the
#: sampled workers with the most eligible vacancies, each scored exactly against all of
#: them. The ranker's trees treat a vacancy's own features non-linearly and jointly; a
#: linear ``vterm`` cannot. Off by default: at 100,000 open vacancies, over 70 workers
#: and two fit seeds, 8 reference workers LOWERED the recall of the exhaustive top 10
#: (best 1000: 0.960 -> 0.942 without the channel terms, 0.970 -> 0.947 with them) and
#: deepened the low tail (the mobile workers that give the residual are not the others'
#: reference), at 25 s CPU per catalogue build and an all-vacancy scoring per reference
#: worker in every incremental update.
PROXY_REFERENCE_WORKERS = 0


def proxy_basis(features: np.ndarray) -> np.ndarray:
    """The columns an expanded :class:`RankerProxy` is linear in, from
    :data:`PROXY_FEATURES` rows: the features, the occupation match level one-hot,
    hinges of log distance and log wage ratio at :data:`DISTANCE_KNOTS` /
    :data:`WAGE_KNOTS`, squares of the four channel scores, and occupation match times
    log distance and times each text/LightFM channel (the ranker's trees find such
    interactions; a plain linear proxy cannot)."""
    f = np.asarray(features, dtype=float)
    occ, log_km, wage = f[:, 4], f[:, 5], f[:, 9]
    return np.hstack(
        [
            f,
            np.column_stack([occ == level for level in range(5)]),
            np.column_stack([np.maximum(log_km - k, 0.0) for k in DISTANCE_KNOTS]),
            np.column_stack([np.maximum(wage - k, 0.0) for k in WAGE_KNOTS]),
            f[:, 0:4] ** 2,
            (occ * log_km)[:, None],
            f[:, 0:3] * occ[:, None],
        ]
    )


#: Columns of :func:`proxy_basis` that the proxy weighs once per vacancy channel
#: (:attr:`RankerProxy.channel_beta`): log distance, the occupation match level one-hot
#: and the distance hinges. The ranker's trees weigh distance and occupation by the kind
#: of post (a worker may take a public-welfare post of his trade across the country
#: where he would not take a factory job); one slope for every channel ranks such a
#: worker's exhaustive top 10 in the thousands (bench/recall_bench.py).
CHANNEL_BASIS_COLUMNS = np.array([5, *range(10, 15), *range(15, 21)], dtype=np.int64)
#: First column of each kind of term of :func:`proxy_basis` after the ten features.
_LEVEL_TERMS = len(PROXY_FEATURES)
_DISTANCE_TERMS = _LEVEL_TERMS + 5
_WAGE_TERMS = _DISTANCE_TERMS + len(DISTANCE_KNOTS)
_SQUARE_TERMS = _WAGE_TERMS + len(WAGE_KNOTS)
_OCC_KM_TERM = _SQUARE_TERMS + 4
_OCC_CHANNEL_TERMS = _OCC_KM_TERM + 1


@dataclass
class RankerProxy:
    """A stand-in for the ranker's log score, cheap enough to compute for every eligible
    vacancy of a request: ``pair_beta . b(f(w, v)) + vterm[v]``, where ``f`` are
    :data:`PROXY_FEATURES`, ``b`` is :func:`proxy_basis` (``expanded``; the identity
    for proxies fitted before it existed) and ``vterm`` the vacancy's own part (a linear
    function of the ranker's vacancy-only features, one number per catalogue position).

    Fitted per catalogue by :func:`fit_ranker_proxy` on the exact scores of a sample of
    workers' pairs (within-worker weighted least squares: only the order within a
    worker matters, and most of all at its top). It only chooses candidates: the
    ranker scores them exactly.
    """

    pair_beta: np.ndarray
    vacancy_columns: np.ndarray  # columns of matcher.models.features.PAIR_COLUMNS
    vacancy_beta: np.ndarray
    vterm: np.ndarray  # per catalogue vacancy position
    #: ``pair_beta`` weighs :func:`proxy_basis` columns (class default: proxies pickled
    #: before it existed read False and weigh the plain features)
    expanded: bool = False
    #: worker positions whose exact scores give each vacancy its residual term (part
    #: of ``vterm``: the mean over these workers eligible for it of the exact log score
    #: minus the linear proxy, less the worker's median such residual,
    #: ``reference_shift``); None for proxies fitted without (class defaults, so
    #: proxies pickled before these existed read None)
    reference_workers: np.ndarray | None = None
    reference_shift: np.ndarray | None = None
    #: columns of :data:`matcher.models.features.PAIR_COLUMNS` holding the vacancy's
    #: channel one-hot, the channel of every catalogue position (``(n_vacancies,
    #: n_channels)``, like ``vterm``) and the weights of :data:`CHANNEL_BASIS_COLUMNS`
    #: per channel (``(len(CHANNEL_BASIS_COLUMNS), n_channels)``): the pair terms that
    #: depend on the kind of post. None: fitted without (and proxies pickled before)
    channel_columns: np.ndarray | None = None
    vchannel: np.ndarray | None = None
    channel_beta: np.ndarray | None = None

    def vacancy_terms(self, values: np.ndarray) -> np.ndarray:
        """``vterm`` of pair-feature rows (:meth:`matcher.models.scoring.PairScorer.pair_values`)."""
        z = np.nan_to_num(np.asarray(values)[:, self.vacancy_columns], nan=0.0)
        return z @ self.vacancy_beta

    def vacancy_channels(self, values: np.ndarray) -> np.ndarray | None:
        """``vchannel`` rows of pair-feature rows (None for a proxy without channel terms)."""
        if self.channel_columns is None:
            return None
        return np.nan_to_num(np.asarray(values)[:, self.channel_columns], nan=0.0).astype(
            np.float32
        )

    def pair_terms(self, features: np.ndarray, pos: np.ndarray | None = None) -> np.ndarray:
        """The pair part of the score of :data:`PROXY_FEATURES` rows: ``b(f) . pair_beta``
        (:func:`proxy_basis`), summed column by column without building ``b(f)``, so
        that a row's value does not depend on the other rows (a matrix-vector product
        may round a row differently at another length or alignment: candidates chosen
        among a worker's eligible vacancies only must get the numbers of all open ones).
        Given the rows' vacancy catalogue positions ``pos``, plus (:attr:`channel_beta`)
        :data:`CHANNEL_BASIS_COLUMNS` weighed by each vacancy's channel, summed the same
        way."""
        # column-major: each column below is read contiguously (same values)
        f = np.asfortranarray(features, dtype=float)
        beta = np.asarray(self.pair_beta, dtype=float)
        n = len(f)
        out = np.zeros(n)
        tmp = np.empty(n)
        for j in range(f.shape[1]):
            out += np.multiply(beta[j], f[:, j], out=tmp)
        if not self.expanded:
            return out
        j = f.shape[1]
        occ, log_km, wage = f[:, 4], f[:, 5], f[:, 9]
        # the occupation level one-hot: of its five terms one is beta, the others 0
        # (adding a zero changes nothing), so the level's beta is added at once
        level = _level_index(occ)
        out += np.append(beta[j : j + 5], 0.0)[level]
        j += 5
        for knots, x in ((DISTANCE_KNOTS, log_km), (WAGE_KNOTS, wage)):
            for knot in knots:
                np.subtract(x, knot, out=tmp)
                np.maximum(tmp, 0.0, out=tmp)
                out += np.multiply(beta[j], tmp, out=tmp)
                j += 1
        for c in range(4):
            np.multiply(f[:, c], f[:, c], out=tmp)
            out += np.multiply(beta[j], tmp, out=tmp)
            j += 1
        np.multiply(occ, log_km, out=tmp)
        out += np.multiply(beta[j], tmp, out=tmp)
        j += 1
        for c in range(3):
            np.multiply(f[:, c], occ, out=tmp)
            out += np.multiply(beta[j], tmp, out=tmp)
            j += 1
        if pos is not None and self.channel_beta is not None and self.vchannel is not None:
            out += self._channel_terms(f, np.asarray(pos), level)
        return out

    def _channel_terms(
        self, f: np.ndarray, pos: np.ndarray, level: np.ndarray | None = None
    ) -> np.ndarray:
        """Each row's :data:`CHANNEL_BASIS_COLUMNS` weighed by its vacancy's channel:
        the channel one-hot (``vchannel``, at most one 1 per row) picks a column of
        ``channel_beta`` per row, summed column by column (row by row the same).
        ``level``: :func:`_level_index` of the rows' occupation level, when known."""
        assert self.channel_beta is not None and self.vchannel is not None
        occ, log_km = f[:, 4], f[:, 5]
        # each position's channel and its one-hot value, once per distinct one-hot row
        channels, channel_of = distinct_rows(self.vchannel)
        which_of = channels.argmax(axis=1) if len(channels) else np.zeros(0, np.int64)
        on_of = channels[np.arange(len(channels)), which_of].astype(float)
        kind = channel_of[pos]
        which, on = which_of[kind], on_of[kind]
        cb = np.asarray(self.channel_beta, dtype=float)  # (columns, channels)
        out = cb[0][which] * log_km
        # the level one-hot: one of its five terms is the row's beta, the others 0
        if level is None:
            level = _level_index(occ)
        by_level = np.vstack([cb[1:6], np.zeros((1, cb.shape[1]))])
        out += by_level[level, which]
        tmp = np.empty(len(out))
        for j, knot in enumerate(DISTANCE_KNOTS):
            np.subtract(log_km, knot, out=tmp)
            np.maximum(tmp, 0.0, out=tmp)
            out += np.multiply(cb[6 + j][which], tmp, out=tmp)
        return out * on

    def static_terms(self, features: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The terms of :meth:`pair_terms` that read neither the channel scores nor the
        wage (an expanded proxy): occupation level, distance and its hinges, the same
        county / prefecture / province, occupation x distance and the channel terms, of
        :data:`PROXY_FEATURES` rows (their other columns are not read) of vacancies at
        catalogue positions ``pos``. With :meth:`wage_terms` and
        :meth:`channel_score_terms`, :meth:`pair_terms` regrouped (the same sum up to
        rounding): a request computes these once per group of vacancies
        (:func:`vacancy_groups`)."""
        f = np.asarray(features, dtype=float)
        beta = np.asarray(self.pair_beta, dtype=float)
        occ, log_km = f[:, 4], f[:, 5]
        out = beta[4] * occ
        for j in range(5, 9):
            out += beta[j] * f[:, j]
        level = _level_index(occ)
        out += np.append(beta[_LEVEL_TERMS : _LEVEL_TERMS + 5], 0.0)[level]
        for i, knot in enumerate(DISTANCE_KNOTS):
            out += beta[_DISTANCE_TERMS + i] * np.maximum(log_km - knot, 0.0)
        out += beta[_OCC_KM_TERM] * (occ * log_km)
        if self.channel_beta is not None and self.vchannel is not None:
            out += self._channel_terms(f, np.asarray(pos), level)
        return out

    def wage_terms(self, ratio: np.ndarray) -> np.ndarray:
        """The terms of :meth:`pair_terms` of the log wage ratio (column 9 of
        :data:`PROXY_FEATURES`) and its hinges (an expanded proxy)."""
        beta = np.asarray(self.pair_beta, dtype=float)
        out = beta[9] * ratio
        for i, knot in enumerate(WAGE_KNOTS):
            out += beta[_WAGE_TERMS + i] * np.maximum(ratio - knot, 0.0)
        return out

    def channel_score_terms(self, scores: WorkerChannels, occ: np.ndarray) -> np.ndarray:
        """The terms of :meth:`pair_terms` of the four channel scores (columns 0-3 of
        :data:`PROXY_FEATURES`): each score, its square and (text and LightFM) times the
        occupation level ``occ`` (an expanded proxy)."""
        beta = np.asarray(self.pair_beta, dtype=float)
        out = np.zeros(len(occ))
        tmp = np.empty(len(occ))
        for c, score in enumerate(scores):
            x = np.asarray(score, dtype=float)
            np.multiply(beta[_SQUARE_TERMS + c], x, out=tmp)
            tmp += beta[c]
            if c < 3:
                tmp += beta[_OCC_CHANNEL_TERMS + c] * occ
            tmp *= x
            out += tmp
        return out

    def residual_terms(
        self,
        cat: CandidateCatalogue,
        scorer: PairScorer,
        generator: CandidateGenerator,
        cols: np.ndarray,
        linear: np.ndarray,
    ) -> np.ndarray:
        """The residual part of ``vterm`` for the open vacancies at ``cols`` (whose
        linear part is ``linear``), from the reference workers' exact scores: what
        :func:`fit_ranker_proxy` computes for every open vacancy, for a few (the
        incremental catalogue update). Zero where no reference worker may take it."""
        cols = np.asarray(cols, dtype=np.int64)
        total, count = np.zeros(len(cols)), np.zeros(len(cols))
        if len(cols) == 0 or self.reference_workers is None or self.reference_shift is None:
            return total
        for w, shift in zip(
            self.reference_workers.tolist(), self.reference_shift.tolist(), strict=True
        ):
            ok = cat.eligibility.pair_mask(np.full(len(cols), w, dtype=np.int64), cols, at=cat.at)
            if not ok.any():
                continue
            mine = cols[ok]
            r = _exact_log_score(cat, scorer, w, mine) - self.linear_scores(
                cat, generator, w, mine, linear[ok]
            )
            total[ok] += r - shift
            count[ok] += 1
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)

    def linear_scores(
        self,
        cat: CandidateCatalogue,
        generator: CandidateGenerator,
        w: int,
        cols: np.ndarray,
        linear: np.ndarray,
    ) -> np.ndarray:
        """The proxy without its residual term: pair terms of worker ``w`` against the
        open vacancies at ``cols`` plus their linear vacancy terms ``linear``."""
        lfm, dense, lex = generator.channel_scores(cat, np.array([w]), cols)
        channels = WorkerChannels(lfm[0], dense[0], lex[0], generator.network_scores(cat, w, cols))
        f = generator.proxy_features(cat, w, cols, channels)
        return self.pair_terms(f, cat.open_pos[cols]) + linear


def _grouping_arrays(proxy: RankerProxy, vp: Any) -> tuple[np.ndarray, ...] | None:
    """The vacancy arrays whose equal rows share the proxy's group terms
    (:func:`vacancy_groups` in :meth:`CandidateGenerator._proxy_by_group` and its block
    form): occupation keys, point, region, prefecture, province and, with channel terms,
    the kind of post. None where the proxy's terms cannot be grouped (no expanded basis,
    or vacancy terms sized for another catalogue)."""
    if not proxy.expanded or len(proxy.vterm) != len(vp.province):
        return None
    arrays: tuple[np.ndarray, ...] = (
        vp.code_keys,
        vp.coords,
        vp.region,
        vp.prefecture,
        vp.province,
    )
    if proxy.vchannel is not None and proxy.channel_beta is not None:
        if len(proxy.vchannel) != len(vp.province):
            return None
        arrays = (*arrays, proxy.vchannel)
    return arrays


def _groupable_worker(wp: Any, w: int) -> bool:
    """Whether worker ``w``'s group terms can be computed: a county and a prefecture code."""
    return isinstance(wp.county[w], str) and isinstance(wp.prefecture[w], str)


def _log_wage_ratio(offered: np.ndarray, expected: float | np.ndarray) -> np.ndarray:
    """Column 9 of :data:`PROXY_FEATURES`: the log of the offered over the expected
    wage, clipped to [0.2, 5] first, 0 where unknown (element-wise: ``expected`` may be
    an array that broadcasts against ``offered``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(np.clip(offered / expected, 0.2, 5.0))
    return np.nan_to_num(ratio, nan=0.0, posinf=0.0, neginf=0.0)


def _level_index(occ: np.ndarray) -> np.ndarray:
    """Row of the occupation level one-hot each value of ``occ`` sets: the level 0..4,
    or 5 (no level: a row of zeros) for any other value."""
    level = np.full(len(occ), 5, dtype=np.intp)
    for value in range(5):
        level[occ == value] = value
    return level


def _exact_log_score(
    cat: CandidateCatalogue, scorer: PairScorer, w: int, cols: np.ndarray
) -> np.ndarray:
    """The log of ``scorer``'s score of worker ``w`` against the open vacancies at ``cols``."""
    from matcher.models.features import RANKER_COLUMNS

    pairs, _ = scorer.pair_values(cat, np.full(len(cols), w, np.int64), cat.open_pos[cols])
    x = pd.DataFrame(pairs[:, : len(RANKER_COLUMNS)], columns=RANKER_COLUMNS, copy=False)
    return np.log(np.clip(scorer.score(x), 1e-12, None))


class WorkerChannels(NamedTuple):
    """One worker's channel scores against some open vacancies: what the ranker proxy
    (:meth:`CandidateGenerator.proxy_features`) starts from."""

    lfm: np.ndarray
    dense: np.ndarray
    lex: np.ndarray
    network: np.ndarray


def place_features(cat: CandidateCatalogue, w: int, pos: np.ndarray, out: np.ndarray) -> None:
    """Columns 4-8 of :data:`PROXY_FEATURES` (occupation level, log distance, same
    county, prefecture, province) of worker ``w`` against the vacancies at
    catalogue positions ``pos``, written into ``out``."""
    from matcher.data.reference import haversine_km

    wp, vp = cat.wp, cat.vp
    # occupation level and distance once per distinct occupation and place, gathered
    codes, code_of = distinct_rows(vp.code_keys)
    out[:, 4] = occupation_levels_of_one(wp.code_keys[w], codes)[code_of[pos]]
    places, place_of = distinct_rows(vp.coords)
    wc = wp.coords[w]
    if len(pos):
        near = haversine_km(wc[0], wc[1], places[:, 0], places[:, 1])
        out[:, 5] = np.log1p(np.nan_to_num(near, nan=0.0))[place_of[pos]]
    out[:, 6] = same_code(vp.region, pos, wp.county[w])
    out[:, 7] = same_code(vp.prefecture, pos, wp.prefecture[w])
    out[:, 8] = vp.province[pos] == wp.province[w]


@dataclass(frozen=True)
class _GroupLayout:
    """Where each vacancy group (:func:`vacancy_groups`) stands in a home's table of the
    proxy's static terms (:meth:`CandidateGenerator._group_terms`): the table has one
    row per place (distinct point, county, prefecture and province of the vacancies),
    kind of post (distinct channel one-hot row of the proxy) and occupation level
    (0 to ``n_levels - 1``), in that order."""

    codes: np.ndarray  # distinct occupation key rows of the vacancies
    code_of: np.ndarray  # each group's row of codes
    cell: np.ndarray  # each group's table row at level 0 (its level is added)
    place_first: np.ndarray  # a catalogue position of each place
    kind_first: np.ndarray  # a catalogue position of each kind of post
    n_levels: int

    @classmethod
    def of(cls, cat: CandidateCatalogue, proxy: RankerProxy, first: np.ndarray) -> _GroupLayout:
        """The layout of the groups whose first positions are ``first``."""
        vp = cat.vp
        codes, code_of = distinct_rows(vp.code_keys)
        place_of, place_first = vacancy_groups((vp.coords, vp.region, vp.prefecture, vp.province))
        if proxy.vchannel is not None and proxy.channel_beta is not None:
            kind_of, kind_first = vacancy_groups((proxy.vchannel,))
        else:  # no channel terms: one kind (its position is not read)
            kind_of = np.zeros(len(vp.province), dtype=np.intp)
            kind_first = np.zeros(1, dtype=np.intp)
        n_levels = (vp.code_keys.shape[1] if vp.code_keys.ndim == 2 else 0) + 1
        cell = (place_of[first] * len(kind_first) + kind_of[first]) * n_levels
        return cls(
            codes,
            code_of[first],
            cell.astype(np.intp),
            place_first.astype(np.intp),
            kind_first.astype(np.intp),
            n_levels,
        )

    def home_table(self, cat: CandidateCatalogue, proxy: RankerProxy, w: int) -> np.ndarray:
        """The proxy's static terms of worker ``w``'s home against every place, kind of
        post and occupation level: the rows :meth:`RankerProxy.static_terms` computes
        for a group's first vacancy, with the same place features
        (:func:`place_features` of the place's first position) and
        its level as the occupation column."""
        n_places, n_kinds, n_levels = len(self.place_first), len(self.kind_first), self.n_levels
        places = np.zeros((n_places, len(PROXY_FEATURES)))
        place_features(cat, w, self.place_first, places)
        place = np.repeat(np.arange(n_places), n_kinds * n_levels)
        rep = np.zeros((len(place), len(PROXY_FEATURES)))
        rep[:, 5:9] = places[place, 5:9]
        rep[:, 4] = np.tile(np.arange(n_levels, dtype=float), n_places * n_kinds)
        kind = np.tile(np.repeat(np.arange(n_kinds), n_levels), n_places)
        return proxy.static_terms(rep, self.kind_first[kind])


#: A generator's kept proxy group terms: the groups' first positions and the proxy they
#: were computed for, their layout, and per worker home its table of static terms.
_GroupTerms = tuple[np.ndarray, "RankerProxy", _GroupLayout, dict[tuple, np.ndarray]]


class CandidateGenerator:
    """Which open vacancies a worker's ranking considers (and which workers a
    vacancy's): the retrieval channels over the eligible ones.

    The exhaustive reference is every eligible open vacancy the worker has not pursued
    (:meth:`eligible`): what the ranker would choose from if it scored them all. The
    candidates are the union of each channel's ``n_candidates`` best among those:
    LightFM, dense and lexical similarity, the referral/network pull and the
    vacancy's popularity (the last two only where they are above zero: a vacancy
    without any pull has no signal there). When a worker has no more eligible
    vacancies than ``n_candidates``, all of them are candidates, and the ranking is
    exhaustive. ``bench/recall_bench.py`` measures the recall contract: the share of
    the exhaustive top 10 that the candidates contain.

    Parameters
    ----------
    stages : {"full", "lightfm", "content"}
        The ablations take one channel's ``n_candidates`` best.
    n_candidates : int
        Vacancies taken from each channel.
    stats : PairStatistics
        The training market's statistics (the network channel's tables).
    proxy_candidates : int, default :data:`PROXY_CANDIDATES`
        Vacancies taken from the ranker proxy (its best eligible ones).
    proxy_margin : float, optional
        Of the proxy's ``proxy_candidates`` best, keep only those whose proxy score
        (a log score) is within ``proxy_margin`` of the worker's best one, and at least
        :data:`PROXY_MARGIN_FLOOR` (a subset of the candidates without a margin). The
        proxy's error is about the same in every worker's list, while the number of
        vacancies near a worker's top varies from a few to thousands: a margin spends
        candidates where the top is crowded. None (default): no margin.
        ``bench/nightly_fidelity_bench.py`` measures the agreement it keeps.
    """

    #: The proxy static terms kept per worker home (:meth:`_group_terms`); None until the
    #: first is computed.
    _group_terms_cache: _GroupTerms | None = None
    #: Each home county's network pull of every open vacancy (:meth:`county_network`),
    #: with what it was computed from; None until the first.
    _network_cache: tuple[tuple, dict[str, np.ndarray]] | None = None

    def __init__(
        self,
        stages: str,
        n_candidates: int,
        stats: PairStatistics,
        proxy_candidates: int = PROXY_CANDIDATES,
        proxy_margin: float | None = None,
    ) -> None:
        self.stages = stages
        self.n_candidates = n_candidates
        self.stats = stats
        self.proxy_candidates = proxy_candidates
        self.proxy_margin = proxy_margin

    def __getstate__(self) -> dict:
        """The generator without what it keeps for speed (the proxy's static terms per
        home, the network pull per county): computed again when needed, not saved with
        a model."""
        state = dict(self.__dict__)
        state.pop("_group_terms_cache", None)
        state.pop("_network_cache", None)
        return state

    @property
    def kept_group_terms(self) -> int:
        """How many worker homes' tables of proxy static terms the generator keeps (0
        before the first proxy scores)."""
        return 0 if self._group_terms_cache is None else len(self._group_terms_cache[-1])

    def eligible(self, cat: CandidateCatalogue, w: int) -> np.ndarray:
        """Open vacancies (a boolean mask over ``cat.open_pos``) that worker position
        ``w`` may take and has not pursued yet: the exhaustive reference every
        candidate set is measured against."""
        mask = cat.eligibility.mask_for_worker(cat.workers.iloc[w], at=cat.at)
        # a vacancy the worker already applied to (or holds) is not news to them
        mask[cat.pursued.indices[cat.pursued.indptr[w] : cat.pursued.indptr[w + 1]]] = False
        return mask

    def eligible_many(self, cat: CandidateCatalogue, block: np.ndarray) -> np.ndarray:
        """:meth:`eligible` of each worker position in ``block`` (the same masks, the
        workers' rule inputs encoded once): ``(len(block), n_open)``, bool."""
        block = np.asarray(block, dtype=np.int64)
        masks = cat.eligibility.masks_for_workers(cat.workers, at=cat.at, positions=block)
        pursued = cat.pursued
        for r, w in enumerate(block.tolist()):
            masks[r, pursued.indices[pursued.indptr[w] : pursued.indptr[w + 1]]] = False
        return masks

    def for_workers(self, cat: CandidateCatalogue, block: np.ndarray) -> list[np.ndarray]:
        """The candidate open columns of each worker position in ``block``.

        The full model scores the network pull and the ranker proxy of
        :data:`PAIR_BLOCK_WORKERS` workers' eligible pairs at once: each worker gets the
        candidates he gets alone over the block's channel products (the same numbers,
        element by element), whichever workers share his block."""
        masks = (
            [self.eligible(cat, int(block[0]))]
            if len(block) == 1
            else self.eligible_many(cat, block)
        )
        if len(block) == 1 and masks[0].sum() < NARROW_SHARE * len(cat.open_pos):
            # one worker who may take few of the open vacancies: score only those
            # (a request's mat-vecs read the whole vacancy matrices otherwise)
            return [self.of_eligible(cat, int(block[0]), np.flatnonzero(masks[0]))]
        lfm, dense, lex = self.channel_scores(cat, block)
        if self.stages == "full" and len(block) > 1:
            assert isinstance(masks, np.ndarray)  # eligible_many's, for a block
            block = np.asarray(block, dtype=np.int64)
            step = PAIR_BLOCK_WORKERS
            return [
                c
                for s in range(0, len(block), step)
                for c in self._block_candidates(
                    cat,
                    block[s : s + step],
                    masks[s : s + step],
                    lfm[s : s + step],
                    dense[s : s + step],
                    lex[s : s + step],
                )
            ]
        out = []
        for r, w in enumerate(block):
            # the network pull and the ranker proxy of the eligible vacancies only: the
            # union reads no other (the same numbers, element by element)
            cols = np.flatnonzero(masks[r])
            network = self.network_scores(cat, int(w), cols)
            channels = WorkerChannels(lfm[r][cols], dense[r][cols], lex[r][cols], network)
            proxy = self.proxy_scores(cat, int(w), cols, channels)
            every = np.ones(len(cols), dtype=bool)
            out.append(
                cols[self.union(*channels[:3], every, network, cat.open_popularity[cols], proxy)]
            )
        return out

    def _block_candidates(
        self,
        cat: CandidateCatalogue,
        block: np.ndarray,
        masks: np.ndarray,
        lfm: np.ndarray,
        dense: np.ndarray,
        lex: np.ndarray,
    ) -> list[np.ndarray]:
        """:meth:`for_workers` of a block of workers (the full model), with the network
        pull and the ranker proxy computed for every eligible (worker, vacancy) pair of
        the block at once instead of worker by worker: the same element-wise operations
        on the same inputs in the same order, so each pair gets the numbers the worker
        alone would get (only the per-call overhead goes), and each worker's union is
        chosen from them as :meth:`union` chooses it."""
        # each pair's place in the block's (workers x open) products, row-major: each
        # worker's columns, ascending (np.nonzero's pairs, found in a quarter of its time)
        flat = np.flatnonzero(masks)
        rows = flat // masks.shape[1]
        cols = flat - rows * masks.shape[1]
        bounds = np.searchsorted(rows, np.arange(len(block) + 1))
        channels = WorkerChannels(
            np.asarray(lfm).reshape(-1)[flat],
            np.asarray(dense).reshape(-1)[flat],
            np.asarray(lex).reshape(-1)[flat],
            self._block_network(cat, block, bounds, cols),
        )
        proxy = self._block_proxy(cat, block, rows, cols, bounds, channels)
        popularity = cat.open_popularity[cols]
        out = []
        for r in range(len(block)):
            lo, hi = int(bounds[r]), int(bounds[r + 1])
            at = slice(lo, hi)
            chosen = self.union(
                channels.lfm[at],
                channels.dense[at],
                channels.lex[at],
                np.ones(hi - lo, dtype=bool),
                channels.network[at],
                popularity[at],
                None if proxy is None else proxy[at],
            )
            out.append(cols[at][chosen])
        return out

    def _block_network(
        self, cat: CandidateCatalogue, block: np.ndarray, bounds: np.ndarray, cols: np.ndarray
    ) -> np.ndarray:
        """:meth:`network_scores` of the block's pairs (worker ``block[r]`` against the
        open columns ``cols[bounds[r]:bounds[r + 1]]``): each home county's pull of every
        open vacancy (:meth:`county_network`, kept), gathered per worker (the same sums)."""
        county = cat.wp.county[block]
        parts = []
        for i, c in enumerate(county.tolist()):
            at = cols[int(bounds[i]) : int(bounds[i + 1])]
            if isinstance(c, str):
                parts.append(self.county_network(cat, c)[at])
            else:  # a worker without a home county code is looked up alone
                parts.append(self.network_scores(cat, int(block[i]), at))
        return np.concatenate(parts) if parts else np.zeros(0)

    def county_network(self, cat: CandidateCatalogue, county: str) -> np.ndarray:
        """:meth:`network_scores` of every open vacancy for the workers of a home
        county (the pull reads the worker only through it), kept for the generator's
        life per county (as many as :data:`NETWORK_CACHE_BYTES` holds, the oldest
        dropped first) and forgotten when the open vacancies or the statistics change.
        Read-only: a view of the kept numbers."""
        key = (self.stats, cat.open_tie_col, cat.open_province_col, cat.open_prefecture_col)
        cache = self._network_cache
        if cache is None or any(a is not b for a, b in zip(cache[0], key, strict=True)):
            cache = (key, {})
            self._network_cache = cache
        kept = cache[1]
        hit = kept.get(county)
        if hit is None:
            per_employer, per_province, per_prefecture = self._pull_rows(
                np.array([county], dtype=object)
            )
            hit = (
                per_employer[cat.open_tie_col]
                + per_province[cat.open_province_col]
                + per_prefecture[cat.open_prefecture_col]
            )
            hit.flags.writeable = False
            if len(kept) >= max(1, NETWORK_CACHE_BYTES // max(1, hit.nbytes)):
                kept.pop(next(iter(kept)))
            kept[county] = hit
        return hit

    def _block_proxy(
        self,
        cat: CandidateCatalogue,
        block: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        bounds: np.ndarray,
        channels: WorkerChannels,
    ) -> np.ndarray | None:
        """:meth:`proxy_scores` of the pairs ``(block[rows], cols)``: the grouped sum of
        :meth:`_proxy_by_group` for every pair of the block at once (each worker's
        group terms and wage terms gathered per pair, the channel terms element-wise),
        and worker by worker where the grouped sum does not apply."""
        proxy = cat.proxy
        if proxy is None or self.proxy_candidates <= 0:
            return None
        wp, vp = cat.wp, cat.vp
        pos = cat.open_pos[cols]
        arrays = _grouping_arrays(proxy, vp)
        grouped = np.array(
            [arrays is not None and _groupable_worker(wp, w) for w in block.tolist()],
            dtype=bool,
        )
        out = np.empty(len(cols))
        if arrays is not None and grouped.any():
            group_of, first = vacancy_groups(arrays)
            wages, wage_of = distinct_rows(vp.offered_wage)
            n_groups, n_wages = len(first), len(wages)
            static = np.zeros((len(block), n_groups))
            level = np.zeros((len(block), n_groups), dtype=np.int8)
            for r in np.flatnonzero(grouped).tolist():
                static[r], level[r] = self._group_terms(cat, proxy, int(block[r]), first)
            expected = np.asarray(wp.expected_wage[block], dtype=float)
            wage = proxy.wage_terms(_log_wage_ratio(wages[None, :], expected[:, None]))
            # every worker grouped (the rule): the pairs as they are, without a copy
            take = slice(None) if grouped.all() else grouped[rows]
            at = pos[take]
            rt = rows[take]
            cell = rt * n_groups  # each pair's (worker, group) entry, computed once
            cell += group_of[at]
            part = static.ravel()[cell]
            part += wage.ravel()[rt * n_wages + wage_of[at]]
            part += proxy.channel_score_terms(
                WorkerChannels(*(np.asarray(c)[take] for c in channels)),
                level.ravel()[cell],
            )
            part += proxy.vterm[at]
            out[take] = part
        for r in np.flatnonzero(~grouped).tolist():
            at = slice(int(bounds[r]), int(bounds[r + 1]))
            w = int(block[r])
            f = self.proxy_features(cat, w, cols[at], WorkerChannels(*(c[at] for c in channels)))
            out[at] = proxy.pair_terms(f, pos[at]) + proxy.vterm[pos[at]]
        return out

    def exhaustive_top(
        self, cat: CandidateCatalogue, scorer: PairScorer, w: int, k: int = 10
    ) -> np.ndarray:
        """The open columns of worker ``w``'s exhaustive top ``k``: ``scorer``'s ``k``
        best of every eligible open vacancy the worker has not pursued (ties as the
        ranking breaks them), best first -- the reference of the recall contract."""
        from matcher.models.features import RANKER_COLUMNS
        from matcher.models.ranking import top_k_per_group

        eligible = np.flatnonzero(self.eligible(cat, int(w)))
        vi = cat.open_pos[eligible]
        wi = np.full(len(vi), w, dtype=np.int64)
        values, _ = scorer.pair_values(cat, wi, vi)
        score = scorer.score(
            pd.DataFrame(values[:, : len(RANKER_COLUMNS)], columns=RANKER_COLUMNS, copy=False)
        )
        keep, _ = top_k_per_group(values, score, wi, vi, k)
        return eligible[keep]

    def recall(
        self, cat: CandidateCatalogue, scorer: PairScorer, workers: np.ndarray, k: int = 10
    ) -> np.ndarray:
        """The recall contract, measured: for each worker position in ``workers``, the
        share of its :meth:`exhaustive_top` ``k`` that :meth:`for_workers` hands to the
        ranker. NaN for a worker with nothing eligible.

        Returns
        -------
        numpy.ndarray of float, one per worker
        """
        out = np.full(len(workers), np.nan)
        for j, w in enumerate(np.asarray(workers, dtype=np.int64)):
            best = self.exhaustive_top(cat, scorer, int(w), k)
            if len(best):
                out[j] = np.isin(best, self.for_workers(cat, np.array([w]))[0]).mean()
        return out

    def among(self, cat: CandidateCatalogue, w: int, cols: np.ndarray) -> np.ndarray:
        """Candidate open columns of worker ``w`` among the open columns ``cols``
        (sorted, distinct): eligible, not yet pursued, and each channel's best."""
        if len(cols) == 0:
            return np.zeros(0, dtype=np.int64)
        ok = cat.eligibility.pair_mask(np.full(len(cols), w, dtype=np.int64), cols, at=cat.at)
        pursued = cat.pursued.indices[cat.pursued.indptr[w] : cat.pursued.indptr[w + 1]]
        if len(pursued):
            ok &= ~np.isin(cols, pursued)
        return self.of_eligible(cat, w, cols[ok].astype(np.int64))

    def of_eligible(self, cat: CandidateCatalogue, w: int, eligible: np.ndarray) -> np.ndarray:
        """Each channel's best among worker ``w``'s eligible open columns ``eligible``
        (sorted), scored on those columns only."""
        if len(eligible) <= self.n_candidates:
            return eligible  # every channel takes them all: no scores needed to choose
        lfm, dense, lex = self.channel_scores(cat, np.array([w]), eligible)
        network = self.network_scores(cat, w, eligible)
        proxy = self.proxy_scores(
            cat, w, eligible, WorkerChannels(lfm[0], dense[0], lex[0], network)
        )
        return eligible[
            self.union(
                lfm[0],
                dense[0],
                lex[0],
                np.ones(len(eligible), dtype=bool),
                network,
                cat.open_popularity[eligible],
                proxy,
            )
        ]

    def proxy_features(
        self, cat: CandidateCatalogue, w: int, cols: np.ndarray | None, scores: WorkerChannels
    ) -> np.ndarray:
        """:data:`PROXY_FEATURES` of worker ``w`` against the open vacancies at ``cols``
        (all open ones when None), from their channel scores: ``(n, len(PROXY_FEATURES))``."""
        pos = cat.open_pos if cols is None else cat.open_pos[cols]
        # column-major: RankerProxy.pair_terms reads it column by column
        out = np.empty((len(PROXY_FEATURES), len(pos))).T
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = scores
        place_features(cat, w, pos, out)
        out[:, 9] = _log_wage_ratio(cat.vp.offered_wage[pos], cat.wp.expected_wage[w])
        return out

    def proxy_scores(
        self, cat: CandidateCatalogue, w: int, cols: np.ndarray | None, scores: WorkerChannels
    ) -> np.ndarray | None:
        """The ranker proxy's score (:class:`RankerProxy`) of worker ``w`` against the
        open vacancies at ``cols`` (all when None); None when the catalogue has no
        proxy, for the ablations, or when the proxy would add nothing."""
        proxy = cat.proxy
        if proxy is None or self.stages != "full" or self.proxy_candidates <= 0:
            return None
        pos = cat.open_pos if cols is None else cat.open_pos[cols]
        grouped = self._proxy_by_group(cat, proxy, w, pos, scores)
        if grouped is not None:
            return grouped
        f = self.proxy_features(cat, w, cols, scores)
        return proxy.pair_terms(f, pos) + proxy.vterm[pos]

    def _proxy_by_group(
        self,
        cat: CandidateCatalogue,
        proxy: RankerProxy,
        w: int,
        pos: np.ndarray,
        scores: WorkerChannels,
    ) -> np.ndarray | None:
        """:meth:`proxy_scores` with the terms that depend on the vacancy's occupation,
        place and kind of post computed once per group of such vacancies
        (:func:`vacancy_groups`) and those of the wage once per distinct wage, then
        gathered: the same sum regrouped (equal up to rounding; within a row, the same
        numbers whichever rows are asked). None where it does not apply (a proxy
        without the expanded basis, a worker without a county or prefecture code)."""
        wp, vp = cat.wp, cat.vp
        arrays = _grouping_arrays(proxy, vp)
        if arrays is None or not _groupable_worker(wp, w):
            return None
        group_of, first = vacancy_groups(arrays)
        static, level = self._group_terms(cat, proxy, w, first)
        wages, wage_of = distinct_rows(vp.offered_wage)
        wage = proxy.wage_terms(_log_wage_ratio(wages, wp.expected_wage[w]))
        group = group_of[pos]
        out = static[group]
        out += wage[wage_of[pos]]
        out += proxy.channel_score_terms(scores, level[group])
        out += proxy.vterm[pos]
        return out

    def _group_terms(
        self, cat: CandidateCatalogue, proxy: RankerProxy, w: int, first: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The proxy's static terms (:meth:`RankerProxy.static_terms`) and the occupation
        level of worker ``w`` against each vacancy group (first positions ``first``,
        :func:`vacancy_groups`).

        A group's static terms read it only through the occupation level (0 to 4), its
        place (point, county, prefecture, province: a few hundred at most) and its kind
        of post: the worker's home (point, county, prefecture, province) gives a table
        over place x kind x level (:class:`_HomeTerms`), computed once per home and kept
        for the generator's life (as many homes as :data:`GROUP_TERMS_CACHE_BYTES`
        holds, the oldest dropped first), and each group reads its entry at the level
        of the worker's occupation keys. The table's entries are the numbers the terms
        of the group's first vacancy give (the same element-wise operations on the same
        inputs), so the result is the same bytes as computing them group by group;
        forgotten when the groups or the proxy change."""
        wp = cat.wp
        cache = self._group_terms_cache
        if cache is None or cache[0] is not first or cache[1] is not proxy:
            cache = (first, proxy, _GroupLayout.of(cat, proxy, first), {})
            self._group_terms_cache = cache
        layout, homes = cache[2], cache[3]
        key = (
            np.asarray(wp.coords[w]).tobytes(),
            wp.county[w],
            wp.prefecture[w],
            wp.province[w],
        )
        table = homes.get(key)
        if table is None:
            table = layout.home_table(cat, proxy, w)
            if len(homes) >= max(1, GROUP_TERMS_CACHE_BYTES // max(1, table.nbytes)):
                homes.pop(next(iter(homes)))
            homes[key] = table
        level = occupation_levels_of_one(wp.code_keys[w], layout.codes)[layout.code_of]
        return table[layout.cell + level], level

    def for_vacancy(self, cat: CandidateCatalogue, v: int) -> np.ndarray:
        """Candidate worker positions for catalogue vacancy position ``v`` (none when
        the vacancy is not open)."""
        mask = cat.eligibility.mask_for_vacancy(cat.vacancies.iloc[v], None, at=cat.at)
        if not np.isin(v, cat.open_pos):
            mask = np.zeros_like(mask)
        lfm = cat.w_lfm @ cat.v_lfm[v]
        dense = cat.worker_text.dense_scores(cat.v_dense[v : v + 1])[0]
        lex = cat.worker_text.lexical_scores(cat.v_lex[v : v + 1])[0]
        return self.union(lfm, dense, lex, mask).astype(np.int64)

    def channel_scores(
        self, cat: CandidateCatalogue, wpos: np.ndarray, cols: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LightFM, dense and lexical scores of workers against every open vacancy
        (or only the open vacancies at positions ``cols``)."""
        if cols is None:
            lfm = cat.w_lfm[wpos] @ cat.open_lfm.T
        else:
            lfm = cat.w_lfm[wpos] @ cat.open_lfm[cols].T
        dense = cat.open_text.dense_scores(cat.w_dense[wpos], rows=cols)
        lex = cat.open_text.lexical_scores(cat.w_lex[wpos])
        return lfm, dense, (lex if cols is None else lex[:, cols])

    def network_scores(
        self, cat: CandidateCatalogue, w: int, cols: np.ndarray | None = None
    ) -> np.ndarray:
        """Referral and network pull of every open vacancy (or of those at ``cols``)
        for one worker: vacancies of employers people from the worker's county saw and
        applied to, in provinces and prefectures they applied to (training events)."""
        per_employer, per_province, per_prefecture = self._pull_rows(cat.wp.county[w : w + 1])
        at = slice(None) if cols is None else cols
        return (
            per_employer[cat.open_tie_col[at]]
            + per_province[cat.open_province_col[at]]
            + per_prefecture[cat.open_prefecture_col[at]]
        )

    def _pull_rows(self, county: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The network pull of a home county (``county``: one code in an object array)
        per employer tie column, per province and per prefecture of the statistics'
        tables (:meth:`network_scores` adds the three at each vacancy's columns)."""
        stats = self.stats
        ties = stats.ties_
        r = int(ties["views"].row_pos(county)[0])
        per_employer = np.log1p(ties["views"].matrix_[r]) + np.log1p(ties["applied"].matrix_[r])
        pr = int(stats.province_applied_.row_pos(county)[0])
        per_province = 0.5 * np.log1p(stats.province_applied_.matrix_[pr])
        fr = int(stats.prefecture_applied_.row_pos(county)[0])
        per_prefecture = 0.5 * np.log1p(stats.prefecture_applied_.matrix_[fr])
        return per_employer, per_province, per_prefecture

    def union(
        self,
        lfm: np.ndarray,
        dense: np.ndarray,
        lex: np.ndarray,
        mask: np.ndarray,
        network: np.ndarray | None = None,
        popularity: np.ndarray | None = None,
        proxy: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sorted positions: the union of each channel's ``n_candidates`` best among
        the positions ``mask`` allows (one channel's for the ablations), and the
        ``proxy_candidates`` best by the ranker proxy's score ``proxy``."""
        if self.stages == "lightfm":
            return top_n(lfm, mask, self.n_candidates)
        if self.stages == "content":
            return top_n((dense + lex) / 2, mask, self.n_candidates)
        n = self.n_candidates
        eligible = np.flatnonzero(mask)
        if len(eligible) <= n:
            return eligible.astype(np.int64)
        # every position allowed (the block path passes the eligible pairs only): the
        # scores as they are, without gathering them through ``eligible`` (its identity)
        every = len(eligible) == len(mask)

        def of(c: np.ndarray) -> np.ndarray:
            return c if every else c[eligible]

        def at(where: np.ndarray) -> np.ndarray:
            return where if every else eligible[where]

        parts = [at(best_positions(of(c), n)) for c in (lfm, dense, lex)]
        # the network and popularity pulls are counts: a vacancy without any (most
        # new vacancies) has no signal there, and ties at zero would add arbitrary ones
        for c in (network, popularity):
            if c is None:
                continue
            pulled = at(np.flatnonzero(of(c) > 0))
            if len(pulled) > n:
                pulled = pulled[best_positions(c[pulled], n)]
            parts.append(pulled)
        m = self.proxy_candidates
        if proxy is not None and m > 0:
            if len(eligible) <= m and self.proxy_margin is None:
                return eligible.astype(np.int64)
            parts.append(self._proxy_best(proxy, eligible, m))
        # the sorted distinct positions, by marking them (np.unique sorts the parts)
        chosen = np.zeros(len(mask), dtype=bool)
        for part in parts:
            chosen[part] = True
        return np.flatnonzero(chosen).astype(np.int64)

    def _proxy_best(self, proxy: np.ndarray, eligible: np.ndarray, m: int) -> np.ndarray:
        """The proxy's ``m`` best of the positions ``eligible`` (sorted, distinct; more
        than ``m``, or any number with a margin), cut to ``proxy_margin`` of the best
        score (at least :data:`PROXY_MARGIN_FLOOR`) when there is a margin."""
        if len(eligible) > m:
            # every position (the block path's): no gather through the identity
            every = len(eligible) == len(proxy)
            eligible = eligible[best_positions(proxy if every else proxy[eligible], m)]
        if self.proxy_margin is None or len(eligible) <= PROXY_MARGIN_FLOOR:
            return eligible
        score = proxy[eligible]
        floor = np.partition(score, len(score) - PROXY_MARGIN_FLOOR)[-PROXY_MARGIN_FLOOR]
        cut = min(float(score.max()) - float(self.proxy_margin), float(floor))
        return eligible[score >= cut]


def fit_ranker_proxy(
    cat: CandidateCatalogue,
    scorer: PairScorer,
    generator: CandidateGenerator,
    n_workers: int = PROXY_FIT_WORKERS,
    random_state: int = 0,
    expanded: bool = True,
    reference_workers: int = PROXY_REFERENCE_WORKERS,
    channel_terms: bool = True,
    target_floor: float | None = TARGET_FLOOR,
) -> RankerProxy | None:
    """Fit the catalogue's :class:`RankerProxy`: the exact log scores of ``n_workers``
    sampled workers' pairs, regressed (within worker, weighted to the top of each
    worker's list, see :data:`TOP_SPAN`) on :func:`proxy_basis` of
    :data:`PROXY_FEATURES` (the plain features when not ``expanded``, the proxy before
    the basis) and the ranker's vacancy-only features. The pairs: each worker's channel
    candidates and ``PROXY_FIT_RANDOM`` random eligible vacancies, then (``expanded``)
    the ``PROXY_FIT_TOP`` best of all its eligible vacancies by that first fit, and the
    fit again. Then (``expanded``, ``reference_workers`` > 0) each open vacancy's
    residual is added to its ``vterm``: the mean over the ``reference_workers`` sampled
    workers with the most eligible vacancies (those that may take it), each scored
    exactly against all of them, of the exact log score minus the proxy's (less the
    worker's median residual). It carries what the ranker makes of a vacancy's own
    features beyond a linear term; at 100,000 open vacancies it costs about
    ``reference_workers`` exhaustive rankings per catalogue build. None when no worker
    has more eligible vacancies than the channels already take (the candidates are
    then exhaustive anyway). With ``channel_terms`` (and ``expanded``) the
    regressors also hold :data:`CHANNEL_BASIS_COLUMNS` times each vacancy channel's
    one-hot (:attr:`RankerProxy.channel_beta`). ``target_floor``: see
    :data:`TARGET_FLOOR` (None: no floor)."""
    from matcher.models.features import CHANNELS, PAIR_COLUMNS, VACANCY_ONLY_COLUMNS

    rng = np.random.default_rng(random_state)
    n_w = len(cat.wp.ids)
    if n_w == 0 or len(cat.open_pos) <= generator.n_candidates:
        return None
    vac_cols = np.array([PAIR_COLUMNS.index(c) for c in VACANCY_ONLY_COLUMNS], dtype=np.int64)
    n_vac = len(cat.vp.ids)
    values, _ = scorer.pair_values(cat, np.zeros(n_vac, np.int64), np.arange(n_vac))
    vacancy = np.nan_to_num(values[:, vac_cols], nan=0.0)  # vacancy-only: any worker's
    plain = CandidateGenerator(generator.stages, generator.n_candidates, generator.stats, 0)
    basis = proxy_basis if expanded else np.asarray

    def exact_log_score(w: int, cols: np.ndarray) -> np.ndarray:
        return _exact_log_score(cat, scorer, w, cols)

    samples: list[_ProxySample] = []
    for w in np.sort(rng.choice(n_w, min(n_workers, n_w), replace=False)).tolist():
        eligible = np.flatnonzero(plain.eligible(cat, w))
        if len(eligible) <= generator.n_candidates:
            continue
        lfm, dense, lex = plain.channel_scores(cat, np.array([w]), eligible)
        network = plain.network_scores(cat, w, eligible)
        union = plain.union(
            lfm[0],
            dense[0],
            lex[0],
            np.ones(len(eligible), bool),
            network,
            cat.open_popularity[eligible],
        )
        drawn = rng.choice(len(eligible), min(PROXY_FIT_RANDOM, len(eligible)), replace=False)
        rows = np.unique(np.concatenate([union, drawn]))
        channels = WorkerChannels(lfm[0], dense[0], lex[0], network)
        feats = plain.proxy_features(cat, w, eligible, channels)
        smp = _ProxySample(w, eligible, feats, rows, exact_log_score(w, eligible[rows]))
        samples.append(smp)
    if not samples:
        return None

    n_basis = basis(samples[0].features[:1]).shape[1]
    n_vacancy = len(vac_cols)
    chan_cols: np.ndarray | None = None
    vchannel: np.ndarray | None = None
    if expanded and channel_terms:
        chan_cols = np.array([PAIR_COLUMNS.index(f"channel_{c}") for c in CHANNELS], np.int64)
        vchannel = np.nan_to_num(values[:, chan_cols], nan=0.0).astype(np.float32)

    def regressors(smp: _ProxySample, rows: np.ndarray) -> np.ndarray:
        b = basis(smp.features[rows])
        pos = cat.open_pos[smp.eligible[rows]]
        parts = [b, vacancy[pos]]
        if vchannel is not None:
            per_channel = b[:, CHANNEL_BASIS_COLUMNS, None] * vchannel[pos][:, None, :]
            parts.append(per_channel.reshape(len(rows), -1))
        return np.hstack(parts)

    def proxy_of(beta: np.ndarray) -> RankerProxy:
        vacancy_beta = beta[n_basis : n_basis + n_vacancy]
        return RankerProxy(
            pair_beta=beta[:n_basis],
            vacancy_columns=vac_cols,
            vacancy_beta=vacancy_beta,
            vterm=vacancy @ vacancy_beta,
            expanded=expanded,
            channel_columns=chan_cols,
            vchannel=vchannel,
            channel_beta=(
                None
                if vchannel is None
                else beta[n_basis + n_vacancy :].reshape(len(CHANNEL_BASIS_COLUMNS), -1)
            ),
        )

    proxy = proxy_of(_within_worker_fit(samples, regressors, expanded, target_floor))
    if expanded and PROXY_FIT_TOP > 0:
        for smp in samples:
            pos = cat.open_pos[smp.eligible]
            guess = proxy.pair_terms(smp.features, pos) + proxy.vterm[pos]
            top = np.argpartition(-guess, min(PROXY_FIT_TOP, len(guess)) - 1)[:PROXY_FIT_TOP]
            new = np.setdiff1d(top, smp.rows)
            smp.rows = np.concatenate([smp.rows, new])
            smp.y = np.concatenate([smp.y, exact_log_score(smp.worker, smp.eligible[new])])
        proxy = proxy_of(_within_worker_fit(samples, regressors, True, target_floor))
    if expanded and reference_workers > 0:
        _add_residual_terms(proxy, cat, samples, reference_workers, exact_log_score)
    return proxy


def _add_residual_terms(
    proxy: RankerProxy,
    cat: CandidateCatalogue,
    samples: list[_ProxySample],
    n_reference: int,
    exact_log_score: Callable[[int, np.ndarray], np.ndarray],
) -> None:
    """Add to ``proxy.vterm`` each open vacancy's residual: the mean, over the
    ``n_reference`` sampled workers with the most eligible vacancies that may take it,
    of its exact log score minus the proxy's, each worker's residuals less their
    median (a worker's own level does not order his list)."""
    linear = proxy.vterm
    ref = sorted(samples, key=lambda smp: (-len(smp.eligible), smp.worker))[:n_reference]
    total, count = np.zeros(len(linear)), np.zeros(len(linear))
    shifts = []
    for smp in ref:
        pos = cat.open_pos[smp.eligible]
        guess = proxy.pair_terms(smp.features, pos) + linear[pos]
        r = exact_log_score(smp.worker, smp.eligible) - guess
        shift = float(np.median(r))
        total[pos] += r - shift
        count[pos] += 1
        shifts.append(shift)
    proxy.vterm = linear + np.where(count > 0, total / np.maximum(count, 1), 0.0)
    proxy.reference_workers = np.array([smp.worker for smp in ref], dtype=np.int64)
    proxy.reference_shift = np.array(shifts)


@dataclass
class _ProxySample:
    """One sampled worker of the proxy's fit: its eligible open columns and their
    :data:`PROXY_FEATURES`, the rows of those scored exactly so far and their exact log
    scores."""

    worker: int
    eligible: np.ndarray
    features: np.ndarray
    rows: np.ndarray
    y: np.ndarray


def _within_worker_fit(
    samples: list[_ProxySample],
    regressors: Callable[[_ProxySample, np.ndarray], np.ndarray],
    weighted: bool,
    floor: float | None = None,
) -> np.ndarray:
    """Least squares of the samples' exact log scores on their ``regressors`` within
    worker (a worker's constant does not change his order: the deviations from his
    means are fitted), weighted (:data:`TOP_SPAN`) or not, each worker's scores floored
    at his 10th best less ``floor`` (:data:`TARGET_FLOOR`; None: not floored); zero for
    a constant column."""
    xs, ys, ws = [], [], []
    for smp in samples:
        x, y = regressors(smp, smp.rows), smp.y
        tenth = np.sort(y)[-min(10, len(y))]
        if floor is not None:
            y = np.maximum(y, tenth - floor)
        xs.append(x - x.mean(axis=0))
        ys.append(y - y.mean())
        ws.append(np.exp(np.clip(y - tenth, -TOP_SPAN, 0.0)) if weighted else np.ones(len(y)))
    xd, yd = np.vstack(xs), np.concatenate(ys)
    root = np.sqrt(np.concatenate(ws))
    sd = xd.std(axis=0)
    used = sd > 1e-9
    beta = np.zeros(xd.shape[1])
    if used.any():
        z = xd[:, used] / sd[used] * root[:, None]
        beta[used] = np.linalg.lstsq(z, yd * root, rcond=None)[0] / sd[used]
    return beta
