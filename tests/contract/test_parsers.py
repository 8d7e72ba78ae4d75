"""Property tests for the contract's value parsers (booleans, lists, dates, numbers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.data.contract import (
    Cells,
    iso639_1,
    parse_booleans,
    parse_lists,
    parse_numbers,
    parse_times,
)
from matcher.data.schema import Kind


def cells(values) -> Cells:
    return Cells.of(pd.Series(values, dtype=object))


def text_cells(values: list[str]) -> list[Cells]:
    """The same text cells both ways: generic (JSON-like) and the CSV fast path."""
    return [cells(values), Cells.of(pd.Series(values, dtype="str"), all_text=True)]


def bad_rows(checks) -> np.ndarray:
    out = np.zeros(len(checks[0][0]), dtype=bool) if checks else np.zeros(0, dtype=bool)
    for mask, _rule in checks:
        out |= mask
    return out


def random_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))


# --------------------------------------------------------------------------- booleans


@st.composite
def boolean_text(draw) -> tuple[str, bool]:
    word, value = draw(
        st.sampled_from(
            [
                ("true", True),
                ("false", False),
                ("yes", True),
                ("no", False),
                ("1", True),
                ("0", False),
            ]
        )
    )
    pad = draw(st.sampled_from(["", " ", "  "]))
    return pad + random_case(draw, word) + pad, value


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.lists(boolean_text(), min_size=1, max_size=20))
def test_booleans_accept_every_spelling_in_any_case(items):
    for c in text_cells([t for t, _ in items]):
        values, checks = parse_booleans(c)
        assert not bad_rows(checks).any()
        assert values.tolist() == [v for _, v in items]


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(
    st.text(min_size=1, max_size=8).filter(
        lambda s: s.strip().lower() not in {"true", "false", "yes", "no", "1", "0"} and s.strip()
    )
)
def test_anything_else_is_not_a_boolean(text):
    for c in text_cells([text]):
        values, checks = parse_booleans(c)
        assert bad_rows(checks).tolist() == [True]
        assert values.isna().all()


def test_native_booleans_and_blanks():
    values, checks = parse_booleans(cells([True, False, None, "", np.nan]))
    assert not bad_rows(checks).any()
    assert values.tolist()[:2] == [True, False]
    assert values.isna().tolist() == [False, False, True, True, True]


# --------------------------------------------------------------------------- numbers


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.lists(st.integers(min_value=-(2**31) + 1, max_value=2**31 - 1), min_size=1, max_size=20))
def test_integers_round_trip_as_text(ints):
    for c in text_cells([f" {i} " for i in ints]):
        values, checks = parse_numbers(c, integer=True)
        assert not bad_rows(checks).any()
        assert values.astype("int64").tolist() == ints


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
        min_size=1,
        max_size=20,
    )
)
def test_floats_round_trip_as_text(floats):
    for c in text_cells([repr(f) for f in floats]):
        values, checks = parse_numbers(c, integer=False)
        assert not bad_rows(checks).any()
        assert values.tolist() == floats


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_integers_must_be_whole(x):
    _values, checks = parse_numbers(cells([repr(x)]), integer=True)
    assert bad_rows(checks).tolist() == [not float(x).is_integer()]


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.text(alphabet="abcxyz,元￥ ", min_size=1, max_size=6).filter(lambda s: s.strip()))
def test_words_are_not_numbers(text):
    for c in text_cells([text]):
        _values, checks = parse_numbers(c, integer=False)
        assert bad_rows(checks).tolist() == [True]


def test_numbers_reject_infinity_booleans_and_huge_integers():
    _v, checks = parse_numbers(cells(["inf", True, "3000000000"]), integer=True)
    assert bad_rows(checks).tolist() == [True, True, True]


# --------------------------------------------------------------------------- lists


token = st.text(
    alphabet=st.characters(blacklist_characters=";；\r\n", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=6,
)


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.lists(token, max_size=6), st.sampled_from([";", "；", " ; ", ";;"]))
def test_lists_split_on_semicolons_and_drop_blanks(items, sep):
    for c in text_cells([sep.join(items)]):
        values, checks = parse_lists(c, Kind.STR_LIST)
        assert checks == []
        assert values.iloc[0] == [i.strip() for i in items if i.strip()]


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.lists(st.sampled_from(sorted(iso639_1())), max_size=5), st.data())
def test_language_codes_any_case_are_accepted_and_lowered(codes, data):
    text = ";".join(random_case(data.draw, c) for c in codes)
    for c in text_cells([text, "", "zh"]):
        values, checks = parse_lists(c, Kind.LANG_LIST)
        assert not bad_rows(checks).any()
        assert values.tolist() == [codes, [], ["zh"]]


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4))
def test_language_codes_must_be_iso_639_1(code):
    for c in text_cells(["bo", f"zh;{code}"]):
        _values, checks = parse_lists(c, Kind.LANG_LIST)
        assert bad_rows(checks).tolist() == [False, code not in iso639_1()]
        if code not in iso639_1():
            assert repr(code) in checks[0][1](1)


def test_region_lists_as_text():
    for c in text_cells(["542427;441900", " 440000 ；999999", ""]):
        values, checks = parse_lists(c, Kind.REGION_LIST)
        assert values.tolist() == [["542427", "441900"], ["440000", "999999"], []]
        assert bad_rows(checks).tolist() == [False, True, False]


def test_native_lists_and_region_lists():
    values, checks = parse_lists(
        cells([["542427", " 441900 "], "440000;999999", None]), Kind.REGION_LIST
    )
    assert values.tolist() == [["542427", "441900"], ["440000", "999999"], []]
    assert bad_rows(checks).tolist() == [False, True, False]
    assert "999999" in checks[0][1](1)


# --------------------------------------------------------------------------- dates and times

moments = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2190, 12, 31))
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60)


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(moments, offsets, st.sampled_from(["T", " "]))
def test_iso_times_with_offsets_become_naive_utc(moment, offset_min, sep):
    moment = moment.replace(microsecond=0)
    tz = timezone(timedelta(minutes=offset_min))
    text = moment.replace(tzinfo=tz).isoformat(sep=sep)
    expected = moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)
    for c in text_cells([text]):
        values, checks = parse_times(c)
        assert not bad_rows(checks).any(), text
        assert values.iloc[0] == pd.Timestamp(expected)
        assert str(values.dtype) == "datetime64[ns]"


@settings(deadline=None)  # the test machine is shared; timing is not the contract
@given(st.dates(min_value=datetime(1901, 1, 1).date(), max_value=datetime(2190, 1, 1).date()))
def test_iso_dates_are_midnight_utc(day):
    values, checks = parse_times(cells([day.isoformat()]))
    assert not bad_rows(checks).any()
    assert values.iloc[0] == pd.Timestamp(day)


@given(st.dates(min_value=datetime(1901, 1, 1).date(), max_value=datetime(2190, 1, 1).date()))
@settings(max_examples=50, deadline=None)
def test_other_date_spellings_are_rejected(day):
    spellings = [day.strftime("%Y/%m/%d"), day.strftime("%d.%m.%Y"), day.strftime("%Y年%m月%d日")]
    for c in text_cells(spellings):
        _values, checks = parse_times(c)
        assert bad_rows(checks).all()


def test_impossible_and_out_of_range_dates():
    values, checks = parse_times(
        cells(["2024-02-30", "2024-13-01", "1850-01-01", "9999-01-01", ""])
    )
    assert bad_rows(checks).tolist() == [True, True, True, True, False]
    assert values.isna().all()
