"""jobmatch import: validate everything, write once, idempotent; SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from matcher.data.contract import ContractError
from service.importer import fill_occupations, find_files, import_folder
from service.store.db import make_engine
from service.store.repository import counts, load_dataset, table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "market"


@dataclass
class Match:
    code: str | None
    name: str
    confidence: float


class FakeNormaliser:
    """Knows two titles; stands in for matcher.occupations.normaliser in these tests."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def classify_many(self, texts: list[str]) -> list[Match]:
        self.calls.append(list(texts))
        known = {"电子厂普工（包吃住）": "6-25-02-01", "住家保姆": "4-10-01-05"}
        return [Match(known.get(t), "", 0.8 if t in known else 0.0) for t in texts]


def store_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return counts(conn)
    finally:
        engine.dispose()


def copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "market"
    shutil.copytree(EXAMPLES, folder)
    return folder


def test_example_imports_cleanly_and_reimport_changes_nothing(database_url):
    normaliser = FakeNormaliser()
    first = import_folder(EXAMPLES, database_url, normaliser=normaliser)
    assert [r[:4] for r in first.rows()] == [
        ["employers", "employers.csv", 5, 5],
        ["workers", "workers.csv", 6, 6],
        ["vacancies", "vacancies.csv", 5, 5],
        ["events", "events.csv", 11, 11],
    ]
    assert (first.occupations_given, first.occupations_inferred) == (3, 2)
    assert normaliser.calls == [["电子厂普工（包吃住）", "住家保姆"]]
    # the lifecycle part of the import is timed within it
    assert 0 < first.lifecycle_seconds < first.seconds

    second = import_folder(EXAMPLES, database_url, normaliser=FakeNormaliser())
    assert second.changed == 0
    assert [t.unchanged for t in second.tables] == [5, 6, 5, 11]
    assert store_counts(database_url) == {
        "workers": 6,
        "employers": 5,
        "vacancies": 5,
        "events": 11,
    }

    ds = load_dataset(make_engine(database_url))
    v = ds.vacancies.set_index("vacancy_id")
    assert v.loc["V001", "occupation_code"] == "6-25-02-01"
    assert v.loc["V001", "occupation_source"] == "inferred"
    assert v.loc["V001", "occupation_confidence"] == pytest.approx(0.8)
    assert v.loc["V002", "occupation_source"] == "given"
    assert pd.isna(v.loc["V002", "occupation_confidence"])
    assert ds.worker("W0001")["home_region"] == "542427"


def test_changed_rows_are_updated(tmp_path, sqlite_url):
    folder = copy_example(tmp_path)
    import_folder(folder, sqlite_url, infer_occupations=False)
    text = (
        (folder / "workers.csv")
        .read_text(encoding="utf-8")
        .replace(",6000,lifted,", ",6500,lifted,")
    )
    (folder / "workers.csv").write_text(text, encoding="utf-8")
    summary = import_folder(folder, sqlite_url, infer_occupations=False)
    w = summary.table("workers")
    assert (w.inserted, w.updated, w.unchanged) == (0, 1, 5)
    assert summary.table("events").inserted == 0


def test_one_bad_file_means_nothing_is_written(tmp_path, database_url):
    folder = copy_example(tmp_path)
    events = (folder / "events.csv").read_text(encoding="utf-8")
    (folder / "events.csv").write_text(events + "W0001,V002,clicked,2024-02-20\n", encoding="utf-8")
    with pytest.raises(ContractError) as info:
        import_folder(folder, database_url, infer_occupations=False)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column) == ("events.csv", 13, "event")
    assert store_counts(database_url) == {"workers": 0, "employers": 0, "vacancies": 0, "events": 0}


def test_problems_of_every_file_are_reported_together(tmp_path, sqlite_url):
    folder = copy_example(tmp_path)
    w = (
        (folder / "workers.csv")
        .read_text(encoding="utf-8")
        .replace(
            "W0006,王建国,13800000006,621126198512120066,M,1985,621126",
            "W0006,王建国,13800000006,621126198512120066,M,1985,999999",
        )
    )
    (folder / "workers.csv").write_text(w, encoding="utf-8")
    e = (
        (folder / "employers.csv")
        .read_text(encoding="utf-8")
        .replace(
            "E005,惠州家政服务中心,441300,家政服务,no",
            "E005,惠州家政服务中心,441300,家政服务,perhaps",
        )
    )
    (folder / "employers.csv").write_text(e, encoding="utf-8")
    with pytest.raises(ContractError) as info:
        import_folder(folder, sqlite_url, infer_occupations=False)
    where = [(p.file, p.line, p.column) for p in info.value.problems]
    assert where == [("employers.csv", 6, "verified"), ("workers.csv", 7, "home_region")]
    assert "13800000006" not in str(info.value) and "王建国" not in str(info.value)


