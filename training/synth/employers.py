"""Employers and their vacancies in the sample market.

Five kinds of employer, each posting in one channel: factories, builders and
service firms in the labour-importing east (``cross_province_transfer``), firms in
the origin provinces' capitals (``in_province``), employment factories in the
poverty counties (``employment_factory``), county bureaux offering public-welfare
posts (``public_welfare_post``) and road and water projects in the counties'
prefectures (``infrastructure_project``). A hidden share of employers is
*risky*: they pay late (``wage_arrears``) and lose people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matcher.data import reference
from training.synth.tables import (
    CITY_INDUSTRIES,
    FACTORY_INDUSTRIES,
    KIND_CHANNEL,
    KINDS,
    POSTING_SEASON,
    Tables,
    object_frame,
    season_factor,
)

KIND_SHARE = np.array([0.50, 0.12, 0.18, 0.10, 0.10])  # order of KINDS
#: share of public-welfare vacancies re-posted in the horizon's last weeks (a bureau fills a
#: post again when its holder's term ends or they leave, so some are open at any snapshot)
PUBLIC_REPOST_SHARE = 0.3
#: the re-posted ones are posted 1 to this many days before the horizon's end
PUBLIC_REPOST_DAYS = 21
_BRANDS = list(
    "鑫达宏泰恒通永盛华信立丰金源瑞祥嘉诚东升汇鸿新锐联创盈科富民兴旺德利宝安天成博远富康晟"
)
_SUFFIX = {
    "电子制造": "电子科技有限公司",
    "机械制造": "机械制造有限公司",
    "新能源": "新能源科技有限公司",
    "服装纺织": "服饰有限公司",
    "鞋业": "鞋业有限公司",
    "玩具": "玩具有限公司",
    "印刷包装": "包装制品有限公司",
    "家具": "家具有限公司",
    "建材": "陶瓷有限公司",
    "食品加工": "食品有限公司",
    "建筑施工": "建筑劳务有限公司",
    "装饰装修": "装饰工程有限公司",
    "物流快递": "物流有限公司",
    "交通运输": "运输有限公司",
    "餐饮": "餐饮管理有限公司",
    "酒店": "酒店管理有限公司",
    "物业保洁": "物业服务有限公司",
    "家政养老": "家政服务有限公司",
    "零售": "商贸有限公司",
    "生活服务": "美发店",
}
_TOWNS = list("新城北南东西河坝沟岭山塘桥口")
_TITLE_CITY = [
    "急招{a}包吃住月入{w}",
    "{a} 长白班 五险一金",
    "{c}{a} {lo}-{hi}元/月",
    "高薪诚聘{a}{n}名",
    "{c}{a}（包吃住）",
    "【{c}】{a}，月薪{k}k+",
    "{a}/{a2} 待遇从优",
    "招{a}，男女不限",
    "{a} 计件 多劳多得",
    "{a} 日结 工资当天结",
    "{a}（{n}人）包车接送 点对点",
    "点对点劳务输出：{c}{a}",
    "{c}大厂直招{a} 无中介费",
    "{a}{n}名 月入{w}+ 有宿舍",
    "{a} 两班倒 综合工资{lo}-{hi}",
    "{a}",
]
_TITLE_FACTORY = [
    "{county}就业帮扶车间招{a}",
    "家门口就业：{a}{n}名",
    "{a} 可带娃上班 计件工资",
    "{a}（车间在{town}乡）",
    "帮扶车间{a} 在家门口挣钱",
    "{a} 不限经验 包教包会",
]
_TITLE_PUBLIC = [
    "{county}{year}年{a}公益性岗位招聘",
    "公益岗：{a}（限脱贫户/监测户）",
    "{town}乡{a}{n}名",
    "乡村公益性岗位 {a}",
    "{county}{a}公益岗",
]
_TITLE_INFRA = [
    "{project}项目招{a}",
    "{a} 工地 日结{d}元",
    "{county}{project}急招{a}{n}人",
    "{a}（{project}）包吃住",
    "以工代赈：{project}招{a}",
]
_PROJECTS = ["乡村公路", "农村饮水", "易地搬迁安置点", "高标准农田", "水库除险加固", "通村路"]
#: words a title may only use when the vacancy offers it
_PERK_WORDS = ("包吃住", "包住", "有宿舍", "五险一金")
_NOISE = ["", "", "", "！！", "【急】", " 急", "（长期）", " 包住", "~", "（可预支）"]


@dataclass
class EmployerDraw:
    frame: pd.DataFrame
    kind: np.ndarray  # index into KINDS
    region: np.ndarray  # str code
    industry: np.ndarray  # str
    quality: np.ndarray  # hidden employer quality
    risky: np.ndarray  # hidden: pays late, loses people
    size: np.ndarray  # relative posting volume
    county: np.ndarray  # poverty-county position for home employers, -1 otherwise


@dataclass
class VacancyDraw:
    frame: pd.DataFrame  # headcount = seats posted, status open (fixed after events)
    employer: np.ndarray
    occupation: np.ndarray  # catalogue position (also for blank codes)
    channel: np.ndarray  # index into KINDS
    region: np.ndarray
    seats: np.ndarray
    wage_mid: np.ndarray  # NaN when not stated
    wage_offered: np.ndarray  # what a hire is actually paid (stated or not)
    language: np.ndarray  # required language, '' for none
    min_age: np.ndarray  # float, NaN when blank
    max_age: np.ndarray
    housing: np.ndarray
    meals: np.ndarray
    contract: np.ndarray
    insurance: np.ndarray
    posted_ns: np.ndarray
    closes_ns: np.ndarray  # int64; max for blank


def _weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def draw_employers(rng: np.random.Generator, m: int, t: Tables) -> EmployerDraw:
    cty, cities = t.counties, t.cities
    kind = rng.choice(len(KINDS), size=m, p=KIND_SHARE)
    region = np.empty(m, object)
    industry = np.empty(m, object)
    names = np.empty(m, object)
    county = np.full(m, -1)
    city_ind = np.array(list(CITY_INDUSTRIES), object)
    city_ind_p = np.array(list(CITY_INDUSTRIES.values()))
    fac_ind = np.array(list(FACTORY_INDUSTRIES), object)
    fac_ind_p = np.array(list(FACTORY_INDUSTRIES.values()))
    dest = np.flatnonzero(cities.role == "destination")
    cap = np.flatnonzero(cities.role == "capital")
    ints = rng.integers(0, 1 << 30, (m, 4))
    for i in range(m):
        k = KINDS[kind[i]]
        q = ints[i]
        brand = _BRANDS[q[0] % len(_BRANDS)] + _BRANDS[q[1] % len(_BRANDS)]
        if k in ("destination", "capital"):
            pool = dest if k == "destination" else cap
            c = pool[_weighted(rng, cities.weight[pool], 1)[0]]
            region[i] = cities.code[c]
            industry[i] = city_ind[_weighted(rng, city_ind_p, 1)[0]]
            names[i] = f"{cities.city[c]}市{brand}{_SUFFIX.get(industry[i], '有限公司')}"
        else:
            c = _weighted(rng, cty.weight, 1)[0]
            county[i] = c
            town = _TOWNS[q[2] % len(_TOWNS)] + _TOWNS[q[3] % len(_TOWNS)]
            if k == "factory":
                region[i] = cty.code[c]
                industry[i] = fac_ind[_weighted(rng, fac_ind_p, 1)[0]]
                names[i] = f"{cty.name[c]}{town}乡就业帮扶车间（{industry[i]}）"
            elif k == "public":
                region[i] = cty.code[c]
                industry[i] = "生态公益"
                office = ["人力资源和社会保障局", "林业和草原局", f"{town}乡人民政府", "水利局"][
                    q[0] % 4
                ]
                names[i] = f"{cty.name[c]}{office}"
            else:
                region[i] = cty.prefecture[c]
                industry[i] = "路桥水利"
                pref = reference.regions()[cty.prefecture[c]].name
                names[i] = f"{pref}{brand}路桥建设有限公司"
    quality = rng.normal(0, 1, m)
    verified = rng.random(m) < np.where(kind == 3, 1.0, 0.85)
    p_risky = np.array([0.10, 0.10, 0.05, 0.0, 0.15])[kind]
    p_risky = np.where(industry == "建筑施工", 0.25, p_risky) * np.where(verified, 1.0, 2.0)
    risky = rng.random(m) < p_risky
    quality = np.where(risky, quality - 1.0, quality)
    width = max(5, len(str(m)))
    frame = object_frame(
        {
            "employer_id": [f"E{i:0{width}d}" for i in range(1, m + 1)],
            "name": names,
            "region": region,
            "industry": industry,
            "verified": pd.array(verified, dtype="boolean"),
        }
    )
    size = rng.lognormal(0, 0.8, m)
    return EmployerDraw(frame, kind, region, industry, quality, risky, size, county)


def _title(
    rng_u: np.ndarray,
    q: np.ndarray,
    kind: str,
    alias: str,
    alias2: str,
    city: str,
    county: str,
    n: int,
    lo: float,
    hi: float,
    year: int,
    perks: set[str],
) -> str:
    if kind in ("destination", "capital"):
        pool = _TITLE_CITY
    elif kind == "factory":
        pool = _TITLE_FACTORY
    elif kind == "public":
        pool = _TITLE_PUBLIC
    else:
        pool = _TITLE_INFRA
    pool = [p for p in pool if all(word in perks for word in _PERK_WORDS if word in p)]
    tpl = pool[q[0] % len(pool)]
    lo_i = int(lo) if lo == lo else 4000
    hi_i = int(hi) if hi == hi else lo_i + 1000
    text = tpl.format(
        a=alias,
        a2=alias2,
        c=city,
        county=county,
        n=n,
        lo=lo_i,
        hi=hi_i,
        w=hi_i,
        k=max(1, hi_i // 1000),
        d=max(100, int(round(hi_i / 26, -1))),
        town=_TOWNS[q[1] % len(_TOWNS)],
        year=year,
        project=_PROJECTS[q[2] % len(_PROJECTS)],
    )
    if rng_u[0] < 0.3:
        noise = _NOISE[q[3] % len(_NOISE)]
        if all(word in perks for word in _PERK_WORDS if word in noise):
            text += noise
    return text


def draw_vacancies(
    rng: np.random.Generator,
    n_vac: int,
    emp: EmployerDraw,
    t: Tables,
    start: pd.Timestamp,
    weeks: int,
    seats_scale: float = 1.0,
) -> VacancyDraw:
    """Draw ``n_vac`` vacancies; ``seats_scale`` multiplies the seats each posts (at least 1)."""
    cat, cty = t.catalogue, t.counties
    m = len(emp.kind)
    employer = _weighted(rng, emp.size, n_vac) if m else np.zeros(0, int)
    order = np.argsort(employer, kind="stable")  # vacancies of an employer are adjacent
    employer = employer[order]
    kind = emp.kind[employer]
    # occupation: one of the codes the employer's industry posts
    occ = np.empty(n_vac, int)
    fac_codes = cat.with_industry("扶贫车间")
    cache: dict[tuple[int, str], np.ndarray] = {}
    u = rng.random(n_vac)
    for i in range(n_vac):
        k = int(kind[i])
        ind = str(emp.industry[employer[i]])
        key = (k, ind)
        if key not in cache:
            codes = cat.with_industry(ind)
            if KINDS[k] == "factory":
                both = np.intersect1d(codes, fac_codes)
                codes = both if len(both) else fac_codes
            if len(codes) == 0:
                codes = np.arange(len(cat))
            w = 1.0 + cat.entry[codes]
            cache[key] = np.stack([codes, np.cumsum(w) / w.sum()])
        codes_cum = cache[key]
        occ[i] = int(codes_cum[0][np.searchsorted(codes_cum[1], u[i], side="right")])
    # region: the employer's; infrastructure projects sit in a county of the prefecture
    region = emp.region[employer].astype(object)
    infra = np.flatnonzero(kind == 4)
    for j in infra:
        pref = str(emp.region[employer[j]])
        counties = np.flatnonzero(cty.prefecture == pref)
        region[j] = cty.code[counties[rng.integers(0, len(counties))]]
    # seats
    mean_seats = np.array([8.0, 4.0, 6.0, 3.0, 10.0])[kind]
    seats = 1 + rng.negative_binomial(1.2, 1.2 / (1.2 + mean_seats - 1), n_vac)
    seats = np.minimum(seats, 60)
    if seats_scale != 1.0:
        seats = np.clip(np.round(seats * seats_scale), 1, 60).astype(seats.dtype)
    # wages
    f = np.array([1.0, 0.82, 0.62, 1.0, 0.95])[kind]
    # public-welfare posts pay a subsidy (about 800-2,500 a month), whatever the trade
    f = np.where((kind == 3) & (cat.wage_high[occ] > 3500), 0.4, f)
    prem = rng.normal(0, 0.08, n_vac) + 0.04 * emp.quality[employer]
    lo = np.round(cat.wage_low[occ] * f * (1 + prem) * rng.uniform(0.9, 1.05, n_vac), -2)
    span = (cat.wage_high[occ] - cat.wage_low[occ]) * f * rng.uniform(0.5, 1.2, n_vac)
    hi = np.round(lo + span, -2)
    offered = (lo + hi) / 2
    no_wage = rng.random(n_vac) < 0.06
    only_min = ~no_wage & (rng.random(n_vac) < 0.04)
    wage_min = np.where(no_wage, np.nan, lo)
    wage_max = np.where(no_wage | only_min, np.nan, hi)
    wage_mid = np.where(no_wage, np.nan, np.where(only_min, lo * 1.1, offered))
    # risky employers advertise well and pay worse
    offered = offered * np.where(emp.risky[employer], 0.92, 1.0)
    # ages
    min_age = np.where(
        rng.random(n_vac) < 0.8, np.where(rng.random(n_vac) < 0.4, 16.0, 18.0), np.nan
    )
    max_age = cat.max_age[occ] + rng.choice([-5, 0, 0, 5], n_vac)
    max_age = np.where(kind == 3, 65, max_age).astype(float)
    max_age = np.where(rng.random(n_vac) < 0.25, np.nan, max_age)
    # required language
    home_county = np.full(n_vac, -1)
    code_pos = {str(c): j for j, c in enumerate(cty.code)}
    for j in np.flatnonzero(kind >= 2):
        home_county[j] = code_pos.get(str(region[j]), -1)
    minority = np.where(home_county >= 0, cty.minority_language[home_county], "")
    u = rng.random(n_vac)
    language = np.where(
        minority != "",
        np.where(u < 0.35, minority, np.where(u < 0.5, "zh", "")),
        np.where(u < 0.45, "zh", ""),
    ).astype(object)
    # amenities and terms
    housing = rng.random(n_vac) < np.array([0.75, 0.5, 0.05, 0.0, 0.8])[kind]
    meals = rng.random(n_vac) < np.array([0.7, 0.5, 0.3, 0.0, 0.8])[kind]
    q = emp.quality[employer]
    base_c = np.array([1.7, 1.4, 1.1, 3.0, 0.4])[kind]
    contract = rng.random(n_vac) < 1 / (1 + np.exp(-(base_c + 0.8 * q)))
    base_i = np.array([0.8, 0.4, -0.4, 0.4, -0.2])[kind]
    insurance = rng.random(n_vac) < 1 / (1 + np.exp(-(base_i + 0.8 * q + 1.0 * contract - 0.5)))
    # dates
    first = start - pd.Timedelta(days=21)
    last = start + pd.Timedelta(days=max(weeks * 7 - 7, 1))
    # posting days follow the season (few around the Spring Festival, a peak after it)
    day_ns = 86_400 * 10**9
    days = np.arange(first.value, last.value, day_ns, dtype=np.int64)
    weight = season_factor(days, POSTING_SEASON)
    day = rng.choice(len(days), size=n_vac, p=weight / weight.sum())
    posted_ns = (days[day] + (rng.uniform(0, 1, n_vac) * day_ns).astype(np.int64)) // 10**9 * 10**9
    dur_days = np.where(
        kind == 3,
        rng.choice([30, 45, 60], n_vac),
        rng.choice([28, 42, 56, 84, 112], n_vac, p=[0.15, 0.25, 0.25, 0.2, 0.15]),
    )
    closes_ns = posted_ns + dur_days.astype(np.int64) * 86400 * 10**9
    no_close = rng.random(n_vac) < 0.08
    # text
    titles = np.empty(n_vac, object)
    descs = np.empty(n_vac, object)
    req_skills = np.empty(n_vac, object)
    ints = rng.integers(0, 1 << 30, (n_vac, 6))
    uu = rng.random((n_vac, 4))
    city_of = dict(zip(t.cities.code, t.cities.city, strict=True))
    for i in range(n_vac):
        o = occ[i]
        qi = ints[i]
        al = cat.aliases[o]
        alias = al[qi[4] % len(al)]
        alias2 = al[(qi[4] + 1) % len(al)]
        reg = str(region[i])
        kname = KINDS[int(kind[i])]
        city = city_of.get(reg, "")
        county_name = reference.regions()[reg].name if reg in reference.regions() else ""
        titles[i] = _title(
            uu[i],
            qi,
            kname,
            alias,
            alias2,
            city,
            county_name,
            int(seats[i]),
            wage_min[i],
            wage_max[i],
            start.year,
            {
                word
                for word, ok in (
                    ("包吃住", housing[i] and meals[i]),
                    ("包住", housing[i]),
                    ("有宿舍", housing[i]),
                    ("五险一金", insurance[i]),
                )
                if ok
            },
        )
        sk = cat.skills[o]
        n_req = qi[5] % 3 if uu[i, 1] > 0.35 else 0
        req = [sk[(qi[5] + j) % len(sk)] for j in range(min(n_req, len(sk)))]
        req_skills[i] = req
        bits = [f"{emp.frame['name'].iat[employer[i]]}招聘{cat.short[o]}{seats[i]}名。"]
        if req:
            bits.append("要求：会" + "、".join(req) + "。")
        if not np.isnan(min_age[i]) and not np.isnan(max_age[i]):
            bits.append(f"年龄{int(min_age[i])}-{int(max_age[i])}岁。")
        elif not np.isnan(min_age[i]):
            bits.append(f"年满{int(min_age[i])}周岁。")
        elif not np.isnan(max_age[i]):
            bits.append(f"年龄{int(max_age[i])}岁以下。")
        if language[i] == "zh":
            bits.append("需会说普通话。")
        elif language[i] == "bo":
            bits.append("需会藏语。")
        elif language[i] == "ii":
            bits.append("需会彝语。")
        if not np.isnan(wage_min[i]):
            if np.isnan(wage_max[i]):
                bits.append(f"月薪{int(wage_min[i])}元起。")
            else:
                bits.append(f"月薪{int(wage_min[i])}-{int(wage_max[i])}元。")
        else:
            bits.append("工资面议。")
        perks = []
        if housing[i] and meals[i]:
            perks.append("包吃包住")
        elif housing[i]:
            perks.append("提供住宿")
        elif meals[i]:
            perks.append("包工作餐")
        if contract[i]:
            perks.append("签订劳动合同")
        if insurance[i]:
            perks.append("缴纳社保")
        if perks:
            bits.append("，".join(perks) + "。")
        if kname == "destination" and uu[i, 2] < 0.5:
            bits.append("东西部劳务协作岗位，统一组织包车返岗。")
        bits.append(f"工作地点：{reference.region_name(reg)}。")
        descs[i] = "".join(bits)
    code_blank = rng.random(n_vac) < 0.2
    # drawn last, so every other vacancy field is as it was before re-posting existed
    repost = (kind == 3) & (rng.random(n_vac) < PUBLIC_REPOST_SHARE)
    end_ns = (start + pd.Timedelta(weeks=weeks)).value
    back = (1 + rng.uniform(0, 1, n_vac) * (PUBLIC_REPOST_DAYS - 1)) * day_ns
    repost_ns = end_ns - back.astype(np.int64)
    posted_ns = np.where(repost, repost_ns // 10**9 * 10**9, posted_ns)
    closes_ns = posted_ns + dur_days.astype(np.int64) * 86400 * 10**9
    width = max(6, len(str(n_vac)))
    frame = object_frame(
        {
            "vacancy_id": [f"V{i:0{width}d}" for i in range(1, n_vac + 1)],
            "employer_id": emp.frame["employer_id"].to_numpy()[employer],
            "title": titles,
            "description": descs,
            "occupation_code": [
                None if b else str(c) for b, c in zip(code_blank, cat.code[occ], strict=True)
            ],
            "region": region,
            "headcount": pd.array(seats, dtype="Int64"),
            "wage_min": wage_min,
            "wage_max": wage_max,
            "required_skills": req_skills,
            "min_age": pd.array(min_age, dtype="Float64").astype("Int64"),
            "max_age": pd.array(max_age, dtype="Float64").astype("Int64"),
            "languages": [[x] if x else [] for x in language],
            "housing": pd.array(housing, dtype="boolean"),
            "meals": pd.array(meals, dtype="boolean"),
            "labor_contract": pd.array(contract, dtype="boolean"),
            "social_insurance": pd.array(insurance, dtype="boolean"),
            "channel": np.array([KIND_CHANNEL[k] for k in KINDS], object)[kind],
            "posted_at": pd.to_datetime(posted_ns).astype("datetime64[ns]"),
            "closes_at": pd.to_datetime(
                np.where(no_close, np.iinfo(np.int64).min, closes_ns)
            ).astype("datetime64[ns]"),
            "status": np.full(n_vac, "open", object),
        }
    )
    closes_eff = np.where(no_close, np.iinfo(np.int64).max, closes_ns)
    return VacancyDraw(
        frame=frame,
        employer=employer,
        occupation=occ,
        channel=kind,
        region=region.astype(str),
        seats=seats.astype(int),
        wage_mid=wage_mid,
        wage_offered=offered,
        language=language.astype(str),
        min_age=min_age,
        max_age=max_age,
        housing=housing,
        meals=meals,
        contract=contract,
        insurance=insurance,
        posted_ns=posted_ns.astype(np.int64),
        closes_ns=closes_eff.astype(np.int64),
    )
