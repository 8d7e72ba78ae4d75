"""Learned ranking: a calibrated probability of a stable placement for each pair.

Why a continuation-ratio model
------------------------------
Outcomes are ordered stages a pair passes through: shown -> applied -> hired ->
still there three months later (retained). We model the chain of conditional
probabilities (the *continuation-ratio* or *sequential* ordinal model; Agresti,
*Categorical Data Analysis*, 3rd ed., sec. 8.3),

    P(stable | x) = P(apply | x) * P(hire | applied, x) * P(stay | hired, x),

with one gradient-boosting classifier per stage (``HistGradientBoostingClassifier``),
each trained only on the pairs that reached its stage:

* apply: every training pair; positives applied / interviewed / rejected /
  declined / hired / left / retained (eligible pairs on vacancies open at the
  holdout cutoff, first pursued after it), negatives eligible open vacancies
  drawn uniformly that the worker did not apply to (a pair only *viewed* is not
  a negative of its own: shown-not-applied pairs are where exposure already
  happened, and measured worse as negatives);
* hire: pairs that applied; positives hired (also hired-then-left or retained),
  negatives rejected or declined or no answer;
* stay: pairs that were hired and whose fate is known; positives retained_3m /
  retained_6m, negatives left. Hires with neither outcome yet are *censored*
  (too recent to know) and left out rather than counted as failures.

Compared with one classifier with graded sample weights, each stage uses all the
data that informs it (there are far more applications than retentions), the
graded labels keep their order without inventing a numeric scale, and the
product is a probability of the event the issue asks for, so it can be
calibrated stage by stage: each stage is wrapped in ``CalibratedClassifierCV``
(isotonic when the smaller class has at least ``ISOTONIC_MIN`` rows, Platt's
sigmoid otherwise; ``ensemble=False``: cross-validated predictions fit the
calibrator, one booster refit on all rows predicts — a third of the cost of an
ensemble at request time). A stage with too few rows of either class falls back
to its Laplace-smoothed base rate ``(positives + 1) / (rows + 2)``.

Gradient boosting: Friedman 2001, *Greedy function approximation*; histogram
binning as in LightGBM (Ke et al. 2017). Calibration: Zadrozny & Elkan 2002
(isotonic), Platt 1999 (sigmoid).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matcher.features import RANKER_COLUMNS

STAGES = ("apply", "hire", "stay")
#: Minority-class rows needed for isotonic calibration (Platt's sigmoid below).
ISOTONIC_MIN = 200
#: Rows of each class needed to learn a stage at all.
MIN_CLASS_ROWS = 10
#: Stand-in for a missing value (unknown wage, age...): below every real feature value,
#: so trees still split "missing" apart, and a column that is missing throughout a
#: cross-validation fold cannot break histogram binning.
MISSING = -1e6
#: :meth:`StablePlacementRanker.predict_top` scores this many times ``k`` pairs per
#: group in its first round (a larger first round sets a higher bar for the second).
FIRST_ROUND = 4
#: Up to this many rows the trees are summed on one thread (a request's few hundred
#: pairs, a service micro-batch of a few dozen requests); larger batches (nightly
#: scoring, evaluation) use sklearn's OpenMP threads.
ONE_THREAD_ROWS = 16384


#: Features whose effect is known not to be negative: more similarity, a closer
#: occupation, more placements from the same county, a preferred region. Monotone
#: constraints keep small markets from learning accidental reversals.
INCREASING = (
    "lightfm",
    "dense",
    "lexical",
    "occ_match",
    "flow_log",
    "preferred_region",
    "tie_views_log",
    "tie_applied_log",
    "tie_hired_log",
    "flow_applied_log",
    "pref_applied_log",
    "worker_seen_vacancy",
    "worker_seen_employer_log",
    "referral_share",
    "flow_share",
)


def _matrix(features: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Ranker input: a frame with :data:`RANKER_COLUMNS`, or a float array whose columns
    are :data:`RANKER_COLUMNS` in that order (the request path's
    :func:`matcher.features.pair_matrix` rows), missing values replaced by ``MISSING``."""
    if isinstance(features, np.ndarray):
        if features.ndim != 2 or features.shape[1] != len(RANKER_COLUMNS):
            raise ValueError(
                f"ranker input array has shape {features.shape}; expected (n, "
                f"{len(RANKER_COLUMNS)}) with columns RANKER_COLUMNS in order"
            )
        x = features.astype(float, copy=False)
    else:
        x = features[RANKER_COLUMNS].to_numpy(dtype=float)
    return np.where(np.isfinite(x), x, MISSING)


