"""Stages that learn from the whole history (Recommender(history_stages=...),
StablePlacementRanker.fit(applications=...), history_cutoffs): the windows tile the
history before the calibration slice, latest first; the hire booster learns from the
applications it is given, which on a toy market recovers who is hired where the pairs'
own few applications cannot; on a generated market the hire stage learns from more
applications than the booster's window holds, and recalibrate reproduces the fit."""

from __future__ import annotations

import copy
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
from matcher.models.config import ConfigError, RecommenderConfig  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.labels import HISTORY_SHARE, history_cutoffs  # noqa: E402
from matcher.models.ranking import HIRE_COMPETITION, STAGES, StablePlacementRanker  # noqa: E402
from matcher.serving.recommender import (  # noqa: E402
    Recommender,
)

HIRE = STAGES.index("hire")
COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}


def test_history_cutoffs_are_quantiles_latest_first_down_to_the_5th_percentile():
    times = pd.Series(pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(1001), unit="h"))
    hour = pd.Timedelta(hours=1)
    start = pd.Timestamp("2026-01-01")
    out = history_cutoffs(times, 0.15, 7)
    assert HISTORY_SHARE == 0.1
    # 1 - 0.15 - k * 0.1 of 1000 hours: 750, 650, ..., 150
    assert out == [start + h * hour for h in (750, 650, 550, 450, 350, 250, 150)]
    # a larger slice leaves fewer windows: 0.3 + 0.7 would cut below the 0.05 quantile
    assert history_cutoffs(times, 0.15, 3) == out[:3]
    assert history_cutoffs(times, 0.3, 7) == [
        start + h * hour for h in (600, 500, 400, 300, 200, 100)
    ]


