"""Server-rendered pages through the same rules as the API (login, scope, privacy, audit),
and the ``jobmatch keys`` / ``serve`` commands."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service_fixtures import EMPLOYER, Service, make_service
from service_market import worker_id_number, worker_name, worker_phone
from sqlalchemy import select
from typer.testing import CliRunner

from service.auth import KEY_COOKIE
from service.store.db import session_scope
from service.store.models import AuditEntry, Event, Vacancy


def login(s: Service, role: str) -> None:
    r = s.client.post("/login", data={"key": s.keys[role], "next": "/"}, follow_redirects=False)
    assert r.status_code == 303
    assert KEY_COOKIE in r.cookies or KEY_COOKIE in s.client.cookies


def test_landing_and_login(sqlite_service: Service):
    c = sqlite_service.client
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = c.get("/login")
    assert r.status_code == 200 and "API 密钥" in r.text
    r = c.post("/login", data={"key": "jm_00000000_wrongwrongwrongwrongwrong"})
    assert r.status_code == 401 and "密钥无效" in r.text
    r = c.get("/officer", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    login(sqlite_service, "officer")
    r = c.get("/", follow_redirects=False)
    assert r.headers["location"] == "/officer"
    # an open redirect is not possible through ?next=
    r = c.post(
        "/login",
        data={"key": sqlite_service.keys["officer"], "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/officer"
    r = c.get("/logout", follow_redirects=False)
    assert r.status_code == 303


def test_officer_pages(sqlite_service: Service, frames):
    s = sqlite_service
    c = s.client
    login(s, "officer")
    r = c.get("/officer")
    assert r.status_code == 200
    assert "按县统计劳动力" in r.text and "西藏自治区索县" in r.text
    assert "/nightly" in r.text  # the nightly plan is linked in the navigation
    r = c.get("/officer?q=焊工")
    assert r.status_code == 200 and 'class="worker-link"' in r.text
    ids = re.findall(r'class="worker-link" data-worker="(W\d+)"', r.text)
    assert ids and all(
        frames["workers"].set_index("worker_id").loc[i, "home_region"].startswith("5424")
        for i in ids
    )
    # found by name, phone or id number (officers only, in their region; audited)
    for needle in (worker_name(0), worker_phone(0), worker_id_number(0)):
        r = c.get("/officer", params={"q": needle})
        assert 'data-worker="W000"' in r.text, needle
    assert 'data-worker="W002"' not in c.get("/officer", params={"q": worker_name(2)}).text
    r = c.get("/officer/workers/W000")
    assert r.status_code == 200
    assert worker_name(0) in r.text and 'id="recommendations"' in r.text
    assert "20260101T000000Z" in r.text
    assert "第 1 位" in r.text and "0.00" not in r.text
    # the outcome form starts empty: no outcome and no vacancy chosen for the officer
    form = re.search(r'<form[^>]*id="outcome-form".*?</form>', r.text, re.S).group(0)
    assert "selected" not in form
    vacancy = re.search(r'data-vacancy="(V\d+)"', r.text).group(1)
    # everything missing is said at once, at the top of the form
    r = c.post("/officer/workers/W000/outcomes", data={})
    assert r.status_code == 422 and 'id="form-errors"' in r.text
    assert all(f'id="err-{f}"' in r.text for f in ("vacancy_id", "event", "occurred_at"))
    today = date.today().isoformat()
    r = c.post(
        "/officer/workers/W000/outcomes",
        data={"vacancy_id": vacancy, "event": "hired", "occurred_at": today, "note": "电话确认"},
    )
    assert r.status_code == 200 and f"已记录：{today} 已录用" in r.text
    assert 'id="placement"' in r.text and "电话确认" in r.text
    # the hire schedules follow-ups, shown on the worker page with a form to record a visit
    assert 'id="follow-up-list"' in r.text and "录用后第 7 天" in r.text
    fu = re.search(r'action="/officer/follow-ups/(\d+)/complete"', r.text).group(1)
    r = c.post(f"/officer/follow-ups/{fu}/complete", data={"worker_id": "W000"})
    assert "请选择回访时此人是否仍在岗" in r.text
    r = c.post(
        f"/officer/follow-ups/{fu}/complete",
        data={"worker_id": "W000", "still_employed": "no", "left_reason": "回家照顾老人"},
    )
    assert r.status_code == 200 and "回访已记录" in r.text
    assert 'id="worker-status">待重新安置' in r.text
    home = c.get("/officer").text
    assert 'href="/officer/workers/W000"' in home  # on the re-placement list
    with session_scope(s.app.state.engine) as session:
        hired = session.scalars(
            select(Event).where(
                Event.worker_id == "W000", Event.event == "hired", Event.vacancy_id == vacancy
            )
        ).all()
        assert any(e.source and e.source.startswith("key:") for e in hired)
        purposes = {
            a.purpose
            for a in session.scalars(select(AuditEntry).where(AuditEntry.worker_id == "W000"))
        }
        assert "officer worker page" in purposes
    # outside the officer's region
    r = c.get("/officer/workers/W002")
    assert r.status_code == 403 and worker_name(2) not in r.text and "不在您负责的地区" in r.text
    # a bad outcome is shown in Chinese, not a crash
    r = c.post(
        "/officer/workers/W000/outcomes",
        data={"vacancy_id": "NOPE", "event": "hired", "occurred_at": today},
    )
    assert r.status_code == 422 and "没有这个岗位" in r.text
    # CSV export of a search, audited
    r = c.get("/officer/export.csv", params={"q": "焊工"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.lstrip("\ufeff").startswith("劳动力编号,姓名")
    with session_scope(s.app.state.engine) as session:
        assert session.scalars(
            select(AuditEntry).where(AuditEntry.purpose == "CSV export of a search")
        ).first()
    # English
    r = c.get("/officer?lang=en")
    assert "Workers by county" in r.text
    assert "Workers by county" in c.get("/officer").text  # remembered in a cookie
    # officers do not see the employer page
    assert c.get("/employer", follow_redirects=False).status_code == 303


def test_employer_pages_validation_and_privacy(sqlite_service: Service, frames):
    s = sqlite_service
    c = s.client
    login(s, "employer")
    r = c.get("/employer")
    assert r.status_code == 200 and "发布岗位" in r.text
    form = {
        "title": "急招电焊工",
        "region_name": "广东省南山区",
        "headcount": "3",
        "wage_min": "9000",
        "wage_max": "7000",
        "housing": "on",
        "languages": ["zh", "bo"],
    }
    r = c.post("/employer/vacancies", data=form)
    assert r.status_code == 422
    assert 'id="err-wage_min"' in r.text and 'value="急招电焊工"' in r.text  # kept, marked
    assert "最低月薪不能高于最高月薪" in r.text
    # every problem at once: a place that is no county and headcount 0
    r = c.post("/employer/vacancies", data={**form, "region_name": "火星", "headcount": "0"})
    assert r.status_code == 422 and 'id="err-region"' in r.text and 'id="err-headcount"' in r.text
    assert "招聘人数至少为 1" in r.text
    r = c.post("/employer/vacancies", data={**form, "wage_min": "6000"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    vid = r.headers["location"].split("/")[-1].split("?")[0]
    assert vid.startswith(f"{EMPLOYER}-")  # the id is the system's
    r = c.get(r.headers["location"])
    assert "岗位已发布" in r.text and "由系统根据名称推断" in r.text
    assert 'id="candidates"' in r.text
    for i in range(len(frames["workers"])):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in r.text
    assert not re.search(r"/officer/workers/W\d+", r.text)
    with session_scope(s.app.state.engine) as session:
        v = session.get(Vacancy, vid)
        assert v.employer_id == EMPLOYER and v.housing is True and v.wage_min == 6000
        assert v.region == "440305" and v.languages == ["zh", "bo"]
    # another employer's vacancy
    with session_scope(s.app.state.engine) as session:
        theirs = session.scalars(
            select(Vacancy.vacancy_id).where(Vacancy.employer_id != EMPLOYER)
        ).first()
    assert c.get(f"/employer/vacancies/{theirs}").status_code == 403
    r = c.post(f"/employer/vacancies/{vid}/close", follow_redirects=True)
    assert r.status_code == 200 and "已关闭" in r.text and "企业已关闭该岗位" in r.text
    r = c.get("/officer")
    assert r.status_code == 403 and "仅供就业专员" in r.text


def test_the_vacancy_form_keeps_no_one_or_many_languages(sqlite_service: Service):
    """A form with no language ticked posts "" (stored as none), one posts a string."""
    s = sqlite_service
    login(s, "employer")
    form = {"title": "普工", "region_name": "广东省南山区", "headcount": "1"}
    for ticked, stored in (({}, []), ({"languages": "zh"}, ["zh"]), ({"languages": ""}, [])):
        r = s.client.post("/employer/vacancies", data={**form, **ticked}, follow_redirects=False)
        assert r.status_code == 303, r.text
        vid = r.headers["location"].split("/")[-1].split("?")[0]
        with session_scope(s.app.state.engine) as session:
            assert session.get(Vacancy, vid).languages == stored


def test_personal_data_never_logged(sqlite_service: Service, caplog):
    s = sqlite_service
    caplog.set_level(logging.DEBUG)
    c = s.client
    c.get("/api/v1/workers/W000", headers=s.as_("officer"))
    c.get("/api/v1/workers?limit=500", headers=s.as_("admin"))
    c.post(
        "/api/v1/workers",
        json={"worker_id": "W999", "home_region": "542427", "name": "日志姓名", "phone": 1},
        headers=s.as_("admin"),
    )
    c.get("/api/v1/workers/W000/recommendations", headers=s.as_("officer"))
    text = caplog.text
    for i in range(60):
        assert worker_name(i) not in text and worker_phone(i) not in text
    assert "日志姓名" not in text


def test_keys_commands(tmp_path, monkeypatch):
    from service.cli import app
    from service.settings import get_settings

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("JOBMATCH_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(
            app, ["keys", "create", "--role", "officer", "--region", "5424", "--name", "索县专员"]
        )
        assert r.exit_code == 0, r.output
        key = r.output.strip().splitlines()[-1]
        assert re.fullmatch(r"jm_[0-9a-f]{8}_[A-Za-z0-9_\-]{40,}", key)
        r = runner.invoke(app, ["keys", "create", "--role", "officer"])
        assert r.exit_code == 2 and "--region" in r.output
        r = runner.invoke(app, ["keys", "create", "--role", "boss"])
        assert r.exit_code == 2 and "unknown role" in r.output
        r = runner.invoke(app, ["keys", "create", "--role", "employer", "--employer", "E0001"])
        assert r.exit_code == 0
        r = runner.invoke(app, ["keys", "list"])
        assert r.exit_code == 0 and "officer\t5424\t索县专员" in r.output and key not in r.output
        r = runner.invoke(app, ["keys", "revoke", "1"])
        assert r.exit_code == 0
        r = runner.invoke(app, ["keys", "revoke", "99"])
        assert r.exit_code == 2
        from service.auth import authenticate
        from service.store.db import make_engine

        with session_scope(make_engine(url)) as session:
            assert authenticate(session, key) is None
        r = runner.invoke(app, ["serve", "--help"])
        assert r.exit_code == 0 and "--port" in r.output
    finally:
        get_settings.cache_clear()


def test_browser_gets_error_pages_not_json(sqlite_service: Service, monkeypatch):
    """Browsers asking for a page get a styled Chinese page for 404 and for a failure; the
    API (and scripts) keep JSON."""
    from fastapi.testclient import TestClient

    from service import officer_day

    s = sqlite_service
    c = TestClient(s.app, raise_server_exceptions=False)
    html = {"Accept": "text/html"}
    c.post("/login", data={"key": s.keys["officer"], "next": "/"})
    r = c.get("/nightly/no-such-run", headers=html)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert 'id="error-message"' in r.text and "no nightly run" not in r.text
    r = c.get("/api/v1/workers/NOPE", headers={**html, **s.as_("officer")})
    assert r.headers["content-type"].startswith("application/json")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(officer_day, "monthly", broken)
    r = c.get("/officer", headers=html)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "服务器出错" in r.text and r.headers["x-request-id"] in r.text
    assert c.get("/officer").headers["content-type"].startswith("application/json")


def test_today_is_the_offices_day_not_the_servers(sqlite_url, trained_model_dir, frames):
    """An office whose calendar day differs from UTC's right now: "today" on the pages and
    the outcome form's "not in the future" rule follow the office (a server in UTC would
    refuse an outcome typed at 07:00 in Beijing as dated tomorrow)."""
    utc_now = datetime.now(UTC)
    # UTC+14 is a day ahead of UTC from 10:00 UTC on, UTC-11 a day behind before 11:00 UTC
    zone = "Pacific/Kiritimati" if utc_now.hour >= 10 else "Pacific/Pago_Pago"
    office_day = datetime.now(ZoneInfo(zone)).date()
    assert office_day != utc_now.date()
    s = make_service(sqlite_url, trained_model_dir, frames, office_timezone=zone)
    login(s, "officer")
    page = s.client.get("/officer/workers/W000").text
    form = re.search(r'<form[^>]*id="outcome-form".*?</form>', page, re.S).group(0)
    assert f'max="{office_day.isoformat()}"' in form
    vacancy = re.search(r'data-vacancy="(V\d+)"', page).group(1)
    ahead = max(office_day, utc_now.date()) + timedelta(days=1)
    r = s.client.post(
        "/officer/workers/W000/outcomes",
        data={"vacancy_id": vacancy, "event": "applied", "occurred_at": ahead.isoformat()},
    )
    assert r.status_code == 422 and "日期不能晚于今天" in r.text
    r = s.client.post(
        "/officer/workers/W000/outcomes",
        data={"vacancy_id": vacancy, "event": "applied", "occurred_at": office_day.isoformat()},
    )
    if office_day > utc_now.date():
        # the office's today is accepted although the server's UTC day is still yesterday
        assert r.status_code == 200 and f"已记录：{office_day.isoformat()}" in r.text, r.text
    else:
        assert r.status_code == 200


def test_worker_page_says_why_a_worker_not_looking_for_work_gets_small_chances(
    sqlite_service: Service, frames, monkeypatch
):
    """A worker the model thinks is not looking for work now (in a job, or just left
    one) gets small chances on every row: the page says why, and each row's chance as if
    the worker were looking (the served score over P(looking)); a worker likely looking
    gets no such note."""
    import html

    import pandas as pd

    from service.answers import NOT_LOOKING_BELOW, not_looking, stable_chance_text
    from service.web.display import share_text

    s = sqlite_service
    login(s, "officer")
    model = s.app.state.models.peek().model
    # the toy market's ranker is too small to be calibrated: its scores are taken as
    # chances here, as the sample market's are (what the page does with them is tested)
    assert model.stable_weeks is None and not_looking(model, "W000", {"V1": 0.1}) is None
    monkeypatch.setattr(type(model), "stable_weeks", property(lambda self: 26))
    ids = [
        w
        for w in frames["workers"]["worker_id"]
        if str(frames["workers"].set_index("worker_id").loc[w, "home_region"]).startswith("5424")
    ]
    share = pd.Series(model.worker_availability(pd.Index(ids)), index=ids)
    say = stable_chance_text(model)
    away = [w for w in ids if share[w] < NOT_LOOKING_BELOW]
    assert away, "the test market has a worker in a job within the officer's region"
    seen = 0
    for w in away:
        api = s.client.get(f"/api/v1/workers/{w}/recommendations", headers=s.as_("officer"))
        rows = api.json()["data"]
        if not rows:
            continue
        page = html.unescape(s.client.get(f"/officer/workers/{w}").text)
        assert 'id="not-looking"' in page and share_text(share[w]) in page
        for row in rows:
            conditional = say(min(1.0, row["score"] / share[w]))
            assert f"若在找工作：{conditional}" in page
        seen += 1
    assert seen, "a worker not looking with a non-empty list"
    looking = next(w for w in ids if share[w] >= NOT_LOOKING_BELOW)
    page = s.client.get(f"/officer/workers/{looking}").text
    assert 'id="not-looking"' not in page and "若在找工作" not in page


def test_share_text_says_a_probability_as_a_person_reads_it():
    from service.web.display import share_text

    assert share_text(0.0001) == "不到 1%" and share_text(0.0001, "en") == "under 1%"
    assert share_text(0.1945) == "约 19%" and share_text(0.1945, "en") == "about 19%"
    assert share_text(1.0) == "约 100%"
