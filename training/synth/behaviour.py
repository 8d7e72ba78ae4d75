"""The behavioural model that turns a market into weeks of events.

Week by week: searching workers see vacancies on a job board (by their trade, near
home, in the provinces their county sends people to, or what is popular); they
apply with a probability that rises with occupational fit, wage against
expectation, housing and meals for long moves, written terms, the county's
network in the destination province and the worker's stated preferences, and
falls for jobs they may not take (mobility, capacity, age, language). Employers
interview and make offers to the best-fitting eligible applicants, never more than
the seats left; a worker with several offers takes the best and declines the rest.
Every hire then gets a tenure drawn from a hazard that depends on pay, terms,
employer quality (risky employers fall into wage arrears), distance without
housing, the network and the group the worker travels with; ``left``,
``retained_3m`` and ``retained_6m`` follow, within the horizon only.

Formulas and parameters: ``docs/sample-market.md`` (kept in step with ``PARAMS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matcher.data import reference
from matcher.data.schema import EventType
from training.synth.employers import EmployerDraw, VacancyDraw
from training.synth.tables import (
    KINDS,
    SEARCH_SEASON,
    Tables,
    object_frame,
    season_factor,
    spring_festivals,
)
from training.synth.workers import WorkerDraw

#: Event codes, indexed by the constants below (the contract's order of ``EventType``).
EVENTS = np.array([e.value for e in EventType], object)
VIEWED, APPLIED, INTERVIEWED, REJECTED, DECLINED, HIRED = range(6)
LEFT, RETAINED_3M, RETAINED_6M, WAGE_ARREARS, INJURY = range(6, 11)

DAY = 86_400 * 10**9
HOUR = 3_600 * 10**9
WEEK = 7 * DAY
PUBLIC = KINDS.index("public")
FACTORY = KINDS.index("factory")
FAR_KM = 300.0
#: where a view comes from, by mobility (any, province, local): the worker's trade on the
#: job board, near home, a province the county sends people to, a fellow villager's
#: employer (referral), what is popular
SOURCES_ANY = (0.15, 0.10, 0.20, 0.45, 0.10)
SOURCES_PROVINCE = (0.20, 0.25, 0.20, 0.25, 0.10)
SOURCES_LOCAL = (0.20, 0.45, 0.0, 0.20, 0.15)


@dataclass(frozen=True)
class Params:
    """Coefficients of the behavioural model (documented in docs/sample-market.md)."""

    views_base: float = 1.0
    views_activity: float = 3.0
    apply_intercept: float = -1.6
    apply_trade: float = 2.0
    apply_trade2: float = 1.0
    apply_minor_group: float = 0.5
    apply_off_trade: float = -1.0
    apply_newcomer_entry: float = 0.5
    apply_ineligible: float = -3.5
    apply_wage: float = 2.5
    apply_housing_far: float = 0.7
    apply_no_housing_far: float = -0.5
    apply_meals_far: float = 0.3
    apply_contract: float = 0.3
    apply_insurance: float = 0.2
    apply_network: float = 0.3
    apply_referral: float = 0.8
    apply_partner: float = 0.3
    apply_preferred: float = 0.9
    apply_public_poor: float = 0.7
    apply_public_not_poor: float = -1.2
    apply_home_caregiver: float = 0.6
    apply_no_mandarin_far: float = -1.0
    apply_verified: float = 0.2
    apply_distance: float = -0.1
    hire_intercept: float = -1.0
    hire_trade: float = 1.8
    hire_trade2: float = 1.0
    hire_minor_group: float = 0.5
    hire_experience: float = 0.6
    hire_certificate: float = 0.6
    hire_network: float = 0.2
    hire_referral: float = 0.6
    hire_mandarin_far: float = 0.4
    hire_off_trade: float = -0.8
    hire_monitored_public: float = 0.5
    accept_intercept: float = 2.0
    accept_wage: float = 1.5
    p_interview: float = 0.6
    p_reject_notice: float = 0.6
    leave_base_per_week: float = 0.03
    leave_wage: float = -1.5
    leave_no_contract: float = 0.5
    leave_no_insurance: float = 0.35
    leave_risky: float = 0.7
    leave_quality: float = -0.3
    leave_far_no_housing: float = 0.6
    leave_network: float = -0.2
    leave_referral: float = -0.3
    leave_group: float = -0.5
    leave_off_trade: float = 0.6
    leave_no_mandarin_far: float = 0.4
    leave_home_channel: float = -0.4
    leave_caregiver_far: float = 0.3
    arrears_p_risky: float = 0.6
    arrears_p_other: float = 0.01
    arrears_leave_p: float = 0.7
    injury_rate: float = 0.0003  # per week, times (1 + injury level)^2
    injury_leave_p: float = 0.5
    new_year_leave_p: float = 0.08  # employed workers who go home for the festival and stay
    new_year_leave_far_p: float = 0.12  # extra for jobs over 300 km from home
    network_prior: float = 30.0
    tie_shape: float = 2.0  # gamma prior of county-employer ties
    tie_scale: float = 3.0
    group_try_p: float = 0.5
    group_hire_p: float = 0.7


PARAMS = Params()


@dataclass
class MarketState:
    """The hidden state at the end of the horizon (the snapshot) that the truth reads."""

    end_ns: int
    #: a worker searches from this time on (int64 ns; max while employed)
    free_from: np.ndarray
    seats_left: np.ndarray
    #: county x province placements, prior + hires (F)
    flows: np.ndarray
    #: county x employer ties, prior + hires (T)
    ties: np.ndarray
    #: sorted keys worker * n_vacancies + vacancy of pairs already applied to
    applied: np.ndarray
    #: until when each household holds a public-welfare post (int64 ns)
    public_until: np.ndarray


@dataclass
class Probes:
    """What the simulation drew, beside the probability it drew it with (for validation).

    ``view_p`` / ``view_applied``: every individual view; ``app_p`` / ``app_hired``: every
    application decided inside the horizon, with the single-applicant P(offer and accept);
    ``hire_p6m`` / ``hire_kept6m``: every individual hire, with the closed-form P(still there
    after 26 weeks) and whether the drawn tenure exceeds 26 weeks (known even past the horizon).
    """

    view_p: list[np.ndarray] = field(default_factory=list)
    view_applied: list[np.ndarray] = field(default_factory=list)
    app_p: list[np.ndarray] = field(default_factory=list)
    app_hired: list[np.ndarray] = field(default_factory=list)
    hire_p6m: list[np.ndarray] = field(default_factory=list)
    hire_kept6m: list[np.ndarray] = field(default_factory=list)

    def arrays(self, name: str) -> np.ndarray:
        """One probe as a single array (``view_p``, ``app_hired``, ...)."""
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class Outcome:
    events: pd.DataFrame
    hires: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # hires per vacancy
    flows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # county x province
    state: MarketState | None = None
    probes: Probes | None = None


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class PairMarket:
    """Precomputed arrays for fast pair features (shared by the simulation and the truth)."""

    def __init__(self, w: WorkerDraw, e: EmployerDraw, v: VacancyDraw, t: Tables):
        self.w, self.e, self.v, self.t = w, e, v, t
        cat = t.catalogue
        prov_pos = {p: i for i, p in enumerate(t.provinces)}
        uniq, self.vreg = np.unique(v.region, return_inverse=True)
        cty_xy = np.array([reference.coordinates(c) for c in t.counties.code])
        reg_xy = np.array([reference.coordinates(c) for c in uniq]).reshape(-1, 2)
        self.dist = reference.haversine_km(
            cty_xy[:, None, 0], cty_xy[:, None, 1], reg_xy[None, :, 0], reg_xy[None, :, 1]
        )
        self.vprov = np.array([prov_pos[r[:2] + "0000"] for r in v.region], int)
        self.wprov = np.array([prov_pos[p] for p in t.counties.province], int)[w.county]
        self.vpref = pd.factorize(pd.Series([r[:4] for r in v.region]))
        pref_codes = {c: i for i, c in enumerate(self.vpref[1])}
        self.vpref_id = self.vpref[0]
        self.wpref_id = np.array([pref_codes.get(p[:4], -1) for p in t.counties.prefecture], int)[
            w.county
        ]
        self.vocc = v.occupation
        self.code_visible = v.frame["occupation_code"].notna().to_numpy()
        self.vlight = cat.light_work[v.occupation] & self.code_visible
        self.minor = cat.minor_group
        self.verified = e.frame["verified"].to_numpy(bool)[v.employer]
        self.risky = e.risky[v.employer]
        self.quality = e.quality[v.employer]
        self.birth_year = w.birth_year

    def distance(self, wi: np.ndarray, vi: np.ndarray) -> np.ndarray:
        return self.dist[self.w.county[wi], self.vreg[vi]]

    def eligible(self, wi: np.ndarray, vi: np.ndarray, at_ns: np.ndarray) -> np.ndarray:
        """The hard rules (matcher.eligibility.rules), with a small safety margin on distance."""
        w, v = self.w, self.v
        d = self.distance(wi, vi)
        mob = w.mobility[wi]
        ok = (
            (mob == 0)
            | ((mob == 1) & (self.wprov[wi] == self.vprov[vi]))
            | ((mob == 2) & (d <= w.commute_km[wi] * 0.98))
        )
        ok &= (w.capacity[wi] == 0) | self.vlight[vi] | (v.channel[vi] == PUBLIC)
        year = pd.to_datetime(at_ns).year.to_numpy()
        age = year - self.birth_year[wi]
        lo, hi = v.min_age[vi], v.max_age[vi]
        ok &= (np.isnan(lo) | (age >= lo)) & (np.isnan(hi) | (age <= hi))
        req = v.language[vi]
        ok &= (req == "") | ((req == "zh") & w.speaks_zh[wi]) | (req == w.minority[wi])
        return ok

    def match(self, wi: np.ndarray, vi: np.ndarray) -> tuple[np.ndarray, ...]:
        t1, t2 = self.w.trade1[wi], self.w.trade2[wi]
        occ = self.vocc[vi]
        m1 = t1 == occ
        m2 = (t2 == occ) & ~m1
        mg = (t1 >= 0) & (self.minor[np.maximum(t1, 0)] == self.minor[occ]) & ~m1 & ~m2
        entry = self.t.catalogue.entry[occ]
        return m1, m2, mg, entry


def apply_logit(
    mk: PairMarket,
    p: Params,
    wi: np.ndarray,
    vi: np.ndarray,
    at_ns: np.ndarray,
    flows: np.ndarray,
    ties: np.ndarray,
) -> np.ndarray:
    """The logit *s* of P(apply | view) for pairs seen at ``at_ns`` (docs: "Who applies").

    ``flows`` (county x province placements) and ``ties`` (county x employer) are the
    network at the moment of the view.
    """
    w, v, t = mk.w, mk.v, mk.t
    d = mk.distance(wi, vi)
    far = d > FAR_KM
    m1, m2, mg, entry = mk.match(wi, vi)
    elig = mk.eligible(wi, vi, at_ns)
    newcomer = w.trade1[wi] < 0
    ratio = np.log(v.wage_mid[vi] / w.expected_wage[wi])
    wage_term = np.where(np.isnan(ratio), -0.3, p.apply_wage * np.clip(ratio, -1, 0.6))
    net = np.log1p(flows[w.county[wi], mk.vprov[vi]])
    cross = mk.vprov[vi] != mk.wprov[wi]
    ch = v.channel[vi]
    poor = w.household_status[wi] > 0
    return (
        p.apply_intercept
        + p.apply_trade * m1
        + p.apply_trade2 * m2
        + p.apply_minor_group * mg
        + p.apply_off_trade * (~m1 & ~m2 & ~mg & ~entry)
        + p.apply_newcomer_entry * (newcomer & entry)
        + p.apply_ineligible * ~elig
        + wage_term
        + far
        * (
            p.apply_housing_far * v.housing[vi]
            + p.apply_no_housing_far * ~v.housing[vi]
            + p.apply_meals_far * v.meals[vi]
        )
        + p.apply_contract * v.contract[vi]
        + p.apply_insurance * v.insurance[vi]
        + cross * (p.apply_network * net + p.apply_partner * t.partner[w.county[wi], mk.vprov[vi]])
        + p.apply_referral * np.log1p(ties[w.county[wi], v.employer[vi]])
        + p.apply_preferred * w.preferred_provinces[wi, mk.vprov[vi]]
        + (ch == PUBLIC) * np.where(poor, p.apply_public_poor, p.apply_public_not_poor)
        + np.isin(ch, [FACTORY, PUBLIC])
        * p.apply_home_caregiver
        * (w.caregiver[wi] | (w.mobility[wi] == 2) | (w.capacity[wi] > 0))
        + p.apply_no_mandarin_far * (far & ~w.speaks_zh[wi])
        + p.apply_verified * mk.verified[vi]
        + p.apply_distance * np.log1p(d / 100)
    )


def hire_score(
    mk: PairMarket,
    p: Params,
    wi: np.ndarray,
    vi: np.ndarray,
    flows: np.ndarray,
    ties: np.ndarray,
) -> np.ndarray:
    """The employer's score *h* without its Logistic(0, 1) noise (docs: "Who is hired").

    An eligible applicant gets an offer when *h* + noise > 0, so P(offer) = σ(*h*) for a
    single applicant with a seat free.
    """
    w, v = mk.w, mk.v
    m1, m2, mg, entry = mk.match(wi, vi)
    d = mk.distance(wi, vi)
    net = np.log1p(flows[w.county[wi], mk.vprov[vi]])
    return (
        p.hire_intercept
        + p.hire_trade * m1
        + p.hire_trade2 * m2
        + p.hire_minor_group * mg
        + p.hire_experience * (m1 & (w.experience[wi] >= 3))
        + p.hire_certificate * (m1 & w.certified[wi])
        + p.hire_network * net
        + p.hire_referral * np.log1p(ties[w.county[wi], v.employer[vi]])
        + p.hire_mandarin_far * ((d > FAR_KM) & w.speaks_zh[wi])
        + p.hire_off_trade * (~m1 & ~m2 & ~entry)
        + p.hire_monitored_public * ((v.channel[vi] == PUBLIC) & (w.household_status[wi] == 2))
    )


def accept_logit(mk: PairMarket, p: Params, wi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    """The logit of P(accept | offer): pay against the worker's expected wage."""
    ratio = np.log(mk.v.wage_offered[vi] / mk.w.expected_wage[wi])
    return p.accept_intercept + p.accept_wage * np.clip(ratio, -1, 0.5)


