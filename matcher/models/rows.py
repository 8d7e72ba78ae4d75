"""Rows of a matrix with a few rows replaced or appended, without copying the matrix.

The served catalogue's vacancy text vectors (:class:`matcher.models.catalogue.Catalogue`
``v_dense``: 384 floats a row, ``v_lex``: a few hundred TF-IDF entries a row) are the
largest arrays an incremental catalogue update touched: splicing one posted or edited
vacancy into them copied every row (at 100,000 vacancies about 150 MB and 25 million
sparse entries). :class:`PatchedRows` keeps the matrix as it was (``base``, shared with
the catalogues before, never written) and the changed rows beside it (``patch``, at
the sorted ``positions``); reading rows looks the patch up first. Once the patch holds
more than :data:`PATCH_SHARE` of the rows, :meth:`PatchedRows.patched` folds it into a
new plain matrix (one copy, amortised over the updates before it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

#: Share of the rows a patch may hold before :meth:`PatchedRows.patched` folds it into a
#: plain matrix.
PATCH_SHARE = 0.05


class PatchedRows:
    """Row ``p`` is ``patch[j]`` where ``positions[j] == p``, else ``base[p]``.

    Parameters
    ----------
    base : numpy.ndarray or scipy.sparse.csr_matrix
        The matrix before the changes (not copied, not written).
    positions : numpy.ndarray of int
        Sorted, distinct row positions of the changed rows; those past the end of
        ``base`` must be ``len(base), len(base) + 1, ...`` (appended rows).
    patch : numpy.ndarray or scipy.sparse.csr_matrix
        The changed rows, in the order of ``positions`` (the kind of ``base``).
    """

    def __init__(self, base: Any, positions: np.ndarray, patch: Any) -> None:
        positions = np.asarray(positions, dtype=np.int64)
        n_base = base.shape[0]
        n = max(n_base, int(positions[-1]) + 1) if len(positions) else n_base
        if patch.shape[0] != len(positions):
            raise ValueError(f"{patch.shape[0]} patch rows for {len(positions)} positions")
        if len(positions) and (np.diff(positions) <= 0).any():
            raise ValueError("positions must be sorted and distinct")
        if np.count_nonzero(positions >= n_base) != n - n_base:
            raise ValueError("appended positions must follow the base matrix without a gap")
        self.base = base
        self.positions = positions
        self.patch = patch
        self.shape: tuple[int, int] = (n, base.shape[1])
        self.dtype = base.dtype

    @property
    def sparse(self) -> bool:
        return sp.issparse(self.base)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> Any:
        """Rows at ``index`` (an int array, a slice or an int), as ``base[index]``
        would give them (a dense row for an int, a matrix otherwise)."""
        if isinstance(index, (int, np.integer)):
            got = self[np.array([int(index)])]
            return got[0] if not self.sparse else got
        if isinstance(index, slice):
            index = np.arange(*index.indices(self.shape[0]))
        idx = np.asarray(index, dtype=np.int64)
        if idx.ndim != 1:
            raise IndexError("PatchedRows takes a 1-d index of rows")
        n = self.shape[0]
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        if len(self.positions) == 0:
            return self.base[idx]
        j = np.minimum(np.searchsorted(self.positions, idx), len(self.positions) - 1)
        hit = self.positions[j] == idx
        if not hit.any():
            return self.base[idx]
        if not self.sparse:
            out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
            out[~hit] = self.base[idx[~hit]]
            out[hit] = self.patch[j[hit]]
            return out
        stacked = sp.vstack([self.base[idx[~hit]], self.patch[j[hit]]], format="csr")
        where = np.concatenate([np.flatnonzero(~hit), np.flatnonzero(hit)])
        order = np.empty(len(idx), dtype=np.int64)
        order[where] = np.arange(len(idx))
        return stacked[order]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.materialise())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.materialise()
        dense = out.toarray() if sp.issparse(out) else out
        return dense if dtype is None else dense.astype(dtype)

    def materialise(self) -> Any:
        """The rows as one plain matrix (a copy)."""
        return self[np.arange(self.shape[0])]

    def patched(self, positions: np.ndarray, rows: Any) -> Any:
        """These rows with row ``positions[j]`` set to ``rows[j]`` (positions past the
        end appended, in order): a new :class:`PatchedRows` sharing ``base``, or a
        plain matrix once the patch would hold more than :data:`PATCH_SHARE` of the
        rows. This object is left as it was."""
        return patch_rows(self.base, self.positions, self.patch, positions, rows)


def patch_rows(
    base: Any,
    old_positions: np.ndarray,
    old_patch: Any,
    positions: np.ndarray,
    rows: Any,
) -> Any:
    """``base`` patched with ``old_patch`` at ``old_positions``, then with ``rows`` at
    ``positions`` (see :meth:`PatchedRows.patched`)."""
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0 and len(old_positions) == 0:
        return base
    sparse = sp.issparse(base)
    rows = sp.csr_matrix(rows, dtype=base.dtype) if sparse else np.asarray(rows, base.dtype)
    rows = rows.reshape(len(positions), base.shape[1]) if not sparse else rows
    # the new rows win over the old patch's rows at the same positions
    keep = ~np.isin(old_positions, positions)
    merged_pos = np.concatenate([old_positions[keep], positions])
    if sparse:
        merged = sp.vstack([old_patch[np.flatnonzero(keep)], rows], format="csr")
    else:
        merged = np.concatenate([old_patch[keep], rows])
    order = np.argsort(merged_pos, kind="stable")
    out = PatchedRows(base, merged_pos[order], merged[order])
    if len(merged_pos) > PATCH_SHARE * max(1, len(out)):
        return out.materialise()
    return out


def patched(matrix: Any, positions: np.ndarray, rows: Any) -> Any:
    """``matrix`` (plain or :class:`PatchedRows`) with row ``positions[j]`` set to
    ``rows[j]``, positions past its end appended in order; ``matrix`` is left as it
    was and shared (see :meth:`PatchedRows.patched`)."""
    if isinstance(matrix, PatchedRows):
        return matrix.patched(positions, rows)
    empty = matrix[:0] if not sp.issparse(matrix) else sp.csr_matrix((0, matrix.shape[1]))
    return patch_rows(matrix, np.zeros(0, np.int64), empty, positions, rows)


__all__ = ["PATCH_SHARE", "PatchedRows", "patch_rows", "patched"]