def test_events_naming_unknown_workers_or_vacancies_are_errors(tmp_path, database_url):
    folder = copy_example(tmp_path)
    events = (folder / "events.csv").read_text(encoding="utf-8")
    (folder / "events.csv").write_text(
        events + "W9999,V001,viewed,2024-02-20\nW0001,V999,viewed,2024-02-20\n", encoding="utf-8"
    )
    with pytest.raises(ContractError) as info:
        import_folder(folder, database_url, infer_occupations=False)
    found = {(p.line, p.column, p.value) for p in info.value.problems}
    assert found == {(13, "worker_id", "'W9999'"), (14, "vacancy_id", "'V999'")}
    rules = {p.column: p.rule for p in info.value.problems}
    assert rules["worker_id"] == "names an unknown worker: neither in workers.csv nor in the store"
    assert rules["vacancy_id"].endswith("neither in vacancies.csv nor in the store")
    assert store_counts(database_url)["events"] == 0


def test_references_may_point_into_the_store(tmp_path, database_url):
    import_folder(EXAMPLES, database_url, infer_occupations=False)
    later = tmp_path / "later"
    later.mkdir()
    (later / "vacancies.csv").write_text(
        "vacancy_id,employer_id,title,region,headcount\nV100,E003,藏毯编织学徒,542427,4\n"
        "V101,E404,保安,441900,2\n",
        encoding="utf-8",
    )
    (later / "events.csv").write_text(
        "worker_id,vacancy_id,event,occurred_at\nW0002,V100,applied,2024-03-01\n", encoding="utf-8"
    )
    with pytest.raises(ContractError) as info:
        import_folder(later, database_url, infer_occupations=False)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.column, problem.value) == (
        "vacancies.csv",
        3,
        "employer_id",
        "'E404'",
    )
    assert "not in the store (and this import has no employers file)" in problem.rule
    (later / "vacancies.csv").write_text(
        "vacancy_id,employer_id,title,region,headcount\nV100,E003,藏毯编织学徒,542427,4\n",
        encoding="utf-8",
    )
    summary = import_folder(later, database_url, infer_occupations=False)
    assert summary.table("vacancies").inserted == 1 and summary.table("events").inserted == 1


def test_given_occupation_codes_must_be_csco(tmp_path, sqlite_url):
    folder = copy_example(tmp_path)
    v = (folder / "vacancies.csv").read_text(encoding="utf-8").replace("6-29-01-04", "6-29-01-99")
    (folder / "vacancies.csv").write_text(v, encoding="utf-8")
    with pytest.raises(ContractError, match="CSCO 2022"):
        import_folder(folder, sqlite_url, infer_occupations=False)


def test_folder_rules(tmp_path, sqlite_url):
    with pytest.raises(ContractError, match="no contract files"):
        import_folder(tmp_path, sqlite_url)
    (tmp_path / "workers.csv").write_text("worker_id,home_region\nW1,542427\n", encoding="utf-8")
    (tmp_path / "workers.jsonl").write_text('{"worker_id": "W2", "home_region": "542427"}\n')
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "._workers.csv").write_bytes(b"\x00\x05\x16\x07")  # a macOS copy: ignored
    with pytest.raises(ContractError, match="two files for the workers table"):
        find_files(tmp_path)
    (tmp_path / "workers.jsonl").unlink()
    (tmp_path / "worker_list.csv").write_text("x\n")
    with pytest.raises(ContractError, match="not a contract table"):
        find_files(tmp_path)
    (tmp_path / "worker_list.csv").unlink()
    assert set(find_files(tmp_path)) == {"workers"}
    assert import_folder(tmp_path, sqlite_url).table("workers").inserted == 1


def test_gbk_folder_imports(tmp_path, sqlite_url):
    folder = copy_example(tmp_path)
    for path in folder.glob("*.csv"):
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    summary = import_folder(folder, sqlite_url, infer_occupations=False)
    assert summary.table("workers").inserted == 6
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        names = conn.execute(select(table("employers").c.name)).scalars().all()
    engine.dispose()
    assert "索县藏毯扶贫车间" in names