def _pairs(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Ranker rows where the occupation match decides the hire: 0.8 matched, 0.1 not."""
    x = rng.normal(size=(n, len(RANKER_COLUMNS)))
    match = (rng.random(n) < 0.5).astype(float)
    x[:, COL["occ_match"]] = match
    hired = (rng.random(n) < np.where(match == 1, 0.8, 0.1)).astype(float)
    return pd.DataFrame(x, columns=RANKER_COLUMNS), hired


def test_ranker_hire_stage_learns_from_the_applications_given():
    """The pairs hold 2,000 sampled rows and only 12 applications (too few to learn
    from: the hire stage would be one base rate); given 3,000 earlier applications the
    hire stage learns from those and separates matched from unmatched pairs."""
    rng = np.random.default_rng(3)
    feats, _ = _pairs(rng, 2000)
    labels = pd.DataFrame({"applied": 0.0, "hired": 0.0, "retained": np.nan}, index=feats.index)
    labels.loc[:11, "applied"] = 1.0
    labels.loc[:5, "hired"] = 1.0
    apps, hired = _pairs(rng, 3000)
    alone = StablePlacementRanker(max_iter=30, cv=2).fit(feats, labels)
    assert isinstance(alone.stages_["hire"], float)
    ranker = StablePlacementRanker(max_iter=30, cv=2).fit(
        feats, labels, applications=(apps, pd.DataFrame({"hired": hired}))
    )
    assert ranker.stage_counts_["hire"] == {"rows": 3000, "positives": int(hired.sum())}
    # the apply stage still learns from the pairs
    assert ranker.stage_counts_["apply"] == {"rows": 2000, "positives": 12}
    test, _ = _pairs(rng, 2000)
    hire = ranker.predict_stages(test)[:, HIRE]
    matched = test["occ_match"].to_numpy() == 1
    assert ((hire >= 0) & (hire <= 1)).all()
    assert abs(hire[matched].mean() - 0.8) < 0.05
    assert abs(hire[~matched].mean() - 0.1) < 0.05


def test_ranker_applications_must_match_their_labels_and_the_pairs_competition():
    rng = np.random.default_rng(4)
    feats, hired = _pairs(rng, 200)
    labels = pd.DataFrame({"applied": 1.0, "hired": hired, "retained": np.nan})
    with pytest.raises(ValueError, match="one label row per application"):
        StablePlacementRanker(max_iter=5).fit(
            feats, labels, applications=(feats, pd.DataFrame({"hired": hired[:-1]}))
        )
    with_comp = labels.assign(**{c: 0.0 for c in HIRE_COMPETITION})
    with pytest.raises(ValueError, match="lack the competition"):
        StablePlacementRanker(max_iter=5).fit(
            feats, with_comp, applications=(feats, pd.DataFrame({"hired": hired}))
        )


def test_history_stages_config_reads_old_artifacts_as_none_and_checks_its_value():
    assert RecommenderConfig.from_json({}).history_stages == "none"
    assert RecommenderConfig().history_stages == "none"
    with pytest.raises(ConfigError, match="history_stages must be one of"):
        RecommenderConfig(history_stages="apply")
    assert RecommenderConfig.from_json({}).history_windows == 7
    with pytest.raises(ConfigError, match="history_windows must be at least 1"):
        RecommenderConfig(history_windows=0)


@pytest.fixture(scope="module")
def market() -> Dataset:
    from training.synth import build_market

    m = build_market(300, 12, weeks=20, seed=1)
    return Dataset.from_frames(
        **{k: m.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )


@pytest.mark.parametrize("history", ["hire", "stay", "hire-stay"])
def test_recommender_history_stages_fit_score_and_recalibrate(market, history):
    """Half the events calibrate, so the history holds four windows before the slice;
    the hire stage learns from their due applications (more than the booster's one
    window holds), the stay map from their spells; every score is a probability and
    recalibrate reproduces the calibration and the scores."""
    params = {**fast_params(), "calibration_share": 0.5}
    plain = Recommender(**params).fit(market)
    model = Recommender(**params, history_stages=history).fit(market)
    counts = model.ranker_counts_
    cutoffs = [pd.Timestamp(c) for c in counts["history_cutoffs"]]
    assert len(cutoffs) == 4 and cutoffs == sorted(cutoffs, reverse=True)
    assert cutoffs[0] < pd.Timestamp(counts["calibration_cutoff"])
    # the apply stage is untouched
    assert counts["stages"]["apply"] == plain.ranker_counts_["stages"]["apply"]
    hire_rows = counts["stages"]["hire"]["rows"]
    if "hire" in history:
        assert hire_rows == counts["history_applications"]
        assert hire_rows > plain.ranker_counts_["stages"]["hire"]["rows"]
    else:
        assert hire_rows == plain.ranker_counts_["stages"]["hire"]["rows"]
    stay_rows = counts["calibration"]["stay"]["rows"]
    if "stay" in history:
        # the slice's spells and the history's, more than the booster's window's
        assert stay_rows > plain.ranker_counts_["calibration"]["stay"]["rows"]
    ids = market.workers["worker_id"].tolist()
    lists = model.recommend_many(ids, 5, reasons=False)
    assert len(lists) and ((lists["score"] >= 0) & (lists["score"] <= 1)).all()
    again = copy.deepcopy(model).recalibrate(market)
    assert again.ranker_.calibration_counts_ == model.ranker_.calibration_counts_
    np.testing.assert_allclose(again.recommend_many(ids, 5, reasons=False)["score"], lists["score"])


def test_history_windows_share_one_retrieval_fit_without_changing_the_hire_maps_rows(market):
    """``hire_map="history"`` fits one retrieval for all its windows, each with its own
    pair statistics (``RetrievalFit.with_statistics``): a window's pair features are
    those of a retrieval fitted at its own start in every column but the LightFM score,
    which the hire map's regression does not read."""
    from matcher.models.ranking import HIRE_ALONE_COVARIATES, hire_alone_covariates
    from matcher.models.scoring import PairScorer

    assert "lightfm" not in HIRE_ALONE_COVARIATES
    model = Recommender(**fast_params(), calibration_share=0.5).fit(market)
    times = market.events["occurred_at"]
    early, late = (pd.Timestamp(times.quantile(q)) for q in (0.2, 0.5))
    own = model.fit_retrieval(market.until(late))
    shared = model.fit_retrieval(market.until(early)).with_statistics(
        model.fit_statistics(market.until(late))
    )
    frames = []
    for retrieval in (own, shared):
        cat = model.training_catalogue(market, retrieval, late)
        rng = np.random.default_rng(0)
        wi = rng.integers(0, len(cat.wp.ids), 400)
        vi = cat.open_pos[rng.integers(0, len(cat.open_pos), 400)]
        frames.append(PairScorer("full", None, retrieval.stats).pair_frame(cat, wi, vi))
    a, b = frames
    other = [c for c in RANKER_COLUMNS if c != "lightfm"]
    pd.testing.assert_frame_equal(a[other], b[other])
    assert not np.allclose(a["lightfm"], b["lightfm"])
    x_a, x_b = a[RANKER_COLUMNS].to_numpy(float), b[RANKER_COLUMNS].to_numpy(float)
    np.testing.assert_array_equal(hire_alone_covariates(x_a), hire_alone_covariates(x_b))


def test_a_window_catalogue_from_encoded_sides_equals_one_encoded_afresh(market):
    """The history windows encode their shared fit's workers and vacancies once
    (``Recommender.encode_sides``) and take each window's rows: the catalogue and its
    pair features are those of the window's own encoding, and a frame with a worker
    the sides do not hold is encoded afresh."""
    from matcher.models.features import PairStatistics
    from matcher.models.scoring import PairScorer

    model = Recommender(**fast_params(), calibration_share=0.5).fit(market)
    times = market.events["occurred_at"]
    early, mid, late = (pd.Timestamp(times.quantile(q)) for q in (0.2, 0.4, 0.7))
    base = model.fit_retrieval(market.until(early))
    sides = model.encode_sides(market.until(late), base)
    window = market.until(mid)
    assert len(window.workers) < len(sides.workers.wp.ids)
    retrieval = base.with_statistics(PairStatistics().fit(window.until(early)))
    fresh = model.training_catalogue(window, retrieval, early)
    taken = model.training_catalogue(window, retrieval, early, sides=sides)
    for name in ("w_dense", "w_lfm", "v_dense", "v_lfm", "open_pos"):
        np.testing.assert_array_equal(getattr(taken, name), getattr(fresh, name))
    for name in ("w_lex", "v_lex"):
        assert (getattr(taken, name) != getattr(fresh, name)).nnz == 0
        np.testing.assert_array_equal(getattr(taken, name).indices, getattr(fresh, name).indices)
    pd.testing.assert_index_equal(taken.wp.ids, fresh.wp.ids)
    np.testing.assert_array_equal(taken.vp.headcount, fresh.vp.headcount)
    rng = np.random.default_rng(0)
    wi = rng.integers(0, len(fresh.wp.ids), 400)
    vi = fresh.open_pos[rng.integers(0, len(fresh.open_pos), 400)]
    scorer = PairScorer("full", None, retrieval.stats)
    pd.testing.assert_frame_equal(
        scorer.pair_frame(taken, wi, vi), scorer.pair_frame(fresh, wi, vi)
    )
    # the sides' own rows are left as they were (the catalogue set its seats on a copy)
    assert len(sides.vacancies.vp.headcount) == len(sides.vacancies.vp.ids)
    stranger = window.workers.copy()
    stranger.loc[0, "worker_id"] = "W-not-encoded"
    assert sides.workers_of(stranger) is None
    assert sides.workers_of(window.workers) is not None


def test_stay_spells_config_is_opt_in_and_needs_the_hire_maps_history_windows():
    assert RecommenderConfig().stay_spells == "window"
    assert RecommenderConfig.from_json({}).stay_spells == "window"
    assert RecommenderConfig(hire_map="history", stay_spells="earlier").stay_spells == "earlier"
    with pytest.raises(ConfigError, match="stay_spells must be one of"):
        RecommenderConfig(hire_map="history", stay_spells="history")
    # hire_map="history" is the default (session 13): with it, "earlier" is allowed
    assert RecommenderConfig(stay_spells="earlier").stay_spells == "earlier"
    with pytest.raises(ConfigError, match="set hire_map='history'"):
        RecommenderConfig(hire_map="competition-typical", stay_spells="earlier")


def test_stay_spells_earlier_adds_the_spells_of_the_history_windows_before_the_boosters(market):
    """With ``stay_spells="earlier"`` the covariate stay map also learns from the spells
    of ``hire_map="history"``'s windows that end by the booster's window's start (no
    week counted twice): the booster's window's and the slice's spells as without it,
    plus those; recalibrate reproduces the calibration. With ``history_stages="stay"``
    the map takes every history window's spells instead, and adds none."""
    params = {**fast_params(), "calibration_share": 0.5, "hire_map": "history"}
    model = Recommender(**params, stay_spells="earlier").fit(market)
    counts = model.ranker_counts_
    other = Recommender(**params).fit(market)
    assert "early_stays" not in other.ranker_counts_
    start = min(pd.Timestamp(c) for c in counts["cutoffs"])
    history = sorted(pd.Timestamp(c) for c in counts["history_cutoffs"])
    # windows end where the next later one starts: those ending by the booster's start
    ends = [*history[1:], pd.Timestamp(counts["calibration_cutoff"])]
    assert sum(end <= start + pd.Timedelta(seconds=1) for end in ends) >= 1
    early = counts["early_stays"]
    assert early > 0
    stay_rows = counts["calibration"]["stay"]["rows"]
    assert stay_rows == other.ranker_counts_["calibration"]["stay"]["rows"] + early
    ids = market.workers["worker_id"].tolist()
    lists = model.recommend_many(ids, 5, reasons=False)
    again = copy.deepcopy(model).recalibrate(market)
    assert again.ranker_.calibration_counts_ == model.ranker_.calibration_counts_
    np.testing.assert_allclose(again.recommend_many(ids, 5, reasons=False)["score"], lists["score"])
    both = Recommender(**params, stay_spells="earlier", history_stages="stay").fit(market)
    assert "early_stays" not in both.ranker_counts_
