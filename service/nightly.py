"""The nightly matching run: store -> candidates scored on Dask -> placement plan -> store.

``run_match`` does, in order:

1. **Load** the store (``load_dataset``) and the promoted model (``training.registry``).
   *Active workers* are the job-seekers: bookkeeping ``status`` active or
   to_replace (``service.lifecycle.SEEKING_STATUSES``) and, by their recorded
   outcomes, not in a job (``service.lifecycle.replay``: hired and not since left, unpaid
   or injured -- a worker who left their job is looking again). *Open vacancies*
   are ``status`` open with ``headcount`` (open seats) > 0, posted and not closed at
   ``as_of`` (default: now). Pins and excludes come from ``match_pins``.
2. **Score** on Dask: the model (with its vacancy matrices, refreshed to the current
   catalogue) is sent to the cluster ONCE (``client.scatter(model, broadcast=True)``);
   the sorted active workers are cut into partitions and each partition gets its top K
   eligible vacancies: by default from :class:`matcher.serving.batch.BatchScorer` (its
   pre-score shortlist); with ``scoring="live"`` from the same scorer with the live
   candidates (the catalogue holds a seeded sample of the active workers, on which its
   ranker proxy is fitted; each worker's list is the one ``model.recommend_many``
   gives); with ``scoring="exact"`` from ``model.recommend_many(ids, k)`` itself (see
   :func:`run_match`). Without a scheduler
   (``scheduler=None`` and no ``JOBMATCH_DASK_SCHEDULER``) the same partitions run
   in-process on Dask's synchronous scheduler (models need not be thread-safe).
3. **Plan** with :func:`matcher.planning.assignment.plan_placements`.
4. **Record**: the run row is written as ``running`` when the run starts; at the end
   the plan rows are written and the status flipped to ``succeeded`` in ONE transaction,
   so a crash leaves no partial plan visible. A failure is recorded as ``failed`` with
   its error (the run's plan rows are removed in the same transaction).

Same run id again
-----------------
The input hash covers the store snapshot's fingerprint, the model version, the run
parameters, ``as_of`` and the pins. Re-running a run id whose recorded input hash is
the same replaces its plan rows with the (identical, the plan is deterministic) new
ones. A run id recorded as ``succeeded`` with a *different* input hash is refused
(:class:`RunConflict`): a run id names one plan; use a new id for new inputs. A
``failed`` or ``running`` (crashed) run id may be re-run with any inputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from matcher.data.dataset import Dataset, snapshot_time
from matcher.data.schema import PURSUED_EVENTS, Columns
from matcher.eligibility.households import barred_public_pairs, public_post_holders
from matcher.models.base import RECOMMENDATION_COLUMNS
from matcher.models.retrieval import PROXY_FIT_WORKERS
from matcher.planning.assignment import (
    DEFAULT_MONITORED_WEIGHT,
    DEFAULT_WELFARE_PRIORITY,
    GROUP_RULES,
    PlanResult,
    plan_placements,
)
from matcher.planning.priority_posts import priority_post_report
from matcher.protocols import ExplainingModel, RefreshableModel
from service import clock
from service.lifecycle import LIFECYCLE_EVENTS, SEEKING_STATUSES, Outcome, WorkerStatus, replay
from service.processes import process_alive, process_identity
from service.store.db import make_engine, session_scope
from service.store.models import MatchPin, MatchRun, PlanRow, Vacancy, Worker

log = logging.getLogger(__name__)

DEFAULT_K = 10
DEFAULT_PARTITION_SIZE = 5_000
#: Workers per partition of the batch scoring path (a partition's words and segments
#: are encoded once; memory grows with it).
BATCH_PARTITION_SIZE = 25_000
SCORING_CHOICES = ("batch", "live", "exact")
#: Active workers the live batch path puts in the catalogue beside the pinned ones: the
#: ranker proxy (which adds candidates, :func:`matcher.models.retrieval.fit_ranker_proxy`)
#: is fitted on the catalogue's workers, as many as the proxy's fit samples.
PROXY_SAMPLE_WORKERS = PROXY_FIT_WORKERS
#: Seed of that sample (the run is deterministic: same store, same plan).
PROXY_SAMPLE_SEED = 0
#: Plan rows written per INSERT batch.
PLAN_BATCH = 5_000
PLAN_CSV_COLUMNS = [Columns.Worker, Columns.Vacancy, Columns.Score, Columns.Reasons]


class NightlyError(RuntimeError):
    """The run cannot start or finish; the message says what to do."""


class RunConflict(NightlyError):
    """The run id is already recorded with a different plan's inputs."""


@dataclass
class RunSummary:
    """What a run did (also what ``jobmatch match`` prints)."""

    run_id: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    model_version: str | None
    input_hash: str | None
    objective: float | None
    counts: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    out: Path | None = None
    plan: pd.DataFrame | None = None
    error: str | None = None
    #: the scored candidate pairs the plan chose from (only with ``keep_candidates``)
    candidates: pd.DataFrame | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("plan")
        d.pop("candidates")
        d["out"] = str(self.out) if self.out else None
        return d


# --------------------------------------------------------------------------- inputs


