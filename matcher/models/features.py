"""Features of workers, vacancies and (worker, vacancy) pairs.

Three families, all built from a :class:`matcher.Dataset` and kept with the model
so that prediction rebuilds them exactly as at fit time:

1. **Profiles** (:func:`worker_profiles`, :func:`vacancy_profiles`): per row, the
   arrays the engine needs — region codes and coordinates, wages, languages,
   CSCO occupation codes (a vacancy's own code; for a worker, the codes the
   occupation normaliser finds in skills and work history), text for the dense
   and lexical channels.

2. **LightFM feature tokens** (:class:`FeatureSpace`). LightFM (Kula 2015) represents
   a user as the sum of the embeddings of its features,
   ``q_u = sum_{j in f_u} e_j`` (and likewise items), so a worker or vacancy never
   seen in training still gets a representation from its attributes. Tokens:

   * worker: ``county:``, ``pref:``, ``prov:`` (home region at three levels),
     ``edu:``, ``lang:``, ``cap:`` (labour capacity), ``mob:`` (mobility),
     ``hh:`` (household status), ``wage:`` (expected-wage band), ``occ:`` (every
     occupation code found in skills and history, with all its CSCO parents),
     ``cluster:`` (k-means cluster of the text embedding);
   * vacancy: ``occ:`` (code and its parents), ``county:``, ``pref:``, ``prov:``,
     ``channel:``, ``wage:`` (offered-wage band), ``employer:``, ``amenity:``
     (housing, meals, labour contract, social insurance), ``cluster:``;
   * identity: ``id:<external id>`` for every row seen at fit time, so warm
     workers and vacancies also get their own factors (the hybrid model).

   The vocabulary is fixed at fit; at predict time unknown tokens (a new
   employer, a cold worker's id) are ignored. Each row's weights are normalised
   to sum to one, so rows with many tokens are not larger in norm.

3. **Pair features** (:func:`pair_matrix`), vectorised over many pairs, for the
   ranker and for explanations: LightFM score, dense cosine, lexical cosine,
   occupation-hierarchy match level (4 exact, 3 same minor group, 2 same middle
   group, 1 same major group, 0 none), great-circle distance in km, same
   county/province, preferred region, past transfer flow (hired events from the
   worker's county to the vacancy's province, training data only), offered over
   expected wage (ratio and gap), housing, meals, labour contract, social
   insurance, employer risk (smoothed rates of wage arrears, leaving and
   retention among the employer's hires, training data only), language fit,
   channel one-hot, labour capacity, household status and age; and the
   **referral and network** signals of a rural labour market, all counted from
   training events only (:class:`CountTable`): distinct (worker, vacancy) pairs
   from the worker's home county that saw / applied to / were hired by the
   vacancy's employer (老乡介绍: fellow villagers' employers), applications from
   the county to the vacancy's province and prefecture, the partner province of
   East-West cooperation (``matcher/data/partner_provinces.csv``), the share of
   the county's referrals and moves that would land on this vacancy, the
   vacancy's own views and applications (all and in the last ``RECENT_DAYS``),
   its age and seats, how crowded its occupation / prefecture / province /
   employer is among open vacancies, and whether the worker saw this vacancy or
   employer before.

Employer-risk rates use a Beta prior centred on the market rate with strength
``PRIOR_HIRES`` pseudo-hires: ``rate_e = (events_e + m * rate_all) / (hires_e + m)``,
so an employer with two hires is not called risky on one report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.data.dataset import Dataset
from matcher.data.reference import (
    coordinate_array,
    entry_level_codes,
    haversine_km,
    is_csco_code,
    occupation_ancestors,
    prefecture_of,
    province_of,
)
from matcher.data.schema import PURSUED_EVENTS, Channel, Columns, EventType
from matcher.models.array_codes import distinct_rows, value_codes

#: Pseudo-hires of the Beta prior on employer rates.
PRIOR_HIRES = 5.0
#: Pseudo-weeks employed at the market's leaving rate in a worker's leaving record.
PRIOR_WEEKS = 26.0
#: Floor of a leaving rate (per week) before its log.
MIN_LEFT_RATE = 1e-4
#: Distance (km) beyond which a move counts as far (housing, Mandarin matter).
FAR_KM = 300.0
#: Window of "recent" applications to a vacancy (days before the latest training event).
RECENT_DAYS = 14.0
#: Upper edges (CNY/month) of the wage bands used as LightFM tokens.
WAGE_BANDS = (3000, 4000, 5000, 6000, 7000, 8000, 10000)
#: Most occupation codes kept per worker.
MAX_WORKER_CODES = 6
CHANNELS = tuple(c.value for c in Channel)
CAPACITY_CODE = {"full": 2, "semi": 1, "weak": 0}
MOBILITY_CODE = {"any": 0, "province": 1, "local": 2}
HOUSEHOLD_CODE = {"none": 0, "lifted": 1, "monitored": 2}
HIRED_EVENTS = (EventType.HIRED, EventType.LEFT, EventType.RETAINED_3M, EventType.RETAINED_6M)
RETAINED_EVENTS = (EventType.RETAINED_3M, EventType.RETAINED_6M)
#: The outcome that ends a placement for the stay model: the worker left the job. The
#: ranker's stay stage learns P(no leaving within its horizon | hired) on it, and the
#: training report judges that stage on time to it (``training.survival``). Wage arrears
#: and injuries are recorded on a job the worker may still hold (the sample market emits
#: ``left`` when the worker actually goes), so they do not end a spell here; the service's
#: re-placement flag (``service.lifecycle``) reads them for its own purpose.
LEAVING_EVENTS = (EventType.LEFT,)

#: Ranker features that depend on the vacancy alone, whichever worker the pair has, in the
#: groups that :data:`RANKER_COLUMNS` and :data:`VACANCY_ONLY_COLUMNS` both list: the
#: vacancy's terms and its employer's record, its channels, its pull and age, and crowding.
_TERMS_AND_EMPLOYER = [
    "housing",
    "meals",
    "labor_contract",
    "social_insurance",
    "employer_arrears_rate",
    "employer_left_rate",
    "employer_retained_rate",
    "employer_hires_log",
    "employer_verified",
]
_CHANNEL_COLUMNS = [f"channel_{c}" for c in CHANNELS]
_PULL_AND_AGE = [
    "vacancy_views_log",
    "vacancy_applied_log",
    "vacancy_recent_log",
    "vacancy_age_days",
    "seats",
]
_CROWDING = [
    "crowd_occupation",
    "crowd_prefecture",
    "crowd_province",
    "crowd_employer",
]

#: 1.0 where the vacancy's occupation is one that takes newcomers without experience
#: (:func:`matcher.data.reference.entry_level_codes`), else 0.0 (also without a code).
ENTRY_LEVEL = "entry_level"
#: The worker's own leaving record (:meth:`PairStatistics.worker_left_log`): log of the
#: departures per week employed over the worker's ended spells in the statistics' events,
#: shrunk towards the market's rate. Only the stay hazard reads it (``stay_record``).
WORKER_LEFT = "worker_left_log"
#: The worker's leaving record on exposure (:meth:`PairStatistics.worker_exposure_left_log`):
#: log of the departures per week at risk over all the worker's spells in the statistics'
#: events — those still open at their end counted with their weeks so far, without a
#: departure (censored) — but the pair's own spell (a spell at the pair's vacancy), shrunk
#: towards the market's rate on exposure. Only the stay hazard reads it
#: (``stay_record="exposure"``).
WORKER_EXPOSURE_LEFT = "worker_exposure_left_log"
#: ``wage_ratio`` with, for a vacancy that posts no wage, what its peers pay
#: (:class:`WageReference`) over the worker's expectation; ``wage_ratio`` itself where the
#: statistics hold no reference. Only the hire and stay stages' covariate maps read it
#: (``wage_impute="peers"``).
WAGE_RATIO_PEERS = "wage_ratio_peers"
#: Columns of :func:`pair_matrix` that the ranker learns from (in this order).
RANKER_COLUMNS = [
    "lightfm",
    "dense",
    "lexical",
    "occ_match",
    "distance_km",
    "same_county",
    "same_province",
    "preferred_region",
    "flow_log",
    "wage_ratio",
    "wage_gap",
    *_TERMS_AND_EMPLOYER,
    "language_fit",
    *_CHANNEL_COLUMNS,
    "capacity",
    "household",
    "age",
    # referral and network: who from the worker's county went where (training events)
    "tie_views_log",
    "tie_applied_log",
    "tie_hired_log",
    "flow_applied_log",
    "pref_applied_log",
    "partner",
    "same_prefecture",
    # the vacancy's own pull (training events) and age at the snapshot
    *_PULL_AND_AGE,
    "far",
    "mandarin",
    "female",
    "mobility",
    "worker_seen_vacancy",
    "worker_seen_employer_log",
    *_CROWDING,
    "referral_share",
    "flow_share",
    # a ranker fitted without it (``apply_terms="plain"``, every model saved before it
    # existed) reads the columns before it (``matcher.models.ranking``)
    ENTRY_LEVEL,
    # last, and read by no booster: only the stay hazard with ``stay_record="worker"``
    # or ``"exposure"``
    WORKER_LEFT,
    WORKER_EXPOSURE_LEFT,
    # ... and the hire and stay maps with ``wage_impute="peers"``
    WAGE_RATIO_PEERS,
]


# --------------------------------------------------------------------------- text


def _join(*parts: object) -> str:
    out = []
    for p in parts:
        if p is None or (isinstance(p, float) and np.isnan(p)):
            continue
        if isinstance(p, list | tuple | np.ndarray):
            p = " ".join(str(x) for x in p)
        s = str(p).strip()
        if s:
            out.append(s)
    return " ".join(out)


def worker_texts(workers: pd.DataFrame) -> list[str]:
    """A worker's free text for the text channels: skills, work history, certificates."""
    return [
        _join(s, h, c)
        for s, h, c in zip(
            workers["skills"], workers["work_history"], workers["certificates"], strict=True
        )
    ]


