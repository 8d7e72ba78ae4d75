"""The model version the service serves, kept in the store, so that every server
process follows it, and which version each process serves.

``POST /api/v1/admin/reload-model`` reaches one process: that process loads the
promoted model and records its version here (:meth:`ServingState.decide`);
``jobmatch models promote`` and ``rollback`` record theirs too. Every process checks
the store every few seconds (:class:`service.model_holder.ModelHolder`'s watch, in a
background thread: no request waits for it), loads the decided version when it
serves another one and swaps it in; requests in flight finish on the model they
started with.

Each process reports what it serves (:meth:`ServingState.report`) when it swaps and
when it checks, so ``GET /api/v1/admin/model`` can say which version every live
process serves, whichever process answers.

The decision and the model pointer (``<model_dir>/current``) are both ways to say
which model to serve; the latest one wins (:meth:`ServingState.decided`), so a
promotion that only moved the pointer (an older ``jobmatch``, a copy of the model
folder) is still followed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from service import clock
from service.processes import process_identity
from service.store.db import session_scope
from service.store.models import ServingModel, ServingProcess

log = logging.getLogger(__name__)

#: A process not seen for this long is no longer listed (and its row is removed).
GONE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Decision:
    version: str
    decided_at: datetime
    decided_by: str | None


class ServingState:
    """The store's record of the served model version, for one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.process = process_identity()

    def decision(self) -> Decision | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ServingModel.version, ServingModel.decided_at, ServingModel.decided_by)
            ).first()
        return None if row is None else Decision(row.version, row.decided_at, row.decided_by)

    def decided(self, model_dir: Path) -> str | None:
        """The version to serve: the store's decision, unless the model pointer was
        changed after it (then the pointer's); None when neither names one."""
        decision = self.decision()
        if decision is None:
            return None
        pointer = Path(model_dir) / "current"
        try:
            moved = datetime.fromtimestamp(os.lstat(pointer).st_mtime, UTC).replace(tzinfo=None)
        except OSError:
            moved = None
        if moved is not None and moved > decision.decided_at:
            return None  # the pointer is newer: the holder follows it
        return decision.version

    def decide(self, version: str, by: str | None = None) -> None:
        """Record that every process should serve ``version`` from now on."""
        with session_scope(self.engine) as s:
            row = s.get(ServingModel, 1)
            if row is None:
                s.add(
                    ServingModel(id=1, version=version, decided_at=clock.now_utc(), decided_by=by)
                )
            else:
                row.version, row.decided_at, row.decided_by = version, clock.now_utc(), by

    def report(self, loaded: Any, reason: str | None = None) -> None:
        """Record what this process serves now (``loaded``: a LoadedModel or None)."""
        now = clock.now_utc()
        try:
            with session_scope(self.engine) as s:
                row = s.get(ServingProcess, self.process)
                if row is None:
                    row = ServingProcess(process=self.process, seen_at=now)
                    s.add(row)
                row.seen_at = now
                row.version = loaded.version if loaded is not None else None
                loaded_at = loaded.loaded_at if loaded is not None else None
                row.loaded_at = (
                    loaded_at.astimezone(UTC).replace(tzinfo=None)
                    if isinstance(loaded_at, datetime) and loaded_at.tzinfo
                    else loaded_at
                )
                row.reason = reason
        except SQLAlchemyError as exc:  # the store is down: serving goes on
            log.warning("could not record the served model in the store: %s", type(exc).__name__)

    def processes(self) -> list[dict[str, Any]]:
        """The live processes (seen within :data:`GONE_AFTER`) and what they serve; rows
        of processes gone longer are removed."""
        cutoff = clock.now_utc() - GONE_AFTER
        with session_scope(self.engine) as s:
            s.execute(delete(ServingProcess).where(ServingProcess.seen_at < cutoff))
            rows = s.scalars(select(ServingProcess).order_by(ServingProcess.process)).all()
            return [
                {
                    "process": r.process,
                    "version": r.version,
                    "loaded_at": r.loaded_at,
                    "seen_at": r.seen_at,
                    "reason": r.reason,
                    "this_process": r.process == self.process,
                }
                for r in rows
            ]
