"""Every code a page can show has words, and validation errors read as Chinese sentences
that name the field."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field, ValidationError

from matcher.data.schema import (
    Channel,
    Education,
    EventType,
    Gender,
    HouseholdStatus,
    LaborCapacity,
    Mobility,
    VacancyStatus,
)
from service.followups import FollowUpStatus
from service.lifecycle import EndReason, WorkerStatus
from service.web import display, labels

ENUMS = {
    "gender": Gender,
    "education": Education,
    "labor_capacity": LaborCapacity,
    "mobility": Mobility,
    "household_status": HouseholdStatus,
    "channel": Channel,
    "vacancy_status": VacancyStatus,
    "event": EventType,
    "worker_status": WorkerStatus,
    "end_reason": EndReason,
    "follow_up_status": FollowUpStatus,
}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("kind", sorted(ENUMS))
def test_every_code_has_chinese_and_english_words(kind):
    for member in ENUMS[kind]:
        zh = labels.label(member.value, kind, "zh")
        en = labels.label(member.value, kind, "en")
        assert CJK.search(zh), f"{kind}.{member.value} has no Chinese label"
        assert en and not CJK.search(en)
    assert labels.labels(["zh", "bo", "ii"], "language") == "普通话、藏语、彝语"


class _Form(BaseModel):
    title: str = Field(..., max_length=5)
    headcount: int = Field(..., ge=1)
    wage_min: float | None = None


def test_validation_errors_are_chinese_sentences_naming_the_field():
    with pytest.raises(ValidationError) as info:
        _Form.model_validate({"title": "一二三四五六", "headcount": 0, "wage_min": "abc"})
    errors = labels.field_errors([dict(e) for e in info.value.errors()])
    assert errors == {
        "title": "岗位名称最多 5 个字，请缩短。",
        "headcount": "招聘人数不能小于 1。",
        "wage_min": "最低月薪应填数字。",
    }
    with pytest.raises(ValidationError) as info:
        _Form.model_validate({})
    assert (
        labels.field_errors([dict(e) for e in info.value.errors()])["title"] == "请填写岗位名称。"
    )
    # the contract's English rules, too
    contract = {"loc": ["body", "wage_min"], "msg": "wage_min is greater than wage_max"}
    assert labels.error_message(contract) == "最低月薪不能高于最高月薪。"
    assert not re.search(
        r"[A-Za-z]{3,}", labels.error_message({"loc": ["body", "x"], "msg": "odd"})
    )


def test_numbers_for_people():
    assert display.percent(0.715789) == "72%"
    assert display.match_text({"rank": 3, "score": 0.0004}, top=0.0005) == "第 3 位 · 推荐度高"
    assert display.match_text({"rank": 9, "score": 0.0001}, top=0.0005) == "第 9 位 · 推荐度一般"
    said = {"rank": 1, "score": 0.28, "stable_chance": "约 28% 的机会稳定就业 6 个月"}
    assert display.match_text(said) == "第 1 位 · 约 28% 的机会稳定就业 6 个月"
    assert display.wage_range(None, None) == "面议"
    assert display.wage_range(4000.0, None) == "4,000 元起"
    assert display.wage_range(4000.0, 5600.0) == "4,000–5,600 元"
    assert display.gini(0.0) == "0（完全均匀）"
    assert (
        display.vacancy_state(
            {"status": "closed", "closed_reason": "deadline", "closes_at": "2026-01-02"}
        )["text"]
        == "已截止"
    )
