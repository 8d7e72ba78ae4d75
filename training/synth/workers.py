"""Workers of the sample market: who they are, what they can do, where they will go.

Each worker is drawn with visible contract fields and hidden traits the behaviour
model uses (trade, experience, caregiving, job-search activity, staying power).
See ``docs/sample-market.md`` for the distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.synth.names import make_id_numbers, make_names, make_phones
from training.synth.tables import Tables, object_frame

EDUCATION = np.array(
    ["none", "primary", "junior_secondary", "senior_secondary", "vocational", "college"], object
)
# P(education) by age band (<30, 30-45, >45); minority-language speakers over 30 use the next band
_EDU_P = np.array(
    [
        [0.02, 0.10, 0.48, 0.18, 0.18, 0.04],
        [0.06, 0.25, 0.50, 0.10, 0.07, 0.02],
        [0.25, 0.45, 0.25, 0.04, 0.01, 0.00],
    ]
)
CAPACITY = np.array(["full", "semi", "weak"], object)
MOBILITY = np.array(["any", "province", "local"], object)
HOUSEHOLD = np.array(["none", "lifted", "monitored"], object)

#: where a trade was practised, for work-history lines
_PLACE = {
    "电子制造": ["电子厂", "电子科技公司", "手机厂"],
    "机械制造": ["机械厂", "五金厂", "模具厂"],
    "新能源": ["锂电池厂", "光伏厂"],
    "服装纺织": ["服装厂", "制衣厂", "纺织厂"],
    "鞋业": ["鞋厂"],
    "玩具": ["玩具厂"],
    "印刷包装": ["纸箱厂", "印刷厂"],
    "家具": ["家具厂"],
    "建材": ["陶瓷厂", "建材厂"],
    "食品加工": ["食品厂", "肉联厂", "茶厂"],
    "建筑施工": ["工地", "建筑公司", "劳务队"],
    "装饰装修": ["装修公司", "装修队"],
    "路桥水利": ["修路工地", "路桥公司", "水利工地"],
    "物流快递": ["物流园", "快递站点", "仓库"],
    "交通运输": ["运输公司", "车队", "汽修厂"],
    "餐饮": ["饭店", "餐馆", "食堂"],
    "酒店": ["酒店", "宾馆"],
    "物业保洁": ["物业公司", "保洁公司"],
    "家政养老": ["家政公司", "养老院", "医院"],
    "零售": ["超市", "商场"],
    "生活服务": ["理发店"],
    "农业种养": ["养殖场", "蔬菜基地", "农场"],
    "生态公益": ["村委会", "林业站"],
    "民族手工艺": ["合作社", "刺绣坊"],
    "扶贫车间": ["扶贫车间", "帮扶车间"],
}
#: standard deviation of the workers' latent staying power (on the log leave hazard)
STAYING_SD = 0.5
_PREFIX = np.array(["会", "熟悉", "擅长", "做过", "", "懂", "能做"], object)
_SEP = np.array(["、", "，", " ", "；", "、"], object)
_GENERIC = [
    "能吃苦耐劳",
    "服从安排",
    "能适应倒班",
    "会骑电动车",
    "身体健康",
    "能长期干",
    "想进厂",
    "什么活都能干",
    "愿意学技术",
]


@dataclass
class WorkerDraw:
    """Workers as a contract frame plus the hidden traits the behaviour model reads."""

    frame: pd.DataFrame
    county: np.ndarray  # index into Tables.counties
    age: np.ndarray
    female: np.ndarray
    capacity: np.ndarray  # 0 full, 1 semi, 2 weak
    mobility: np.ndarray  # 0 any, 1 province, 2 local
    commute_km: np.ndarray  # effective radius for local workers (50 when blank)
    speaks_zh: np.ndarray
    minority: np.ndarray  # minority language spoken, '' for none
    trade1: np.ndarray  # catalogue position, -1 for none
    trade2: np.ndarray
    experience: np.ndarray  # years in trade1
    certified: np.ndarray  # holds a certificate of trade1
    expected_wage: np.ndarray
    household_status: np.ndarray  # 0 none, 1 lifted, 2 monitored
    household: np.ndarray  # int id
    group: np.ndarray  # int id, -1 for none
    registered_ns: np.ndarray  # int64 ns since epoch
    caregiver: np.ndarray
    activity: np.ndarray  # job-search intensity, 0..1
    staying: np.ndarray  # latent staying power (negative: leaves sooner)
    preferred_provinces: np.ndarray  # (n, n_provinces) bool
    birth_year: np.ndarray


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random((len(probs), 1))
    return (u > cum).sum(axis=1)


def _choice_by_group(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """For each row, a draw from ``probs[group[row]]`` (few distinct groups, many rows)."""
    out = np.empty(len(group), int)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        p = probs[g] / probs[g].sum()
        out[rows] = rng.choice(len(p), size=len(rows), p=p)
    return out


def _trade_weights(t: Tables) -> np.ndarray:
    """P(trade) for each stratum (female, age band, light-only, local, language group)."""
    cat = t.catalogue
    k = len(cat)
    ind = cat.industries
    home_ind = {"扶贫车间", "生态公益", "农业种养", "民族手工艺"}
    at_home = np.array([bool(home_ind & set(i)) for i in ind])
    city_only = ~at_home
    construction = np.array([bool({"建筑施工", "路桥水利"} & set(i)) for i in ind])
    ecology = np.array(["生态公益" in i or "农业种养" in i for i in ind])
    electronics = np.array([bool({"电子制造", "服装纺织", "鞋业"} & set(i)) for i in ind])
    out = np.zeros((2, 3, 2, 2, 3, k))
    for female in (0, 1):
        g = cat.female_share if female else 1 - cat.female_share
        for band, rep_age in enumerate((28, 42, 56)):
            a = np.where(rep_age > cat.max_age - 3, 0.15, 1.0)
            for light in (0, 1):
                cap = np.where(cat.light_work, 1.0, 0.0) if light else np.ones(k)
                for local in (0, 1):
                    loc = np.where(at_home, 3.0, np.where(city_only, 0.3, 1.0)) if local else 1.0
                    for lang in range(3):  # 0 other, 1 bo, 2 ii
                        r = np.ones(k)
                        if lang == 1:
                            r = np.where(construction, 2.0, np.where(ecology, 2.0, r))
                            r = np.where(electronics, 0.5, r)
                        elif lang == 2:
                            r = np.where(construction, 1.6, np.where(electronics, 1.3, r))
                        base = 1.0 + cat.entry
                        w = base * (0.05 + g) * a * cap * loc * r
                        if w.sum() == 0:
                            w = base * cap + 1e-9
                        out[female, band, light, local, lang] = w / w.sum()
    return out.reshape(-1, k)


def draw_workers(
    rng: np.random.Generator,
    n: int,
    t: Tables,
    start: pd.Timestamp,
    weeks: int,
    registered_before: float = 0.6,
) -> WorkerDraw:
    """Draw ``n`` workers (see the module docstring).

    ``registered_before`` is the share registered before the horizon (up to 540 days
    earlier); the others register during it (cold-start workers when the model is trained).
    """
    cty = t.counties
    cat = t.catalogue
    # ---- households: 1-3 people of one county and village
    sizes = rng.choice([1, 2, 3], size=n, p=[0.72, 0.20, 0.08])
    hh_of = np.repeat(np.arange(n), sizes)[:n]
    n_hh = int(hh_of[-1]) + 1 if n else 0
    pos_in_hh = np.arange(n) - np.searchsorted(hh_of, hh_of)
    hh_county = rng.choice(len(cty), size=n_hh, p=cty.weight)
    county = hh_county[hh_of]
    per_county = np.bincount(hh_county, minlength=len(cty))
    n_villages = np.maximum(1, per_county // 60)
    hh_village = (rng.random(n_hh) * n_villages[hh_county]).astype(int)
    village = hh_village[hh_of]
    hh_status = rng.choice(3, size=n_hh, p=[0.30, 0.58, 0.12])
    household_status = hh_status[hh_of]

    # ---- age and gender; second member: spouse, third: grown-up child
    head_age = np.clip(np.round(rng.normal(40, 11, n_hh)), 22, 65).astype(int)
    head_female = rng.random(n_hh) < 0.4
    age = head_age[hh_of].copy()
    female = head_female[hh_of].copy()
    second = pos_in_hh == 1
    age[second] += rng.integers(-5, 4, second.sum())
    female[second] = ~female[second] ^ (rng.random(second.sum()) < 0.1)
    third = pos_in_hh == 2
    age[third] = np.maximum(18, age[third] - rng.integers(20, 28, third.sum()))
    female[third] = rng.random(third.sum()) < 0.45
    young = rng.random(n) < 0.18  # extra young single job seekers
    age[young & (pos_in_hh == 0)] = rng.integers(18, 26, (young & (pos_in_hh == 0)).sum())
    age = np.clip(age, 18, 65)
    gender = np.where(female, "F", "M").astype(object)
    odd = rng.random(n)
    gender[odd < 0.002] = "other"
    gender[(odd >= 0.002) & (odd < 0.006)] = "unknown"
    birth_year = start.year - age

    # ---- languages
    minority_lang = cty.minority_language[county]
    speaks_min = (minority_lang != "") & (rng.random(n) < cty.minority_share[county])
    p_zh = np.clip(cty.mandarin_share[county] + (38 - age) * 0.018, 0.05, 0.99)
    speaks_zh = ~speaks_min | (rng.random(n) < p_zh)
    minority = np.where(speaks_min, minority_lang, "")

    # ---- education
    band = np.digitize(age, [30, 46])
    band = np.where(speaks_min & (age >= 30), np.minimum(band + 1, 2), band)
    edu = _categorical(rng, _EDU_P[band])
    edu = np.where(~speaks_zh & (edu > 2), 1, edu)

    # ---- caregivers, capacity, mobility
    caregiver = (female & (age >= 22) & (age <= 42) & (rng.random(n) < 0.45)) | (
        rng.random(n) < 0.05
    )
    over45 = np.maximum(0, age - 45)
    p_semi = 0.04 + 0.02 * over45 + 0.12 * caregiver  # caregivers often count as half labour
    p_weak = 0.01 + 0.015 * np.maximum(0, age - 55)
    u = rng.random(n)
    capacity = np.where(u < p_weak, 2, np.where(u < p_weak + p_semi, 1, 0))
    p_local = np.clip(
        0.12 + 0.55 * caregiver + 0.02 * over45 + 0.5 * (capacity > 0) + 0.1 * ~speaks_zh,
        0,
        0.95,
    )
    u = rng.random(n)
    p_prov = np.where(speaks_zh, 0.25, 0.6)
    mobility = np.where(u < p_local, 2, np.where(rng.random(n) < p_prov, 1, 0))
    commute = np.where(
        mobility == 2,
        rng.choice([10.0, 20.0, 30.0, 50.0, 80.0], n, p=[0.1, 0.25, 0.25, 0.3, 0.1]),
        np.nan,
    )
    blank_commute = (mobility == 2) & (rng.random(n) < 0.15)
    commute[blank_commute] = np.nan
    commute_eff = np.where(np.isnan(commute), 50.0, commute)

    # ---- trades
    lang_group = np.where(minority == "bo", 1, np.where(minority == "ii", 2, 0))
    stratum = (
        ((female.astype(int) * 3 + np.digitize(age, [35, 51])) * 2 + (capacity > 0)) * 2
        + (mobility == 2)
    ) * 3 + lang_group
    weights = _trade_weights(t)
    trade1 = _choice_by_group(rng, stratum, weights)
    trade2 = _choice_by_group(rng, stratum, weights)
    has_trade = rng.random(n) < np.where(age < 22, 0.45, 0.85)
    trade1 = np.where(has_trade, trade1, -1)
    trade2 = np.where(has_trade & (rng.random(n) < 0.35) & (trade2 != trade1), trade2, -1)
    experience = np.where(
        has_trade, np.minimum(age - 17, np.ceil(rng.gamma(2.0, 2.5, n))).astype(int), 0
    )
    experience = np.maximum(experience, np.where(has_trade, 1, 0))

    # ---- historical destinations (county networks) for history and preferences
    hist_prov = _choice_by_group(rng, county, t.partner_share)
    hist_prov2 = _choice_by_group(rng, county, t.partner_share)
    cities_by_prov: dict[int, list[str]] = {}
    prov_pos = {p: i for i, p in enumerate(t.provinces)}
    for code, city in zip(t.cities.province, t.cities.city, strict=True):
        cities_by_prov.setdefault(prov_pos[code], []).append(city)
    for i in range(len(t.provinces)):
        cities_by_prov.setdefault(i, [])

    # ---- expected wage
    mid = np.where(trade1 >= 0, (cat.wage_low[trade1] + cat.wage_high[trade1]) / 2, 4800.0)
    factor = np.array([1.0, 0.8, 0.55])[mobility]
    expected = np.round(mid * factor * rng.lognormal(0, 0.15, n), -2)
    expected = np.maximum(expected, 800.0)

    # ---- preferred regions
    pref = np.zeros((n, len(t.provinces)), bool)
    pref_any1 = (mobility == 0) & (rng.random(n) < 0.55)
    pref[pref_any1, hist_prov[pref_any1]] = True
    pref_any2 = pref_any1 & (rng.random(n) < 0.3)
    pref[pref_any2, hist_prov2[pref_any2]] = True
    home_prov_idx = np.array([prov_pos[p] for p in cty.province])[county]
    pref_prov = (mobility == 1) & (rng.random(n) < 0.5)
    pref[pref_prov, home_prov_idx[pref_prov]] = True
    pref_local = (mobility == 2) & (rng.random(n) < 0.3)

    # ---- registration times
    before = rng.random(n) < registered_before
    days = np.where(before, -rng.uniform(1, 540, n), rng.uniform(0, max(weeks, 1) * 7 - 0.5, n))
    day_start = np.floor(days)
    seconds = rng.integers(8 * 3600, 18 * 3600, n)
    registered_ns = (
        start.value + (day_start * 86400).astype(np.int64) * 10**9 + seconds * 10**9
    ).astype(np.int64)

    # ---- groups: villagers who travel together
    cand = (mobility == 0) & (capacity == 0) & (age <= 50) & (rng.random(n) < 0.25)
    group = np.full(n, -1)
    idx = np.flatnonzero(cand)
    if len(idx):
        key = county[idx] * 10_000 + village[idx]
        order = np.argsort(key, kind="stable")
        idx, key = idx[order], key[order]
        first = np.r_[True, key[1:] != key[:-1]]
        key_id = np.cumsum(first) - 1
        rank = np.arange(len(idx)) - np.flatnonzero(first)[key_id]
        size = rng.integers(3, 11, key_id.max() + 1)[key_id]
        gkey = key_id * 1000 + rank // size
        gid, gsize = np.unique(gkey, return_inverse=True)[1], None
        gsize = np.bincount(gid)
        keep = gsize[gid] >= 3
        gid_kept = np.unique(gid[keep], return_inverse=True)[1]
        group[idx[keep]] = gid_kept

    # group members registered together (a village registration drive) and mostly wait for
    # the organised transfer rather than search alone
    in_group = group >= 0
    if in_group.any():
        first_reg = pd.Series(registered_ns[in_group]).groupby(group[in_group]).transform("min")
        registered_ns[in_group] = (
            first_reg.to_numpy() + rng.integers(0, 3600, in_group.sum()) * 10**9
        )
    activity = rng.beta(2.0, 2.0, n) * np.where(in_group, 0.5, 1.0)

    # ---- text fields and lists (vectorised over workers; object arrays of str)
    languages = np.empty(n, object)
    prefs = np.empty(n, object)
    prov_codes = t.provinces
    skills_txt = _skills_text(rng, cat, trade1, trade2, experience, speaks_zh)
    history_txt = _history_text(
        rng,
        t,
        cities_by_prov,
        trade1,
        trade2,
        experience,
        age,
        mobility,
        county,
        hist_prov,
        hist_prov2,
        start.year,
    )
    certs, certified = _certificates(rng, cat, trade1, female)

    # languages: minority language first, then Mandarin
    combo = pd.factorize(pd.Series(minority) + np.where(speaks_zh, "|zh", ""))
    combo_lists = [[x for x in c.split("|") if x] for c in combo[1]]
    for i, c in enumerate(combo[0]):
        languages[i] = list(combo_lists[c])
    # preferred regions: provinces, then the home prefecture for local workers
    for i in range(n):
        prefs[i] = []
    rows, cols = np.nonzero(pref)
    for r, c in zip(rows, cols, strict=True):
        prefs[r].append(str(prov_codes[c]))
    for r in np.flatnonzero(pref_local):
        prefs[r].append(str(cty.prefecture[county[r]]))
    names = make_names(rng, female, minority)
    phones = make_phones(rng, n)
    id_numbers = make_id_numbers(rng, cty.code[county], birth_year, female)
    width = max(7, len(str(n)))
    frame = object_frame(
        {
            "worker_id": [f"W{i:0{width}d}" for i in range(1, n + 1)],
            "name": names,
            "phone": phones,
            "id_number": id_numbers,
            "gender": gender,
            "birth_year": pd.array(birth_year, dtype="Int64"),
            "home_region": cty.code[county].astype(object),
            "education": EDUCATION[edu],
            "languages": languages,
            "skills": skills_txt,
            "work_history": history_txt,
            "certificates": certs,
            "labor_capacity": CAPACITY[capacity],
            "mobility": MOBILITY[mobility],
            "max_commute_km": commute.astype("float64"),
            "preferred_regions": prefs,
            "expected_wage": expected.astype("float64"),
            "household_status": HOUSEHOLD[household_status],
            "group_id": [f"G{g + 1:06d}" if g >= 0 else None for g in group],
            "registered_at": pd.Series(pd.to_datetime(registered_ns)).dt.floor("s"),
            "household_id": [f"H{h + 1:0{width}d}" for h in hh_of],
        }
    )
    return WorkerDraw(
        frame=frame,
        county=county,
        age=age,
        female=female,
        capacity=capacity,
        mobility=mobility,
        commute_km=commute_eff,
        speaks_zh=speaks_zh,
        minority=minority,
        trade1=trade1,
        trade2=trade2,
        experience=experience,
        certified=certified,
        expected_wage=expected,
        household_status=household_status,
        household=hh_of,
        group=group,
        registered_ns=(registered_ns // 10**9) * 10**9,
        caregiver=caregiver,
        activity=activity,
        staying=rng.normal(0, STAYING_SD, n),
        preferred_provinces=pref,
        birth_year=birth_year,
    )


def _ragged(lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten lists of str: (flat object array, offset per list, length per list)."""
    counts = np.array([len(x) for x in lists], int)
    offsets = np.r_[0, np.cumsum(counts)[:-1]].astype(int)
    flat = np.array([v for x in lists for v in x] or [""], object)
    return flat, offsets, counts


