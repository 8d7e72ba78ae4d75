"""Training suggestions (matcher.serving.courses) on a toy market with a known answer: three open
vacancies require Mandarin (zh), so for a worker who speaks only Tibetan the 普通话 course
unlocks exactly those three and ranks first; no other course unlocks anything, and a worker
who speaks Mandarin is not offered the course at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_markets import fast_params, toy_market

from matcher.data.dataset import Dataset
from matcher.serving.courses import (
    Course,
    CourseCatalogueError,
    course_effects,
    load_courses,
    with_course,
)
from matcher.serving.recommender import Recommender

ZH_ONLY = ["V_zh1", "V_zh2", "V_zh3"]


def _market() -> Dataset:
    base = toy_market()
    workers = base.workers.copy()
    extra = workers[workers["worker_id"] == "welder"].copy()
    extra["worker_id"] = "bo_only"
    extra["languages"] = [["bo"]]
    workers = pd.concat([workers, extra], ignore_index=True)
    vac = base.vacancies.copy()
    zh = vac[vac["vacancy_id"] == "V_guard"].copy()
    rows = []
    for i, vid in enumerate(ZH_ONLY):
        r = zh.copy()
        r["vacancy_id"] = vid
        r["title"] = ["前台接待", "商场导购", "快递分拣员"][i]
        r["occupation_code"] = ["4-01-02-03", "4-01-02-03", "4-02-07-02"][i]
        r["languages"] = [["zh"]]
        rows.append(r)
    vacancies = pd.concat([vac, *rows], ignore_index=True)
    return Dataset.from_frames(workers, base.employers, vacancies, base.events)


@pytest.fixture(scope="module")
def model() -> Recommender:
    return Recommender(**fast_params()).fit(_market())


def _rows(model: Recommender, ids: list[str]) -> pd.DataFrame:
    w = model.catalogue_.workers
    return w[w["worker_id"].isin(ids)].set_index("worker_id").loc[ids].reset_index()


def test_mandarin_unlocks_exactly_the_vacancies_that_require_it(model):
    out = course_effects(model, _rows(model, ["bo_only"]), k=10)
    by = out.set_index("course_id")
    assert by.loc["putonghua", "vacancies_unlocked"] == 3
    assert sorted(by.loc["putonghua", "unlocked_vacancy_ids"]) == ZH_ONLY
    others = by.drop(index="putonghua")
    assert (others["vacancies_unlocked"] == 0).all()
    assert all(ids == [] for ids in others["unlocked_vacancy_ids"])
    # the unlocked vacancies add their chances to the k = 10 proposals (the worker could
    # take four before, seven after): the course raises expected placements the most
    assert by.loc["putonghua", "extra_expected_placements"] > 0
    best = out.sort_values("extra_expected_placements", ascending=False)["course_id"].iat[0]
    assert best == "putonghua"


def test_a_worker_who_speaks_mandarin_is_not_offered_the_course(model):
    out = course_effects(model, _rows(model, ["welder", "bo_only"]), k=10)
    assert "putonghua" not in set(out[out["worker_id"] == "welder"]["course_id"])
    assert (out[out["worker_id"] == "welder"]["vacancies_unlocked"] == 0).all()
    assert list(pd.unique(out["worker_id"])) == ["welder", "bo_only"]


def test_before_is_what_the_officer_is_shown(model):
    """Without a course the expectation is the sum of the scores of recommend()'s top k
    (the toy market is small enough that recommend ranks every eligible vacancy)."""
    for wid in ("bo_only", "welder", "newcook"):
        out = course_effects(model, _rows(model, [wid]), k=3)
        shown = model.recommend(wid, 3)["score"].sum()
        assert out["expected_before"].to_numpy() == pytest.approx(np.full(len(out), shown))


def test_blocks_do_not_change_the_answer(model):
    rows = _rows(model, ["welder", "newcook", "bo_only"])
    one = course_effects(model, rows, k=5, block=1)
    many = course_effects(model, rows, k=5, block=64)
    pd.testing.assert_frame_equal(one, many)


def test_with_course_adds_the_grants_once():
    w = pd.DataFrame(
        {
            "worker_id": ["a"],
            "skills": ["会开车"],
            "certificates": [["电工证"]],
            "languages": [["bo"]],
        }
    )
    course = next(c for c in load_courses() if c.course_id == "electrician")
    out = with_course(w, course)
    assert out["certificates"].iat[0] == ["电工证"]  # held already: not repeated
    assert out["skills"].iat[0].startswith("会开车；") and "低压电工" in out["skills"].iat[0]
    assert w["skills"].iat[0] == "会开车"  # the input is not changed
    assert course.held_by(out.iloc[0])


def test_the_catalogue_names_its_grants_in_the_project_vocabulary():
    from matcher.data.reference import domain_table

    table = domain_table("occupation_catalogue.csv")
    certificates = {c for cell in table["certificates"] for c in cell.split(";") if c}
    skills = {s for cell in table["skills"] for s in cell.split(";") if s}
    courses = load_courses()
    assert {c.course_id for c in courses} >= {
        "electrician",
        "welder",
        "forklift",
        "childcare",
        "eldercare",
        "cook",
        "putonghua",
    }
    for c in courses:
        assert c.duration_days > 0 and c.providers
        assert set(c.certificates) <= certificates, c.course_id
        assert set(c.skills) & skills, c.course_id


def test_a_bad_catalogue_names_the_line_and_field(tmp_path):
    good = "course_id,name,skills,certificates,languages,occupation_codes,duration_days,providers\n"
    cases = {
        "x,叉车,叉车,叉车证,,6-30-05-01,seven,培训机构\n": "line 3, field duration_days",
        "x,叉车,叉车,叉车证,xx,6-30-05-01,7,培训机构\n": "line 3, field languages",
        "x,叉车,,,,6-30-05-01,7,培训机构\n": "line 3, field skills",
        "x,叉车,叉车,叉车证,,6-99,7,培训机构\n": "line 3, field occupation_codes",
    }
    for n, (row, message) in enumerate(cases.items()):
        path = tmp_path / f"c{n}.csv"
        path.write_text("# a comment\n" + good + row, encoding="utf-8")
        with pytest.raises(CourseCatalogueError, match=message):
            load_courses(path)


def test_an_ablation_or_a_bad_k_is_refused(model):
    rows = _rows(model, ["welder"])
    with pytest.raises(ValueError, match="k must be"):
        course_effects(model, rows, k=0)
    with pytest.raises(ValueError, match="stages"):
        course_effects(model.ablation("content"), rows)
    assert isinstance(load_courses()[0], Course)