def vacancy_texts(vacancies: pd.DataFrame) -> list[str]:
    """A vacancy's free text for the text channels: title, required skills, description."""
    return [
        _join(t, r, d)
        for t, r, d in zip(
            vacancies["title"],
            vacancies["required_skills"],
            vacancies["description"],
            strict=True,
        )
    ]


# --------------------------------------------------------------------------- occupations


def occupation_keys(code: str | None) -> np.ndarray:
    """Integer keys of a CSCO code's prefixes at levels 1..4 (-1 where undefined).

    ``6-18-02-04`` -> keys of ``6``, ``6-18``, ``6-18-02``, ``6-18-02-04``; a code
    backed off to its minor group (``6-18-02-00``) has no level-4 key. Two codes
    share the key at level L exactly when they agree on the first L parts.
    """
    out = np.full(4, -1, dtype=np.int64)
    if not code or not is_csco_code(code):
        return out
    parts = [int(p) for p in code.split("-")]
    if parts[0] == 0:
        return out
    scale = (1_000_000, 10_000, 100, 1)
    acc = 0
    for level in range(4):
        if level > 0 and parts[level] == 0:
            break
        acc += parts[level] * scale[level]
        out[level] = acc * 10 + level  # level tag keeps 6 and 6-00 apart
    return out


def occupation_match_level(worker_keys: np.ndarray, vacancy_keys: np.ndarray) -> np.ndarray:
    """Deepest CSCO level at which a vacancy's code meets any of a worker's codes.

    Parameters
    ----------
    worker_keys : ndarray of shape (n_pairs, n_codes, 4)
        :func:`occupation_keys` of each worker's codes (rows of -1 pad).
    vacancy_keys : ndarray of shape (n_pairs, 4)

    Returns
    -------
    ndarray of int8, shape (n_pairs,)
        4 exact, 3 same minor group, 2 same middle group, 1 same major group, 0 none.
    """
    eq = (worker_keys == vacancy_keys[:, None, :]) & (vacancy_keys[:, None, :] >= 0)
    # prefixes nest, so the number of equal levels is the deepest shared level
    return eq.sum(axis=2).max(axis=1, initial=0).astype(np.int8)


def _occupation_levels(
    worker_keys: np.ndarray, vacancy_keys: np.ndarray, inv: np.ndarray, vi: np.ndarray
) -> np.ndarray:
    """:func:`occupation_match_level` of the pairs of workers ``inv`` (rows of
    ``worker_keys``: the pairs' distinct workers) and vacancies ``vi`` (rows of the
    catalogue's ``vacancy_keys``), computed once per distinct worker and distinct
    vacancy code (:func:`matcher.models.array_codes.distinct_rows`: a catalogue's
    vacancies hold a few hundred codes) and gathered per pair: the same function of the
    same keys."""
    if len(vi) == 0 or vacancy_keys.ndim != 2 or worker_keys.ndim != 3:
        return occupation_match_level(worker_keys[inv], vacancy_keys[vi])
    codes, code_of = distinct_rows(vacancy_keys)
    pair_codes = code_of[vi]
    used, at = np.unique(pair_codes, return_inverse=True)
    keys = codes[used]
    table = np.stack(
        [
            occupation_match_level(np.broadcast_to(row, (len(keys), *row.shape)), keys)
            for row in worker_keys
        ]
    )
    return table[inv, at.reshape(-1)]


def matches_to_codes(matches: Iterable[object]) -> list[str]:
    """Codes from the occupation normaliser's matches (objects with ``.code``)."""
    out: list[str] = []
    for m in matches:
        code = getattr(m, "code", None)
        if code and code not in out:
            out.append(str(code))
    return out


# --------------------------------------------------------------------------- profiles


@dataclass
class WorkerProfiles:
    """Per-worker arrays in the order of ``ids``."""

    ids: pd.Index
    county: np.ndarray  # object: 6-digit codes
    province: np.ndarray  # int64 province prefix (2 digits)
    coords: np.ndarray  # (n, 2) lon, lat
    expected_wage: np.ndarray  # float, NaN unknown
    languages: list[frozenset[str]]
    capacity: np.ndarray  # float code
    household: np.ndarray  # float code
    birth_year: np.ndarray  # float
    codes: list[list[str]]  # occupation codes found in text
    code_keys: np.ndarray  # (n, MAX_WORKER_CODES, 4)
    preferred: list[frozenset[str]]  # preferred region codes
    texts: list[str]
    tokens: list[list[str]] = field(default_factory=list)
    prefecture: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    partner: np.ndarray = field(default_factory=lambda: np.zeros((0, 100), np.float32))
    mandarin: np.ndarray = field(default_factory=lambda: np.zeros(0))
    female: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mobility: np.ndarray = field(default_factory=lambda: np.zeros(0))  # MOBILITY_CODE
    #: P(looking for work) at the catalogue's time (:mod:`matcher.models.availability`); empty
    #: when not assessed (training catalogues), which counts as looking (1.0)
    available: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class VacancyProfiles:
    """Per-vacancy arrays in the order of ``ids``."""

    ids: pd.Index
    region: np.ndarray  # object
    province: np.ndarray  # int64
    coords: np.ndarray
    wage_min: np.ndarray
    wage_max: np.ndarray
    offered_wage: np.ndarray
    languages: list[frozenset[str]]
    housing: np.ndarray  # float 1/0/NaN
    meals: np.ndarray
    labor_contract: np.ndarray
    social_insurance: np.ndarray
    channel: np.ndarray  # object
    channel_onehot: np.ndarray  # (n, len(CHANNELS))
    employer: np.ndarray  # object
    code: np.ndarray  # object CSCO code or None
    code_keys: np.ndarray  # (n, 4)
    texts: list[str]
    tokens: list[list[str]] = field(default_factory=list)
    prefecture: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    posted_ns: np.ndarray = field(default_factory=lambda: np.zeros(0))  # float, NaN unknown
    headcount: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: :data:`ENTRY_LEVEL` of each vacancy (:func:`entry_level_of` its ``code``), once per
    #: catalogue rather than once per pair
    entry_level: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: ``languages`` as an object array (gathered per pair at C speed for ``language_fit``)
    language_sets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __getstate__(self) -> dict:
        # the derived arrays are computed again on load (from the occupation catalogue
        # of the code that loads them, as when they were computed per pair)
        return {k: v for k, v in self.__dict__.items() if k not in _DERIVED_VACANCY_ARRAYS}

    def __setstate__(self, state: dict) -> None:
        # profiles pickled without the derived per-vacancy arrays (a saved model's
        # catalogue, also one saved before they existed) get them from the fields
        # they derive from
        self.__dict__.update(state)
        n = len(self.ids)
        if len(state.get("entry_level", ())) != n:
            self.entry_level = entry_level_of(self.code)
        if len(state.get("language_sets", ())) != n:
            self.language_sets = language_sets_of(self.languages)


#: :class:`VacancyProfiles` fields derived from its other fields (not pickled).
_DERIVED_VACANCY_ARRAYS = frozenset({"entry_level", "language_sets"})


def _bool_array(col: pd.Series) -> np.ndarray:
    return col.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _float_array(col: pd.Series) -> np.ndarray:
    return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()


def _province_int(codes: Sequence[object] | np.ndarray) -> np.ndarray:
    return np.array(
        [
            int(c[:2]) if isinstance(c, str) and len(c) >= 2 and c[:2].isdigit() else -1
            for c in codes
        ],
        dtype=np.int64,
    )


#: Language codes that mean the worker speaks Mandarin.
MANDARIN = frozenset({"zh", "cmn", "zh-cn", "mandarin"})
#: Province prefixes are two digits: rows of :func:`partner_rows` are indexed by them.
N_PROVINCES = 100


def _prefecture_array(codes: np.ndarray) -> np.ndarray:
    return np.array(
        [c[:4] if isinstance(c, str) and len(c) == 6 else "" for c in codes], dtype=object
    )


def time_ns(col: pd.Series) -> np.ndarray:
    """Times of ``col`` as float nanoseconds since the epoch (naive UTC; NaN where
    missing or unreadable)."""
    t = pd.to_datetime(col, errors="coerce")
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    out = t.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
    out[t.isna().to_numpy()] = np.nan
    return out


_PARTNERS: dict[str, np.ndarray] | None = None


def _partner_table() -> dict[str, np.ndarray]:
    """Origin (province or prefecture code) -> weight per destination province prefix,
    from ``matcher/data/partner_provinces.csv`` (East-West cooperation pairs)."""
    global _PARTNERS
    if _PARTNERS is None:
        from matcher.data.reference import domain_table

        table: dict[str, np.ndarray] = {}
        frame = domain_table("partner_provinces.csv")
        for origin, partner, weight in zip(
            frame["origin"], frame["partner"], frame["weight"], strict=True
        ):
            row = table.setdefault(origin, np.zeros(N_PROVINCES, np.float32))
            if partner[:2].isdigit():
                row[int(partner[:2])] += float(weight or 0)
        _PARTNERS = table
    return _PARTNERS


def partner_rows(counties: np.ndarray) -> np.ndarray:
    """Partner-province weights ``(n, 100)`` of each home county (its prefecture's pairs
    when listed, else its province's; zeros when neither is)."""
    table = _partner_table()
    out = np.zeros((len(counties), N_PROVINCES), np.float32)
    memo: dict[object, np.ndarray | None] = {}
    for i, c in enumerate(counties):
        if c not in memo:
            row = None
            if isinstance(c, str) and len(c) == 6:
                row = table.get(prefecture_of(c))
                if row is None:
                    row = table.get(province_of(c))
            memo[c] = row
        row = memo[c]
        if row is not None:
            out[i] = row
    return out


def wage_band(value: float) -> str | None:
    if value is None or not np.isfinite(value):
        return None
    for edge in WAGE_BANDS:
        if value < edge:
            return f"<{edge}"
    return f">={WAGE_BANDS[-1]}"


