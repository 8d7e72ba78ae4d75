"""The request path's cheaper formulations give the numbers of the ones they replaced:
each is checked against the plain per-pair (or per-frame) computation on the same
inputs, bit for bit where the scores depend on it."""

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

from matcher.data.schema import Columns  # noqa: E402
from matcher.models.base import RECOMMENDATION_COLUMNS  # noqa: E402
from matcher.models.features import (  # noqa: E402
    county_keys,
    flow_keys,
    occupation_match_level,
    pair_matrix,
)
from matcher.models.scoring import (  # noqa: E402
    candidate_runs,
    pair_dot,
    rowwise_dot,
    worker_runs,
)
from matcher.serving.recommender import BLOCK, Recommender  # noqa: E402

FAST = fast_params()


@pytest.fixture(scope="module")
def fitted() -> tuple[object, Recommender]:
    ds = random_market(33, n_workers=90, n_vacancies=70, n_events=1000)
    return ds, Recommender(**FAST).fit(ds)


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dim", [8, 34, 64, 256, 384])
def test_pair_dot_is_the_rowwise_dot_bit_for_bit(dim):
    rng = np.random.default_rng(dim)
    w = rng.standard_normal((12, dim)).astype(np.float32)
    v = rng.standard_normal((500, dim)).astype(np.float32)
    # a request's and a block's shape (runs of one worker), then a vacancy's (scattered)
    sizes = rng.integers(1, 300, 12)
    runs = np.repeat(rng.permutation(12), sizes)
    scattered = rng.integers(0, 12, 400)
    for wi in (runs, scattered, runs[:1], runs[:0]):
        vi = rng.integers(0, 500, len(wi))
        _same_bits(pair_dot(w, v, wi, vi), rowwise_dot(w[wi], v[vi]))


def test_worker_runs_bound_the_runs_of_equal_values():
    wi = np.array([3, 3, 3, 1, 1, 3, 0])
    assert worker_runs(wi).tolist() == [0, 3, 5, 6, 7]
    assert worker_runs(wi[:0]).tolist() == [0]


def test_pair_values_on_the_catalogue_take_the_plain_retrieval_scores(fitted):
    _, model = fitted
    cat = model.catalogue_
    gen = model.candidate_generator
    block = np.arange(min(BLOCK, len(cat.wp.ids)), dtype=np.int64)
    runs = list(candidate_runs(block, gen.for_workers(cat, block), cat.open_pos))
    assert runs
    for wi, vi in runs:
        values, _ = model.scorer.pair_values(cat, wi, vi)
        for name, w_rows, v_rows in (
            ("lightfm", cat.w_lfm, cat.v_lfm),
            ("dense", cat.w_dense, cat.v_dense),
        ):
            col = values[:, list(model.scorer.pair_frame(cat, wi[:1], vi[:1]).columns).index(name)]
            np.testing.assert_array_equal(col, rowwise_dot(w_rows[wi], v_rows[vi]).astype(float))


def test_occupation_levels_by_distinct_code_equal_the_per_pair_levels(fitted):
    _, model = fitted
    cat = model.catalogue_
    rng = np.random.default_rng(5)
    wk = cat.wp.code_keys
    vk = cat.vp.code_keys
    # the market must hold matches at several levels, or the comparison proves little
    wi = np.r_[rng.integers(0, len(wk), 600), np.full(90, 4)]
    vi = np.r_[rng.integers(0, len(vk), 600), np.arange(90) % len(vk)]
    want = occupation_match_level(wk[wi], vk[vi])
    assert len(np.unique(want)) >= 2
    values, _ = model.scorer.pair_values(cat, wi, vi)
    cols = list(model.scorer.pair_frame(cat, wi[:1], vi[:1]).columns)
    np.testing.assert_array_equal(values[:, cols.index("occ_match")], want.astype(float))


def test_flow_of_county_keys_equals_the_flow_of_county_codes(fitted):
    _, model = fitted
    stats = model.retrieval_.stats
    cat = model.catalogue_
    rng = np.random.default_rng(2)
    wi = rng.integers(0, len(cat.wp.ids), 500)
    vi = rng.integers(0, len(cat.vp.ids), 500)
    county = np.r_[cat.wp.county[wi], np.array([None, "52x301", np.nan], dtype=object)]
    province = np.r_[cat.vp.province[vi], [44, 44, 33]]
    want = stats.flow(county, province)
    assert want.sum() > 0
    np.testing.assert_array_equal(stats.flow_of_keys(county_keys(county), province), want)
    keys = county_keys(county)
    np.testing.assert_array_equal(
        np.where((keys >= 0) & (province >= 0), keys * 100 + province, -1),
        flow_keys(county, province),
    )


