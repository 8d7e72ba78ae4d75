"""Occupation coding in the service: suggestions, officers' corrections and the training loop."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from service_fixtures import Service
from typer.testing import CliRunner

from matcher.occupations.classifier import OccupationClassifier
from service.cli import app as cli
from service.settings import get_settings
from service.store.db import make_engine
from service.store.repository import occupation_corrections

IN_SCOPE_WORKER = "W000"  # home 542427, inside the officer's 5424
OUT_OF_SCOPE_WORKER = "W002"  # home 522301
WELDER = "6-18-02-04"
COOK = "4-03-02-01"


def post_vacancy(service: Service, vacancy_id: str, region: str, title: str) -> dict:
    body = {"vacancy_id": vacancy_id, "title": title, "region": region, "headcount": 2}
    r = service.client.post("/api/v1/vacancies", json=body, headers=service.as_("employer"))
    assert r.status_code == 201, r.text
    return r.json()


def test_suggestions_give_three_codes_with_names(sqlite_service: Service):
    r = sqlite_service.client.post(
        "/api/v1/occupations/suggest",
        json={"text": "急招电焊工包吃住"},
        headers=sqlite_service.as_("employer"),
    )
    assert r.status_code == 200
    data = r.json()["data"]
    assert len(data) == 3 and data[0]["code"] == WELDER and data[0]["name"] == "焊工"
    assert all(d["name"] and 0 <= d["confidence"] <= 1 for d in data)
    r = sqlite_service.client.post(
        "/api/v1/occupations/suggest", json={"text": ""}, headers=sqlite_service.as_("employer")
    )
    assert r.status_code == 422


def test_classify_answers_with_code_level_and_confidence(sqlite_service: Service):
    r = sqlite_service.client.post(
        "/api/v1/occupations/classify",
        json={"text": "CNC学徒包吃住"},
        headers=sqlite_service.as_("officer"),
    )
    body = r.json()
    assert r.status_code == 200 and body["code"] and body["level"] in (1, 2, 3, 4)
    assert body["level_name"] in ("detailed", "minor", "sub-major", "major")


def test_officer_corrects_a_vacancy_code_and_it_is_stored_for_training(sqlite_service: Service):
    s = sqlite_service
    post_vacancy(s, "V950", "542427", "后厨帮工")
    r = s.client.post(
        "/api/v1/vacancies/V950/occupation", json={"code": COOK}, headers=s.as_("officer")
    )
    assert r.status_code == 201, r.text
    fix = r.json()
    assert (fix["subject"], fix["subject_id"], fix["text"], fix["code"]) == (
        "vacancy",
        "V950",
        "后厨帮工",
        COOK,
    )
    v = s.client.get("/api/v1/vacancies/V950", headers=s.as_("admin")).json()
    assert (v["occupation_code"], v["occupation_source"]) == (COOK, "corrected")
    listed = s.client.get("/api/v1/occupations/corrections", headers=s.as_("officer")).json()
    assert listed["count"] == 1 and listed["data"][0]["name"] == "中式烹调师"
    engine = make_engine(s.url)
    try:
        assert [(t.title, t.code) for t in occupation_corrections(engine)] == [("后厨帮工", COOK)]
    finally:
        engine.dispose()


def test_corrections_are_checked_and_scoped(sqlite_service: Service):
    s = sqlite_service
    post_vacancy(s, "V951", "440306", "普工")  # outside the officer's region
    c = s.client
    r = c.post("/api/v1/vacancies/V951/occupation", json={"code": COOK}, headers=s.as_("officer"))
    assert r.status_code == 403
    r = c.post("/api/v1/vacancies/V951/occupation", json={"code": COOK}, headers=s.as_("employer"))
    assert r.status_code == 403  # employers do not correct codes
    r = c.post("/api/v1/vacancies/V951/occupation", json={"code": "9-99"}, headers=s.as_("admin"))
    assert r.status_code == 422 and "code" in r.text and "CSCO" in r.text
    r = c.post("/api/v1/vacancies/NOPE/occupation", json={"code": COOK}, headers=s.as_("admin"))
    assert r.status_code == 404
    r = c.post(
        f"/api/v1/workers/{IN_SCOPE_WORKER}/occupation",
        json={"code": WELDER},
        headers=s.as_("officer"),
    )
    assert r.status_code == 422 and "text" in r.text  # which line names the occupation?
    r = c.post(
        f"/api/v1/workers/{OUT_OF_SCOPE_WORKER}/occupation",
        json={"code": WELDER, "text": "做过电焊"},
        headers=s.as_("officer"),
    )
    assert r.status_code == 403
    assert c.get("/api/v1/occupations/corrections", headers=s.as_("admin")).json()["count"] == 0


def test_worker_correction_on_the_page_and_the_training_loop(
    sqlite_service: Service, tmp_path, monkeypatch
):
    s = sqlite_service
    s.client.cookies.set("jobmatch_key", s.keys["officer"])
    page = s.client.get(f"/officer/workers/{IN_SCOPE_WORKER}")
    assert page.status_code == 200 and 'id="occupation-form"' in page.text
    r = s.client.post(
        f"/officer/workers/{IN_SCOPE_WORKER}/occupation",
        data={"text": "在东莞做过氩弧焊", "code": WELDER},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "occupation_corrected" in r.headers["location"]
    r = s.client.post(
        f"/officer/workers/{IN_SCOPE_WORKER}/occupation",
        data={"text": "", "code": WELDER},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "%E2%9C%97" in r.headers["location"]  # ✗ and the reason

    # jobmatch occupation train folds the stored correction into the labelled titles
    titles = tmp_path / "titles.csv"
    rows = ["job_name,expected_code"]
    rows += [
        f"{t},{COOK}" for t in ("厨师", "中餐厨师", "炒菜厨师", "川菜厨师", "厨师长", "面点师")
    ]
    rows += [f"{t},4-09-08-01" for t in ("保洁员", "保洁阿姨", "小区保洁", "商场保洁", "保洁工")]
    rows += [f"{t},6-31-01-03" for t in ("电工", "维修电工", "工厂电工", "持证电工", "电工师傅")]
    titles.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "occupation.joblib"
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", s.url)
    get_settings.cache_clear()
    try:
        args = ["occupation", "train", "--titles", str(titles), "--out", str(out)]
        r = CliRunner().invoke(cli, [*args, "--dictionary-weight", "0"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert "16 labelled titles and 1 officer corrections" in r.output
    model = OccupationClassifier.load(out)
    assert model.classify("做过氩弧焊").code == WELDER  # only the correction taught it


@pytest.mark.parametrize("role", ["employer", "officer"])
def test_vacancy_form_and_page_ask_for_suggestions(sqlite_service: Service, role: str):
    s = sqlite_service
    s.client.cookies.set("jobmatch_key", s.keys[role])
    r = s.client.get("/occupation-suggestions", params={"title": "电焊工"})
    assert r.status_code == 200 and r.json()["data"][0]["code"] == WELDER
    assert s.client.get("/occupation-suggestions", params={"title": " "}).json()["count"] == 0
    if role == "employer":
        page = s.client.get("/employer")
        assert 'id="occupation-suggestions"' in page.text and 'data-source="title"' in page.text
    s.client.cookies.clear()
    assert s.client.get("/occupation-suggestions", params={"title": "电焊工"}).status_code == 401


def test_officer_corrects_a_vacancy_on_its_page(sqlite_service: Service):
    s = sqlite_service
    post_vacancy(s, "V952", "542427", "后厨打荷")
    s.client.cookies.set("jobmatch_key", s.keys["employer"])
    assert 'id="occupation-form"' not in s.client.get("/employer/vacancies/V952").text
    s.client.cookies.set("jobmatch_key", s.keys["officer"])
    page = s.client.get("/employer/vacancies/V952")
    assert page.status_code == 200 and 'id="occupation-form"' in page.text
    assert 'data-title="后厨打荷"' in page.text  # the form suggests codes for this title
    r = s.client.post(
        "/officer/vacancies/V952/occupation", data={"code": COOK}, follow_redirects=False
    )
    assert r.status_code == 303 and "occupation_corrected" in r.headers["location"]
    v = s.client.get("/api/v1/vacancies/V952", headers=s.as_("admin")).json()
    assert (v["occupation_code"], v["occupation_source"]) == (COOK, "corrected")
    r = s.client.post(
        "/officer/vacancies/V952/occupation", data={"code": "x"}, follow_redirects=False
    )
    # the flash says the rule in the page's language (labels.detail_message), not English
    flash = unquote(r.headers["location"])
    assert r.status_code == 303 and "职业代码不在国家职业分类大典" in flash, flash


def test_people_see_the_suggestion_model_and_the_engine_reads_the_shipped_one(tmp_path):
    from matcher.occupations.classifier import default_model_file, suggest_model_file
    from service import occupation_coder as coders

    # nothing trained: each purpose its shipped model
    assert coders.model_path(tmp_path) == default_model_file()
    assert coders.suggestion_model_path(tmp_path) == suggest_model_file()
    assert coders.suggestion_coder(tmp_path).settings.dense_channel == "usem3"
    assert coders.occupation_coder(tmp_path).settings.dense_channel == ""
    # a trained file of one purpose replaces that purpose's model only
    suggest_file = coders.trained_model_path(tmp_path, suggest=True)
    suggest_file.parent.mkdir(parents=True)
    suggest_file.write_bytes(default_model_file().read_bytes())
    assert coders.suggestion_model_path(tmp_path) == suggest_file
    assert coders.model_path(tmp_path) == default_model_file()
    assert coders.suggestion_coder(tmp_path).settings.dense_channel == ""  # reloaded
    engine_file = coders.trained_model_path(tmp_path)
    engine_file.write_bytes(default_model_file().read_bytes())
    assert coders.model_path(tmp_path) == engine_file
    coders.forget_loaded_coder()


def test_classify_and_suggest_answer_with_the_suggestion_model(sqlite_service: Service):
    from service.occupation_coder import suggestion_coder

    text = "电子厂普工"
    want = suggestion_coder().classify(text)
    r = sqlite_service.client.post(
        "/api/v1/occupations/classify", json={"text": text}, headers=sqlite_service.as_("officer")
    )
    assert r.status_code == 200 and r.json()["code"] == want.code
    r = sqlite_service.client.post(
        "/api/v1/occupations/suggest", json={"text": text}, headers=sqlite_service.as_("employer")
    )
    assert [d["code"] for d in r.json()["data"]] == [
        m.code for m in suggestion_coder().suggest(text, k=3)
    ]
