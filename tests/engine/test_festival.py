"""Spring Festival departures learnt from the events (matcher.models.festival)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from matcher.data.reference import spring_festivals
from matcher.models.config import LEGACY_VALUES, ConfigError, RecommenderConfig
from matcher.models.festival import FestivalKeep, FestivalLeave, far_pairs

# Lhasa county (home) and two workplaces: Lhasa itself (near) and Dongguan (far)
HOME, NEAR, FAR = "540102", "540102", "441900"
FESTIVAL = pd.Timestamp("2026-02-17")


def _market(n_near: int, n_far: int, leave_near: int, leave_far: int, base_left: int = 0):
    """Workers hired on 2026-01-05 near or far from home; the first ``leave_*`` of each
    group leave 5 days before the festival, ``base_left`` more of each leave in May."""
    workers, vacancies, events = [], [], []
    for kind, n, leave, region in (("n", n_near, leave_near, NEAR), ("f", n_far, leave_far, FAR)):
        for i in range(n):
            w, v = f"W{kind}{i}", f"V{kind}{i}"
            workers.append({"worker_id": w, "home_region": HOME})
            vacancies.append({"vacancy_id": v, "region": region, "employer_id": "E1"})
            events.append((w, v, "hired", pd.Timestamp("2026-01-05")))
            if i < leave:
                events.append((w, v, "left", FESTIVAL - pd.Timedelta(days=5)))
            elif i < leave + base_left:
                events.append((w, v, "left", pd.Timestamp("2026-05-10")))
    ev = pd.DataFrame(events, columns=["worker_id", "vacancy_id", "event", "occurred_at"])
    ev = pd.concat(
        [
            ev,
            pd.DataFrame(
                [("Wn0", "Vn0", "viewed", pd.Timestamp("2026-09-30"))], columns=ev.columns
            ),
        ]
    )
    return Dataset(
        pd.DataFrame(workers), pd.DataFrame({"employer_id": ["E1"]}), pd.DataFrame(vacancies), ev
    )


def test_far_pairs_measures_distance_between_home_and_workplace():
    ds = _market(2, 2, 0, 0)
    far = far_pairs(ds.workers, ds.vacancies, pd.Series(["Wn0", "Wf1"]), pd.Series(["Vn0", "Vf1"]))
    assert far.tolist() == [False, True]


def test_leave_shares_are_the_excess_departures_in_the_festival_window():
    # 200 near, 10 leave at the festival; 200 far, 40 leave; nobody leaves otherwise
    model = FestivalLeave(prior_hires=0.0).fit(_market(200, 200, 10, 40))
    assert model.counts_["festivals"] == ["2026-02-17"]
    assert model.counts_["near"] == [200, 10] and model.counts_["far"] == [200, 40]
    assert model.leave_["near"] == pytest.approx(0.05)
    assert model.leave_["far"] == pytest.approx(0.20)


def test_the_usual_rate_of_leaving_is_not_counted_as_festival_leave():
    # 30 of 100 leave in May in each group: the two weeks before the festival expect a few
    # departures anyway, which the estimate takes off
    with_base = FestivalLeave(prior_hires=0.0).fit(_market(100, 100, 10, 10, base_left=30))
    without = FestivalLeave(prior_hires=0.0).fit(_market(100, 100, 10, 10))
    assert 0.0 < with_base.leave_["near"] < without.leave_["near"] == pytest.approx(0.10)


def test_small_samples_shrink_towards_no_festival_effect():
    model = FestivalLeave(prior_hires=20.0).fit(_market(5, 5, 5, 5))
    assert 0.0 < model.leave_["far"] == pytest.approx(5 / 25)


def test_no_festival_in_the_events_means_no_effect():
    ds = _market(10, 10, 0, 0)
    ds = Dataset(
        ds.workers,
        ds.employers,
        ds.vacancies,
        ds.events.assign(occurred_at=pd.Timestamp("2026-05-01")),
    )
    model = FestivalLeave().fit(ds)
    assert model.counts_["festivals"] == []
    assert model.leave_ == {"near": 0.0, "far": 0.0}


def test_keep_counts_the_festivals_inside_the_horizon():
    model = FestivalLeave()
    model.leave_ = {"near": 0.1, "far": 0.2}
    # an October hire's 26 weeks hold the 2027 festival's cut-off (2027-01-23)
    assert model.keep("2026-10-12", 26) == FestivalKeep(
        near=pytest.approx(0.9), far=pytest.approx(0.8)
    )
    # a March hire's do not
    assert model.keep("2026-03-01", 26) == FestivalKeep()
    # two years hold two festivals
    two = model.keep("2026-10-12", 70)
    assert two.far == pytest.approx(0.64)
    assert model.keep(None, 26) == FestivalKeep()
    assert FestivalLeave().keep("2026-10-12", 26) == FestivalKeep()  # not fitted


def test_keep_of_far_flags():
    keep = FestivalKeep(near=0.9, far=0.8)
    np.testing.assert_allclose(keep.of(np.array([0.0, 1.0, 0.0])), [0.9, 0.8, 0.9])


def test_calendar_covers_the_years_of_use():
    years = pd.to_datetime(spring_festivals()).year
    assert years.min() <= 2025 and years.max() >= 2030


def test_festival_leave_is_an_opt_in_config_value():
    assert RecommenderConfig().festival_leave == "none"
    assert LEGACY_VALUES["festival_leave"] == "none"
    assert RecommenderConfig(festival_leave="learnt").festival_leave == "learnt"
    with pytest.raises(ConfigError, match="festival_leave must be one of none, learnt"):
        RecommenderConfig(festival_leave="always")


def test_recommender_scores_carry_the_learnt_festival_leave():
    from matcher.models.scoring import PairScorer
    from matcher.serving.recommender import Recommender
    from tests.engine.engine_markets import fast_params
    from training.synth import build_market

    market = build_market(300, 12, weeks=20, seed=1)
    ds = Dataset.from_frames(
        **{k: market.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )
    # a 40-week horizon from the May snapshot holds the 2027 festival's cut-off
    model = Recommender(**fast_params(), stay_weeks=40, festival_leave="learnt").fit(ds)
    assert model.festival_ is not None and model.festival_.counts_["festivals"] == ["2026-02-17"]
    keep = model.scorer.stay_keep
    assert keep is not None and 0.0 < keep.far < 1.0 and 0.0 < keep.near < 1.0
    ids = ds.workers["worker_id"].tolist()[:60]
    lists = model.recommend_many(ids, 5, reasons=False)
    assert len(lists)
    cat = model.catalogue
    wi = cat.wp.ids.get_indexer(lists["worker_id"])
    vi = cat.vp.ids.get_indexer(lists["vacancy_id"])
    scorer = model.scorer
    feats = scorer.pair_frame(cat, wi, vi)
    # every path's score is the ranker's times the festival's keep (and availability)
    np.testing.assert_allclose(lists["score"], scorer.score(feats), rtol=1e-9)
    plain = PairScorer(scorer.stages, scorer.ranker, scorer.stats).score(feats)
    far = feats["far"].to_numpy() > 0.5
    np.testing.assert_allclose(scorer.score(feats), plain * np.where(far, keep.far, keep.near))
    assert model.config.to_json()["festival_leave"] == "learnt"
    # without the measured departures the scorer has no festival factor
    model.festival_ = None
    assert model.scorer.stay_keep is None