def test_exposure_left_by_distinct_worker_equals_the_per_pair_call(fitted):
    _, model = fitted
    stats = model.retrieval_.stats
    cat = model.catalogue_
    rng = np.random.default_rng(8)
    ids = cat.wp.ids.to_numpy(dtype=object)
    distinct = ids[rng.choice(len(ids), 20, replace=False)]
    codes = rng.integers(0, 20, 700)
    vids = cat.vp.ids.to_numpy(dtype=object)[rng.integers(0, len(cat.vp.ids), 700)]
    want = stats.worker_exposure_left_log(distinct[codes], vids)
    assert len(np.unique(want)) > 1
    np.testing.assert_array_equal(stats.exposure_left_log_by_worker(distinct, codes, vids), want)


def test_pair_matrix_of_one_worker_equals_its_rows_in_a_scattered_call(fitted):
    """The features of a worker's run (the request shape: distinct workers, codes and
    regions coded once) are the rows the same pairs get among other workers' pairs."""
    _, model = fitted
    cat = model.catalogue_
    rng = np.random.default_rng(11)
    stats = model.retrieval_.stats
    for w in (0, 7, 31):
        vi = rng.permutation(len(cat.vp.ids))
        others = rng.integers(0, len(cat.wp.ids), len(vi))
        mixed = np.where(np.arange(len(vi)) % 2 == 0, w, others)
        picked = mixed == w

        def features(wi, vi):
            n = len(wi)
            return pair_matrix(
                cat.wp,
                cat.vp,
                cat.vctx,
                stats,
                wi,
                vi,
                lightfm=np.zeros(n),
                dense=np.zeros(n),
                lexical=np.zeros(n),
                year=cat.year,
            )

        one, code_one = features(np.full(int(picked.sum()), w), vi[picked])
        mix, code_mix = features(mixed, vi)
        np.testing.assert_array_equal(one, mix[picked])
        assert list(code_one) == list(code_mix[picked])


def _recommend_many_by_frames(model: Recommender, ids: list, k: int, lang: str, reasons: bool):
    """``recommend_many`` as it was: a frame per run of ``rank_pairs``, concatenated,
    ordered by the given workers and their ranks, columns picked."""
    cat = model.catalogue_
    positions = cat.wp.ids.get_indexer(pd.Index(ids, dtype=object))
    gen = model.candidate_generator
    frames = []
    for start in range(0, len(positions), BLOCK):
        block = positions[start : start + BLOCK]
        for wi, vi in candidate_runs(block, gen.for_workers(cat, block), cat.open_pos):
            frames.append(model.rank_pairs(wi, vi, k, lang, by="worker", reasons=reasons))
    if not frames:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(positions) > 1:
        given = pd.Index(list(dict.fromkeys(ids)), dtype=object)
        key = given.get_indexer(out[Columns.Worker].to_numpy(dtype=object))
        out = out.take(np.lexsort((out[Columns.Rank].to_numpy(), key)))
    return out[RECOMMENDATION_COLUMNS].reset_index(drop=True)


@pytest.mark.parametrize("reasons", [False, True])
def test_recommend_many_equals_the_frame_by_frame_answer(fitted, reasons):
    ds, model = fitted
    ids = list(ds.workers[Columns.Worker])
    rng = np.random.default_rng(4)
    # more workers than a block, in a shuffled order, one asked twice; then one worker
    asked = [*rng.permutation(ids).tolist(), ids[3]]
    assert len(asked) > BLOCK
    served = model.recommend_many(asked, 10, lang="en", reasons=False)[Columns.Worker]
    alone = [[w] for w in asked[:12]]
    assert any(w[0] in set(served) for w in alone) and any(w[0] not in set(served) for w in alone)
    for group, k in ((asked, 10), (asked[:5], 3), *((w, 10) for w in alone)):
        got = model.recommend_many(group, k, lang="en", reasons=reasons)
        want = _recommend_many_by_frames(model, group, k, "en", reasons)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
