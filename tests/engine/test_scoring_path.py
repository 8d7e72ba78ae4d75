"""The request path: vectorised pair features against per-pair references, reasons
on demand, and the narrow (eligible-only) scoring of a single request."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params, random_market  # noqa: E402

from matcher.data.reference import prefecture_of, province_of  # noqa: E402
from matcher.data.schema import Columns  # noqa: E402
from matcher.models.features import (  # noqa: E402
    PAIR_COLUMNS,
    RANKER_COLUMNS,
    CountTable,
    SparseCountTable,
    flow_keys,
)
from matcher.serving.recommender import Recommender  # noqa: E402

FAST = fast_params()


@pytest.fixture(scope="module")
def fitted() -> tuple[object, Recommender]:
    ds = random_market(21, n_workers=80, n_vacancies=60, n_events=900)
    return ds, Recommender(**FAST).fit(ds)


def _scipy_lookup(table: SparseCountTable, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cells of ``table`` by scipy fancy indexing; a missing key (-1) reads the
    table's last row or column, which holds no counts."""
    m = table.sparse_
    return np.asarray(
        m[np.where(r < 0, m.shape[0] - 1, r), np.where(c < 0, m.shape[1] - 1, c)]
    ).ravel()


def test_sparse_lookup_positions_equal_scipy_fancy_indexing():
    rng = np.random.default_rng(0)
    rows = rng.choice([f"w{i}" for i in range(40)], 300).astype(object)
    cols = rng.choice([f"v{i}" for i in range(50)], 300).astype(object)
    table = SparseCountTable(rows, cols, rng.random(300))
    r = rng.integers(-1, len(table.rows_), 2000)
    c = rng.integers(-1, len(table.cols_), 2000)
    expected = _scipy_lookup(table, r, c)
    np.testing.assert_array_equal(table.lookup_positions(r, c), expected)
    assert table.lookup_positions(np.zeros(0, int), np.zeros(0, int)).shape == (0,)


def test_flow_keys_equal_the_per_pair_rule():
    county = np.array(["542427", None, "52x301", "110101", np.nan, "542427"], dtype=object)
    province = np.array([44, 44, 44, -1, 33, 33])
    expected = [
        int(c) * 100 + int(p) if isinstance(c, str) and c.isdigit() and p >= 0 else -1
        for c, p in zip(county, province, strict=True)
    ]
    np.testing.assert_array_equal(flow_keys(county, province), expected)
    assert flow_keys(np.zeros(0, object), np.zeros(0, int)).shape == (0,)


def _reference_features(model: Recommender, wi: np.ndarray, vi: np.ndarray) -> dict:
    """The lookup-based columns, computed pair by pair through the public tables."""
    cat, stats = model.catalogue_, model.retrieval_.stats
    county = cat.wp.county[wi]
    employer = cat.vp.employer[vi]
    wids = cat.wp.ids.to_numpy(dtype=object)[wi]
    vids = cat.vp.ids.to_numpy(dtype=object)[vi]
    flows = dict(zip(stats.flows_.index.tolist(), stats.flows_.tolist(), strict=True))
    out: dict[str, list[float]] = {c: [] for c in ("flow", "language_fit", "preferred_region")}
    for i, j in zip(wi, vi, strict=True):
        c, p = cat.wp.county[i], cat.vp.province[j]
        key = int(c) * 100 + int(p) if isinstance(c, str) and c.isdigit() and p >= 0 else -1
        out["flow"].append(float(flows.get(key, 0.0)))
        need = cat.vp.languages[j]
        out["language_fit"].append(float(not need or need <= cat.wp.languages[i]))
        s, r = cat.wp.preferred[i], cat.vp.region[j]
        hit = bool(s) and isinstance(r, str) and bool({r, province_of(r), prefecture_of(r)} & s)
        out["preferred_region"].append(float(hit))
    views = stats.ties_["views"]
    for name in ("views", "applied", "hired"):
        out[f"tie_{name}_log"] = list(np.log1p(stats.ties_[name].lookup(county, employer)))
    out["flow_applied_log"] = list(
        np.log1p(stats.province_applied_.lookup(county, cat.vp.province[vi]))
    )
    out["pref_applied_log"] = list(
        np.log1p(stats.prefecture_applied_.lookup(county, cat.vp.prefecture[vi]))
    )
    wv, we = stats.worker_vacancy_, stats.worker_employer_
    seen = _scipy_lookup(wv, wv.row_pos(wids), wv.col_pos(vids))
    out["worker_seen_vacancy"] = list(seen)
    seen_e = _scipy_lookup(we, we.row_pos(wids), we.col_pos(employer))
    out["worker_seen_employer_log"] = list(np.log1p(seen_e))
    assert isinstance(views, CountTable)
    return out


