"""Capabilities (``matcher.protocols``): which models have which, and what the service
does with a model that lacks one (no attribute probing, no swallowed TypeError)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params, toy_market  # noqa: E402

from matcher.evaluation.baselines import PopularityRecommender  # noqa: E402
from matcher.protocols import (  # noqa: E402
    AblatingModel,
    CatalogueModel,
    ExplainingModel,
    FilteringModel,
    JointFitModel,
    RefreshableModel,
)
from matcher.serving.recommender import Recommender  # noqa: E402
from service.domain import catalogue_is_current, catalogue_knows  # noqa: E402
from service.model_holder import refreshed_copy  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    ds = toy_market()
    return (
        ds,
        Recommender(**{**fast_params(), "epochs": 5}).fit(ds),
        PopularityRecommender().fit(ds),
    )


def test_the_hybrid_model_has_every_capability(fitted):
    _, model, _ = fitted
    assert isinstance(model, RefreshableModel)
    assert isinstance(model, ExplainingModel)
    assert isinstance(model, CatalogueModel)
    assert isinstance(model, JointFitModel)
    assert isinstance(model, AblatingModel)


def test_a_baseline_refreshes_but_cannot_explain_or_tell_its_catalogue(fitted):
    ds, _, baseline = fitted
    assert isinstance(baseline, RefreshableModel)
    assert not isinstance(baseline, ExplainingModel)
    assert not isinstance(baseline, CatalogueModel)
    assert catalogue_knows(baseline, "worker", "welder") is None  # cannot tell: the service waits
    assert catalogue_is_current(baseline, (1, None, 1, None)) is False


def test_an_unfitted_model_does_not_claim_a_catalogue():
    assert not isinstance(Recommender(), CatalogueModel)


def test_the_catalogue_answers_what_it_holds(fitted):
    ds, model, _ = fitted
    assert model.catalogue_size() == (ds.n_workers, ds.n_vacancies)
    assert catalogue_knows(model, "worker", "welder") is True
    assert catalogue_knows(model, "worker", "nobody") is False
    assert catalogue_knows(model, "vacancy", "V_weld") is True
    assert catalogue_is_current(model, (ds.n_workers, None, ds.n_vacancies, None)) is True
    assert catalogue_is_current(model, (ds.n_workers + 1, None, ds.n_vacancies, None)) is False


def test_refreshed_is_a_new_object_and_a_model_without_refresh_is_kept(fitted):
    ds, model, _ = fitted
    fresh = refreshed_copy(model, ds)
    assert fresh is not model
    assert fresh.recommend("welder", 3).equals(model.recommend("welder", 3))
    plain = object()
    assert refreshed_copy(plain, ds) is plain


def test_evaluation_asks_for_capabilities_by_protocol(fitted):
    """training.evaluate: a baseline reports its filter; a model without ablation(stages)
    is refused with a clear TypeError (no attribute probing)."""
    from training.evaluate import Ablation, evaluate_ablation

    ds, _, popularity = fitted
    assert isinstance(popularity, FilteringModel)
    assert not isinstance(popularity, AblatingModel)
    assert not isinstance(popularity, JointFitModel)
    with pytest.raises(TypeError, match="has no ablation"):
        evaluate_ablation(popularity, Ablation("lightfm"), None)  # type: ignore[arg-type]
