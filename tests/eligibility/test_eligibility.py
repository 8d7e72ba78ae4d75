"""Contracts of matcher.eligibility.rules: rule by rule known answers, and masks == exclusions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.data import reference
from matcher.data.dataset import normalise_frame
from matcher.data.schema import CONTRACT
from matcher.eligibility.rules import (
    DEFAULT_MAX_COMMUTE_KM,
    EligibilityIndex,
    Reason,
    beyond_commute,
    exclusions,
    is_eligible,
    is_light_work,
    light_work_codes,
)

SUO = "542427"  # 索县, Nagqu, Tibet
NAGQU = "542421"  # 那曲县, about 170 km from Suo County
LHASA = "540102"
DONGGUAN = "441900"
SHENZHEN = "440300"  # about 62 km from Dongguan
HUIZHOU = "441302"  # about 65 km from Dongguan
XICHANG = "513401"
ZHAOJUE = "513431"  # about 58 km from Xichang
AT = pd.Timestamp("2025-06-01")
WELDER = "6-18-02-04"
CLEANER = "4-09-08-01"
SEWING = "6-05-01-03"  # light through its minor group 6-05-01-00


def worker(**kw) -> dict:
    base = {
        "worker_id": "w1",
        "home_region": SUO,
        "mobility": "any",
        "labor_capacity": "full",
        "birth_year": 1990,
        "languages": ["zh", "bo"],
        "max_commute_km": None,
    }
    return {**base, **kw}


def vacancy(**kw) -> dict:
    base = {
        "vacancy_id": "v1",
        "employer_id": "e1",
        "title": "焊工",
        "region": DONGGUAN,
        "occupation_code": WELDER,
        "channel": "cross_province_transfer",
        "headcount": 5,
        "status": "open",
        "languages": [],
        "min_age": None,
        "max_age": None,
        "posted_at": pd.Timestamp("2025-01-01"),
        "closes_at": pd.Timestamp("2025-12-31"),
    }
    return {**base, **kw}


def codes(w, v, at=AT) -> list[str]:
    return [e.code.value for e in exclusions(w, v, at=at)]


# ----------------------------------------------------------------------------- mobility


def test_local_worker_in_suo_county_is_not_eligible_for_dongguan():
    out = exclusions(worker(mobility="local"), vacancy(), at=AT)
    assert [e.code for e in out] == [Reason.MOBILITY_LOCAL_DISTANCE]
    assert "2198" in out[0].message and "50" in out[0].message
    assert "东莞" in out[0].message


def test_local_mobility_uses_the_commute_radius():
    assert codes(worker(mobility="local"), vacancy(region=SUO)) == []
    assert codes(worker(mobility="local"), vacancy(region=NAGQU)) == ["MOBILITY_LOCAL_DISTANCE"]
    assert codes(worker(mobility="local", max_commute_km=200), vacancy(region=NAGQU)) == []
    # default 50 km: Zhaojue is ~58 km from Xichang
    assert DEFAULT_MAX_COMMUTE_KM == 50
    w = worker(home_region=XICHANG, mobility="local")
    assert codes(w, vacancy(region=ZHAOJUE)) == ["MOBILITY_LOCAL_DISTANCE"]
    assert codes({**w, "max_commute_km": 60.0}, vacancy(region=ZHAOJUE)) == []
    assert reference.distance_km(XICHANG, ZHAOJUE) == pytest.approx(58.1, abs=0.5)


def test_province_mobility():
    w = worker(mobility="province")
    assert codes(w, vacancy(region=DONGGUAN)) == ["MOBILITY_PROVINCE"]
    assert codes(w, vacancy(region=LHASA)) == []
    assert codes(worker(mobility="province", home_region=DONGGUAN), vacancy(region=SHENZHEN)) == []


def test_any_mobility_and_blank_mobility():
    assert codes(worker(mobility="any"), vacancy()) == []
    assert codes(worker(mobility=None), vacancy()) == []  # blank = any
    # blank mobility with a commute limit means local with that limit
    assert codes(worker(mobility=None, max_commute_km=30), vacancy()) == ["MOBILITY_LOCAL_DISTANCE"]


# ----------------------------------------------------------------------------- capacity


def test_semi_labour_not_eligible_for_welding_but_for_public_welfare_post():
    semi = worker(labor_capacity="semi")
    out = exclusions(semi, vacancy(), at=AT)
    assert [e.code for e in out] == [Reason.CAPACITY_NOT_LIGHT_WORK]
    assert "焊工" in out[0].message
    welfare = vacancy(channel="public_welfare_post", occupation_code=WELDER, region=SUO)
    assert codes(semi, welfare) == []
    assert codes(semi, vacancy(occupation_code=CLEANER)) == []  # light work


def test_weak_labour_light_work_covers_children_and_blank_code():
    weak = worker(labor_capacity="weak")
    assert codes(weak, vacancy(occupation_code=SEWING)) == []
    assert codes(weak, vacancy(occupation_code=None)) == ["CAPACITY_NOT_LIGHT_WORK"]
    assert codes(worker(labor_capacity="full"), vacancy(occupation_code=None)) == []
    assert codes(worker(labor_capacity=None), vacancy()) == []  # blank = full


def test_an_inferred_code_does_not_show_light_work():
    # the importer infers blank codes from the title (occupation_source = inferred); a guess
    # does not show the job is light enough for semi or weak labour, a given or corrected
    # code does. Full labour is not affected.
    weak = worker(labor_capacity="weak")
    guessed = vacancy(occupation_code=CLEANER, occupation_source="inferred")
    assert codes(weak, guessed) == ["CAPACITY_NOT_LIGHT_WORK"]
    out = exclusions(weak, guessed, at=AT)
    assert "推断" in out[0].message and "inferred" in out[0].message
    assert codes(worker(labor_capacity="full"), guessed) == []
    for source in ("given", "corrected", None):
        assert codes(weak, vacancy(occupation_code=CLEANER, occupation_source=source)) == []
    # an inferred heavy code keeps the plain message
    heavy = exclusions(weak, vacancy(occupation_code=WELDER, occupation_source="inferred"), at=AT)
    assert "焊工" in heavy[0].message and "推断" not in heavy[0].message
    # public-welfare posts stay open to them whatever the code's source
    welfare = vacancy(channel="public_welfare_post", region=SUO, occupation_source="inferred")
    assert codes(weak, welfare) == []
    # the index's masks agree with the exclusions
    frame = pd.DataFrame(
        [
            guessed,
            vacancy(vacancy_id="v2", occupation_code=CLEANER, occupation_source="given"),
            vacancy(vacancy_id="v3", occupation_code=CLEANER),
        ]
    )
    mask = EligibilityIndex().fit(frame).mask_for_worker(weak, at=AT)
    assert mask.tolist() == [False, True, True]


def test_light_work_table():
    listed = light_work_codes()
    assert all(c in reference.occupations() for c in listed)
    assert is_light_work(SEWING) and is_light_work("6-05-01-00")
    assert is_light_work("3-01-02-02")  # office work, through the major group 3
    assert not is_light_work(WELDER)
    assert not is_light_work("6-29-01-01")  # 砌筑工
    assert not is_light_work(None) and not is_light_work("not-a-code")
    text = reference.data_path("light_work.csv").read_text(encoding="utf-8")
    assert text.startswith("# Light work")


# ----------------------------------------------------------------------------- age, languages


def test_age_limits():
    v = vacancy(min_age=18, max_age=50)
    assert codes(worker(birth_year=1970), v) == ["AGE_ABOVE_MAX"]  # 55 in 2025
    assert codes(worker(birth_year=2009), v) == ["AGE_BELOW_MIN"]  # 16
    assert codes(worker(birth_year=2007), v) == []  # 18: limits are inclusive
    assert codes(worker(birth_year=1975), v) == []  # 50
    assert codes(worker(birth_year=None), v) == []  # unknown age is not held against anyone
    msg = exclusions(worker(birth_year=1970), v, at=AT)[0].message
    assert "55" in msg and "50" in msg and "1970" not in msg


def test_required_languages():
    v = vacancy(languages=["zh"])
    assert codes(worker(languages=["bo"]), v) == ["LANGUAGE_MISSING"]
    assert codes(worker(languages=["bo", "zh"]), v) == []
    assert codes(worker(languages=["ZH"]), v) == []
    assert codes(worker(languages=[]), vacancy(languages=[])) == []
    assert codes(worker(languages=[]), v) == ["LANGUAGE_MISSING"]
    assert codes(worker(languages="bo;zh"), vacancy(languages="zh;bo")) == []


# ----------------------------------------------------------------------------- vacancy state


def test_vacancy_state():
    w = worker()
    assert codes(w, vacancy(status="filled")) == ["VACANCY_NOT_OPEN"]
    assert codes(w, vacancy(status="closed")) == ["VACANCY_NOT_OPEN"]
    assert codes(w, vacancy(status=None)) == []
    assert codes(w, vacancy(headcount=0)) == ["VACANCY_NO_SEATS"]
    assert codes(w, vacancy(headcount=None)) == ["VACANCY_NO_SEATS"]
    assert codes(w, vacancy(closes_at=pd.Timestamp("2025-05-31"))) == ["VACANCY_CLOSED"]
    assert codes(w, vacancy(closes_at=AT)) == ["VACANCY_CLOSED"]  # closes at = closed
    assert codes(w, vacancy(posted_at=pd.Timestamp("2025-07-01"))) == ["VACANCY_NOT_YET_POSTED"]
    # without a time the date rules are not applied
    assert codes(w, vacancy(closes_at=pd.Timestamp("2000-01-01")), at=None) == []
    assert codes(w, vacancy(closes_at=pd.Timestamp("2025-05-31")), at="2025-05-01T00:00Z") == []


def test_several_reasons_in_fixed_order():
    w = worker(mobility="local", labor_capacity="weak", birth_year=1960, languages=["bo"])
    v = vacancy(status="filled", headcount=0, max_age=45, languages=["zh"])
    assert codes(w, v) == [
        "VACANCY_NOT_OPEN",
        "VACANCY_NO_SEATS",
        "MOBILITY_LOCAL_DISTANCE",
        "CAPACITY_NOT_LIGHT_WORK",
        "AGE_ABOVE_MAX",
        "LANGUAGE_MISSING",
    ]
    assert not is_eligible(w, v, at=AT)


def test_messages_carry_no_personal_data():
    w = worker(mobility="local", name="卓玛", phone="13800000000", id_number="540000199001011234")
    for e in exclusions(w, vacancy(max_age=20), at=AT):
        assert "卓玛" not in e.message and "138" not in e.message and "5400001990" not in e.message


# ----------------------------------------------------------------------------- the index


def _frame(rows: list[dict], table: str) -> pd.DataFrame:
    return normalise_frame(pd.DataFrame(rows), CONTRACT[table])


def test_index_on_normal_form_frames():
    vac = _frame(
        [
            vacancy(vacancy_id="far"),
            vacancy(vacancy_id="home-welfare", region=SUO, channel="public_welfare_post"),
            vacancy(vacancy_id="home-welder", region=SUO),
            vacancy(vacancy_id="filled", region=SUO, status="filled"),
        ],
        "vacancies",
    )
    wk = _frame(
        [worker(worker_id="semi-local", mobility="local", labor_capacity="semi"), worker()],
        "workers",
    )
    index = EligibilityIndex().fit(vac, wk)
    assert index.mask_for_worker(wk.iloc[0], at=AT).tolist() == [False, True, False, False]
    assert index.mask_for_worker(wk.iloc[1], at=AT).tolist() == [True, True, True, False]
    assert index.mask_for_vacancy(vac.iloc[0], at=AT).tolist() == [False, True]
    assert index.mask_for_vacancy(vac.iloc[1], wk, at=AT).tolist() == [True, True]
    pairs = index.pair_mask(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 3]), at=AT)
    assert pairs.tolist() == [False, True, True, False]
    assert index.pair_mask(np.array([], dtype=int), np.array([], dtype=int)).shape == (0,)
    with pytest.raises(ValueError, match="differ in shape"):
        index.pair_mask(np.array([0]), np.array([0, 1]))
    with pytest.raises(RuntimeError, match="not fitted"):
        EligibilityIndex().mask_for_worker(worker())
    with pytest.raises(ValueError, match="needs workers"):
        EligibilityIndex().fit(vac).pair_mask(np.array([0]), np.array([0]))


def test_mask_for_vacancy_with_a_language_no_indexed_vacancy_requires():
    vac = _frame([vacancy(languages=["zh"])], "vacancies")
    wk = _frame(
        [worker(worker_id="a", languages=["ug"]), worker(worker_id="b", languages=["zh"])],
        "workers",
    )
    index = EligibilityIndex().fit(vac, wk)
    needs_ug = vacancy(languages=["ug"])
    assert index.mask_for_vacancy(needs_ug, at=AT).tolist() == [True, False]


# ----------------------------------------------------------------------------- property

REGIONS = [SUO, NAGQU, LHASA, DONGGUAN, SHENZHEN, HUIZHOU, XICHANG, ZHAOJUE, "520102", "440000"]
OCCS = [WELDER, CLEANER, SEWING, "6-29-01-01", "3-01-02-02", "6-05-01-00", None]
LANGS = ["zh", "bo", "ii", "ug"]
DATES = [
    None,
    pd.Timestamp("2025-01-01"),
    AT,
    pd.Timestamp("2025-06-02"),
    pd.Timestamp("2026-01-01"),
]

workers_st = st.fixed_dictionaries(
    {
        "worker_id": st.just("w"),
        "home_region": st.sampled_from(REGIONS),
        "mobility": st.sampled_from(["any", "province", "local", None]),
        "max_commute_km": st.none() | st.sampled_from([0.0, 10.0, 50.0, 58.0, 62.0, 170.5, 3000.0]),
        "labor_capacity": st.sampled_from(["full", "semi", "weak", None]),
        "birth_year": st.none() | st.integers(1950, 2012),
        "languages": st.lists(st.sampled_from(LANGS), max_size=3, unique=True),
    }
)
vacancies_st = st.fixed_dictionaries(
    {
        "vacancy_id": st.just("v"),
        "employer_id": st.just("e"),
        "title": st.just("t"),
        "region": st.sampled_from(REGIONS),
        "occupation_code": st.sampled_from(OCCS),
        "channel": st.sampled_from(["public_welfare_post", "in_province", None]),
        "headcount": st.none() | st.integers(0, 3),
        "status": st.sampled_from(["open", "filled", "closed", None]),
        "languages": st.lists(st.sampled_from(LANGS), max_size=2, unique=True),
        "min_age": st.none() | st.integers(14, 40),
        "max_age": st.none() | st.integers(30, 70),
        "posted_at": st.sampled_from(DATES),
        "closes_at": st.sampled_from(DATES),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ws=st.lists(workers_st, min_size=1, max_size=6),
    vs=st.lists(vacancies_st, min_size=1, max_size=12),
    at=st.sampled_from([None, AT, pd.Timestamp("2025-01-01")]),
)
def test_masks_agree_with_exclusions(ws, vs, at):
    ws = [{**w, "worker_id": f"w{i}"} for i, w in enumerate(ws)]
    vs = [{**v, "vacancy_id": f"v{j}"} for j, v in enumerate(vs)]
    wk = _frame(ws, "workers")
    vac = _frame(vs, "vacancies")
    index = EligibilityIndex().fit(vac, wk)
    expected = np.array(
        [
            [not exclusions(wk.iloc[i], vac.iloc[j], at=at) for j in range(len(vac))]
            for i in range(len(wk))
        ]
    )
    for i in range(len(wk)):
        np.testing.assert_array_equal(index.mask_for_worker(wk.iloc[i], at=at), expected[i])
        np.testing.assert_array_equal(index.mask_for_worker(ws[i], at=at), expected[i])
    # every worker's mask at once (rule inputs encoded once): the same masks
    np.testing.assert_array_equal(index.masks_for_workers(wk, at=at), expected)
    np.testing.assert_array_equal(index.masks_for_workers(wk.iloc[::-1], at=at), expected[::-1])
    # some rows by position, read column by column (no row take): the same masks
    picked = np.arange(len(wk))[::-2]
    np.testing.assert_array_equal(
        index.masks_for_workers(wk, at=at, positions=picked), expected[picked]
    )
    for j in range(len(vac)):
        np.testing.assert_array_equal(index.mask_for_vacancy(vac.iloc[j], at=at), expected[:, j])
        np.testing.assert_array_equal(index.mask_for_vacancy(vs[j], wk, at=at), expected[:, j])
    wp, vp = np.meshgrid(np.arange(len(wk)), np.arange(len(vac)), indexing="ij")
    np.testing.assert_array_equal(
        index.pair_mask(wp.ravel(), vp.ravel(), at=at).reshape(expected.shape), expected
    )
    # segments (place and capacity rules) and the residual rules (age, language) per
    # pair give the same verdicts, for workers encoded without being indexed
    enc = index.encode_workers(wk)
    segment, reps = index.segments(enc)
    masks = index.segment_masks(enc, reps, at=at)
    residual = index.residual_ok(enc, wp.ravel(), vp.ravel(), at=at).reshape(expected.shape)
    np.testing.assert_array_equal(masks[segment] & residual, expected)
    np.testing.assert_array_equal(
        index.pair_mask_of(enc, wp.ravel(), vp.ravel(), at=at).reshape(expected.shape), expected
    )


@settings(max_examples=60, deadline=None)
@given(
    home=st.tuples(st.floats(-89.9, 89.9), st.floats(-180, 180)),
    points=st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=40),
    max_km=st.sampled_from([0.0, 1.0, 50.0, 300.0, 2000.0, 9000.0, 25000.0]),
    near=st.booleans(),
)
def test_distance_box_prefilter_equals_the_full_haversine(home, points, max_km, near):
    """The one-worker fast path (latitude/longitude box) never changes a distance verdict."""
    if near:  # points around the home, across the limit
        points = [(home[0] + a / 50.0, home[1] + b / 50.0) for a, b in points]
        points = [(max(-90.0, min(90.0, a)), ((b + 180) % 360) - 180) for a, b in points]
    lat = np.radians([p[0] for p in points])
    lon = np.radians([p[1] for p in points])
    home_lat, home_lon = np.radians([home[0]]), np.radians([home[1]])
    limit = np.array([max_km])
    np.testing.assert_array_equal(
        beyond_commute(home_lat, home_lon, limit, lat, lon, box=True),
        beyond_commute(home_lat, home_lon, limit, lat, lon),
    )


def test_beyond_commute_knows_a_distance():
    """One degree of latitude is about 111.2 km; an unknown place is never within."""
    lat = np.radians([31.0, 30.0, np.nan])
    lon = np.radians([120.0, 120.5, 120.0])
    home_lat, home_lon = np.radians([30.0]), np.radians([120.0])
    for box in (False, True):
        far = beyond_commute(home_lat, home_lon, np.array([110.0]), lat, lon, box=box)
        assert far.tolist() == [True, False, True]
        far = beyond_commute(home_lat, home_lon, np.array([112.0]), lat, lon, box=box)
        assert far.tolist() == [False, False, True]
