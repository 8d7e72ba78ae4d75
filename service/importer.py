"""Import a folder of contract files into the store: validate everything, then write once.

``import_folder(DIR, url)`` finds ``workers``, ``employers``, ``vacancies`` and
``events`` files (``.csv``, ``.parquet`` or ``.jsonl``; any subset), checks every
file completely (``matcher.data.contract``), then checks references across files and
against the store (a vacancy's employer, an event's worker and vacancy), fills
blank vacancy occupation codes with the occupation normaliser, and writes
everything in ONE transaction. Any problem anywhere means nothing is written.

Re-importing the same files changes nothing: rows are upserted by id and events
are de-duplicated, and the summary says what was inserted, updated or unchanged.
Personal-data columns never reach logs; problems hide their values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from matcher.data.contract import (
    MAX_PROBLEMS,
    SUPPORTED_EXTENSIONS,
    CheckedTable,
    ContractError,
    Problem,
    check_file,
)
from matcher.data.schema import CONTRACT
from service import followups, lifecycle
from service.store.db import make_engine, session_scope
from service.store.migrate import ensure_schema
from service.store.repository import UpsertResult, existing_ids, upsert
from training.synth.truth import TRUTH_FILE

log = logging.getLogger(__name__)

#: Tables in the order they are written (referenced tables first).
WRITE_ORDER = ("employers", "workers", "vacancies", "events")


class OccupationMatch(Protocol):
    code: str | None
    confidence: float


class OccupationNormaliser(Protocol):
    def classify_many(self, texts: list[str]) -> list[Any]: ...


@dataclass
class TableSummary:
    """What the import did to one table."""

    table: str
    file: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportSummary:
    """The outcome of one import (everything was written, or the import raised)."""

    folder: str
    tables: list[TableSummary] = field(default_factory=list)
    occupations_inferred: int = 0
    occupations_given: int = 0
    occupation_note: str | None = None
    #: workers of the imported events now employed / to be re-placed (``service.lifecycle``)
    employed: int = 0
    needs_replacement: int = 0
    #: follow-ups scheduled for the imported hires, and how many of them the imported
    #: outcomes answered (``service.followups``)
    follow_ups: int = 0
    follow_ups_settled: int = 0
    #: files of the folder that were deliberately not read (and why)
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: of ``seconds``, the time spent bringing statuses, placements and follow-ups in
    #: line with the imported outcomes (``lifecycle.rebuild`` and ``followups``)
    lifecycle_seconds: float = 0.0

    def table(self, name: str) -> TableSummary:
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(f"the import held no {name} file")

    @property
    def changed(self) -> int:
        return sum(t.inserted + t.updated for t in self.tables)

    def rows(self) -> list[list[object]]:
        """One row per table: table, file, rows, inserted, updated, unchanged."""
        return [[t.table, t.file, t.rows, t.inserted, t.updated, t.unchanged] for t in self.tables]


# --------------------------------------------------------------------------- files


def find_files(folder: str | Path) -> dict[str, Path]:
    """The contract files of ``folder`` by table.

    Files with other extensions (README.md, …), hidden files (``.``, ``~$``) and a sample
    market's ground truth (``truth.parquet``, :func:`ignored_files`) are ignored.

    Raises
    ------
    ContractError
        When the folder is missing, holds no contract file, holds two files for the
        same table, or a CSV/Parquet/JSONL file whose name is not a contract table.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(
            [
                Problem(
                    str(folder), None, None, None, "not a folder; give the folder holding the files"
                )
            ]
        )
    found: dict[str, list[Path]] = {}
    problems: list[Problem] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            continue
        if path.name.startswith((".", "~$")):
            continue  # hidden files, editors' lock files, macOS "._" copies
        if path.name.lower() == TRUTH_FILE:
            continue  # ground truth of a sample market: never imported (ignored_files)
        name = path.stem.lower()
        if name not in CONTRACT:
            problems.append(
                Problem(
                    path.name,
                    None,
                    None,
                    None,
                    f"not a contract table; name files {', '.join(CONTRACT)} "
                    f"with extension {', '.join(SUPPORTED_EXTENSIONS)} (or move this file away)",
                )
            )
            continue
        found.setdefault(name, []).append(path)
    for name, paths in found.items():
        if len(paths) > 1:
            problems.append(
                Problem(
                    ", ".join(p.name for p in paths),
                    None,
                    None,
                    None,
                    f"two files for the {name} table; keep exactly one",
                )
            )
    if not found and not problems:
        problems.append(
            Problem(
                str(folder),
                None,
                None,
                None,
                "no contract files found (expected workers, employers, vacancies and/or "
                f"events with extension {', '.join(SUPPORTED_EXTENSIONS)})",
            )
        )
    if problems:
        raise ContractError(problems)
    return {name: paths[0] for name, paths in found.items()}


