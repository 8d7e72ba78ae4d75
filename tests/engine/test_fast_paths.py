"""Request-time fast paths give sklearn's numbers exactly: the QuickScorer tree sums
equal ``decision_function`` bit for bit (inputs on, just below and just above every
split threshold, the MISSING stand-in, infinities), and the calibrators computed
without sklearn's validation equal ``predict`` / ``predict_proba``."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.isotonic import IsotonicRegression  # noqa: E402

from matcher.models.features import (  # noqa: E402
    RANKER_COLUMNS,
    CountTable,
    SparseCountTable,
    key_positions,
    lookup_by_worker,
)
from matcher.models.ranking import (  # noqa: E402
    MISSING,
    QUICK_BLOCK,
    STAGES,
    StablePlacementRanker,
    calibrated_probability,
    calibrator_predict,
    quick_scorer,
    tree_sum,
)


def _features(n: int, seed: int, width: int = len(RANKER_COLUMNS)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width))
    x[:, 3] = rng.integers(0, 4, n)  # a few distinct values, as counts and flags have
    x[rng.random(x.shape) < 0.05] = MISSING
    return x


def _labels(x: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.clip(x, -30, 30)  # MISSING stand-ins: no overflow in exp
    applied = (rng.random(len(x)) < 1 / (1 + np.exp(-(x[:, 0] + x[:, 1] - 0.5)))).astype(int)
    hired = applied * (rng.random(len(x)) < 1 / (1 + np.exp(-x[:, 2]))).astype(int)
    retained = np.where(hired == 1, (rng.random(len(x)) < 0.6).astype(float), np.nan)
    return pd.DataFrame({"applied": applied, "hired": hired, "retained": retained})


@pytest.fixture(scope="module")
def ranker() -> StablePlacementRanker:
    x = _features(3000, 1)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    return StablePlacementRanker(max_iter=30, cv=2).fit(feats, _labels(x, 2))


def _learned(ranker: StablePlacementRanker) -> list:
    models = [ranker.stages_[s] for s in STAGES if not isinstance(ranker.stages_[s], float)]
    assert len(models) >= 2
    return models


def _on_the_edges(booster, n: int, seed: int) -> np.ndarray:
    """Rows whose tested features sit on a split threshold, one ulp either side, or
    far outside: where a wrong ``<`` / ``<=`` would show."""
    rng = np.random.default_rng(seed)
    x = _features(n, seed, booster.n_features_in_)
    scorer = quick_scorer(booster)
    assert scorer is not None
    for feature, cuts in zip(scorer.features, scorer.thresholds, strict=True):
        choices = np.r_[
            cuts,
            np.nextafter(cuts, -np.inf),
            np.nextafter(cuts, np.inf),
            MISSING,
            -np.inf,
            np.inf,
            0.0,
            -0.0,
        ]
        x[:, feature] = rng.choice(choices, size=n)
    return x


@pytest.mark.parametrize("n", [1, 2, 37, QUICK_BLOCK, QUICK_BLOCK + 1, 1500])
def test_quick_scorer_equals_decision_function(ranker, n):
    for model in _learned(ranker):
        booster = model.calibrated_classifiers_[0].estimator
        edges = _on_the_edges(booster, n, n)
        one_worker = edges.copy()  # some features equal on every row, as in a request
        one_worker[:, ::2] = edges[0, ::2]
        for x in (_features(n, 10 + n, booster.n_features_in_), edges, one_worker):
            expected = booster.decision_function(x)
            np.testing.assert_array_equal(tree_sum(booster, x), expected)
            baseline = booster._baseline_prediction[0, 0]
            np.testing.assert_array_equal(quick_scorer(booster).decision(x, baseline), expected)


def test_quick_scorer_no_rows(ranker):
    booster = _learned(ranker)[0].calibrated_classifiers_[0].estimator
    assert tree_sum(booster, np.zeros((0, booster.n_features_in_))).shape == (0,)


def test_quick_scorer_leaves_nan_to_sklearn(ranker):
    booster = _learned(ranker)[0].calibrated_classifiers_[0].estimator
    x = _on_the_edges(booster, 50, 3)
    x[::7, quick_scorer(booster).features[0]] = np.nan  # goes where sklearn learnt
    assert quick_scorer(booster).decision(x, 0.0) is None
    np.testing.assert_array_equal(tree_sum(booster, x), booster.decision_function(x))


def _booster(seed: int, **params) -> HistGradientBoostingClassifier:
    x = _features(600, seed, 6)
    y = (x[:, 0] + np.sin(3 * x[:, 1]) + 0.3 * x[:, 2] > 0.2).astype(int)
    params = {"max_iter": 12, "early_stopping": False, "random_state": 0, **params}
    return HistGradientBoostingClassifier(**params).fit(x, y)


def test_trees_quick_scorer_cannot_hold_use_sklearns_walk():
    x = _features(300, 7, 6)
    big = _booster(1, max_leaf_nodes=40, min_samples_leaf=2)  # more leaves than a lane
    assert max(int(tree.nodes["is_leaf"].sum()) for (tree,) in big._predictors) > 16
    assert quick_scorer(big) is None
    np.testing.assert_array_equal(tree_sum(big, x), big.decision_function(x))
    x_cat = x.copy()
    x_cat[:, 5] = np.abs(np.round(x_cat[:, 5] * 2))
    train = _features(600, 8, 6)
    train[:, 5] = np.abs(np.round(train[:, 5] * 2))
    categorical = HistGradientBoostingClassifier(
        max_iter=10, categorical_features=[5], early_stopping=False, random_state=0
    ).fit(train, (train[:, 5] % 2 == 0).astype(int))
    assert any(tree.nodes["is_categorical"].any() for (tree,) in categorical._predictors)
    assert quick_scorer(categorical) is None
    np.testing.assert_array_equal(
        tree_sum(categorical, x_cat), categorical.decision_function(x_cat)
    )


def test_single_leaf_trees_and_refit():
    x = _features(100, 9, 6)
    stump = HistGradientBoostingClassifier(max_iter=3, early_stopping=False).fit(
        x, (np.arange(len(x)) % 2).astype(int)
    )
    np.testing.assert_array_equal(tree_sum(stump, x), stump.decision_function(x))
    booster = _booster(2)
    first = tree_sum(booster, x)
    np.testing.assert_array_equal(first, booster.decision_function(x))
    # a refit replaces the trees: the compiled layout must follow
    x_new = _features(600, 3, 6)
    booster.fit(x_new, (x_new[:, 3] > 1).astype(int))
    np.testing.assert_array_equal(tree_sum(booster, x), booster.decision_function(x))
    assert not np.array_equal(first, tree_sum(booster, x))


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrated_equals_predict_proba(method):
    x = _features(900, 4, 6)
    y = (x[:, 0] - x[:, 1] + 0.5 * np.random.default_rng(0).normal(size=len(x)) > 0).astype(int)
    model = CalibratedClassifierCV(
        HistGradientBoostingClassifier(max_iter=15, early_stopping=False, random_state=0),
        method=method,
        cv=3,
        ensemble=False,
    ).fit(x, y)
    calibrator = model.calibrated_classifiers_[0].calibrators[0]
    expected_type = IsotonicRegression if method == "isotonic" else _SigmoidCalibration
    assert type(calibrator) is expected_type
    test = _features(400, 5, 6) * 3  # wider than the fit: clipped at the ends
    np.testing.assert_array_equal(
        calibrated_probability(model, test), model.predict_proba(test)[:, 1]
    )
    if method == "isotonic":  # on the knots, between them, outside them
        knots = calibrator.X_thresholds_
        raw = np.r_[knots, (knots[1:] + knots[:-1]) / 2, knots[0] - 1, knots[-1] + 1]
        np.testing.assert_array_equal(calibrator_predict(calibrator, raw), calibrator.predict(raw))


@pytest.mark.parametrize(
    "params",
    [
        {"increasing": False, "out_of_bounds": "clip"},
        {"increasing": True, "out_of_bounds": "nan"},  # not clipped: sklearn's own path
        {"increasing": "auto", "out_of_bounds": "clip"},
    ],
)
def test_isotonic_calibrate_equals_predict(params):
    rng = np.random.default_rng(6)
    t = rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(2 * t))).astype(float)
    iso = IsotonicRegression(**params).fit(t, y)
    raw = np.r_[rng.normal(size=200) * 3, iso.X_thresholds_, -0.0]
    np.testing.assert_array_equal(calibrator_predict(iso, raw), iso.predict(raw))
    one_knot = IsotonicRegression(out_of_bounds="clip").fit([0.0, 1.0], [0.5, 0.5])
    np.testing.assert_array_equal(calibrator_predict(one_knot, raw), one_knot.predict(raw))
    for bad in (np.nan, np.inf):  # refused, as sklearn refuses them
        with pytest.raises(ValueError):
            calibrator_predict(iso, np.r_[raw, bad])


def test_saved_ranker_scores_the_same(ranker):
    x = _features(300, 12)
    before = ranker.predict_proba(x)
    loaded = pickle.loads(pickle.dumps(ranker))  # compiled trees are not pickled
    np.testing.assert_array_equal(loaded.predict_proba(x), before)
    xb = loaded.booster_input(x)
    for model in _learned(loaded):
        np.testing.assert_array_equal(
            calibrated_probability(model, xb), model.predict_proba(xb)[:, 1]
        )


@pytest.mark.parametrize(
    "keys",
    [
        ["b", "zz", "a"],
        np.array(["c"], dtype=object),
        [],
        ["a", None, "b"],  # a missing key: pandas' own rules
        ["a", np.nan],
        [1, "a"],
        np.array(["a", "c"]),  # numpy strings
        [f"k{i}" for i in range(40)] + ["a"],  # many keys: get_indexer
    ],
)
def test_key_positions_equal_get_indexer(keys):
    index = pd.Index(pd.unique(np.array(["a", "b", "c", None, "k3", 1, "k30"], dtype=object)))
    expected = index.get_indexer(pd.Index(np.asarray(keys, dtype=object), dtype=object))
    got = key_positions(index, keys)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_count_table_positions_and_lookup():
    rows = np.array(["c1", "c2", "c1", "c3"], dtype=object)
    cols = np.array(["e1", "e1", "e2", "e9"], dtype=object)
    table = CountTable(rows, cols, np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(table.row_pos(["c2", "nope"]), [1, -1])
    np.testing.assert_array_equal(table.col_pos(np.array(["e9"], dtype=object)), [2])
    np.testing.assert_array_equal(table.lookup(["c1", "c1", "x"], ["e2", "e1", "e1"]), [3, 1, 0])
    loaded = pickle.loads(pickle.dumps(table))
    np.testing.assert_array_equal(loaded.row_pos(["c3"]), [2])


def test_lookup_by_worker_equals_lookup():
    rows = np.array(["w1", "w1", "w2", "w3", "w3", "w3"], dtype=object)
    cols = np.array(["v1", "v2", "v1", "v3", "v9", "v1"], dtype=object)
    table = SparseCountTable(rows, cols, np.array([1.0, 2.0, 3.0, 4.0, -4.0, 0.5]))
    worker_ids = np.array(["w3", "nobody", "w1"], dtype=object)
    inv = np.array([0, 0, 1, 2, 2, 2, 0, 2])
    keys = np.array(["v1", "v9", "v1", "v2", "v1", "vX", "v3", "v3"], dtype=object)
    expected = table.lookup(worker_ids[inv], keys)
    assert np.count_nonzero(expected) >= 4
    np.testing.assert_array_equal(lookup_by_worker(table, worker_ids, inv, keys), expected)
    odd = keys.copy()
    odd[2] = None  # not all strings: pandas' matching
    np.testing.assert_array_equal(
        lookup_by_worker(table, worker_ids, inv, odd), table.lookup(worker_ids[inv], odd)
    )
    none_known = np.array(["nobody"], dtype=object)
    np.testing.assert_array_equal(lookup_by_worker(table, none_known, inv * 0, keys), np.zeros(8))
