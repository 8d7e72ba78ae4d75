"""The ridge on the stay hazard's covariates (``Recommender(stay_l2=...)``): the config,
the hazard it reaches, and what a larger ridge does to the stays it gives."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.data.dataset import Dataset
from matcher.models.calibration import CovariateHazard, Spells
from matcher.models.config import ConfigError, RecommenderConfig
from matcher.models.ranking import STAY_COVARIATE_L2
from matcher.serving.recommender import Recommender
from matcher.text.encoders import HashingEmbedder
from training.synth import generate_market


def test_config():
    assert RecommenderConfig().stay_l2 == STAY_COVARIATE_L2 == 0.1
    # an artifact written before the parameter reads as the fixed ridge it used
    assert RecommenderConfig.from_json({}).stay_l2 == STAY_COVARIATE_L2
    assert RecommenderConfig(stay_l2=1).stay_l2 == 1.0
    with pytest.raises(ConfigError, match="stay_l2"):
        RecommenderConfig(stay_l2=-0.5)


def _spells(n: int = 600, seed: int = 0) -> tuple[Spells, np.ndarray]:
    """Spells whose weekly leaving rate rises with the first of three covariates."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 3))
    rate = 0.03 * np.exp(0.8 * u[:, 0])
    tenure = rng.exponential(1.0 / rate)
    stop = rng.uniform(2.0, 30.0, n)
    return Spells(np.zeros(n), np.minimum(tenure, stop), (tenure <= stop).astype(float)), u


def test_a_larger_ridge_shrinks_the_terms_and_narrows_the_stays():
    spells, u = _spells()
    z = np.zeros(len(u))
    fits = {l2: CovariateHazard(covariate_l2=l2).fit(z, spells, u) for l2 in (0.1, 1.0, 10.0)}
    norms = [float(np.abs(f.coef_).sum()) for f in fits.values()]
    assert norms[0] > norms[1] > norms[2] > 0
    spread = [float(np.std(f.predict(z, u))) for f in fits.values()]
    assert spread[0] > spread[1] > spread[2]
    # the leading term keeps its sign (a higher first covariate, a shorter stay)
    assert all(f.coef_[0] > 0 for f in fits.values())
    for f in fits.values():
        p = f.predict(z, u)
        assert ((p >= 0) & (p <= 1)).all()


@pytest.fixture(scope="module")
def market() -> Dataset:
    f = generate_market(160, 12, weeks=8, seed=5)
    return Dataset.from_frames(f["workers"], f["employers"], f["vacancies"], f["events"])


def test_the_recommender_fits_and_recalibrates_its_stay_hazard_with_the_ridge(market):
    model = Recommender(
        embedder=HashingEmbedder(), epochs=2, max_iter=15, n_clusters=4, stay_l2=2.0
    ).fit(market)
    ranker = model.ranker_
    assert ranker.stay_l2_ == 2.0
    stay = ranker.calibrators_.get("stay")
    assert isinstance(stay, CovariateHazard), "the test market gave the hazard no slice"
    assert stay.covariate_l2 == 2.0
    assert model.config.stay_l2 == 2.0
    before = np.abs(stay.coef_).sum()
    model.set_params(stay_l2=0.1).recalibrate(market)
    again = model.ranker_.calibrators_["stay"]
    assert again.covariate_l2 == 0.1
    assert np.abs(again.coef_).sum() >= before