def ignored_files(folder: str | Path) -> list[str]:
    """Notes on files of ``folder`` that the import deliberately does not read.

    A folder written by ``jobmatch synth`` holds ``truth.parquet``, the true value of each
    pair of the sample market. It is for benchmarks only: importing it would let training
    see the answers, so the import skips it and says so.
    """
    path = Path(folder) / TRUTH_FILE
    if not path.is_file():
        return []
    return [
        f"{TRUTH_FILE} ignored: the ground truth of a sample market is for benchmarks "
        "only and never enters the store"
    ]


# --------------------------------------------------------------------------- references


def _reference_problems(
    checked: dict[str, CheckedTable], session: Session, limit: int = MAX_PROBLEMS
) -> tuple[list[Problem], int]:
    """Rows naming ids that are neither in the import nor in the store."""
    problems: list[Problem] = []
    total = 0
    ids_in_files: dict[str, set[str]] = {}
    for name, ct in checked.items():
        key = CONTRACT[name].key
        if len(key) == 1 and ct.frame is not None:
            ids_in_files[name] = set(ct.frame[key[0]].tolist())
    for name in WRITE_ORDER:
        table_check = checked.get(name)
        if table_check is None or table_check.frame is None:
            continue
        ct = table_check
        frame = table_check.frame
        for column, target in CONTRACT[name].references.items():
            if target in checked and checked[target].frame is None:
                continue  # that file has its own problems; its ids are not known yet
            values = frame[column]
            in_files = ids_in_files.get(target, set())
            outside = sorted(set(values.unique()) - in_files)
            stored = existing_ids(session, target, outside) if outside else set()
            unknown = set(outside) - stored
            if not unknown:
                continue
            bad = np.flatnonzero(values.isin(unknown).to_numpy())
            total += len(bad)
            lines = ct.line_of(bad[:limit])
            where = (
                f"neither in {checked[target].file} nor in the store"
                if target in checked
                else f"not in the store (and this import has no {target} file)"
            )
            for pos, line in zip(bad[:limit].tolist(), lines.tolist(), strict=True):
                problems.append(
                    Problem(
                        ct.file,
                        None if line < 0 else int(line),
                        column,
                        repr(str(values.iloc[pos])),
                        f"names an unknown {target[:-1]}: {where}",
                    )
                )
    return problems, total


# --------------------------------------------------------------------------- occupations


def default_occupation_normaliser() -> tuple[OccupationNormaliser | None, str | None]:
    """The project's occupation coder (:mod:`service.occupation_coder`), or None and the
    reason it is unavailable."""
    from service.occupation_coder import occupation_coder

    try:
        return occupation_coder(), None
    except (FileNotFoundError, ValueError) as exc:
        return None, f"occupation inference unavailable ({exc})"


def fill_occupations(
    vacancies: pd.DataFrame,
    normaliser: OccupationNormaliser | None,
) -> tuple[pd.DataFrame, int, int]:
    """Mark given occupation codes and infer blank ones from the title.

    Returns the frame with ``occupation_source`` (``given``/``inferred``/None) and
    ``occupation_confidence``, the number inferred, and the number given.
    """
    out = vacancies.copy()
    code = out["occupation_code"]
    given = code.notna().to_numpy()
    source = np.array(["given" if g else None for g in given], dtype=object)
    confidence = np.full(len(out), np.nan)
    inferred = 0
    codes = np.array([c if isinstance(c, str) else None for c in code], dtype=object)
    blank = np.flatnonzero(~given)
    if blank.size and normaliser is not None:
        from matcher.occupations.classifier import clean_title

        # a title with no words names no occupation: it stays blank, not coded 8-00-00-00
        blank = np.asarray([p for p in blank if clean_title(out["title"].iloc[p])], dtype=np.int64)
        titles = [str(t) for t in out["title"].iloc[blank]]
        matches = normaliser.classify_many(titles)
        for pos, match in zip(blank.tolist(), matches, strict=True):
            if match is None or not getattr(match, "code", None):
                continue  # nothing to classify, or no group reached the threshold
            codes[pos] = match.code
            source[pos] = "inferred"
            confidence[pos] = float(match.confidence)
            inferred += 1
    # object Series keep None as None (pandas 3 would infer a str dtype holding NaN)
    out["occupation_code"] = pd.Series(codes, index=out.index, dtype=object)
    out["occupation_source"] = pd.Series(source, index=out.index, dtype=object)
    out["occupation_confidence"] = confidence
    return out, inferred, int(given.sum())


# --------------------------------------------------------------------------- import


