"""Precomputed recommendations (matcher.serving.precomputed): answers equal to the live engine
on the catalogue they were built on, and current after the market moves (closed,
new and changed vacancies, changed workers); saving, loading and refusing."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from engine_markets import fast_params

from matcher.artifacts import MOVED_MODULES, current_class_path, original_class_path
from matcher.data.dataset import Dataset
from matcher.eligibility.rules import exclusions
from matcher.serving.precomputed import (
    ADDED_PARAMS,
    MANIFEST,
    PrecomputedListsError,
    PrecomputedRecommendations,
    fit_key,
)
from matcher.serving.recommender import Recommender
from training.synth import generate_market


@pytest.fixture(scope="module")
def market() -> Dataset:
    return Dataset.from_frames(**generate_market(300, 25, weeks=8, seed=3))


@pytest.fixture(scope="module")
def model(market) -> Recommender:
    return Recommender(**fast_params()).fit(market)


@pytest.fixture(scope="module")
def lists(model) -> PrecomputedRecommendations:
    return PrecomputedRecommendations.build(model, depth=20, block=64)


def _ids(market: Dataset) -> list[str]:
    return list(market.workers["worker_id"])


def test_answers_are_the_live_recommendations_on_the_same_catalogue(market, model, lists):
    bound = lists.bind(model)
    assert bound is not None and bound.same_catalogue and len(bound.delta) == 0
    for i, w in enumerate(_ids(market)):
        k = (1, 10, 20)[i % 3]
        got = bound.answer(w, k)
        assert got is not None
        pd.testing.assert_frame_equal(got, model.recommend(w, k))
    assert not bound.misses
    assert bound.hits == market.n_workers


def test_recommend_among_every_open_vacancy_is_recommend(market, model):
    cat = model.catalogue_
    open_ids = cat.vp.ids.to_numpy(dtype=object)[cat.open_pos]
    for w in _ids(market)[:80]:
        pd.testing.assert_frame_equal(
            model.recommend_among(w, open_ids, 10, "en"), model.recommend(w, 10, "en")
        )


def test_recommend_among_keeps_to_open_given_vacancies(market, model):
    cat = model.catalogue_
    open_ids = set(cat.vp.ids.to_numpy(dtype=object)[cat.open_pos])
    closed = [v for v in market.vacancies["vacancy_id"] if v not in open_ids]
    assert closed, "the market should hold vacancies that are not open"
    w = _ids(market)[0]
    best = list(model.recommend(w, 10)["vacancy_id"])
    given = best[::2] + closed[:3] + ["V-unknown"]
    got = model.recommend_among(w, given, 10)
    assert set(got["vacancy_id"]) == set(best[::2])
    assert list(got["rank"]) == list(range(1, len(got) + 1))


def test_the_lists_hold_recommend_many_at_depth(market, model, lists):
    a = lists.arrays
    ids = list(a["worker_ids"])
    assert ids == _ids(market)
    w = 7
    lo, hi = a["indptr"][w], a["indptr"][w + 1]
    stored = list(np.asarray(a["vacancy_ids"])[a["entry_vacancy"][lo:hi]])
    live = model.recommend_many([ids[w]], 20, reasons=False)
    assert stored == list(live["vacancy_id"])
    np.testing.assert_allclose(
        a["entry_score"][lo:hi], live["score"].to_numpy(dtype=float), rtol=1e-6
    )


def test_save_and_load_give_the_same_answers(market, model, lists, tmp_path):
    folder = lists.save(tmp_path / "precomputed")
    loaded = PrecomputedRecommendations.load(folder)
    assert loaded.manifest == lists.manifest
    for name, array in lists.arrays.items():
        np.testing.assert_array_equal(np.asarray(loaded.arrays[name]), array)
    bound = loaded.bind(model)
    for w in _ids(market)[:50]:
        pd.testing.assert_frame_equal(bound.answer(w, 10), model.recommend(w, 10))


def test_a_saved_and_loaded_model_keeps_its_fit_key(model, lists, tmp_path):
    again = Recommender.load(model.save(tmp_path / "m"))
    assert fit_key(again) == fit_key(model)
    assert lists.bind(again).same_catalogue


def test_lists_built_before_the_subpackage_move_still_bind(model):
    """The fit key as the code before matcher's subpackages wrote it (the class spelled
    ``matcher.recommender.Recommender``, and the parameters it had: none of
    ``ADDED_PARAMS``): after an upgrade the stored lists keep serving instead of every
    request falling to the live engine until the next precompute. The model as one of
    that code: every added parameter at its "as before" value (not today's default for
    the stage maps)."""
    model = copy.copy(model).set_params(**ADDED_PARAMS)
    params = {
        k: repr(v) for k, v in model.get_params().items() if k not in ("embedder", *ADDED_PARAMS)
    }
    parts = [
        "matcher.recommender.Recommender",
        str(model.trained_at_),
        str(model.data_fingerprint_),
        str(model.version_),
        type(model.embedder_).__name__,
        json.dumps(params, sort_keys=True),
    ]
    assert fit_key(model) == hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    # a parameter away from its "as before" value is part of the key
    for name, value in (("apply_map", "covariates"), ("title_coding", "market")):
        other = copy.copy(model).set_params(**{name: value})
        assert fit_key(other) != fit_key(model)


def test_original_class_path_undoes_the_move():
    for old, new in MOVED_MODULES.items():
        assert original_class_path(f"{new}.Name") == f"{old}.Name"
        assert current_class_path(original_class_path(f"{new}.Name")) == f"{new}.Name"
    assert original_class_path("sklearn.pipeline.Pipeline") == "sklearn.pipeline.Pipeline"


def test_lists_of_another_fit_are_refused(model, lists):
    refit = copy.copy(model)  # what a refit on the same data changes: its fit time
    refit.trained_at_ = "2027-01-01T00:00:00+00:00"
    assert lists.bind(refit) is None
    tuned = copy.copy(model).set_params(n_candidates=model.n_candidates + 1)
    assert lists.bind(tuned) is None


def test_unreadable_folders_say_what_to_do(lists, tmp_path):
    with pytest.raises(FileNotFoundError, match="--precompute"):
        PrecomputedRecommendations.load(tmp_path / "nothing")
    folder = lists.save(tmp_path / "p")
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(PrecomputedListsError, match="format 99"):
        PrecomputedRecommendations.load(folder)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    np.save(folder / "indptr.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(PrecomputedListsError, match="do not fit together"):
        PrecomputedRecommendations.load(folder)


def test_k_above_depth_is_answered_live(market, model, lists):
    bound = lists.bind(model)
    assert bound.answer(_ids(market)[0], 21) is None
    assert bound.misses["k above depth"] == 1


@pytest.fixture(scope="module")
def moved(market, model, lists):
    """The market a few hours later: the vacancy most often recommended closed, a copy
    of the second most recommended posted under a new id, one worker's skills edited."""
    a = lists.arrays
    stored_ids = np.asarray(a["vacancy_ids"])[a["entry_vacancy"]]
    ranked = pd.Series(stored_ids).value_counts().index
    closed_id, copied_id = ranked[0], ranked[1]
    vac = market.vacancies.copy()
    vac.loc[vac["vacancy_id"] == closed_id, "status"] = "closed"
    new = vac[vac["vacancy_id"] == copied_id].copy()
    new["vacancy_id"] = "V-NEW"
    vac = pd.concat([vac, new], ignore_index=True)
    workers = market.workers.copy()
    edited = workers["worker_id"].iloc[3]
    workers.loc[3, "skills"] = "电焊 氩弧焊 二保焊"
    later = Dataset(workers, market.employers, vac, market.events)
    serving = copy.copy(model).refresh(later)
    return {
        "model": serving,
        "bound": lists.bind(serving),
        "closed": closed_id,
        "edited": edited,
        "dataset": later,
    }


