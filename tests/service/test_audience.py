"""What an employer can read, on the sample market: every GET route of the API and every
page an employer reaches, checked for anything outside the documented employer view — a
worker's name, phone, id number, id, expected wage or preferences.

Routes are read from the app's OpenAPI schema, so a route added later is checked too.
"""

from __future__ import annotations

import re

import pytest

from service.store.db import session_scope
from service.store.models import Vacancy

#: words that quote a worker's expectation or preference to its reader
PREFERENCE_WORDS = ("期望", "希望", "意向", "expected", "prefer")


def _secrets(frames) -> list[str]:
    """Names, phones and id numbers of the market's workers. A name that is also part of
    a place name (尼玛 is a county of Nagqu) cannot be told apart in a page and is left out."""
    from matcher.data import reference

    places = "|".join(reference.region_name(c) for c in reference.regions())
    w = frames["workers"]
    out = [str(x) for x in w["name"].dropna() if str(x) not in places]
    for col in ("phone", "id_number"):
        out += [str(x) for x in w[col].dropna()]
    return out


def _check(text: str, secrets: list[str], worker_ids: set[str], where: str) -> None:
    for s in secrets:
        assert s not in text, f"{where} shows personal data"
    for word in PREFERENCE_WORDS:
        assert word not in text, f"{where} quotes a worker's expectation or preference ({word})"
    found = set(re.findall(r"\b[A-Z]\d{3,}\b", text)) & worker_ids
    assert not found, f"{where} shows worker ids {sorted(found)[:3]}"


def _fill(path: str, values: dict[str, str]) -> str | None:
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    if any(n not in values for n in names):
        return None
    for n in names:
        path = re.sub(r"{" + n + r"(?::\w+)?}", values[n], path)
    return path


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_employer_sees_only_the_employer_view(sample, lang):
    s = sample.service
    frames = sample.frames
    secrets = _secrets(frames)
    worker_ids = set(frames["workers"]["worker_id"])
    c = s.client
    c.cookies.clear()
    headers = s.as_("employer")
    with session_scope(s.app.state.engine) as session:
        mine = [
            v.vacancy_id
            for v in session.query(Vacancy).filter(Vacancy.employer_id == sample.employer_id)
        ]
    open_ = set(frames["vacancies"].query("status == 'open'")["vacancy_id"]) & set(mine)
    assert open_, "the sample employer has open vacancies"
    values = {
        "employer_id": sample.employer_id,
        "worker_id": frames["workers"]["worker_id"].iloc[0],
        "follow_up_id": "1",
        "run_id": "latest",
        "pin_id": "1",
    }
    answered = 0
    candidates_seen = 0
    for vacancy_id in sorted(open_)[:3] + sorted(set(mine) - open_)[:1]:
        values["vacancy_id"] = vacancy_id
        for route, methods in s.app.openapi()["paths"].items():
            if "get" not in methods:
                continue
            path = _fill(route, values)
            if path is None:
                continue
            r = c.get(path, headers=headers, params={"lang": lang}, cookies={})
            assert r.status_code < 500, f"{path}: {r.status_code}"
            _check(r.text, secrets, worker_ids, path)
            answered += r.status_code == 200
            if path.endswith("/candidates") and r.status_code == 200:
                candidates_seen += len(r.json()["data"])
    assert answered >= 5 and candidates_seen > 0

    # the pages, through the login cookie
    c.post("/login", data={"key": s.keys["employer"], "next": "/"})
    pages = ["/employer"] + [f"/employer/vacancies/{v}" for v in mine]
    pages += [
        f"/employer/vacancies/{v}/{tail}"
        for v in sorted(open_)[:2]
        for tail in ("edit", "proposals")
    ]
    shown = 0
    for page in pages:
        r = c.get(page, params={"lang": lang})
        assert r.status_code == 200, page
        _check(r.text, secrets, worker_ids, page)
        shown += r.text.count('class="cand-row"')
    assert shown > 0  # candidates were on the pages, and none said too much
    c.cookies.clear()
