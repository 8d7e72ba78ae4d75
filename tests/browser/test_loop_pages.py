"""The stable-placement loop's pages in a real headless Chromium: retention curves and the
employer-risk page for an officer, proposed candidates answered by an employer; Chinese,
no personal data for the employer, no horizontal overflow on a phone."""

from __future__ import annotations

import re

import pytest
from browser_helpers import log_in, no_overflow
from service_fixtures import EMPLOYER
from service_market import worker_id_number, worker_name, worker_phone
from sqlalchemy import select

from service import lifecycle
from service.store.db import session_scope
from service.store.models import Vacancy, Worker

pytestmark = pytest.mark.browser

ENGLISH_ENUMS = re.compile(
    r"\b(wage_arrears|no_contract|not_suitable|interested|proposed|to_replace)\b"
)


def _setup(live) -> tuple[str, str, list[str]]:
    s = live.service
    c, off = s.client, s.as_("officer")
    engine = s.app.state.engine
    with session_scope(engine) as session:
        lifecycle.rebuild(session)
        workers = session.scalars(
            select(Worker.worker_id)
            .where(Worker.home_region.startswith("5424"), Worker.status == "active")
            .order_by(Worker.worker_id)
        ).all()[:4]
        vacancy, employer = session.execute(
            select(Vacancy.vacancy_id, Vacancy.employer_id).order_by(Vacancy.vacancy_id)
        ).first()
        own = session.scalar(
            select(Vacancy.vacancy_id)
            .where(Vacancy.employer_id == EMPLOYER, Vacancy.status == "open")
            .order_by(Vacancy.vacancy_id)
        )
    findings = (
        {"still_employed": True, "arrears_months": 2, "arrears_amount": 6000},
        {"still_employed": True, "contract_signed": False},
        {"still_employed": False, "left_reason": "拖欠工资", "paid_on_time": False},
    )
    for wid, found in zip(workers, findings, strict=False):
        r = c.post(
            "/api/v1/outcomes",
            json={
                "worker_id": wid,
                "vacancy_id": vacancy,
                "event": "hired",
                "occurred_at": "2026-05-01T00:00:00Z",
            },
            headers=off,
        )
        assert r.status_code == 201, r.text
        fu = c.get(f"/api/v1/follow-ups?worker_id={wid}", headers=off).json()["data"][0]
        r = c.post(
            f"/api/v1/follow-ups/{fu['id']}/complete",
            json={**found, "visited_at": "2026-05-09T10:00:00"},
            headers=off,
        )
        assert r.status_code == 200, r.text
    r = c.post("/api/v1/proposals", json={"worker_id": workers[3], "vacancy_id": own}, headers=off)
    assert r.status_code == 201, r.text
    return employer, own, workers


def test_officer_sees_retention_and_employer_risk(page, live, shots):
    employer, _, _ = _setup(live)
    log_in(page, live, "officer")
    page.goto(f"{live.url}/officer/retention")
    assert page.locator("#retention-province polyline").count() >= 1
    assert page.locator("#retention-employer polyline").count() >= 1
    # each curve is drawn: its points are "x,y" pairs inside the chart, not the series' data
    for points in page.locator("svg polyline").evaluate_all(
        "ls => ls.map(l => l.getAttribute('points'))"
    ):
        pairs = [tuple(float(v) for v in xy.split(",")) for xy in points.split()]
        assert pairs and all(0 <= x <= 640 and 0 <= y <= 260 for x, y in pairs), points
    text = page.locator("main").inner_text()
    assert "稳岗情况" in text and "按去向省份" in text and "在岗" in text
    assert not ENGLISH_ENUMS.search(text)
    page.screenshot(path=str(shots / "loop-retention.png"), full_page=True)

    page.goto(f"{live.url}/officer/employer-risk")
    assert page.locator("#flagged").inner_text().count("\n") >= 1
    page.click(f"#flagged a[href='/officer/employer-risk/{employer}']")
    page.wait_for_load_state("networkidle")
    assert "已达提请劳动监察标准" in page.locator("#inspectorate").inner_text()
    text = page.locator("main").inner_text()
    assert "欠薪" in text and "未签劳动合同" in text and not ENGLISH_ENUMS.search(text)
    page.screenshot(path=str(shots / "loop-employer-risk.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/officer/retention", f"/officer/employer-risk/{employer}"):
        page.goto(f"{live.url}{path}")
        assert no_overflow(page), path


def test_employer_answers_proposed_candidates(page, live, shots):
    _, own, workers = _setup(live)
    log_in(page, live, "employer")
    page.goto(f"{live.url}/employer/vacancies/{own}/proposals")
    card = page.locator("section.card").first
    assert "待答复" in card.inner_text()
    text = page.locator("main").inner_text()
    for i in range(60):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in text
    assert workers[3] not in text
    # not suitable without a reason: told so, nothing recorded
    card.locator("input[value=not_suitable]").check()
    card.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "请选择不合适的原因" in page.locator("#flash").inner_text()
    card = page.locator("section.card").first
    card.locator("input[value=interested]").check()
    card.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "已记录您的答复" in page.locator("#flash").inner_text()
    assert "有意向" in page.locator("section.card").first.inner_text()
    assert not ENGLISH_ENUMS.search(page.locator("main").inner_text())
    page.screenshot(path=str(shots / "loop-proposals.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert no_overflow(page)
    # an officer may not open the employer's page
    r = live.service.client.get(
        f"/api/v1/vacancies/{own}/proposals", headers=live.service.as_("officer")
    )
    assert r.status_code == 403


def test_employer_reads_the_notice_of_an_idle_vacancy(page, live):
    from datetime import datetime

    from sqlalchemy import update

    _, own, _ = _setup(live)
    with session_scope(live.service.app.state.engine) as session:
        old = datetime(2026, 1, 1)
        session.execute(
            update(Vacancy)
            .where(Vacancy.vacancy_id == own)
            .values(updated_at=old, posted_at=old, closes_at=None)
        )
    log_in(page, live, "employer")
    page.click("header nav a[href='/employer/notices']")
    page.wait_for_load_state("networkidle")
    text = page.locator("main").inner_text()
    assert "已自动关闭" in text and own in text
