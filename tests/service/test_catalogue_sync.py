"""A vacancy posted, edited or closed through the API reaches the serving model's
answers by an incremental catalogue update (the changed rows only), not a full
refresh; anything else that changed in the store still gets the full refresh."""

from __future__ import annotations

import time

from service_fixtures import EMPLOYER, Service
from test_api import new_vacancy


def _synced(service: Service):
    sync = service.app.state.catalogue_sync
    sync.sync(sync.stamp())
    return service.app.state.models


def _wait_for_a_new_second() -> None:
    # the store stamps updated_at in whole seconds (SQLite): a change in the same second
    # as the last stamp would not change the stamp
    time.sleep(1.1)


def test_posted_edited_closed_vacancy_reaches_answers_incrementally(sqlite_service: Service):
    s = sqlite_service
    c = s.client
    holder = _synced(s)  # the model now reflects the store (one full refresh)
    full = holder.full_refreshes
    assert holder.peek().catalogue_stamp is not None
    assert not holder.peek().model.knows_vacancy("V900")

    _wait_for_a_new_second()
    r = c.post("/api/v1/vacancies", json=new_vacancy(), headers=s.as_("employer"))
    assert r.status_code == 201, r.text
    _synced(s)
    assert holder.incremental_updates == 1 and holder.full_refreshes == full
    model = holder.peek().model
    assert model.knows_vacancy("V900")
    found = model.candidates("V900", k=5)
    assert len(found) > 0  # the new vacancy is answered: it has candidates
    worker = found["worker_id"].iloc[0]
    assert "V900" in set(model.recommend(worker, k=10_000, reasons=False)["vacancy_id"])
    r = c.get("/api/v1/vacancies/V900/candidates", headers=s.as_("employer"))
    assert r.status_code == 200 and r.json()["count"] > 0

    _wait_for_a_new_second()
    r = c.patch(
        "/api/v1/vacancies/V900", json={"title": "急招电工 包吃住"}, headers=s.as_("employer")
    )
    assert r.status_code == 200, r.text
    _synced(s)
    assert holder.incremental_updates == 2 and holder.full_refreshes == full
    cat = holder.peek().model.catalogue_
    pos = int(cat.vp.ids.get_indexer(["V900"])[0])
    assert "电工" in cat.vp.texts[pos]

    _wait_for_a_new_second()
    r = c.post("/api/v1/vacancies/V900/close", headers=s.as_("employer"))
    assert r.status_code == 200, r.text
    _synced(s)
    assert holder.incremental_updates == 3 and holder.full_refreshes == full
    model = holder.peek().model
    assert len(model.candidates("V900", k=5)) == 0
    assert "V900" not in set(model.recommend(worker, k=10_000, reasons=False)["vacancy_id"])
    assert EMPLOYER  # the vacancy was the test employer's own


def test_a_new_worker_still_gets_a_full_refresh(sqlite_service: Service):
    s = sqlite_service
    holder = _synced(s)
    full, incremental = holder.full_refreshes, holder.incremental_updates
    assert not holder.peek().model.knows_worker("W-NEW-9")
    from service.store.db import session_scope
    from service.store.models import Worker

    _wait_for_a_new_second()
    with session_scope(s.app.state.engine) as session:
        session.add(Worker(worker_id="W-NEW-9", home_region="542427"))
    _synced(s)
    assert holder.full_refreshes == full + 1 and holder.incremental_updates == incremental
    assert holder.peek().model.knows_worker("W-NEW-9")
