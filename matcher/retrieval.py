"""Candidate retrieval: a LightFM hybrid model and nearest neighbours on text.

LightFM hybrid (Kula 2015)
--------------------------
Each worker ``u`` and vacancy ``i`` is described by a set of features
(:mod:`matcher.features`: attribute tokens plus an identity token for rows seen in
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

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.schema import Columns, EventType

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

    def __len__(self) -> int:
        return self.dense.shape[0]

    def dense_scores(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(Projected) cosine similarity of each query row to every indexed row (or to
        the indexed rows at positions ``rows``): ``(n_q, n)``."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if self.basis is not None:
            q = q @ self.basis
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
        return np.asarray((q @ self.lexical_t).toarray(), dtype=np.float32)


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
    part = np.argpartition(-s, n - 1)[:n] if len(eligible) > n else np.arange(len(eligible))
    order = np.lexsort((eligible[part], -s[part]))
    return eligible[part][order].astype(np.int64)