def _region_tokens(code: object) -> list[str]:
    if not isinstance(code, str) or len(code) != 6:
        return []
    return [f"county:{code}", f"pref:{prefecture_of(code)}", f"prov:{province_of(code)}"]


def _code_tokens(codes: Iterable[str]) -> list[str]:
    out: list[str] = []
    for c in codes:
        for x in (c, *occupation_ancestors(c)):
            tok = f"occ:{x}"
            if tok not in out:
                out.append(tok)
    return out


def worker_profiles(workers: pd.DataFrame, codes: list[list[str]]) -> WorkerProfiles:
    """Arrays and LightFM tokens (without identity or cluster) for workers.

    Parameters
    ----------
    workers : DataFrame
        Workers in the Dataset normal form.
    codes : list of list of str
        Occupation codes found in each worker's skills and work history.
    """
    n = len(workers)
    keys = np.full((n, MAX_WORKER_CODES, 4), -1, dtype=np.int64)
    for i, cs in enumerate(codes):
        for j, c in enumerate(cs[:MAX_WORKER_CODES]):
            keys[i, j] = occupation_keys(c)
    county = workers["home_region"].to_numpy(dtype=object)
    langs = [frozenset(x) for x in workers["languages"]]
    capacity = workers["labor_capacity"].map(CAPACITY_CODE).astype(float).to_numpy()
    household = workers["household_status"].map(HOUSEHOLD_CODE).astype(float).to_numpy()
    expected = _float_array(workers["expected_wage"])
    categorical = {
        prefix: workers[name].to_numpy(dtype=object)
        for name, prefix in (
            ("education", "edu"),
            ("labor_capacity", "cap"),
            ("mobility", "mob"),
            ("household_status", "hh"),
        )
    }
    tokens: list[list[str]] = []
    for i in range(n):
        toks = _region_tokens(county[i])
        for prefix, values in categorical.items():
            v = values[i]
            if isinstance(v, str) and v:
                toks.append(f"{prefix}:{v}")
        toks += [f"lang:{x}" for x in sorted(langs[i])]
        band = wage_band(expected[i])
        if band:
            toks.append(f"wage:{band}")
        toks += _code_tokens(codes[i])
        tokens.append(toks)
    return WorkerProfiles(
        ids=pd.Index(workers[Columns.Worker], name=Columns.Worker),
        county=county,
        province=_province_int(county),
        coords=coordinate_array(list(county)),
        expected_wage=expected,
        languages=langs,
        capacity=capacity,
        household=household,
        birth_year=_float_array(workers["birth_year"]),
        codes=codes,
        code_keys=keys,
        preferred=[frozenset(x) for x in workers["preferred_regions"]],
        texts=worker_texts(workers),
        tokens=tokens,
        prefecture=_prefecture_array(county),
        partner=partner_rows(county),
        mandarin=np.array([float(bool(MANDARIN & x)) for x in langs]),
        mobility=workers["mobility"].map(MOBILITY_CODE).astype(float).to_numpy(),
        female=(workers["gender"].to_numpy(dtype=object) == "F").astype(float),
    )


def posted_wage(wage_min: np.ndarray, wage_max: np.ndarray) -> np.ndarray:
    """The offered wage a vacancy posts: the middle of its range, else the one end it
    gives, else NaN (it posts none)."""
    with np.errstate(invalid="ignore"):
        return np.where(
            np.isfinite(wage_min) & np.isfinite(wage_max),
            (wage_min + wage_max) / 2,
            np.where(np.isfinite(wage_min), wage_min, wage_max),
        )


def vacancy_profiles(vacancies: pd.DataFrame, codes: Sequence[str | None]) -> VacancyProfiles:
    """Arrays and LightFM tokens (without identity or cluster) for vacancies.

    Parameters
    ----------
    vacancies : DataFrame
        Vacancies in the Dataset normal form.
    codes : sequence of str or None
        Each vacancy's CSCO code (its own, or inferred from the title when blank).
    """
    n = len(vacancies)
    region = vacancies["region"].to_numpy(dtype=object)
    wmin = _float_array(vacancies["wage_min"])
    wmax = _float_array(vacancies["wage_max"])
    offered = posted_wage(wmin, wmax)
    channel = vacancies["channel"].to_numpy(dtype=object)
    onehot = np.zeros((n, len(CHANNELS)), dtype=float)
    for j, c in enumerate(CHANNELS):
        onehot[:, j] = channel == c
    amen = {
        name: _bool_array(vacancies[name])
        for name in ("housing", "meals", "labor_contract", "social_insurance")
    }
    code_arr = np.array([c if c and is_csco_code(c) else None for c in codes], dtype=object)
    keys = np.stack([occupation_keys(c) for c in code_arr]) if n else np.zeros((0, 4), np.int64)
    employer = vacancies[Columns.Employer].to_numpy(dtype=object)
    languages = [frozenset(x) for x in vacancies["languages"]]
    tokens: list[list[str]] = []
    for i in range(n):
        toks = _region_tokens(region[i])
        if isinstance(channel[i], str):
            toks.append(f"channel:{channel[i]}")
        band = wage_band(offered[i])
        if band:
            toks.append(f"wage:{band}")
        toks.append(f"employer:{employer[i]}")
        toks += [f"amenity:{k}" for k, v in amen.items() if v[i] == 1]
        if code_arr[i]:
            toks += _code_tokens([code_arr[i]])
        tokens.append(toks)
    return VacancyProfiles(
        ids=pd.Index(vacancies[Columns.Vacancy], name=Columns.Vacancy),
        region=region,
        province=_province_int(region),
        coords=coordinate_array(list(region)),
        wage_min=wmin,
        wage_max=wmax,
        offered_wage=offered,
        languages=languages,
        housing=amen["housing"],
        meals=amen["meals"],
        labor_contract=amen["labor_contract"],
        social_insurance=amen["social_insurance"],
        channel=channel,
        channel_onehot=onehot,
        employer=employer,
        code=code_arr,
        code_keys=keys,
        texts=vacancy_texts(vacancies),
        tokens=tokens,
        prefecture=_prefecture_array(region),
        posted_ns=time_ns(vacancies["posted_at"]),
        headcount=_float_array(vacancies["headcount"]),
        entry_level=entry_level_of(code_arr),
        language_sets=language_sets_of(languages),
    )


# --------------------------------------------------------------------------- LightFM space


