"""The sample market's domain tables under matcher/data/ hold real, consistent codes."""

from __future__ import annotations

import numpy as np

from matcher.data import reference
from training.synth.tables import (
    CITY_INDUSTRIES,
    FACTORY_INDUSTRIES,
    days_from_spring_festival,
    load_tables,
    spring_festivals,
)


def test_counties_are_real_poverty_counties():
    c = load_tables().counties
    assert len(c) >= 40 and len(set(c.code)) == len(c.code)
    for code, name, province, prefecture in zip(
        c.code, c.name, c.province, c.prefecture, strict=True
    ):
        assert reference.is_known_region(code), code
        assert reference.regions()[code].name == name, (code, name)
        assert code[:2] + "0000" == province and code[:4] + "00" == prefecture
        assert reference.is_known_region(prefecture), prefecture
    named = dict(zip(c.code, c.name, strict=True))
    assert named["542427"] == "索县" and named["513431"] == "昭觉县"
    assert {"bo", "ii"} <= set(c.minority_language)
    tibet = c.province == "540000"
    assert (c.minority_language[tibet] == "bo").all()
    assert np.isclose(c.weight.sum(), 1.0)
    assert ((c.minority_share >= 0) & (c.minority_share <= 1)).all()


def test_catalogue_uses_real_csco_occupations():
    cat = load_tables().catalogue
    occupations = reference.occupations()
    assert 60 <= len(cat) <= 120 and len(set(cat.code)) == len(cat.code)
    for i, code in enumerate(cat.code):
        assert occupations[code].level == 4, code
        assert cat.aliases[i] and cat.skills[i] and cat.industries[i], code
        assert 0 < cat.wage_low[i] <= cat.wage_high[i] < 30_000, code
    assert "6-18-02-04" in set(cat.code) and "6-29-01-01" in set(cat.code)
    known = set(CITY_INDUSTRIES) | set(FACTORY_INDUSTRIES) | {"扶贫车间", "生态公益", "路桥水利"}
    used = {ind for inds in cat.industries for ind in inds}
    assert set(CITY_INDUSTRIES) | set(FACTORY_INDUSTRIES) <= used
    assert used <= known
    assert cat.light_work.any() and not cat.light_work.all()


def test_partner_provinces_and_cities():
    t = load_tables()
    assert all(reference.is_known_region(p) for p in t.provinces)
    assert np.allclose(t.partner_share.sum(axis=1), 1.0)
    pos = {p: i for i, p in enumerate(t.provinces)}
    codes = list(t.counties.code)
    # Liangshan is paired with Zhejiang, Guizhou with Guangdong, Ningxia with Fujian
    assert t.partner[codes.index("513431"), pos["330000"]]
    assert t.partner[codes.index("520526"), pos["440000"]]
    assert t.partner[codes.index("640422"), pos["350000"]]
    assert all(reference.is_known_region(c) for c in t.cities.code)
    partner_provinces = {t.provinces[j] for j in np.flatnonzero(t.partner.any(axis=0))}
    assert partner_provinces <= set(t.cities.province), "every partner province has a city"


def test_spring_festival_calendar():
    sf = spring_festivals()
    assert (np.diff(sf) > 0).all()
    assert days_from_spring_festival(np.datetime64("2026-02-17", "ns").astype(np.int64)) == 0
    assert days_from_spring_festival(np.datetime64("2026-02-10", "ns").astype(np.int64)) == -7


def test_small_markets_cover_few_counties_with_suo_county():
    from training.synth import generate_market

    small = generate_market(300, 10, weeks=2, seed=8)["workers"]
    assert small["home_region"].nunique() <= 7
    assert (small["home_region"] == "542427").any()
    big = generate_market(2400, 10, weeks=1, seed=8, with_events=False)["workers"]
    assert big["home_region"].nunique() > 50
