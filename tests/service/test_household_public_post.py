"""One public-welfare post per household, made visible: the recommendations API says
``household_holds_public_post`` (live and precomputed answers alike, from the catalogue
that ranked the list), and the officer's worker page shows a plain note only when it
applies, naming no other member of the household."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from service_fixtures import Service, copy_model_dir, make_service
from service_market import (
    HELD_POST,
    HIRED_AT,
    HOLDER,
    LONE,
    MEMBER,
    OPEN_POST,
    public_post_market,
    worker_id_number,
    worker_name,
    worker_phone,
)
from test_precomputed_serving import _precompute

NOTE_ZH = "同户已有成员在公益性岗位上，不再推荐公益性岗位"
NOTE_EN = "A member of this household holds a public-welfare post"


@pytest.fixture
def household_frames(frames):
    return public_post_market(frames)


@pytest.fixture
def model_dir(tmp_path, trained_model_dir) -> Path:
    return copy_model_dir(trained_model_dir, tmp_path / "models")


def synced(s: Service) -> None:
    """The serving model brought to the store (what the background sync does)."""
    sync = s.app.state.catalogue_sync
    sync.sync(sync.stamp())


def recs(s: Service, worker: str, k: int = 200) -> dict:
    r = s.client.get(f"/api/v1/workers/{worker}/recommendations?k={k}", headers=s.as_("officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == r.headers["X-Recommendation-Source"]
    return body


def public_posts(body: dict) -> set[str]:
    return {x["vacancy_id"] for x in body["data"] if x["channel"] == "public_welfare_post"}


def test_the_api_says_whether_the_household_holds_a_post_until_the_holder_leaves(
    sqlite_url, model_dir, household_frames
):
    s = make_service(sqlite_url, model_dir, household_frames, precomputed=False)
    synced(s)
    member, holder, lone = recs(s, MEMBER), recs(s, HOLDER), recs(s, LONE)
    assert member["source"] == "live"
    assert member["household_holds_public_post"] is True
    assert holder["household_holds_public_post"] is True  # the holder is a member too
    assert lone["household_holds_public_post"] is False
    # the flag agrees with the list: no public-welfare post for the household
    assert public_posts(member) == set() and public_posts(holder) == set()
    assert OPEN_POST in public_posts(lone)

    time.sleep(1.1)  # the store stamps updates in whole seconds (SQLite)
    r = s.client.post(
        "/api/v1/outcomes",
        json={
            "worker_id": HOLDER,
            "vacancy_id": HELD_POST,
            "event": "left",
            "occurred_at": (HIRED_AT + pd.Timedelta(days=30)).isoformat() + "Z",
        },
        headers=s.as_("officer"),
    )
    assert r.status_code == 201, r.text
    synced(s)  # the holder's status changed: the catalogue is rebuilt from the store
    member = recs(s, MEMBER)
    assert member["household_holds_public_post"] is False
    assert OPEN_POST in public_posts(member)


def test_precomputed_answers_carry_the_same_field(
    sqlite_url, model_dir, household_frames, monkeypatch
):
    built = _precompute(sqlite_url, model_dir, household_frames, monkeypatch, "--precompute")
    assert built.exit_code == 0, built.output
    s = make_service(sqlite_url, model_dir, household_frames)
    synced(s)
    member, lone = recs(s, MEMBER, 10), recs(s, LONE, 10)
    assert member["source"] == lone["source"] == "precomputed"
    assert member["household_holds_public_post"] is True
    assert lone["household_holds_public_post"] is False
    assert public_posts(member) == set()
    again = recs(s, MEMBER, 10)  # the re-ranked answer kept for the same lists
    assert again["household_holds_public_post"] is True


def test_the_field_is_in_the_openapi_schema(sqlite_url, model_dir, household_frames):
    s = make_service(sqlite_url, model_dir, household_frames, precomputed=False)
    schema = s.client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    field = schema.json()["components"]["schemas"]["RecommendationsPublic"]["properties"][
        "household_holds_public_post"
    ]
    assert "public-welfare" in field["description"]


def _page(s: Service, worker: str, lang: str = "zh") -> str:
    s.client.cookies.set("jobmatch_lang", lang)
    r = s.client.get(f"/officer/workers/{worker}")
    assert r.status_code == 200, r.text
    return r.text


def test_the_worker_page_shows_the_note_only_when_it_applies(
    sqlite_url, model_dir, household_frames
):
    s = make_service(sqlite_url, model_dir, household_frames, precomputed=False)
    synced(s)
    r = s.client.post("/login", data={"key": s.keys["officer"], "next": "/"})
    assert r.status_code == 200, r.text
    page = _page(s, MEMBER)
    assert 'id="household-public-post"' in page and NOTE_ZH in page
    # the fact only: nothing that identifies the member who holds the post
    holder = int(HOLDER[1:])
    for personal in (worker_name(holder), worker_phone(holder), worker_id_number(holder)):
        assert personal not in page
    assert HOLDER not in page and HELD_POST not in page
    assert NOTE_EN in _page(s, MEMBER, "en")
    lone = _page(s, LONE, "zh")
    assert 'id="household-public-post"' not in lone and NOTE_ZH not in lone
