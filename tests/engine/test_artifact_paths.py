"""Artifacts pickled before engine v2 moved matcher's modules into subpackages (class
paths such as ``matcher.recommender.Recommender``) still load, answer as before and
leave nothing behind at the old paths; model cards naming an old class path resolve."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FunctionType

import joblib
import pandas as pd
import pytest
from engine_markets import fast_params, random_market

import matcher.text
from matcher.artifacts import MOVED_MODULES, current_class_path, old_module_paths
from matcher.data.reference import data_path
from matcher.evaluation.baselines import PopularityRecommender
from matcher.occupations.classifier import OccupationClassifier
from matcher.serving.recommender import ARTIFACT_FILE, Recommender


@contextmanager
def written_before_the_move() -> Iterator[None]:
    """Pickle as the flat layout did: every moved class and function under its old path."""
    old_of = {new: old for old, new in MOVED_MODULES.items()}
    moved = [
        (obj, new)
        for new in MOVED_MODULES.values()
        for obj in vars(importlib.import_module(new)).values()
        if isinstance(obj, type | FunctionType) and obj.__module__ == new
    ]
    with old_module_paths():
        for obj, new in moved:
            obj.__module__ = old_of[new]
        try:
            yield
        finally:
            for obj, new in moved:
                obj.__module__ = new


@pytest.fixture(scope="module")
def model():
    return Recommender(**{**fast_params(), "n_candidates": 40}).fit(random_market(23))


def test_a_recommender_pickled_under_the_old_paths_loads_and_answers_as_before(model, tmp_path):
    with written_before_the_move():
        model.save(tmp_path / "old")
    with pytest.raises((ImportError, AttributeError)):  # what a plain unpickler meets
        joblib.load(tmp_path / "old" / ARTIFACT_FILE)
    loaded = Recommender.load(tmp_path / "old")
    assert type(loaded) is Recommender and loaded.config == model.config
    workers = list(model.catalogue_.wp.ids[:5])
    pd.testing.assert_frame_equal(
        loaded.recommend_many(workers, 5), model.recommend_many(workers, 5)
    )
    assert "matcher.recommender" not in sys.modules and "matcher.ranking" not in sys.modules
    assert not hasattr(matcher.text, "LexicalEncoder")  # nothing lent stays behind


def test_a_baseline_pickled_under_the_old_paths_loads(tmp_path):
    base = PopularityRecommender().fit(random_market(24))
    with written_before_the_move():
        base.save(tmp_path / "b")
    assert type(PopularityRecommender.load(tmp_path / "b")) is PopularityRecommender


def test_the_shipped_occupation_model_loads():
    model = OccupationClassifier.load(data_path("occupation_model.joblib"))
    assert type(model.rule_).__module__ == "matcher.occupations.classifier"


def test_an_old_model_card_class_path_resolves():
    assert current_class_path("matcher.recommender.Recommender") == (
        "matcher.serving.recommender.Recommender"
    )
    assert current_class_path("matcher.serving.recommender.Recommender") == (
        "matcher.serving.recommender.Recommender"
    )
    for old, new in MOVED_MODULES.items():
        assert importlib.util.find_spec(new) is not None, new
        assert old.startswith("matcher.") and old.count(".") == 1