def active_workers(ds: Dataset, statuses: pd.DataFrame | None = None) -> pd.DataFrame:
    """Workers who take part in the run (see the module docstring for the rule).

    ``statuses`` holds ``worker_id, status`` from the store's bookkeeping column; when
    None every worker counts as ``active``.
    """
    w = ds.workers
    if statuses is not None and len(statuses):
        st = statuses.set_index(Columns.Worker)["status"]
        mask = w[Columns.Worker].map(st).fillna("active").isin(SEEKING_STATUSES).to_numpy()
        w = w[mask]
    employed = employed_workers(ds.events)
    if employed:
        w = w[~w[Columns.Worker].isin(employed)]
    return w.sort_values(Columns.Worker).reset_index(drop=True)


def employed_workers(events: pd.DataFrame) -> set[str]:
    """Workers whose recorded outcomes leave them in a job (``service.lifecycle.replay``)."""
    lc = events[events[Columns.Event].isin(LIFECYCLE_EVENTS)]
    out = set()
    for worker_id, rows in lc.groupby(Columns.Worker, sort=False):
        outcomes = [
            Outcome(str(v), str(e), pd.Timestamp(t).to_pydatetime())
            for v, e, t in zip(
                rows[Columns.Vacancy], rows[Columns.Event], rows[Columns.OccurredAt], strict=True
            )
        ]
        if replay(outcomes).status == WorkerStatus.EMPLOYED:
            out.add(str(worker_id))
    return out


def open_vacancies(ds: Dataset, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """Vacancies open with seats left at ``as_of`` (None: ignore posting/closing dates)."""
    return ds.open_vacancies(as_of).sort_values(Columns.Vacancy).reset_index(drop=True)


def _worker_statuses(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(Worker.worker_id, Worker.status)).fetchall()
    return pd.DataFrame(rows, columns=[Columns.Worker, "status"])


def read_pins(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pins and excludes from ``match_pins`` as (pins, excludes) pair frames."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(MatchPin.worker_id, MatchPin.vacancy_id, MatchPin.kind).order_by(
                MatchPin.worker_id, MatchPin.vacancy_id
            )
        ).fetchall()
    frame = pd.DataFrame(rows, columns=[Columns.Worker, Columns.Vacancy, "kind"])
    pins = frame[frame["kind"] == "pin"][[Columns.Worker, Columns.Vacancy]].reset_index(drop=True)
    excl = frame[frame["kind"] == "exclude"][[Columns.Worker, Columns.Vacancy]]
    return pins, excl.reset_index(drop=True)


def _load_model(model_dir: Path) -> tuple[Any, str]:
    """The promoted model and its version; NightlyError saying what to do otherwise."""
    try:
        import importlib

        registry: Any = importlib.import_module("training.registry")
    except ImportError as exc:  # pragma: no cover - ships with jobmatch
        raise NightlyError(f"the model registry is unavailable: {exc}") from exc
    path = registry.current_model_path(model_dir)
    if path is None:
        raise NightlyError(
            f"no promoted model in {model_dir}: run `jobmatch train` (or "
            "`jobmatch models promote VERSION`) before `jobmatch match`"
        )
    loaded = registry.load_current(model_dir)
    model, version = loaded if isinstance(loaded, tuple) else (loaded, Path(path).name)
    return model, str(version)


# --------------------------------------------------------------------------- scoring


def _score_partition(model: Any, worker_ids: list[str], k: int) -> pd.DataFrame:
    """Top-``k`` eligible vacancies of each worker of one partition (exact path)."""
    recs = model.recommend_many(list(worker_ids), k)
    if recs is None or len(recs) == 0:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    return recs


def _score_batch_partition(
    scorer: Any, workers: pd.DataFrame, pursued: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Top-``k`` eligible vacancies of each worker of one partition (batch path)."""
    return scorer.score(workers, pursued, k)


def _explain_partition(scorer: Any, workers: pd.DataFrame, pairs: pd.DataFrame) -> list[str]:
    """Reasons of the planned pairs of one partition, ``"; "``-joined."""
    from matcher.serving.batch import explain_pairs

    return ["; ".join(r) for r in explain_pairs(scorer.model, workers, pairs)]


def partitions(ids: Iterable[str], size: int) -> list[list[str]]:
    ids = list(ids)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


class _Partitions:
    """Runs a function over partitions with one shared object (the model, or the batch
    scorer with its vacancy matrices), in-process on Dask's synchronous scheduler or on
    a cluster where the shared object is scattered to every worker ONCE."""

    def __init__(self, shared: Any, scheduler: str | Any | None) -> None:
        self.shared = shared
        self.scheduler = scheduler
        self.client: Any = None
        self.own = False
        self.future: Any = None

    def __enter__(self) -> _Partitions:
        if self.scheduler is not None:
            from distributed import Client

            self.own = not isinstance(self.scheduler, Client)
            self.client = Client(self.scheduler) if self.own else self.scheduler
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own and self.client is not None:
            self.client.close()

    def facts(self) -> dict[str, Any]:
        if self.client is None:
            return {"dask": "in-process (synchronous)"}
        return {
            "dask": f"cluster {self.client.scheduler.address}",
            "dask_workers": len(self.client.scheduler_info().get("workers", {})),
        }

    def map(self, fn: Callable[..., Any], *args: list[Any]) -> list[Any]:
        if not args or not args[0]:
            return []
        if self.client is None:
            import dask

            # one graph node holds the shared object (named, so it is not hashed per task)
            node = dask.delayed(self.shared, name="jobmatch-shared", traverse=False)
            call = dask.delayed(fn, pure=False)
            tasks = [call(node, *row) for row in zip(*args, strict=True)]
            return list(dask.compute(*tasks, scheduler="synchronous"))
        if self.future is None:
            self.future = self.client.scatter(self.shared, broadcast=True, hash=False)
        futures = self.client.map(fn, [self.future] * len(args[0]), *args, pure=False)
        return list(self.client.gather(futures))


def score_candidates(
    model: Any,
    worker_ids: list[str],
    *,
    k: int = DEFAULT_K,
    scheduler: str | Any | None = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score ``worker_ids`` with ``model.recommend_many`` in partitions on Dask (the
    exact path: every channel's top ``n_candidates``, ranked); returns candidates and
    run facts.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        ``tcp://HOST:PORT`` of a Dask scheduler, an existing ``Client``, or None for
        in-process scoring (Dask's synchronous scheduler).
    """
    parts = partitions(worker_ids, max(1, int(partition_size)))
    facts: dict[str, Any] = {"partitions": len(parts), "partition_size": partition_size}
    with _Partitions(model, scheduler) as runner:
        frames = runner.map(_score_partition, parts, [k] * len(parts))
        facts.update(runner.facts())
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS), facts
    return pd.concat(frames, ignore_index=True), facts