def _pick(flat: np.ndarray, offsets: np.ndarray, counts: np.ndarray, k: np.ndarray, q: np.ndarray):
    """Element ``q mod count`` of list ``k`` for every row ('' where the list is empty)."""
    cnt = counts[k]
    idx = np.minimum(offsets[k] + q % np.maximum(cnt, 1), len(flat) - 1)
    return np.where(cnt > 0, flat[idx], "").astype(object)


def _text(values: np.ndarray) -> np.ndarray:
    return values.astype(str).astype(object)


def _skills_text(rng, cat, trade1, trade2, experience, speaks_zh) -> np.ndarray:
    """What workers write under skills: 1-3 phrases of their trade with a prefix (会, 熟悉 ..),
    sometimes years of experience, a phrase of the second trade, a generic phrase."""
    n = len(trade1)
    has = trade1 >= 0
    t1, t2 = np.maximum(trade1, 0), np.maximum(trade2, 0)
    sk = _ragged(cat.skills)
    al = _ragged(cat.aliases)
    q = rng.integers(0, 1 << 30, (n, 7))
    r = rng.random((n, 4))
    cnt = sk[2][t1]
    m = 1 + q[:, 0] % np.minimum(3, cnt)
    st = q[:, 1] % cnt
    sep = _SEP[q[:, 6] % len(_SEP)]
    txt = _PREFIX[q[:, 2] % len(_PREFIX)] + _pick(*sk, t1, st)
    for j in (1, 2):
        txt = np.where(m > j, txt + sep + _pick(*sk, t1, st + j), txt)
    years = _text(experience) + "年" + _pick(*al, t1, q[:, 3]) + "经验"
    txt = np.where(r[:, 0] < 0.35, txt + sep + years, txt)
    txt = np.where(trade2 >= 0, txt + sep + _pick(*sk, t2, q[:, 4]), txt)
    txt = np.where(has, txt, "").astype(object)
    generic = np.array(_GENERIC, object)[q[:, 5] % len(_GENERIC)]
    for add, phrase in (
        (r[:, 1] < np.where(has, 0.3, 0.7), generic),
        (~speaks_zh & (r[:, 2] < 0.5), np.full(n, "普通话不太会", object)),
    ):
        txt = np.where(add, np.where(txt == "", phrase, txt + sep + phrase), txt)
    blank = (r[:, 3] < 0.06) | (~has & (r[:, 3] < 0.35)) | (txt == "")
    out = np.asarray(txt, object).copy()
    out[blank] = None
    return out