class FeatureSpace:
    """The LightFM feature vocabulary of one side (workers or vacancies).

    Parameters
    ----------
    identity : bool, default True
        Add an ``id:<id>`` token for every row seen at fit (the hybrid model's
        per-id factors).

    Attributes
    ----------
    vocabulary_ : dict[str, int]
        Token -> column of the feature matrix.
    """

    def __init__(self, identity: bool = True) -> None:
        self.identity = identity

    def fit(self, ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> FeatureSpace:
        vocab: dict[str, int] = {}
        if self.identity:
            for i in ids:
                vocab.setdefault(f"id:{i}", len(vocab))
        for toks in tokens:
            for t in toks:
                vocab.setdefault(t, len(vocab))
        self.vocabulary_ = vocab
        return self

    @property
    def n_features(self) -> int:
        return len(self.vocabulary_)

    def transform(self, ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Row-normalised CSR matrix ``(len(ids), n_features)``; unknown tokens ignored."""
        vocab = self.vocabulary_
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for i, toks in zip(ids, tokens, strict=True):
            cols = []
            if self.identity:
                j = vocab.get(f"id:{i}")
                if j is not None:
                    cols.append(j)
            cols += [vocab[t] for t in toks if t in vocab]
            cols = sorted(set(cols))
            if cols:
                w = 1.0 / len(cols)
                indices += cols
                data += [w] * len(cols)
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr)),
            shape=(len(indptr) - 1, len(vocab)),
        )


# --------------------------------------------------------------------------- statistics


#: Up to this many keys, :func:`key_positions` asks the index's hash table key by key
#: (a request's one county or one worker); more keys go through ``get_indexer``,
#: whose fixed cost (a new Index for the keys) is the larger part for a few keys.
KEYS_LOOKED_UP_ONE_BY_ONE = 16


def key_positions(index: pd.Index, keys: np.ndarray | Sequence[object]) -> np.ndarray:
    """``index.get_indexer(keys)`` for an index of unique keys: the position of each
    key, -1 where absent. A few string keys are looked up one by one (the same hash
    table, so the same answer); other keys (missing values, numbers) keep pandas'
    own matching rules."""
    if len(keys) <= KEYS_LOOKED_UP_ONE_BY_ONE and all(type(key) is str for key in keys):
        return np.array([index.get_loc(key) if key in index else -1 for key in keys], dtype=np.intp)
    return index.get_indexer(pd.Index(np.asarray(keys, dtype=object), dtype=object))


class CountTable:
    """Sums of ``values`` by (row key, column key), dense over the keys seen at fit.

    Parameters
    ----------
    rows, cols : ndarray
        Keys of each observation (e.g. home county, employer id).
    values : ndarray of float
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        self.rows_ = pd.Index(pd.unique(np.asarray(rows, dtype=object)), dtype=object)
        self.cols_ = pd.Index(pd.unique(np.asarray(cols, dtype=object)), dtype=object)
        self.matrix_ = np.zeros((len(self.rows_) + 1, len(self.cols_) + 1), np.float32)
        r = self.rows_.get_indexer(pd.Index(np.asarray(rows, dtype=object)))
        c = self.cols_.get_indexer(pd.Index(np.asarray(cols, dtype=object)))
        np.add.at(self.matrix_, (r, c), np.asarray(values, dtype=np.float32))
        # the last row and column stay zero: position -1 (an unseen key) reads them
        self.matrix_[-1, :] = 0
        self.matrix_[:, -1] = 0

    def row_pos(self, keys: np.ndarray | Sequence[object]) -> np.ndarray:
        """Row of each key (-1, the zero row, for keys not seen at fit)."""
        return key_positions(self.rows_, keys)

    def col_pos(self, keys: np.ndarray | Sequence[object]) -> np.ndarray:
        """Column of each key (-1, the zero column, for keys not seen at fit)."""
        return key_positions(self.cols_, keys)

    def lookup(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Values of many (row key, column key) pairs; 0 where either is unseen."""
        return self.matrix_[self.row_pos(rows), self.col_pos(cols)].astype(float)


class SparseCountTable(CountTable):
    """:class:`CountTable` kept sparse (for many rows and columns, e.g. worker x vacancy)."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        self.rows_ = pd.Index(pd.unique(np.asarray(rows, dtype=object)), dtype=object)
        self.cols_ = pd.Index(pd.unique(np.asarray(cols, dtype=object)), dtype=object)
        r = self.rows_.get_indexer(pd.Index(np.asarray(rows, dtype=object)))
        c = self.cols_.get_indexer(pd.Index(np.asarray(cols, dtype=object)))
        self.sparse_ = sp.csr_matrix(
            (np.asarray(values, dtype=np.float32), (r, c)),
            shape=(len(self.rows_) + 1, len(self.cols_) + 1),
        )
        self.sparse_.sum_duplicates()

    def lookup(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.lookup_positions(self.row_pos(rows), self.col_pos(cols))

    def lookup_positions(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Values at row and column positions (-1, an unseen key, reads 0).

        Each row's few stored columns are searched directly (CSR indices are
        sorted), which is much cheaper than scipy's fancy indexing for a few
        hundred pairs."""
        m = self.sparse_
        if not m.has_sorted_indices:
            m.sort_indices()
        r = np.where(np.asarray(r) < 0, m.shape[0] - 1, r).astype(np.int64)
        c = np.where(np.asarray(c) < 0, m.shape[1] - 1, c).astype(np.int64)
        out = np.zeros(len(r))
        if len(r) == 0:
            return out
        lo, hi = m.indptr[r], m.indptr[r + 1]
        stored = hi > lo
        if not stored.any():
            return out
        # binary search of each pair's column within its row's sorted indices, all
        # pairs at once: lower bound in [a, b)
        idx = np.flatnonzero(stored)
        a, b, col = lo[idx].astype(np.int64), hi[idx].astype(np.int64), c[idx]
        end = b.copy()
        while True:
            open_ = a < b
            if not open_.any():
                break
            mid = (a + b) // 2
            below = m.indices[np.minimum(mid, len(m.indices) - 1)] < col
            a = np.where(open_ & below, mid + 1, a)
            b = np.where(open_ & ~below, mid, b)
        found = (a < end) & (m.indices[np.minimum(a, len(m.indices) - 1)] == col)
        out[idx[found]] = m.data[a[found]]
        return out


def first_spells(
    events: pd.DataFrame,
    hired_kinds: Iterable[EventType | str],
    stop: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per (worker, vacancy) hired: ``hired_at``, the first event of ``hired_kinds``, and
    ``left_at``, the first leaving event (NaT while in post), both before ``stop`` when
    given. A leaving event before the hire is not an ending of it (dropped pair)."""
    kinds = events[Columns.Event].astype(str)
    keys = [Columns.Worker, Columns.Vacancy]
    hired_names = {str(e.value if isinstance(e, EventType) else e) for e in hired_kinds}
    leaving = {str(e.value if isinstance(e, EventType) else e) for e in LEAVING_EVENTS}
    before = (
        np.ones(len(events), dtype=bool) if stop is None else (events[Columns.OccurredAt] < stop)
    )
    hired = events[kinds.isin(hired_names) & before]
    hired_at = hired.groupby(keys)[Columns.OccurredAt].min().rename("hired_at")
    left = events[kinds.isin(leaving) & before]
    left_at = left.groupby(keys)[Columns.OccurredAt].min().rename("left_at")
    out = pd.concat([hired_at], axis=1).join(left_at, how="left").reset_index()
    out = out[out["left_at"].isna() | (out["left_at"] >= out["hired_at"])]
    return out.reset_index(drop=True)


#: What the pair features read for a vacancy that posts no wage (``Recommender``'s
#: ``wage_impute``): ``"none"``, nothing (the wage ratio unknown); ``"peers"``, the
#: median offered wage of its peers (:class:`WageReference`).
WAGE_IMPUTES = ("none", "peers")


class WageReference:
    """What a vacancy that posts no wage likely pays: the median offered wage of the
    vacancies that post one, by occupation and channel (``Recommender(wage_impute=
    "peers")``).

    An employer that posts no wage (面议) still pays about what its trade pays on its
    channel, and a worker takes the offer and stays by what it does pay: without a
    figure the hire and stay stages cannot weigh pay against his expectation at all. The reference keys each
    vacancy by its channel and its occupation code's prefixes (:func:`occupation_keys`):
    the median over peers of the finest level with at least :attr:`min_peers` vacancies
    that post a wage, else of the channel's, else of every vacancy's.

    Attributes
    ----------
    levels_ : list of dict
        Per code level (detailed first): ``{(level key, channel): median offered}``.
    channels_ : dict
        ``{channel: median offered}``.
    overall_ : float
        The median over every vacancy that posts a wage (NaN without one).
    """

    min_peers = 3

    def fit(self, offered: np.ndarray, code_keys: np.ndarray, channel: np.ndarray) -> WageReference:
        """Fit on vacancies' offered wages (NaN: none posted), code keys ``(n, 4)`` and
        channels."""
        offered = np.asarray(offered, dtype=float)
        known = np.isfinite(offered) & (offered > 0)
        frame = pd.DataFrame(
            {
                "offered": offered[known],
                "channel": np.asarray(channel, dtype=object)[known],
                **{f"k{j}": np.asarray(code_keys)[known, j] for j in range(4)},
            }
        )
        frame["channel"] = frame["channel"].fillna("")
        self.levels_: list[dict[tuple[int, str], float]] = []
        for j in (3, 2, 1, 0):
            sub = frame[frame[f"k{j}"] >= 0]
            g = sub.groupby([f"k{j}", "channel"])["offered"].agg(["median", "size"])
            g = g[g["size"] >= self.min_peers]
            keys = g.index.get_level_values(0).to_numpy(dtype=np.int64)
            chans = g.index.get_level_values(1).to_numpy(dtype=object)
            medians = g["median"].to_numpy(dtype=float)
            self.levels_.append(
                {
                    (int(k), str(c)): float(m)
                    for k, c, m in zip(keys.tolist(), chans.tolist(), medians.tolist(), strict=True)
                }
            )
        ch = frame.groupby("channel")["offered"].agg(["median", "size"])
        ch = ch[ch["size"] >= self.min_peers]
        self.channels_: dict[str, float] = {str(c): float(m) for c, m in ch["median"].items()}
        self.overall_ = float(np.median(frame["offered"])) if len(frame) else float("nan")
        return self

    def impute(self, code_keys: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """The reference's offered wage for vacancies with code keys ``(n, 4)`` and
        channels ``(n,)``."""
        keys = np.asarray(code_keys)
        chans = ["" if not isinstance(c, str) else c for c in np.asarray(channel, dtype=object)]
        out = np.full(len(chans), self.overall_)
        for i, c in enumerate(chans):
            for level, table in zip((3, 2, 1, 0), self.levels_, strict=True):
                key = int(keys[i, level])
                if key >= 0 and (key, c) in table:
                    out[i] = table[(key, c)]
                    break
            else:
                out[i] = self.channels_.get(c, self.overall_)
        return out


class PairStatistics:
    """Counts learned from training events only: transfer flows and employer risk.

    Attributes
    ----------
    flows_ : pandas.Series
        Hired workers per (home county, destination province prefix), indexed by
        the int64 key ``county * 100 + province``.
    employers_ : pandas.DataFrame
        Per employer id: ``hires``, ``arrears`` (workers reporting wage arrears),
        ``left``, ``retained`` and the smoothed ``arrears_rate``, ``left_rate``,
        ``retained_rate``.
    market_ : Mapping[str, float]
        Market-wide rates used as the prior (a new mapping on each fit, never changed in
        place; the class's default is an empty read-only one).
    workers_left_ : pandas.Series or None
        Per worker id, :data:`WORKER_LEFT` (:meth:`worker_left_log`); None on statistics
        pickled before it existed (class default), which read the market's rate.
    worker_exposure_ : pandas.DataFrame or None
        Per worker id, ``left`` (departures) and ``weeks`` (at risk) over all the worker's
        spells, open ones censored at the events' end (:meth:`worker_exposure_left_log`).
    spell_exposure_ : pandas.DataFrame or None
        The same per (worker, vacancy) spell, so that a pair can leave its own spell out.
        Both None on statistics pickled before them (class default): the market's rate.
    """

    #: the market's rates; empty until fitted (never mutated in place: each fit sets a new dict)
    market_: Mapping[str, float] = MappingProxyType({})
    workers_left_: pd.Series | None = None
    worker_exposure_: pd.DataFrame | None = None
    spell_exposure_: pd.DataFrame | None = None
    #: fitted with ``fit(wage_impute=True)`` only (and never on statistics pickled before it)
    wage_reference_: WageReference | None = None
    #: ``(spell_exposure_, {worker id: {vacancy id: row}})`` once built
    #: (:meth:`_spell_rows`); None before (and on statistics pickled before it).
    _spell_rows_cache: tuple[pd.DataFrame, dict] | None = None

    def fit(
        self,
        dataset: Dataset,
        *,
        wage_impute: bool = False,
        vacancy_codes: Sequence[str | None] | None = None,
    ) -> PairStatistics:
        """Fit every table on ``dataset``'s events; with ``wage_impute`` also
        :attr:`wage_reference_` on its vacancies (:class:`WageReference`): pairs with a
        vacancy that posts no wage then read its peers' (:func:`pair_matrix`).

        ``vacancy_codes``: each vacancy's code as the pair features read it (its own, or
        inferred from its title when blank; one per row of ``dataset.vacancies``), so that
        the reference is keyed by the codes it is later looked up with; None: the
        published codes."""
        ev = dataset.events
        w = dataset.workers.set_index(Columns.Worker)["home_region"]
        v = dataset.vacancies.set_index(Columns.Vacancy)
        pairs = ev[[Columns.Worker, Columns.Vacancy, Columns.Event]].copy()
        pairs["employer"] = pairs[Columns.Vacancy].map(v[Columns.Employer])
        hired = pairs[pairs[Columns.Event].isin(HIRED_EVENTS)].drop_duplicates(
            [Columns.Worker, Columns.Vacancy]
        )
        county = hired[Columns.Worker].map(w)
        prov = hired[Columns.Vacancy].map(v["region"])
        keys = flow_keys(county.to_numpy(dtype=object), _province_int(prov.to_numpy(dtype=object)))
        self.flows_ = pd.Series(keys[keys >= 0]).value_counts().sort_index()
        self._fit_network(pairs, w, v)
        self.fit_recent(ev)

        def per_employer(events: tuple[str, ...]) -> pd.Series:
            sub = pairs[pairs[Columns.Event].isin(events)].drop_duplicates(
                [Columns.Worker, Columns.Vacancy]
            )
            return sub.groupby("employer").size()

        emp = pd.DataFrame(
            {
                "hires": per_employer(HIRED_EVENTS),
                "arrears": per_employer((EventType.WAGE_ARREARS,)),
                "left": per_employer((EventType.LEFT,)),
                "retained": per_employer(RETAINED_EVENTS),
            }
        ).fillna(0.0)
        total_hires = max(float(emp["hires"].sum()), 1.0)
        self.market_ = {
            "arrears_rate": float(emp["arrears"].sum()) / total_hires if len(emp) else 0.0,
            "left_rate": float(emp["left"].sum()) / total_hires if len(emp) else 0.0,
            "retained_rate": float(emp["retained"].sum()) / total_hires if len(emp) else 0.0,
        }
        for name in ("arrears", "left", "retained"):
            prior = self.market_[f"{name}_rate"]
            emp[f"{name}_rate"] = (emp[name] + PRIOR_HIRES * prior) / (emp["hires"] + PRIOR_HIRES)
        self.employers_ = emp
        self.fit_worker_record(ev)
        self.wage_reference_ = (
            self._wage_reference(dataset.vacancies, vacancy_codes) if wage_impute else None
        )
        return self

    @staticmethod
    def _wage_reference(
        vacancies: pd.DataFrame, vacancy_codes: Sequence[str | None] | None
    ) -> WageReference:
        offered = posted_wage(
            _float_array(vacancies["wage_min"]), _float_array(vacancies["wage_max"])
        )
        if vacancy_codes is None:
            codes = vacancies["occupation_code"].to_numpy(dtype=object)
        else:
            if len(vacancy_codes) != len(vacancies):
                raise ValueError(
                    f"vacancy_codes has {len(vacancy_codes)} codes for {len(vacancies)} vacancies"
                )
            codes = np.asarray(list(vacancy_codes), dtype=object)
        keys = (
            np.stack(
                [
                    occupation_keys(c if isinstance(c, str) and is_csco_code(c) else None)
                    for c in codes
                ]
            )
            if len(codes)
            else np.zeros((0, 4), np.int64)
        )
        return WageReference().fit(offered, keys, vacancies["channel"].to_numpy(dtype=object))

    def fit_worker_record(self, events: pd.DataFrame) -> PairStatistics:
        """Fit the workers' own leaving records from ``events`` (part of :meth:`fit`;
        public so that the record can be fitted and checked alone). Per worker,
        departures and weeks employed over the spells that ended in ``events``: a spell
        (first hire at a vacancy) ends at its first leaving event, or else at the
        worker's next hire; a spell still open at the end of ``events`` is not read, so a
        spell followed from there (a training spell at risk at the cutoff, or a worker in
        post when scored) never reads its own tenure or departure. The market's rate
        (``market_["worker_left_rate"]``) is the ended spells' departures per week."""
        spells = first_spells(events, (EventType.HIRED,))
        spells = spells.sort_values([Columns.Worker, "hired_at"], kind="stable")
        following = spells.groupby(Columns.Worker)["hired_at"].shift(-1)
        ended = spells["left_at"].where(spells["left_at"].notna(), following)
        # a later hire before the leaving event ends the spell there (no departure read)
        cut = following.notna() & spells["left_at"].notna() & (following < spells["left_at"])
        ended = ended.where(~cut, following)
        departed = (spells["left_at"].notna() & ~cut).to_numpy(dtype=float)
        done = ended.notna().to_numpy()
        week = pd.Timedelta(weeks=1).total_seconds()
        weeks = (ended - spells["hired_at"]).dt.total_seconds().to_numpy(dtype=float) / week
        record = pd.DataFrame(
            {
                "left": departed[done],
                "weeks": np.maximum(weeks[done], 0.0),
            },
            index=pd.Index(spells[Columns.Worker].to_numpy(dtype=object)[done], dtype=object),
        )
        record = record.groupby(level=0).sum()
        total = float(record["weeks"].sum())
        rate = float(record["left"].sum()) / total if total > 0 else 0.0
        # a new dict: statistics fitted alone start from the class's empty market
        self.market_ = {**self.market_, "worker_left_rate": rate}
        shrunk = (record["left"] + PRIOR_WEEKS * rate) / (record["weeks"] + PRIOR_WEEKS)
        self.workers_left_ = pd.Series(
            np.log(np.maximum(shrunk.to_numpy(dtype=float), MIN_LEFT_RATE)), index=record.index
        )
        self._fit_exposure_record(spells, following, cut, events)
        return self

    def _fit_exposure_record(
        self,
        spells: pd.DataFrame,
        following: pd.Series,
        cut: pd.Series,
        events: pd.DataFrame,
    ) -> None:
        """Departures and weeks at risk per spell (``spells``: :func:`first_spells`
        sorted by worker and hire, ``following``: the worker's next hire, ``cut``: a next
        hire before the spell's leaving event), over every spell: one ends at its first
        leaving event (a departure), else at the worker's next hire (none), else it is
        still open at the latest event of ``events`` and counts its weeks so far without
        a departure (censored). The market's departures and weeks at risk are
        ``market_["worker_exposure_left"]`` and ``["worker_exposure_weeks"]``. A pair's
        own spell is left out when the pair reads it (:meth:`worker_exposure_left_log`),
        so a spell at risk at the statistics' end — every spell a training window follows
        from its cutoff — reads neither its tenure nor its future."""
        keys = [Columns.Worker, Columns.Vacancy]
        if len(spells) == 0:
            self.market_ = {
                **self.market_,
                "worker_exposure_left_rate": 0.0,
                "worker_exposure_left": 0.0,
                "worker_exposure_weeks": 0.0,
            }
            empty = pd.DataFrame({"left": [], "weeks": []}, dtype=float)
            self.worker_exposure_ = empty
            self.spell_exposure_ = empty.set_index(pd.MultiIndex.from_arrays([[], []], names=keys))
            return
        end = events[Columns.OccurredAt].max()
        departed = spells["left_at"].notna() & ~cut
        stop = spells["left_at"].where(departed, following)
        stop = stop.where(stop.notna(), end)
        week = pd.Timedelta(weeks=1).total_seconds()
        weeks = (stop - spells["hired_at"]).dt.total_seconds().to_numpy(dtype=float) / week
        per_spell = pd.DataFrame(
            {
                Columns.Worker: spells[Columns.Worker].to_numpy(dtype=object),
                Columns.Vacancy: spells[Columns.Vacancy].to_numpy(dtype=object),
                "left": departed.to_numpy(dtype=float),
                "weeks": np.maximum(weeks, 0.0),
            }
        )
        total = float(per_spell["weeks"].sum())
        departures = float(per_spell["left"].sum())
        self.market_ = {
            **self.market_,
            "worker_exposure_left_rate": departures / total if total > 0 else 0.0,
            "worker_exposure_left": departures,
            "worker_exposure_weeks": total,
        }
        self.worker_exposure_ = per_spell.groupby(Columns.Worker, sort=True)[
            ["left", "weeks"]
        ].sum()
        self.spell_exposure_ = per_spell.set_index(keys)[["left", "weeks"]]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_spell_rows_cache", None)  # derived: rebuilt on first use
        return state

    def _spell_rows(self, own: pd.DataFrame) -> dict | None:
        """``{worker id: {vacancy id: row of own}}`` of :attr:`spell_exposure_` ``own``
        (built once per table), or None when its keys are not unique (then
        ``get_indexer`` decides, as it always did)."""
        cached = self._spell_rows_cache
        if cached is not None and cached[0] is own:
            return cached[1]
        if not own.index.is_unique:
            return None
        rows: dict = {}
        workers, vacancies = (own.index.get_level_values(j).tolist() for j in range(2))
        for row, (w, v) in enumerate(zip(workers, vacancies, strict=True)):
            rows.setdefault(w, {})[v] = row
        self._spell_rows_cache = (own, rows)
        return rows

    def worker_exposure_left_log(self, workers: np.ndarray, vacancies: np.ndarray) -> np.ndarray:
        """:data:`WORKER_EXPOSURE_LEFT` of the pairs (``workers``, ``vacancies``: ids, one
        per pair): the log of ``(departures + PRIOR_WEEKS * rate) / (weeks + PRIOR_WEEKS)``
        over the worker's spells at other vacancies than the pair's, open ones with their
        weeks so far (:meth:`_fit_exposure_record`), ``rate`` the market's on exposure
        without the pair's spell either, so that nothing of it is read; a worker without
        another spell reads that rate, statistics fitted before the record existed the
        floor."""
        # a request's pairs share a handful of workers: position each distinct one once
        codes, distinct = pd.factorize(np.asarray(workers, dtype=object), use_na_sentinel=False)
        return self.exposure_left_log_by_worker(distinct, codes, vacancies)

    def exposure_left_log_by_worker(
        self, distinct: np.ndarray, codes: np.ndarray, vacancies: np.ndarray
    ) -> np.ndarray:
        """:meth:`worker_exposure_left_log` of pairs whose workers are
        ``distinct[codes]`` (``distinct``: ids, each once), e.g. the pair features'
        distinct workers, without factorizing one worker id per pair."""
        table, own = self.worker_exposure_, self.spell_exposure_
        n = len(codes)
        if table is None or own is None or not len(table) or n == 0:
            market_rate = self.market_.get("worker_exposure_left_rate", 0.0)
            return np.full(n, float(np.log(max(market_rate, MIN_LEFT_RATE))))
        distinct = np.asarray(distinct, dtype=object)
        wids = distinct[codes]
        pos = key_positions(table.index, distinct)[codes]
        sums = table.to_numpy(dtype=float)
        left = np.where(pos >= 0, sums[np.maximum(pos, 0), 0], 0.0)
        weeks = np.where(pos >= 0, sums[np.maximum(pos, 0), 1], 0.0)
        # only a worker with spells can have one at the pair's vacancy
        some = np.flatnonzero(pos >= 0)
        vids = np.asarray(vacancies, dtype=object)
        mine = np.full(n, -1, dtype=np.int64)
        rows_of = self._spell_rows(own) if len(some) else None
        if rows_of is not None:
            # each known worker's few spells by vacancy id: the rows get_indexer finds
            for c in np.unique(codes[some]).tolist():
                spells = rows_of.get(distinct[c])
                if spells:
                    at = some[codes[some] == c]
                    mine[at] = [spells.get(v, -1) for v in vids[at].tolist()]
        elif len(some):
            pairs = pd.MultiIndex.from_arrays([wids[some], pd.Index(vids[some], dtype=object)])
            mine[some] = own.index.get_indexer(pairs)
        spell = own.to_numpy(dtype=float)
        own_left = np.where(mine >= 0, spell[np.maximum(mine, 0), 0], 0.0)
        own_weeks = np.where(mine >= 0, spell[np.maximum(mine, 0), 1], 0.0)
        left = np.maximum(left - own_left, 0.0)
        weeks = np.maximum(weeks - own_weeks, 0.0)
        market_left = self.market_.get("worker_exposure_left", 0.0) - own_left
        market_weeks = self.market_.get("worker_exposure_weeks", 0.0) - own_weeks
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(market_weeks > 0, np.maximum(market_left, 0.0) / market_weeks, 0.0)
        shrunk = (left + PRIOR_WEEKS * rate) / (weeks + PRIOR_WEEKS)
        return np.log(np.maximum(shrunk, MIN_LEFT_RATE))

    def worker_left_log(self, workers: np.ndarray) -> np.ndarray:
        """:data:`WORKER_LEFT` of workers ``workers`` (ids): the log of
        ``(departures + PRIOR_WEEKS * rate) / (weeks + PRIOR_WEEKS)`` over their ended
        spells (:meth:`fit_worker_record`), ``rate`` the market's; a worker without an
        ended spell (or statistics fitted before the record existed) reads the market's."""
        table = self.workers_left_
        rate = self.market_.get("worker_left_rate", 0.0)
        prior = float(np.log(max(rate, MIN_LEFT_RATE)))
        if table is None or not len(table):
            return np.full(len(workers), prior)
        pos = key_positions(table.index, np.asarray(workers, dtype=object))
        values = table.to_numpy(dtype=float)
        return np.where(pos >= 0, values[np.maximum(pos, 0)], prior)

    def _fit_network(self, pairs: pd.DataFrame, home: pd.Series, vac: pd.DataFrame) -> None:
        """Referral and network tables: distinct (worker, vacancy) pairs seen, applied to
        and hired, counted by home county x employer, province and prefecture; and each
        vacancy's own views and applications (distinct workers)."""
        graded = pairs[Columns.Event].isin(PURSUED_EVENTS)
        hired = pairs[Columns.Event].isin(HIRED_EVENTS)
        g = (
            pairs.assign(applied=graded, hired=hired)
            .groupby([Columns.Worker, Columns.Vacancy], sort=False)[["applied", "hired"]]
            .max()
            .reset_index()
        )
        county = g[Columns.Worker].map(home).to_numpy(dtype=object)
        region = g[Columns.Vacancy].map(vac["region"]).to_numpy(dtype=object)
        employer = g[Columns.Vacancy].map(vac[Columns.Employer]).to_numpy(dtype=object)
        ok = np.array([isinstance(c, str) for c in county], dtype=bool) & np.array(
            [isinstance(r, str) for r in region], dtype=bool
        )
        county, region, employer = county[ok], region[ok], employer[ok]
        applied = g["applied"].to_numpy(dtype=float)[ok]
        hires = g["hired"].to_numpy(dtype=float)[ok]
        ones = np.ones(len(county))
        self.ties_ = {
            "views": CountTable(county, employer, ones),
            "applied": CountTable(county, employer, applied),
            "hired": CountTable(county, employer, hires),
        }
        self.province_applied_ = CountTable(county, _province_int(region), applied)
        self.prefecture_applied_ = CountTable(county, _prefecture_array(region), applied)
        vid = g[Columns.Vacancy].to_numpy(dtype=object)[ok]
        wid = g[Columns.Worker].to_numpy(dtype=object)[ok]
        # the worker's own past: vacancies and employers seen before (views repeat)
        self.worker_vacancy_ = SparseCountTable(wid, vid, ones)
        self.worker_employer_ = SparseCountTable(wid, employer, ones)
        self.vacancy_views_ = pd.Series(ones, index=vid).groupby(level=0).sum()
        self.vacancy_applied_ = pd.Series(applied, index=vid).groupby(level=0).sum()

    def fit_recent(self, events: pd.DataFrame, days: float = RECENT_DAYS) -> PairStatistics:
        """Applications per vacancy in the last ``days`` before the latest event."""
        graded = events[events[Columns.Event].isin(PURSUED_EVENTS)]
        if len(graded) == 0:
            self.vacancy_recent_ = pd.Series(dtype=float)
            return self
        end = graded[Columns.OccurredAt].max()
        late = graded[graded[Columns.OccurredAt] >= end - pd.Timedelta(days=days)]
        self.vacancy_recent_ = (
            late.drop_duplicates([Columns.Worker, Columns.Vacancy]).groupby(Columns.Vacancy).size()
        ).astype(float)
        return self

    def flow(self, county: np.ndarray, province: np.ndarray) -> np.ndarray:
        """Hired workers from each county to each province in training (0 if none)."""
        return self.flow_of_keys(county_keys(county), province)

    def flow_of_keys(self, county: np.ndarray, province: np.ndarray) -> np.ndarray:
        """:meth:`flow` of counties given as :func:`county_keys` (integers, -1 unknown)."""
        province = np.asarray(province, dtype=np.int64)
        if len(province) != len(county):
            raise ValueError(f"flow: {len(county)} counties but {len(province)} provinces")
        keys = np.where((county >= 0) & (province >= 0), county * 100 + province, -1)
        index = self.flows_.index.to_numpy(dtype=np.int64)
        counts = self.flows_.to_numpy(dtype=float)
        out = np.zeros(len(keys))
        if len(index) == 0 or len(keys) == 0:
            return out
        order = (
            np.argsort(index, kind="stable")
            if not self.flows_.index.is_monotonic_increasing
            else None
        )
        if order is not None:
            index, counts = index[order], counts[order]
        pos = np.minimum(np.searchsorted(index, keys), len(index) - 1)
        hit = (keys >= 0) & (index[pos] == keys)
        out[hit] = counts[pos[hit]]
        return out

    def employer_table(self, employers: np.ndarray) -> dict[str, np.ndarray]:
        """Employer-risk arrays for many employer ids; unseen employers get the market rate."""
        emp = self.employers_.reindex(pd.Index(employers, dtype=object))
        out = {}
        for name in ("arrears", "left", "retained"):
            out[f"{name}_rate"] = (
                emp[f"{name}_rate"].fillna(self.market_[f"{name}_rate"]).to_numpy(dtype=float)
            )
            out[name] = emp[name].fillna(0.0).to_numpy(dtype=float)
        out["hires"] = emp["hires"].fillna(0.0).to_numpy(dtype=float)
        return out


def county_keys(county: np.ndarray) -> np.ndarray:
    """Each county code as an integer (-1 where it is not a digit string); each distinct
    county is parsed once."""
    codes, uniques = pd.factorize(np.asarray(county, dtype=object))
    ints = np.array(
        [int(c) if isinstance(c, str) and c.isdigit() else -1 for c in uniques] + [-1],
        dtype=np.int64,
    )
    return ints[codes]  # code -1 (missing) reads the appended -1


def flow_keys(county: np.ndarray, province: np.ndarray) -> np.ndarray:
    """``county * 100 + province`` per pair (-1 where the county is not a digit string
    or the province is unknown); each distinct county is parsed once."""
    province = np.asarray(province, dtype=np.int64)
    if len(province) != len(county):
        raise ValueError(f"flow_keys: {len(county)} counties but {len(province)} provinces")
    c = county_keys(county)
    return np.where((c >= 0) & (province >= 0), c * 100 + province, -1)


# --------------------------------------------------------------------------- pairs


@dataclass
class VacancyContext:
    """Per-vacancy arrays derived from statistics (employer risk, verification, the
    vacancy's pull in training, its columns in the network tables) at one time."""

    arrears_rate: np.ndarray
    left_rate: np.ndarray
    retained_rate: np.ndarray
    arrears: np.ndarray
    hires: np.ndarray
    verified: np.ndarray
    tie_col: np.ndarray  # column of the vacancy's employer in stats.ties_ (-1 unseen)
    province_col: np.ndarray  # column in stats.province_applied_
    prefecture_col: np.ndarray  # column in stats.prefecture_applied_
    views_log: np.ndarray
    applied_log: np.ndarray
    recent_log: np.ndarray
    age_days: np.ndarray
    # how crowded the vacancy's buckets are among the open vacancies (log count sharing
    # its occupation code, prefecture, province, employer): a job board or a referral
    # shows one vacancy of a crowded bucket less often
    crowd: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    # per row of the network tables: the county's total over employers / provinces
    # that have open vacancies (the denominators of a referral's or a move's share)
    county_open_ties: np.ndarray = field(default_factory=lambda: np.zeros(1))
    county_open_flow: np.ndarray = field(default_factory=lambda: np.zeros(1))

    def set_crowd(
        self, vac: VacancyProfiles, open_pos: np.ndarray, stats: PairStatistics | None = None
    ) -> None:
        """Fill :attr:`crowd` (and the share denominators) from the open vacancies."""
        keys = (vac.code, vac.prefecture, vac.province, vac.employer)
        out = np.zeros((len(vac.ids), len(keys)))
        for j, key in enumerate(keys):
            col = pd.Series(np.asarray(key, dtype=object))
            counts = col.iloc[open_pos].value_counts(dropna=True)
            out[:, j] = np.log1p(col.map(counts).to_numpy(dtype=float, na_value=0.0))
        self.crowd = out
        if stats is not None:
            self.set_open_denominators(open_pos, stats)

    def set_open_denominators(self, open_pos: np.ndarray, stats: PairStatistics) -> None:
        """Fill :attr:`county_open_ties` and :attr:`county_open_flow` (the share
        denominators) from the open vacancies at ``open_pos``."""
        views = stats.ties_["views"].matrix_
        has = np.zeros(views.shape[1], np.float32)
        has[self.tie_col[open_pos]] = 1.0
        has[-1] = 0.0
        self.county_open_ties = views @ has
        flows = stats.province_applied_.matrix_
        hasp = np.zeros(flows.shape[1], np.float32)
        hasp[self.province_col[open_pos]] = 1.0
        hasp[-1] = 0.0
        self.county_open_flow = flows @ hasp

    @classmethod
    def build(
        cls,
        vac: VacancyProfiles,
        stats: PairStatistics,
        employers: pd.DataFrame,
        at: pd.Timestamp | None = None,
    ) -> VacancyContext:
        table = stats.employer_table(vac.employer)
        verified = (
            employers.set_index(Columns.Employer)["verified"]
            .astype("Float64")
            .reindex(pd.Index(vac.employer, dtype=object))
            .to_numpy(dtype=float, na_value=np.nan)
        )
        ids = pd.Index(vac.ids, dtype=object)

        def per_vacancy(series: pd.Series) -> np.ndarray:
            return np.log1p(series.reindex(ids).to_numpy(dtype=float, na_value=0.0))

        if at is not None and len(vac.posted_ns):
            now = float(pd.Timestamp(at).value)
            age = (now - vac.posted_ns) / 86_400e9
        else:
            age = np.full(len(vac.ids), np.nan)
        return cls(
            arrears_rate=table["arrears_rate"],
            left_rate=table["left_rate"],
            retained_rate=table["retained_rate"],
            arrears=table["arrears"],
            hires=table["hires"],
            verified=verified,
            tie_col=stats.ties_["views"].col_pos(vac.employer),
            province_col=stats.province_applied_.col_pos(vac.province),
            prefecture_col=stats.prefecture_applied_.col_pos(vac.prefecture),
            views_log=per_vacancy(stats.vacancy_views_),
            applied_log=per_vacancy(stats.vacancy_applied_),
            recent_log=per_vacancy(stats.vacancy_recent_),
            age_days=age,
        )


#: Ranker features that depend on the vacancy alone (its terms, employer, pull, age,
#: seats and crowding), whichever worker the pair has.
VACANCY_ONLY_COLUMNS = [*_TERMS_AND_EMPLOYER, *_CHANNEL_COLUMNS, *_PULL_AND_AGE, *_CROWDING]

#: Raw values quoted by explanations, after :data:`RANKER_COLUMNS` in a pair frame.
QUOTED_COLUMNS = [
    "flow",
    "offered_wage",
    "expected_wage",
    "wage_min",
    "wage_max",
    "employer_arrears",
]
#: The worker's P(looking for work) (:mod:`matcher.models.availability`), after
#: :data:`QUOTED_COLUMNS`: the scorer multiplies the ranker's probability by it.
AVAILABLE = "available"
#: The float columns of :func:`pair_matrix`, in order (``matched_code`` is kept apart).
PAIR_COLUMNS = [*RANKER_COLUMNS, *QUOTED_COLUMNS, AVAILABLE]
_PAIR_COL = {name: j for j, name in enumerate(PAIR_COLUMNS)}


def entry_level_of(codes: np.ndarray) -> np.ndarray:
    """:data:`ENTRY_LEVEL` of vacancies with these CSCO codes (None: no code): 1.0 where
    the occupation catalogue says the occupation takes newcomers, else 0.0."""
    entry = entry_level_codes()
    return np.fromiter((c in entry for c in codes), dtype=float, count=len(codes))


def language_sets_of(languages: Sequence[frozenset[str]]) -> np.ndarray:
    """The vacancies' required languages (a set each) as an object array."""
    return np.fromiter(languages, dtype=object, count=len(languages))


def _preferred_region(
    preferred: list[frozenset[str]], wi: np.ndarray, regions_of: np.ndarray, vi: np.ndarray
) -> np.ndarray:
    """1.0 where the vacancy's county, prefecture or province is one the worker prefers
    (``regions_of``: every vacancy's county, ``vi``: the pairs' vacancies).

    Only pairs whose worker lists a preferred region are looked at (one set test
    per level); each region's prefecture and province codes are derived once."""
    out = np.zeros(len(wi), dtype=float)
    uw, inv = np.unique(wi, return_inverse=True)
    sets = [preferred[w] for w in uw.tolist()]
    has = np.array([bool(s) for s in sets], dtype=bool)
    if not has.any():
        return out
    take = np.flatnonzero(has[inv])
    # one set test per distinct (worker, region) among the pairs, gathered per pair; the
    # regions by their codes in the catalogue's array (value_codes: coded once)
    every, by_value = value_codes(np.asarray(regions_of, dtype=object))
    distinct = list(by_value)
    regions = every[vi[take]]
    named = regions >= 0  # a missing region prefers nothing
    take, regions = take[named], regions[named]
    if len(take) == 0:
        return out
    combos, back = np.unique(inv[take] * len(distinct) + regions, return_inverse=True)
    levels: dict[int, tuple | None] = {}
    hit = np.zeros(len(combos), dtype=float)
    for j, key in enumerate(combos.tolist()):
        r = key % len(distinct)
        if r not in levels:
            name = distinct[r]
            levels[r] = (
                (name, province_of(name), prefecture_of(name)) if isinstance(name, str) else None
            )
        codes = levels[r]
        if codes is not None:
            s = sets[key // len(distinct)]
            hit[j] = float(codes[0] in s or codes[1] in s or codes[2] in s)
    out[take] = hit[back.reshape(-1)]
    return out


def language_fit(
    worker_langs: list[frozenset[str]],
    vacancy_langs: list[frozenset[str]],
    wi: np.ndarray,
    vi: np.ndarray,
    sets: np.ndarray | None = None,
) -> np.ndarray:
    """The ``language_fit`` pair feature: 0.0 where the vacancy requires a language the
    worker does not speak, else 1.0.

    One set test per distinct worker and distinct requirement among the pairs (a
    province's vacancies require a handful of language sets), gathered per pair.

    Parameters
    ----------
    worker_langs, vacancy_langs : list of frozenset of str
        The languages each worker speaks and each vacancy requires (empty: none).
    wi, vi : numpy.ndarray
        Worker and vacancy positions of the pairs.
    sets : numpy.ndarray, optional
        The vacancies' :func:`language_sets_of`, when known (computed otherwise).

    Returns
    -------
    numpy.ndarray
        (pairs,) float.
    """
    if len(vi) == 0:
        return np.ones(0)
    if sets is None or len(sets) != len(vacancy_langs):
        sets = language_sets_of(vacancy_langs)
    # the catalogue's sets coded once (value_codes keeps them with the array): a pair
    # reads its vacancy's code, not a factorization of the pairs' sets
    every, by_value = value_codes(sets)
    codes = every[vi]
    distinct = list(by_value)
    uw, inv = np.unique(wi, return_inverse=True)
    fit = np.array(
        [[0.0 if need and not need <= worker_langs[w] else 1.0 for need in distinct] for w in uw],
        dtype=float,
    ).reshape(len(uw), len(distinct))
    return fit[inv.reshape(-1), codes]


def lookup_by_worker(
    table: SparseCountTable, worker_ids: np.ndarray, inv: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """``table.lookup`` for pairs whose workers are ``worker_ids[inv]``: worker keys
    are looked up once each, column keys only for workers the table knows.

    A known worker's row stores the few columns they touched; string column keys are
    matched against those keys directly (a dict per worker), not positioned among all
    columns (a pandas Index of the pairs' keys per call). Other keys keep
    :meth:`CountTable.col_pos`."""
    rows = table.row_pos(worker_ids)
    out = np.zeros(len(inv))
    known = rows[inv] >= 0
    if not known.any():
        return out
    cols = np.asarray(cols, dtype=object)
    if not all(type(key) is str for key in cols[known]):
        pair_rows = rows[inv][known]
        out[known] = table.lookup_positions(pair_rows, table.col_pos(cols[known]))
        return out
    m = table.sparse_
    for u in np.flatnonzero(rows >= 0).tolist():
        lo, hi = m.indptr[rows[u]], m.indptr[rows[u] + 1]
        if lo == hi:
            continue
        stored = dict(zip(table.cols_[m.indices[lo:hi]], m.data[lo:hi].tolist(), strict=True))
        pairs = np.flatnonzero(inv == u)
        out[pairs] = [stored.get(key, 0.0) for key in cols[pairs].tolist()]
    return out


def pair_matrix(
    workers: WorkerProfiles,
    vacancies: VacancyProfiles,
    context: VacancyContext,
    stats: PairStatistics,
    wi: np.ndarray,
    vi: np.ndarray,
    *,
    lightfm: np.ndarray,
    dense: np.ndarray,
    lexical: np.ndarray,
    year: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of many (worker, vacancy) pairs, vectorised.

    Keys that depend on the worker alone (rows of the network tables) are looked up
    once per distinct worker, not once per pair, so a request's few hundred pairs of
    one worker cost a handful of index lookups.

    Parameters
    ----------
    workers, vacancies : profiles
    context : VacancyContext
        Employer-risk arrays aligned with ``vacancies``.
    stats : PairStatistics
        Training-data counts (transfer flows).
    wi, vi : ndarray of int
        Row positions of the pairs' workers and vacancies.
    lightfm, dense, lexical : ndarray of float
        The retrieval scores of the pairs.
    year : int
        Reference year for ages.

    Returns
    -------
    (values, matched_code) : ndarray of float, ndarray of object
        The float columns :data:`PAIR_COLUMNS` ``(n_pairs, len(PAIR_COLUMNS))``:
        :data:`RANKER_COLUMNS` plus the raw values the explanations quote
        (:data:`QUOTED_COLUMNS`: ``flow``, ``offered_wage``, ``expected_wage``,
        ``wage_min``, ``wage_max``, ``employer_arrears``) and the worker's
        :data:`AVAILABLE`; and the vacancy's occupation code per pair.
    """
    wi = np.asarray(wi, dtype=np.int64)
    vi = np.asarray(vi, dtype=np.int64)
    n = len(wi)
    # column-major: written column by column here, read column by column by the ranker
    out = np.empty((len(PAIR_COLUMNS), n), dtype=float).T

    def put(name: str, values: object) -> None:
        out[:, _PAIR_COL[name]] = values

    uw, inv = np.unique(wi, return_inverse=True)
    inv = inv.reshape(-1)
    county_u = workers.county[uw]
    county = county_u[inv]
    occ = _occupation_levels(workers.code_keys[uw], vacancies.code_keys, inv, vi)
    wc = workers.coords[wi]
    vc = vacancies.coords[vi]
    dist = haversine_km(wc[:, 0], wc[:, 1], vc[:, 0], vc[:, 1]) if n else np.zeros(0)
    region = vacancies.region[vi]
    vprov = vacancies.province[vi]
    flow = stats.flow_of_keys(county_keys(county_u)[inv], vprov) if n else np.zeros(0)
    expected = workers.expected_wage[wi]
    offered = vacancies.offered_wage[vi]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, offered / expected, np.nan)
    peers_ratio = ratio
    reference = stats.wage_reference_
    if reference is not None:
        # a vacancy that posts no wage: what its peers pay (WageReference), for the
        # stages that turn on the wage paid (the hire and the stay), not the worker's
        # choice to apply (he sees no figure) nor the explanations (posted figures only)
        blank = np.flatnonzero(~np.isfinite(offered))
        if len(blank):
            # once per distinct vacancy: a worker's run of pairs holds each vacancy once,
            # a batch of workers the same vacancies again
            each, at = np.unique(vi[blank], return_inverse=True)
            peers = reference.impute(vacancies.code_keys[each], vacancies.channel[each])
            peers = peers[at.reshape(-1)]
            peers_ratio = ratio.copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                peers_ratio[blank] = np.where(expected[blank] > 0, peers / expected[blank], np.nan)
    put("lightfm", lightfm)
    put("dense", dense)
    put("lexical", lexical)
    put("occ_match", occ)
    put("distance_km", dist)
    put("same_county", county == region)
    put("same_province", workers.province[wi] == vprov)
    put("preferred_region", _preferred_region(workers.preferred, wi, vacancies.region, vi))
    put("flow_log", np.log1p(flow))
    put("wage_ratio", ratio)
    put("wage_gap", offered - expected)
    for name in ("housing", "meals", "labor_contract", "social_insurance"):
        put(name, getattr(vacancies, name)[vi])
    put("employer_arrears_rate", context.arrears_rate[vi])
    put("employer_left_rate", context.left_rate[vi])
    put("employer_retained_rate", context.retained_rate[vi])
    put("employer_hires_log", np.log1p(context.hires[vi]))
    put("employer_verified", context.verified[vi])
    put(
        "language_fit",
        language_fit(workers.languages, vacancies.languages, wi, vi, vacancies.language_sets),
    )
    first = _PAIR_COL[f"channel_{CHANNELS[0]}"]
    out[:, first : first + len(CHANNELS)] = vacancies.channel_onehot[vi]
    put("capacity", workers.capacity[wi])
    put("household", workers.household[wi])
    put("age", year - workers.birth_year[wi])
    ties = stats.ties_
    trow = ties["views"].row_pos(county_u)[inv]
    tcol = context.tie_col[vi]
    for name in ("views", "applied", "hired"):
        put(f"tie_{name}_log", np.log1p(ties[name].matrix_[trow, tcol].astype(float)))
    # a referral picks an employer in proportion to the county's ties, then one of its
    # open vacancies: the share of this vacancy in the county's referrals
    crowd = context.crowd[vi] if len(context.crowd) else np.full((n, 4), np.nan)
    crowd_e = np.expm1(crowd[:, 3]) if len(context.crowd) else np.ones(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = ties["views"].matrix_[trow, tcol] / context.county_open_ties[trow]
        put("referral_share", np.nan_to_num(share / np.maximum(crowd_e, 1.0)))
    prow = stats.province_applied_.row_pos(county_u)[inv]
    pflow = stats.province_applied_.matrix_[prow, context.province_col[vi]].astype(float)
    put("flow_applied_log", np.log1p(pflow))
    crowd_p = np.expm1(crowd[:, 2]) if len(context.crowd) else np.ones(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = pflow / context.county_open_flow[prow]
        put("flow_share", np.nan_to_num(share / np.maximum(crowd_p, 1.0)))
    frow = stats.prefecture_applied_.row_pos(county_u)[inv]
    put(
        "pref_applied_log",
        np.log1p(stats.prefecture_applied_.matrix_[frow, context.prefecture_col[vi]].astype(float)),
    )
    put(
        "partner",
        np.where(vprov >= 0, workers.partner[wi, np.clip(vprov, 0, N_PROVINCES - 1)], 0.0),
    )
    put("same_prefecture", workers.prefecture[wi] == vacancies.prefecture[vi])
    entry = vacancies.entry_level
    put(
        ENTRY_LEVEL,
        entry[vi] if len(entry) == len(vacancies.ids) else entry_level_of(vacancies.code[vi]),
    )
    put("vacancy_views_log", context.views_log[vi])
    put("vacancy_applied_log", context.applied_log[vi])
    put("vacancy_recent_log", context.recent_log[vi])
    put("vacancy_age_days", context.age_days[vi])
    put("seats", vacancies.headcount[vi])
    put("far", dist > FAR_KM)
    put("mandarin", workers.mandarin[wi])
    put("female", workers.female[wi])
    put("mobility", workers.mobility[wi])
    for j, name in enumerate(("occupation", "prefecture", "province", "employer")):
        put(f"crowd_{name}", crowd[:, j])
    wids = workers.ids.to_numpy(dtype=object)[uw]
    vids = vacancies.ids.to_numpy(dtype=object)[vi]
    put("worker_seen_vacancy", lookup_by_worker(stats.worker_vacancy_, wids, inv, vids))
    put(
        "worker_seen_employer_log",
        np.log1p(lookup_by_worker(stats.worker_employer_, wids, inv, vacancies.employer[vi])),
    )
    put(WORKER_LEFT, stats.worker_left_log(wids)[inv])
    put(WORKER_EXPOSURE_LEFT, stats.exposure_left_log_by_worker(wids, inv, vids))
    put(WAGE_RATIO_PEERS, peers_ratio)
    # raw values quoted by explanations
    put("flow", flow)
    put("offered_wage", offered)
    put("expected_wage", expected)
    put("wage_min", vacancies.wage_min[vi])
    put("wage_max", vacancies.wage_max[vi])
    put("employer_arrears", context.arrears[vi])
    put(AVAILABLE, workers.available[wi] if len(workers.available) else 1.0)
    return out, vacancies.code[vi]


class EmbeddingClusters:
    """k-means over text embeddings (workers and vacancies together, one space), so that
    ``cluster:k`` tokens mean the same topic on both sides.

    Parameters
    ----------
    n_clusters : int, default 32
        Capped at the number of distinct training texts.
    random_state : int, default 0
    """

    def __init__(self, n_clusters: int = 32, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, embeddings: np.ndarray) -> EmbeddingClusters:
        from sklearn.cluster import MiniBatchKMeans

        x = np.asarray(embeddings, dtype=np.float32)
        distinct = len(np.unique(x.round(5), axis=0)) if len(x) else 0
        k = min(self.n_clusters, distinct)
        if k < 2:
            self.centres_ = np.zeros((0, x.shape[1] if x.ndim == 2 else 0), np.float32)
            return self
        km = MiniBatchKMeans(
            n_clusters=k, random_state=self.random_state, n_init=3, batch_size=2048
        ).fit(x)
        self.centres_ = km.cluster_centers_.astype(np.float32)
        return self

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Nearest centre of each row (-1 for all rows when no clusters were learned)."""
        x = np.asarray(embeddings, dtype=np.float32)
        if len(self.centres_) == 0 or len(x) == 0:
            return np.full(len(x), -1, dtype=np.int64)
        d = (
            (x * x).sum(1)[:, None]
            - 2 * x @ self.centres_.T
            + (self.centres_ * self.centres_).sum(1)[None, :]
        )
        return d.argmin(axis=1).astype(np.int64)