def test_after_changes_the_lists_know_what_changed(moved):
    bound = moved["bound"]
    assert bound is not None and not bound.same_catalogue and bound.usable
    cat = moved["model"].catalogue_
    delta_ids = set(cat.vp.ids.to_numpy(dtype=object)[cat.open_pos[bound.delta]])
    assert delta_ids == {"V-NEW"}


def test_after_changes_answers_are_current_and_eligible(market, moved):
    bound, serving = moved["bound"], moved["model"]
    cat = serving.catalogue_
    workers = cat.workers.set_index("worker_id")
    vacancies = cat.vacancies.set_index("vacancy_id")
    new_hits = same = answered = 0
    for w in _ids(market):
        got = bound.answer(w, 10)
        if w == moved["edited"]:
            assert got is None
            continue
        if got is None:
            continue
        answered += 1
        live = serving.recommend(w, 10)
        assert moved["closed"] not in set(got["vacancy_id"])
        for v in got["vacancy_id"]:
            assert not exclusions(workers.loc[w], vacancies.loc[v], at=cat.at)
        # each answered pair carries its current live score
        pairs = serving.pair_reasons([w] * len(got), list(got["vacancy_id"]))
        np.testing.assert_allclose(
            got["score"].to_numpy(dtype=float), pairs["score"].to_numpy(dtype=float), rtol=1e-12
        )
        new_hits += int((got["vacancy_id"] == "V-NEW").any())
        same += int(list(got["vacancy_id"]) == list(live["vacancy_id"]))
    assert bound.misses["worker new or changed"] == 1
    assert new_hits > 0  # the new vacancy reaches the workers it suits
    # away from market-wide drift (crowding of the closed vacancy's occupation), the
    # answer is the live one
    assert answered > 0.9 * (market.n_workers - 1)
    assert same > 0.9 * answered


