"""Per-vacancy arrays derived once per catalogue (``VacancyProfiles.entry_level`` and
``language_sets``): the pair features read them instead of computing them pair by pair,
with the same numbers, and profiles pickled without them (a catalogue saved before they
existed) get them on load."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from matcher.models.features import (
    PAIR_COLUMNS,
    entry_level_of,
    language_fit,
    language_sets_of,
    pair_matrix,
)
from matcher.serving.recommender import Recommender
from tests.engine.engine_markets import fast_params, random_market


@pytest.fixture(scope="module")
def model():
    ds = random_market(5, n_workers=60, n_vacancies=50, n_events=600)
    return Recommender(**fast_params()).fit(ds)


def test_profiles_pickled_without_the_derived_arrays_get_them_on_load(model):
    vp = model.catalogue_.vp
    state = {k: v for k, v in vp.__dict__.items() if k not in ("entry_level", "language_sets")}
    old = object.__new__(type(vp))  # as pickled by a version without the fields
    old.__setstate__(state)
    np.testing.assert_array_equal(old.entry_level, entry_level_of(vp.code))
    assert list(old.language_sets) == list(vp.languages)
    again = pickle.loads(pickle.dumps(vp))
    np.testing.assert_array_equal(again.entry_level, vp.entry_level)
    assert list(again.language_sets) == list(vp.languages)


def test_pair_features_read_the_derived_arrays_with_the_same_numbers(model):
    cat = model.catalogue_
    rng = np.random.default_rng(0)
    wi = rng.integers(0, len(cat.wp.ids), 800)
    vi = rng.integers(0, len(cat.vp.ids), 800)
    zeros = np.zeros(len(wi))
    args = dict(lightfm=zeros, dense=zeros, lexical=zeros, year=cat.year)
    got, _ = pair_matrix(cat.wp, cat.vp, cat.vctx, model.scorer.stats, wi, vi, **args)
    # profiles without them (built by hand): computed pair by pair
    bare = type(cat.vp)(
        **{k: v for k, v in cat.vp.__dict__.items() if k not in ("entry_level", "language_sets")}
    )
    want, _ = pair_matrix(cat.wp, bare, cat.vctx, model.scorer.stats, wi, vi, **args)
    np.testing.assert_array_equal(got, want)
    col = PAIR_COLUMNS.index("entry_level")
    np.testing.assert_array_equal(got[:, col], entry_level_of(cat.vp.code[vi]))
    # language fit: the vacancy's required set within the worker's languages
    fit = [
        0.0 if need and not need <= cat.wp.languages[w] else 1.0
        for w, need in zip(wi, (cat.vp.languages[v] for v in vi), strict=True)
    ]
    np.testing.assert_array_equal(got[:, PAIR_COLUMNS.index("language_fit")], fit)


def test_language_fit_with_requirements():
    workers = [frozenset({"zh"}), frozenset({"zh", "en"}), frozenset()]
    vacancies = [frozenset(), frozenset({"en"}), frozenset({"zh"}), frozenset({"en", "zh"})]
    wi = np.repeat(np.arange(3), 4)
    vi = np.tile(np.arange(4), 3)
    want = [1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0]
    np.testing.assert_array_equal(language_fit(workers, vacancies, wi, vi), want)
    sets = language_sets_of(vacancies)
    np.testing.assert_array_equal(language_fit(workers, vacancies, wi, vi, sets), want)
    assert language_fit(workers, vacancies, wi[:0], vi[:0]).shape == (0,)
    assert pd.api.types.is_object_dtype(sets)
