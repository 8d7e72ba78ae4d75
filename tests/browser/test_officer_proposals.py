"""An officer proposes a worker to an employer from the worker's page (the employer then
answers on its own page): the form on each recommendation, the confirmation, the status in
place of the button, the list of proposals with the employer's answer, a 390 px phone."""

from __future__ import annotations

import pytest
from browser_helpers import log_in, no_overflow
from service_fixtures import fresh_workers
from sqlalchemy import select

from service.store.db import session_scope
from service.store.models import Proposal

pytestmark = pytest.mark.browser


def test_officer_proposes_a_recommended_vacancy(page, live, shots):
    engine = live.service.app.state.engine
    wid = fresh_workers(live.service)[0]
    log_in(page, live, "officer")
    page.goto(f"{live.url}/officer/workers/{wid}")
    row = page.locator("#recommendations tr.rec-row").first
    vacancy = row.get_attribute("data-vacancy")
    row.locator("form.propose-form button").click()
    page.wait_for_load_state("networkidle")
    assert "已推荐给企业" in page.locator("main").inner_text()
    row = page.locator(f"#recommendations tr.rec-row[data-vacancy='{vacancy}']")
    assert row.locator("form.propose-form").count() == 0
    assert "待答复" in row.locator(".proposal-status").inner_text()
    assert "待答复" in page.locator(f"#proposal-list tr[data-vacancy='{vacancy}']").inner_text()
    with session_scope(engine) as session:
        stored = session.scalars(
            select(Proposal).where(Proposal.worker_id == wid, Proposal.vacancy_id == vacancy)
        ).all()
    assert len(stored) == 1 and stored[0].status == "proposed"
    # proposing the same pair again (a second tab, a double click): told, nothing stored
    r = page.request.post(
        f"{live.url}/officer/workers/{wid}/proposals", form={"vacancy_id": vacancy}
    )
    assert "已经向该企业推荐过此人" in r.text()
    page.screenshot(path=str(shots / "officer-proposal.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert no_overflow(page)


def test_an_employer_cannot_propose(page, live):
    log_in(page, live, "employer")
    r = page.request.post(f"{live.url}/officer/workers/W000/proposals", form={"vacancy_id": "V000"})
    assert r.status == 403
