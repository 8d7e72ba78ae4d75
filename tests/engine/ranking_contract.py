"""The behaviour contract every jobmatch ranking model keeps (the implicit-library habit).

A model's test class inherits :class:`RankingModelContract` and says only how to
build the model::

    class TestMyModel(RankingModelContract):
        def make_model(self):
            return MyModel(random_state=0)

The contract (see ``matcher/models/base.py``): outputs have the documented columns,
ranks 1..n with scores descending; an ineligible pair is never returned
(property-based over random markets); save -> load gives identical output;
refitting with the same seed gives identical output; workers and vacancies
without history get results; unknown ids raise ``KeyError``.

Other test folders import it with ``sys.path.insert(0, str(<repo>/tests/engine))``
then ``from ranking_contract import RankingModelContract``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_markets import random_market  # noqa: E402

from matcher.data.dataset import Dataset  # noqa: E402
from matcher.data.schema import Columns  # noqa: E402
from matcher.eligibility.rules import exclusions  # noqa: E402
from matcher.models.base import CANDIDATE_COLUMNS, RECOMMENDATION_COLUMNS  # noqa: E402


def ineligible_rows(dataset: Dataset, recs: pd.DataFrame) -> list[tuple[str, str, list]]:
    """(worker, vacancy, exclusions) of every returned pair that breaks a hard rule."""
    bad = []
    for w, v in zip(recs[Columns.Worker], recs[Columns.Vacancy], strict=True):
        excl = exclusions(dataset.worker(w), dataset.vacancy(v), at=None)
        if excl:
            bad.append((w, v, [str(e.code) for e in excl]))
    return bad


def check_well_formed(frame: pd.DataFrame, columns: list[str], group: str, k: int) -> None:
    assert list(frame.columns) == columns
    for _, g in frame.groupby(group, sort=False):
        assert len(g) <= k
        assert g[Columns.Rank].tolist() == list(range(1, len(g) + 1))
        scores = g[Columns.Score].to_numpy(dtype=float)
        assert np.all(np.isfinite(scores))
        assert np.all(np.diff(scores) <= 1e-12), "scores must not increase with rank"
        other = Columns.Vacancy if group == Columns.Worker else Columns.Worker
        assert g[other].is_unique, "an item appears twice in one list"
    for col in (Columns.Reasons, Columns.Warnings):
        assert all(isinstance(x, list) and all(isinstance(s, str) for s in x) for x in frame[col])


class RankingModelContract:
    """Inherit and define :meth:`make_model`; every test below must pass."""

    #: markets are small so that a fit takes well under a second
    market_size = {"n_workers": 30, "n_vacancies": 25, "n_employers": 6, "n_events": 150}

    def make_model(self):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def market(self, seed: int = 0) -> Dataset:
        return random_market(seed, **self.market_size)

    # ------------------------------------------------------------------ output shape

    def test_recommendations_well_formed(self):
        ds = self.market(1)
        model = self.make_model().fit(ds)
        ids = list(ds.workers[Columns.Worker])
        recs = model.recommend_many(ids, k=5)
        check_well_formed(recs, RECOMMENDATION_COLUMNS, Columns.Worker, 5)
        assert set(recs[Columns.Worker]) <= set(ids)
        assert len(recs) > 0, "a market with open vacancies must give some recommendations"
        one = model.recommend(ids[0], k=3)
        check_well_formed(one, RECOMMENDATION_COLUMNS, Columns.Worker, 3)
        assert set(one[Columns.Worker]) <= {ids[0]}

    def test_candidates_well_formed(self):
        ds = self.market(2)
        model = self.make_model().fit(ds)
        open_ids = list(ds.open_vacancies()[Columns.Vacancy])
        assert open_ids
        for vid in open_ids[:5]:
            cands = model.candidates(vid, k=4)
            check_well_formed(cands, CANDIDATE_COLUMNS, Columns.Vacancy, 4)
            assert set(cands[Columns.Vacancy]) <= {vid}
            assert not ineligible_rows(ds, cands)

    # ------------------------------------------------------------------ eligibility

    @settings(
        max_examples=3,
        deadline=None,
        # each model's class runs the same property; a market depends only on its seed
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
        ],
    )
    @given(seed=st.integers(0, 10_000))
    def test_never_returns_an_ineligible_pair(self, seed):
        ds = self.market(seed)
        model = self.make_model().fit(ds)
        recs = model.recommend_many(list(ds.workers[Columns.Worker]), k=10)
        assert not ineligible_rows(ds, recs)
        open_ids = set(ds.open_vacancies()[Columns.Vacancy])
        assert set(recs[Columns.Vacancy]) <= open_ids, "only open vacancies with seats"
        for vid in sorted(open_ids)[:3]:
            assert not ineligible_rows(ds, model.candidates(vid, k=10))

    # ------------------------------------------------------------------ determinism

    def test_save_load_gives_identical_recommendations(self, tmp_path):
        ds = self.market(3)
        model = self.make_model().fit(ds)
        ids = list(ds.workers[Columns.Worker])
        before = model.recommend_many(ids, k=5)
        path = model.save(tmp_path / "model")
        loaded = type(model).load(path)
        pd.testing.assert_frame_equal(before, loaded.recommend_many(ids, k=5))
        vid = ds.open_vacancies()[Columns.Vacancy].iloc[0]
        pd.testing.assert_frame_equal(model.candidates(vid, 5), loaded.candidates(vid, 5))

    def test_refit_with_same_seed_is_identical(self):
        ds = self.market(4)
        ids = list(ds.workers[Columns.Worker])
        a = self.make_model().fit(ds).recommend_many(ids, k=5)
        model = self.make_model().fit(self.market(5))  # refitting replaces all state
        b = model.fit(ds).recommend_many(ids, k=5)
        pd.testing.assert_frame_equal(a, b)

    # ------------------------------------------------------------------ cold start

    def test_workers_and_vacancies_without_history_get_results(self):
        ds = self.market(6)
        model = self.make_model().fit(ds)
        ev = ds.events
        cold_workers = [w for w in ds.workers[Columns.Worker] if w not in set(ev[Columns.Worker])]
        # a fresh worker with no history who may go anywhere and do anything
        fresh = ds.workers.iloc[[0]].copy()
        fresh[Columns.Worker] = "W_fresh"
        fresh["mobility"] = "any"
        fresh["max_commute_km"] = np.nan
        fresh["labor_capacity"] = "full"
        fresh["languages"] = [["zh", "bo"]]
        fresh["birth_year"] = 1995
        workers = pd.concat([ds.workers, fresh], ignore_index=True)
        # a vacancy with no events, open to all
        new_v = ds.vacancies.iloc[[0]].copy()
        new_v[Columns.Vacancy] = "V_fresh"
        new_v["status"] = "open"
        new_v["headcount"] = 3
        new_v["languages"] = [[]]
        new_v["min_age"] = pd.array([pd.NA], dtype="Int64")
        new_v["max_age"] = pd.array([pd.NA], dtype="Int64")
        new_v["channel"] = "public_welfare_post"  # open to every labour capacity
        new_v["region"] = fresh["home_region"].iloc[0]
        vacancies = pd.concat([ds.vacancies, new_v], ignore_index=True)
        ds2 = Dataset(workers, ds.employers, vacancies, ev)
        model = self.make_model().fit(ds2)
        assert len(model.recommend("W_fresh", k=5)) > 0
        assert len(model.candidates("V_fresh", k=5)) > 0
        for w in cold_workers[:3]:
            model.recommend(w, k=5)  # served, not refused

    def test_unknown_ids_raise_key_error(self):
        ds = self.market(7)
        model = self.make_model().fit(ds)
        with pytest.raises(KeyError, match="no-such-worker"):
            model.recommend("no-such-worker")
        with pytest.raises(KeyError, match="no-such-vacancy"):
            model.candidates("no-such-vacancy")