def leave_rate(
    mk: PairMarket,
    p: Params,
    wi: np.ndarray,
    vi: np.ndarray,
    flows: np.ndarray,
    ties: np.ndarray,
    grouped: np.ndarray,
) -> np.ndarray:
    """Weekly hazard of leaving a job, ``leave_base_per_week · exp(x)`` (docs: "Who stays")."""
    w, v = mk.w, mk.v
    far = mk.distance(wi, vi) > FAR_KM
    m1, m2, _, _ = mk.match(wi, vi)
    ratio = np.log(v.wage_offered[vi] / w.expected_wage[wi])
    net = np.log1p(flows[w.county[wi], mk.vprov[vi]])
    tie = np.log1p(ties[w.county[wi], v.employer[vi]])
    home = np.isin(v.channel[vi], [FACTORY, PUBLIC])
    x = (
        p.leave_wage * np.clip(ratio, -1, 0.5)
        + p.leave_no_contract * ~v.contract[vi]
        + p.leave_no_insurance * ~v.insurance[vi]
        + p.leave_risky * mk.risky[vi]
        + p.leave_quality * mk.quality[vi]
        + p.leave_far_no_housing * (far & ~v.housing[vi])
        + p.leave_network * net
        + p.leave_referral * tie
        + p.leave_group * grouped
        + p.leave_off_trade * (~m1 & ~m2)
        + p.leave_no_mandarin_far * (far & ~w.speaks_zh[wi])
        + p.leave_home_channel * home
        + p.leave_caregiver_far * (far & w.caregiver[wi])
        - w.staying[wi]
    )
    return p.leave_base_per_week * np.exp(x)


