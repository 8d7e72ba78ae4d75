"""The incremental catalogue update (``Recommender.update_vacancies``): a posted
vacancy is answered, a closed one disappears, an edited one is served as edited, and
the catalogue equals the one a full ``refresh`` of the same records builds."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from engine_markets import fast_params

from matcher.data.dataset import Dataset
from matcher.models import rows
from matcher.serving.recommender import Recommender
from training.synth import generate_market


@pytest.fixture(scope="module", params=["folded", "patched"])
def setting(request):
    """The update with its text rows folded into plain matrices (the patch holds more
    than PATCH_SHARE of this small catalogue's rows) and kept as a patch."""
    market = Dataset.from_frames(**generate_market(200, 15, weeks=6, seed=5))
    model = Recommender(**fast_params()).fit(market)
    at = model.catalogue_.at
    cat = model.catalogue_
    vac = market.vacancies
    open_ids = list(cat.vp.ids[cat.open_pos])
    worker = _worker_with_answers(model)
    top = model.recommend(worker, k=3, reasons=False)["vacancy_id"].tolist()
    closed, edited = top[0], top[1]
    # the store now: one vacancy closed, one edited (title, wage, seats), one posted
    # (a copy of the closed one under a new id, by the same employer)
    now = vac.copy()
    i_closed = int(np.flatnonzero(now["vacancy_id"] == closed)[0])
    i_edited = int(np.flatnonzero(now["vacancy_id"] == edited)[0])
    now.loc[i_closed, "status"] = "closed"
    now.loc[i_edited, "title"] = str(now.loc[i_edited, "title"]) + " 夜班"
    now.loc[i_edited, "wage_max"] = float(now.loc[i_edited, "wage_max"] or 5000) + 1500
    now.loc[i_edited, "headcount"] = 9
    posted = now.iloc[[i_closed]].copy()
    posted["vacancy_id"] = "V-NEW-1"
    posted["status"] = "open"
    posted["posted_at"] = at
    now = pd.concat([now, posted], ignore_index=True)
    changed = now[now["vacancy_id"].isin([closed, edited, "V-NEW-1"])]
    employers = market.employers[market.employers["employer_id"].isin(changed["employer_id"])]
    snapshot = Dataset(market.workers, market.employers, now, market.events)
    full = copy.copy(model).refresh(snapshot, at=at)
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "patched":
            mp.setattr(rows, "PATCH_SHARE", 1.0)
        delta = copy.copy(model).update_vacancies(changed, employers, at=at)
    patched = isinstance(delta.catalogue_.v_dense, rows.PatchedRows)
    assert patched == (request.param == "patched")
    assert isinstance(delta.catalogue_.v_lex, rows.PatchedRows) == patched
    return {
        "model": model,
        "full": full,
        "delta": delta,
        "worker": worker,
        "closed": closed,
        "edited": edited,
        "open_ids": open_ids,
        "cat_before": cat,
    }


def _plain(matrix):
    return matrix.materialise() if isinstance(matrix, rows.PatchedRows) else matrix


def _worker_with_answers(model: Recommender) -> str:
    for wid in model.catalogue_.wp.ids:
        if len(model.recommend(wid, k=3, reasons=False)) == 3:
            return str(wid)
    raise AssertionError("no worker with three recommendations in the test market")


def test_posted_vacancy_is_answered_and_closed_one_disappears(setting):
    delta, worker = setting["delta"], setting["worker"]
    got = delta.recommend(worker, k=10_000, reasons=False)["vacancy_id"].tolist()
    assert "V-NEW-1" in got  # the copy of a vacancy the worker was shown first
    assert setting["closed"] not in got
    assert setting["edited"] in got
    assert delta.knows_vacancy("V-NEW-1")
    assert len(delta.candidates("V-NEW-1", k=5)) > 0
    assert len(delta.candidates(setting["closed"], k=5)) == 0


def test_the_old_model_keeps_its_catalogue(setting):
    """A request in flight holds the model it started with: the update leaves it."""
    model = setting["model"]
    assert model.catalogue_ is setting["cat_before"]
    assert not model.knows_vacancy("V-NEW-1")
    got = model.recommend(setting["worker"], k=3, reasons=False)["vacancy_id"].tolist()
    assert got[0] == setting["closed"]


def test_delta_catalogue_equals_full_refresh(setting):
    full, delta = setting["full"].catalogue_, setting["delta"].catalogue_
    assert list(full.vp.ids) == list(delta.vp.ids)
    np.testing.assert_array_equal(full.open_pos, delta.open_pos)
    assert full.at == delta.at
    for name in ("v_dense", "v_lfm", "open_lfm", "open_popularity", "open_tie_col"):
        np.testing.assert_allclose(getattr(full, name), getattr(delta, name), rtol=1e-6)
    assert abs(full.v_lex - _plain(delta.v_lex)).max() < 1e-6
    assert abs(full.pursued.astype(int) - delta.pursued.astype(int)).max() == 0
    queries = full.w_lex[:12]
    np.testing.assert_allclose(
        full.open_text.lexical_scores(queries), delta.open_text.lexical_scores(queries), atol=1e-6
    )
    for f in ("crowd", "age_days", "county_open_ties", "county_open_flow", "verified", "hires"):
        np.testing.assert_allclose(getattr(full.vctx, f), getattr(delta.vctx, f), equal_nan=True)
    for f in ("offered_wage", "headcount", "posted_ns", "code_keys"):
        np.testing.assert_array_equal(getattr(full.vp, f), getattr(delta.vp, f))
    assert full.vp.texts == delta.vp.texts
    pd.testing.assert_frame_equal(full.vacancies, delta.vacancies, check_dtype=False)
    for w in range(0, len(full.wp.ids), 7):
        np.testing.assert_array_equal(
            full.eligibility.mask_for_worker(full.workers.iloc[w], at=full.at),
            delta.eligibility.mask_for_worker(delta.workers.iloc[w], at=delta.at),
        )


def test_delta_answers_equal_full_refresh_when_every_eligible_is_ranked(setting):
    """With every eligible vacancy ranked (the candidate channels cannot differ), the
    updated model answers every worker exactly as the fully refreshed one."""
    full, delta = copy.copy(setting["full"]), copy.copy(setting["delta"])
    n_open = len(full.catalogue_.open_pos)
    full.n_candidates = delta.n_candidates = n_open
    ids = list(full.catalogue_.wp.ids[::3])
    a = full.recommend_many(ids, 10, reasons=False)
    b = delta.recommend_many(ids, 10, reasons=False)
    pd.testing.assert_frame_equal(a, b)


def test_reapplying_the_same_rows_changes_nothing(setting):
    delta = setting["delta"]
    cat = delta.catalogue_
    rows = cat.vacancies[cat.vacancies["vacancy_id"].isin(["V-NEW-1", setting["edited"]])]
    again = copy.copy(delta).update_vacancies(rows, at=cat.at).catalogue_
    assert list(again.vp.ids) == list(cat.vp.ids)
    np.testing.assert_array_equal(again.open_pos, cat.open_pos)
    np.testing.assert_allclose(again.v_dense, cat.v_dense)


def test_open_after_equals_the_set_operations():
    """The open set after a change, by binary search and two copies, equals
    ``union1d(setdiff1d(open, changed), now_open)`` (closed, re-opened, edited, new and
    repeated positions, at both ends)."""
    from matcher.models.catalogue import open_after

    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(0, 60))
        old_open = np.sort(rng.choice(n + 1, int(rng.integers(0, n + 1)), replace=False))
        changed = rng.integers(0, n + 5, int(rng.integers(0, 6)))  # new ones past the end
        now_open = changed[rng.random(len(changed)) < 0.5]
        want = np.union1d(np.setdiff1d(old_open, changed), now_open)
        got = open_after(old_open.astype(np.int64), changed, now_open)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int64