def proxy_sample(
    workers: pd.DataFrame, n: int = PROXY_SAMPLE_WORKERS, seed: int = PROXY_SAMPLE_SEED
) -> list[str]:
    """The ids of ``n`` active workers (``workers``, as :func:`active_workers` gives
    them) drawn with ``seed``: the workers the batch path's catalogue holds so that its
    ranker proxy is fitted on tonight's job-seekers (all of them when fewer)."""
    ids = workers[Columns.Worker].to_numpy(dtype=object)
    if len(ids) <= n:
        return [str(i) for i in ids]
    rng = np.random.default_rng(seed)
    return [str(i) for i in ids[np.sort(rng.choice(len(ids), n, replace=False))]]


def pairs_not_proposed(
    ds: Dataset,
    worker_ids: pd.Series | None = None,
    at: pd.Timestamp | None = None,
    holders: frozenset[str] | None = None,
) -> pd.DataFrame:
    """``worker_id, vacancy_id`` pairs never proposed again: a worker applied to the
    vacancy (or got further on it), or it is a public-welfare post and the worker's
    household holds one at ``at`` (all events when None;
    :mod:`matcher.eligibility.households`, as the served catalogue applies it).
    ``holders``: those households when the caller has them already (default: from
    ``ds``)."""
    ev = ds.events
    graded = ev[ev[Columns.Event].astype(str).isin(PURSUED_EVENTS)]
    workers = ds.workers
    if worker_ids is not None:
        graded = graded[graded[Columns.Worker].isin(worker_ids)]
        workers = workers[workers[Columns.Worker].isin(worker_ids)]
    if holders is None:
        holders = public_post_holders(ev, ds.vacancies, ds.workers, at)
    barred = barred_public_pairs(workers, ds.vacancies, holders)
    pairs = pd.concat([graded[[Columns.Worker, Columns.Vacancy]], barred], ignore_index=True)
    return pairs.drop_duplicates().reset_index(drop=True)