def arrears_probability(mk: PairMarket, p: Params, vi: np.ndarray) -> np.ndarray:
    """P(wage arrears during a job at vacancy ``vi``): risky employers mostly."""
    return np.where(mk.risky[vi], p.arrears_p_risky, p.arrears_p_other)


def injury_rate(mk: PairMarket, p: Params, vi: np.ndarray) -> np.ndarray:
    """Weekly injury rate of the job: ``injury_rate · (1 + level)²``."""
    level = mk.t.catalogue.injury[mk.vocc[vi]]
    return p.injury_rate * (1 + level) ** 2


def new_year_leave_probability(mk: PairMarket, p: Params, wi: np.ndarray, vi: np.ndarray):
    """P(going home for a Spring Festival during the job and not coming back)."""
    far = mk.distance(wi, vi) > FAR_KM
    return p.new_year_leave_p + p.new_year_leave_far_p * far


@dataclass
class Tenure:
    """A drawn job spell: its length and the arrears and injury in it (ns from the hire)."""

    tenure: np.ndarray
    arrears_at: np.ndarray
    has_arrears: np.ndarray
    injury_at: np.ndarray
    has_injury: np.ndarray


def draw_tenure(
    rng: np.random.Generator,
    p: Params,
    rate: np.ndarray,
    p_arrears: np.ndarray,
    inj_rate: np.ndarray,
    p_new_year: np.ndarray,
    t_hire: np.ndarray,
) -> Tenure:
    """Draw how long each hire stays: the hazard, then arrears, injuries, the festival.

    The closed form of P(tenure > k weeks) is :func:`stay_probability`.
    """
    n = len(rate)
    tenure = np.minimum(rng.exponential(1.0, n) / rate, 1000.0) * WEEK  # ns, capped
    # wage arrears: risky employers mostly; people leave soon after
    arrears_at = rng.uniform(3, 10, n) * WEEK
    has_arr = (rng.random(n) < p_arrears) & (arrears_at < tenure)
    quit_after = arrears_at + rng.uniform(0.5, 4, n) * WEEK
    quits = has_arr & (rng.random(n) < p.arrears_leave_p)
    tenure = np.where(quits, np.minimum(tenure, quit_after), tenure)
    # injuries: rare, more in heavy work
    injury_at = np.minimum(rng.exponential(1.0, n) / inj_rate, 1000.0) * WEEK
    has_inj = injury_at < tenure
    leave_inj = injury_at + rng.uniform(1, 6, n) * WEEK
    stops = has_inj & (rng.random(n) < p.injury_leave_p)
    tenure = np.where(stops, np.minimum(tenure, leave_inj), tenure)
    # going home for the Spring Festival, and not coming back
    for festival in spring_festivals():
        goes_home = (
            (t_hire < festival - 14 * DAY)
            & (t_hire + tenure > festival - 14 * DAY)
            & (rng.random(n) < p_new_year)
        )
        leave_at = festival - rng.uniform(1, 14, n) * DAY - t_hire
        tenure = np.where(goes_home, np.minimum(tenure, leave_at), tenure)
    tenure = tenure.astype(np.int64)
    # arrears and injuries only while still employed (the festival may have ended the job)
    has_arr &= arrears_at < tenure
    has_inj &= injury_at < tenure
    return Tenure(tenure, arrears_at, has_arr, injury_at, has_inj)


