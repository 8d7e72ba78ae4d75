"""Eligibility: the hard rules that decide whether a worker may be offered a vacancy.

An ineligible pair is never recommended, never planned. Each rule that fails gives an
:class:`Exclusion` with a reason code (:class:`Reason`) and a plain-language message
(Chinese first, then English), so a placement officer can see *why*.

The rules
---------
============================  ==============================================================
reason code                   rule
============================  ==============================================================
VACANCY_NOT_OPEN              the vacancy's status is ``filled`` or ``closed`` (blank = open)
VACANCY_NO_SEATS              headcount (seats still open) is 0 or blank
VACANCY_CLOSED                given a time ``at``: ``closes_at`` is at or before ``at``
VACANCY_NOT_YET_POSTED        given a time ``at``: ``posted_at`` is after ``at``
MOBILITY_LOCAL_DISTANCE       mobility ``local``: the great-circle distance between the
                              reference points of the home region and the vacancy region
                              (``matcher.data.reference``) exceeds ``max_commute_km``
                              (50 km when blank)
MOBILITY_PROVINCE             mobility ``province``: the vacancy is in another province
CAPACITY_NOT_LIGHT_WORK       labour capacity ``semi`` or ``weak``: the vacancy is neither a
                              public-welfare post (channel ``public_welfare_post``) nor light
                              work (its occupation, or a parent of it, is listed in
                              ``matcher/data/light_work.csv``; a code the importer only
                              *inferred* from the title does not count, see below)
AGE_BELOW_MIN, AGE_ABOVE_MAX  age = year of ``at`` (this year when ``at`` is None) minus
                              ``birth_year``, outside [min_age, max_age]
LANGUAGE_MISSING              a language the vacancy requires is not among the worker's
                              (a blank vacancy list requires nothing)
============================  ==============================================================

Blank values
------------
A blank restriction on the worker's side imposes nothing, a blank fact is never held
against the worker, except where a requirement has to be *met*:

* blank ``mobility``: ``any`` — unless ``max_commute_km`` is given, which then means
  ``local`` with that radius (an officer who records a commute limit means it);
* blank ``labor_capacity``: ``full``;
* blank ``birth_year``: age limits are not applied (the officer checks at interview);
* blank worker ``languages``: the worker is not known to speak any language, so a vacancy
  that requires one excludes them (the requirement is not shown to be met);
* blank vacancy ``occupation_code``: not light work (it cannot be shown to be light); the
  same for a code the importer inferred from the title (``occupation_source`` ``inferred``:
  a guess, often at low confidence, does not show that a job is light enough for semi or
  weak labour; on the sample markets such guesses filled semi/weak workers' lists with
  jobs the market's rules do not allow them, ``docs/equal-service.md``). A code an
  employer gave or an officer corrected counts;
* blank ``status``: open; blank ``headcount``: no seats; blank ``closes_at``/``posted_at``:
  no limit;
* ``at=None`` skips the two date rules (closing and posting) — pass ``at`` to evaluate the
  market at a point in time (training cut-offs, nightly runs at "now").

Speed
-----
:class:`EligibilityIndex` precomputes one array per rule input over all vacancies
(coordinates in radians, province, light-work flag, age limits, language bitmasks, open
flags, dates); :meth:`EligibilityIndex.mask_for_worker` is then a handful of numpy
operations over those arrays. Distances are compared in haversine space
(``hav(d/R) <= hav(max/R)``) to avoid an ``arcsin`` per vacancy.

:func:`exclusions` evaluates exactly the same vectorised rule code on a one-row index, so
the masks and the reasons agree by construction (and ``tests/eligibility`` checks it with
hypothesis).

These rules read a worker's and a vacancy's own rows. One rule reads the history too: a
household that holds a public-welfare post is proposed no other
(:mod:`matcher.eligibility.households`; the served catalogue applies it with the pairs a
worker already pursued).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from matcher.data import reference
from matcher.data.reference import EARTH_RADIUS_KM
from matcher.data.schema import Channel, LaborCapacity, Mobility, VacancyStatus

#: Commute radius for ``local`` mobility when ``max_commute_km`` is blank.
DEFAULT_MAX_COMMUTE_KM = 50.0

#: The domain table listing light-work CSCO codes (a code covers its children).
LIGHT_WORK_TABLE = "light_work.csv"
#: ``occupation_source`` of a code the importer inferred from the title: it never shows
#: that a vacancy is light work (module docstring, "Blank values").
INFERRED_SOURCE = "inferred"


class Reason(StrEnum):
    """Why a pair is not eligible. Values are stable: they are stored and shown."""

    VACANCY_NOT_OPEN = "VACANCY_NOT_OPEN"
    VACANCY_NO_SEATS = "VACANCY_NO_SEATS"
    VACANCY_CLOSED = "VACANCY_CLOSED"
    VACANCY_NOT_YET_POSTED = "VACANCY_NOT_YET_POSTED"
    MOBILITY_LOCAL_DISTANCE = "MOBILITY_LOCAL_DISTANCE"
    MOBILITY_PROVINCE = "MOBILITY_PROVINCE"
    CAPACITY_NOT_LIGHT_WORK = "CAPACITY_NOT_LIGHT_WORK"
    AGE_BELOW_MIN = "AGE_BELOW_MIN"
    AGE_ABOVE_MAX = "AGE_ABOVE_MAX"
    LANGUAGE_MISSING = "LANGUAGE_MISSING"


@dataclass(frozen=True)
class Exclusion:
    """One failed rule: a reason code and a message for people (Chinese / English)."""

    code: Reason
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- light work


@cache
def light_work_codes() -> frozenset[str]:
    """CSCO codes listed as light work in ``matcher/data/light_work.csv``.

    Raises
    ------
    ValueError
        If a listed code is not a CSCO 2022 code (names the line).
    """
    table = reference.domain_table(LIGHT_WORK_TABLE)
    known = reference.occupations()
    for i, code in enumerate(table["code"]):
        if code not in known:
            raise ValueError(
                f"matcher/data/{LIGHT_WORK_TABLE}: row {i + 1}: code {code!r} is not a "
                "CSCO 2022 occupation code; fix or remove the row"
            )
    return frozenset(table["code"])


def is_light_work(occupation_code: object) -> bool:
    """True when the code or one of its parents is listed as light work."""
    if not isinstance(occupation_code, str) or not reference.is_csco_code(occupation_code):
        return False
    listed = light_work_codes()
    return occupation_code in listed or any(
        a in listed for a in reference.occupation_ancestors(occupation_code)
    )


# --------------------------------------------------------------------------- value helpers


def _blank(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _get(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        value = row.get(name)
    else:
        value = getattr(row, "get", lambda _n, _d=None: None)(name, None)
    return None if _blank(value) else value


def _as_list(value: object) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if not _blank(v) and str(v).strip()]
    return []


def _to_naive_utc(at: object) -> pd.Timestamp | None:
    if at is None:
        return None
    ts = pd.Timestamp(at)  # type: ignore[arg-type]
    if ts.tzinfo is not None:
        ts = ts.tz_convert(UTC).tz_localize(None)
    return ts


def _reference_year(at: pd.Timestamp | None) -> int:
    return at.year if at is not None else datetime.now(UTC).year


def _region_coords(codes: Iterable[object]) -> tuple[np.ndarray, np.ndarray]:
    """Latitude/longitude in radians (NaN when unknown), with a cache per code."""
    lat, lon = [], []
    for c in codes:
        la, lo = _coords_rad(c if isinstance(c, str) else "")
        lat.append(la)
        lon.append(lo)
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


@cache
def _coords_rad(code: str) -> tuple[float, float]:
    try:
        lon, lat = reference.coordinates(code)
    except (KeyError, TypeError, IndexError):
        return math.nan, math.nan
    return math.radians(lat), math.radians(lon)


def _province_int(code: object) -> int:
    if isinstance(code, str) and len(code) >= 2 and code[:2].isdigit():
        return int(code[:2])
    return -1


def _hav_limit(max_km: np.ndarray | float) -> np.ndarray:
    """hav(d/R) at the distance limit; the haversine is monotone on [0, pi]."""
    theta = np.clip(np.asarray(max_km, dtype=np.float64) / EARTH_RADIUS_KM, 0.0, math.pi)
    return np.sin(theta / 2.0) ** 2


_MOBILITY_CODE = {Mobility.ANY.value: 0, Mobility.PROVINCE.value: 1, Mobility.LOCAL.value: 2}
_LIMITED = {LaborCapacity.SEMI.value, LaborCapacity.WEAK.value}
_OPEN = VacancyStatus.OPEN.value
_NAT_MAX = np.iinfo(np.int64).max
_NAT_MIN = np.iinfo(np.int64).min


def _dt_ns(value: object) -> int | None:
    if _blank(value):
        return None
    ts = _to_naive_utc(value)
    return None if ts is None else int(ts.value)


# --------------------------------------------------------------------------- encodings


@dataclass
class _Workers:
    """Rule inputs for a set of workers (arrays of equal length)."""

    lat: np.ndarray  # radians, NaN unknown
    lon: np.ndarray
    cos_lat: np.ndarray
    province: np.ndarray  # int16, -1 unknown
    mobility: np.ndarray  # 0 any, 1 province, 2 local
    hav_max: np.ndarray  # haversine of the commute limit
    max_km: np.ndarray
    limited: np.ndarray  # bool: semi or weak labour
    birth_year: np.ndarray  # float, NaN unknown
    langs: np.ndarray  # (n, words) uint64 over the vacancy language vocabulary

    def take(self, pos: np.ndarray | int) -> _Workers:
        return _Workers(**{k: np.atleast_1d(v[pos]) for k, v in self.__dict__.items()})


@dataclass
class _Vacancies:
    lat: np.ndarray
    lon: np.ndarray
    cos_lat: np.ndarray
    province: np.ndarray
    light: np.ndarray  # bool: light work or public-welfare post
    min_age: np.ndarray  # float, -inf when blank
    max_age: np.ndarray  # float, +inf when blank
    langs: np.ndarray  # (n, words) uint64
    needs_lang: np.ndarray  # bool: requires at least one language
    status_open: np.ndarray
    has_seats: np.ndarray
    closes_ns: np.ndarray  # int64, max when blank
    posted_ns: np.ndarray  # int64, min when blank

    def take(self, pos: np.ndarray | int) -> _Vacancies:
        return _Vacancies(**{k: np.atleast_1d(v[pos]) for k, v in self.__dict__.items()})


def _language_bits(lists: list[list[str]], vocab: dict[str, int], words: int) -> np.ndarray:
    out = np.zeros((len(lists), words), dtype=np.uint64)
    for i, langs in enumerate(lists):
        for lang in langs:
            bit = vocab.get(lang.lower())
            if bit is not None:
                out[i, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    return out


class _OneRow:
    """A single row seen as a frame of length 1 (cheaper than building a DataFrame)."""

    def __init__(self, row: Any) -> None:
        if isinstance(row, pd.Series):
            self.row: Mapping[Any, Any] = row.to_dict()
        elif isinstance(row, Mapping):
            self.row = row
        else:
            raise TypeError(
                f"expected a pandas Series or a mapping for a row, got {type(row).__name__}"
            )

    def __len__(self) -> int:
        return 1


class _Rows:
    """Rows ``positions`` of a frame seen as a frame: each column the rules read is
    gathered alone (cheaper than ``frame.iloc[positions]``, which takes every column)."""

    def __init__(self, frame: pd.DataFrame, positions: np.ndarray) -> None:
        self.frame = frame
        self.positions = np.asarray(positions, dtype=np.int64)
        self.columns = frame.columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()[self.positions]

    def __len__(self) -> int:
        return len(self.positions)


_Frame = pd.DataFrame | _OneRow | _Rows


def _column(frame: _Frame, name: str) -> list[Any]:
    if isinstance(frame, _OneRow):
        value = frame.row.get(name)
        return [None if _blank(value) else value]
    if name not in frame.columns:
        return [None] * len(frame)
    return [None if _blank(v) else v for v in frame[name].tolist()]


def _encode_vacancies(
    frame: _Frame, base_vocab: dict[str, int] | None = None
) -> tuple[_Vacancies, dict[str, int]]:
    """Encode vacancies; the language vocabulary extends ``base_vocab`` (a copy)."""
    regions = _column(frame, "region")
    lat, lon = _region_coords(regions)
    lang_lists = [[x.lower() for x in _as_list(v)] for v in _column(frame, "languages")]
    vocab: dict[str, int] = dict(base_vocab or {})
    for langs in lang_lists:
        for lang in langs:
            vocab.setdefault(lang, len(vocab))
    words = max(1, math.ceil(len(vocab) / 64))
    langs_bits = _language_bits(lang_lists, vocab, words)
    codes = _column(frame, "occupation_code")
    channels = _column(frame, "channel")
    sources = _column(frame, "occupation_source")
    light = np.fromiter(
        (
            ch == Channel.PUBLIC_WELFARE_POST.value
            or (src != INFERRED_SOURCE and is_light_work(code))
            for code, ch, src in zip(codes, channels, sources, strict=True)
        ),
        dtype=bool,
        count=len(frame),
    )

    def limits(name: str, blank: float) -> np.ndarray:
        return np.asarray([blank if v is None else float(v) for v in _column(frame, name)])

    def times(name: str, blank: int) -> np.ndarray:
        vals = [_dt_ns(v) for v in _column(frame, name)]
        return np.asarray([blank if v is None else v for v in vals], dtype=np.int64)

    status = _column(frame, "status")
    headcount = _column(frame, "headcount")
    v = _Vacancies(
        lat=lat,
        lon=lon,
        cos_lat=np.cos(lat),
        province=np.asarray([_province_int(r) for r in regions], dtype=np.int16),
        light=light,
        min_age=limits("min_age", -math.inf),
        max_age=limits("max_age", math.inf),
        langs=langs_bits,
        needs_lang=np.asarray([bool(x) for x in lang_lists], dtype=bool),
        status_open=np.asarray([s is None or str(s) == _OPEN for s in status], dtype=bool),
        has_seats=np.asarray([h is not None and float(h) > 0 for h in headcount], dtype=bool),
        closes_ns=times("closes_at", _NAT_MAX),
        posted_ns=times("posted_at", _NAT_MIN),
    )
    return v, vocab


def _encode_workers(frame: _Frame, vocab: dict[str, int]) -> _Workers:
    homes = _column(frame, "home_region")
    lat, lon = _region_coords(homes)
    max_km_raw = _column(frame, "max_commute_km")
    mobility = []
    for m, km in zip(_column(frame, "mobility"), max_km_raw, strict=True):
        if m is None:
            mobility.append(2 if km is not None else 0)
        else:
            mobility.append(_MOBILITY_CODE.get(str(m), 0))
    max_km = np.asarray(
        [DEFAULT_MAX_COMMUTE_KM if km is None else float(km) for km in max_km_raw],
        dtype=np.float64,
    )
    words = max(1, math.ceil(len(vocab) / 64))
    lang_lists = [_as_list(v) for v in _column(frame, "languages")]
    return _Workers(
        lat=lat,
        lon=lon,
        cos_lat=np.cos(lat),
        province=np.asarray([_province_int(r) for r in homes], dtype=np.int16),
        mobility=np.asarray(mobility, dtype=np.int8),
        hav_max=_hav_limit(max_km),
        max_km=max_km,
        limited=np.asarray(
            [c is not None and str(c) in _LIMITED for c in _column(frame, "labor_capacity")],
            dtype=bool,
        ),
        birth_year=np.asarray(
            [math.nan if b is None else float(b) for b in _column(frame, "birth_year")],
            dtype=np.float64,
        ),
        langs=_language_bits(lang_lists, vocab, words),
    )


def _row_frame(row: Any) -> _OneRow:
    return _OneRow(row)


# --------------------------------------------------------------------------- the rules


def beyond_commute(
    home_lat: np.ndarray,
    home_lon: np.ndarray,
    max_km: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    box: bool = False,
    home_cos_lat: np.ndarray | None = None,
    cos_lat: np.ndarray | None = None,
    hav_max: np.ndarray | None = None,
) -> np.ndarray:
    """Whether each place lies farther than the commute limit from a home: the distance
    test of ``MOBILITY_LOCAL_DISTANCE``, ``~(hav(d / R) <= hav(max_km / R))`` (haversine
    space, no ``arcsin``; :func:`matcher.data.reference.haversine`).

    With ``box`` (one home against many places) the haversine is computed only inside a
    latitude and longitude box around the home point. Outside the box the distance
    exceeds the limit mathematically: a latitude gap above theta alone gives
    hav(d) > hav(theta); for a longitude gap, hav(d) >= cos(lat1) * cos(lat2) * hav(dlon)
    with cos(lat2) >= cos(|lat1| + theta) inside the latitude band. Both bounds carry a
    0.1% margin, far above rounding error, so the result equals the full computation
    exactly.

    Parameters
    ----------
    home_lat, home_lon : ndarray
        Home points in radians (one element with ``box``); numpy broadcasting against
        the places applies otherwise.
    max_km : ndarray
        The commute limit of each home, in km.
    lat, lon : ndarray
        The places, in radians. A NaN coordinate on either side is never within the limit.
    box : bool, default False
        Use the one-home box prefilter.
    home_cos_lat, cos_lat, hav_max : ndarray, optional
        ``cos(home_lat)``, ``cos(lat)`` and ``hav(max_km / R)`` when the caller keeps them
        (the rules' encodings do); computed otherwise.

    Returns
    -------
    ndarray of bool
        True where the place is beyond the limit.
    """
    if home_cos_lat is None:
        home_cos_lat = np.cos(home_lat)
    if cos_lat is None:
        cos_lat = np.cos(lat)
    if hav_max is None:
        hav_max = _hav_limit(max_km)
    if not box:
        return ~(
            reference.haversine(home_lon, home_lat, lon, lat, home_cos_lat, cos_lat) <= hav_max
        )
    theta = float(max_km[0]) / EARTH_RADIUS_KM
    lat0, lon0 = float(home_lat[0]), float(home_lon[0])
    half_band = theta * 1.001 + 1e-9
    near = np.abs(lat - lat0) <= half_band
    edge = abs(lat0) + half_band  # every latitude inside the band is within this
    if edge < math.pi / 2 - 1e-3 and theta < math.pi / 2:
        c_min = math.cos(lat0) * math.cos(edge)
        ratio = min(1.0, math.sin(theta / 2.0) ** 2 / c_min)
        dlon_max = 2.0 * math.asin(math.sqrt(ratio)) * 1.001 + 1e-9
        if dlon_max < math.pi:
            dlon = np.abs(lon - lon0)
            dlon = np.minimum(dlon, 2.0 * math.pi - dlon)
            near &= dlon <= dlon_max
    far = np.ones(lat.shape[0], dtype=bool)
    cand = np.flatnonzero(near)
    if cand.size:
        far[cand] = ~(
            reference.haversine(
                home_lon, home_lat, lon[cand], lat[cand], home_cos_lat, cos_lat[cand]
            )
            <= hav_max
        )
    return far


def _beyond_commute(w: _Workers, v: _Vacancies, *, box: bool) -> np.ndarray:
    """:func:`beyond_commute` on the rules' encodings (``box`` for one worker)."""
    return beyond_commute(
        w.lat,
        w.lon,
        w.max_km,
        v.lat,
        v.lon,
        box=box,
        home_cos_lat=w.cos_lat,
        cos_lat=v.cos_lat,
        hav_max=w.hav_max,
    )


def _violations(
    w: _Workers, v: _Vacancies, at: pd.Timestamp | None, scalar_worker: bool
) -> list[tuple[Reason, np.ndarray]]:
    """Boolean "rule broken" arrays, broadcast over workers and vacancies.

    With ``scalar_worker`` (one worker against many vacancies) rules that cannot fail for
    this worker are skipped; the result is the same either way.
    """
    return _vacancy_violations(v, at) + _worker_violations(w, v, at, scalar_worker)


def _vacancy_violations(v: _Vacancies, at: pd.Timestamp | None) -> list[tuple[Reason, np.ndarray]]:
    """The rules of :func:`_violations` that read the vacancy alone (open, seats, dates)."""
    out: list[tuple[Reason, np.ndarray]] = [
        (Reason.VACANCY_NOT_OPEN, ~v.status_open),
        (Reason.VACANCY_NO_SEATS, ~v.has_seats),
    ]
    if at is not None:
        at_ns = np.int64(at.value)
        out.append((Reason.VACANCY_CLOSED, v.closes_ns <= at_ns))
        out.append((Reason.VACANCY_NOT_YET_POSTED, v.posted_ns > at_ns))
    return out


def _worker_violations(
    w: _Workers, v: _Vacancies, at: pd.Timestamp | None, scalar_worker: bool
) -> list[tuple[Reason, np.ndarray]]:
    """The rules of :func:`_violations` that read the worker (place, capacity, age,
    language)."""
    out: list[tuple[Reason, np.ndarray]] = []
    mobility = w.mobility
    if scalar_worker and mobility[0] == 2:
        out.append((Reason.MOBILITY_LOCAL_DISTANCE, _beyond_commute(w, v, box=True)))
    elif not scalar_worker:
        # NaN coordinates compare False, so an unknown place is never "within" the limit
        far = _beyond_commute(w, v, box=False)
        out.append((Reason.MOBILITY_LOCAL_DISTANCE, (mobility == 2) & far))
    if not scalar_worker or mobility[0] == 1:
        out.append((Reason.MOBILITY_PROVINCE, (mobility == 1) & (w.province != v.province)))
    if not scalar_worker or w.limited[0]:
        out.append((Reason.CAPACITY_NOT_LIGHT_WORK, w.limited & ~v.light))
    age_known = not scalar_worker or not np.isnan(w.birth_year[0])
    out.extend(
        _age_language_violations(
            w.birth_year, w.langs, v.min_age, v.max_age, v.langs, at, age=age_known
        )
    )
    return out


def _age_language_violations(
    birth_year: np.ndarray,
    worker_langs: np.ndarray,
    min_age: np.ndarray,
    max_age: np.ndarray,
    vacancy_langs: np.ndarray,
    at: pd.Timestamp | None,
    age: bool = True,
) -> list[tuple[Reason, np.ndarray]]:
    """The age (unless ``age`` is false) and language rules of :func:`_violations`,
    broadcast over the arrays given (the only rules that depend on the worker beyond
    the segment of :meth:`EligibilityIndex.segments`)."""
    out: list[tuple[Reason, np.ndarray]] = []
    if age:
        years = float(_reference_year(at)) - birth_year  # NaN compares False: no exclusion
        out.append((Reason.AGE_BELOW_MIN, years < min_age))
        out.append((Reason.AGE_ABOVE_MAX, years > max_age))
    # a required language the worker lacks, word by word of the bit sets (the same as
    # np.any(... != 0, axis=-1), without a reduction over rows of one or two words)
    words = vacancy_langs.shape[-1]
    missing = (vacancy_langs[..., 0] & ~worker_langs[..., 0]) != 0
    for k in range(1, words):
        missing |= (vacancy_langs[..., k] & ~worker_langs[..., k]) != 0
    out.append((Reason.LANGUAGE_MISSING, missing))
    return out


def _pair_positions(
    worker_positions: np.ndarray, vacancy_positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Worker and vacancy positions of pairs as int64 arrays of one shape."""
    wp = np.asarray(worker_positions, dtype=np.int64)
    vp = np.asarray(vacancy_positions, dtype=np.int64)
    if wp.shape != vp.shape:
        raise ValueError(
            f"worker_positions and vacancy_positions differ in shape: {wp.shape} vs {vp.shape}"
        )
    return wp, vp


def _combine(violations: list[tuple[Reason, np.ndarray]], n: int) -> np.ndarray:  # True = eligible
    bad = np.zeros(n, dtype=bool)
    for _reason, broken in violations:
        bad |= broken
    return ~bad


# --------------------------------------------------------------------------- the index


class EligibilityIndex:
    """Vectorised eligibility over all vacancies (and, optionally, all workers).

    Parameters
    ----------
    (none) — the rules are fixed; the light-work policy is data
    (``matcher/data/light_work.csv``).

    Attributes
    ----------
    n_vacancies_ : int
    vacancy_ids_ : numpy.ndarray or None
        ``vacancy_id`` per position, when the frame has that column.
    n_workers_ : int
        0 unless workers were given to :meth:`fit`.
    worker_ids_ : numpy.ndarray or None

    Examples
    --------
    >>> index = EligibilityIndex().fit(dataset.vacancies, dataset.workers)  # doctest: +SKIP
    >>> ok = index.mask_for_worker(dataset.workers.iloc[0], at=cutoff)  # doctest: +SKIP
    """

    def fit(self, vacancies: pd.DataFrame, workers: pd.DataFrame | None = None) -> EligibilityIndex:
        """Precompute rule inputs over ``vacancies`` (positions = row order).

        Parameters
        ----------
        vacancies : pandas.DataFrame
            Vacancies in ``matcher.data.dataset`` normal form (or raw contract strings).
        workers : pandas.DataFrame, optional
            Workers to index as well, for :meth:`pair_mask` and
            :meth:`mask_for_vacancy` without a frame.

        Returns
        -------
        EligibilityIndex
            ``self``.
        """
        vac = vacancies.reset_index(drop=True)
        self.vacancies_, self.language_vocabulary_ = _encode_vacancies(vac)
        self.n_vacancies_ = len(vac)
        self.vacancy_ids_ = vac["vacancy_id"].to_numpy() if "vacancy_id" in vac else None
        self.workers_: _Workers | None = None
        self.n_workers_ = 0
        self.worker_ids_ = None
        if workers is not None:
            wk = workers.reset_index(drop=True)
            self.workers_ = _encode_workers(wk, self.language_vocabulary_)
            self.worker_languages_ = _column(wk, "languages")
            self.n_workers_ = len(wk)
            self.worker_ids_ = wk["worker_id"].to_numpy() if "worker_id" in wk else None
        return self

    def with_vacancies(self, columns: np.ndarray, fresh: pd.DataFrame) -> EligibilityIndex:
        """A new index over other vacancies, reusing this one's encoding where it can:
        position ``j`` of the new index is this index's vacancy ``columns[j]`` when that
        is >= 0, else the next row of ``fresh`` (in order; as many rows as there are
        negative entries). Equal to ``fit`` on those vacancies (and the same workers);
        this index is left as it was.

        Parameters
        ----------
        columns : numpy.ndarray of int
        fresh : pandas.DataFrame
            The vacancies not encoded here yet (Dataset normal form).

        Returns
        -------
        EligibilityIndex

        Raises
        ------
        ValueError
            ``fresh`` does not have one row per negative entry of ``columns``.
        """
        self._check_fitted()
        columns = np.asarray(columns, dtype=np.int64)
        new_rows = np.flatnonzero(columns < 0)
        if len(new_rows) != len(fresh):
            raise ValueError(
                f"{len(new_rows)} new positions but {len(fresh)} fresh vacancy rows: give one "
                "row per negative entry of columns"
            )
        enc, vocab = _encode_vacancies(fresh.reset_index(drop=True), self.language_vocabulary_)
        old = self.vacancies_
        words = enc.langs.shape[1]
        out = EligibilityIndex()
        fields: dict[str, np.ndarray] = {}
        kept = columns >= 0
        # one gather per array (np.take: a memory copy, not a masked assignment)
        src = np.where(kept, columns, 0) if len(self.vacancies_.lat) else columns
        fresh_at = new_rows
        for name, a in old.__dict__.items():
            b = getattr(enc, name)
            if name == "langs" and a.shape[1] < words:  # the vocabulary grew
                a = np.hstack([a, np.zeros((a.shape[0], words - a.shape[1]), dtype=a.dtype)])
            if len(a):
                merged = np.take(a, src, axis=0)
            else:
                merged = np.empty((len(columns), *a.shape[1:]), dtype=a.dtype)
            merged[fresh_at] = b
            fields[name] = merged
        out.vacancies_ = _Vacancies(**fields)
        out.language_vocabulary_ = vocab
        out.n_vacancies_ = len(columns)
        out.vacancy_ids_ = None
        if self.vacancy_ids_ is not None and "vacancy_id" in fresh:
            ids = (
                np.take(self.vacancy_ids_, src)
                if len(self.vacancy_ids_)
                else np.empty(len(columns), dtype=object)
            )
            ids[fresh_at] = fresh["vacancy_id"].to_numpy(dtype=object)
            out.vacancy_ids_ = ids
        out.workers_ = self.workers_
        out.n_workers_ = self.n_workers_
        out.worker_ids_ = self.worker_ids_
        if self.workers_ is not None:
            out.worker_languages_ = self.worker_languages_
            if len(vocab) > len(self.language_vocabulary_):  # workers' bits over the new words
                frame = pd.DataFrame({"languages": self.worker_languages_})
                out.workers_ = _Workers(
                    **{**self.workers_.__dict__, "langs": _encode_workers(frame, vocab).langs}
                )
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "vacancies_"):
            raise RuntimeError("EligibilityIndex is not fitted; call fit(vacancies) first")

    def mask_for_worker(self, worker: Any, at: object = None) -> np.ndarray:
        """Which vacancies this worker is eligible for.

        Parameters
        ----------
        worker : pandas.Series or mapping
            One worker row (contract fields).
        at : datetime-like, optional
            Evaluate the date rules and age at this time (see module docstring).

        Returns
        -------
        numpy.ndarray
            Boolean, one entry per fitted vacancy position.
        """
        self._check_fitted()
        w = _encode_workers(_row_frame(worker), self.language_vocabulary_)
        viol = _violations(w, self.vacancies_, _to_naive_utc(at), scalar_worker=True)
        return _combine(viol, self.n_vacancies_)

    def masks_for_workers(
        self, workers: pd.DataFrame, at: object = None, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`mask_for_worker` of each row of ``workers`` (the same masks), their
        rule inputs encoded once for all of them: ``(len(workers), n_vacancies)``, bool.
        With ``positions``, of the rows at those positions only (the masks of
        ``workers.iloc[positions]``, without taking the rows: each column the rules read
        is gathered alone): ``(len(positions), n_vacancies)``."""
        self._check_fitted()
        frame: _Frame = (
            workers.reset_index(drop=True) if positions is None else _Rows(workers, positions)
        )
        enc = _encode_workers(frame, self.language_vocabulary_)
        at_ts = _to_naive_utc(at)
        n = len(frame)
        out = np.empty((n, self.n_vacancies_), dtype=bool)
        # the rules of the vacancy alone once for all of them (the same OR of the rules)
        open_ok = _combine(_vacancy_violations(self.vacancies_, at_ts), self.n_vacancies_)
        for j in range(n):
            viol = _worker_violations(
                enc.take(np.array([j])), self.vacancies_, at_ts, scalar_worker=True
            )
            np.logical_and(open_ok, _combine(viol, self.n_vacancies_), out=out[j])
        return out

    def mask_for_vacancy(
        self, vacancy: Any, workers: pd.DataFrame | None = None, at: object = None
    ) -> np.ndarray:
        """Which workers are eligible for this vacancy.

        Parameters
        ----------
        vacancy : pandas.Series or mapping
            One vacancy row.
        workers : pandas.DataFrame, optional
            The workers to check; default: the workers given to :meth:`fit`.
        at : datetime-like, optional

        Returns
        -------
        numpy.ndarray
            Boolean, one entry per worker row.
        """
        self._check_fitted()
        if workers is None:
            if self.workers_ is None:
                raise ValueError(
                    "no workers to check: pass workers=... or fit(vacancies, workers) first"
                )
            v, vocab = _encode_vacancies(_row_frame(vacancy), self.language_vocabulary_)
            w = self.workers_
            if len(vocab) > len(self.language_vocabulary_):
                # the vacancy requires a language no indexed vacancy did: re-encode workers
                frame = pd.DataFrame({"languages": self.worker_languages_})
                w = _Workers(**{**w.__dict__, "langs": _encode_workers(frame, vocab).langs})
            n = self.n_workers_
        else:
            v, vocab = _encode_vacancies(_row_frame(vacancy))
            wk = workers.reset_index(drop=True)
            w = _encode_workers(wk, vocab)
            n = len(wk)
        viol = _violations(w, v, _to_naive_utc(at), scalar_worker=False)
        return _combine(viol, n)

    def pair_mask(
        self, worker_positions: np.ndarray, vacancy_positions: np.ndarray, at: object = None
    ) -> np.ndarray:
        """Eligibility of many (worker, vacancy) pairs given by fitted row positions.

        Requires workers given to :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Boolean, one entry per pair.
        """
        self._check_fitted()
        if self.workers_ is None:
            raise ValueError("pair_mask needs workers: call fit(vacancies, workers) first")
        return self.pair_mask_of(self.workers_, worker_positions, vacancy_positions, at)

    # ------------------------------------------------------------------ many workers

    def encode_workers(self, workers: pd.DataFrame) -> _Workers:
        """Rule inputs of ``workers`` (not kept), for :meth:`segments`,
        :meth:`segment_masks`, :meth:`residual_ok` and :meth:`pair_mask_of`."""
        self._check_fitted()
        return _encode_workers(workers.reset_index(drop=True), self.language_vocabulary_)

    def pair_mask_of(
        self,
        workers: _Workers,
        worker_positions: np.ndarray,
        vacancy_positions: np.ndarray,
        at: object = None,
    ) -> np.ndarray:
        """:meth:`pair_mask` for workers encoded by :meth:`encode_workers`."""
        self._check_fitted()
        wp, vp = _pair_positions(worker_positions, vacancy_positions)
        if wp.size == 0:
            return np.zeros(0, dtype=bool)
        viol = _violations(
            workers.take(wp), self.vacancies_.take(vp), _to_naive_utc(at), scalar_worker=False
        )
        return _combine(viol, wp.size)

    def segments(self, workers: _Workers) -> tuple[np.ndarray, np.ndarray]:
        """Group workers whose place and capacity rules are the same.

        Every rule but age and language depends on the worker only through the
        *segment*: mobility, labour capacity, and the home point and commute limit
        (``local``) or home province (``province``). A province of a million workers
        has a few hundred segments, so :meth:`segment_masks` computes a few hundred
        masks instead of a million.

        Returns
        -------
        (segment, representative) : ndarray of int64
            The segment of each worker (0..n_segments-1) and the position of one
            worker of each segment.
        """
        n = len(workers.mobility)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        local = workers.mobility == 2
        province = workers.mobility == 1
        key = np.column_stack(
            [
                workers.mobility.astype(np.float64),
                workers.limited.astype(np.float64),
                np.where(local, np.nan_to_num(workers.lat, nan=99.0), 0.0),
                np.where(local, np.nan_to_num(workers.lon, nan=99.0), 0.0),
                np.where(local, workers.hav_max, 0.0),
                np.where(province, workers.province, 0).astype(np.float64),
            ]
        )
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        return inverse.reshape(-1).astype(np.int64), first.astype(np.int64)

    def segment_masks(
        self, workers: _Workers, representatives: np.ndarray, at: object = None
    ) -> np.ndarray:
        """Eligibility of each segment (``(n_segments, n_vacancies)``, bool) under every
        rule except age and language: :meth:`residual_ok` checks those per pair."""
        self._check_fitted()
        at_ts = _to_naive_utc(at)
        out = np.zeros((len(representatives), self.n_vacancies_), dtype=bool)
        for s, pos in enumerate(representatives):
            rep = workers.take(np.array([pos]))
            rep.birth_year = np.array([math.nan])  # no age rule
            rep.langs = np.full_like(rep.langs, np.iinfo(np.uint64).max)  # speaks all
            out[s] = _combine(_violations(rep, self.vacancies_, at_ts, True), self.n_vacancies_)
        return out

    def residual_ok(
        self,
        workers: _Workers,
        worker_positions: np.ndarray,
        vacancy_positions: np.ndarray,
        at: object = None,
    ) -> np.ndarray:
        """Age and language rules of many pairs (the rules :meth:`segment_masks` leaves
        out); a pair eligible in its segment's mask is eligible exactly when this holds."""
        self._check_fitted()
        wp, vp = _pair_positions(worker_positions, vacancy_positions)
        v = self.vacancies_
        viol = _age_language_violations(
            workers.birth_year[wp],
            workers.langs[wp],
            v.min_age[vp],
            v.max_age[vp],
            v.langs[vp],
            _to_naive_utc(at),
        )
        return _combine(viol, wp.size)

    def __repr__(self) -> str:
        if not hasattr(self, "vacancies_"):
            return "EligibilityIndex()"
        return f"EligibilityIndex(n_vacancies_={self.n_vacancies_}, n_workers_={self.n_workers_})"


# --------------------------------------------------------------------------- explanations


def _age_message(code: Reason, age: float, limit: float) -> str:
    if code is Reason.AGE_BELOW_MIN:
        return f"年龄 {age:.0f} 岁，低于岗位最低年龄 {limit:.0f} 岁 / age {age:.0f} is below the minimum age {limit:.0f}"
    return f"年龄 {age:.0f} 岁，高于岗位最高年龄 {limit:.0f} 岁 / age {age:.0f} is above the maximum age {limit:.0f}"


def exclusions(worker: Any, vacancy: Any, at: object = None) -> list[Exclusion]:
    """Every rule this (worker, vacancy) pair breaks; an empty list means eligible.

    Evaluates the same vectorised rules as :class:`EligibilityIndex` (so
    ``exclusions(w, v) == []`` exactly when the index's mask is True).

    Parameters
    ----------
    worker, vacancy : pandas.Series or mapping
        One row each, contract fields.
    at : datetime-like, optional
        Time at which to evaluate dates and age.

    Returns
    -------
    list of Exclusion
        In a fixed order: vacancy state, mobility, capacity, age, language.
    """
    at_ts = _to_naive_utc(at)
    v, vocab = _encode_vacancies(_row_frame(vacancy))
    w = _encode_workers(_row_frame(worker), vocab)
    out: list[Exclusion] = []
    for reason, broken in _violations(w, v, at_ts, scalar_worker=False):
        if bool(broken[0]):
            out.append(Exclusion(reason, _message(reason, worker, vacancy, at_ts, w)))
    return out


def is_eligible(worker: Any, vacancy: Any, at: object = None) -> bool:
    """True when :func:`exclusions` is empty."""
    return not exclusions(worker, vacancy, at)


def _message(
    reason: Reason, worker: Any, vacancy: Any, at: pd.Timestamp | None, w: _Workers
) -> str:
    vregion = _get(vacancy, "region")
    home = _get(worker, "home_region")
    if reason is Reason.VACANCY_NOT_OPEN:
        status = _get(vacancy, "status")
        return f"岗位状态为 {status}，已停止招聘 / the vacancy is {status}, not open"
    if reason is Reason.VACANCY_NO_SEATS:
        return "岗位已无空缺名额 / no seats left on this vacancy (headcount 0)"
    if reason is Reason.VACANCY_CLOSED:
        closes = pd.Timestamp(_get(vacancy, "closes_at"))
        return (
            f"岗位已于 {closes:%Y-%m-%d} 截止 / the vacancy closed on {closes:%Y-%m-%d}, "
            f"before {at:%Y-%m-%d}"
        )
    if reason is Reason.VACANCY_NOT_YET_POSTED:
        posted = pd.Timestamp(_get(vacancy, "posted_at"))
        return (
            f"岗位 {posted:%Y-%m-%d} 才发布 / the vacancy is posted only on {posted:%Y-%m-%d}, "
            f"after {at:%Y-%m-%d}"
        )
    if reason is Reason.MOBILITY_LOCAL_DISTANCE:
        limit = float(w.max_km[0])
        try:
            d = reference.distance_km(str(home), str(vregion))
            dist = f"{d:.0f} 公里"
            dist_en = f"{d:.0f} km"
        except (KeyError, TypeError):
            dist, dist_en = "距离未知", "an unknown distance"
        place = reference.region_name(str(vregion)) if vregion else "未知地区"
        return (
            f"只愿在本地就业：岗位在{place}，距户籍地 {dist}，超过通勤上限 {limit:.0f} 公里 / "
            f"local mobility only: the vacancy is {dist_en} from home, beyond the "
            f"{limit:.0f} km commute limit"
        )
    if reason is Reason.MOBILITY_PROVINCE:
        place = reference.region_name(reference.province_of(str(vregion))) if vregion else "?"
        own = reference.region_name(reference.province_of(str(home))) if home else "?"
        return (
            f"只愿在省内就业（{own}），岗位在{place} / province mobility only: "
            f"the vacancy is outside the home province"
        )
    if reason is Reason.CAPACITY_NOT_LIGHT_WORK:
        capacity = _get(worker, "labor_capacity")
        cap_zh = "半劳动力" if capacity == LaborCapacity.SEMI.value else "弱劳动力"
        code = _get(vacancy, "occupation_code")
        occ = ""
        if isinstance(code, str) and code in reference.occupations():
            occ = reference.occupations()[code].name
        what = f"「{occ}」" if occ else "该岗位"
        if _get(vacancy, "occupation_source") == INFERRED_SOURCE and is_light_work(code):
            return (
                f"{cap_zh}只可安排轻体力岗位或公益性岗位，该岗位的工种{what}仅由标题推断，"
                f"无法确认属于轻体力劳动 / {capacity} labour capacity: only light work or "
                "public-welfare posts, and this vacancy's occupation was only inferred from "
                "its title (ask the employer to state it)"
            )
        return (
            f"{cap_zh}只可安排轻体力岗位或公益性岗位，{what}不属于轻体力劳动 / "
            f"{capacity} labour capacity: only light work or public-welfare posts"
        )
    if reason in (Reason.AGE_BELOW_MIN, Reason.AGE_ABOVE_MAX):
        age = float(_reference_year(at)) - float(w.birth_year[0])
        key = "min_age" if reason is Reason.AGE_BELOW_MIN else "max_age"
        return _age_message(reason, age, float(_get(vacancy, key)))
    if reason is Reason.LANGUAGE_MISSING:
        needed = [x.lower() for x in _as_list(_get(vacancy, "languages"))]
        have = {x.lower() for x in _as_list(_get(worker, "languages"))}
        missing = ", ".join(x for x in needed if x not in have)
        return f"岗位要求语言 {missing}，本人未登记 / the vacancy requires {missing}"
    raise AssertionError(f"no message for {reason}")  # pragma: no cover