def _split_by_worker(
    workers: pd.DataFrame, pairs: pd.DataFrame, size: int
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Worker partitions of ``size`` rows and, for each, the pairs naming its workers."""
    w_parts = [workers.iloc[i : i + size] for i in range(0, len(workers), size)]
    part_of = pd.Series(
        np.repeat(np.arange(len(w_parts)), [len(p) for p in w_parts]),
        index=workers[Columns.Worker].to_numpy(dtype=object),
    )
    key = pairs[Columns.Worker].map(part_of).to_numpy()
    grouped: dict[Any, pd.DataFrame] = dict(iter(pairs.groupby(key))) if len(pairs) else {}
    empty = pairs.iloc[0:0]
    return w_parts, [grouped.get(i, empty) for i in range(len(w_parts))]


def _batch_ready(model: Any) -> bool:
    """Whether ``model`` can be scored by :class:`matcher.serving.batch.BatchScorer` (a fitted
    full-stage Recommender with a ranker)."""
    from matcher.serving.recommender import Recommender

    return isinstance(model, Recommender) and model.stages == "full" and model.ranker_ is not None


def _pin_candidates(
    model: Any, pins: pd.DataFrame, candidates: pd.DataFrame
) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Scored pairs for pins that are not among the top-K candidates, and the reasons of
    pins that cannot be honoured.

    A pinned pair outside the worker's top K is scored with ``model.explain``: an
    eligible pair joins the candidates (an officer's pin outranks the model's list); an
    ineligible one is reported with the rules it breaks. Reasons are in the model's
    language.
    """
    notes: dict[tuple[str, str], str] = {}
    empty = candidates.iloc[0:0]
    if pins.empty or not isinstance(model, ExplainingModel):
        return empty, notes
    lang = model.lang
    have = set(zip(candidates[Columns.Worker], candidates[Columns.Vacancy], strict=True))
    rows = []
    for w, v in zip(pins[Columns.Worker], pins[Columns.Vacancy], strict=True):
        if (w, v) in have:
            continue
        try:
            info = model.explain(w, v)
        except KeyError:
            continue  # unknown or inactive ids: plan_placements reports them
        if not info.get("eligible", False):
            broken = [e.get("message") or e.get("code") for e in info.get("exclusions", [])]
            notes[(w, v)] = "not eligible: " + ("; ".join(map(str, broken)) or "vacancy not open")
            continue
        reasons = [r.get(lang) or r.get("en") or r.get("code") for r in info.get("reasons", [])]
        rows.append(
            {
                Columns.Worker: w,
                Columns.Vacancy: v,
                Columns.Score: float(info[Columns.Score]),
                Columns.Reasons: [str(r) for r in reasons],
            }
        )
    return (pd.DataFrame(rows) if rows else empty), notes


# --------------------------------------------------------------------------- summaries


def _province(code: Any) -> str | None:
    if not isinstance(code, str) or len(code) != 6:
        return None
    return code[:2] + "0000"


def region_label(code: str | None) -> str:
    """The region's name for a 6-digit region code ("unknown" without one; the code
    itself when the reference data does not know it)."""
    if not code:
        return "unknown"
    try:
        from matcher.data.reference import region_name

        return region_name(code)
    except Exception:  # noqa: BLE001 - a label only; unknown codes keep their number
        return code


def plan_summary(
    plan: pd.DataFrame, workers: pd.DataFrame, vacancies: pd.DataFrame
) -> dict[str, Any]:
    """Placements per channel, home county and destination province, each with
    ``expected_stable``: the sum of its planned pairs' scores (P(apply) * P(hire | apply)
    * P(stay | hire)), the stable placements to expect when those pairs are proposed."""
    if plan.empty:
        return {"by_channel": [], "by_county": [], "by_province": []}
    vcols = [Columns.Vacancy] + [c for c in ("channel", "region") if c in vacancies.columns]
    frame = plan.merge(vacancies[vcols], on=Columns.Vacancy, how="left").merge(
        workers[[Columns.Worker, "home_region"]], on=Columns.Worker, how="left"
    )
    frame["channel"] = frame.get("channel", pd.Series(dtype=object)).fillna("unknown")
    frame["province"] = [_province(r) or "unknown" for r in frame.get("region", [])]
    frame["county"] = frame["home_region"].fillna("unknown")

    def by(col: str, label: bool) -> list[dict[str, Any]]:
        g = frame.groupby(col, sort=True)[Columns.Score].agg(["count", "sum"])
        rows = []
        for key, row in g.iterrows():
            item: dict[str, Any] = {
                "key": str(key),
                "placements": int(row["count"]),
                "expected_stable": round(float(row["sum"]), 4),
            }
            if label:
                item["name"] = region_label(str(key) if key != "unknown" else None)
            rows.append(item)
        return sorted(rows, key=lambda r: (-r["placements"], r["key"]))

    by_province_channel = (
        frame.groupby(["province", "channel"], sort=True)[Columns.Score].count().reset_index()
    )
    return {
        "by_channel": by("channel", False),
        "by_county": by("county", True),
        "by_province": by("province", True),
        "by_province_channel": [
            {"province": str(r.province), "channel": str(r.channel), "placements": int(r.score)}  # type: ignore[arg-type]
            for r in by_province_channel.itertuples()
        ],
    }


# --------------------------------------------------------------------------- store


def new_run_id() -> str:
    return "run-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def input_hash(
    ds: Dataset,
    model_version: str,
    params: dict[str, Any],
    pins: pd.DataFrame,
    excludes: pd.DataFrame,
    statuses: pd.DataFrame | None,
) -> str:
    h = hashlib.sha256()
    h.update(ds.fingerprint().encode())
    h.update(model_version.encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    for frame in (pins, excludes):
        h.update(frame.to_csv(index=False).encode())
    if statuses is not None:
        h.update(statuses.sort_values(Columns.Worker).to_csv(index=False).encode())
    return h.hexdigest()


#: A running run whose process gives no sign of life for this long is abandoned (its
#: process cannot be checked from here: another machine).
ABANDONED_AFTER = timedelta(hours=6)


def reap_abandoned_runs(session: Session, *, now: datetime | None = None) -> list[str]:
    """Mark failed the runs left ``running`` by a process that is gone (killed, machine
    restarted) and remove any plan rows they hold; returns their ids.

    A run's process is checked directly when it ran on this host; otherwise the run
    is abandoned when it gave no sign of life for :data:`ABANDONED_AFTER`.
    """
    now = now or clock.now_utc()
    reaped = []
    for row in session.scalars(select(MatchRun).where(MatchRun.status == "running")).all():
        alive = process_alive(row.owner) if row.owner else None
        last = row.heartbeat_at or row.started_at
        if alive is None:
            alive = last is not None and now - last < ABANDONED_AFTER
        if alive:
            continue
        session.execute(delete(PlanRow).where(PlanRow.run_id == row.run_id))
        row.status = "failed"
        row.finished_at = now
        row.error = (
            f"abandoned: the process running it ({row.owner or 'unknown'}) stopped before "
            "it finished (killed or the machine restarted); no plan was recorded, the "
            "previous plan stays current; run it again"
        )
        reaped.append(row.run_id)
        log.warning("nightly run %s was abandoned by its process; marked failed", row.run_id)
    return reaped


def _start_run(engine: Engine, run_id: str, params: dict[str, Any], started: datetime) -> None:
    with session_scope(engine) as s:
        row = s.get(MatchRun, run_id)
        if row is None:
            row = MatchRun(run_id=run_id, started_at=started, status="running", params=params)
            s.add(row)
        else:
            row.started_at = started
            row.finished_at = None
            row.status = "running"
            row.error = None
            row.params = params
        row.owner = process_identity()
        row.heartbeat_at = clock.now_utc()


def _heartbeat(engine: Engine, run_id: str) -> None:
    """The run is alive and progressing (between its stages)."""
    with session_scope(engine) as s:
        s.execute(
            update(MatchRun)
            .where(MatchRun.run_id == run_id, MatchRun.status == "running")
            .values(heartbeat_at=clock.now_utc(), owner=process_identity())
        )


def register_run(engine: Engine, run_id: str) -> None:
    """Record ``run_id`` as running (by this process) before a background run starts, so
    that it can be polled at once; an existing run row is left as it is."""
    with session_scope(engine) as s:
        if s.get(MatchRun, run_id) is None:
            now = clock.now_utc()
            s.add(
                MatchRun(
                    run_id=run_id,
                    started_at=now,
                    status="running",
                    owner=process_identity(),
                    heartbeat_at=now,
                )
            )


def _check_rerun(engine: Engine, run_id: str, digest: str) -> None:
    with engine.connect() as conn:
        row = conn.execute(
            select(MatchRun.status, MatchRun.input_hash).where(MatchRun.run_id == run_id)
        ).first()
    if row is not None and row.status == "succeeded" and row.input_hash not in (None, digest):
        raise RunConflict(
            f"run id {run_id!r} already holds a plan made from different inputs (the store, "
            "the model, the pins or the parameters changed since); use a new --run-id"
        )


def after_scoring(run_id: str, candidates: int) -> None:
    """Called once the run has read its inputs and scored its candidates, before the
    officers' pins are added: a seam where tests replace this module attribute to crash or
    pause a run at that stage."""


def before_plan_commit(run_id: str, written: int) -> None:
    """Called after each batch of plan rows, inside the final transaction: a seam where
    tests replace this module attribute to crash or pause a run mid-write."""


def _record_success(
    engine: Engine,
    run_id: str,
    plan: pd.DataFrame,
    *,
    model_version: str,
    digest: str,
    objective: float,
    counts: dict[str, Any],
    summary: dict[str, Any],
    params: dict[str, Any],
) -> datetime:
    finished = clock.now_utc()
    records = [
        {
            "run_id": run_id,
            "worker_id": str(w),
            "vacancy_id": str(v),
            "score": float(sc),
            "reasons": str(r) if r is not None else None,
            "pinned": bool(p),
        }
        for w, v, sc, r, p in zip(
            plan[Columns.Worker],
            plan[Columns.Vacancy],
            plan[Columns.Score],
            plan[Columns.Reasons],
            plan["pinned"],
            strict=True,
        )
    ]
    with session_scope(engine) as s:
        # one transaction: old rows out, new rows in, status flipped -- all or nothing
        s.execute(delete(PlanRow).where(PlanRow.run_id == run_id))
        written = 0
        for i in range(0, len(records), PLAN_BATCH):
            batch = records[i : i + PLAN_BATCH]
            s.execute(insert(PlanRow), batch)
            written += len(batch)
            before_plan_commit(run_id, written)
        row = s.get(MatchRun, run_id)
        if row is None:  # pragma: no cover - created by _start_run
            raise NightlyError(f"run {run_id} vanished from match_runs during the run")
        row.status = "succeeded"
        row.finished_at = finished
        row.model_version = model_version
        row.input_hash = digest
        row.objective = objective
        row.counts = _jsonable(counts)
        row.summary = _jsonable(summary)
        row.params = _jsonable(params)
        row.error = None
    return finished


def _record_failure(engine: Engine, run_id: str, error: str) -> datetime:
    finished = clock.now_utc()
    with session_scope(engine) as s:
        s.execute(delete(PlanRow).where(PlanRow.run_id == run_id))
        row = s.get(MatchRun, run_id)
        if row is None:
            row = MatchRun(run_id=run_id, started_at=finished, status="failed")
            s.add(row)
        row.status = "failed"
        row.finished_at = finished
        row.error = error[:4000]
    return finished


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path | datetime | pd.Timestamp):
        return str(value)
    return value