def stay_probability(
    p: Params,
    rate: np.ndarray,
    p_arrears: np.ndarray,
    inj_rate: np.ndarray,
    p_new_year: np.ndarray,
    t_hire: np.ndarray,
    weeks: float = 26.0,
) -> np.ndarray:
    """P(the tenure :func:`draw_tenure` draws exceeds ``weeks``), in closed form.

    A spell outlives *k* = ``weeks`` weeks when each way of ending it misses the window:

    * the hazard: exp(−rate·k);
    * wage arrears (3–10 weeks in, leaving 0.5–4 weeks later, so always before 14 weeks):
      1 − p_arrears · ``arrears_leave_p``;
    * an injury at Exp(inj_rate) weeks, leaving U(1, 6) weeks later with
      ``injury_leave_p``: 1 − ``injury_leave_p`` · P(injury + U(1, 6) < k), where
      P(E + U < k) = 1 − e^{−λ(k−1)}·(e^{5λ} − 1)/(5λ);
    * each Spring Festival *f* whose cut-off *f* − 14 days falls after the hire: the worker
      goes home with ``p_new_year`` and leaves U(1, 14) days before *f*, which ends the
      spell inside the window with P(U ≥ (f − hire)/day − 7k) = clip((14 − a)/13, 0, 1).

    Given the spell outlives the window, these are independent draws, so the product is
    exact (the 1,000-week cap and whole-second rounding aside).

    Parameters
    ----------
    p : Params
    rate, p_arrears, inj_rate, p_new_year : array
        Per hire: weekly hazard, P(arrears), weekly injury rate, P(going home for a festival).
    t_hire : array of int64
        Hire times (ns).
    weeks : float
        The window; at least 14 (the latest an arrears departure can come).

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1].
    """
    if weeks < 14:
        raise ValueError(f"weeks must be at least 14 (arrears departures end by then), got {weeks}")
    k = float(weeks)
    rate = np.asarray(rate, float)
    lam = np.asarray(inj_rate, float)
    out = np.exp(-rate * k)
    out = out * (1.0 - np.asarray(p_arrears) * p.arrears_leave_p)
    ratio = np.where(lam > 0, np.expm1(5 * lam) / np.where(lam > 0, 5 * lam, 1.0), 1.0)
    p_inj = 1.0 - np.exp(-lam * (k - 1)) * ratio
    out = out * (1.0 - p.injury_leave_p * p_inj)
    t_hire = np.asarray(t_hire, np.int64)
    for festival in spring_festivals():
        after = t_hire < festival - 14 * DAY
        a = (festival - t_hire) / DAY - 7 * k
        inside = np.clip((14.0 - a) / 13.0, 0.0, 1.0)
        out = out * np.where(after, 1.0 - np.asarray(p_new_year) * inside, 1.0)
    return np.clip(out, 0.0, 1.0)


