"""The model registry: ``models/<version>/`` folders, the promoted one, and its history.

Layout of ``model_dir`` (``JOBMATCH_MODEL_DIR``, default ``./models``)::

    models/
      20250301T020000Z/        one trained model (version = UTC time of training)
        ...                    the artifact written by the model's ``save``
        model_card.json        data snapshot, parameters, versions, metrics, split
        report.html            the evaluation report
      current                  text file: the promoted version's folder name
      history.jsonl            one JSON line per promotion or rollback

``current`` is a plain text file (portable, unlike symlinks) replaced atomically
(write a temporary file, then ``os.replace``), so a reader sees the old or the
new name, never half of one.

Rollback
--------
The history is replayed as a stack: ``promote`` pushes a version, ``rollback``
pops the current one and returns to the version promoted before it. Rolling
back past the first promotion is refused.

Promotion guard
---------------
A model is promoted only if its NDCG@10 (all evaluated workers) is no worse than
the current model's **on the same split** by more than ``tolerance`` (absolute,
default 0.01): promote when ``new >= current - tolerance``. "The same split"
means the same cutoff, the same end and the same data (``Dataset.fingerprint``):

1. if the candidate's card already holds the current model re-measured on its
   split (``jobmatch train`` does this; key ``incumbent``), that number is used;
2. else if both cards were evaluated on an identical split, their stored
   numbers are compared;
3. else the current model's recipe (its class and ``get_params()``, read from
   its artifact) is refitted on the candidate's training snapshot and evaluated
   on the candidate's test set (the caller passes that measurement in).

Equal service: the gap guard
----------------------------
The training report measures NDCG@10 per group of workers on the held-out weeks
(``training.groups``: language, gender, labour capacity, mobility, household status,
cold vs known). For every dimension the *gap* is ``1 - worst group / best group``.
A candidate is refused when, on the same split as above, it widens some dimension's
gap by more than ``gap_tolerance`` (absolute, default 0.02) over the incumbent's; the
message names the dimension, the worst group and by how much. An administrator can
promote anyway with ``gap_override=REASON`` (``--override-gap "why"``): the reason and
the gaps go to ``history.jsonl`` and the log. ``force`` skips both guards.

A deployed model cannot simply be re-scored on a newer split: it was refitted on
all data up to its own training day, which may include the new split's test
weeks. Refitting its recipe on the new training snapshot compares like with
like. ``force=True`` skips the guard and the history records that it was forced.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matcher.artifacts import current_class_path
from training.groups import GAP_METRIC, MIN_GROUP_WORKERS, group_gaps, groups_from_card
from training.split import TrainingDataError

log = logging.getLogger(__name__)

CURRENT = "current"
HISTORY = "history.jsonl"
CARD = "model_card.json"
REPORT = "report.html"
DEFAULT_TOLERANCE = 0.01
#: Absolute widening of a group gap (1 - worst/best NDCG@10) still promoted.
DEFAULT_GAP_TOLERANCE = 0.02
GUARD_METRIC = "ndcg@10"
DEFAULT_MODEL_CLASS = "matcher.serving.recommender.Recommender"

__all__ = [
    "CorruptArtifactError",
    "DEFAULT_GAP_TOLERANCE",
    "GapDecision",
    "GuardDecision",
    "PromotionRefused",
    "Remeasure",
    "compare_gaps",
    "current_model_path",
    "current_version",
    "guard",
    "history",
    "list_models",
    "load_current",
    "load_model",
    "new_version_dir",
    "promote",
    "read_card",
    "rollback",
]


class CorruptArtifactError(TrainingDataError):
    """A model folder exists but its artifact or card cannot be read."""


class PromotionRefused(RuntimeError):
    """The promotion guard refused a model; the message gives both numbers."""


# --------------------------------------------------------------------------- paths


def _now() -> datetime:
    return datetime.now(UTC)


def new_version_dir(model_dir: str | Path, at: datetime | None = None) -> Path:
    """Create and return ``model_dir/<UTC timestamp>/`` (a suffix avoids collisions)."""
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = (at or _now()).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1000):
        name = stamp if n == 0 else f"{stamp}-{n}"
        path = root / name
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new model folder under {root}")


def _version_path(model_dir: str | Path, version: str) -> Path:
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise ValueError(f"{version!r} is not a model version (a folder name under {model_dir})")
    return Path(model_dir) / version


def current_version(model_dir: str | Path) -> str | None:
    """Name of the promoted model, or None when nothing was promoted."""
    pointer = Path(model_dir) / CURRENT
    if pointer.is_symlink() or pointer.is_dir():
        return pointer.resolve().name
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return name or None


def current_model_path(model_dir: str | Path) -> Path | None:
    """Folder of the promoted model (what ``Recommender.load`` reads), or None.

    Raises
    ------
    CorruptArtifactError
        If ``current`` names a folder that does not exist.
    """
    version = current_version(model_dir)
    if version is None:
        return None
    path = _version_path(model_dir, version)
    if not path.is_dir():
        raise CorruptArtifactError(
            f"{Path(model_dir) / CURRENT} names {version!r} but {path} does not exist; "
            "run `jobmatch models list` and `jobmatch models promote VERSION` (or rollback)"
        )
    return path


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- cards


def read_card(model_dir: str | Path, version: str) -> dict[str, Any]:
    """The parsed ``model_card.json`` of a version.

    Raises
    ------
    FileNotFoundError
        Unknown version.
    CorruptArtifactError
        The card is missing or not valid JSON.
    """
    path = _version_path(model_dir, version)
    if not path.is_dir():
        known = ", ".join(m["version"] for m in list_models(model_dir)) or "none"
        raise FileNotFoundError(f"no model {version!r} under {model_dir}; known: {known}")
    card = path / CARD
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptArtifactError(
            f"{card} is missing: the training run that made {version} did not finish; "
            "delete the folder and run `jobmatch train` again"
        ) from None
    except json.JSONDecodeError as exc:
        raise CorruptArtifactError(
            f"{card} is not valid JSON (line {exc.lineno}, column {exc.colno}): the file is "
            "damaged; delete the folder and run `jobmatch train` again"
        ) from None
    if not isinstance(data, dict):
        raise CorruptArtifactError(f"{card} does not hold a JSON object; retrain the model")
    return data


def write_card(folder: Path, card: dict[str, Any]) -> Path:
    path = folder / CARD
    _atomic_write(path, json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def card_metric(card: dict[str, Any], metric: str = GUARD_METRIC, model: str = "full") -> float:
    """A metric of the card's own model (``metrics[model][metric]``, all workers)."""
    try:
        return float(card["metrics"][model][metric])
    except (KeyError, TypeError, ValueError):
        raise CorruptArtifactError(
            f"model card of {card.get('version', '?')} has no {metric} for {model!r}"
        ) from None


