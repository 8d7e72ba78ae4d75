"""The request path's cheaper formulations give the numbers of the ones they replaced:
each is checked against the plain per-pair (or per-frame) computation on the same
inputs, bit for bit where the scores depend on it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from engine_markets import fast_params, random_market  # noqa: E402

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