def test_pair_features_equal_per_pair_lookups_on_random_pairs(fitted):
    _, model = fitted
    cat = model.catalogue_
    rng = np.random.default_rng(3)
    # random pairs plus one worker's many pairs (the request shape), warm and cold
    wi = np.r_[rng.integers(0, len(cat.wp.ids), 400), np.full(60, 7)]
    vi = np.r_[rng.integers(0, len(cat.vp.ids), 400), np.arange(60) % len(cat.vp.ids)]
    feats = model.scorer.pair_frame(cat, wi, vi)
    assert list(feats.columns) == [*PAIR_COLUMNS, "matched_code"]
    assert feats.columns[: len(RANKER_COLUMNS)].tolist() == RANKER_COLUMNS
    ref = _reference_features(model, wi, vi)
    # the market must exercise the lookups, or the comparison proves nothing
    assert np.sum(ref["worker_seen_vacancy"]) > 0 and np.sum(ref["tie_views_log"]) > 0
    assert 0 < np.sum(ref["language_fit"]) < len(wi)
    for name, expected in ref.items():
        np.testing.assert_allclose(feats[name].to_numpy(), expected, err_msg=name)
    # one pair at a time gives the same rows as the batch
    single = pd.concat(
        [model.scorer.pair_frame(cat, wi[k : k + 1], vi[k : k + 1]) for k in (0, 401)],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(
        single, feats.iloc[[0, 401]].reset_index(drop=True), check_exact=False
    )


def test_reasons_false_ranks_and_scores_the_same(fitted):
    ds, model = fitted
    ids = list(ds.workers[Columns.Worker][:25])
    with_reasons = model.recommend_many(ids, k=5)
    without = model.recommend_many(ids, k=5, reasons=False)
    keys = [Columns.Worker, Columns.Rank, Columns.Vacancy, Columns.Score]
    pd.testing.assert_frame_equal(with_reasons[keys], without[keys])
    assert without[Columns.Reasons].isna().all() and without[Columns.Warnings].isna().all()
    assert with_reasons[Columns.Reasons].map(len).sum() > 0
    served = with_reasons[Columns.Worker].iloc[0]
    single = model.recommend(served, k=5, reasons=False)
    pd.testing.assert_frame_equal(
        single[keys], with_reasons[with_reasons[Columns.Worker] == served][keys]
    )


def test_narrow_single_request_equals_the_batched_path(fitted):
    """A single request scores only the eligible vacancies; a block of several workers
    scores every open vacancy. Both must pick the same candidates and scores."""
    from matcher.models.retrieval import NARROW_SHARE

    ds, model = fitted
    cat = model.catalogue_
    shares = [model.worker_mask(cat, w).mean() for w in range(len(cat.wp.ids))]
    assert min(shares) < NARROW_SHARE <= max(shares), "both paths must be exercised"
    model.set_params(n_candidates=4)  # make candidate selection matter
    try:
        ids = list(ds.workers[Columns.Worker])
        batched = model.recommend_many(ids, k=3, reasons=False)
        for wid in ids:
            one = model.recommend(wid, k=3, reasons=False)
            both = batched[batched[Columns.Worker] == wid].reset_index(drop=True)
            if len(both) == 0:  # nothing eligible: an empty frame either way
                assert len(one) == 0
                continue
            pd.testing.assert_frame_equal(one, both, check_exact=False)
    finally:
        model.set_params(n_candidates=FAST.get("n_candidates", 100))


def test_pair_reasons_explain_chosen_pairs_like_recommend(fitted):
    ds, model = fitted
    recs = model.recommend_many(list(ds.workers[Columns.Worker][:10]), k=2)
    out = model.pair_reasons(recs[Columns.Worker], recs[Columns.Vacancy])
    assert list(out[Columns.Worker]) == list(recs[Columns.Worker])
    np.testing.assert_allclose(out[Columns.Score], recs[Columns.Score])
    assert list(out[Columns.Reasons]) == list(recs[Columns.Reasons])
    assert list(out[Columns.Warnings]) == list(recs[Columns.Warnings])


def test_rank_chunks_split_the_block_into_consecutive_runs_within_the_limit():
    """How the batched paths split a block of workers' candidate lists into ranking
    calls: every worker once, in order, each run at most ``limit`` pairs unless one
    worker alone has more, and a new run only when the next worker would pass it."""
    from matcher.models.scoring import rank_chunks

    rng = np.random.default_rng(3)
    for _ in range(50):
        sizes = rng.integers(0, 40, rng.integers(0, 30))
        if len(sizes) and rng.random() < 0.3:
            sizes[rng.integers(len(sizes))] = 120  # one worker above the limit
        runs = rank_chunks(sizes, limit=100)
        flat = np.concatenate(runs) if runs else np.zeros(0, dtype=np.int64)
        np.testing.assert_array_equal(flat, np.arange(len(sizes)))
        for j, run in enumerate(runs):
            assert len(run) and np.all(np.diff(run) == 1)
            total = int(sizes[run].sum())
            assert total <= 100 or len(run) == 1
            if j + 1 < len(runs):  # closed only because the next worker would pass it
                assert total + int(sizes[runs[j + 1][0]]) > 100
    assert rank_chunks(np.array([], dtype=np.int64)) == []
    assert [r.tolist() for r in rank_chunks(np.array([60, 50, 0, 40]), limit=100)] == [
        [0],
        [1, 2, 3],
    ]


def test_candidate_runs_hold_every_candidate_pair_once_in_order():
    """The pairs the batched paths rank: each worker's candidates, as catalogue positions,
    in the order of the block and of each list, split as ``rank_chunks`` splits them,
    runs of workers without candidates left out."""
    from matcher.models.scoring import candidate_runs

    block = np.array([7, 3, 9, 4])
    open_pos = np.array([100, 101, 102, 103, 104])
    unions = [np.array([0, 2]), np.array([], dtype=np.int64), np.array([4, 1, 3]), np.array([2])]
    runs = list(candidate_runs(block, unions, open_pos, limit=3))
    assert [(w.tolist(), v.tolist()) for w, v in runs] == [
        ([7, 7], [100, 102]),  # worker 3 has none; worker 9's 3 would pass the limit
        ([9, 9, 9], [104, 101, 103]),
        ([4], [102]),
    ]
    assert all(w.dtype == np.int64 for w, _ in runs)
    assert list(candidate_runs(block[:2], unions[1:2] * 2, open_pos)) == []
