"""A household that holds a public-welfare post is proposed no other: in the lists, the
batch path's pairs, and after an incremental update (matcher.eligibility.households)."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from matcher.eligibility.households import in_households, public_post_holders
from matcher.serving.batch import BatchScorer
from service.nightly import active_workers, pairs_not_proposed, snapshot_time

PUBLIC = "public_welfare_post"


def _public_ids(ds: Dataset) -> set[str]:
    v = ds.vacancies
    return set(v.loc[v["channel"].astype(str) == PUBLIC, "vacancy_id"].astype(str))


@pytest.fixture(scope="module")
def household(frames, model):
    """The test market with a worker B who is proposed a public post, and that market
    again with a member of B's household hired on a public post (still there)."""
    ds = Dataset.from_frames(
        frames["workers"], frames["employers"], frames["vacancies"], frames["events"]
    )
    plain = copy.deepcopy(model).refresh(ds, at=snapshot_time(ds))
    public = _public_ids(ds)
    active = active_workers(ds)["worker_id"].astype(str).tolist()
    lists = plain.recommend_many(active, k=10_000, reasons=False)
    offered = lists[lists["vacancy_id"].isin(public)]
    assert len(offered), "the test market proposes no public-welfare post"
    b = str(offered["worker_id"].iloc[0])
    a = next(w for w in ds.workers["worker_id"].astype(str) if w != b)
    workers = frames["workers"].copy()
    workers.loc[workers["worker_id"].isin([a, b]), "household_id"] = "H-public-test"
    at = snapshot_time(ds)
    hired = pd.DataFrame(
        {
            "worker_id": [a],
            "vacancy_id": [sorted(public)[0]],
            "event": ["hired"],
            "occurred_at": [at - pd.Timedelta(days=3)],
        }
    )
    events = pd.concat([frames["events"], hired], ignore_index=True)
    held = Dataset.from_frames(workers, frames["employers"], frames["vacancies"], events)
    barred = copy.deepcopy(model).refresh(held, at=snapshot_time(held))
    return {"plain": plain, "barred": barred, "ds": held, "b": b, "public": public}


def test_lists_leave_out_public_posts_of_a_household_that_holds_one(household):
    b, public = household["b"], household["public"]
    before = household["plain"].recommend(b, k=10_000, reasons=False)["vacancy_id"]
    after = household["barred"].recommend(b, k=10_000, reasons=False)["vacancy_id"]
    assert set(before) & public
    assert not set(after) & public
    # the rest of the worker's list is still there
    assert set(before) - public <= set(after)


def test_the_batch_path_gets_the_same_pairs_to_leave_out(household):
    ds, b, public = household["ds"], household["b"], household["public"]
    pursued = pairs_not_proposed(ds)
    mine = set(pursued.loc[pursued["worker_id"] == b, "vacancy_id"])
    assert public <= mine
    workers = active_workers(ds)
    out = BatchScorer(household["barred"], candidates="live").score(workers, pursued, k=10)
    assert not set(out.loc[out["worker_id"] == b, "vacancy_id"]) & public


def test_a_public_post_opened_later_is_not_proposed_to_the_household(household):
    model, ds, b = household["barred"], household["ds"], household["b"]
    v = ds.vacancies
    src = v[(v["channel"].astype(str) == PUBLIC)].iloc[[0]].copy()
    src["vacancy_id"] = "V-NEW-PUBLIC"
    src["status"] = "open"
    src["headcount"] = 3
    src["posted_at"] = model.catalogue_.at
    src["closes_at"] = model.catalogue_.at + pd.Timedelta(days=60)
    updated = copy.copy(model).update_vacancies(src.reset_index(drop=True))
    assert updated.knows_vacancy("V-NEW-PUBLIC")
    got = updated.recommend(b, k=10_000, reasons=False)["vacancy_id"]
    assert "V-NEW-PUBLIC" not in set(got)
    cat = updated.catalogue_
    col = int((cat.vp.ids[cat.open_pos] == "V-NEW-PUBLIC").nonzero()[0][0])
    w = cat.wp.ids.get_loc(b)
    assert not updated.worker_mask(cat, w)[col]


def test_the_model_says_whose_household_holds_a_post(household):
    """``household_holds_public_post`` is the rule's answer for every worker of the
    catalogue (the service shows it beside the list), also after an incremental update;
    None for a catalogue that did not assess the rule."""
    model, ds, b = household["barred"], household["ds"], household["b"]
    holders = public_post_holders(ds.events, ds.vacancies, ds.workers, model.catalogue_.at)
    workers = ds.workers
    expected = dict(
        zip(workers["worker_id"].astype(str), in_households(workers, holders), strict=True)
    )
    said = {w: model.household_holds_public_post(w) for w in expected}
    assert said == {w: bool(x) for w, x in expected.items()}
    assert said[b] is True and not all(said.values())
    updated = copy.copy(model).update_vacancies(ds.vacancies.iloc[[0]].reset_index(drop=True))
    assert updated.household_holds_public_post(b) is True
    unassessed = copy.copy(model)
    unassessed.catalogue_ = dataclasses.replace(model.catalogue_, public_barred=None)
    assert unassessed.household_holds_public_post(b) is None
    with pytest.raises(KeyError):
        model.household_holds_public_post("no-such-worker")