def simulate(
    rng: np.random.Generator,
    w: WorkerDraw,
    e: EmployerDraw,
    v: VacancyDraw,
    t: Tables,
    start: pd.Timestamp,
    weeks: int,
    params: Params = PARAMS,
    probe: bool = False,
) -> Outcome:
    """Run the weekly job-search process and return the events (contract ids).

    With ``probe`` the outcome also carries :class:`Probes` (the probability behind every
    view, application and hire) for validating ``training.synth.truth``.
    """
    p = params
    probes = Probes() if probe else None
    mk = PairMarket(w, e, v, t)
    n_w, n_v = len(w.county), len(v.occupation)
    n_c, n_p = t.partner_share.shape
    end_ns = start.value + weeks * WEEK
    seats_left = v.seats.copy()
    hires = np.zeros(n_v, int)
    free_from = np.zeros(n_w, np.int64)  # searching from this time on
    flows = p.network_prior * t.partner_share  # county x province placements (prior + hires)
    net_hires = np.zeros((n_c, n_p))
    # county x employer: fellow villagers working there (prior + hires)
    ties = _initial_ties(rng, e, t, p)
    # one public-welfare post per household (一户一岗): until when a household holds one
    public_until = np.zeros(int(w.household.max()) + 1 if n_w else 0, np.int64)
    seen = np.zeros(0, np.int64)  # w * n_v + v of pairs already applied to
    placed_group = np.zeros(max(int(w.group.max()) + 1, 0), bool) if n_w else np.zeros(0, bool)
    group_members = pd.Series(np.arange(n_w)[w.group >= 0]).groupby(w.group[w.group >= 0])
    groups: dict[int, np.ndarray] = (
        {int(g): idx.to_numpy() for g, idx in group_members}  # type: ignore[call-overload]
        if n_w
        else {}
    )
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def emit(wi, vi, ev, at):
        chunks.append(
            (
                np.asarray(wi, np.int64),
                np.asarray(vi, np.int64),
                np.full(len(wi), ev, np.int8) if np.isscalar(ev) else np.asarray(ev, np.int8),
                np.asarray(at, np.int64),
            )
        )

    def retention(wi, vi, t_hire, grouped):
        """Tenure, arrears and injuries for new hires; emits the later events."""
        n = len(wi)
        if n == 0:
            return
        rate = leave_rate(mk, p, wi, vi, flows, ties, grouped)
        drawn = draw_tenure(
            rng,
            p,
            rate,
            arrears_probability(mk, p, vi),
            injury_rate(mk, p, vi),
            new_year_leave_probability(mk, p, wi, vi),
            t_hire,
        )
        tenure, arrears_at, has_arr = drawn.tenure, drawn.arrears_at, drawn.has_arrears
        if probes is not None and not grouped.any():
            probes.hire_p6m.append(
                stay_probability(
                    p,
                    rate,
                    arrears_probability(mk, p, vi),
                    injury_rate(mk, p, vi),
                    new_year_leave_probability(mk, p, wi, vi),
                    t_hire,
                )
            )
            probes.hire_kept6m.append(tenure > 26 * WEEK)
        injury_at, has_inj = drawn.injury_at, drawn.has_injury
        t_arr = t_hire + arrears_at.astype(np.int64)
        a = has_arr & (t_arr < end_ns)
        emit(wi[a], vi[a], WAGE_ARREARS, t_arr[a])
        t_inj = t_hire + injury_at.astype(np.int64)
        b = has_inj & (t_inj < end_ns)
        emit(wi[b], vi[b], INJURY, t_inj[b])
        t_left = t_hire + tenure
        lft = t_left < end_ns
        emit(wi[lft], vi[lft], LEFT, t_left[lft])
        for weeks_kept, ev in ((13, RETAINED_3M), (26, RETAINED_6M)):
            t_ret = t_hire + weeks_kept * WEEK
            r = (tenure > weeks_kept * WEEK) & (t_ret < end_ns)
            emit(wi[r], vi[r], ev, t_ret[r])
        back = t_left + (rng.uniform(1, 4, n) * WEEK).astype(np.int64)
        free_from[wi] = np.where(lft, back, np.iinfo(np.int64).max)
        public = v.channel[vi] == PUBLIC
        public_until[w.household[wi[public]]] = t_left[public]

    for week in range(weeks):
        ws = start.value + week * WEEK
        avail = ws + 4 * DAY
        open_v = np.flatnonzero(
            (v.posted_ns < avail) & (v.closes_ns > ws + 9 * DAY) & (seats_left > 0)
        )
        searching = (w.registered_ns < avail) & (free_from <= ws)
        if len(open_v) == 0 or not searching.any():
            continue
        # current network: prior plus placements so far
        flows_now = flows
        cum_flow = np.cumsum(flows_now, axis=1)

        # ---------------- groups travel together
        if groups:
            tried = _group_week(
                rng,
                p,
                mk,
                w,
                v,
                groups,
                placed_group,
                searching,
                open_v,
                seats_left,
                hires,
                free_from,
                flows,
                net_hires,
                ws,
                avail,
                end_ns,
                emit,
                retention,
                cum_flow,
                ties,
                seen,
            )
            seen = np.sort(np.concatenate([seen, tried]))
            searching &= free_from <= ws

        season = float(season_factor(ws + 2 * DAY, SEARCH_SEASON))
        p_active = np.minimum(1.0, (0.25 + 0.7 * w.activity) * season)
        active = np.flatnonzero(searching & (rng.random(n_w) < p_active))
        if len(active) == 0:
            continue
        n_views = rng.poisson(p.views_base + p.views_activity * w.activity[active])
        wi = np.repeat(active, n_views)
        nv = len(wi)
        if nv == 0:
            continue
        # ---------------- exposure: where each view comes from
        mob = w.mobility[wi]
        has_trade = w.trade1[wi] >= 0
        src_p = np.empty((nv, 5))
        src_p[mob == 0] = SOURCES_ANY
        src_p[mob == 1] = SOURCES_PROVINCE
        src_p[mob == 2] = SOURCES_LOCAL
        src_p[~has_trade, 4] += src_p[~has_trade, 0]
        src_p[~has_trade, 0] = 0
        src = (rng.random((nv, 1)) > np.cumsum(src_p, axis=1)).sum(axis=1)
        vi = np.full(nv, -1)
        u = rng.random(nv)
        # 0: same trade (the job board's search on the worker's trade)
        trade = np.where((w.trade2[wi] >= 0) & (rng.random(nv) < 0.3), w.trade2[wi], w.trade1[wi])
        sel = src == 0
        vi[sel] = _bucket_pick(mk.vocc[open_v], open_v, trade[sel], u[sel])
        # 1: near home (same prefecture)
        sel = src == 1
        vi[sel] = _bucket_pick(mk.vpref_id[open_v], open_v, mk.wpref_id[wi[sel]], u[sel])
        # 2: a province the county sends people to (any) / the home province (province)
        sel = np.flatnonzero(src == 2)
        target = mk.wprov[wi[sel]].copy()
        anyw = mob[sel] == 0
        rows = cum_flow[w.county[wi[sel[anyw]]]]
        target[anyw] = (rng.random((anyw.sum(), 1)) * rows[:, -1:] > rows).sum(axis=1)
        vi[sel] = _bucket_pick(mk.vprov[open_v], open_v, target, u[sel])
        # 3: a fellow villager's employer (referral, 老乡介绍)
        sel = np.flatnonzero(src == 3)
        if len(sel):
            has_open = np.bincount(v.employer[open_v], minlength=len(e.kind)) > 0
            emp_pick = _referral_pick(rng, ties * has_open, w.county[wi[sel]])
            ok = emp_pick >= 0
            vi[sel[ok]] = _bucket_pick(v.employer[open_v], open_v, emp_pick[ok], u[sel[ok]])
        # 4 and fall-backs: popular (seats left, recent)
        miss = vi < 0
        if miss.any():
            recency = np.exp(-(ws - v.posted_ns[open_v]).clip(0) / (4 * WEEK))
            wt = np.cumsum(seats_left[open_v] * recency)
            pick = np.searchsorted(wt, rng.random(miss.sum()) * wt[-1], side="right")
            vi[miss] = open_v[np.minimum(pick, len(open_v) - 1)]
        # one view per pair per week; pairs applied to before are not shown again
        key = wi.astype(np.int64) * n_v + vi
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.r_[True, key[1:] != key[:-1]]
        keep = first & ~_member(key, seen)
        wi, vi = wi[order][keep], vi[order][keep]
        if len(wi) == 0:
            continue
        base = np.maximum(np.maximum(ws, w.registered_ns[wi]), v.posted_ns[vi])
        t_view = base + (rng.random(len(wi)) * (avail - base)).astype(np.int64)
        t_view = t_view // 10**9 * 10**9
        emit(wi, vi, VIEWED, t_view)

        # ---------------- applying
        s = apply_logit(mk, p, wi, vi, t_view, flows_now, ties)
        applied = rng.random(len(wi)) < sigmoid(s)
        if probes is not None:
            probes.view_p.append(sigmoid(s))
            probes.view_applied.append(applied)
        wi, vi, t_view, s = wi[applied], vi[applied], t_view[applied], s[applied]
        if len(wi) == 0:
            continue
        t_app = t_view + (rng.uniform(0.5, 24, len(wi)) * HOUR).astype(np.int64)
        emit(wi, vi, APPLIED, t_app)
        seen = np.sort(np.concatenate([seen, wi.astype(np.int64) * n_v + vi]))

        # ---------------- employers decide
        interviewed = rng.random(len(wi)) < p.p_interview
        t_int = t_app + (rng.uniform(12, 36, len(wi)) * HOUR).astype(np.int64)
        t_dec = np.where(interviewed, t_int, t_app) + (rng.uniform(12, 48, len(wi)) * HOUR).astype(
            np.int64
        )
        within = t_dec < end_ns
        iv = interviewed & (t_int < end_ns)
        emit(wi[iv], vi[iv], INTERVIEWED, t_int[iv])
        elig = mk.eligible(wi, vi, t_dec)
        h = hire_score(mk, p, wi, vi, flows_now, ties) + rng.logistic(0, 1, len(wi))
        offer = elig & within & (h > 0)
        # public-welfare posts: one per household, none while a member holds one
        pub = np.flatnonzero(offer & (v.channel[vi] == PUBLIC))
        if len(pub):
            hh = w.household[wi[pub]]
            held = public_until[hh] > t_dec[pub]
            order_p = np.lexsort((-h[pub], hh))
            first_hh = np.r_[True, hh[order_p][1:] != hh[order_p][:-1]]
            best = np.zeros(len(pub), bool)
            best[order_p[first_hh]] = True
            offer[pub[held | ~best]] = False
        # seats: best-scoring offers first, never more than the seats left
        oi = np.flatnonzero(offer)
        order = oi[np.lexsort((-h[oi], vi[oi]))]
        vo = vi[order]
        first_of_v = np.r_[True, vo[1:] != vo[:-1]]
        rank = np.arange(len(order)) - np.maximum.accumulate(
            np.where(first_of_v, np.arange(len(order)), 0)
        )
        over = rank >= seats_left[vo]
        offer[order[over]] = False
        # a worker takes the most attractive offer (and may turn all down)
        oi = np.flatnonzero(offer)
        order = oi[np.lexsort((-s[oi], wi[oi]))]
        wo = wi[order]
        first_of_w = np.r_[True, wo[1:] != wo[:-1]] if len(wo) else np.zeros(0, bool)
        accepts = rng.random(len(order)) < sigmoid(accept_logit(mk, p, wo, vi[order]))
        hired = np.zeros(len(wi), bool)
        hired[order[first_of_w & accepts]] = True
        if probes is not None:
            p_single = sigmoid(hire_score(mk, p, wi, vi, flows_now, ties)) * sigmoid(
                accept_logit(mk, p, wi, vi)
            )
            probes.app_p.append(np.where(elig, p_single, 0.0)[within])
            probes.app_hired.append(hired[within])
        declined = offer & ~hired
        rejected = within & ~offer & (rng.random(len(wi)) < p.p_reject_notice)
        emit(wi[declined], vi[declined], DECLINED, t_dec[declined])
        emit(wi[rejected], vi[rejected], REJECTED, t_dec[rejected])
        hw, hv, ht = wi[hired], vi[hired], t_dec[hired]
        emit(hw, hv, HIRED, ht)
        np.subtract.at(seats_left, hv, 1)
        np.add.at(hires, hv, 1)
        free_from[hw] = np.iinfo(np.int64).max
        retention(hw, hv, ht, np.zeros(len(hw), bool))
        np.add.at(flows, (w.county[hw], mk.vprov[hv]), 1.0)
        np.add.at(net_hires, (w.county[hw], mk.vprov[hv]), 1.0)
        np.add.at(ties, (w.county[hw], v.employer[hv]), 1.0)

    if chunks:
        wi = np.concatenate([c[0] for c in chunks])
        vi = np.concatenate([c[1] for c in chunks])
        ev = np.concatenate([c[2] for c in chunks])
        at = np.concatenate([c[3] for c in chunks])
    else:
        wi = vi = at = np.zeros(0, np.int64)
        ev = np.zeros(0, np.int8)
    keep = at < end_ns
    wi, vi, ev, at = wi[keep], vi[keep], ev[keep], at[keep] // 10**9 * 10**9  # whole seconds
    order = np.lexsort((ev, vi, wi, at))
    wi, vi, ev, at = wi[order], vi[order], ev[order], at[order]
    events = object_frame(
        {
            "worker_id": w.frame["worker_id"].to_numpy(object)[wi],
            "vacancy_id": v.frame["vacancy_id"].to_numpy(object)[vi],
            "event": EVENTS[ev],
            "occurred_at": pd.to_datetime(at).astype("datetime64[ns]"),
        }
    )
    state = MarketState(
        end_ns=int(end_ns),
        free_from=free_from,
        seats_left=seats_left,
        flows=flows,
        ties=ties,
        applied=seen,
        public_until=public_until,
    )
    return Outcome(events=events, hires=hires, flows=net_hires, state=state, probes=probes)


