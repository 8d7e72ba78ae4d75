"""The officer's and the employer's journeys on the sample market (generated, as `make run`
does, to end this week), in headless Chromium at a desktop width and a phone width.

On every page: no English code word or English message in the visible text, no bare
"0.00", nothing wider than the window. Employers' pages: no worker's personal data,
expectation or preference. After the first write (a hire, a posting) the matches are
still there.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from matcher.data.schema import (
    Channel,
    Education,
    EventType,
    HouseholdStatus,
    LaborCapacity,
    Mobility,
)
from service.lifecycle import WorkerStatus
from service.store.db import session_scope
from service.store.models import Vacancy, Worker

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}

#: code words of the contract that must never reach a reader
CODE_WORDS = sorted(
    {
        e.value
        for enum in (Education, LaborCapacity, Mobility, HouseholdStatus, Channel, EventType)
        for e in enum
    }
    | {s.value for s in WorkerStatus}
    | {"open", "filled", "closed", "bo", "zh", "ii", "za", "employer", "officer", "admin"}
)
ENGLISH_MESSAGES = (
    "Field required",
    "String should",
    "Input should",
    "value is not",
    "Not Found",
    "Internal Server Error",
    "Unprocessable",
    "Traceback",
    "no worker with id",
    "no vacancy with id",
)
_CODE_RE = re.compile(r"(?<![A-Za-z_])(" + "|".join(map(re.escape, CODE_WORDS)) + r")(?![A-Za-z_])")


def check_page(page, width: int, what: str) -> str:
    """The page's visible text, after checking it speaks to a person and fits the window."""
    text = page.inner_text("body")
    words = _CODE_RE.findall(text)
    assert not words, f"{what}: code words in the visible text: {sorted(set(words))}"
    for message in ENGLISH_MESSAGES:
        assert message not in text, f"{what}: English message {message!r}"
    assert not re.search(r"(?<![\d.])0\.00(?!\d)", text), f"{what}: a bare 0.00"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"{what}: {scroll}px wide in a {width}px window"
    return text


