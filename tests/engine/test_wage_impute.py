"""A vacancy that posts no wage read by its peers' pay (``Recommender(wage_impute=
"peers")``): the reference's known answer and back-offs, the statistics that fit it only
when asked, the hire and stay covariates that read it (and the boosters, the apply stage
and the explanations that do not), and the config."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.data.dataset import Dataset
from matcher.models.config import ConfigError, RecommenderConfig
from matcher.models.features import (
    PAIR_COLUMNS,
    RANKER_COLUMNS,
    WAGE_RATIO_PEERS,
    PairStatistics,
    WageReference,
    occupation_keys,
)
from matcher.models.ranking import STAY_COVARIATES, hire_alone_covariates, stay_covariate_matrix
from matcher.serving.recommender import Recommender
from matcher.text.encoders import HashingEmbedder
from training.synth import generate_market

A, B = "6-18-02-04", "6-18-02-05"  # one minor group (6-18-02), two detailed codes
C = "2-02-07-01"  # another major group


def _keys(codes: list[str | None]) -> np.ndarray:
    return np.stack([occupation_keys(c) for c in codes])


def _reference() -> WageReference:
    rows = [
        (A, "factory", 3000.0),
        (A, "factory", 3200.0),
        (A, "factory", 9000.0),  # median 3200: one outlier moves it little
        (A, "transfer", 6000.0),  # two transfer peers of A: too few for its own median
        (A, "transfer", 6400.0),
        (B, "transfer", 5000.0),  # ... with B's: four in the minor group, median 5700
        (B, "transfer", 5400.0),
        (C, "transfer", np.nan),  # posts no wage: no peer of anything
        (None, "public", 1200.0),
        (None, "public", 1500.0),
        (None, "public", 1800.0),
    ]
    return WageReference().fit(
        np.array([r[2] for r in rows]),
        _keys([r[0] for r in rows]),
        np.array([r[1] for r in rows], dtype=object),
    )


def test_known_answer_and_back_offs():
    ref = _reference()
    got = ref.impute(
        _keys([A, A, B, C, C, None, "6-18-02-09"]),
        np.array(
            ["factory", "transfer", "transfer", "public", "infrastructure", "public", "transfer"],
            dtype=object,
        ),
    )
    np.testing.assert_allclose(
        got,
        [
            3200.0,  # A at factories: its own three peers
            5700.0,  # A by transfer: two peers only, the minor group's four
            5700.0,  # B by transfer: likewise
            1500.0,  # C on a public post: no coded peer, the channel's median
            4100.0,  # a channel without three peers: every posted wage's median
            1500.0,  # no code: the channel's
            5700.0,  # an unseen detailed code of the minor group
        ],
    )
    assert ref.overall_ == 4100.0  # the middle of the ten posted wages


def test_a_reference_without_any_posted_wage_imputes_nothing():
    ref = WageReference().fit(np.array([np.nan]), _keys([A]), np.array(["factory"], dtype=object))
    assert np.isnan(ref.impute(_keys([A]), np.array(["factory"], dtype=object))).all()


@pytest.fixture(scope="module")
def market() -> Dataset:
    f = generate_market(200, 16, weeks=10, seed=5)
    return Dataset.from_frames(f["workers"], f["employers"], f["vacancies"], f["events"])


def test_the_statistics_fit_the_reference_only_when_asked(market):
    assert PairStatistics().fit(market).wage_reference_ is None
    ref = PairStatistics().fit(market, wage_impute=True).wage_reference_
    assert isinstance(ref, WageReference)
    assert np.isfinite(ref.overall_) and ref.channels_


def test_the_reference_is_keyed_by_the_codes_the_pairs_read(market):
    """Vacancies without a published code enter the reference at the code the pair
    features give them (inferred from the title), not only at their channel's."""
    vac = market.vacancies
    assert C not in set(vac["occupation_code"].dropna())
    blank = vac["occupation_code"].isna().to_numpy()
    posts = (vac["wage_min"].notna() | vac["wage_max"].notna()).to_numpy()
    assert (blank & posts).sum() >= WageReference.min_peers
    inferred = [c if isinstance(c, str) else C for c in vac["occupation_code"]]
    ref = PairStatistics().fit(market, wage_impute=True, vacancy_codes=inferred).wage_reference_
    published = PairStatistics().fit(market, wage_impute=True).wage_reference_
    assert ref is not None and published is not None
    a_key = occupation_keys(C)[3]
    assert any(code == a_key for code, _ in ref.levels_[0])  # detailed level
    # the published codes' reference counts the blank-code vacancies at no code
    assert not any(code == a_key for code, _ in published.levels_[0])
    with pytest.raises(ValueError, match="vacancy_codes has 1 codes"):
        PairStatistics().fit(market, wage_impute=True, vacancy_codes=[A])


