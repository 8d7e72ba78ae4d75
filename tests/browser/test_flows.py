"""End-to-end flows in a real headless Chromium against the served app."""

from __future__ import annotations

import re
from datetime import date

import pytest
from service_market import worker_id_number, worker_name, worker_phone
from sqlalchemy import select

from service.store.db import session_scope
from service.store.models import Event, Vacancy

pytestmark = pytest.mark.browser


def log_in(page, live, role: str) -> None:
    page.goto(f"{live.url}/")
    assert "/login" in page.url
    page.fill("#key", live.service.keys[role])
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def test_officer_finds_a_worker_and_records_a_hire(page, live, shots):
    log_in(page, live, "officer")
    assert page.url.endswith("/officer")
    assert page.locator("#county-counts").inner_text().count("西藏自治区") >= 2
    page.screenshot(path=str(shots / "officer-dashboard.png"), full_page=True)

    page.fill("#q", "焊工")
    page.click("#search-submit")
    page.wait_for_selector("#worker-results")
    links = page.locator("a.worker-link")
    assert links.count() > 0
    worker_id = links.first.get_attribute("data-worker")
    page.screenshot(path=str(shots / "officer-search.png"), full_page=True)

    links.first.click()
    page.wait_for_selector("#recommendations")
    rows = page.locator("tr.rec-row")
    assert rows.count() > 0
    assert page.locator("#recommendations ul.reasons li").count() > 0
    assert "20260101T000000Z" in page.inner_text("body")
    vacancy_id = rows.first.get_attribute("data-vacancy")
    page.screenshot(path=str(shots / "officer-worker.png"), full_page=True)

    page.select_option("#vacancy_id", vacancy_id)
    page.select_option("#event", "hired")
    page.fill("#occurred_at", date.today().isoformat())
    page.click("#outcome-submit")
    page.wait_for_selector("#flash")
    assert "已记录" in page.inner_text("#flash")
    assert "已录用" in page.inner_text("#outcomes")
    page.screenshot(path=str(shots / "officer-hired.png"), full_page=True)
    with session_scope(live.service.app.state.engine) as session:
        hires = session.scalars(
            select(Event).where(
                Event.worker_id == worker_id,
                Event.vacancy_id == vacancy_id,
                Event.event == "hired",
                Event.source.like("key:%"),
            )
        ).all()
    assert len(hires) == 1

    # and in English
    page.click("#lang-en")
    page.wait_for_load_state("networkidle")
    assert "Recommended vacancies" in page.inner_text("body")


def test_employer_posts_a_vacancy_and_sees_candidates(page, live, shots, frames):
    log_in(page, live, "employer")
    assert page.url.endswith("/employer")
    page.screenshot(path=str(shots / "employer.png"), full_page=True)

    page.fill("#title", "急招电焊工 包吃住 月入8000")
    page.fill("#region", "广东省宝安区")
    page.fill("#headcount", "5")
    page.fill("#wage_min", "9000")
    page.fill("#wage_max", "8000")
    page.check("#housing")
    page.select_option("#channel", "cross_province_transfer")
    page.click("#vacancy-submit")
    page.wait_for_selector("#err-wage_min")
    assert "最低月薪" in page.inner_text("#err-wage_min")
    assert page.input_value("#title") == "急招电焊工 包吃住 月入8000"  # the form keeps its values
    page.screenshot(path=str(shots / "employer-error.png"), full_page=True)

    page.fill("#wage_min", "7000")
    with page.expect_navigation(timeout=180_000):  # the first post builds the normaliser
        page.click("#vacancy-submit")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "employer-posted.png"), full_page=True)
    page.wait_for_selector("#candidates, #no-model, #error-message")
    assert page.locator("#candidates").count() == 1, page.inner_text("main")
    assert "岗位已发布" in page.inner_text("#flash")
    vacancy_id = page.url.split("/")[-1].split("?")[0]
    assert page.locator("#occupation-inferred").count() == 1
    occupation = page.inner_text("#occupation")
    assert re.match(r"\d-\d\d-\d\d-\d\d", occupation.strip())
    rows = page.locator("tr.cand-row")
    assert rows.count() > 0
    page.screenshot(path=str(shots / "employer-candidates.png"), full_page=True)
    html = page.content()
    for i in range(len(frames["workers"])):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in html
    assert "C-" in page.inner_text("#candidates")
    with session_scope(live.service.app.state.engine) as session:
        v = session.get(Vacancy, vacancy_id)
        assert v is not None and v.employer_id == "E001" and v.occupation_source == "inferred"
