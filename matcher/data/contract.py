"""Reading and validating data-contract files and records (pure pandas, no SQL).

A contract file is one table (``workers``, ``employers``, ``vacancies`` or
``events``) as ``.csv``, ``.parquet`` or ``.jsonl``. Every cell is checked against
:data:`matcher.data.schema.CONTRACT`; all problems of a file are collected (up to a
limit) and raised together as one :class:`ContractError`, so a person can fix a
file in one pass. Valid data comes back in the normal form of
:mod:`matcher.data.dataset`.

Rules (documented for people in ``docs/data-contract.md``)
----------------------------------------------------------
* CSV: one header row, UTF-8 (with or without BOM) or GB18030/GBK as saved by
  spreadsheet software (detected). Lists are ``;``-separated (the full-width
  ``；`` is accepted too). A blank cell is a missing value.
* Booleans: true/false, 1/0, yes/no in any case. Dates and times: ISO 8601
  (``2024-03-01``, ``2024-03-01T08:30:00+08:00``); times without an offset are
  taken as UTC. Enum values match in any case and are stored as the contract
  spells them.
* Region codes: 6-digit GB/T 2260 codes known to :mod:`matcher.data.reference`;
  language codes: ISO 639-1 (two letters); occupation codes: CSCO 2022.
* Unknown columns are errors (a misspelt column would otherwise lose data
  silently); missing optional columns are fine.
* Duplicate ids inside one file are errors. Identical event rows are not: an
  event is its (worker, vacancy, event, time) and repeats are de-duplicated on
  write.
* Line numbers: CSV and JSONL give the file's physical line (the CSV header is
  line 1; a row spanning several lines is reported at its first line). Parquet
  has no lines: row ``i`` (0-based) is reported as line ``i + 2``, the line it
  would have in the CSV export of the same table.
* Personal data (worker name, phone, id_number) is never echoed: such values
  show as ``<personal data hidden>``.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.data import reference
from matcher.data.dataset import normalise_frame
from matcher.data.schema import CONTRACT, PERSONAL_FIELDS, FieldSpec, Kind, TableSpec

#: File extensions the contract accepts, in the order they are looked for.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".jsonl")
#: Problems listed per error before "... and N more".
MAX_PROBLEMS = 100
#: Shown instead of any personal-data value.
HIDDEN = "<personal data hidden>"
#: Longest text the store keeps for these fields (ids, names; ``FieldSpec.max_length``
#: of the contract); longer values are errors.
MAX_LENGTH: dict[str, int] = {
    f.name: f.max_length
    for table in CONTRACT.values()
    for f in table.fields
    if f.max_length is not None
}
#: Largest integer accepted (the store's integers are 32-bit).
MAX_INT = 2**31 - 1
#: Dates and times outside this range are errors (they are typos, not history).
EARLIEST = pd.Timestamp("1900-01-01")
LATEST = pd.Timestamp("2200-01-01")

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_ISO_RE = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_LIST_SPLIT = re.compile(r"[;；]")
_LIST_KINDS = (Kind.STR_LIST, Kind.REGION_LIST, Kind.LANG_LIST)


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, line, column), what (value) and which rule.

    ``value`` is already made safe to show (personal data hidden, long text cut).
    ``line`` is None for problems of a whole file or of a request body.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = [self.file] if self.file else []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        text = ", ".join(where)
        if self.value is not None:
            text += f", value {self.value}"
        return f"{text}: {self.rule}" if text else self.rule


class ContractError(ValueError):
    """Data that breaks the contract. Lists every problem found (up to a limit).

    Attributes
    ----------
    problems : list of Problem
        The problems shown (at most ``limit``), in file and line order.
    total : int
        How many problems were found in all (``total - len(problems)`` not shown).
    """

    def __init__(
        self, problems: list[Problem], total: int | None = None, limit: int = MAX_PROBLEMS
    ):
        self.problems = list(problems[:limit])
        self.total = max(total if total is not None else len(problems), len(self.problems))
        super().__init__(self._message())

    def _message(self) -> str:
        n = self.total
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the data:"]
        lines += [f"  - {p}" for p in self.problems]
        hidden = self.total - len(self.problems)
        if hidden > 0:
            lines.append(f"  … and {hidden} more (fix these and run again to see them)")
        return "\n".join(lines)

    def field_errors(self) -> list[dict[str, str]]:
        """Per-field problems for an API response: ``[{"field", "message"}, ...]``.

        A problem of the whole record (not one field) has ``field`` ``""``.
        """
        return [{"field": p.column or "", "message": p.rule} for p in self.problems]


def _show(column: str | None, value: Any) -> str | None:
    """A value as it may appear in an error message."""
    if value is None:
        return None
    if column in PERSONAL_FIELDS:
        return HIDDEN
    if isinstance(value, list | tuple | np.ndarray):
        value = ";".join(str(v) for v in value)
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "…"
    return repr(text)


class _Collector:
    """Collects problems column by column, keeping only the first ``limit`` per check."""

    def __init__(self, file: str, lines: Callable[[np.ndarray], np.ndarray], limit: int):
        self.file = file
        self.lines = lines
        self.limit = limit
        self.total = 0
        # (sort key: line or -1, column order, Problem)
        self._items: list[tuple[int, int, Problem]] = []

    def whole(self, rule: str, *, line: int | None = None, column: str | None = None) -> None:
        self.total += 1
        self._items.append((line or 0, -1, Problem(self.file, line, column, None, rule)))

    def rows(
        self,
        positions: np.ndarray,
        column: str | None,
        order: int,
        rule: str | Callable[[int], str],
        values: pd.Series | None = None,
    ) -> None:
        """Rows ``positions`` (row numbers of the table, ascending) break ``rule``."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size == 0:
            return
        self.total += int(positions.size)
        take = positions[: self.limit]
        lines = self.lines(take)
        for pos, line in zip(take.tolist(), lines.tolist(), strict=True):
            text = rule(pos) if callable(rule) else rule
            value = None if values is None else values.iloc[pos]
            shown = None if _is_missing(value) else _show(column, value)
            line_no = None if line < 0 else int(line)
            self._items.append(
                (line_no or 0, order, Problem(self.file, line_no, column, shown, text))
            )

    def problems(self) -> list[Problem]:
        self._items.sort(key=lambda t: (t[0], t[1]))
        return [p for _, _, p in self._items[: self.limit]]


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


