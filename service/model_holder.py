"""The model the service answers with, and how a newly promoted one replaces it.

One :class:`ModelHolder` per process holds a :class:`LoadedModel` (the recommender,
its version and where it came from). A request takes ``holder.current()`` ONCE and
uses that object to the end, so a swap never changes a model under a request in
flight: a new model is loaded completely first (in the admin's request, or in a
background thread when the promotion is noticed), then the reference is replaced in
one assignment (atomic in CPython). The old object lives until the last request
holding it finishes.

Promotion is noticed by watching ``<model_dir>/current`` (what ``jobmatch models
promote`` changes): at most every ``check_every`` seconds a request stats it, and if
it changed a background thread loads and swaps the new model. ``POST
/api/v1/admin/reload-model`` reloads at once.

Without a trained model the holder is empty and says why (:attr:`reason`); the
recommendation routes answer 503 with that reason, everything else works.

Records created after the model was trained (new workers, new vacancies) are served
from content: :meth:`sync_catalogue` hands the store's current snapshot to the
model's ``refresh`` when the store changed, again building the refreshed model
before swapping it in.

Precomputed recommendations (:mod:`matcher.serving.precomputed`, built by ``jobmatch
recommend --all --precompute`` into ``<model folder>/precomputed/``) are loaded with
the model and bound to its catalogue (again after every catalogue refresh, before the
swap); a newer build of them is noticed like a promotion (the watched signature
includes their manifest) and swapped in alone. Lists built for another model are
ignored, with a log line saying so; ``precomputed=False`` (``JOBMATCH_PRECOMPUTED=0``)
never loads them.
"""

from __future__ import annotations

import copy
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.protocols import RefreshableModel, VacancyUpdatingModel
from service.answers import EMPTY, Ranked, head, ranked, ranked_by_worker

if TYPE_CHECKING:
    from matcher.data.dataset import Dataset

log = logging.getLogger(__name__)

NO_MODEL_REASON = "no model trained yet: run `jobmatch train`"


class ModelLoadError(RuntimeError):
    """The promoted model exists but could not be loaded; the message says why."""


