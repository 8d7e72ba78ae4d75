"""A pair's numbers do not depend on the rows computed beside it: the helpers the live
request uses to compute per-vacancy terms once per distinct value
(:func:`matcher.models.retrieval.distinct_rows`) and to sum a map's linear terms
(:func:`matcher.models.calibration.row_dot`) give every row the value it has alone."""

from __future__ import annotations

import numpy as np

from matcher.models.calibration import CovariateCalibrator, CovariateHazard, Spells, row_dot
from matcher.models.retrieval import distinct_rows


def test_distinct_rows_known_answer_with_missing_values():
    values = np.array(
        [[1.0, 2.0], [np.nan, 0.0], [1.0, 2.0], [3.0, 4.0], [np.nan, 0.0]], dtype=float
    )
    distinct, index = distinct_rows(values)
    assert len(distinct) == 3
    assert distinct[index].tobytes() == values.tobytes()
    assert index[0] == index[2] and index[1] == index[4]
    assert len({index[0], index[1], index[3]}) == 3


def test_distinct_rows_is_computed_once_per_array_and_again_for_a_new_one():
    values = np.array([[0, 1], [0, 1], [2, 3]], dtype=np.int64)
    first = distinct_rows(values)
    assert distinct_rows(values)[1] is first[1]
    other = np.array([[5, 5], [6, 6], [5, 5], [7, 7]], dtype=np.int64)
    distinct, index = distinct_rows(other)
    assert distinct[index].tolist() == other.tolist()
    assert len(distinct) == 3


def test_row_dot_known_answer_and_same_value_for_any_subset():
    z = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    coef = np.array([1.0, 10.0, 100.0])
    assert row_dot(z, coef).tolist() == [321.0, -9.5]
    rng = np.random.default_rng(3)
    big = rng.normal(size=(1001, 13))
    c = rng.normal(size=13)
    whole = row_dot(big, c)
    for rows in (np.arange(7), np.arange(3, 1001, 5), np.array([1000])):
        assert row_dot(big[rows], c).tobytes() == whole[rows].tobytes()


def test_covariate_map_scores_a_row_the_same_among_any_rows():
    rng = np.random.default_rng(5)
    n = 600
    p = rng.uniform(0.05, 0.95, n)
    u = rng.normal(size=(n, 6))
    y = (rng.random(n) < p).astype(float)
    cal = CovariateCalibrator().fit(p, u, y)
    whole = cal.predict(p, u)
    for rows in (np.arange(5), np.arange(1, n, 3), np.array([n - 1])):
        assert cal.predict(p[rows], u[rows]).tobytes() == whole[rows].tobytes()


def test_covariate_term_once_gives_the_maps_numbers():
    """A caller that maps several outputs of the same pairs (the cascade's bounds at the
    two ends of a booster's range, then the exact stage of some rows) computes the
    covariates' term once: the same numbers as the maps' own predict, for any rows."""
    rng = np.random.default_rng(6)
    n = 500
    p = rng.uniform(0.05, 0.95, n)
    u = rng.normal(size=(n, 5))
    cal = CovariateCalibrator().fit(p, u, (rng.random(n) < p).astype(float))
    z = rng.normal(size=n)
    tenure = rng.exponential(1.0, n) / (0.05 * np.exp(0.5 * z + 0.3 * u[:, 0]))
    stop = rng.uniform(2, 12, n)
    spells = Spells(np.zeros(n), np.minimum(tenure, stop), (tenure < stop).astype(float))
    hazard = CovariateHazard().fit(z, spells, u)
    for model, out in ((cal, p), (hazard, z)):
        term = model.covariate_term(u)
        whole = model.predict(out, u)
        assert model.predict_with_term(out, term).tobytes() == whole.tobytes()
        for rows in (np.arange(4), np.arange(2, n, 7), np.array([n - 1])):
            assert model.covariate_term(u[rows]).tobytes() == term[rows].tobytes()
            got = model.predict_with_term(out[rows], term[rows])
            assert got.tobytes() == whole[rows].tobytes()
    # ... which are the maps' formulas as they were computed before the term was shared
    from scipy.special import expit

    standard = (np.clip(u, cal.low_, cal.high_) - cal.center_) / cal.scale_
    logit_p = np.log(np.clip(p, 1e-6, 1 - 1e-6)) - np.log1p(-np.clip(p, 1e-6, 1 - 1e-6))
    before = expit(cal.coef_[0] + cal.coef_[1] * logit_p + row_dot(standard, cal.coef_[2:]))
    assert cal.predict(p, u).tobytes() == before.tobytes()
    shift = row_dot(
        (np.clip(u, hazard.low_, hazard.high_) - hazard.center_) / hazard.scale_, hazard.coef_
    )
    log_rates = hazard.alpha_[None, :] + hazard.beta_ * z[:, None] + shift[:, None]
    edges = np.r_[0.0, np.asarray(hazard.bands, dtype=float), np.inf]
    length = np.clip(np.minimum(edges[1:], float(hazard.horizon)) - edges[:-1], 0.0, None)
    before = np.exp(-row_dot(np.exp(log_rates), length))
    assert hazard.predict(z, u).tobytes() == before.tobytes()
    weeks = rng.uniform(0, 30, n)
    assert (
        hazard.survival_with_term(z, hazard.covariate_term(u), weeks).tobytes()
        == hazard.survival(z, u, weeks).tobytes()
    )