# --------------------------------------------------------------------------- the run


def welfare_priority_for(monitored_weight: float) -> float:
    """The run's default welfare bonus: ``max(2, monitored_weight + 0.5)``, so that it
    always dominates the weighted scores (see :func:`matcher.planning.assignment.plan_placements`)."""
    return max(DEFAULT_WELFARE_PRIORITY, monitored_weight + 0.5)


def run_match(
    database_url: str | Engine,
    model_dir: str | Path | None = None,
    *,
    run_id: str | None = None,
    out: str | Path | None = None,
    scheduler: str | Any | None = None,
    k: int = DEFAULT_K,
    monitored_weight: float = DEFAULT_MONITORED_WEIGHT,
    welfare_priority: float | None = None,
    group_rule: str = "value",
    partition_size: int | None = None,
    as_of: pd.Timestamp | datetime | str | None = "snapshot",
    model: Any = None,
    model_version: str | None = None,
    use_settings_scheduler: bool = True,
    progress: Callable[[str], None] | None = None,
    scoring: str = "batch",
    dataset: Dataset | None = None,
    keep_candidates: bool = False,
) -> RunSummary:
    """Run the nightly match end to end and record it; see the module docstring.

    Parameters
    ----------
    database_url : str or Engine
        The store.
    model_dir : path, optional
        Folder of trained models (its promoted one is used); ignored when ``model`` is
        given.
    run_id : str, optional
        Default: ``run-<UTC timestamp>``.
    out : path, optional
        Write ``plan.csv`` (worker_id,vacancy_id,score,reasons) there.
    scheduler : str or distributed.Client, optional
        Dask scheduler; default ``JOBMATCH_DASK_SCHEDULER`` (when
        ``use_settings_scheduler``), else in-process.
    k : int
        Candidates per worker.
    monitored_weight, welfare_priority : float
        See :func:`matcher.planning.assignment.plan_placements`; ``welfare_priority`` defaults to
        ``max(2, monitored_weight + 0.5)`` so that it always dominates the weighted scores.
    group_rule : {"value", "first"}
        How village groups are planned; see :func:`matcher.planning.assignment.plan_placements`
        (``"first"``, groups before individuals, is the earlier rule, kept for
        benchmarks and as a policy choice).
    as_of : timestamp, "snapshot", "now" or None
        Vacancies must be posted and not closed at this time. ``"snapshot"`` (default)
        is the latest time the store knows of (last event, posting or registration),
        which is "now" for a live store and keeps a re-run of the same store
        deterministic; None ignores the dates.
    model, model_version : optional
        A fitted model to use instead of the promoted one (tests, benchmarks).
    scoring : {"batch", "live", "exact"}, default "batch"
        ``"batch"``: :class:`matcher.serving.batch.BatchScorer` with its pre-score
        shortlist (the catalogue is refreshed with tonight's vacancies and the pinned
        workers; workers are encoded partition by partition; reasons are written for
        the planned pairs only). ``"live"`` (opt-in): the same scorer with the live
        candidates (``candidates="live"``: each worker's list is the one
        ``recommend_many`` gives with this catalogue; the catalogue also holds
        :func:`proxy_sample` of the active workers, on which its ranker proxy is
        fitted); tens of times the shortlist's cost per worker
        (``bench/nightly_fidelity_bench.py``), and on the truth bench's wage-driven
        market its plan's nightly/oracle was 0.607 against the shortlist's 0.611.
        ``"exact"``: ``model.recommend_many`` per partition (every worker refreshed into
        the catalogue first). Models without a full-stage ranker are always scored the
        exact way.
    partition_size : int, optional
        Workers per partition (default 25,000 batch, 5,000 exact).
    dataset : Dataset, optional
        The snapshot to plan on instead of loading the store (benchmarks); the run is
        still recorded in the store.
    keep_candidates : bool
        Return the scored candidate pairs on the summary (benchmarks re-plan them).

    Returns
    -------
    RunSummary

    Raises
    ------
    RunConflict
        The run id holds a plan made from other inputs.
    NightlyError
        No promoted model, or another reason the run cannot start.
    Exception
        Any failure during the run is recorded as ``failed`` and re-raised.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    if k < 1:
        raise NightlyError(f"k must be at least 1, got {k}")
    if group_rule not in GROUP_RULES:
        raise NightlyError(
            f"group_rule must be one of {', '.join(GROUP_RULES)}, got {group_rule!r}"
        )
    if scoring not in SCORING_CHOICES:
        raise NightlyError(f"scoring must be one of {', '.join(SCORING_CHOICES)}, got {scoring!r}")
    engine = database_url if isinstance(database_url, Engine) else make_engine(database_url)
    own_engine = not isinstance(database_url, Engine)
    from service.store.migrate import ensure_schema
    from service.store.repository import load_dataset

    ensure_schema(engine)
    if scheduler is None and use_settings_scheduler:
        from service.settings import get_settings

        scheduler = get_settings().dask_scheduler
    run_id = run_id or new_run_id()
    if welfare_priority is None:
        welfare_priority = welfare_priority_for(monitored_weight)
    params: dict[str, Any] = {
        "k": k,
        "monitored_weight": monitored_weight,
        "welfare_priority": welfare_priority,
        "group_rule": group_rule,
        "scheduler": "cluster" if scheduler else "in-process",
    }
    timings: dict[str, float] = {}
    started = clock.now_utc()
    try:
        t = time.perf_counter()
        ds = load_dataset(engine) if dataset is None else dataset
        as_of_ts: pd.Timestamp | None
        if as_of == "snapshot":
            as_of_ts = snapshot_time(ds)
        elif as_of == "now":
            as_of_ts = pd.Timestamp(clock.now_utc())
        else:
            as_of_ts = None if as_of is None else pd.Timestamp(as_of)
        params["as_of"] = None if as_of_ts is None else as_of_ts.isoformat()
        hash_params = {key: v for key, v in params.items() if key != "scheduler"}
        statuses = _worker_statuses(engine)
        workers = active_workers(ds, statuses)
        vacancies = open_vacancies(ds, as_of_ts)
        pins, excludes = read_pins(engine)
        if model is None:
            if model_dir is None:
                raise NightlyError("no model_dir given and no model passed")
            model, model_version = _load_model(Path(model_dir))
        model_version = model_version or getattr(model, "version_", None) or type(model).__name__
        assert model_version is not None
        digest = input_hash(ds, model_version, hash_params, pins, excludes, statuses)
        _check_rerun(engine, run_id, digest)
        with session_scope(engine) as session:
            reap_abandoned_runs(session)
        _start_run(engine, run_id, _jsonable(params), started)
        use_batch = scoring != "exact" and _batch_ready(model)
        timings["load_seconds"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        # the households holding a public-welfare post, read once from the whole store:
        # the refreshed catalogue and the batch path's pairs apply the same ones
        holders = public_post_holders(ds.events, ds.vacancies, ds.workers, as_of_ts)
        if isinstance(model, RefreshableModel):
            # the catalogue must be tonight's: new vacancies and workers, seats taken
            target = ds
            if use_batch:
                # the batch path encodes workers partition by partition: the catalogue
                # holds tonight's vacancies, the pinned workers (for explain) and, for
                # the live candidates, a seeded sample of the active workers, on
                # which the catalogue's ranker proxy is fitted
                keep = ds.workers[Columns.Worker].isin(pins[Columns.Worker])
                if scoring == "live":
                    keep |= ds.workers[Columns.Worker].isin(proxy_sample(workers))
                target = Dataset(
                    ds.workers[keep].reset_index(drop=True), ds.employers, ds.vacancies, ds.events
                )
            model = model.refresh(target, at=as_of_ts, holders=holders)
        timings["refresh_seconds"] = round(time.perf_counter() - t, 3)
        say(
            f"run {run_id}: {len(workers)} active workers, {len(vacancies)} open vacancies "
            f"({int(pd.to_numeric(vacancies['headcount']).sum())} seats), "
            f"{len(pins)} pins, {len(excludes)} excludes"
        )

        t = time.perf_counter()
        scorer: Any = None
        if use_batch:
            from matcher.serving.batch import BatchScorer

            if scoring == "live":
                scorer = BatchScorer(model, candidates="live")
            else:
                scorer = BatchScorer(model).prepare(workers)
        timings["prepare_seconds"] = round(time.perf_counter() - t, 3)
        size = max(
            1,
            int(partition_size or (BATCH_PARTITION_SIZE if use_batch else DEFAULT_PARTITION_SIZE)),
        )
        with _Partitions(scorer if use_batch else model, scheduler) as runner:
            t = time.perf_counter()
            if use_batch:
                pursued = pairs_not_proposed(ds, workers[Columns.Worker], as_of_ts, holders)
                w_parts, p_parts = _split_by_worker(workers, pursued, size)
                frames = runner.map(_score_batch_partition, w_parts, p_parts, [k] * len(w_parts))
            else:
                id_parts = partitions(workers[Columns.Worker].tolist(), size)
                frames = runner.map(_score_partition, id_parts, [k] * len(id_parts))
            facts: dict[str, Any] = {
                "scoring": scoring if use_batch else "exact",
                "partitions": len(frames),
                "partition_size": size,
                **runner.facts(),
            }
            frames = [f for f in frames if len(f)]
            cands = (
                pd.concat(frames, ignore_index=True)
                if frames
                else pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
            )
            after_scoring(run_id, len(cands))
            extra, pin_notes = _pin_candidates(model, pins, cands)
            if len(extra):
                cands = pd.concat([cands, extra], ignore_index=True)
            timings["score_seconds"] = round(time.perf_counter() - t, 3)
            say(
                f"scored {len(cands)} candidate pairs in {timings['score_seconds']} s "
                f"({facts['dask']}, {facts['scoring']})"
            )
            _heartbeat(engine, run_id)

            t = time.perf_counter()
            result: PlanResult = plan_placements(
                cands,
                workers,
                vacancies,
                pins=pins,
                excludes=excludes,
                monitored_weight=monitored_weight,
                welfare_priority=welfare_priority,
                pin_notes=pin_notes,
                group_rule=group_rule,
            )
            timings["assign_seconds"] = round(time.perf_counter() - t, 3)
            plan = result.plan

            if use_batch and len(plan):
                # reasons only for the pairs the plan assigns
                t = time.perf_counter()
                planned = workers[workers[Columns.Worker].isin(plan[Columns.Worker])]
                pw, pp = _split_by_worker(planned, plan[[Columns.Worker, Columns.Vacancy]], size)
                texts = runner.map(_explain_partition, pw, pp)
                by_worker = dict(
                    zip(
                        pd.concat(pp)[Columns.Worker],
                        [r for part in texts for r in part],
                        strict=True,
                    )
                )
                plan[Columns.Reasons] = plan[Columns.Worker].map(by_worker).fillna("")
                timings["explain_seconds"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        counts = {
            "active_workers": len(workers),
            "open_vacancies": len(vacancies),
            "seats": int(pd.to_numeric(vacancies["headcount"]).sum()),
            "candidates": len(cands),
            "placed": len(plan),
            "pins": len(pins),
            "pins_honoured": int(result.pins["honoured"].sum()) if len(result.pins) else 0,
            "excludes": len(excludes),
            **{
                key: result.stats.get(key)
                for key in (
                    "expected_stable_placements",
                    "placement_rate",
                    "placement_rate_monitored",
                    "placement_rate_other",
                    "welfare_seats_filled",
                    "welfare_seats_to_priority_workers",
                    "groups",
                    "groups_placed",
                    "flow_rounds",
                    "plan_method",
                    # plan diagnostics (matcher.planning.assignment.plan_diagnostics)
                    "unplaced_with_open_seat",
                    "unplaced_reasons",
                    "open_seat_share_without_candidate",
                    "seats_left_empty",
                    "gini_candidates_per_vacancy",
                    "gini_placements_per_vacancy",
                )
            },
        }
        summary = plan_summary(plan, workers, vacancies)
        # who takes the seats policy reserves for semi/weak labour and home-bound workers
        summary["priority_posts"] = priority_post_report(plan, workers, vacancies, cands)
        for channel, entry in summary["priority_posts"].items():
            counts[f"{channel}_share_to_priority"] = entry["share_to_priority"]
        summary["pins"] = result.pins.to_dict(orient="records")
        summary["dask"] = facts
        summary["timings"] = timings
        if out is not None:
            out_path = Path(out)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            # written beside and renamed once the plan is committed: a run killed on the
            # way leaves no plan file that the store does not hold
            partial = out_path.with_name(f".{out_path.name}.{os.getpid()}.partial")
            plan[PLAN_CSV_COLUMNS].to_csv(partial, index=False, encoding="utf-8")
        _heartbeat(engine, run_id)
        say(f"run {run_id}: writing the plan ({len(plan)} rows)")
        finished = _record_success(
            engine,
            run_id,
            plan,
            model_version=model_version,
            digest=digest,
            objective=result.objective,
            counts=counts,
            summary=summary,
            params=params,
        )
        if out is not None:
            os.replace(partial, out_path)
        timings["write_seconds"] = round(time.perf_counter() - t, 3)
        say(f"run {run_id} succeeded: {len(plan)} placements, objective {result.objective:.2f}")
        return RunSummary(
            run_id=run_id,
            status="succeeded",
            started_at=started,
            finished_at=finished,
            model_version=model_version,
            input_hash=digest,
            objective=result.objective,
            counts=counts,
            summary=summary,
            timings=timings,
            out=Path(out) if out is not None else None,
            plan=plan,
            candidates=cands if keep_candidates else None,
        )
    except RunConflict:
        raise  # nothing was written: the earlier plan stays as it was
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        log.error("run %s failed: %s\n%s", run_id, message, traceback.format_exc())
        _record_failure(engine, run_id, message)
        raise
    finally:
        if own_engine:
            engine.dispose()


# --------------------------------------------------------------------------- reading runs


def list_runs(session: Session, *, offset: int = 0, limit: int = 50) -> tuple[list[MatchRun], int]:
    """Runs, newest first; runs abandoned by a killed process are marked failed first."""
    reap_abandoned_runs(session)
    total = session.execute(select(func.count()).select_from(MatchRun)).scalar_one()
    rows = session.scalars(
        select(MatchRun)
        .order_by(MatchRun.started_at.desc(), MatchRun.run_id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def plan_page(
    session: Session,
    run_id: str,
    *,
    region_prefix: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """Plan rows of a run with the vacancy's title, channel and region; ``region_prefix``
    keeps only workers whose home region starts with it (an officer's scope)."""
    base = (
        select(
            PlanRow.worker_id,
            PlanRow.vacancy_id,
            PlanRow.score,
            PlanRow.reasons,
            PlanRow.pinned,
            Worker.home_region,
            Vacancy.title,
            Vacancy.channel,
            Vacancy.region,
            Vacancy.employer_id,
        )
        .join(Worker, Worker.worker_id == PlanRow.worker_id, isouter=True)
        .join(Vacancy, Vacancy.vacancy_id == PlanRow.vacancy_id, isouter=True)
        .where(PlanRow.run_id == run_id)
    )
    if region_prefix:
        base = base.where(Worker.home_region.like(f"{region_prefix}%"))
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(PlanRow.worker_id).offset(offset).limit(limit)).all()
    return [dict(r._mapping) for r in rows], int(total)


__all__ = [
    "NightlyError",
    "RunConflict",
    "RunSummary",
    "active_workers",
    "list_runs",
    "plan_page",
    "plan_summary",
    "read_pins",
    "run_match",
    "score_candidates",
]