def list_models(model_dir: str | Path) -> list[dict[str, Any]]:
    """One summary per version folder, oldest first."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    current = current_version(root)
    out = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        row: dict[str, Any] = {"version": path.name, "current": path.name == current}
        try:
            card = read_card(root, path.name)
            metrics = card.get("metrics", {})
            row.update(
                created=card.get("created_at"),
                ndcg10=metrics.get("full", {}).get(GUARD_METRIC),
                keyword=metrics.get("keyword", {}).get(GUARD_METRIC),
                popularity=metrics.get("popularity", {}).get(GUARD_METRIC),
                events=card.get("data", {}).get("counts", {}).get("events"),
                status="ok",
            )
        except CorruptArtifactError as exc:
            row.update(status=f"damaged: {exc}")
        out.append(row)
    return out


# --------------------------------------------------------------------------- loading


def load_model(model_dir: str | Path, version: str) -> Any:
    """Load the artifact of ``version`` with the class named in its card.

    Raises
    ------
    CorruptArtifactError
        The artifact cannot be read (damaged file, incompatible version, wrong class).
    """
    path = _version_path(model_dir, version)
    try:
        card = read_card(model_dir, version)
    except CorruptArtifactError:
        card = {}
    class_path = current_class_path(card.get("model_class", DEFAULT_MODEL_CLASS))
    module_name, _, cls_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise CorruptArtifactError(
            f"model {version} was saved by {class_path}, which this jobmatch does not have "
            f"({type(exc).__name__}); retrain with `jobmatch train`"
        ) from exc
    try:
        return cls.load(path)
    except CorruptArtifactError:
        raise
    except Exception as exc:
        raise CorruptArtifactError(
            f"the model artifact in {path} cannot be loaded: {exc}. "
            "Roll back with `jobmatch models rollback`, or retrain with `jobmatch train`"
        ) from exc


def load_current(model_dir: str | Path) -> tuple[Any, str]:
    """The promoted model, loaded, and its version (for the service).

    Raises
    ------
    FileNotFoundError
        Nothing promoted yet (the message says to run ``jobmatch train``).
    CorruptArtifactError
        The promoted artifact cannot be read.
    """
    path = current_model_path(model_dir)
    if path is None:
        raise FileNotFoundError(
            f"no promoted model in {model_dir}: run `jobmatch train` (it promotes the model)"
        )
    return load_model(model_dir, path.name), path.name


# --------------------------------------------------------------------------- history


def history(model_dir: str | Path) -> list[dict[str, Any]]:
    """Every promotion and rollback, oldest first."""
    path = Path(model_dir) / HISTORY
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise CorruptArtifactError(
                f"{path} line {n} is not valid JSON; fix or remove that line"
            ) from None
    return out


def _append_history(model_dir: Path, record: dict[str, Any]) -> None:
    path = model_dir / HISTORY
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    _atomic_write(path, old + json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def _stack(model_dir: str | Path) -> list[str]:
    stack: list[str] = []
    for rec in history(model_dir):
        if rec.get("action") == "promote":
            stack.append(rec["version"])
        elif rec.get("action") == "rollback" and stack:
            stack.pop()
    return stack


# --------------------------------------------------------------------------- guard


@dataclass(frozen=True)
class GapDecision:
    """Whether a candidate widens a group gap beyond the tolerance (equal service).

    ``dimension`` is the dimension whose gap widened most (or narrowed least);
    ``candidate``/``incumbent`` hold that dimension's gap, worst and best group.
    """

    allowed: bool
    tolerance: float
    dimension: str | None = None
    widened_by: float | None = None
    candidate: dict[str, Any] | None = None
    incumbent: dict[str, Any] | None = None
    basis: str = ""
    override: str | None = None

    def message(self) -> str:
        if self.dimension is None or self.candidate is None or self.incumbent is None:
            return f"group gaps not compared ({self.basis})"
        c, i = self.candidate, self.incumbent
        widened = self.widened_by or 0.0
        verdict = "passes" if self.allowed else "is refused"
        if self.override:
            verdict = f"overridden ({self.override})"
        return (
            f"{self.dimension} gap {'widens' if widened > 0 else 'changes'} by {widened:+.4f} "
            f"(tolerance {self.tolerance:g}): worst group {c['worst']!r} at "
            f"{1 - c['gap']:.3f} of the best ({c['best']!r}, {GAP_METRIC} {c['worst_mean']:.4f} "
            f"vs {c['best_mean']:.4f}) against {1 - i['gap']:.3f} for the current model "
            f"(worst {i['worst']!r}, {i['worst_mean']:.4f} vs {i['best_mean']:.4f}): {verdict}"
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "tolerance": self.tolerance,
            "dimension": self.dimension,
            "widened_by": self.widened_by,
            "candidate": self.candidate,
            "incumbent": self.incumbent,
            "basis": self.basis,
            "override": self.override,
        }


@dataclass(frozen=True)
class GuardDecision:
    """Whether a candidate may replace the current model, and why.

    ``allowed`` is the NDCG@10 guard's verdict; ``gap`` the group-gap guard's.
    """

    allowed: bool
    candidate: float | None
    incumbent: float | None
    tolerance: float
    basis: str  # how the two numbers were made comparable
    gap: GapDecision | None = None

    def message(self) -> str:
        if self.incumbent is None:
            return f"no current model to compare with ({self.basis})"
        verdict = "passes" if self.allowed else "is refused"
        text = (
            f"NDCG@10 {self.candidate:.4f} vs current {self.incumbent:.4f} "
            f"(tolerance {self.tolerance:g}, {self.basis}): {verdict}"
        )
        if self.gap is not None:
            text += f"; {self.gap.message()}"
        return text


#: ``remeasure(candidate_card, current_version)`` -> the current model's NDCG@10 on the
#: candidate's split, or its record (``{"ndcg@10": .., "groups": ..}``, as
#: ``model_card.json``'s ``incumbent``) with its per-group figures for the gap guard.
Remeasure = Callable[[dict[str, Any], str], float | dict[str, Any]]


def _incumbent_figures(
    model_dir: str | Path,
    version: str,
    card: dict[str, Any],
    current: str,
    remeasure: Remeasure | None,
) -> tuple[float, Any, str]:
    """The current model's NDCG@10 and per-group table on the candidate's split, and how."""
    inc_rec = card.get("incumbent") or {}
    if inc_rec.get("version") == current and inc_rec.get(GUARD_METRIC) is not None:
        table = groups_from_card(inc_rec.get("groups"))
        return (
            float(inc_rec[GUARD_METRIC]),
            table,
            f"current {current} refitted on this model's split",
        )
    try:
        cur_card = read_card(model_dir, current)
    except (FileNotFoundError, CorruptArtifactError):
        cur_card = {}
    same = cur_card.get("split", {}).get("identity") == card.get("split", {}).get("identity")
    if cur_card and same and card.get("split", {}).get("identity"):
        table = groups_from_card(cur_card.get("groups"))
        table = table[table["model"] == "full"].assign(model="incumbent")
        return card_metric(cur_card), table, "both evaluated on the same split"
    if remeasure is not None:
        got = remeasure(card, current)
        basis = f"current {current} refitted on this model's split"
        if isinstance(got, dict):
            return float(got[GUARD_METRIC]), groups_from_card(got.get("groups")), basis
        return float(got), groups_from_card(None), basis
    raise PromotionRefused(
        f"cannot compare {version} with the current model {current} on the same split: "
        f"they were evaluated on different data. Run `jobmatch train` (it re-measures "
        f"the current model on the new split) or pass --force"
    )


def compare_gaps(
    candidate: Any,
    incumbent: Any,
    tolerance: float = DEFAULT_GAP_TOLERANCE,
    basis: str = "",
    min_workers: int = MIN_GROUP_WORKERS,
) -> GapDecision:
    """The gap guard on two per-group tables (``training.groups``'s, model ``full`` for the
    candidate and ``incumbent`` for the current model).

    Only dimensions measured for both models count (groups of at least ``min_workers``
    workers: held-out NDCG of a small group is noise); without any, the guard lets the
    model through and says why.
    """
    if tolerance < 0:
        raise ValueError(f"--gap-tolerance must be >= 0, got {tolerance}")
    if min_workers < 1:
        raise ValueError(f"--gap-min-workers must be >= 1, got {min_workers}")
    cand = group_gaps(candidate, "full", min_workers=min_workers) if len(candidate) else {}
    inc = group_gaps(incumbent, "incumbent", min_workers=min_workers) if len(incumbent) else {}
    common = [d for d in cand if d in inc]
    if not common:
        why = "no per-group figures for both models" if not (cand and inc) else "no common group"
        return GapDecision(True, tolerance, basis=f"{why}; {basis}".strip("; "))
    widened = {d: cand[d]["gap"] - inc[d]["gap"] for d in common}
    dim = max(common, key=lambda d: (widened[d], d))
    return GapDecision(
        allowed=widened[dim] <= tolerance + 1e-12,
        tolerance=tolerance,
        dimension=dim,
        widened_by=round(widened[dim], 6),
        candidate=cand[dim],
        incumbent=inc[dim],
        basis=basis,
    )


def guard(
    model_dir: str | Path,
    version: str,
    tolerance: float = DEFAULT_TOLERANCE,
    remeasure: Remeasure | None = None,
    gap_tolerance: float = DEFAULT_GAP_TOLERANCE,
    gap_min_workers: int = MIN_GROUP_WORKERS,
) -> GuardDecision:
    """Decide whether ``version`` may be promoted over the current model.

    Parameters
    ----------
    model_dir : path
    version : str
        The candidate.
    tolerance : float
        Absolute NDCG@10 drop allowed.
    remeasure : callable, optional
        ``remeasure(candidate_card, current_version)`` refits the current model's
        recipe on the candidate's split (rule 3 of the module docstring) and returns
        its NDCG@10 or its record with per-group figures; without it, and without
        comparable stored numbers, the guard refuses and says to use ``jobmatch
        train`` or ``--force``.
    gap_tolerance : float
        Absolute widening of a group gap allowed (see "Equal service" above).
    gap_min_workers : int
        Smallest group (evaluated workers) whose NDCG@10 counts for a gap.

    Returns
    -------
    GuardDecision
        ``allowed`` for NDCG@10, ``gap`` for the group gaps (None with no incumbent).
    """
    if tolerance < 0:
        raise ValueError(f"--tolerance must be >= 0, got {tolerance}")
    if gap_tolerance < 0:
        raise ValueError(f"--gap-tolerance must be >= 0, got {gap_tolerance}")
    card = read_card(model_dir, version)
    cand = card_metric(card)
    current = current_version(model_dir)
    if current is None or current == version:
        basis = "nothing promoted yet" if current is None else "already current"
        return GuardDecision(True, cand, None, tolerance, basis)
    inc, inc_table, basis = _incumbent_figures(model_dir, version, card, current, remeasure)
    gap = compare_gaps(
        groups_from_card(card.get("groups")),
        inc_table,
        gap_tolerance,
        basis=basis,
        min_workers=gap_min_workers,
    )
    return GuardDecision(cand >= inc - tolerance, cand, inc, tolerance, basis, gap)


def promote(
    model_dir: str | Path,
    version: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    force: bool = False,
    remeasure: Remeasure | None = None,
    reason: str = "",
    gap_tolerance: float = DEFAULT_GAP_TOLERANCE,
    gap_override: str | None = None,
    gap_min_workers: int = MIN_GROUP_WORKERS,
) -> GuardDecision:
    """Make ``version`` the current model, if the guards allow (or ``force``).

    Parameters
    ----------
    gap_override : str, optional
        An administrator's reason to promote although the gap guard refuses (the NDCG
        guard still applies); must say why. Written to the history and the log.

    Returns
    -------
    GuardDecision
        What the guards decided (``basis`` says "forced" when ``force`` overrode them).

    Raises
    ------
    PromotionRefused
        The candidate is worse than the current model by more than ``tolerance``, or
        widens a group gap by more than ``gap_tolerance`` without ``gap_override``.
    CorruptArtifactError
        The candidate's card or artifact is damaged (its artifact is loaded first).
    ValueError
        ``gap_override`` is given but blank.
    """
    if gap_override is not None and not gap_override.strip():
        raise ValueError(
            "--override-gap needs a reason (who decided and why the wider gap is accepted)"
        )
    root = Path(model_dir)
    load_model(root, version)  # refuse to promote what the service could not load
    previous = current_version(root)
    if force:
        try:
            decision = guard(root, version, tolerance, remeasure, gap_tolerance, gap_min_workers)
        except (PromotionRefused, CorruptArtifactError) as exc:
            decision = GuardDecision(True, None, None, tolerance, f"not compared: {exc}")
        decision = GuardDecision(
            True,
            decision.candidate,
            decision.incumbent,
            tolerance,
            f"forced; {decision.basis}",
            decision.gap,
        )
    else:
        decision = guard(root, version, tolerance, remeasure, gap_tolerance, gap_min_workers)
        if not decision.allowed:
            raise PromotionRefused(
                f"{version} not promoted: {decision.message()}. The current model stays "
                f"{previous}; pass --force to promote anyway"
            )
        gap = decision.gap
        if gap is not None and not gap.allowed:
            if gap_override is None:
                raise PromotionRefused(
                    f"{version} not promoted: it widens a group gap beyond the tolerance. "
                    f"{gap.message()}. The current model stays {previous}; an administrator "
                    'can promote anyway with --override-gap "REASON"'
                )
            gap = GapDecision(**{**gap.as_record(), "override": gap_override.strip()})
            decision = GuardDecision(
                decision.allowed,
                decision.candidate,
                decision.incumbent,
                tolerance,
                decision.basis,
                gap,
            )
            log.warning(
                "gap guard overridden for %s by an administrator (%s): %s",
                version,
                gap_override.strip(),
                gap.message(),
            )
    if previous == version:
        return decision
    _atomic_write(root / CURRENT, version + "\n")
    _append_history(
        root,
        {
            "action": "promote",
            "version": version,
            "previous": previous,
            "at": _now().isoformat(),
            "forced": bool(force),
            "candidate_ndcg10": decision.candidate,
            "incumbent_ndcg10": decision.incumbent,
            "basis": decision.basis,
            "reason": reason,
            "gap": decision.gap.as_record() if decision.gap is not None else None,
            "gap_override": decision.gap.override if decision.gap is not None else None,
        },
    )
    return decision


def rollback(model_dir: str | Path) -> str:
    """Return to the model promoted before the current one; returns its version.

    Raises
    ------
    PromotionRefused
        Nothing to roll back to.
    """
    root = Path(model_dir)
    stack = _stack(root)
    current = current_version(root)
    if current is None or len(stack) < 2:
        raise PromotionRefused(
            "nothing to roll back to: no model was promoted before the current one "
            f"({current or 'none'}); promote a version with `jobmatch models promote VERSION`"
        )
    target = stack[-2]
    if not _version_path(root, target).is_dir():
        raise CorruptArtifactError(
            f"the previous model {target} no longer exists under {root}; "
            "promote another version with `jobmatch models promote VERSION`"
        )
    _atomic_write(root / CURRENT, target + "\n")
    _append_history(
        root,
        {"action": "rollback", "version": current, "to": target, "at": _now().isoformat()},
    )
    return target