def log_in(page, live, role: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#key", live.service.keys[role])
    page.click("#login-submit")
    page.wait_for_load_state("domcontentloaded")


@pytest.fixture
def sized(browser, request):
    width = WIDTHS[request.param]
    context = browser.new_context(
        locale="zh-CN", viewport={"width": width, "height": 900}, is_mobile=width < 500
    )
    p = context.new_page()
    p.set_default_timeout(60_000)
    try:
        yield p, width, request.param
    finally:
        context.close()


def _seekers(sample, n: int = 4) -> list[tuple[str, str]]:
    """(worker_id, name) of job-seekers in the officer's region with a name nobody else has
    and with recommendations to act on."""
    s = sample.service
    with session_scope(s.app.state.engine) as session:
        rows = session.execute(
            select(Worker.worker_id, Worker.name)
            .where(
                Worker.home_region.startswith(sample.officer_region),
                Worker.status == WorkerStatus.ACTIVE.value,
            )
            .order_by(Worker.worker_id)
        ).all()
    names = [r[1] for r in rows]
    out = []
    for wid, name in rows:
        if names.count(name) != 1:
            continue
        r = s.client.get(f"/api/v1/workers/{wid}/recommendations", headers=s.as_("officer"))
        if r.status_code == 200 and r.json()["count"] >= 2:
            out.append((wid, name))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("sized", list(WIDTHS), indirect=True)
def test_officer_journey(sized, sample, sample_live, sample_plan, shoot):
    page, width, label = sized
    who = _seekers(sample)
    assert len(who) >= 3, "the sample has job-seekers with recommendations in the region"
    worker_id, name = who[0 if label == "desktop" else 1]

    log_in(page, sample_live, "officer")
    assert page.url.endswith("/officer")
    check_page(page, width, "officer home")
    shoot(page, f"officer-home-{width}")

    page.fill("#q", name)
    page.click("#search-submit")
    page.wait_for_selector("#worker-results")
    check_page(page, width, "search")
    link = page.locator(f'a.worker-link[data-worker="{worker_id}"]')
    assert link.count() == 1
    shoot(page, f"officer-search-{width}")

    link.click()
    page.wait_for_selector("#recommendations")
    assert page.locator("tr.rec-row").count() > 0
    text = check_page(page, width, "worker page")
    assert "第 1 位" in text and "求职中" in page.inner_text("#worker-status")
    vacancy_id = page.locator("tr.rec-row").first.get_attribute("data-vacancy")
    shoot(page, f"officer-worker-{width}")

    # the outcome form starts empty: submitting it says what is missing, at the top
    page.click("#outcome-submit")
    page.wait_for_selector("#form-errors")
    # the focus moves to the list of errors (the keyboard and a phone's screen go there)
    page.wait_for_function("document.activeElement && document.activeElement.id == 'form-errors'")
    check_page(page, width, "outcome errors")

    page.select_option("#vacancy_id", vacancy_id)
    page.select_option("#event", "hired")
    page.fill("#occurred_at", date.today().isoformat())
    page.fill("#note", "电话确认已到岗")
    page.click("#outcome-submit")
    page.wait_for_selector("#flash")
    assert "已记录" in page.inner_text("#flash") and "已录用" in page.inner_text("#flash")
    assert "在岗" in page.inner_text("#worker-status")  # the status follows the hire
    assert "录用后第 7 天" in page.inner_text("#follow-up-list")  # a follow-up appears
    check_page(page, width, "after the hire")
    shoot(page, f"officer-hired-{width}")

    # after that first write, another job-seeker still gets recommendations
    other = who[2 if label == "desktop" else 3][0]
    page.goto(f"{sample_live.url}/officer/workers/{other}")
    assert page.locator("tr.rec-row").count() > 0
    check_page(page, width, "another worker after the write")

    # and the officer's home shows the follow-ups of the region
    page.goto(f"{sample_live.url}/officer")
    check_page(page, width, "officer home after the hire")
    assert page.locator("#follow-ups").count() == 1
    # the region's retention and the employers to watch: readable on this window too
    for path, what in (("/officer/retention", "retention"), ("/officer/employer-risk", "risk")):
        page.goto(f"{sample_live.url}{path}")
        check_page(page, width, what)

    # the nightly plan: the officer's rows with names, figures explained, decisions
    page.goto(f"{sample_live.url}/nightly/{sample_plan}")
    assert page.locator("tr.plan-row").count() > 0
    check_page(page, width, "plan page")
    shoot(page, f"officer-plan-{width}")
    if label == "desktop":  # the pages also speak English, remembered in a cookie
        page.click("#lang-en")
        page.wait_for_selector("#lang-zh")
        page.goto(f"{sample_live.url}/officer/workers/{worker_id}")
        assert "Recommended vacancies" in page.inner_text("body")
        assert "in work" in page.inner_text("#worker-status")
        page.click("#lang-zh")


@pytest.fixture(scope="module")
def sample_plan(sample, sample_model_dir) -> str:
    """A nightly plan of the sample market (its run id)."""
    from service import nightly

    summary = nightly.run_match(sample.service.url, sample_model_dir, run_id="journey", k=10)
    assert summary.status == "succeeded"
    return "journey"


def _employer_secrets(sample) -> list[str]:
    from matcher.data import reference

    places = "|".join(reference.region_name(c) for c in reference.regions())
    w = sample.frames["workers"]
    out = [str(x) for x in w["name"].dropna() if str(x) not in places]
    return out + [str(x) for x in w["phone"]] + [str(x) for x in w["id_number"]]


@pytest.mark.parametrize("sized", list(WIDTHS), indirect=True)
def test_employer_journey(sized, sample, sample_live, shoot):
    page, width, label = sized
    secrets = _employer_secrets(sample)

    def private(what: str) -> None:
        html = page.content()
        for s in secrets:
            assert s not in html, f"{what}: personal data"
        text = page.inner_text("body")
        for word in ("期望", "希望", "意向"):
            assert word not in text, f"{what}: a worker's expectation or preference"

    log_in(page, sample_live, "employer")
    assert page.url.endswith("/employer")
    check_page(page, width, "employer home")
    shoot(page, f"employer-home-{width}")

    title = "急招电焊工 包吃住" if label == "desktop" else "招聘二保焊工 五险一金"
    page.fill("#title", title)
    # the form suggests the three most probable occupation codes of the title typed
    page.wait_for_selector("#occupation-suggestions button.suggestion", timeout=60_000)
    suggestions = page.locator("#occupation-suggestions button.suggestion")
    assert suggestions.count() == 3 and "6-18-02-04 焊工" in suggestions.first.inner_text()
    suggestions.first.click()
    assert page.input_value("#occupation_code") == "6-18-02-04"
    page.fill("#occupation_code", "")
    page.fill("#region", "广东省宝安区")
    page.fill("#headcount", "0")
    page.fill("#wage_min", "9000")
    page.fill("#wage_max", "8000")
    page.click("#vacancy-submit")
    page.wait_for_selector("#form-errors")
    errors = page.inner_text("#form-errors")
    assert "招聘人数至少为 1" in errors and "最低月薪不能高于最高月薪" in errors  # all at once
    assert page.input_value("#title") == title
    check_page(page, width, "vacancy form errors")
    shoot(page, f"employer-errors-{width}")

    page.fill("#headcount", "3")
    page.fill("#wage_min", "6000")
    page.check("#lang-zh")
    page.check("#housing")
    page.select_option("#channel", "cross_province_transfer")
    with page.expect_navigation(timeout=120_000):  # the first post may build the normaliser
        page.click("#vacancy-submit")
    page.wait_for_selector("#vacancy-status")
    assert "岗位已发布" in page.inner_text("#flash")
    assert "招聘中" in page.inner_text("#vacancy-status")
    assert "还剩" in page.inner_text("#deadline")
    assert page.locator("#occupation-inferred").count() == 1
    assert page.locator("tr.cand-row").count() > 0, page.inner_text("main")
    check_page(page, width, "posted vacancy")
    private("posted vacancy")
    vacancy_url = page.url.split("?")[0]
    shoot(page, f"employer-candidates-{width}")

    # after that first write, the sample's open vacancies still have candidates
    with session_scope(sample.service.app.state.engine) as session:
        sample_open = session.scalars(
            select(Vacancy.vacancy_id)
            .where(Vacancy.employer_id == sample.employer_id, Vacancy.status == "open")
            .where(Vacancy.vacancy_id.in_(list(sample.frames["vacancies"]["vacancy_id"])))
            .order_by(Vacancy.vacancy_id)
        ).all()
    assert sample_open
    page.goto(f"{sample_live.url}/employer/vacancies/{sample_open[0]}")
    assert page.locator("tr.cand-row").count() > 0
    check_page(page, width, "a sample vacancy after the write")
    private("a sample vacancy after the write")

    page.goto(f"{vacancy_url}/proposals")  # the candidates proposed to the employer
    check_page(page, width, "proposals")
    private("proposals")

    page.goto(vacancy_url)
    page.on("dialog", lambda d: d.accept())
    page.click("#close-vacancy")
    page.wait_for_selector("#flash")
    assert "已关闭" in page.inner_text("#vacancy-status")
    assert "企业已关闭" in page.inner_text("#status-reason")
    check_page(page, width, "closed vacancy")
    page.goto(f"{sample_live.url}/employer")
    text = check_page(page, width, "employer home after closing")
    assert title in text