# --------------------------------------------------------------------------- value parsers
#
# Each parser takes the cells of one column (any mix of text and native values) and
# returns the parsed values plus a list of (bad-row mask, rule) checks. They are
# vectorised with pandas; only list fields loop over rows.


@dataclass
class Cells:
    """The cells of one column: original values, their stripped text, what is missing.

    ``all_text`` means every value is a string (CSV): the type checks per value are
    skipped and string work runs on pandas' Arrow-backed ``str`` dtype.
    """

    raw: pd.Series  # original values
    text: pd.Series  # stripped str where the value is a string, else missing
    missing: np.ndarray  # bool
    all_text: bool = False

    @classmethod
    def of(cls, series: pd.Series, *, all_text: bool = False) -> Cells:
        """The cells of ``series`` (index dropped); ``all_text`` when every value is a str."""
        series = series.reset_index(drop=True)
        if all_text:
            raw = series.astype("str")
            text = raw.str.strip()
            missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
            return cls(raw=raw, text=text, missing=missing, all_text=True)
        raw = series.astype(object)
        na = raw.isna().to_numpy()
        is_str = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=len(raw))
        text = pd.Series([None] * len(raw), dtype=object)
        blank = np.zeros(len(raw), dtype=bool)
        if is_str.any():
            stripped = raw[is_str].astype(str).str.strip()
            text[is_str] = stripped.to_numpy(dtype=object)
            blank[is_str] = (stripped == "").to_numpy(dtype=bool)
        return cls(raw=raw, text=text, missing=na | blank)

    def present(self) -> np.ndarray:
        return ~self.missing

    def is_instance(self, types: type | tuple[type, ...]) -> np.ndarray:
        """Which values are native instances of ``types`` (never for all-text columns)."""
        if self.all_text:
            return np.zeros(len(self.raw), dtype=bool)
        return np.fromiter(
            (isinstance(v, types) for v in self.raw), dtype=bool, count=len(self.raw)
        )

    def as_text(self) -> pd.Series:
        """Every present value as stripped text (numbers and others via ``str``)."""
        if self.all_text:
            return self.text
        out = self.text.copy()
        other = self.present() & out.isna().to_numpy()
        if other.any():
            out[other] = [_native_text(v) for v in self.raw[other]]
        return out