def _rounds_of_changes(vac: pd.DataFrame, open_ids: list, at, rounds: int, seed: int):
    """The store after each of ``rounds`` rounds of one posted vacancy (a copy of an open
    one under a new id), one edited (title and wage) and one closed: the store frame
    and the rows changed, per round."""
    rng = np.random.default_rng(seed)
    now = vac.copy()
    out = []
    for r in range(rounds):
        src, edit, close = rng.choice(open_ids, 3, replace=False)
        open_ids = [v for v in open_ids if v != close]
        i_src = int(np.flatnonzero(now["vacancy_id"] == src)[0])
        i_edit = int(np.flatnonzero(now["vacancy_id"] == edit)[0])
        i_close = int(np.flatnonzero(now["vacancy_id"] == close)[0])
        posted = now.iloc[[i_src]].copy()
        posted["vacancy_id"] = f"V-ROUND-{r}"
        posted["posted_at"] = at
        now.loc[i_edit, "title"] = str(now.loc[i_edit, "title"]) + f" 夜班{r}"
        now.loc[i_edit, "wage_max"] = float(now.loc[i_edit, "wage_max"] or 5000) + 100 * (r + 1)
        now.loc[i_close, "status"] = "closed"
        now = pd.concat([now, posted], ignore_index=True)
        ids = [f"V-ROUND-{r}", edit, close]
        out.append((now.copy(), now[now["vacancy_id"].isin(ids)].copy()))
        open_ids = [*open_ids, f"V-ROUND-{r}"]
    return out


