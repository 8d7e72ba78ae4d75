"""The officer opens the worker page of a member of a household that holds a public-welfare
post: a plain note above the list says no other is proposed (and the list holds none), in
headless Chromium at a desktop and a phone width, with nothing to scroll sideways; a
worker of no such household gets no note."""

from __future__ import annotations

import pytest
from browser_helpers import log_in, no_overflow
from service_fixtures import LiveServer, make_service
from service_market import LONE, MEMBER, public_post_market

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}
NOTE = "同户已有成员在公益性岗位上，不再推荐公益性岗位"


@pytest.fixture
def household_live(sqlite_url, trained_model_dir, frames):
    service = make_service(sqlite_url, trained_model_dir, public_post_market(frames))
    sync = service.app.state.catalogue_sync
    sync.sync(sync.stamp())  # the serving model knows the household and its posts
    with LiveServer(service) as server:
        yield server


@pytest.mark.parametrize("label", list(WIDTHS))
def test_the_note_shows_for_a_household_holding_a_post(browser, household_live, shots, label):
    width = WIDTHS[label]
    context = browser.new_context(
        locale="zh-CN", viewport={"width": width, "height": 900}, is_mobile=width < 500
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        log_in(page, household_live, "officer")
        page.goto(f"{household_live.url}/officer/workers/{MEMBER}")
        page.wait_for_selector("#recommendations")
        note = page.locator("#household-public-post")
        assert note.count() == 1 and note.is_visible()
        assert NOTE in note.inner_text()
        # above the list, and the list holds no public-welfare post
        note_box = note.bounding_box()
        table_box = page.locator("#recommendations").bounding_box()
        assert note_box is not None and table_box is not None
        assert note_box["y"] < table_box["y"]
        assert note_box["x"] + note_box["width"] <= width + 1
        assert "公益性岗位" not in page.locator("#recommendations").inner_text()
        assert no_overflow(page)
        note.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"household-note-{width}.png"), full_page=False)

        page.goto(f"{household_live.url}/officer/workers/{LONE}")
        page.wait_for_selector("#recommendations")
        assert page.locator("#household-public-post").count() == 0
        assert no_overflow(page)
    finally:
        context.close()