def _history_text(
    rng,
    t,
    cities_by_prov,
    trade1,
    trade2,
    experience,
    age,
    mobility,
    county,
    hist_prov,
    hist_prov2,
    year0,
) -> np.ndarray:
    """Work-history lines "2019-2022 东莞电子厂 普工" joined by "；" (1-3 jobs by experience),
    in the home county or a city of the county's historical destination provinces."""
    cat = t.catalogue
    n = len(trade1)
    has = trade1 >= 0
    places = [
        list(dict.fromkeys(p for ind in inds for p in _PLACE.get(ind, ["工厂"])))
        for inds in cat.industries
    ]
    pl = _ragged(places)
    pl_home = np.isin(pl[0], ["村委会", "林业站", "扶贫车间", "帮扶车间", "合作社", "刺绣坊"])
    al = _ragged(cat.aliases)
    ct = _ragged([cities_by_prov[i] for i in range(len(t.provinces))])
    county_name = t.counties.name[county].astype(object)
    n_jobs = 1 + (experience > 4) + (experience > 8)
    end_y = year0 - 1 - rng.integers(0, 2, n)
    span = np.maximum(1, experience // n_jobs)
    q = rng.integers(0, 1 << 30, (n, 3, 3))
    r = rng.random((n, 4))
    hist = np.full(n, "", object)
    for j in range(3):
        active = has & (n_jobs > j)
        trade = np.where((j == 0) | (trade2 < 0) | (r[:, 0] < 0.5), trade1, trade2)
        tj = np.maximum(trade, 0)
        idx = np.minimum(pl[1][tj] + q[:, j, 0] % pl[2][tj], len(pl[0]) - 1)
        place = pl[0][idx]
        home = (mobility == 2) | (r[:, 1 + j] < 0.25) | pl_home[idx]
        prov = hist_prov if j == 0 else hist_prov2
        city = _pick(*ct, prov, q[:, j, 1])
        where = np.where(home | (city == ""), county_name, city)
        alias = _pick(*al, tj, q[:, j, 2])
        y1 = end_y - j * span
        y0 = np.maximum(y1 - span + 1, year0 - (age - 17))
        years = np.where(y0 >= y1, _text(y1) + "年", _text(y0) + "-" + _text(y1))
        line = years + " " + where + place + " " + alias
        hist = np.where(active, line if j == 0 else hist + "；" + line, hist)
    out = np.asarray(hist, object).copy()
    out[hist == ""] = None
    return out


def _certificates(rng, cat, trade1, female) -> tuple[np.ndarray, np.ndarray]:
    """Certificate lists (half of the trade's holders hold its certificates; some men a
    C1 driving licence, some people a health certificate) and who holds a trade's one."""
    n = len(trade1)
    t1 = np.maximum(trade1, 0)
    n_certs = np.array([len(c) for c in cat.certificates])
    certified = (trade1 >= 0) & (rng.random(n) < 0.5) & (n_certs[t1] > 0)
    driving = (rng.random(n) < 0.12) & ~female
    health = rng.random(n) < 0.1
    key = (np.where(certified, t1, -1) + 1) * 4 + driving * 2 + health
    uniq, inverse = np.unique(key, return_inverse=True)
    combos = []
    for k in uniq:
        trade, flags = int(k) // 4 - 1, int(k) % 4
        cs = list(cat.certificates[trade]) if trade >= 0 else []
        if flags & 2 and "驾驶证C1" not in cs:
            cs.append("驾驶证C1")
        if flags & 1 and "健康证" not in cs:
            cs.append("健康证")
        combos.append(cs)
    out = np.empty(n, object)
    for i, c in enumerate(inverse):
        out[i] = list(combos[c])
    return out, certified
