"""Every contract rule, each shown with a bad file; encodings; formats; the error's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from matcher.data.contract import (
    HIDDEN,
    ContractError,
    read_table,
    table_for_path,
    validate_record,
)
from matcher.data.schema import CONTRACT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "market"

WORKER_HEADER = "worker_id,name,phone,id_number,home_region,languages,birth_year,expected_wage"
GOOD_WORKER = "W1,次仁,13800000001,542427199001010011,542427,bo;zh,1990,5000"

EMPLOYER_HEADER = "employer_id,name,region,industry,verified"
VACANCY_HEADER = (
    "vacancy_id,employer_id,title,occupation_code,region,headcount,wage_min,wage_max,"
    "min_age,max_age,housing,channel,posted_at,closes_at,status,languages"
)
GOOD_VACANCY = (
    "V1,E1,电子厂普工,6-25-02-01,441900,10,4000,6000,18,45,true,cross_province_transfer,"
    "2024-02-01,2024-04-01,open,zh"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(ContractError) as info:
        read_table(path)
    return info.value.problems


def replace_cell(header: str, row: str, column: str, value: str) -> str:
    cols = header.split(",")
    cells = row.split(",")
    cells[cols.index(column)] = value
    return ",".join(cells)


# (table file, header, good row, column, bad value, expected words in the rule)
BAD_CELLS = [
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "worker_id", "", "required"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "home_region", "", "required"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "home_region", "999999", "unknown region"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "home_region", "54242", "6-digit"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "languages", "zh;tibetan", "ISO 639-1"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "birth_year", "1850", "at least 1900"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "birth_year", "1990.5", "whole number"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "expected_wage", "-100", "negative"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "expected_wage", "五千", "number"),
    ("workers.csv", WORKER_HEADER, GOOD_WORKER, "worker_id", "W" * 65, "longer than 64"),
    ("employers.csv", EMPLOYER_HEADER, "E1,厂,441900,电子,true", "verified", "maybe", "boolean"),
    ("employers.csv", EMPLOYER_HEADER, "E1,厂,441900,电子,true", "region", "000000", "region"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "title", "", "required"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "headcount", "-1", "negative"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "wage_min", "-5", "negative"),
    (
        "vacancies.csv",
        VACANCY_HEADER,
        GOOD_VACANCY,
        "wage_min",
        "9000",
        "wage_min is greater than wage_max",
    ),
    (
        "vacancies.csv",
        VACANCY_HEADER,
        GOOD_VACANCY,
        "min_age",
        "50",
        "min_age is greater than max_age",
    ),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "max_age", "130", "at most 120"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "channel", "labour_dispatch", "must be one of"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "status", "paused", "must be one of"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "occupation_code", "6-99-99-99", "CSCO"),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "posted_at", "2024/02/01", "ISO 8601"),
    (
        "vacancies.csv",
        VACANCY_HEADER,
        GOOD_VACANCY,
        "closes_at",
        "2024-01-01",
        "later than closes_at",
    ),
    ("vacancies.csv", VACANCY_HEADER, GOOD_VACANCY, "housing", "包住", "boolean"),
]


@pytest.mark.parametrize(("name", "header", "good", "column", "value", "words"), BAD_CELLS)
def test_each_rule_names_file_line_column_value_and_rule(
    tmp_path, name, header, good, column, value, words
):
    good_id = good.split(",")[0]
    other = good.replace(good_id, good_id + "x", 1)
    bad = replace_cell(header, good, column, value)
    path = write(tmp_path, name, f"{header}\n{other}\n{bad}\n")
    problems = problems_of(path)
    assert len(problems) == 1, problems
    p = problems[0]
    assert p.file == name
    assert p.line == 3
    expected_column = "wage_min" if "wage_min is" in words else column
    expected_column = "min_age" if "min_age is" in words else expected_column
    expected_column = "posted_at" if "later than" in words else expected_column
    assert p.column == expected_column
    assert words in p.rule
    assert f"{name}, line 3, column {expected_column}" in str(p)


def test_the_good_rows_of_those_cases_are_valid(tmp_path):
    for name, header, good, *_ in BAD_CELLS:
        frame = read_table(write(tmp_path, name, f"{header}\n{good}\n"))
        assert len(frame) == 1
        assert (
            list(frame.columns[: len(CONTRACT[name[:-4]].columns)]) == CONTRACT[name[:-4]].columns
        )


def test_enum_values_match_in_any_case_and_are_stored_canonically(tmp_path):
    path = write(
        tmp_path,
        "workers.csv",
        "worker_id,home_region,gender,education,mobility\nW1,542427,f,Junior_Secondary,ANY\n",
    )
    row = read_table(path).iloc[0]
    assert (row["gender"], row["education"], row["mobility"]) == ("F", "junior_secondary", "any")


def test_events_bad_enum_and_missing_time(tmp_path):
    path = write(
        tmp_path,
        "events.csv",
        "worker_id,vacancy_id,event,occurred_at\n"
        "W1,V1,viewed,2024-03-01T10:00:00+08:00\n"
        "W1,V1,clicked,2024-03-01T10:00:00+08:00\n"
        "W1,V1,hired,\n",
    )
    problems = problems_of(path)
    assert [(p.line, p.column) for p in problems] == [(3, "event"), (4, "occurred_at")]
    assert "viewed" in problems[0].rule and "required" in problems[1].rule


def test_identical_event_rows_are_not_errors(tmp_path):
    row = "W1,V1,viewed,2024-03-01T10:00:00+08:00\n"
    frame = read_table(
        write(tmp_path, "events.csv", "worker_id,vacancy_id,event,occurred_at\n" + row * 2)
    )
    assert len(frame) == 2  # de-duplicated when stored


def test_duplicate_ids_point_at_the_first_occurrence(tmp_path):
    path = write(
        tmp_path,
        "employers.csv",
        "employer_id,region\nE1,441900\nE2,441900\nE1,440300\nE1,440300\n",
    )
    problems = problems_of(path)
    assert [(p.line, p.column) for p in problems] == [(4, "employer_id"), (5, "employer_id")]
    assert all("already on line 2" in p.rule for p in problems)


def test_unknown_column_is_an_error_with_a_suggestion(tmp_path):
    path = write(tmp_path, "workers.csv", "worker_id,home_regoin\nW1,542427\n")
    problems = problems_of(path)
    rules = {p.column: p.rule for p in problems}
    assert "did you mean 'home_region'" in rules["home_regoin"]
    assert rules["home_region"] == "required column is missing"
    assert all(p.line == 1 for p in problems)


def test_ragged_rows_and_trailing_empty_cells(tmp_path):
    path = write(
        tmp_path,
        "employers.csv",
        "employer_id,region\nE1,441900,,\nE2\nE3,441900,extra\n",
    )
    problems = problems_of(path)
    assert [p.line for p in problems] == [3, 4]
    assert "1 cells but the header has 2" in problems[0].rule


def test_empty_file_and_duplicate_header(tmp_path):
    assert "empty" in problems_of(write(tmp_path, "workers.csv", ""))[0].rule
    problems = problems_of(write(tmp_path, "employers.csv", "employer_id,region,region\nE1,1,2\n"))
    assert problems[0].column == "region" and "more than once" in problems[0].rule


def test_mixed_errors_are_all_listed_in_line_order(tmp_path):
    path = write(
        tmp_path,
        "workers.csv",
        WORKER_HEADER
        + "\n"
        + "W1,次仁,138,1,542427,bo,1990,5000\n"
        + "W2,卓玛,139,2,999999,bo,19x0,5000\n"  # region, birth_year
        + "W3,扎西,137,3,542427,klingon,1990,-1\n"  # languages, wage
        + "W1,达瓦,136,4,542427,bo,1990,5000\n",  # duplicate id
    )
    with pytest.raises(ContractError) as info:
        read_table(path)
    err = info.value
    assert err.total == 5
    assert [(p.line, p.column) for p in err.problems] == [
        (3, "birth_year"),
        (3, "home_region"),
        (4, "languages"),
        (4, "expected_wage"),
        (5, "worker_id"),
    ]
    message = str(err)
    assert message.startswith("5 problems found")
    assert "workers.csv, line 3, column home_region, value '999999': unknown region code" in message


def test_problem_list_is_limited_and_says_how_many_more(tmp_path):
    rows = "".join(f"W{i},999999\n" for i in range(250))
    path = write(tmp_path, "workers.csv", "worker_id,home_region\n" + rows)
    with pytest.raises(ContractError) as info:
        read_table(path, limit=100)
    err = info.value
    assert err.total == 250 and len(err.problems) == 100
    assert "… and 150 more" in str(err)
    assert err.problems[0].line == 2 and err.problems[-1].line == 101


def test_personal_data_never_appears_in_errors(tmp_path):
    secret_name, secret_phone, secret_id = "央金卓玛", "13912345678", "542427199001019999"
    long_name = secret_name * 60  # longer than 200 characters
    path = write(
        tmp_path,
        "workers.csv",
        "worker_id,name,phone,id_number,home_region\n"
        f"W1,{long_name},{secret_phone + 'x' * 60},{secret_id + '9' * 60},542427\n"
        f"W1,{secret_name},{secret_phone},{secret_id},542427\n",
    )
    with pytest.raises(ContractError) as info:
        read_table(path)
    message = str(info.value)
    assert {p.column for p in info.value.problems} >= {"name", "phone", "id_number"}
    for secret in (secret_name, secret_phone, secret_id):
        assert secret not in message
    assert HIDDEN in message


# --------------------------------------------------------------------------- encodings


def test_gbk_csv_from_a_spreadsheet_is_read(tmp_path):
    text = "employer_id,name,region,industry,verified\r\nE1,东莞市长安精密电子有限公司,441900,电子制造,是\r\n"
    text = text.replace(",是", ",TRUE")
    path = write(tmp_path, "employers.csv", text, encoding="gbk")
    frame = read_table(path)
    assert frame.loc[0, "name"] == "东莞市长安精密电子有限公司"
    assert bool(frame.loc[0, "verified"]) is True


def test_gbk_csv_with_an_error_reports_the_decoded_value(tmp_path):
    text = "employer_id,name,region,industry,verified\r\nE1,索县藏毯扶贫车间,542427,地毯,是的\r\n"
    path = write(tmp_path, "employers.csv", text, encoding="gb18030")
    (problem,) = problems_of(path)
    assert (problem.line, problem.column, problem.value) == (2, "verified", "'是的'")


def test_utf8_with_bom_header_is_clean(tmp_path):
    path = write(tmp_path, "employers.csv", "\ufeffemployer_id,region\nE1,441900\n")
    assert read_table(path).loc[0, "employer_id"] == "E1"


def test_undecodable_bytes_are_reported(tmp_path):
    path = tmp_path / "employers.csv"
    path.write_bytes(b"employer_id,region\nE1,\xff\xfe\xfa\x80\x81\n")
    # decoded somehow or rejected, never crashes, never silently accepted as a valid region
    with pytest.raises(ContractError):
        read_table(path)


def test_quoted_cell_spanning_lines_reports_the_starting_line(tmp_path):
    path = write(
        tmp_path,
        "vacancies.csv",
        VACANCY_HEADER
        + "\n"
        + GOOD_VACANCY.replace(",电子厂普工,", ',"电子厂\n普工\n长期",')
        + "\n"
        + replace_cell(VACANCY_HEADER, GOOD_VACANCY, "vacancy_id", "V2").replace(",441900,", ",12,")
        + "\n",
    )
    (problem,) = problems_of(path)
    assert problem.line == 5 and problem.column == "region"


# --------------------------------------------------------------------------- formats


def test_jsonl_with_native_values_and_line_numbers(tmp_path):
    lines = [
        {"worker_id": "W1", "home_region": 542427, "languages": ["bo", "ZH"], "birth_year": 1990},
        {
            "worker_id": "W2",
            "home_region": "441900",
            "languages": "zh",
            "registered_at": "2024-01-01",
        },
        {"worker_id": "W3", "home_region": "999999"},
    ]
    text = (
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:2])
        + "\n\n"
        + json.dumps(lines[2])
        + "\nnot json\n"
    )
    path = write(tmp_path, "workers.jsonl", text)
    with pytest.raises(ContractError) as info:
        read_table(path)
    assert [(p.line, p.column) for p in info.value.problems] == [(4, "home_region"), (5, None)]
    good = write(tmp_path, "workers2.jsonl", "\n".join(json.dumps(x) for x in lines[:2]))
    frame = read_table(good, "workers")
    assert frame.loc[0, "home_region"] == "542427"
    assert frame.loc[0, "languages"] == ["bo", "zh"]
    assert frame.loc[0, "birth_year"] == 1990


def test_parquet_rows_are_reported_as_row_plus_two(tmp_path):
    frame = pd.DataFrame(
        {
            "vacancy_id": ["V1", "V2"],
            "employer_id": ["E1", "E1"],
            "title": ["普工", "保洁"],
            "region": ["441900", "441900"],
            "headcount": [3, -2],
            "housing": [True, None],
            "posted_at": pd.to_datetime(["2024-02-01", "2024-02-02"]),
            "required_skills": [["焊接", "叉车"], []],
        }
    )
    path = tmp_path / "vacancies.parquet"
    frame.to_parquet(path)
    (problem,) = problems_of(path)
    assert (problem.line, problem.column) == (3, "headcount")
    frame.loc[1, "headcount"] = 2
    frame.to_parquet(path)
    out = read_table(path)
    assert out.loc[0, "required_skills"] == ["焊接", "叉车"]
    assert str(out["posted_at"].dtype) == "datetime64[ns]"
    assert out["housing"].tolist()[0] is True


def test_file_names_select_the_table(tmp_path):
    assert table_for_path(tmp_path / "Workers.CSV") == "workers"
    with pytest.raises(ContractError, match="contract file is named"):
        table_for_path(tmp_path / "worker.csv")


def test_example_folder_is_valid():
    for path in sorted(EXAMPLES.glob("*.csv")):
        frame = read_table(path)
        assert len(frame) > 0


def test_normal_form_of_the_example():
    workers = read_table(EXAMPLES / "workers.csv")
    assert workers["birth_year"].dtype == "Int64"
    assert workers["expected_wage"].dtype == "float64"
    assert str(workers["registered_at"].dtype) == "datetime64[ns]"
    first = workers.iloc[0]
    assert first["languages"] == ["bo", "zh"]
    assert first["preferred_regions"] == ["441900", "440300"]
    # 2024-02-01T09:00:00+08:00 is 01:00 UTC
    assert first["registered_at"] == pd.Timestamp("2024-02-01 01:00:00")
    assert workers.iloc[4]["certificates"] == ["健康证"]


# --------------------------------------------------------------------------- records


def test_validate_record_returns_the_normal_form():
    record = validate_record(
        "vacancies",
        {
            "vacancy_id": "V9",
            "employer_id": "E1",
            "title": "钢筋工",
            "region": "440305",
            "headcount": "4",
            "housing": "yes",
            "languages": ["zh"],
            "posted_at": "2024-03-01T08:00:00+08:00",
        },
    )
    assert record["headcount"] == 4 and record["housing"] is True
    assert record["languages"] == ["zh"] and record["required_skills"] == []
    assert record["posted_at"].isoformat() == "2024-03-01T00:00:00"
    assert record["wage_min"] is None
    assert set(record) == set(CONTRACT["vacancies"].columns)


def test_validate_record_field_errors_map_to_fields():
    with pytest.raises(ContractError) as info:
        validate_record(
            "workers",
            {
                "worker_id": "W1",
                "home_region": "123",
                "gender": "x",
                "phone": "1" * 70,
                "nickname": "a",
            },
        )
    fields = {e["field"]: e["message"] for e in info.value.field_errors()}
    assert set(fields) == {"home_region", "gender", "phone", "nickname"}
    assert "1" * 70 not in str(info.value)
    assert all(p.line is None for p in info.value.problems)


def test_validate_record_rejects_lists_for_single_values():
    with pytest.raises(ContractError) as info:
        validate_record(
            "workers", {"worker_id": ["W1"], "home_region": "542427", "skills": {"a": 1}}
        )
    fields = {e["field"]: e["message"] for e in info.value.field_errors()}
    assert set(fields) == {"worker_id", "skills"}
    assert "not a list" in fields["worker_id"]


def test_validate_record_partial_update():
    assert validate_record("workers", {"expected_wage": "4500"}, partial=True) == {
        "expected_wage": 4500.0
    }
    with pytest.raises(ContractError) as info:
        validate_record("workers", {"home_region": ""}, partial=True)
    assert info.value.field_errors() == [
        {"field": "home_region", "message": "required: must not be empty"}
    ]
    with pytest.raises(ContractError, match="required field is missing"):
        validate_record("workers", {"expected_wage": "4500"})
