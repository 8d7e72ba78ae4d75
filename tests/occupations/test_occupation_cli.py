"""``jobmatch occupation classify``: one row per line, and bad input refused with file/line."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from matcher.occupations.classifier import ClassifierConfig, LabelledTitle, OccupationClassifier
from service.cli import app
from service.commands.occupation import MAX_LINE_CHARS, read_title_lines

TITLES = {
    "6-18-02-04": ("电焊工", "焊工学徒", "氩弧焊工", "二保焊焊工", "电焊师傅"),
    "4-03-02-01": ("厨师", "中餐厨师", "炒菜厨师", "川菜厨师", "厨师长"),
    "4-09-08-01": ("保洁员", "保洁阿姨", "小区保洁", "商场保洁", "保洁工"),
}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    examples = [LabelledTitle(t, code) for code, ts in TITLES.items() for t in ts]
    model = OccupationClassifier(ClassifierConfig(dictionary_weight=0.0, inner_folds=3))
    return model.fit(examples).save(tmp_path_factory.mktemp("occ") / "m.joblib")


def run(*args: str):
    return CliRunner().invoke(app, ["occupation", "classify", *args])


def test_writes_one_row_per_line_with_code_name_level_confidence(tmp_path, model_file):
    src = tmp_path / "titles.txt"
    src.write_text("急招电焊工包吃住\n小区保洁员\r\n川菜厨师 月入8000\n", encoding="utf-8")
    out = tmp_path / "out" / "coded.csv"
    r = run("--in", str(src), "--out", str(out), "--model", str(model_file))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["line", "text", "code", "name", "level", "confidence"]
    assert [row["line"] for row in rows] == ["1", "2", "3"]
    assert [row["code"] for row in rows] == ["6-18-02-04", "4-09-08-01", "4-03-02-01"]
    assert rows[0]["name"] == "焊工" and rows[0]["level"] == "detailed"
    assert all(0 <= float(row["confidence"]) <= 1 for row in rows)


def test_one_title_on_the_command_line_with_the_shipped_model():
    r = run("急招电焊工包吃住")
    assert r.exit_code == 0, r.output
    header, row = r.output.strip().splitlines()
    assert header == "line,text,code,name,level,confidence"
    assert row.startswith("1,急招电焊工包吃住,6-")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("焊工\n\n厨师\n".encode(), r"titles.txt:2: empty line"),
        ("焊工\n   \n".encode(), r"titles.txt:2: empty line"),
        (("焊工\n" + "厨" * (MAX_LINE_CHARS + 1) + "\n").encode(), r"titles.txt:2: 201 characters"),
        ("焊工\n厨师\n".encode("gb18030"), r"titles.txt:1: not UTF-8 \(byte 0xba"),
        ("焊工\n".encode() + "厨师\n".encode("gb18030"), r"titles.txt:2: not UTF-8"),
    ],
)
def test_bad_lines_are_refused_with_file_and_line_and_nothing_written(
    tmp_path, model_file, content, message
):
    import re

    src = tmp_path / "titles.txt"
    src.write_bytes(content)
    out = tmp_path / "coded.csv"
    r = run("--in", str(src), "--out", str(out), "--model", str(model_file))
    assert r.exit_code == 2
    assert re.search(message, r.output), r.output
    assert "nothing was written" in r.output
    assert not out.exists()


def test_every_bad_line_is_counted_and_the_first_ten_shown(tmp_path, model_file):
    src = tmp_path / "titles.txt"
    src.write_text("焊工\n" + "\n" * 12 + "厨师\n", encoding="utf-8")
    r = run("--in", str(src), "--model", str(model_file))
    assert r.exit_code == 2
    assert "12 unusable line(s)" in r.output and "… and 2 more" in r.output


def test_missing_or_empty_files_and_wrong_arguments(tmp_path, model_file):
    assert "does not exist" in run("--in", str(tmp_path / "none.txt")).output
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "holds no titles" in run("--in", str(empty), "--model", str(model_file)).output
    assert "either TEXT or --in" in run().output
    r = run("焊工", "--model", str(tmp_path / "none.joblib"))
    assert r.exit_code == 2 and "occupation train" in r.output


def test_reading_lines_keeps_a_bom_free_utf8_file_and_counts_crlf():
    titles, problems = read_title_lines("\ufeff焊工\r\n厨师".encode())
    assert titles == ["焊工", "厨师"] and problems == []


def test_train_says_when_the_store_cannot_be_read(monkeypatch, tmp_path):
    from service.settings import get_settings

    titles = tmp_path / "t.csv"
    titles.write_text("job_name,expected_code\n焊工,6-18-02-04\n", encoding="utf-8")
    monkeypatch.setenv(
        "JOBMATCH_DATABASE_URL", "postgresql+psycopg://officer:s3cret@127.0.0.1:1/jobmatch"
    )
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["occupation", "train", "--titles", str(titles)])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2
    assert "cannot read the officers' corrections" in r.output and "--no-corrections" in r.output
    assert "s3cret" not in r.output


def test_train_refuses_a_bad_titles_file_with_its_line(tmp_path):
    titles = tmp_path / "t.csv"
    titles.write_text("job_name,expected_code\n焊工,6-18-02-04\n,6-18-02-04\n", encoding="utf-8")
    r = CliRunner().invoke(
        app, ["occupation", "train", "--titles", str(titles), "--no-corrections"]
    )
    assert r.exit_code == 2 and "t.csv:3: job_name is blank" in r.output