def _lookup(text: pd.Series, table: Callable[[str], Any]) -> np.ndarray:
    """``table(value)`` for every value, computed once per distinct value (factorize)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    mapped = np.array([table(str(u)) for u in uniques] + [None], dtype=object)
    return mapped[codes]  # code -1 (missing) picks the trailing None


def _native_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    return str(v).strip()


Check = tuple[np.ndarray, str | Callable[[int], str]]


def parse_numbers(cells: Cells, *, integer: bool) -> tuple[pd.Series, list[Check]]:
    """Numbers: ``12``, ``12.5``, ``1e3``; integers must be whole."""
    present = cells.present()
    is_bool = cells.is_instance((bool, np.bool_))
    if cells.all_text:
        source = cells.text.where(~pd.Series(cells.missing), None)
    else:
        source = cells.text.where(cells.text.notna(), cells.raw)
        source = source.where(~pd.Series(cells.missing), None)
    num = pd.to_numeric(source, errors="coerce").astype("float64")
    values = num.to_numpy(copy=True)
    not_number = present & (np.isnan(values) | is_bool)
    checks: list[Check] = [
        (not_number, "must be a number" if not integer else "must be a whole number")
    ]
    with np.errstate(invalid="ignore"):
        infinite = present & np.isinf(values)
        checks.append((infinite, "must be a finite number"))
        if integer:
            ok = present & ~not_number & ~infinite
            fractional = ok & (values != np.floor(values))
            checks.append((fractional, "must be a whole number"))
            checks.append(
                (ok & ~fractional & (np.abs(values) > MAX_INT), f"must be at most {MAX_INT}")
            )
    values[~present | not_number] = np.nan
    return pd.Series(values), checks


def parse_booleans(cells: Cells) -> tuple[pd.Series, list[Check]]:
    """Booleans: true/false, 1/0, yes/no in any case (native booleans as they are)."""
    text = cells.as_text().str.lower()
    out = pd.Series(pd.array([pd.NA] * len(text), dtype="boolean"))
    is_true = text.isin(_TRUE).to_numpy()
    is_false = text.isin(_FALSE).to_numpy()
    out[is_true] = True
    out[is_false] = False
    bad = cells.present() & ~is_true & ~is_false
    return out, [(bad, "must be a boolean: true/false, 1/0 or yes/no")]


def parse_times(cells: Cells, *, date_only: bool = False) -> tuple[pd.Series, list[Check]]:
    """ISO 8601 dates/times; naive times are UTC. Returns naive UTC ``datetime64[ns]``."""
    present = cells.present()
    raw = cells.raw
    is_time = cells.is_instance((datetime, pd.Timestamp, np.datetime64))
    text = cells.text
    has_text = text.notna().to_numpy() & present
    pattern = _DATE_RE if date_only else _ISO_RE
    shaped = np.zeros(len(raw), dtype=bool)
    if has_text.any():
        shaped[has_text] = text[has_text].astype(str).str.fullmatch(pattern).to_numpy(dtype=bool)
    source = pd.Series([None] * len(raw), dtype=object)
    source[shaped] = text[shaped]
    if is_time.any():
        source[is_time] = raw[is_time]
    parsed = pd.to_datetime(source, utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.dt.tz_convert(None)
    not_time = present & parsed.isna().to_numpy()
    rule = (
        "must be an ISO 8601 date such as 2024-03-01"
        if date_only
        else "must be an ISO 8601 date or time such as 2024-03-01 or 2024-03-01T08:30:00+08:00"
    )
    ok = present & ~not_time
    in_range = np.zeros(len(raw), dtype=bool)
    in_range[ok] = ((parsed[ok] >= EARLIEST) & (parsed[ok] < LATEST)).to_numpy()
    out_of_range = ok & ~in_range
    parsed = parsed.where(pd.Series(ok & in_range, index=parsed.index))
    return parsed.astype("datetime64[ns]"), [
        (not_time, rule),
        (out_of_range, f"date out of range ({EARLIEST.year}–{LATEST.year - 1})"),
    ]


def parse_enum(cells: Cells, choices: tuple[str, ...]) -> tuple[pd.Series, list[Check]]:
    """One of ``choices``, in any case; returned as the contract spells it."""
    canonical = {c.lower(): c for c in choices}
    mapped = _lookup(cells.as_text(), lambda v: canonical.get(v.lower()))
    bad = cells.present() & pd.isna(mapped)
    return pd.Series(mapped, dtype=object), [(bad, "must be one of " + ", ".join(choices))]


@cache
def _known_region(code: str) -> bool:
    return reference.is_known_region(code)


def _region_rule(code: str) -> str:
    if not re.fullmatch(r"\d{6}", code):
        return "region codes are 6-digit GB/T 2260 codes such as 542427 (索县) or 441900 (东莞)"
    return "unknown region code (not a GB/T 2260 province, prefecture or county)"


def parse_regions(cells: Cells) -> tuple[pd.Series, list[Check]]:
    """A 6-digit GB/T 2260 code known to :mod:`matcher.data.reference`."""
    text = cells.as_text()
    present = cells.present()
    ok = np.asarray(_lookup(text, _known_region) == True, dtype=bool)  # noqa: E712
    bad = present & ~ok
    values: np.ndarray = text.astype(object).to_numpy(copy=True)
    values[~(present & ok)] = None
    out = pd.Series(values.tolist(), dtype=object)
    return out, [(bad, lambda i: _region_rule(str(text.iloc[i])))]


def _split(value: Any) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        items = [str(v).strip() for v in value if not _is_missing(v)]
    elif _is_missing(value):
        return []
    else:
        items = [v.strip() for v in _LIST_SPLIT.split(str(value))]
    return [v for v in items if v]


def _split_text_lists(
    text: pd.Series, *, lower: bool
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Split a text column on ``;``/``；`` with Arrow compute kernels.

    Returns the per-row lists, the flat array of elements and each element's row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(text)
    arr = pa.array(text.fillna("").astype("str"), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    parts = pc.split_pattern(pc.replace_substring(arr, "；", ";"), ";")
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    parents = pc.list_parent_indices(parts)
    keep = pc.not_equal(flat, "")
    flat, parents = flat.filter(keep), parents.filter(keep)
    if lower:
        flat = pc.utf8_lower(flat)
    parent_rows = parents.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent_rows, minlength=n), out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), flat).to_pylist()
    return lists, np.asarray(flat.to_numpy(zero_copy_only=False), dtype=object), parent_rows


@cache
def iso639_1() -> frozenset[str]:
    """The ISO 639-1 two-letter language codes (``matcher/data/iso639_1.csv``)."""
    return frozenset(reference.domain_table("iso639_1.csv")["code"])


def parse_lists(cells: Cells, kind: Kind) -> tuple[pd.Series, list[Check]]:
    """``;``-separated text (or native lists) to lists of str, checking each element."""
    lower = kind == Kind.LANG_LIST
    if cells.all_text:
        lists, flat, parents = _split_text_lists(cells.text, lower=lower)
    else:
        lists = [_split(v) if p else [] for v, p in zip(cells.raw, cells.present(), strict=True)]
        if lower:
            lists = [[x.lower() for x in items] for items in lists]
        flat = np.array([x for items in lists for x in items], dtype=object)
        parents = np.repeat(np.arange(len(lists)), [len(items) for items in lists])
    out = pd.Series(lists, dtype=object)
    if kind == Kind.STR_LIST:
        return out, []
    elements = set(pd.unique(flat).tolist()) if len(flat) else set()
    if kind == Kind.LANG_LIST:
        codes = iso639_1()
        bad_elements = {x for x in elements if x not in codes}
    else:
        bad_elements = {x for x in elements if not _known_region(x)}
    first_bad: dict[int, str] = {}
    if bad_elements:
        bad_at = np.flatnonzero(pd.Series(flat, dtype=object).isin(bad_elements).to_numpy())
        rows, first = np.unique(parents[bad_at], return_index=True)
        first_bad = {
            int(r): str(flat[bad_at[f]]) for r, f in zip(rows.tolist(), first.tolist(), strict=True)
        }
    bad = np.zeros(len(lists), dtype=bool)
    bad[list(first_bad)] = True

    def rule(i: int) -> str:
        x = first_bad[i]
        if kind == Kind.LANG_LIST:
            return f"{x!r} is not an ISO 639-1 language code (two letters, e.g. zh;bo)"
        return f"{x!r}: " + _region_rule(x)

    return out, [(bad, rule)]


def parse_text(cells: Cells) -> tuple[pd.Series, list[Check]]:
    """Text (numbers given for text fields become their text; lists and objects do not)."""
    text = cells.as_text()
    nested = cells.is_instance((list, tuple, dict, np.ndarray))
    return text.where(pd.Series(cells.present()), None), [
        (nested, "must be a single text value, not a list or an object")
    ]


def _parse(cells: Cells, spec: FieldSpec) -> tuple[pd.Series, list[Check]]:
    kind = spec.kind
    if kind == Kind.INT or kind == Kind.FLOAT:
        values, checks = parse_numbers(cells, integer=kind == Kind.INT)
        arr = values.to_numpy()
        with np.errstate(invalid="ignore"):
            if spec.min_value is not None:
                low = ~np.isnan(arr) & (arr < spec.min_value)
                rule = (
                    "must not be negative"
                    if spec.min_value == 0
                    else f"must be at least {spec.min_value:g}"
                )
                checks.append((low, rule))
                arr = np.where(low, np.nan, arr)
            if spec.max_value is not None:
                high = ~np.isnan(arr) & (arr > spec.max_value)
                checks.append((high, f"must be at most {spec.max_value:g}"))
                arr = np.where(high, np.nan, arr)
        if kind == Kind.INT:
            arr = np.where(np.abs(arr) > MAX_INT, np.nan, arr)
            return pd.Series(arr).round().astype("Int64"), checks
        return pd.Series(arr, dtype="float64"), checks
    if kind == Kind.BOOL:
        return parse_booleans(cells)
    if kind in (Kind.DATE, Kind.DATETIME):
        return parse_times(cells, date_only=kind == Kind.DATE)
    if kind == Kind.ENUM:
        return parse_enum(cells, spec.choices)
    if kind == Kind.REGION:
        return parse_regions(cells)
    if kind in _LIST_KINDS:
        return parse_lists(cells, kind)
    values, checks = parse_text(cells)
    limit = spec.max_length
    if limit is not None:
        lengths = values.astype("str").str.len().fillna(0).to_numpy()
        checks.append((lengths > limit, f"longer than {limit} characters"))
    if spec.name == "occupation_code":
        known = reference.occupations()
        present = values.notna().to_numpy()
        ok = ~present | values.isin(list(known)).to_numpy(dtype=bool)
        checks.append(
            (
                present & ~ok,
                "not a CSCO 2022 occupation code (format like 6-29-01-01; "
                "leave it blank to have it inferred from the title)",
            )
        )
    return values, checks


# --------------------------------------------------------------------------- tables


@dataclass
class CheckedTable:
    """The outcome of checking one file: the normal-form frame, or the problems.

    Attributes
    ----------
    table : str
        Contract table name.
    file : str
        The file as named in problems.
    frame : DataFrame or None
        Normal form (all contract columns) when there were no problems.
    columns : tuple of str
        Contract columns present in the file (a column absent from the file
        leaves stored values alone on import).
    problems : list of Problem
        The first ``limit`` problems, in line order.
    total : int
        All problems found.
    lines : ndarray, optional
        The line number of each row of ``frame`` (for problems found later, e.g.
        references checked against other files).
    """

    table: str
    file: str
    frame: pd.DataFrame | None
    columns: tuple[str, ...]
    problems: list[Problem] = field(default_factory=list)
    total: int = 0
    lines: np.ndarray | None = None

    def line_of(self, positions: np.ndarray) -> np.ndarray:
        """Line numbers (as in problems) of rows of ``frame``; -1 where unknown."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.lines is None:
            return np.full(positions.shape, -1, dtype=np.int64)
        return self.lines[positions]

    @property
    def ok(self) -> bool:
        return self.total == 0

    def raise_for_problems(self) -> None:
        if self.total:
            raise ContractError(self.problems, self.total)


