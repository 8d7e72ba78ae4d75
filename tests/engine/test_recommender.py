"""The Recommender: the shared contract for each stage, a known-answer market, the
cold-start refresh, the artifact version guard and explanations."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params, random_market, toy_market  # noqa: E402
from ranking_contract import RankingModelContract, ineligible_rows  # noqa: E402

from matcher.data.dataset import Dataset  # noqa: E402
from matcher.data.schema import Columns  # noqa: E402
from matcher.serving.recommender import (  # noqa: E402
    META_FILE,
    IncompatibleArtifactError,
    Recommender,
    UnknownIdError,
)

FAST = fast_params()


def fast_model(**overrides) -> Recommender:
    return Recommender(**{**FAST, **overrides})


class TestRecommenderFull(RankingModelContract):
    def make_model(self):
        return fast_model()


class TestRecommenderLightFMOnly(RankingModelContract):
    def make_model(self):
        return fast_model(stages="lightfm")


class TestRecommenderContentOnly(RankingModelContract):
    def make_model(self):
        return fast_model(stages="content")


# --------------------------------------------------------------------------- known answers


@pytest.fixture(scope="module")
def toy_model() -> tuple[Dataset, Recommender]:
    ds = toy_market()
    return ds, fast_model(epochs=10).fit(ds)


def test_known_answer_right_vacancy_ranks_first(toy_model):
    _, model = toy_model
    assert model.recommend("welder", k=3)[Columns.Vacancy].iloc[0] == "V_weld"
    assert model.recommend("newcook", k=3)[Columns.Vacancy].iloc[0] == "V_cook"
    # filled vacancies are never offered
    recs = model.recommend_many(["welder", "newcook", "weld0"], k=10)
    assert not {v for v in recs[Columns.Vacancy] if v.startswith("V_old")}


def test_known_answer_candidates_are_welders(toy_model):
    _, model = toy_model
    top = model.candidates("V_weld", k=12)[Columns.Worker].tolist()
    # the toy's welders were hired and most are still in that job: not looking for work
    # (matcher.models.availability), so a looking cook may rank above them; among the workers
    # who are looking, the welders come first
    factor = model.worker_availability(pd.Index(top))
    looking = [w for w, f in zip(top, factor, strict=True) if f >= 0.5]
    welders = [w for w in looking if w.startswith("weld")]
    assert len(welders) >= 2 and looking[: len(welders)] == welders
    assert model.candidates("V_old_weld0", k=5).empty, "a filled vacancy has no candidates"


def test_score_is_a_probability_and_reasons_quote_the_facts(toy_model):
    _, model = toy_model
    recs = model.recommend("welder", k=4)
    assert ((recs[Columns.Score] >= 0) & (recs[Columns.Score] <= 1)).all()
    first = recs.iloc[0]
    assert "有焊工经验" in first[Columns.Reasons]
    assert "包吃包住" in first[Columns.Reasons]
    en = model.recommend("welder", k=1, lang="en")
    assert "焊工 experience matches" in en[Columns.Reasons].iloc[0]
    assert any(
        "workers from your county were placed in 广东省" in r for r in en[Columns.Reasons].iloc[0]
    )


def test_explain_structured_both_languages(toy_model):
    ds, model = toy_model
    out = model.explain("welder", "V_weld")
    assert out["eligible"] is True and out["exclusions"] == []
    codes = [r["code"] for r in out["reasons"]]
    assert "occupation_exact" in codes
    assert all({"code", "zh", "en", "values"} <= set(r) for r in out["reasons"] + out["warnings"])
    assert set(out["stages"]) == {"apply", "hire", "stay"}
    assert out["score"] == pytest.approx(np.prod(list(out["stages"].values())))
    # a filled vacancy: not eligible, with the rule named
    closed = model.explain("welder", "V_old_weld0")
    assert closed["eligible"] is False
    assert "VACANCY_NOT_OPEN" in [e["code"] for e in closed["exclusions"]]
    with pytest.raises(UnknownIdError, match="nobody"):
        model.explain("nobody", "V_weld")


def test_pair_stages_give_what_explain_gives_for_many_pairs_at_once(toy_model):
    ds, model = toy_model
    workers = list(ds.workers["worker_id"])
    vacancies = list(ds.vacancies["vacancy_id"])
    pairs = [(w, v) for w in workers for v in vacancies]
    pairs += [("nobody", vacancies[0]), (workers[0], "V_nowhere")]
    out = model.pair_stages([w for w, _ in pairs], [v for _, v in pairs])
    assert list(out.columns) == ["worker_id", "vacancy_id", "score", "apply", "hire", "stay"]
    assert list(zip(out["worker_id"], out["vacancy_id"], strict=True)) == pairs
    for row in out.iloc[:-2].itertuples(index=False):
        one = model.explain(row.worker_id, row.vacancy_id)
        assert row.score == one["score"]
        assert (row.apply, row.hire, row.stay) == tuple(one["stages"].values())
    assert out.iloc[-2:, 2:].isna().all().all()
    with pytest.raises(ValueError, match="one vacancy per worker"):
        model.pair_stages(workers, vacancies[:1])


def test_warnings_for_missing_contract_insurance_and_arrears():
    ds = toy_market()
    v = ds.vacancies.copy()
    v.loc[v[Columns.Vacancy] == "V_weld", ["labor_contract", "social_insurance"]] = False
    ev = ds.events.copy()
    extra = pd.DataFrame(
        {
            Columns.Worker: ["weld0"],
            Columns.Vacancy: ["V_old_weld0"],
            Columns.Event: ["wage_arrears"],
            Columns.OccurredAt: [pd.Timestamp("2026-03-01")],
        }
    )
    ds2 = Dataset.from_frames(ds.workers, ds.employers, v, pd.concat([ev, extra]))
    model = fast_model().fit(ds2)
    codes = [w["code"] for w in model.explain("welder", "V_weld")["warnings"]]
    assert {"no_labor_contract", "no_social_insurance", "wage_arrears"} <= set(codes)
    zh = model.recommend("welder", k=5)
    row = zh[zh[Columns.Vacancy] == "V_weld"].iloc[0]
    assert "不签劳动合同" in row[Columns.Warnings]


# --------------------------------------------------------------------------- cold start


def test_refresh_serves_workers_and_vacancies_created_after_training():
    ds = random_market(11, n_workers=40, n_vacancies=30)
    cut = pd.Timestamp("2026-01-15")
    past = ds.until(cut)
    assert len(past.vacancies) < len(ds.vacancies)
    model = fast_model().fit(past)
    new_vacancies = set(ds.vacancies[Columns.Vacancy]) - set(past.vacancies[Columns.Vacancy])
    new_open = new_vacancies & set(ds.open_vacancies()[Columns.Vacancy])
    assert new_open
    model.refresh(ds)
    recs = model.recommend_many(list(ds.workers[Columns.Worker]), k=10)
    assert set(recs[Columns.Vacancy]) & new_open, "new vacancies must be recommendable"
    assert not ineligible_rows(ds, recs)
    some = sorted(new_open)[0]
    model.candidates(some, k=5)  # served, not refused
    # refresh keeps what was learned
    assert model.retrieval_.worker_space.vocabulary_ == model.retrieval_.worker_space.vocabulary_


# --------------------------------------------------------------------------- artifact


def test_load_refuses_another_artifact_version(tmp_path):
    ds = random_market(12)
    path = fast_model(stages="content").fit(ds).save(tmp_path / "m")
    meta = json.loads((path / META_FILE).read_text())
    meta["artifact_version"] = 999
    (path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(IncompatibleArtifactError, match="retrain with `jobmatch train`"):
        Recommender.load(path)
    with pytest.raises(FileNotFoundError, match="jobmatch train"):
        Recommender.load(tmp_path / "empty")


def test_estimator_contract():
    model = fast_model(n_candidates=50)
    params = model.get_params()
    assert params["n_candidates"] == 50 and params["stages"] == "full"
    clone = Recommender(**params)
    assert clone.get_params() == params
    assert not any(k.endswith("_") for k in vars(model)), "__init__ stores parameters only"
    with pytest.raises(ValueError, match="stages must be one of"):
        fast_model(stages="magic").fit(random_market(0))
    with pytest.raises(ValueError, match="no parameter"):
        model.set_params(n_candidate=3)


def test_ranker_fast_path_equals_calibrated_predict_proba():
    from matcher.models.ranking import STAGES, calibrated_probability, ranker_input

    ds = random_market(5, n_workers=80, n_vacancies=60, n_events=600)
    model = fast_model().fit(ds)
    feats = model.scorer.pair_frame(model.catalogue_, np.zeros(20, dtype=int), np.arange(20))
    learned = [s for s in STAGES if not isinstance(model.ranker_.stages_[s], float)]
    assert learned, "the random market must be large enough to learn a stage"
    for name in learned:
        stage = model.ranker_.stages_[name]
        x = model.ranker_.booster_input(ranker_input(feats))
        np.testing.assert_allclose(calibrated_probability(stage, x), stage.predict_proba(x)[:, 1])


# --------------------------------------------------------------------------- network features


def test_county_employer_ties_count_distinct_pairs_from_training_events():
    from matcher.models.features import PairStatistics

    ds = toy_market()
    stats = PairStatistics().fit(ds)
    ties = stats.ties_
    county = np.array(["542427", "542427", "110101"], dtype=object)
    employer = np.array(["E_factory", "E_hotel", "E_factory"], dtype=object)
    # 12 welders saw their own factory job, 12 cooks looked at one: 24 distinct pairs;
    # 10 welders applied and were hired; nobody from county 110101 was there
    np.testing.assert_array_equal(ties["views"].lookup(county, employer), [24, 24, 0])
    np.testing.assert_array_equal(ties["applied"].lookup(county, employer), [10, 10, 0])
    np.testing.assert_array_equal(ties["hired"].lookup(county, employer), [10, 10, 0])
    # applications by destination province (44 = Guangdong) and prefecture (4419 Dongguan)
    assert stats.province_applied_.lookup(county[:1], np.array([44]))[0] == 20
    assert stats.prefecture_applied_.lookup(county[:1], np.array(["4419"], object))[0] == 10
    # an unknown employer or county reads zero, never an error
    assert ties["views"].lookup(np.array(["999999"], object), np.array(["E_x"], object))[0] == 0


def test_referral_reason_quotes_hires_from_the_county(toy_model):
    _, model = toy_model
    out = model.explain("welder", "V_weld")
    reasons = {r["code"]: r for r in out["reasons"]}
    assert reasons["county_employer_hires"]["values"] == {"count": 10}
    assert out["features"]["tie_hired_log"] == pytest.approx(np.log1p(10))
    # the cleaning company hired nobody from the county: no such reason
    other = model.explain("welder", "V_clean")
    assert "county_employer_hires" not in [r["code"] for r in other["reasons"]]


def test_partner_provinces_prefecture_pairs_win_over_province_pairs():
    from matcher.models.features import partner_rows

    rows = partner_rows(np.array(["542427", "450102", "110101", None], dtype=object))
    # Nagqu (5424) is paired with Zhejiang (33) and Liaoning (21) at prefecture level
    assert rows[0, 33] == 3.0 and rows[0, 21] == 0.5
    assert rows[0].sum() == 3.5
    # a Guangxi county falls back to its province's pair with Guangdong (44)
    assert rows[1, 44] == 5.0
    # Beijing sends nobody under the programme; an unknown county reads zeros
    assert rows[2].sum() == 0 and rows[3].sum() == 0


def test_recalibrate_with_the_same_code_reproduces_the_fitted_scores():
    """recalibrate() fits the ranker's calibration again on the same slice and seed: with
    unchanged code the scores are those of fit (what bench/recalibration_bench.py relies
    on to measure a calibration change on a trained model). A small generated market
    with half its events as the slice, so that every stage and the joint map calibrate."""
    import copy

    from training.synth import build_market

    market = build_market(300, 12, weeks=20, seed=1)
    ds = Dataset.from_frames(
        **{k: market.frames[k] for k in ("workers", "employers", "vacancies", "events")}
    )
    model = fast_model(calibration_share=0.5).fit(ds)
    assert set(model.ranker_.calibrators_) == {"apply", "hire", "stay"}
    assert model.ranker_.joint_ is not None
    again = copy.deepcopy(model)
    again.ranker_.calibrators_ = {}  # forgotten: recalibrate must fit them again
    again.ranker_.joint_ = None
    again.recalibrate(ds)
    assert again.ranker_.calibration_counts_ == model.ranker_.calibration_counts_
    ids = ds.workers["worker_id"].tolist()
    before = model.recommend_many(ids, 5, reasons=False)
    after = again.recommend_many(ids, 5, reasons=False)
    pd.testing.assert_frame_equal(before, after)
    # the opt-in apply map with covariates: chosen by its out-of-fold loss on the slice,
    # scores still probabilities in [0, 1]
    from matcher.models.calibration import CovariateCalibrator, StageCalibrator

    again.set_params(apply_map="covariates").recalibrate(ds)
    counts = again.ranker_.calibration_counts_["apply"]
    chosen = type(again.ranker_.calibrators_["apply"])
    better = counts["oof covariates"] < 0.98 * counts["oof plain"]
    assert chosen is (CovariateCalibrator if better else StageCalibrator)
    scores = again.recommend_many(ids, 5, reasons=False)["score"]
    assert scores.between(0.0, 1.0).all()
    # the stay map on covariates: recalibrate fits it again on the same spells (the
    # booster's windows' and the slice's), so the scores come back the same
    from matcher.models.calibration import CovariateHazard

    stay = fast_model(calibration_share=0.5, stay_map="covariates").fit(ds)
    assert isinstance(stay.ranker_.calibrators_["stay"], CovariateHazard)
    again = copy.deepcopy(stay)
    again.ranker_.calibrators_ = {}
    again.ranker_.joint_ = None
    again.recalibrate(ds)
    assert again.ranker_.calibration_counts_ == stay.ranker_.calibration_counts_
    pd.testing.assert_frame_equal(
        stay.recommend_many(ids, 5, reasons=False), again.recommend_many(ids, 5, reasons=False)
    )


def test_recalibrate_refuses_a_model_without_a_calibration_slice():
    ds = toy_market()
    model = fast_model(epochs=2, calibration_share=0.0).fit(ds)
    with pytest.raises(ValueError, match="calibrated on a later slice"):
        model.recalibrate(ds)