def _sqlite_fast_writes(session: Session) -> None:
    """Bulk-load settings for this connection: the transaction still commits atomically."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size=-200000"))
        session.execute(text("PRAGMA temp_store=MEMORY"))
        session.execute(text("PRAGMA threads=2"))  # helper threads sort for CREATE INDEX


def import_folder(
    folder: str | Path,
    database_url: str | Engine,
    *,
    normaliser: OccupationNormaliser | None = None,
    infer_occupations: bool = True,
    limit: int = MAX_PROBLEMS,
    followup_days: Sequence[int] = followups.DEFAULT_DAYS,
) -> ImportSummary:
    """Validate every contract file of ``folder`` and write them to the store atomically.

    Parameters
    ----------
    folder : path
        Holds any of workers, employers, vacancies, events as .csv/.parquet/.jsonl.
    database_url : str or Engine
        The store (migrated to the current schema first).
    normaliser : object with ``classify_many``, optional
        Infers blank vacancy occupation codes from titles; defaults to the project's
        occupation coder (``service.occupation_coder.occupation_coder()``).
    infer_occupations : bool
        False leaves blank occupation codes blank (no normaliser is loaded).
    limit : int
        Problems listed in the error (all are counted).
    followup_days : sequence of int
        Days after a hire at which follow-ups are scheduled for imported hires.

    Returns
    -------
    ImportSummary

    Raises
    ------
    ContractError
        Every problem of every file (and every unknown reference); nothing written.
    """
    started = time.perf_counter()
    files = find_files(folder)
    checked: dict[str, CheckedTable] = {}
    problems: list[Problem] = []
    total = 0
    for name in WRITE_ORDER:
        if name in files:
            ct = check_file(files[name], name, limit=limit)
            checked[name] = ct
            problems += ct.problems
            total += ct.total
            log.info("checked %s: %s", ct.file, "ok" if ct.ok else f"{ct.total} problems")

    engine = database_url if isinstance(database_url, Engine) else make_engine(database_url)
    try:
        ensure_schema(engine)
        summary = ImportSummary(folder=str(folder), ignored=ignored_files(folder))
        with session_scope(engine) as session:
            ref_problems, ref_total = _reference_problems(checked, session, limit)
            problems += ref_problems
            total += ref_total
            if total:
                raise ContractError(problems, total, limit=limit)

            if "vacancies" in checked:
                ct = checked["vacancies"]
                assert ct.frame is not None
                model, note = normaliser, None
                if not infer_occupations:
                    model, note = None, "occupation inference switched off"
                elif model is None and ct.frame["occupation_code"].isna().any():
                    model, note = default_occupation_normaliser()
                frame, n_inferred, n_given = fill_occupations(ct.frame, model)
                ct.frame = frame
                ct.columns = tuple(
                    dict.fromkeys(
                        (
                            *ct.columns,
                            "occupation_code",
                            "occupation_source",
                            "occupation_confidence",
                        )
                    )
                )
                summary.occupations_inferred = n_inferred
                summary.occupations_given = n_given
                summary.occupation_note = note

            _sqlite_fast_writes(session)
            for name in WRITE_ORDER:
                if name not in checked:
                    continue
                ct = checked[name]
                assert ct.frame is not None
                key = list(CONTRACT[name].key)
                columns = list(dict.fromkeys([*key, *ct.columns]))
                result: UpsertResult = upsert(session, name, ct.frame[columns])
                summary.tables.append(
                    TableSummary(
                        name,
                        ct.file,
                        len(ct.frame),
                        result.inserted,
                        result.updated,
                        result.unchanged,
                    )
                )
            if "events" in checked:
                # workers' status and placements follow their outcomes (in the same
                # transaction: an import that fails leaves both as they were)
                assert checked["events"].frame is not None
                worker_ids = checked["events"].frame["worker_id"].astype(str).unique().tolist()
                t_life = time.perf_counter()
                life = lifecycle.rebuild(session, worker_ids)
                summary.employed, summary.needs_replacement = life.employed, life.needs_replacement
                summary.follow_ups = followups.schedule(session, worker_ids, followup_days)
                summary.follow_ups_settled = followups.settle_from_outcomes(session, worker_ids)
                summary.lifecycle_seconds = time.perf_counter() - t_life
    finally:
        if not isinstance(database_url, Engine):
            engine.dispose()
    summary.seconds = time.perf_counter() - started
    log.info(
        "imported %s: %s",
        folder,
        ", ".join(f"{t.table} +{t.inserted} ~{t.updated} ={t.unchanged}" for t in summary.tables),
    )
    return summary


__all__ = [
    "ImportSummary",
    "TableSummary",
    "default_occupation_normaliser",
    "fill_occupations",
    "find_files",
    "import_folder",
]