def _decision(booster, x: np.ndarray) -> np.ndarray:
    """``booster.decision_function(x)`` of a fitted binary
    ``HistGradientBoostingClassifier``, the same numbers (baseline, then each tree
    added in order), on ONE thread: sklearn opens an OpenMP parallel region per
    tree, and for the few hundred rows of a request that costs more than the tree
    walk (and, with the cores busy, a region can wait for a descheduled thread)."""
    predictors = getattr(booster, "_predictors", None)
    if (
        len(x) > ONE_THREAD_ROWS  # a batch: threads pay for themselves
        or predictors is None
        or booster.n_trees_per_iteration_ != 1
        or x.shape[1] != booster.n_features_in_
    ):
        return booster.decision_function(x)
    known, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    raw = np.zeros(len(x))
    raw += booster._baseline_prediction[0, 0]
    for (tree,) in predictors:
        raw += tree.predict(x, known, f_idx_map, 1)
    return raw


def _calibrated(model, x: np.ndarray) -> np.ndarray:
    """P(class 1) of a fitted ``CalibratedClassifierCV(ensemble=False)``, computed
    directly from its one booster and calibrator: the same numbers as
    ``predict_proba`` without its per-call validation (a request scores a few
    hundred rows, where that overhead dominated)."""
    fitted = model.calibrated_classifiers_
    if len(fitted) != 1 or len(fitted[0].calibrators) != 1:
        return model.predict_proba(x)[:, 1]
    booster, calibrator = fitted[0].estimator, fitted[0].calibrators[0]
    raw = _decision(booster, x)
    return np.clip(calibrator.predict(raw), 0.0, 1.0)


