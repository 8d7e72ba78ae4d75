"""Server-rendered pages through the same rules as the API (login, scope, privacy, audit),
and the ``jobmatch keys`` / ``serve`` commands."""

from __future__ import annotations

import logging
import re

from service_fixtures import EMPLOYER, Service
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
    ids = re.findall(r'class="worker-link">(W\d+)<', r.text)
    assert ids and all(
        frames["workers"].set_index("worker_id").loc[i, "home_region"].startswith("5424")
        for i in ids
    )
    r = c.get("/officer/workers/W000")
    assert r.status_code == 200
    assert worker_name(0) in r.text and 'id="recommendations"' in r.text
    assert "20260101T000000Z" in r.text
    vacancy = re.search(r'data-vacancy="(V\d+)"', r.text).group(1)
    r = c.post("/officer/workers/W000/outcomes", data={"vacancy_id": vacancy, "event": "hired"})
    assert r.status_code == 200 and "结果已记录" in r.text
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
    assert r.status_code == 403 and worker_name(2) not in r.text
    # a bad outcome is shown, not a crash
    r = c.post("/officer/workers/W000/outcomes", data={"vacancy_id": "NOPE", "event": "hired"})
    assert r.status_code == 200 and "unknown vacancy" in r.text
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
        "vacancy_id": "V777",
        "title": "急招电焊工",
        "region": "440306",
        "headcount": "3",
        "wage_min": "9000",
        "wage_max": "7000",
        "housing": "on",
    }
    r = c.post("/employer/vacancies", data=form)
    assert r.status_code == 422
    assert 'id="err-wage_min"' in r.text and 'value="V777"' in r.text  # kept, marked
    r = c.post("/employer/vacancies", data={**form, "region": "12"})
    assert r.status_code == 422 and 'id="err-region"' in r.text
    r = c.post("/employer/vacancies", data={**form, "wage_min": "6000"})
    assert r.status_code == 200, r.text
    assert "岗位已发布" in r.text and "由系统根据名称推断" in r.text
    assert 'id="candidates"' in r.text
    for i in range(len(frames["workers"])):
        for secret in (worker_name(i), worker_phone(i), worker_id_number(i)):
            assert secret not in r.text
    assert not re.search(r"/officer/workers/W\d+", r.text)
    with session_scope(s.app.state.engine) as session:
        v = session.get(Vacancy, "V777")
        assert v.employer_id == EMPLOYER and v.housing is True and v.wage_min == 6000
    # another employer's vacancy
    with session_scope(s.app.state.engine) as session:
        theirs = session.scalars(
            select(Vacancy.vacancy_id).where(Vacancy.employer_id != EMPLOYER)
        ).first()
    assert c.get(f"/employer/vacancies/{theirs}").status_code == 403
    r = c.post("/employer/vacancies/V777/close", follow_redirects=True)
    assert r.status_code == 200 and "已关闭" in r.text
    r = c.get("/officer")
    assert r.status_code == 403 and "officers and admins only" in r.text


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