def table_for_path(path: str | Path) -> str:
    """The contract table a file holds, from its name (``workers.csv`` -> ``workers``).

    Raises
    ------
    ContractError
        When the name is not ``<table>.<csv|parquet|jsonl>``.
    """
    path = Path(path)
    name, ext = path.stem.lower(), path.suffix.lower()
    if name not in CONTRACT or ext not in SUPPORTED_EXTENSIONS:
        raise ContractError(
            [
                Problem(
                    path.name,
                    None,
                    None,
                    None,
                    "a contract file is named <table><extension> with table one of "
                    f"{', '.join(CONTRACT)} and extension one of {', '.join(SUPPORTED_EXTENSIONS)}",
                )
            ]
        )
    return name


def validate_frame(
    raw: pd.DataFrame,
    table: str | TableSpec,
    *,
    file: str = "",
    lines: Callable[[np.ndarray], np.ndarray] | None = None,
    column_lines: Mapping[str, int | None] | None = None,
    limit: int = MAX_PROBLEMS,
    all_text: bool = False,
) -> CheckedTable:
    """Check every cell of ``raw`` against a contract table and normalise it.

    Parameters
    ----------
    raw : DataFrame
        Cells as read: text (CSV) or native values (Parquet, JSON), any column order.
    table : str or TableSpec
        The contract table.
    file : str
        Named in problems.
    lines : callable, optional
        Maps row positions to the line numbers shown in problems (default: row + 2).
    column_lines : mapping, optional
        Line where each column is declared (CSV header: 1; JSONL: the first line with the key).
    limit : int
        Problems kept for the message (all are counted).
    all_text : bool
        Every cell is a string (CSV): enables the fast text-only path.

    Returns
    -------
    CheckedTable
        ``frame`` is None when any problem was found.
    """
    spec = CONTRACT[table] if isinstance(table, str) else table
    line_of = lines or (lambda pos: np.asarray(pos) + 2)
    col_line = column_lines or {}
    problems = _Collector(file, line_of, limit)
    raw = raw.reset_index(drop=True)
    n = len(raw)
    known = set(spec.columns)
    order = {c: i for i, c in enumerate(spec.columns)}

    for col in raw.columns:
        if col not in known:
            guess = difflib.get_close_matches(str(col), spec.columns, n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            problems.whole(
                f"unknown column {str(col)!r} in {spec.name}; the contract's columns are "
                f"{', '.join(spec.columns)}{hint}",
                line=col_line.get(str(col)),
                column=str(col),
            )
    for name in spec.required:
        if name not in raw.columns:
            problems.whole(
                "required column is missing" if file else "required field is missing",
                line=col_line.get("", 1),
                column=name,
            )

    parsed: dict[str, pd.Series] = {}
    for spec_field in spec.fields:
        name = spec_field.name
        if name not in raw.columns:
            continue
        cells = Cells.of(raw[name], all_text=all_text)
        values, checks = _parse(cells, spec_field)
        if spec_field.required:
            checks.insert(0, (cells.missing, "required: must not be empty"))
        for mask, rule in checks:
            problems.rows(np.flatnonzero(mask), name, order[name], rule, cells.raw)
        parsed[name] = values

    _cross_field_checks(spec, parsed, raw, problems, order)

    if problems.total:
        return CheckedTable(
            spec.name,
            file,
            None,
            tuple(c for c in spec.columns if c in raw.columns),
            problems.problems(),
            problems.total,
        )
    frame = normalise_frame(pd.DataFrame(parsed, index=pd.RangeIndex(n)), spec)
    return CheckedTable(
        spec.name,
        file,
        frame,
        tuple(c for c in spec.columns if c in parsed),
        lines=line_of(np.arange(n)),
    )


def _cross_field_checks(
    spec: TableSpec,
    parsed: dict[str, pd.Series],
    raw: pd.DataFrame,
    problems: _Collector,
    order: dict[str, int],
) -> None:
    def ordered(low: str, high: str, rule: str) -> None:
        if low in parsed and high in parsed:
            a, b = parsed[low], parsed[high]
            bad = (a.notna() & b.notna()).to_numpy() & (a > b).fillna(False).to_numpy(dtype=bool)
            problems.rows(
                np.flatnonzero(bad), low, order[low], rule, raw[low].reset_index(drop=True)
            )

    ordered("wage_min", "wage_max", "wage_min is greater than wage_max")
    ordered("min_age", "max_age", "min_age is greater than max_age")
    ordered("posted_at", "closes_at", "posted_at is later than closes_at")

    if len(spec.key) == 1 and spec.key[0] in parsed:
        key = spec.key[0]
        ids = parsed[key]
        present = ids.notna()
        dup = (ids.duplicated(keep="first") & present).to_numpy()
        if dup.any():
            positions = pd.Series(np.arange(len(ids)))
            first = positions[present].groupby(ids[present].to_numpy()).transform("min")
            first_pos = pd.Series(-1, index=positions.index)
            first_pos[first.index] = first.to_numpy()
            first_line = problems.lines(first_pos.to_numpy())

            def rule(i: int) -> str:
                return f"duplicate {key}: the same id is already on line {int(first_line[i])}"

            problems.rows(
                np.flatnonzero(dup), key, order[key], rule, raw[key].reset_index(drop=True)
            )


# --------------------------------------------------------------------------- readers


def decode(data: bytes, file: str = "") -> tuple[str, str]:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 (a superset
    of GBK and GB2312, what Chinese spreadsheet software saves), else the best guess
    of ``charset_normalizer``.

    Returns
    -------
    (text, encoding)

    Raises
    ------
    ContractError
        When no encoding decodes the bytes.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ContractError(
            [
                Problem(
                    file,
                    None,
                    None,
                    None,
                    "cannot decode the file as UTF-8 or GB18030/GBK; save it as CSV UTF-8",
                )
            ]
        )
    return str(best), best.encoding


def _line_lookup(line_numbers: list[int] | np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    table = np.asarray(line_numbers, dtype=np.int64)

    def lookup(pos: np.ndarray) -> np.ndarray:
        pos = np.asarray(pos, dtype=np.int64)
        out = np.full(pos.shape, -1, dtype=np.int64)
        ok = (pos >= 0) & (pos < len(table))
        out[ok] = table[pos[ok]]
        return out

    return lookup


def _csv_records(text: str, early: _Collector) -> tuple[list[list[str]], np.ndarray]:
    """Every CSV record and the line it starts on (blank lines give empty records)."""
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
        flat = text.replace("\r\n", "\n")
        if "\r" not in flat:
            n_lines = flat.count("\n") + (0 if flat.endswith("\n") or not flat else 1)
            if n_lines == len(records):  # no cell spans lines: record i is on line i + 1
                return records, np.arange(1, len(records) + 1, dtype=np.int64)
    except csv.Error:
        pass
    # A quoted cell spans lines, or the file breaks CSV quoting: read record by record.
    reader = csv.reader(io.StringIO(text, newline=""))
    records, starts, end = [], [], 0
    try:
        for record in reader:
            records.append(record)
            starts.append(end + 1)
            end = reader.line_num
    except csv.Error as exc:
        early.whole(f"not a readable CSV file: {exc}", line=reader.line_num)
    return records, np.asarray(starts, dtype=np.int64)


def _arrow_csv(data: bytes, text: str, encoding: str) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The fast path: Arrow's multi-threaded CSV reader, all columns as strings.

    Returns None (use the careful reader) unless the file is regular: a clean header,
    every row on one line with the header's width, ``\\n`` or ``\\r\\n`` line ends.
    Then data row ``i`` is on line ``i + 2``.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    first = text.split("\n", 1)[0].rstrip("\r")
    if '"' in first:
        return None
    header = [h.strip() for h in first.split(",")]
    if len(set(header)) != len(header) or "" in header:
        return None
    if encoding == "utf-8":
        utf8 = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    else:
        utf8 = text.encode("utf-8")
    if utf8.count(b"\r") != utf8.count(b"\r\n"):
        return None
    n_lines = utf8.count(b"\n") + (0 if utf8.endswith(b"\n") or not utf8 else 1)
    names = [f"c{i}" for i in range(len(header))]
    try:
        arrow = pacsv.read_csv(
            io.BytesIO(utf8),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if arrow.num_rows != n_lines - 1:
        return None
    raw = arrow.to_pandas()
    raw.columns = header
    return raw, np.arange(2, arrow.num_rows + 2, dtype=np.int64)


def _read_csv(path: Path, table: str, limit: int) -> CheckedTable:
    file = path.name
    data = path.read_bytes()
    try:
        text, encoding = decode(data, file)
    except ContractError as err:
        return CheckedTable(table, file, None, (), err.problems, err.total)
    early = _Collector(file, lambda p: p, limit)
    fast = _arrow_csv(data, text, encoding)
    if fast is not None:
        raw, lines = fast
        header = list(raw.columns)
    else:
        records, starts = _csv_records(text, early)
        if not records or not any(c.strip() for c in records[0]):
            rule = (
                "the file is empty; expected a header row"
                if not records
                else "the first line must be the header row"
            )
            early.whole(rule, line=1)
            return CheckedTable(table, file, None, (), early.problems(), early.total)
        header = [h.strip() for h in records[0]]
        dup_cols = sorted({h for h in header if header.count(h) > 1})
        for h in dup_cols:
            early.whole("the column appears more than once in the header", line=1, column=h)
        if "" in header:
            early.whole("a header cell is empty", line=1)
        if dup_cols or "" in header:
            return CheckedTable(table, file, None, (), early.problems(), early.total)

        body, lines = records[1:], starts[1:]
        width = len(header)
        lengths = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
        keep = np.ones(len(body), dtype=bool)
        for i in np.flatnonzero(lengths != width).tolist():  # few: blank lines, ragged rows
            record = body[i]
            if not any(c.strip() for c in record):
                keep[i] = False  # blank line
            elif len(record) > width and not any(c.strip() for c in record[width:]):
                body[i] = record[:width]  # trailing empty cells, as spreadsheets write them
            else:
                early.whole(
                    f"row has {len(record)} cells but the header has {width} columns",
                    line=int(lines[i]),
                )
                keep[i] = False
        if not keep.all():
            body = [r for r, k in zip(body, keep.tolist(), strict=True) if k]
            lines = lines[keep]
        raw = (
            pd.DataFrame(body, columns=header, dtype="str")
            if body
            else pd.DataFrame({h: pd.Series([], dtype="str") for h in header})
        )
    blank_rows = np.ones(len(raw), dtype=bool)
    for h in header:
        blank_rows &= (raw[h].str.strip() == "").to_numpy(dtype=bool)
    if blank_rows.any():  # rows of empty cells (",,,") are blank lines too
        raw = raw[~blank_rows].reset_index(drop=True)
        lines = lines[~blank_rows]
    checked = validate_frame(
        raw,
        table,
        file=file,
        lines=_line_lookup(lines),
        column_lines=dict.fromkeys(header, 1) | {"": 1},
        limit=limit,
        all_text=True,
    )
    return _merge(checked, early, limit)


def _merge(checked: CheckedTable, early: _Collector, limit: int) -> CheckedTable:
    if not early.total:
        return checked
    problems = sorted(early.problems() + checked.problems, key=lambda p: p.line or 0)
    return CheckedTable(
        checked.table,
        checked.file,
        None,
        checked.columns,
        problems[:limit],
        early.total + checked.total,
    )


def _read_jsonl(path: Path, table: str, limit: int) -> CheckedTable:
    file = path.name
    try:
        text, _encoding = decode(path.read_bytes(), file)
    except ContractError as err:
        return CheckedTable(table, file, None, (), err.problems, err.total)
    early = _Collector(file, lambda p: p, limit)
    records: list[dict] = []
    line_numbers: list[int] = []
    first_seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            early.whole(f"not valid JSON: {exc.msg} (column {exc.colno})", line=number)
            continue
        if not isinstance(record, dict):
            early.whole("each line must be one JSON object {...}", line=number)
            continue
        for key in record:
            first_seen.setdefault(str(key), number)
        records.append(record)
        line_numbers.append(number)
    raw = pd.DataFrame.from_records(records, columns=list(first_seen) or None)
    if raw.empty and not first_seen:
        raw = pd.DataFrame()
    checked = validate_frame(
        raw.astype(object),
        table,
        file=file,
        lines=_line_lookup(line_numbers),
        column_lines=first_seen | {"": 1},
        limit=limit,
    )
    return _merge(checked, early, limit)


def _read_parquet(path: Path, table: str, limit: int) -> CheckedTable:
    file = path.name
    try:
        raw = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a problem of the file
        problem = Problem(file, None, None, None, f"not a readable Parquet file: {exc}")
        return CheckedTable(table, file, None, (), [problem], 1)
    raw.columns = [str(c).strip() for c in raw.columns]
    return validate_frame(raw, table, file=file, limit=limit)


def check_file(
    path: str | Path, table: str | None = None, *, limit: int = MAX_PROBLEMS
) -> CheckedTable:
    """Read and check one contract file; never raises for bad data (see ``problems``).

    Parameters
    ----------
    path : path
        ``<table>.csv``, ``<table>.parquet`` or ``<table>.jsonl``.
    table : str, optional
        The contract table; by default taken from the file name.
    limit : int
        Problems kept (all are counted).

    Returns
    -------
    CheckedTable
    """
    path = Path(path)
    table = table or table_for_path(path)
    if table not in CONTRACT:
        raise KeyError(f"unknown contract table {table!r}; tables are {', '.join(CONTRACT)}")
    ext = path.suffix.lower()
    if ext == ".csv":
        return _read_csv(path, table, limit)
    if ext == ".jsonl":
        return _read_jsonl(path, table, limit)
    if ext == ".parquet":
        return _read_parquet(path, table, limit)
    raise ContractError(
        [
            Problem(
                path.name,
                None,
                None,
                None,
                f"unsupported extension {ext!r}; use .csv, .parquet or .jsonl",
            )
        ]
    )


def read_table(
    path: str | Path, table: str | None = None, *, limit: int = MAX_PROBLEMS
) -> pd.DataFrame:
    """Read one contract file into the normal form of :mod:`matcher.data.dataset`.

    Parameters
    ----------
    path : path
        ``<table>.csv`` (UTF-8 or GB18030/GBK), ``<table>.parquet`` or ``<table>.jsonl``.
    table : str, optional
        The contract table; by default taken from the file name.
    limit : int
        Problems listed in the error (all are counted).

    Returns
    -------
    DataFrame
        Every contract column, in contract order.

    Raises
    ------
    ContractError
        Listing every problem of the file (up to ``limit``), each naming the line,
        column, value and rule.
    """
    checked = check_file(path, table, limit=limit)
    checked.raise_for_problems()
    assert checked.frame is not None
    return checked.frame


# --------------------------------------------------------------------------- records


def _python(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return list(value)
    return value


def validate_record(
    table: str, record: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Check one record (e.g. an API request body) and return it in normal form.

    Parameters
    ----------
    table : str
        ``workers``, ``employers``, ``vacancies`` or ``events``.
    record : mapping
        Field name -> value; values may be text as in CSV (``"zh;bo"``, ``"yes"``)
        or native (``["zh", "bo"]``, ``True``, ``datetime``).
    partial : bool
        For updates: required fields may be absent, and only the given fields are
        returned. Rules between two fields (wage_min <= wage_max, min_age <= max_age,
        posted_at <= closes_at) apply only when both are given: to check an update
        against the stored record, validate the merged record instead.

    Returns
    -------
    dict
        Field -> value: lists of str, bool, int, float, naive-UTC ``datetime``, str or
        None. All contract fields unless ``partial``.

    Raises
    ------
    ContractError
        With one Problem per broken rule; ``Problem.column`` is the field name and
        ``ContractError.field_errors()`` gives ``[{"field", "message"}]`` for a 422.
    """
    if table not in CONTRACT:
        raise KeyError(f"unknown contract table {table!r}; tables are {', '.join(CONTRACT)}")
    spec = CONTRACT[table]
    raw = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in record.items()})
    if raw.empty and not len(raw.columns):
        raw = pd.DataFrame(index=pd.RangeIndex(1))
    if partial:
        checked_spec = TableSpec(
            spec.name,
            spec.key,
            tuple(replace(f, required=False) if f.name not in record else f for f in spec.fields),
            spec.references,
        )
    else:
        checked_spec = spec
    checked = validate_frame(
        raw,
        checked_spec,
        file="",
        lines=lambda p: np.full(len(p), -1),
        column_lines={"": None},
    )
    checked.raise_for_problems()
    assert checked.frame is not None
    row = checked.frame.iloc[0]
    names = [c for c in spec.columns if c in record] if partial else spec.columns
    return {c: _python(row[c]) for c in names}


__all__ = [
    "HIDDEN",
    "MAX_LENGTH",
    "MAX_PROBLEMS",
    "SUPPORTED_EXTENSIONS",
    "CheckedTable",
    "Cells",
    "ContractError",
    "Problem",
    "check_file",
    "decode",
    "iso639_1",
    "parse_booleans",
    "parse_enum",
    "parse_lists",
    "parse_numbers",
    "parse_regions",
    "parse_times",
    "read_table",
    "table_for_path",
    "validate_frame",
    "validate_record",
]