def test_a_list_emptied_by_closures_is_answered_live(market, model):
    w = next(w for w in _ids(market) if len(model.recommend(w, 3, reasons=False)) == 3)
    lists = PrecomputedRecommendations.build(model, [w], depth=3)
    a = lists.arrays
    stored = list(np.asarray(a["vacancy_ids"])[a["entry_vacancy"]])
    assert len(stored) == 3
    vac = market.vacancies.copy()
    vac.loc[vac["vacancy_id"].isin(stored[:2]), "status"] = "filled"
    serving = copy.copy(model).refresh(
        Dataset(market.workers, market.employers, vac, market.events)
    )
    bound = lists.bind(serving)
    assert bound.answer(w, 2) is None
    assert bound.misses["list exhausted"] == 1
    assert list(bound.answer(w, 1)["vacancy_id"]) == list(serving.recommend(w, 1)["vacancy_id"])


def test_a_market_mostly_changed_is_answered_live(market, model, lists):
    vac = market.vacancies.copy()
    vac["title"] = vac["title"] + "（急招）"
    serving = copy.copy(model).refresh(
        Dataset(market.workers, market.employers, vac, market.events)
    )
    bound = lists.bind(serving)
    assert not bound.usable
    assert bound.answer(_ids(market)[0], 5) is None
    assert bound.misses["catalogue changed too much"] == 1


def test_a_parallel_build_stores_what_one_process_does(model, lists):
    forked = PrecomputedRecommendations.build(model, depth=20, block=64, n_jobs=2)
    for name, array in lists.arrays.items():
        np.testing.assert_array_equal(forked.arrays[name], array)
    assert forked.manifest["catalogue_key"] == lists.manifest["catalogue_key"]


#: The Recommender's parameters when precomputed lists were first stored (besides the
#: embedder): any parameter added since must be in ADDED_PARAMS with its "as before"
#: value, or the lists stored before it stop binding after an upgrade.
PARAMS_WHEN_LISTS_WERE_FIRST_STORED = {
    "apply_exposure", "apply_negatives", "calibration", "calibration_share", "epochs",
    "item_alpha", "lang", "learning_rate", "max_iter", "max_sampled", "n_candidates",
    "n_clusters", "no_components", "random_state", "ranker_folds", "ranker_holdout",
    "ranker_learning_rate", "ranker_max_workers", "ranker_negatives", "stages",
    "stay_weeks", "user_alpha",
}  # fmt: skip


def test_every_added_parameter_has_its_as_before_value():
    params = Recommender().get_params()
    added = set(params) - {"embedder"} - PARAMS_WHEN_LISTS_WERE_FIRST_STORED
    assert added == set(ADDED_PARAMS), "a new Recommender parameter needs ADDED_PARAMS"
