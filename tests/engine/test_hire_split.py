"""The hire stage as the employer's offer times the worker's acceptance
(``OfferAcceptance``, ``StablePlacementRanker.calibrate(hire_offers=...)``,
``Recommender(hire_split="offer-accept")``, ``offer_outcomes``): offers and the other
offers a worker held counted from the events; probabilities in [0, 1], never rising with
the rivals per seat or the offers held; and on a toy market where a worker holding
several offers takes one, it recovers a single offer's chance (offer x acceptance),
which one regression of hired per application does not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params  # noqa: E402

from matcher.data.dataset import Dataset  # noqa: E402
from matcher.models.calibration import OfferAcceptance  # noqa: E402
from matcher.models.config import ConfigError, RecommenderConfig  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.labels import offer_outcomes  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    STAGES,
    StablePlacementRanker,
    hire_alone_covariates,
)

HIRE = STAGES.index("hire")
COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def _expit(z):
    return 1 / (1 + np.exp(-z))


def test_offer_outcomes_count_offers_and_the_other_offers_held():
    t0 = pd.Timestamp("2026-03-01")
    day = pd.Timedelta(days=1)
    events = pd.DataFrame(
        {
            "worker_id": ["a", "a", "a", "a", "b", "b", "c"],
            "vacancy_id": ["v", "u", "w", "x", "v", "v", "v"],
            "event": ["hired", "declined", "declined", "declined", "applied", "rejected", "left"],
            "occurred_at": [t0, t0 + day, t0 + 10 * day, t0 - 3 * day, t0, t0 + day, t0],
        }
    )
    pairs = pd.DataFrame(
        {"worker_id": ["a", "a", "a", "b", "c", "d"], "vacancy_id": ["v", "u", "w", "v", "v", "v"]}
    )
    out = offer_outcomes(events, pairs)
    # a's offers: v (t0) has u (1 day) and x (3 days) within 3.5 days, u (t0 + 1 day)
    # only v (x is 4 days off), w (t0 + 10 days) none; b was rejected, c never offered
    np.testing.assert_array_equal(out[:, 0], [1, 1, 1, 0, 0, 0])
    np.testing.assert_allclose(out[:, 1], np.log1p([2, 1, 0, 0, 0, 0]))
    assert offer_outcomes(events, pairs[:0]).shape == (0, 2)


def _offers_market(rng: np.random.Generator, n: int):
    """Applications: the employer offers with log-odds -0.5 + 1.2 z (``z`` the lexical
    similarity of the trades), less the rivals per seat (only the best get the seats);
    the worker accepts an offer with log-odds 1 + 2 log(pay ratio), less the other offers
    he holds (he takes one), and holds more of them on well-paid jobs (a worker expecting
    good pay applies widely). A single offer's chance is offer x acceptance at no rival
    and no other offer."""
    x = np.zeros((n, len(RANKER_COLUMNS)))
    z = rng.normal(size=n)
    x[:, COL["lexical"]] = z
    log_ratio = rng.uniform(-0.5, 0.5, n)
    x[:, COL["wage_ratio"]] = np.exp(log_ratio)
    rivals = rng.poisson(1.0, n)
    own = rng.poisson(1.0 + 2.0 * (log_ratio > 0), n)
    comp = np.column_stack([np.log1p(rivals), np.log1p(own)])
    offer_p = _expit(-0.5 + 1.2 * z)
    offered = rng.random(n) < _expit(-0.5 + 1.2 * z - 0.8 * np.log1p(rivals))
    held = np.where(offered, np.log1p(rng.binomial(own, 0.4)), 0.0)
    accept_p = _expit(1.0 + 2.0 * log_ratio)
    hired = offered & (rng.random(n) < _expit(1.0 + 2.0 * log_ratio - 1.5 * held))
    single = offer_p * accept_p
    return x, comp, np.column_stack([offered, held]), hired.astype(float), single


def test_offer_acceptance_is_a_probability_monotone_in_competition_and_recovers_the_toy():
    rng = np.random.default_rng(11)
    x, comp, offers, hired, _ = _offers_market(rng, 20_000)
    u = hire_alone_covariates(x, comp)
    split = OfferAcceptance(1e-2, rivals=0, offer_only=(0, 1)).fit(
        u, offers[:, 0], hired, offers[:, 1]
    )
    test, _, _, _, single = _offers_market(rng, 3000)
    at_zero = hire_alone_covariates(test)  # no rival, no other application
    p = split.predict(at_zero)
    assert ((p >= 0) & (p <= 1)).all()
    assert (p <= split.upper() + 1e-12).all()
    # known answer: the single offer's chance, within a few points
    assert np.sqrt(np.mean((p - single) ** 2)) < 0.03
    # one regression of hired per application (the hire map of hire_map="history") is
    # off by far more: it reads the worker's pick among his offers as the pay's weight
    from matcher.models.calibration import CovariateCalibrator

    one = CovariateCalibrator(1e-2).fit(np.full(len(u), 0.5), u, hired)
    q = one.predict(np.full(len(test), 0.5), at_zero)
    assert np.sqrt(np.mean((p - single) ** 2)) < 0.5 * np.sqrt(np.mean((q - single) ** 2))
    # never rises with the rivals per seat (column 0) nor with the offers held
    grid = np.linspace(0.0, 3.0, 50)
    row = np.tile(at_zero[:1], (50, 1))
    row[:, 0] = grid
    assert (np.diff(split.predict(row)) <= 1e-15).all()
    assert (np.diff(split.predict(np.tile(at_zero[:1], (50, 1)), grid)) <= 1e-15).all()
    parts = split.parts(at_zero)
    assert ((parts >= 0) & (parts <= 1)).all() and parts.shape == (len(test), 2)
    assert split.predict(at_zero[:0]).shape == (0,)


def test_offer_acceptance_rejects_a_hire_without_an_offer_and_one_outcome_only():
    u = np.zeros((4, 2))
    with pytest.raises(ValueError, match="hired implies offered"):
        OfferAcceptance().fit(u, np.array([1, 0, 1, 0.0]), np.array([1, 1, 0, 0.0]), np.zeros(4))
    with pytest.raises(ValueError, match="with and without an offer"):
        OfferAcceptance().fit(u, np.ones(4), np.zeros(4), np.zeros(4))


def _booster_frames(x: np.ndarray, hired: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(x)
    feats = pd.DataFrame(x, columns=RANKER_COLUMNS)
    labels = pd.DataFrame({"applied": 1, "hired": hired.astype(int), "retained": np.nan})
    labels.loc[: n // 4, ["applied", "hired"]] = 0
    return feats, labels


def test_ranker_hire_offers_score_a_single_offer_and_keep_the_cascade_bound():
    rng = np.random.default_rng(3)
    x, _, _, hired, _ = _offers_market(rng, 3000)
    feats, labels = _booster_frames(x, hired)
    xe, comp_e, off_e, hired_e, _ = _offers_market(rng, 8000)
    xs, comp_s, off_s, hired_s, _ = _offers_market(rng, 3000)
    test, _, _, _, single = _offers_market(rng, 2000)
    errors = {}
    for split in (False, True):
        ranker = StablePlacementRanker(max_iter=30, cv=2).fit(feats, labels)
        ranker.calibrate(
            hire=(xs, hired_s),
            hire_competition=comp_s,
            hire_alone=(xe, hired_e, comp_e),
            hire_planning=np.array([0.0, 0.0]),
            hire_offers=np.vstack([off_e, off_s]) if split else None,
        )
        assert ranker.hire_alone_ and ranker.hire_split_ is split
        hire = ranker.predict_stages(test)[:, HIRE]
        assert ((hire >= 0) & (hire <= 1)).all()
        errors[split] = float(np.sqrt(np.mean((hire - single) ** 2)))
        score, exact = ranker.predict_top(test, np.arange(len(test)) % 40, 3)
        full = ranker.predict_proba(test)
        assert (full[~exact] <= score[~exact] + 1e-12).all()
        np.testing.assert_allclose(score[exact], full[exact])
    counts = ranker.calibration_counts_["hire offers"]
    assert counts["rows"] == 11_000 and counts["hires"] == hired_e.sum() + hired_s.sum()
    # one regression scored at no rival and no other application (0.033 here) against
    # the split (0.019)
    assert errors[True] < 0.025 and errors[True] < 0.7 * errors[False]
    with pytest.raises(ValueError, match="one row"):
        StablePlacementRanker(max_iter=5, cv=2).fit(feats, labels).calibrate(
            hire=(xs, hired_s),
            hire_competition=comp_s,
            hire_alone=(xe, hired_e, comp_e),
            hire_offers=off_s,
        )


def test_hire_split_needs_a_hire_regression():
    assert RecommenderConfig().hire_split == "none"
    assert RecommenderConfig.from_json({}).hire_split == "none"
    with pytest.raises(ConfigError, match="hire_split"):
        RecommenderConfig(hire_map="competition-typical", hire_split="offer-accept")
    with pytest.raises(ConfigError, match="hire_split"):
        RecommenderConfig(hire_split="offers")


@pytest.mark.parametrize("hire_map", ["covariates", "history"])
def test_recommender_hire_split_fits_scores_and_recalibrates(hire_map):
    """On a small generated market: the hire stage is offer x acceptance, every score a
    probability, and recalibrate reproduces the fitted calibration and scores."""
    import copy

    from matcher.serving.recommender import Recommender
    from training.synth import build_market

    market = build_market(300, 12, weeks=20, seed=1)
    ds = Dataset.from_frames(
        **{k: market.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )
    params = {**fast_params(), "calibration_share": 0.5, "hire_map": hire_map}
    model = Recommender(**params, hire_split="offer-accept").fit(ds)
    ranker = model.ranker_
    assert ranker.hire_split_ and isinstance(ranker.calibrators_["hire"], OfferAcceptance)
    counts = ranker.calibration_counts_["hire offers"]
    assert counts["rows"] == ranker.calibration_counts_["hire alone"]["rows"]
    ids = ds.workers["worker_id"].tolist()
    lists = model.recommend_many(ids, 5, reasons=False)
    assert len(lists) and ((lists["score"] >= 0) & (lists["score"] <= 1)).all()
    again = copy.deepcopy(model).recalibrate(ds)
    assert again.ranker_.calibration_counts_ == ranker.calibration_counts_
    after = again.recommend_many(ids, 5, reasons=False)
    np.testing.assert_allclose(after["score"], lists["score"])
