"""Contracts of matcher.occupations.normaliser and `jobmatch occupation classify`."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.data import reference
from matcher.data.reference import Occupation, occupation_level
from matcher.occupations.normaliser import (
    NO_MATCH,
    OccupationNormaliser,
    colloquial_aliases,
    default_normaliser,
    split_phrases,
    strip_marker,
)


@pytest.fixture(scope="module")
def normaliser() -> OccupationNormaliser:
    return default_normaliser()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("焊工", "6-18-02-04"),
        ("电焊工", "6-18-02-04"),
        ("氩弧焊工", "6-18-02-04"),
        ("砌筑工", "6-29-01-01"),
        ("泥瓦工", "6-29-01-01"),
        ("保洁员", "4-09-08-01"),
        ("保洁", "4-09-08-01"),
        ("收银员", "4-01-02-04"),
        ("缝纫工", "6-05-01-03"),
        ("快递员", "4-02-07-08"),
        ("保安", "4-07-05-01"),
        ("叉车司机", "6-30-05-01"),
        ("钢筋工", "6-29-01-04"),
        ("招聘师", "4-07-03-08"),  # 招聘 is part of this occupation's name, not noise
    ],
)
def test_clear_titles(normaliser, text, code):
    m = normaliser.classify(text)
    assert (m.code, m.level) == (code, 4)
    assert m.confidence >= normaliser.threshold
    assert m.name == strip_marker(reference.occupation(code).name)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("急招焊工包吃住月入8000", "6-18-02-04"),
        ("【急聘】保洁员 包吃住 日结", "4-09-08-01"),
        ("高薪诚聘叉车司机，五险一金", "6-30-05-01"),
        ("泥瓦工 长白班 月薪7000-9000元", "6-29-01-01"),
        ("服装厂缝纫工 计件 包食宿", "6-05-01-03"),
        ("车工　１８－４５岁　男女不限", "6-18-01-01"),
        ("东莞 焊 工 急招！！😀", "6-18-02-04"),
    ],
)
def test_noisy_titles(normaliser, text, code):
    m = normaliser.classify(text)
    assert m.code == code, m


@pytest.mark.parametrize(
    ("text", "code", "level"),
    [
        ("泥水工", "6-29-01-01", 4),  # colloquial table
        ("外卖骑手 日结", "4-10-08-01", 4),
        ("建筑小工", "6-29-01-00", 3),  # the table maps it to a group
    ],
)
def test_colloquial_titles(normaliser, text, code, level):
    m = normaliser.classify(text)
    assert (m.code, m.level) == (code, level)


def test_colloquial_table_codes_are_csco():
    table = colloquial_aliases()
    assert table["6-18-02-04"][0] == "电焊"
    assert all(code in reference.occupations() for code in table)


def test_back_off_to_parent_group(normaliser):
    # a group name is not one detailed occupation: the answer is the group itself
    m = normaliser.classify("销售人员")
    assert (m.code, m.level) == ("4-01-02-00", 3)
    m = normaliser.classify("工程技术人员")
    assert (m.code, m.level) == ("2-02-00-00", 2)
    # an unconfident detailed answer backs off: raise the threshold above its confidence
    best = normaliser.top("装配工", k=1)[0]
    assert best.confidence < 0.99
    backed = OccupationNormaliser(threshold=0.99).fit().classify("装配工")
    assert backed.level < 4
    assert backed == NO_MATCH or backed.confidence >= 0.99


def _occ(code: str, name: str) -> Occupation:
    return Occupation(code, occupation_level(code), name, "", "", (name,))


def test_back_off_known_answer_on_a_toy_table():
    """Two sibling occupations match equally: neither is confident, their group is."""
    table = {
        o.code: o
        for o in [
            _occ("9-00-00-00", "测试大类"),
            _occ("9-01-00-00", "测试中类"),
            _occ("9-01-01-00", "测试小类"),
            _occ("9-01-01-01", "甲型焊工"),
            _occ("9-01-01-02", "乙型焊工"),
            _occ("8-00-00-00", "服务大类"),
            _occ("8-01-00-00", "服务中类"),
            _occ("8-01-01-00", "服务小类"),
            _occ("8-01-01-01", "保洁员"),
        ]
    }
    n = OccupationNormaliser(threshold=0.6).fit(table)
    p = n.top("焊工", k=2)
    assert {m.code for m in p} == {"9-01-01-01", "9-01-01-02"}
    assert all(m.confidence < 0.6 for m in p)
    m = n.classify("焊工")
    assert (m.code, m.level, m.name) == ("9-01-01-00", 3, "测试小类")
    assert m.confidence >= 0.6
    assert n.classify("甲型焊工").code == "9-01-01-01"
    assert n.classify("保洁员").code == "8-01-01-01"


def test_empty_text_gives_no_match(normaliser):
    assert normaliser.classify("") == NO_MATCH
    assert normaliser.classify("   ，。！") == NO_MATCH
    assert normaliser.classify_many([]) == []


def test_classify_many_equals_classify(normaliser):
    texts = ["焊工", "", "急招保洁包吃住", "销售人员", "会计", "abc"]
    assert normaliser.classify_many(texts) == [normaliser.classify(t) for t in texts]
    with pytest.raises(TypeError):
        normaliser.classify_many("焊工")  # type: ignore[arg-type]


_CHARS = "".join(sorted({ch for o in reference.occupations().values() for ch in o.name}))[:400]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=_CHARS + "急招包吃住月入8000 ，", max_size=12))
def test_answers_are_consistent(text):
    n = default_normaliser()
    m = n.classify(text)
    if not m.code:
        assert m == NO_MATCH
        return
    occ = reference.occupation(m.code)
    assert m.level == occ.level
    assert m.name == strip_marker(occ.name)
    assert n.threshold <= m.confidence <= 1.0  # below it the answer backs off or is empty


def test_probabilities_are_distributions(normaliser):
    p = normaliser.probabilities(["焊工", "保洁员", ""])
    assert p.shape == (3, len(normaliser.codes_))
    assert abs(p[0].sum() - 1) < 1e-5 and abs(p[1].sum() - 1) < 1e-5
    assert p[2].sum() == 0


def test_extract_skills_and_history(normaliser):
    found = normaliser.extract("会电焊，开过叉车；在东莞电子厂做过普工三年")
    codes = [m.code for m in found]
    assert "6-18-02-04" in codes and "6-30-05-01" in codes
    assert len(found) <= 3
    both = {m.code for m in normaliser.extract("做过保洁，也当过保安")}
    assert {"4-09-08-01", "4-07-05-01"} <= both
    assert normaliser.extract("") == []
    one = normaliser.extract("焊工、砌筑工、保洁员、收银员", max_codes=2)
    assert len(one) == 2
    many = normaliser.extract_many(["焊工", "保洁员"])
    assert [m[0].code for m in many] == ["6-18-02-04", "4-09-08-01"]


def test_split_phrases():
    assert split_phrases("会电焊，开过叉车\n三年经验") == ["电焊", "开过叉车"]
    assert split_phrases(None) == []


def test_fit_on_a_reduced_table_forgets_removed_aliases():
    occs = dict(reference.occupations())
    occs["6-29-01-01"] = replace(occs["6-29-01-01"], aliases=("砌筑工",))
    n = OccupationNormaliser(colloquial_aliases=False).fit(occs)
    assert "泥瓦工" not in n.aliases_
    assert n.get_params()["colloquial_aliases"] is False
    with pytest.raises(RuntimeError, match="not fitted"):
        OccupationNormaliser().classify("焊工")
    with pytest.raises(ValueError, match="empty"):
        OccupationNormaliser().fit({})


# ----------------------------------------------------------------------------- CLI


def _cli(args):
    from typer.testing import CliRunner

    from service.cli import app

    return CliRunner().invoke(app, args)


def test_cli_classify_text():
    result = _cli(["occupation", "classify", "急招焊工包吃住月入8000"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["line", "text", "code", "name", "level", "confidence"]
    assert rows[1][:5] == ["1", "急招焊工包吃住月入8000", "6-18-02-04", "焊工", "detailed"]
    assert 0.5 <= float(rows[1][5]) <= 1.0


def test_cli_classify_file_keeps_order(tmp_path):
    lines = ["保洁员", "急招焊工包吃住", "泥瓦工,日结", "收银员"]
    src = tmp_path / "titles.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "codes.csv"
    result = _cli(["occupation", "classify", "--in", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == lines
    assert [r["code"] for r in rows] == ["4-09-08-01", "6-18-02-04", "6-29-01-01", "4-01-02-04"]
    assert list(rows[0]) == ["line", "text", "code", "name", "level", "confidence"]


def test_cli_refuses_files_that_are_not_utf8(tmp_path):
    # the learned coder's CLI takes UTF-8 only and names the line (it used to guess GB18030)
    src = tmp_path / "gbk.txt"
    src.write_bytes("砌筑工\n保洁员\n".encode("gb18030"))
    result = _cli(["occupation", "classify", "--in", str(src)])
    assert result.exit_code == 2
    assert "gbk.txt:1: not UTF-8" in result.output


def test_cli_errors_are_actionable(tmp_path):
    result = _cli(["occupation", "classify"])
    assert result.exit_code == 2
    assert "give either TEXT or --in FILE" in result.output
    result = _cli(["occupation", "classify", "--in", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