def test_fill_occupations_marks_given_and_inferred():
    frame = pd.DataFrame(
        {"title": ["住家保姆", "不知道", "钢筋工"], "occupation_code": [None, None, "6-29-01-04"]}
    )
    out, inferred, given = fill_occupations(frame, FakeNormaliser())
    assert out["occupation_code"].tolist() == ["4-10-01-05", None, "6-29-01-04"]
    assert out["occupation_source"].tolist() == ["inferred", None, "given"]
    assert (inferred, given) == (1, 1)


def test_cli_prints_a_summary_and_fails_without_writing(tmp_path, monkeypatch):
    from service.cli import app
    from service.settings import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["import", str(EXAMPLES), "--no-infer-occupations"])
        assert ok.exit_code == 0, ok.output
        assert "workers" in ok.output and "inserted" in ok.output
        bad = copy_example(tmp_path)
        (bad / "employers.csv").write_text("employer_id,region\nE1,999999\n", encoding="utf-8")
        failed = runner.invoke(app, ["import", str(bad), "--no-infer-occupations"])
        assert failed.exit_code == 1
        assert "employers.csv, line 2, column region" in failed.output
        assert "nothing was imported" in failed.output
        assert store_counts(url)["employers"] == 5
    finally:
        get_settings.cache_clear()


def test_sample_market_imports_cleanly(tmp_path, database_url):
    from training import synth

    frames = synth.generate_market(n_workers=300, n_employers=20, weeks=4, seed=3)
    synth.write_market(frames, tmp_path / "sample")
    summary = import_folder(tmp_path / "sample", database_url, infer_occupations=False)
    assert summary.table("workers").inserted == 300
    assert all(t.rows > 0 for t in summary.tables)
    again = import_folder(tmp_path / "sample", database_url, infer_occupations=False)
    assert again.changed == 0


def test_blank_codes_are_inferred_by_the_engine_normaliser(sqlite_url):
    """With the project's occupation coder (no stand-in): the example market's two blank
    codes (examples/market/README.md) become CSCO codes on the path of the occupation their
    titles name, at the level the evidence supports, marked 'inferred' with a confidence;
    given codes stay 'given'.

    电子厂普工 is coded 6-00-00-00 (生产制造及有关人员) by the learned coder: the real
    labelled postings code "普工" titles with that group, not with a detailed trade."""
    from matcher.data.reference import occupation_ancestors, occupations

    summary = import_folder(EXAMPLES, sqlite_url)
    assert summary.occupation_note is None
    assert summary.occupations_given == 3
    assert summary.occupations_inferred == 2
    v = load_dataset(make_engine(sqlite_url)).vacancies.set_index("vacancy_id")
    expected = {
        "V001": "6-25-04-00",  # 电子厂普工: 电子设备装配调试人员, or a group above it
        "V005": "4-10-01-06",  # 住家保姆: 家政服务员
    }
    for vid, code in expected.items():  # blank in the file
        got = v.loc[vid, "occupation_code"]
        assert v.loc[vid, "occupation_source"] == "inferred"
        assert got in occupations() and got in (code, *occupation_ancestors(code))
        assert 0.0 < v.loc[vid, "occupation_confidence"] <= 1.0
    assert v.loc["V005", "occupation_code"] == "4-10-01-06"
    assert (v.loc[["V002", "V003", "V004"], "occupation_source"] == "given").all()


def test_cli_reports_an_unreachable_store_without_its_password(monkeypatch):
    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv(
        "JOBMATCH_DATABASE_URL", "postgresql+psycopg://officer:s3cret@127.0.0.1:1/jobmatch"
    )
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", str(EXAMPLES), "--no-infer-occupations"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot open the store at postgresql+psycopg://officer:***@127.0.0.1:1" in result.output
    assert "s3cret" not in result.output


def test_the_same_market_as_csv_parquet_or_jsonl_gives_the_same_store(tmp_path):
    from training import synth

    frames = synth.generate_market(n_workers=120, n_employers=10, weeks=3, seed=5)
    fingerprints = {}
    for fmt in ("csv", "parquet", "jsonl"):
        folder = tmp_path / fmt
        synth.write_market(frames, folder, fmt=fmt)
        url = f"sqlite:///{tmp_path / f'{fmt}.db'}"
        summary = import_folder(folder, url, infer_occupations=False)
        assert summary.table("workers").inserted == 120
        engine = make_engine(url)
        fingerprints[fmt] = load_dataset(engine, include_personal=True).fingerprint()
        engine.dispose()
    assert fingerprints["csv"] == fingerprints["parquet"] == fingerprints["jsonl"]
