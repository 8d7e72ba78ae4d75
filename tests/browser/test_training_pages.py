"""Training-suggestion pages in a real headless Chromium: a worker's courses ranked by their
effect, a county's ranking for the bureau, bad input told in Chinese, an employer turned
away, and no horizontal overflow on a 390 px phone."""

from __future__ import annotations

import re

import pytest
from browser_helpers import log_in, no_overflow
from sqlalchemy import select

from service import lifecycle
from service.store.db import session_scope
from service.store.models import Worker

pytestmark = pytest.mark.browser

ENGLISH = re.compile(r"\b(extra_expected|vacancies_unlocked|course_id|electrician|putonghua)\b")


def _worker(live) -> str:
    with session_scope(live.service.app.state.engine) as session:
        lifecycle.rebuild(session)
        wid = session.scalars(
            select(Worker.worker_id)
            .where(Worker.home_region == "542427", Worker.status == "active")
            .order_by(Worker.worker_id)
        ).first()
    assert wid is not None
    return wid


def test_officer_reads_training_suggestions(page, live, shots):
    wid = _worker(live)
    log_in(page, live, "officer")
    page.goto(f"{live.url}/officer/workers/{wid}")
    page.click(f"a[href='/officer/workers/{wid}/training']")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#suggestions tr[data-course]")
    assert rows.count() >= 5
    text = page.locator("main").inner_text()
    assert "培训建议" in text and "预计多稳定就业" in text and "电工证" in text
    assert "已具备" in page.locator("#held").inner_text()  # every test worker speaks Mandarin
    assert not ENGLISH.search(text)
    # the page's order is the API's
    api = live.service.client.get(
        f"/api/v1/workers/{wid}/training-suggestions", headers=live.service.as_("officer")
    ).json()
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.course)")
    assert shown == [x["course_id"] for x in api["data"]]
    page.screenshot(path=str(shots / "training-worker.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert no_overflow(page)
    page.screenshot(path=str(shots / "training-worker-phone.png"), full_page=True)


def test_bureau_ranks_courses_for_a_county(page, live, shots):
    log_in(page, live, "officer")
    page.goto(f"{live.url}/officer/training")
    assert page.locator("#county-courses tr[data-course]").count() >= 5
    summary = page.locator("#county-summary").inner_text()
    assert "求职劳动力" in summary and "用时" in summary
    page.select_option("#county", "542421")
    page.fill("#sample", "10")
    page.click("#county-submit")
    page.wait_for_load_state("networkidle")
    assert "542421" in page.url and "随机抽取 10 人" in page.locator("#county-summary").inner_text()
    assert not ENGLISH.search(page.locator("main").inner_text())
    page.screenshot(path=str(shots / "training-county.png"), full_page=True)
    # bad input: said in Chinese at the top of the form, the field marked
    page.fill("#sample", "5")
    page.click("#county-submit")
    page.wait_for_load_state("networkidle")
    assert "抽样人数应在 10 到 1000 之间" in page.locator("#form-errors").inner_text()
    assert page.locator(".field-error #sample").count() == 1
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live.url}/officer/training")
    assert no_overflow(page)
    page.screenshot(path=str(shots / "training-county-phone.png"), full_page=True)


def test_employer_is_turned_away(page, live):
    log_in(page, live, "employer")
    for path in ("/officer/training", "/officer/workers/W000/training"):
        response = page.goto(f"{live.url}{path}")
        assert response is not None and response.status == 403, path
        assert "无权访问" in page.locator("main").inner_text()