@dataclass(frozen=True)
class VacancyChanges:
    """Vacancy rows written since a store stamp, as they are now, and their employers
    (both in the ``matcher.Dataset`` normal form)."""

    vacancies: Any
    employers: Any


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to answer, with the version every response reports."""

    model: Any
    version: str
    path: Path | None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the store state (see ``ModelHolder.sync_catalogue``) the catalogue reflects
    catalogue_stamp: Any = None
    #: precomputed recommendations bound to this model's catalogue
    #: (``matcher.serving.precomputed.BoundRecommendations``), or None: answer live
    lists: Any = None


def current_model_path(model_dir: Path) -> Path | None:
    """The folder of the promoted model, or None when nothing was promoted yet."""
    from training import registry

    return registry.current_model_path(model_dir)


def load_model_at(path: Path) -> Any:
    """Load the model saved in ``path`` (a version folder of the registry)."""
    from training import registry

    return registry.load_model(path.parent, path.name)


def version_of(path: Path | None) -> str:
    """The version reported to callers: the registry's folder name (a UTC timestamp),
    or "unknown" for a model that was not loaded from the registry."""
    return path.name if path is not None else "unknown"


LISTS_FOLDER = "precomputed"


def _pointer_signature(model_dir: Path) -> tuple:
    """What changes when a model is promoted (the pointer's mtime and its target) or
    its precomputed recommendations are rebuilt (their manifest's mtime)."""
    pointer = Path(model_dir) / "current"
    try:
        st = os.lstat(pointer)
    except FileNotFoundError:
        return ("absent",)
    target = os.readlink(pointer) if pointer.is_symlink() else ""
    if not target and pointer.is_file():
        try:
            target = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            target = ""
    return (st.st_mtime_ns, target, _lists_signature(Path(model_dir) / target) if target else None)


def _lists_signature(model_path: Path) -> int | None:
    from matcher.serving.precomputed import MANIFEST

    try:
        return os.stat(model_path / LISTS_FOLDER / MANIFEST).st_mtime_ns
    except OSError:
        return None


def bind_lists(model: Any, path: Path | None) -> Any:
    """The precomputed recommendations in ``path/precomputed`` bound to ``model``'s
    catalogue, or None (none built, built for another model, or unreadable: logged)."""
    from matcher.serving.recommender import Recommender

    if path is None or not isinstance(model, Recommender):
        return None  # only the hybrid recommender's answers are precomputed
    from matcher.serving.precomputed import PrecomputedListsError, PrecomputedRecommendations

    folder = Path(path) / LISTS_FOLDER
    try:
        lists = PrecomputedRecommendations.load(folder)
    except FileNotFoundError:
        return None
    except PrecomputedListsError as exc:
        log.warning("precomputed recommendations not used: %s", exc)
        return None
    return _bind(lists, model, folder)


def _bind(lists: Any, model: Any, folder: Any) -> Any:
    started = time.perf_counter()
    bound = lists.bind(model)
    if bound is None:
        log.warning(
            "precomputed recommendations in %s were built for another model; answering "
            "live until `jobmatch recommend --all --precompute` rebuilds them",
            folder,
        )
        return None
    log.info(
        "precomputed recommendations bound (%d workers, %d vacancies new or changed since "
        "they were built, %.1fs)",
        lists.manifest.get("workers", 0),
        len(bound.delta),
        time.perf_counter() - started,
    )
    return bound


def freeze_heap() -> None:
    """Put every object alive now (the model just swapped in included) out of reach of
    Python's cyclic garbage collector.

    A loaded model is some 640,000 container objects (catalogue frames, indexes,
    tables; measured on the serve bench's 100,000-vacancy model). A full collection
    walks them all: 0.7-1.0 s with the GIL held (measured at load average 4), during
    which every request of the process stalls. Python starts one whenever the
    objects that survived since the last one exceed a quarter of the old ones, so
    rarely, but each is a second-long hole in the latency. Frozen objects are still
    freed by reference counting when the model is swapped out (a dropped model left
    10 objects of cyclic garbage when measured), so freezing after each swap leaks
    next to nothing. Young garbage is collected first so that it is not frozen.
    """
    gc.collect(1)
    gc.freeze()


class ModelHolder:
    """Holds the serving model; swaps in a new one without disturbing requests in flight."""

    def __init__(
        self,
        model_dir: Path | str,
        *,
        check_every: float = 3.0,
        locate: Callable[[Path], Path | None] = current_model_path,
        load: Callable[[Path], Any] = load_model_at,
        freeze_heap: bool = True,
        precomputed: bool = True,
        decided: Callable[[], str | None] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        #: the version the store says to serve (``service.serving_state``), or None:
        #: follow the model pointer
        self._decided = decided
        self.freeze_heap = freeze_heap
        self.precomputed = precomputed
        self.check_every = check_every
        self._locate = locate
        self._load = load
        self._loaded: LoadedModel | None = None
        self._reason: str | None = NO_MODEL_REASON
        self._signature: tuple | None = None
        self._next_check = 0.0
        self._reload_lock = threading.Lock()
        self._background: threading.Thread | None = None
        self.swaps = 0
        #: catalogue syncs by vacancy changes alone, and by a full refresh
        self.incremental_updates = 0
        self.full_refreshes = 0
        self.on_swap: list[Callable[[LoadedModel | None], None]] = []
        #: called after each periodic check, with the serving model (a heartbeat)
        self.on_check: list[Callable[[LoadedModel | None], None]] = []

    # ------------------------------------------------------------------ reading

    def current(self) -> LoadedModel | None:
        """The model to answer this request with (take it once per request)."""
        self._maybe_watch()
        return self._loaded

    def peek(self) -> LoadedModel | None:
        """The current model without checking for a promotion."""
        return self._loaded

    @property
    def reason(self) -> str | None:
        """Why there is no model (None when one is loaded)."""
        return None if self._loaded is not None else self._reason

    # ------------------------------------------------------------------ swapping

    def swap(self, loaded: LoadedModel | None, reason: str | None = None) -> None:
        """Replace the serving model in one step; requests in flight keep theirs."""
        self._loaded = loaded
        self._reason = None if loaded is not None else (reason or NO_MODEL_REASON)
        self.swaps += 1
        if self.freeze_heap:
            freeze_heap()
        for callback in self.on_swap:
            try:
                callback(loaded)
            except Exception:  # noqa: BLE001 - a metrics hook must never break a swap
                log.exception("model swap callback failed")

    def load(self) -> LoadedModel | None:
        """Load the promoted model now and swap it in.

        Returns the loaded model, or None (with :attr:`reason` set) when nothing is
        promoted. Raises :class:`ModelLoadError` when the promoted model cannot be
        loaded; the model that was serving keeps serving.
        """
        with self._reload_lock:
            decided = self._decided_version()
            signature = (*_pointer_signature(self.model_dir), decided)
            try:
                path = self._path_of(decided) if decided else self._locate(self.model_dir)
            except Exception as exc:  # noqa: BLE001 - a broken pointer: say so, keep serving
                self._signature = signature
                message = f"the promoted model cannot be found: {exc}"
                if self._loaded is None:
                    self.swap(None, message)
                raise ModelLoadError(message) from exc
            if path is None:
                self._signature = signature
                if self._loaded is None:
                    self.swap(None, NO_MODEL_REASON)
                return self._loaded
            current = self._loaded
            if current is not None and current.path == path and self._signature == signature:
                return current
            if (
                current is not None
                and current.path == path
                and self._signature is not None
                and self._signature[:2] == signature[:2]
            ):  # the same model; its precomputed lists were rebuilt
                self._signature = signature
                self.swap(replace(current, lists=self._lists_for(current.model, path)))
                return self._loaded
            started = time.perf_counter()
            try:
                model = self._load(path)
            except Exception as exc:  # noqa: BLE001 - reported, old model keeps serving
                self._signature = signature
                message = f"could not load the promoted model at {path}: {exc}"
                if self._loaded is None:
                    self.swap(None, message)
                raise ModelLoadError(message) from exc
            loaded = LoadedModel(
                model=model,
                version=version_of(path),
                path=path,
                lists=self._lists_for(model, path),
            )
            self._signature = signature
            self.swap(loaded)
            log.info(
                "serving model %s (loaded in %.1fs)", loaded.version, time.perf_counter() - started
            )
            return loaded

    def _decided_version(self) -> str | None:
        return self._decided() if self._decided is not None else None

    def _path_of(self, version: str) -> Path:
        path = self.model_dir / version
        if not path.is_dir():
            raise FileNotFoundError(
                f"the store says to serve model {version}, which is not in {self.model_dir}"
            )
        return path

    def _lists_for(self, model: Any, path: Path | None) -> Any:
        return bind_lists(model, path) if self.precomputed else None

    def start(self) -> None:
        """Initial load at start-up; a failure leaves the service up without a model."""
        try:
            self.load()
        except ModelLoadError as exc:
            log.error("%s", exc)

    def _maybe_watch(self) -> None:
        if self.check_every <= 0:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.check_every
        if self._background is not None and self._background.is_alive():
            return
        # the check reads the store and stats the pointer: in the background, so that
        # no request waits for it
        self._background = threading.Thread(target=self._check, name="model-watch", daemon=True)
        self._background.start()

    def _check(self) -> None:
        """Load and swap in the model to serve if it changed (store or pointer)."""
        try:
            signature = (*_pointer_signature(self.model_dir), self._decided_version())
            if signature != self._signature:
                log.info("the model to serve changed; loading it in the background")
                self.load()
        except ModelLoadError as exc:
            log.error("%s", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the store is down: keep serving
            log.warning("checking for a new model failed (%s); still serving", type(exc).__name__)
        for callback in self.on_check:
            try:
                callback(self._loaded)
            except Exception:  # noqa: BLE001 - a hook must never stop the watch
                log.exception("model check callback failed")

    def wait_for_background(self, timeout: float = 60.0) -> None:
        """Join a background reload if one runs (tests and shutdown)."""
        thread = self._background
        if thread is not None:
            thread.join(timeout)

    # ------------------------------------------------------------------ catalogue

    def adopt_stamp(self, loaded: LoadedModel, stamp: Any) -> None:
        """Record that ``loaded`` already reflects the store at ``stamp`` (no refresh)."""
        with self._reload_lock:
            if self._loaded is loaded:
                self._loaded = replace(loaded, catalogue_stamp=stamp)

    def sync_catalogue(
        self,
        stamp: Any,
        snapshot: Callable[[], Any],
        changes: Callable[[Any], VacancyChanges | None] | None = None,
    ) -> LoadedModel | None:
        """Make the serving model know the store's records as of ``stamp``.

        ``snapshot()`` returns the store's ``matcher.Dataset``; it is called only when
        ``stamp`` differs from the one the serving model reflects. The model is copied,
        refreshed with the snapshot, and swapped in, so requests in flight keep the
        unrefreshed model.

        ``changes(old_stamp)``, when given, returns the vacancy rows (and their
        employers) written since the store was at ``old_stamp`` -- the stamp the
        serving model reflects -- or None when more than vacancies changed. A model
        that can (:class:`matcher.protocols.VacancyUpdatingModel`) then takes just
        those rows into a copy of its catalogue (well under a second at 100,000 open
        vacancies, against tens of seconds for a full refresh); otherwise, or when
        the update fails, the full refresh runs.
        """
        loaded = self._loaded
        if loaded is None or loaded.catalogue_stamp == stamp:
            return loaded
        with self._reload_lock:
            loaded = self._loaded
            if loaded is None or loaded.catalogue_stamp == stamp:
                return loaded
            refreshed = None
            if (
                changes is not None
                and loaded.catalogue_stamp is not None
                and isinstance(loaded.model, VacancyUpdatingModel)
            ):
                delta = changes(loaded.catalogue_stamp)
                if delta is not None:
                    started = time.perf_counter()
                    refreshed = copy.copy(loaded.model).update_vacancies(
                        delta.vacancies, delta.employers
                    )
                    self.incremental_updates += 1
                    log.info(
                        "catalogue updated with %d changed vacancies in %.3fs",
                        len(delta.vacancies),
                        time.perf_counter() - started,
                    )
            if refreshed is None:
                refreshed = refreshed_copy(loaded.model, snapshot())
                self.full_refreshes += 1
            lists = None
            if loaded.lists is not None:  # the same lists, bound to the new catalogue
                lists = _bind(loaded.lists.lists, refreshed, loaded.path)
            new = replace(loaded, model=refreshed, catalogue_stamp=stamp, lists=lists)
            self._loaded = new
            if self.freeze_heap:
                freeze_heap()
            return new


def refreshed_copy(model: Any, dataset: Dataset) -> Any:
    """A copy of ``model`` that knows every record of ``dataset`` (cold ones from
    content); ``model`` itself when it cannot serve a newer snapshot."""
    if not isinstance(model, RefreshableModel):
        return model
    return copy.copy(model).refresh(dataset)


class _Request:
    """One request handed to the :class:`RecommendationBatcher`: what it asks, and its
    answer once computed. ``ready`` is held until the answer is set (or the request is
    asked to lead the next batch): waiting on a bare lock is the cheapest hand-off
    between threads CPython has (a ``Future`` adds a condition and two more locks)."""

    __slots__ = ("loaded", "worker_id", "k", "ready", "value", "error", "done", "lead")

    def __init__(self, loaded: LoadedModel, worker_id: str, k: int) -> None:
        self.loaded = loaded
        self.worker_id = worker_id
        self.k = k
        self.ready = threading.Lock()
        self.ready.acquire()
        self.value: Ranked | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False

    def answer(self, value: Ranked | None = None, error: BaseException | None = None) -> None:
        self.value, self.error, self.done = value, error, True
        self.ready.release()

    def result(self) -> Ranked:
        if self.error is not None:
            raise self.error
        if self.value is None:  # answer() sets one or the other
            raise RuntimeError("the recommendation request was not answered")
        return self.value


class RecommendationBatcher:
    """Answers concurrent recommendation requests together (micro-batching).

    No thread of its own: a request that finds no batch being computed computes one
    itself, in its own thread (it *leads*): it takes every request waiting (up to
    ``max_batch``; at first only its own), groups them by model object, and calls the
    model's ``recommend_many`` once per group with the largest ``k`` asked. The
    requests that arrive meanwhile wait; when the leader's own answer is ready it
    hands the lead to the first of them, whose batch holds every request that came
    while the previous one computed. So an idle service answers at once, with no
    thread hand-off at all (a batching thread cost two per request: about 3 ms of CPU
    of a live request, ``bench/request_profile.py --live``), and a busy one forms
    batches as before. Each worker's rows are its ``recommend`` answer (the model
    contract), cut to the ``k`` that request asked for. Requests keep the model object
    they were given, so a swap during batching changes nothing for them.

    ``recommend_many`` has a fixed cost per call (building frames, one boosted-tree
    pass, explanations) that batching shares; on the service's 2 cores this is what
    lets 50 concurrent clients be served (see docs/benchmarks.md, serve section).
    """

    def __init__(self, max_batch: int = 32) -> None:
        from collections import deque

        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.max_batch = max_batch
        self._waiting: deque[_Request] = deque()
        self._lock = threading.Lock()
        self._busy = False  # a request leads (then or soon); False: none waits
        self.batches = 0
        self.requests = 0

    @property
    def waiting(self) -> int:
        """Requests queued behind the batch being computed."""
        with self._lock:
            return len(self._waiting)

    def recommend_ranked(self, loaded: LoadedModel, worker_id: str, k: int) -> Ranked:
        """The model's ``recommend(worker_id, k)`` as the route reads it
        (``service.answers.ranked`` of the frame), computed in a batch and converted
        once per batch rather than per request."""
        request = _Request(loaded, worker_id, k)
        with self._lock:
            self._waiting.append(request)
            lead = not self._busy
            self._busy = True
        if not lead:
            request.ready.acquire()  # answered, or asked to lead the next batch
            if not request.lead:
                return request.result()
        self._lead()
        return request.result()

    def _lead(self) -> None:
        """Compute one batch, then hand the lead to the first request still waiting (or
        none, when none is). The leader's own request is in that batch: a request leads
        either because none was queued before it (the batcher was idle) or because it
        was first in the queue when the lead was handed on, and the batch takes the
        queue from its front (``max_batch`` is at least 1)."""
        try:
            with self._lock:
                n = min(len(self._waiting), self.max_batch)
                batch = [self._waiting.popleft() for _ in range(n)]
            self._answer(batch)
        finally:
            with self._lock:
                after = self._waiting[0] if self._waiting else None
                if after is None:
                    self._busy = False
                else:
                    after.lead = True
            if after is not None:
                after.ready.release()

    def _answer(self, items: list[_Request]) -> None:
        groups: dict[int, list[_Request]] = {}
        for item in items:
            groups.setdefault(id(item.loaded), []).append(item)
        try:
            for group in groups.values():
                self._answer_group(group)
        finally:
            for item in items:  # whatever went wrong, nobody waits forever
                if not item.done:
                    item.answer(error=RuntimeError("the recommendation batch failed"))

    def _answer_group(self, items: list[_Request]) -> None:
        model = items[0].loaded.model
        k_max = max(item.k for item in items)
        ids = list(dict.fromkeys(item.worker_id for item in items))
        self.batches += 1
        self.requests += len(items)
        try:
            frame = model.recommend_many(ids, k_max)
        except Exception:  # noqa: BLE001 - one bad id must not fail the others
            for item in items:
                try:
                    item.answer(ranked(model.recommend(item.worker_id, item.k), model))
                except Exception as exc:  # noqa: BLE001 - handed to the request
                    item.answer(error=exc)
            return
        answers = ranked_by_worker(frame, model)
        for item in items:
            item.answer(head(answers.get(item.worker_id, EMPTY), item.k))