def test_a_model_keys_its_reference_by_its_own_vacancy_codes(market):
    model = Recommender(
        embedder=HashingEmbedder(), epochs=2, max_iter=15, n_clusters=4, wage_impute="peers"
    )
    codes = model.vacancy_codes(market.vacancies)
    assert model.fit_statistics(market).wage_reference_.levels_ == (
        PairStatistics().fit(market, wage_impute=True, vacancy_codes=codes).wage_reference_.levels_
    )
    plain = Recommender(embedder=HashingEmbedder(), wage_impute="none")
    assert plain.fit_statistics(market).wage_reference_ is None


def test_pairs_read_the_peers_wage_for_hire_and_stay_only(market):
    model = Recommender(
        embedder=HashingEmbedder(), epochs=2, max_iter=15, n_clusters=4, wage_impute="peers"
    ).fit(market)
    assert model.config.wage_impute == "peers"
    assert model.ranker_.wage_peers_
    ref = model.retrieval_.stats.wage_reference_
    assert isinstance(ref, WageReference)
    cat = model.catalogue
    vac = market.vacancies
    blank = vac["wage_min"].isna() & vac["wage_max"].isna()
    posted = vac["wage_min"].notna() & vac["wage_max"].notna()
    assert blank.any() and posted.any(), "the test market has no vacancy of one kind"
    worker = market.workers[market.workers["expected_wage"].notna()].iloc[0]
    vids = [vac.loc[blank, "vacancy_id"].iloc[0], vac.loc[posted, "vacancy_id"].iloc[0]]
    wi = cat.wp.ids.get_indexer([worker["worker_id"]] * 2)
    vi = cat.vp.ids.get_indexer(vids)
    values, _ = model.scorer.pair_values(cat, wi, vi)
    col = {name: j for j, name in enumerate(PAIR_COLUMNS)}
    expected = float(worker["expected_wage"])
    imputed = ref.impute(cat.vp.code_keys[vi[:1]], cat.vp.channel[vi[:1]])[0]
    row = vac.set_index("vacancy_id").loc[vids[1]]
    mid = (float(row["wage_min"]) + float(row["wage_max"])) / 2
    np.testing.assert_allclose(
        values[:, col[WAGE_RATIO_PEERS]], [imputed / expected, mid / expected]
    )
    # the boosters, the apply stage and the explanations read the posted wage only
    assert np.isnan(values[0, col["wage_ratio"]]) and np.isnan(values[0, col["offered_wage"]])
    assert values[1, col["wage_ratio"]] == pytest.approx(mid / expected)
    # the stay and hire covariates read the peers' pay, still flagged as not posted
    x = values[:, : len(RANKER_COLUMNS)]
    named = dict(zip(STAY_COVARIATES, stay_covariate_matrix(x, peers=True).T, strict=True))
    np.testing.assert_allclose(
        named["log_wage_ratio"], np.clip(np.log([imputed / expected, mid / expected]), -1, 1)
    )
    np.testing.assert_array_equal(named["wage_unknown"], [1.0, 0.0])
    plain = dict(zip(STAY_COVARIATES, stay_covariate_matrix(x).T, strict=True))
    assert plain["log_wage_ratio"][0] == 0.0 and plain["wage_unknown"][0] == 1.0
    hire = hire_alone_covariates(x, peers=True)
    np.testing.assert_array_equal(
        hire[:, 2 : 2 + len(STAY_COVARIATES)], stay_covariate_matrix(x, peers=True)
    )


def test_without_a_reference_the_peers_column_is_the_posted_ratio(market):
    model = Recommender(
        embedder=HashingEmbedder(), epochs=2, max_iter=15, n_clusters=4, wage_impute="none"
    )
    model.fit(market)
    assert model.retrieval_.stats.wage_reference_ is None and not model.ranker_.wage_peers_
    cat = model.catalogue
    wi = np.repeat(np.arange(3), 4)
    vi = np.tile(cat.open_pos[:4], 3)
    values, _ = model.scorer.pair_values(cat, wi, vi)
    col = {name: j for j, name in enumerate(PAIR_COLUMNS)}
    np.testing.assert_array_equal(values[:, col[WAGE_RATIO_PEERS]], values[:, col["wage_ratio"]])


def test_config():
    assert RecommenderConfig().wage_impute == "peers"  # the default since session 20
    # an artifact saved before the parameter existed reads as what it was trained with
    assert RecommenderConfig.from_json({}).wage_impute == "none"
    assert RecommenderConfig(wage_impute="peers").wage_impute == "peers"
    with pytest.raises(ConfigError, match="wage_impute"):
        RecommenderConfig(wage_impute="mean")
