"""The domain tables the sample market is drawn from, as arrays.

All facts live in CSV tables under ``matcher/data/`` (loaded through
``matcher.data.reference.domain_table``): the poverty-alleviation counties workers come
from, the cities employers sit in, the east-west partner provinces that steer
transfers, and the occupation catalogue (CSCO 2022 codes with colloquial names,
skill phrases, certificates, wage bands). This module turns them into numpy
arrays indexed by position, once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pandas as pd

from matcher.data import reference
from matcher.data.schema import Channel

#: Employer kinds of the sample market and the vacancy channel each one posts in.
KIND_CHANNEL: dict[str, str] = {
    "destination": Channel.CROSS_PROVINCE_TRANSFER.value,
    "capital": Channel.IN_PROVINCE.value,
    "factory": Channel.EMPLOYMENT_FACTORY.value,
    "public": Channel.PUBLIC_WELFARE_POST.value,
    "infra": Channel.INFRASTRUCTURE_PROJECT.value,
}
KINDS: tuple[str, ...] = tuple(KIND_CHANNEL)

#: Industries the city employers (destination and capital) are drawn from, with weights.
CITY_INDUSTRIES: dict[str, float] = {
    "电子制造": 0.17,
    "机械制造": 0.12,
    "建筑施工": 0.12,
    "服装纺织": 0.07,
    "物流快递": 0.08,
    "餐饮": 0.07,
    "食品加工": 0.05,
    "新能源": 0.05,
    "鞋业": 0.04,
    "物业保洁": 0.05,
    "家政养老": 0.04,
    "装饰装修": 0.04,
    "酒店": 0.03,
    "零售": 0.03,
    "交通运输": 0.02,
    "家具": 0.02,
    "玩具": 0.02,
    "印刷包装": 0.01,
    "建材": 0.01,
    "生活服务": 0.01,
}
#: Industries of employment factories (就业帮扶车间) in the poverty counties.
FACTORY_INDUSTRIES: dict[str, float] = {
    "服装纺织": 0.3,
    "民族手工艺": 0.2,
    "食品加工": 0.2,
    "农业种养": 0.15,
    "鞋业": 0.05,
    "电子制造": 0.05,
    "玩具": 0.05,
}


def _split(value: str) -> list[str]:
    return [v.strip() for v in str(value).split(";") if v.strip()]


@dataclass(frozen=True)
class Counties:
    """Poverty-alleviation counties (``matcher/data/poverty_counties.csv``)."""

    code: np.ndarray  # str
    name: np.ndarray
    province: np.ndarray
    prefecture: np.ndarray
    minority_language: np.ndarray  # '' when none
    minority_share: np.ndarray
    mandarin_share: np.ndarray
    weight: np.ndarray  # normalised to 1

    def __len__(self) -> int:
        return len(self.code)


@dataclass(frozen=True)
class Cities:
    """Employer cities outside the poverty counties (``matcher/data/synth_cities.csv``)."""

    code: np.ndarray
    city: np.ndarray
    province: np.ndarray
    role: np.ndarray  # destination | capital
    weight: np.ndarray


@dataclass(frozen=True)
class Catalogue:
    """Occupations of the sample market (``matcher/data/occupation_catalogue.csv``)."""

    code: np.ndarray
    short: np.ndarray
    aliases: list[list[str]]
    skills: list[list[str]]
    certificates: list[list[str]]
    wage_low: np.ndarray
    wage_high: np.ndarray
    light_work: np.ndarray  # bool: light under the eligibility table (falls back to the hint)
    injury: np.ndarray  # 0..3
    female_share: np.ndarray
    entry: np.ndarray  # bool
    max_age: np.ndarray
    industries: list[list[str]]
    minor_group: np.ndarray  # int id of the CSCO minor group (first three parts of the code)

    def __len__(self) -> int:
        return len(self.code)

    def with_industry(self, industry: str) -> np.ndarray:
        """Positions of the occupations an industry posts."""
        return np.array([i for i, inds in enumerate(self.industries) if industry in inds], int)


@dataclass(frozen=True)
class Tables:
    counties: Counties
    cities: Cities
    catalogue: Catalogue
    #: provinces known to the market (origin and destination), index = province id
    provinces: np.ndarray
    #: (n_counties, n_provinces) historical share of a county's cross-province transfers
    partner_share: np.ndarray
    #: (n_counties, n_provinces) True where the province is an official partner of the county
    partner: np.ndarray


def _light_work(codes: list[str], hint: list[bool]) -> np.ndarray:
    """Light work as the eligibility rules see it, when that module is present."""
    try:
        from matcher.eligibility.rules import is_light_work
    except ImportError:  # pragma: no cover - only before the eligibility module existed
        return np.array(hint, bool)
    return np.array([bool(is_light_work(c)) for c in codes], bool)


@cache
def load_tables() -> Tables:
    """Load and index the domain tables (cached)."""
    c = reference.domain_table("poverty_counties.csv")
    counties = Counties(
        code=c["code"].to_numpy(str),
        name=c["name"].to_numpy(str),
        province=c["province"].to_numpy(str),
        prefecture=c["prefecture"].to_numpy(str),
        minority_language=c["minority_language"].to_numpy(str),
        minority_share=c["minority_share"].astype(float).to_numpy(),
        mandarin_share=c["mandarin_share"].astype(float).to_numpy(),
        weight=(w := c["weight"].astype(float).to_numpy()) / w.sum(),
    )
    ct = reference.domain_table("synth_cities.csv")
    cities = Cities(
        code=ct["code"].to_numpy(str),
        city=ct["city"].to_numpy(str),
        province=ct["province"].to_numpy(str),
        role=ct["role"].to_numpy(str),
        weight=ct["weight"].astype(float).to_numpy(),
    )
    o = reference.domain_table("occupation_catalogue.csv")
    codes = o["code"].tolist()
    groups = pd.factorize(pd.Series([code[:7] for code in codes]))[0]
    catalogue = Catalogue(
        code=np.array(codes, str),
        short=o["short"].to_numpy(str),
        aliases=[_split(v) for v in o["aliases"]],
        skills=[_split(v) for v in o["skills"]],
        certificates=[_split(v) for v in o["certificates"]],
        wage_low=o["wage_low"].astype(float).to_numpy(),
        wage_high=o["wage_high"].astype(float).to_numpy(),
        light_work=_light_work(codes, [v == "true" for v in o["light_work"]]),
        injury=o["injury"].astype(int).to_numpy(),
        female_share=o["female_share"].astype(float).to_numpy(),
        entry=(o["entry"] == "true").to_numpy(),
        max_age=o["max_age"].astype(int).to_numpy(),
        industries=[_split(v) for v in o["industries"]],
        minor_group=np.asarray(groups, int),
    )
    p = reference.domain_table("partner_provinces.csv")
    provinces = np.array(
        sorted(set(counties.province) | set(cities.province) | set(p["partner"])), str
    )
    prov_pos = {code: i for i, code in enumerate(provinces)}
    share = np.zeros((len(counties), len(provinces)))
    partner = np.zeros_like(share, bool)
    for i in range(len(counties)):
        # the most specific origin wins: prefecture rows over province rows
        rows = p[p["origin"] == counties.prefecture[i]]
        if rows.empty:
            rows = p[p["origin"] == counties.province[i]]
        for _, r in rows.iterrows():
            share[i, prov_pos[r["partner"]]] += float(r["weight"])
            partner[i, prov_pos[r["partner"]]] = True
    # every county also sends some people to the big importing provinces
    for big, base in (("440000", 1.0), ("330000", 0.6), ("320000", 0.5), ("350000", 0.4)):
        share[:, prov_pos[big]] += base
    share /= share.sum(axis=1, keepdims=True)
    return Tables(counties, cities, catalogue, provinces, share, partner)


def object_frame(columns: dict[str, object]) -> pd.DataFrame:
    """A DataFrame whose text and list columns are plain ``object`` (the Dataset normal form).

    pandas 3 would otherwise infer its arrow-backed string dtype, which the normal form
    then has to convert back, slowly, at a million rows.
    """
    out: dict[str, object] = {}
    for name, values in columns.items():
        if isinstance(values, pd.Series | pd.api.extensions.ExtensionArray) or (
            isinstance(values, np.ndarray) and values.dtype.kind not in "OUS"
        ):
            out[name] = values
            continue
        if isinstance(values, str):
            raise TypeError(f"column {name!r}: pass one value per row, not a scalar string")
        if isinstance(values, np.ndarray) and values.dtype == object:
            arr = values
        elif isinstance(values, np.ndarray):
            arr = values.astype(object)
        else:
            seq = list(values)  # type: ignore[call-overload]
            arr = np.empty(len(seq), object)
            for i, v in enumerate(seq):
                arr[i] = v
        out[name] = pd.Series(arr, dtype=object)
    return pd.DataFrame(out)


def spring_festivals() -> np.ndarray:
    """Spring Festival dates as int64 ns, sorted (:func:`matcher.data.reference.spring_festivals`)."""
    return reference.spring_festivals()


def days_from_spring_festival(t_ns: np.ndarray | int) -> np.ndarray:
    """Signed days from the nearest Spring Festival (negative before it)."""
    sf = spring_festivals()
    t = np.asarray(t_ns, np.int64)
    pos = np.clip(np.searchsorted(sf, t), 1, len(sf) - 1)
    before, after = sf[pos - 1], sf[pos]
    nearest = np.where(t - before < after - t, before, after)
    return (t - nearest) / (86_400 * 10**9)


#: (from day, to day, factor) relative to the Spring Festival: employers post few vacancies
#: around it and many in the recruitment peak after it (春风行动); job search pauses around
#: it and picks up afterwards.
POSTING_SEASON = ((-14, 7, 0.4), (7, 35, 1.8))
SEARCH_SEASON = ((-10, 7, 0.3), (7, 35, 1.4))


def season_factor(t_ns: np.ndarray | int, season: tuple[tuple[int, int, float], ...]) -> np.ndarray:
    d = days_from_spring_festival(t_ns)
    out = np.ones(np.shape(d))
    for lo, hi, factor in season:
        out = np.where((d >= lo) & (d < hi), factor, out)
    return out


#: Workers per county a market aims at: a small market covers a few counties (a pilot),
#: so that fellow villagers exist in it; 58 counties need about 2,300 workers.
WORKERS_PER_COUNTY = 40
MIN_COUNTIES = 6
#: Always in the market (the issue's example county).
SUO_COUNTY = "542427"


def select_counties(t: Tables, n_workers: int, rng: np.random.Generator) -> Tables:
    """The tables with only ``n_workers / 40`` counties drawing workers and home employers.

    Counties are drawn without replacement by weight, Suo County (542427) always among
    them; the others keep their rows but get weight 0.
    """
    n = len(t.counties)
    k = int(np.clip(n_workers // WORKERS_PER_COUNTY, MIN_COUNTIES, n))
    if k >= n:
        return t
    suo = int(np.flatnonzero(t.counties.code == SUO_COUNTY)[0])
    others = np.delete(np.arange(n), suo)
    p = t.counties.weight[others] / t.counties.weight[others].sum()
    chosen = np.r_[suo, rng.choice(others, size=k - 1, replace=False, p=p)]
    weight = np.zeros(n)
    weight[chosen] = t.counties.weight[chosen]
    counties = replace(t.counties, weight=weight / weight.sum())
    return replace(t, counties=counties)