def _initial_ties(rng: np.random.Generator, e: EmployerDraw, t: Tables, p: Params) -> np.ndarray:
    """County x employer ties before the horizon: where fellow villagers already work.

    Point-to-point transfers link particular counties with particular employers: an
    east-coast employer is tied to one or a few counties of its province's partner
    areas, a capital-city employer to counties of its province, a road project to
    counties of its prefecture, a home employer to its own county.
    """
    cty = t.counties
    n_c, m = len(cty), len(e.kind)
    ties = np.zeros((n_c, m))
    prov_pos = {c: i for i, c in enumerate(t.provinces)}
    for j in range(m):
        kind = KINDS[int(e.kind[j])]
        region = str(e.region[j])
        if kind in ("factory", "public"):
            ties[e.county[j], j] = rng.gamma(p.tie_shape, p.tie_scale)
            continue
        if kind == "destination":
            weight = t.partner_share[:, prov_pos[region[:2] + "0000"]] * cty.weight
        elif kind == "capital":
            weight = (cty.province == region[:2] + "0000") * cty.weight
        else:
            weight = (cty.prefecture == region) * cty.weight
        if weight.sum() <= 0:
            continue
        k = min(int(1 + rng.poisson(0.8)), int((weight > 0).sum()))
        chosen = rng.choice(n_c, size=k, replace=False, p=weight / weight.sum())
        ties[chosen, j] = rng.gamma(p.tie_shape, p.tie_scale, k)
    return ties