def test_rounds_of_updates_equal_full_refresh_without_copying_the_index(monkeypatch):
    """Several rounds of updates, each on the last one's catalogue, with the stored
    retrieval rows read through their column map (no merge, EXTRA_SHARE 1) and one
    more update from an older catalogue (a branch): each catalogue equals a full
    refresh of its records (open set, lexical and projected dense retrieval scores,
    crowding, the vacancy frame, the id look-up), and the older catalogues keep
    answering as they did."""
    from matcher.models import retrieval

    monkeypatch.setattr(retrieval, "EXTRA_SHARE", 1.0)
    market = Dataset.from_frames(**generate_market(200, 15, weeks=6, seed=11))
    model = Recommender(**fast_params()).fit(market)
    cat0 = model.catalogue_
    at = cat0.at
    open_ids = list(cat0.vp.ids[cat0.open_pos])
    rounds = _rounds_of_changes(market.vacancies, open_ids, at, 3, seed=3)
    serving = model
    chain = []
    for now, changed in rounds:
        employers = market.employers[market.employers["employer_id"].isin(changed["employer_id"])]
        serving = copy.copy(serving).update_vacancies(changed, employers, at=at)
        chain.append((serving, now))
    # a branch: the first round's rows again on the first catalogue
    branch = copy.copy(model).update_vacancies(rounds[0][1], market.employers, at=at)
    chain.append((branch, rounds[0][0]))
    for updated, now in chain:
        delta = updated.catalogue_
        assert delta.open_text.columns is not None  # read through the column map
        snapshot = Dataset(market.workers, market.employers, now, market.events)
        full = copy.copy(model).refresh(snapshot, at=at).catalogue_
        assert list(full.vp.ids) == list(delta.vp.ids)
        np.testing.assert_array_equal(full.open_pos, delta.open_pos)
        queries = full.w_lex[:20]
        np.testing.assert_allclose(
            full.open_text.lexical_scores(queries),
            delta.open_text.lexical_scores(queries),
            atol=1e-6,
        )
        # dense retrieval: the kept basis, so compared with the catalogue's own vectors
        # projected on it
        rows_now = delta.open_text.project(np.asarray(delta.v_dense)[delta.open_pos])
        want = delta.open_text.project(delta.w_dense[:20]) @ rows_now.T
        np.testing.assert_allclose(
            delta.open_text.dense_scores(delta.w_dense[:20]), want, atol=1e-5
        )
        cols = np.arange(0, len(delta.open_pos), 3)
        np.testing.assert_allclose(
            delta.open_text.dense_scores(delta.w_dense[:5], rows=cols),
            delta.open_text.dense_scores(delta.w_dense[:5])[:, cols],
            atol=1e-6,
        )
        np.testing.assert_allclose(delta.open_text.row_vectors, rows_now, atol=1e-6)
        np.testing.assert_allclose(full.vctx.crowd, delta.vctx.crowd)
        pd.testing.assert_frame_equal(full.vacancies, delta.vacancies, check_dtype=False)
        ids = [*list(full.vp.ids[::5]), "V-UNKNOWN"]
        np.testing.assert_array_equal(
            delta.vacancy_positions(ids), full.vp.ids.get_indexer(pd.Index(ids, dtype=object))
        )
    # the older catalogues do not see the later ones' vacancies
    assert not model.knows_vacancy("V-ROUND-0")
    assert chain[0][0].knows_vacancy("V-ROUND-0") and not chain[0][0].knows_vacancy("V-ROUND-1")
    assert branch.knows_vacancy("V-ROUND-0") and not branch.knows_vacancy("V-ROUND-2")
    assert len(model.catalogue_.open_text) == len(cat0.open_pos)
