"""The nightly plan page as an officer uses it, on the sample market: an explained empty
state before any run; after a run, the officer's own rows with names and links, figures
with their explanations and rates as percentages, accept / exclude / undo from the page,
and a CSV export (audited)."""

from __future__ import annotations

import re

from sqlalchemy import select

from service import nightly
from service.store.db import session_scope
from service.store.models import AuditEntry, MatchPin


def test_plan_page_for_the_officer(sample, sample_model_dir):
    s = sample.service
    c = s.client
    c.cookies.clear()  # the sample's client is shared: no language or key left by others
    c.post("/login", data={"key": s.keys["officer"], "next": "/"})
    r = c.get("/nightly")
    assert r.status_code == 200 and 'id="no-runs"' in r.text and "每晚" in r.text

    summary = nightly.run_match(s.url, sample_model_dir, run_id="plan-t", k=10)
    assert summary.status == "succeeded"
    r = c.get("/nightly")
    assert 'id="latest-plan"' in r.text and "已完成" in r.text
    r = c.get("/nightly/plan-t")
    assert r.status_code == 200
    text = r.text
    assert "预计能稳定就业的人数" in text  # every figure says what it is
    assert re.search(r"<b>\d+%</b>", text)  # rates as percentages
    assert not re.search(r"0\.\d{4,}", text)  # no raw rates such as 0.715789
    rows = re.findall(r'<tr class="plan-row">.*?</tr>', text, re.S)
    assert rows, "the officer's region has planned placements"
    workers = re.findall(r'href="/officer/workers/([^"]+)"', text)
    homes = dict(sample.frames["workers"][["worker_id", "home_region"]].values)
    assert workers and all(homes[w].startswith(sample.officer_region) for w in workers)
    names = dict(sample.frames["workers"][["worker_id", "name"]].values)
    assert names[workers[0]] in text  # names, linked to the worker's page
    vacancy = re.search(r'href="/employer/vacancies/([^"]+)"', rows[0]).group(1)

    # accept, then exclude, then undo, from the page
    form = {"worker_id": workers[0], "vacancy_id": vacancy, "page": "1"}
    r = c.post("/nightly/plan-t/decide", data={**form, "action": "pin"})
    assert "已采纳" in r.text
    r = c.post("/nightly/plan-t/decide", data={**form, "action": "exclude"})
    assert "已排除" in r.text
    with session_scope(s.app.state.engine) as session:
        pin = session.scalars(select(MatchPin).where(MatchPin.worker_id == workers[0])).one()
        assert pin.kind == "exclude" and pin.vacancy_id == vacancy
    r = c.post("/nightly/plan-t/decide", data={**form, "action": "undo"})
    assert "已撤销" in r.text
    # not for workers of another region
    other = next(w for w, h in homes.items() if not h.startswith(sample.officer_region))
    r = c.post("/nightly/plan-t/decide", data={**form, "worker_id": other, "action": "pin"})
    assert "不在您负责的地区" in r.text
    with session_scope(s.app.state.engine) as session:
        assert session.scalars(select(MatchPin)).all() == []

    r = c.get("/nightly/plan-t/plan.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("劳动力编号,姓名")
    exported = {line.split(",")[0] for line in lines[1:]}
    assert exported and all(homes[w].startswith(sample.officer_region) for w in exported)
    with session_scope(s.app.state.engine) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "export_plan")).first()
    c.get("/logout")