def _referral_pick(rng: np.random.Generator, ties: np.ndarray, county: np.ndarray) -> np.ndarray:
    """For each view's county, an employer drawn in proportion to the ties (-1 when none)."""
    out = np.full(len(county), -1)
    cum = np.cumsum(ties, axis=1)
    for c in np.unique(county):
        rows = np.flatnonzero(county == c)
        total = cum[c, -1] if cum.shape[1] else 0.0
        if total <= 0:
            continue
        pick = np.searchsorted(cum[c], rng.random(len(rows)) * total, side="right")
        out[rows] = np.minimum(pick, cum.shape[1] - 1)
    return out


def _member(keys: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted set of int64 keys (binary search)."""
    if len(sorted_set) == 0:
        return np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_set, keys), len(sorted_set) - 1)
    return sorted_set[pos] == keys


def _bucket_pick(
    keys: np.ndarray, items: np.ndarray, wanted: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """For each wanted key, a uniformly chosen item with that key (-1 when none)."""
    if len(wanted) == 0:
        return np.zeros(0, int)
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    lo = np.searchsorted(sk, wanted, side="left")
    hi = np.searchsorted(sk, wanted, side="right")
    cnt = hi - lo
    pos = lo + np.minimum((u * cnt).astype(int), np.maximum(cnt - 1, 0))
    out = np.where(cnt > 0, items[order[np.minimum(pos, len(sk) - 1)]], -1)
    return out


def _group_week(
    rng,
    p,
    mk,
    w,
    v,
    groups,
    placed_group,
    searching,
    open_v,
    seats_left,
    hires,
    free_from,
    flows,
    net_hires,
    ws,
    avail,
    end_ns,
    emit,
    retention,
    cum_flow,
    ties,
    seen,
):
    """Groups from one village move together: one vacancy for all members, or none.

    Returns the pair keys (worker * n_vacancies + vacancy) the groups applied to.
    """
    tried: list[np.ndarray] = [np.zeros(0, np.int64)]
    cross = open_v[np.isin(v.channel[open_v], [0, 1, 4])]
    if len(cross) == 0:
        return tried[0]
    for g, members in groups.items():
        if placed_group[g] or not searching[members].all() or rng.random() >= p.group_try_p:
            continue
        size = len(members)
        # the group leader looks where the county has a network, among vacancies with room
        c = w.county[members[0]]
        row = cum_flow[c]
        prov = int((rng.random() * row[-1] > row).sum())
        cands = cross[(mk.vprov[cross] == prov) & (seats_left[cross] >= size)]
        if len(cands) == 0:
            cands = cross[seats_left[cross] >= size]
        if len(cands) == 0:
            continue
        # the organiser (a placement officer) only proposes vacancies every member may take
        pair_w = np.repeat(members, len(cands))
        pair_v = np.tile(cands, size)
        ok = mk.eligible(pair_w, pair_v, np.full(len(pair_w), avail)).reshape(size, -1).all(axis=0)
        # ... and none of them has applied to before
        ok &= ~_member(pair_w.astype(np.int64) * len(v.occupation) + pair_v, seen).reshape(
            size, -1
        ).any(axis=0)
        cands = cands[ok]
        if len(cands) == 0:
            continue
        vac = int(cands[rng.integers(0, len(cands))])
        vv = np.full(size, vac)
        base = max(ws, int(w.registered_ns[members].max()), int(v.posted_ns[vac]))
        t0 = (base + int(rng.random() * (avail - base))) // 10**9 * 10**9
        t_view = t0 + np.arange(size, dtype=np.int64) * 60 * 10**9
        emit(members, vv, VIEWED, t_view)
        t_app = t_view + int(rng.uniform(1, 12) * HOUR)
        emit(members, vv, APPLIED, t_app)
        tried.append(members.astype(np.int64) * len(v.occupation) + vac)
        t_dec = int(t_app.max()) + int(rng.uniform(24, 72) * HOUR)
        if t_dec >= end_ns:
            continue
        elig = mk.eligible(members, vv, np.full(size, t_dec))
        m1, m2, mg, _ = mk.match(members, vv)
        p_hire = p.group_hire_p * (0.6 + 0.4 * (m1 | m2 | mg).mean())
        if elig.all() and rng.random() < p_hire:
            emit(members, vv, HIRED, np.full(size, t_dec))
            seats_left[vac] -= size
            hires[vac] += size
            free_from[members] = np.iinfo(np.int64).max
            placed_group[g] = True
            retention(members, vv, np.full(size, t_dec, np.int64), np.ones(size, bool))
            flows[w.county[members[0]], mk.vprov[vac]] += size
            net_hires[w.county[members[0]], mk.vprov[vac]] += size
            ties[w.county[members[0]], v.employer[vac]] += size
        else:
            emit(members, vv, REJECTED, np.full(size, t_dec))
    return np.concatenate(tried)
