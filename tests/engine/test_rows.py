"""PatchedRows: a matrix with rows replaced and appended reads as the spliced copy
would, for dense and sparse rows, after a chain of patches, without writing the
matrix it started from."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from matcher.models import rows
from matcher.models.rows import PatchedRows, patched


def _splice(old, positions, new):
    """The plain copy: row positions[j] set to new[j], positions past the end appended."""
    n = max(old.shape[0], int(max(positions, default=-1)) + 1)
    dense = np.zeros((n, old.shape[1]), dtype=np.float32)
    dense[: old.shape[0]] = old.toarray() if sp.issparse(old) else old
    new = new.toarray() if sp.issparse(new) else new
    dense[np.asarray(positions, dtype=np.int64)] = new
    return dense


def _as_dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x)


@pytest.mark.parametrize("sparse", [False, True])
def test_a_chain_of_patches_reads_as_the_spliced_copies(sparse, monkeypatch):
    monkeypatch.setattr(rows, "PATCH_SHARE", 1.0)  # never fold: read through the patch
    rng = np.random.default_rng(0)

    def matrix(n):
        m = rng.random((n, 6)).astype(np.float32) * (rng.random((n, 6)) < 0.4)
        return sp.csr_matrix(m) if sparse else m

    base = matrix(50)
    kept = _as_dense(base).copy()
    reference = _as_dense(base)
    current = base
    for step in range(6):
        n = current.shape[0]
        edited = rng.choice(n, 3, replace=False)
        positions = np.concatenate([edited, n + np.arange(step % 3)])
        new = matrix(len(positions))
        current = patched(current, positions, new)
        reference = _splice(reference, positions, new)
        assert isinstance(current, PatchedRows)
        assert current.shape == reference.shape
        np.testing.assert_array_equal(_as_dense(current.materialise()), reference)
        picks = rng.integers(0, len(reference), 40)
        np.testing.assert_array_equal(_as_dense(current[picks]), reference[picks])
        np.testing.assert_array_equal(_as_dense(current[3:9]), reference[3:9])
        np.testing.assert_array_equal(_as_dense(current[-1:]), reference[-1:])
    np.testing.assert_array_equal(_as_dense(base), kept)  # never written


def test_a_dense_patch_reads_like_an_array():
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    got = PatchedRows(base, np.array([1, 4]), np.full((2, 3), -1.0, dtype=np.float32))
    np.testing.assert_array_equal(got[1], [-1, -1, -1])
    np.testing.assert_array_equal(got[2], base[2])
    np.testing.assert_array_equal(np.asarray(got)[4], [-1, -1, -1])
    assert [list(r) for r in got][0] == [0, 1, 2]
    assert len(got) == 5


def test_the_patch_is_folded_once_it_holds_a_share_of_the_rows():
    base = np.zeros((100, 2), dtype=np.float32)
    small = patched(base, np.array([3]), np.ones((1, 2)))
    assert isinstance(small, PatchedRows) and small.base is base
    big = patched(small, np.arange(10, 10 + int(rows.PATCH_SHARE * 100) + 1), np.ones((6, 2)))
    assert isinstance(big, np.ndarray)
    assert big[3].sum() == 2 and big[12].sum() == 2 and big[50].sum() == 0


def test_bad_patches_are_refused():
    base = np.zeros((4, 2))
    with pytest.raises(ValueError, match="positions"):
        PatchedRows(base, np.array([2, 1]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="gap"):
        PatchedRows(base, np.array([6]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="patch rows"):
        PatchedRows(base, np.array([1]), np.zeros((2, 2)))
    with pytest.raises(IndexError):
        PatchedRows(base, np.array([1]), np.zeros((1, 2)))[np.array([4])]