class StablePlacementRanker:
    """Three calibrated boosted stages whose product is P(stable placement).

    Parameters
    ----------
    max_iter : int, default 100
        Boosting rounds per stage.
    learning_rate : float, default 0.1
    max_leaf_nodes : int, default 15
    min_samples_leaf : int, default 20
        Capped at a quarter of the rarer class, so small markets still split.
    l2_regularization : float, default 0.0
    cv : int, default 3
        Folds for calibration.
    random_state : int, default 0

    Attributes
    ----------
    stages_ : dict[str, object]
        Fitted calibrated classifier, or a float base rate, per stage.
    stage_counts_ : dict[str, dict[str, int]]
        Rows, positives per stage (for the model card).
    """

    def __init__(
        self,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        cv: int = 3,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.cv = cv
        self.random_state = random_state

    def _stage_model(self, y: np.ndarray):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier

        minority = int(min(y.sum(), len(y) - y.sum()))
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            # small markets: leaves no larger than a quarter of the rarer class
            min_samples_leaf=max(2, min(self.min_samples_leaf, minority // 4)),
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            monotonic_cst=[1 if c in INCREASING else 0 for c in RANKER_COLUMNS],
            random_state=self.random_state,
        )
        return CalibratedClassifierCV(
            booster,
            method="isotonic" if minority >= ISOTONIC_MIN else "sigmoid",
            cv=min(self.cv, minority),
            ensemble=False,
        )

    def fit(self, features: pd.DataFrame, labels: pd.DataFrame) -> StablePlacementRanker:
        """Fit the three stages.

        Parameters
        ----------
        features : DataFrame
            Pair features with at least :data:`matcher.features.RANKER_COLUMNS`.
        labels : DataFrame
            Same rows: ``applied`` and ``hired`` (0/1), ``retained`` (1, 0, or NaN
            when not hired or censored).

        Returns
        -------
        self
        """
        x = _matrix(features)
        applied = labels["applied"].to_numpy(dtype=float)
        hired = labels["hired"].to_numpy(dtype=float)
        retained = labels["retained"].to_numpy(dtype=float)
        rows = {
            "apply": (np.ones(len(x), bool), applied),
            "hire": (applied == 1, hired),
            "stay": ((hired == 1) & np.isfinite(retained), retained),
        }
        self.stages_: dict[str, object] = {}
        self.stage_counts_: dict[str, dict[str, int]] = {}
        for name in STAGES:
            keep, y_all = rows[name]
            y = np.nan_to_num(y_all[keep]).astype(int)
            pos = int(y.sum())
            neg = len(y) - pos
            self.stage_counts_[name] = {"rows": len(y), "positives": pos}
            if pos < MIN_CLASS_ROWS or neg < MIN_CLASS_ROWS:
                self.stages_[name] = (pos + 1.0) / (len(y) + 2.0)
                continue
            self.stages_[name] = self._stage_model(y).fit(x[keep], y)
        return self

    def predict_stages(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Conditional probabilities ``(n, 3)``: apply, hire | applied, stay | hired.
        ``features``: a frame with :data:`matcher.features.RANKER_COLUMNS`, or an array
        with those columns in that order."""
        if not hasattr(self, "stages_"):
            raise RuntimeError("StablePlacementRanker is not fitted; call fit first")
        x = _matrix(features)
        out = np.empty((len(x), len(STAGES)))
        for j, name in enumerate(STAGES):
            out[:, j] = self._predict(name, x)
        return out

    def _predict(self, name: str, x: np.ndarray) -> np.ndarray:
        model = self.stages_[name]
        if isinstance(model, float):
            return np.full(len(x), model)
        if len(x) == 0:
            return np.zeros(0)
        return _calibrated(model, x)

    def predict_proba(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated P(stable placement) of each pair, shape ``(n,)``."""
        return self.predict_stages(features).prod(axis=1)

    def predict_top(
        self, features: pd.DataFrame | np.ndarray, groups: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` for the pairs that can be among the ``k`` best of their
        group, computing the later stages only for those (a cascade).

        The first learned stage is computed for every pair. Each later stage is at
        most 1 (a calibrated probability) and a stage that could not be learned is
        its constant rate, so ``s_first * 1 * rate`` (multiplied in the order of
        :meth:`predict_proba`; rounding is monotone) bounds a pair's score from above.
        Round 1 scores the ``FIRST_ROUND * k`` pairs of each group with the highest
        bounds exactly; the ``k``-th best of those scores, ``tau``, is at most the
        ``k``-th best exact score of the group. Round 2 scores every other pair whose
        bound reaches ``tau``. A
        pair left out has ``bound < tau``, so its exact score is strictly below the
        ``k``-th best of its group: the top ``k`` (ties included) and their scores
        are those of :meth:`predict_proba`.

        Parameters
        ----------
        features : DataFrame or ndarray
            As for :meth:`predict_stages`.
        groups : ndarray of int, shape ``(n,)``
            The group of each pair (e.g. the worker): the top ``k`` is per group.
        k : int

        Returns
        -------
        score : ndarray, shape ``(n,)``
            The exact P(stable placement) where ``exact``; elsewhere the upper bound,
            strictly below the ``k``-th best exact score of the pair's group.
        exact : ndarray of bool, shape ``(n,)``
        """
        if not hasattr(self, "stages_"):
            raise RuntimeError("StablePlacementRanker is not fitted; call fit first")
        x = _matrix(features)
        n = len(x)
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} pairs")
        stages = np.empty((n, len(STAGES)))
        learned = []
        for j, name in enumerate(STAGES):
            model = self.stages_[name]
            if isinstance(model, float):
                stages[:, j] = model
            else:
                learned.append(j)
        if len(learned) <= 1 or n == 0 or k <= 0:
            for j in learned:
                stages[:, j] = self._predict(STAGES[j], x)
            return stages.prod(axis=1), np.ones(n, dtype=bool)
        first, later = learned[0], learned[1:]
        stages[:, first] = self._predict(STAGES[first], x)
        bounded = stages.copy()
        bounded[:, later] = 1.0
        bound = bounded.prod(axis=1)
        exact = np.zeros(n, dtype=bool)

        def score_rows(rows: np.ndarray) -> None:
            for j in later:
                stages[rows, j] = self._predict(STAGES[j], x[rows])
            exact[rows] = True

        _, gid = np.unique(groups, return_inverse=True)
        order = np.lexsort((-bound, gid))
        g = gid[order]
        starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        first_rows = order[rank < FIRST_ROUND * k]
        score_rows(first_rows)
        # tau: the k-th best exact score of each group's first round (a group scored
        # whole in the first round has nothing left, its tau does not matter)
        first_score = stages[first_rows].prod(axis=1)
        fg = gid[first_rows]
        by_score = np.lexsort((-first_score, fg))
        fg_sorted = fg[by_score]
        cut = np.r_[0, np.flatnonzero(fg_sorted[1:] != fg_sorted[:-1]) + 1]
        size = np.diff(np.r_[cut, len(fg_sorted)])
        tau = np.full(int(gid.max()) + 1, -np.inf)
        full = size >= k
        tau[fg_sorted[cut[full]]] = first_score[by_score][cut[full] + k - 1]
        rest = np.flatnonzero(~exact & (bound >= tau[gid]))
        if len(rest):
            score_rows(rest)
        score = bound
        score[exact] = stages[exact].prod(axis=1)
        return score, exact
