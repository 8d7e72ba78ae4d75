"""Recommendations computed ahead of the requests that ask for them.

Why
---
A live :meth:`Recommender.recommend` scores every open vacancy for the worker
(retrieval over the whole vacancy matrix, eligibility, pair features and the boosted
ranker for a few hundred candidates): tens of milliseconds of CPU at 100,000 open
vacancies. Most of that work gives the same answer all day long, so it is done once,
off the request path, for every worker (:meth:`PrecomputedRecommendations.build`,
``jobmatch recommend --all --precompute``; a province's run is embarrassingly
parallel over workers, like the nightly scoring). The service then answers from the
stored lists and re-ranks only a handful of pairs per request.

What is stored
--------------
For one fitted model (its *fit key*) and one served catalogue (its *catalogue key*):
each worker's ``depth`` best vacancies as :meth:`Recommender.recommend_many` ranks
them, a digest of each worker's record, and the catalogue's open vacancies with a
digest of each record. Arrays are ``.npy`` files read memory-mapped, so the service's
worker processes share one copy in the page cache.

Answering while the market moves
--------------------------------
The service's catalogue changes during the day (vacancies posted, filled, closed or
edited; workers registered or edited; see ``service.domain.CatalogueSync``).
:meth:`PrecomputedRecommendations.bind` compares the serving model's catalogue with
the stored one once per catalogue; :meth:`BoundRecommendations.answer` then serves a
worker by re-ranking, with the serving model (:meth:`Recommender.recommend_among`):

* the worker's stored vacancies that are still open and unchanged, plus
* every open vacancy that is new or changed since the lists were built (the
  *delta*), which goes through the same retrieval as a live request.

Re-ranking recomputes each pair's features, eligibility and score against the
current catalogue, so a filled, closed or expired vacancy, one the worker has since
applied to, or a rule that no longer holds drops out, and scores are current. When
the catalogue is the one the lists were built on, the answer *is* ``recommend(worker,
k)``: the ``k`` best of the stored ``depth`` are its ``k`` best, re-scored on the
same data. After changes, a vacancy outside a worker's stored ``depth`` whose score
rose only through market-wide context (how crowded its occupation is among open
vacancies, its age) is not reconsidered until the lists are rebuilt; rebuilding
nightly bounds that drift to a day.

A request is answered live instead (``answer`` returns ``None`` and says why in
:attr:`BoundRecommendations.misses`) when: the lists belong to another model fit;
``k`` exceeds ``depth``; the worker is not in the lists or their record changed; the
worker's stored list was full and fewer than ``k`` of its vacancies survive; or more
than :data:`MAX_DELTA_SHARE` of the open vacancies are new or changed (re-ranking
them would cost what a live request costs).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher.artifacts import original_class_path
from matcher.data.schema import PERSONAL_FIELDS, VACANCIES, WORKERS, Columns, TableSpec
from matcher.models.config import LEGACY_VALUES

if TYPE_CHECKING:
    from matcher.serving.recommender import Recommender

#: Layout version of a saved folder; bump when an older folder can no longer be read.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Vacancies kept per worker by default: the largest ``k`` answered from the lists,
#: plus room for vacancies that close during the day.
DEPTH = 50
#: Share of the open vacancies that may be new or changed since the build before the
#: lists stop being worth re-ranking against.
MAX_DELTA_SHARE = 0.5
_ARRAYS = (
    "worker_ids",
    "worker_digest",
    "indptr",
    "entry_vacancy",
    "entry_score",
    "vacancy_ids",
    "vacancy_digest",
)


class PrecomputedListsError(RuntimeError):
    """A folder of precomputed recommendations that cannot be read; says why."""


#: Recommender parameters added after precomputed lists were first stored, with the value
#: a model trained before them behaves as (:func:`fit_key` leaves them out at it).
ADDED_PARAMS: dict[str, object] = LEGACY_VALUES
_NOT_ADDED = object()


def fit_key(model: Recommender) -> str:
    """Identity of a fitted model: the same after save and load, and after a
    catalogue refresh (which keeps the fit); different for any other fit."""
    model.check_fitted()
    # repr strings, as lists built before the typed config hashed them (same key); a
    # parameter added since lists were first stored is left out at the value that
    # means "as before", so lists stored by the code before it still bind
    params = {
        k: repr(v)
        for k, v in model.get_params().items()
        if k != "embedder" and ADDED_PARAMS.get(k, _NOT_ADDED) != v
    }
    parts = [
        # the class as spelled before the subpackage move, so lists built then still bind
        original_class_path(f"{type(model).__module__}.{type(model).__qualname__}"),
        str(model.trained_at_),
        str(model.data_fingerprint_),
        str(model.version_),
        type(model.embedder_).__name__,
        json.dumps(params, sort_keys=True),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def row_digests(frame: pd.DataFrame, table: TableSpec) -> np.ndarray:
    """One 64-bit digest per row of ``frame``: its data-contract columns of ``table``
    but personal data (which no recommendation reads, and a store-loaded snapshot
    leaves out), values as text. Columns a store adds (the normaliser's confidence...)
    are left out, so a snapshot read from the store and one built from files agree."""
    if len(frame) == 0:
        return np.zeros(0, dtype=np.uint64)
    used = frame[[c for c in table.columns if c in frame.columns and c not in PERSONAL_FIELDS]]
    return pd.util.hash_pandas_object(used.astype(str), index=False).to_numpy(dtype=np.uint64)


#: The model forked block scorers read (set only while a parallel build runs).
_FORKED_MODEL: list[Any] = [None]


def _score_block(
    model: Any, worker_ids: list[str], depth: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per worker its number of rows, then every row's vacancy id and score."""
    frame = model.recommend_many(worker_ids, depth, reasons=False)
    # recommend_many groups rows by worker in the order given, best first
    n = frame.groupby(Columns.Worker, sort=False).size().reindex(worker_ids).fillna(0)
    return (
        n.to_numpy(dtype=np.int64),
        frame[Columns.Vacancy].to_numpy(dtype=object),
        frame[Columns.Score].to_numpy(dtype=np.float32),
    )


def _score_forked(args: tuple[list[str], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _score_block(_FORKED_MODEL[0], *args)


def _score_blocks(model: Any, blocks: list[list[str]], depth: int, n_jobs: int):
    """:func:`_score_block` of each block, in order; ``n_jobs`` forked processes."""
    import multiprocessing

    if n_jobs <= 1 or len(blocks) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for part in blocks:
            yield _score_block(model, part, depth)
        return
    _FORKED_MODEL[0] = model
    try:
        with multiprocessing.get_context("fork").Pool(n_jobs) as pool:
            yield from pool.imap(_score_forked, [(part, depth) for part in blocks])
    finally:
        _FORKED_MODEL[0] = None


class _CatalogueView:
    """What the lists compare of a served catalogue: ids and record digests of its
    workers and open vacancies, and a key of everything a recommendation reads."""

    def __init__(self, model: Any) -> None:
        cat = model.catalogue
        self.worker_ids = cat.wp.ids.to_numpy(dtype=object)
        self.worker_digest = row_digests(cat.workers, WORKERS)
        self.open_ids = cat.vp.ids.to_numpy(dtype=object)[cat.open_pos]
        self.open_digest = row_digests(cat.vacancies.iloc[cat.open_pos], VACANCIES)
        h = hashlib.sha256()
        for part in (
            str(cat.at).encode(),
            "\x1f".join(map(str, self.worker_ids)).encode(),
            self.worker_digest.tobytes(),
            "\x1f".join(map(str, self.open_ids)).encode(),
            self.open_digest.tobytes(),
            np.asarray(cat.pursued.indptr, dtype=np.int64).tobytes(),
            np.asarray(cat.pursued.indices, dtype=np.int64).tobytes(),
        ):
            h.update(part)
            h.update(b"\x1e")
        self.key = h.hexdigest()


class PrecomputedRecommendations:
    """Every worker's best vacancies, computed ahead for one model and catalogue.

    Build with :meth:`build`, write with :meth:`save`, read with :meth:`load`, and
    answer requests through :meth:`bind` (see the module docstring).

    Attributes
    ----------
    manifest : dict
        ``format``, ``fit_key``, ``catalogue_key``, ``depth``, ``built_at``,
        ``catalogue_at``, ``workers``, ``entries``, ``seconds``.
    """

    def __init__(self, arrays: dict[str, np.ndarray], manifest: dict[str, Any]) -> None:
        self.arrays = arrays
        self.manifest = manifest
        self._worker_index: pd.Index | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        model: Any,
        worker_ids: Iterable[str] | None = None,
        depth: int = DEPTH,
        *,
        block: int = 512,
        n_jobs: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> PrecomputedRecommendations:
        """Compute the ``depth`` best vacancies of every worker (or of ``worker_ids``)
        with ``model.recommend_many`` (no reasons: they are written per request).

        Parameters
        ----------
        model : Recommender
            Fitted, serving the catalogue the lists are for.
        worker_ids : iterable of str, optional
            Default: every worker in the model's catalogue.
        depth : int, default :data:`DEPTH`
        block : int, default 512
            Workers per ``recommend_many`` call.
        n_jobs : int, default 1
            Processes scoring blocks in parallel (forked, so they share the model
            without copying it; one process where fork is not available).
        progress : callable, optional
            Called with (workers done, workers in all) after each block.

        Returns
        -------
        PrecomputedRecommendations

        Raises
        ------
        ValueError
            ``depth`` below 1; ``UnknownIdError`` for a worker the catalogue lacks.
        """
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        started = time.perf_counter()
        view = _CatalogueView(model)
        if worker_ids is None:
            ids = [str(w) for w in view.worker_ids]
        else:
            ids = list(dict.fromkeys(str(w) for w in worker_ids))
        open_index = pd.Index(view.open_ids)
        counts = np.zeros(len(ids), dtype=np.int64)
        vac_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        blocks = [ids[start : start + block] for start in range(0, len(ids), block)]
        done = 0
        for part, (n, vacancies, scores) in zip(
            blocks, _score_blocks(model, blocks, depth, n_jobs), strict=True
        ):
            counts[done : done + len(part)] = n
            vac_parts.append(open_index.get_indexer(vacancies).astype(np.int32))
            score_parts.append(scores)
            done += len(part)
            if progress is not None:
                progress(done, len(ids))
        entry_vacancy = np.concatenate(vac_parts) if vac_parts else np.zeros(0, np.int32)
        if (entry_vacancy < 0).any():  # recommend only returns open vacancies
            raise RuntimeError("a recommended vacancy is not open in the model's catalogue")
        digest = pd.Series(view.worker_digest, index=pd.Index(view.worker_ids))
        arrays = {
            "worker_ids": np.asarray(ids, dtype=str),
            "worker_digest": digest.reindex(ids).to_numpy(dtype=np.uint64),
            "indptr": np.r_[0, np.cumsum(counts)].astype(np.int64),
            "entry_vacancy": entry_vacancy,
            "entry_score": np.concatenate(score_parts) if score_parts else np.zeros(0, np.float32),
            "vacancy_ids": np.asarray(view.open_ids, dtype=str),
            "vacancy_digest": view.open_digest,
        }
        manifest = {
            "format": FORMAT_VERSION,
            "fit_key": fit_key(model),
            "catalogue_key": view.key,
            "depth": int(depth),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "catalogue_at": str(model.catalogue.at),
            "workers": len(ids),
            "entries": len(entry_vacancy),
            "open_vacancies": len(view.open_ids),
            "seconds": round(time.perf_counter() - started, 1),
        }
        return cls(arrays, manifest)

    # ------------------------------------------------------------------ persistence

    def save(self, folder: str | Path) -> Path:
        """Write the lists to ``folder`` (created; an older build there is replaced,
        the manifest last, so a reader never sees a half-written build as complete)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)
        for name in _ARRAYS:
            tmp = folder / f".{name}.npy.tmp"
            with open(tmp, "wb") as fh:
                np.save(fh, self.arrays[name], allow_pickle=False)
            tmp.replace(folder / f"{name}.npy")
        tmp = folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=2), encoding="utf-8")
        tmp.replace(folder / MANIFEST)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> PrecomputedRecommendations:
        """Read lists written by :meth:`save` (arrays memory-mapped).

        Raises
        ------
        FileNotFoundError
            ``folder`` holds no manifest.
        PrecomputedListsError
            Another format version, a missing or inconsistent array.
        """
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.exists():
            raise FileNotFoundError(
                f"{folder} holds no precomputed recommendations ({MANIFEST}); build them "
                "with `jobmatch recommend --all --precompute`"
            )
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PrecomputedListsError(f"{path} is not readable JSON: {exc}; rebuild") from exc
        if manifest.get("format") != FORMAT_VERSION:
            raise PrecomputedListsError(
                f"{folder} holds precomputed recommendations in format "
                f"{manifest.get('format')}, this jobmatch reads format {FORMAT_VERSION}: "
                "rebuild with `jobmatch recommend --all --precompute`"
            )
        arrays = {}
        for name in _ARRAYS:
            try:
                arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise PrecomputedListsError(
                    f"{folder / (name + '.npy')} cannot be read ({exc}); rebuild with "
                    "`jobmatch recommend --all --precompute`"
                ) from exc
        n_workers, n_entries = len(arrays["worker_ids"]), len(arrays["entry_vacancy"])
        if (
            len(arrays["worker_digest"]) != n_workers
            or len(arrays["indptr"]) != n_workers + 1
            or len(arrays["entry_score"]) != n_entries
            or (n_workers and int(arrays["indptr"][-1]) != n_entries)
            or len(arrays["vacancy_digest"]) != len(arrays["vacancy_ids"])
        ):
            raise PrecomputedListsError(
                f"the arrays in {folder} do not fit together (a partial copy?); rebuild with "
                "`jobmatch recommend --all --precompute`"
            )
        return cls(arrays, manifest)

    # ------------------------------------------------------------------ serving

    @property
    def depth(self) -> int:
        return int(self.manifest["depth"])

    def worker_index(self) -> pd.Index:
        """Row of each worker in the lists (built once, on first use)."""
        with self._lock:
            if self._worker_index is None:
                self._worker_index = pd.Index(
                    np.asarray(self.arrays["worker_ids"]).astype(object), dtype=object
                )
            return self._worker_index

    def bind(self, model: Any) -> BoundRecommendations | None:
        """These lists prepared to answer for ``model``'s catalogue, or None when they
        belong to another model fit (they must then not be used)."""
        if fit_key(model) != self.manifest.get("fit_key"):
            return None
        return BoundRecommendations(self, model)


class BoundRecommendations:
    """Precomputed lists matched against one serving model's catalogue (built once per
    catalogue: the service binds again after every catalogue refresh).

    Attributes
    ----------
    same_catalogue : bool
        The model serves the catalogue the lists were built on.
    delta : ndarray of int
        Open columns of the model's catalogue that are new or changed since the build.
    misses : collections.Counter
        Requests answered live (``answer`` returned None), by reason.
    hits : int
    """

    def __init__(self, lists: PrecomputedRecommendations, model: Any) -> None:
        self.lists = lists
        self.model = model
        view = _CatalogueView(model)
        self.same_catalogue = view.key == lists.manifest.get("catalogue_key")
        a = lists.arrays
        # the lists' row of each catalogue worker; -1: not in the lists or record changed
        rows = lists.worker_index().get_indexer(pd.Index(view.worker_ids, dtype=object))
        known = rows >= 0
        known[known] = np.asarray(a["worker_digest"])[rows[known]] == view.worker_digest[known]
        self.worker_row = np.where(known, rows, -1)
        self.worker_index = pd.Index(view.worker_ids, dtype=object)
        # each stored vacancy's open column now if still open with the same record, else -1
        stored = np.asarray(a["vacancy_ids"]).astype(object)
        cols = pd.Index(view.open_ids, dtype=object).get_indexer(pd.Index(stored, dtype=object))
        same = cols >= 0
        same[same] = view.open_digest[cols[same]] == np.asarray(a["vacancy_digest"])[same]
        self.open_ids = view.open_ids
        self.stored_open = np.where(same, cols, -1)
        unchanged = np.zeros(len(view.open_ids), dtype=bool)
        unchanged[cols[same]] = True
        self.delta = np.flatnonzero(~unchanged)
        self.usable = len(self.delta) <= MAX_DELTA_SHARE * max(len(view.open_ids), 1)
        self.hits = 0
        self.misses: Counter[str] = Counter()

    def _miss(self, reason: str) -> None:
        self.misses[reason] += 1

    def answer(self, worker_id: str, k: int, lang: str | None = None) -> pd.DataFrame | None:
        """``recommend(worker_id, k)`` from the lists, or None when it must be answered
        live (the reason is counted in :attr:`misses`)."""
        if k > self.lists.depth:
            self._miss("k above depth")
            return None
        if not self.usable:
            self._miss("catalogue changed too much")
            return None
        try:
            pos = self.worker_index.get_loc(worker_id)
        except KeyError:
            pos = -1
        row = self.worker_row[pos] if isinstance(pos, int | np.integer) and pos >= 0 else -1
        if row < 0:
            self._miss("worker new or changed")
            return None
        indptr = self.lists.arrays["indptr"]
        lo, hi = int(indptr[row]), int(indptr[row + 1])
        stored = self.stored_open[np.asarray(self.lists.arrays["entry_vacancy"][lo:hi])]
        if self.same_catalogue and (stored[:k] >= 0).all():
            # recommend's k best are the first k stored: re-rank only those
            cols = stored[:k]
        else:
            alive = stored[stored >= 0]
            if hi - lo == self.lists.depth and len(alive) < k:
                self._miss("list exhausted")
                return None
            cols = np.concatenate([alive, self.delta])
        # recommend_among without the id round trip: the catalogue's own positions
        frame = self.model.recommend_open(int(pos), cols, k, lang)
        self.hits += 1
        return frame
