"""Reading artifacts written before engine v2 moved ``matcher``'s modules into subpackages.

pickle (and so joblib) stores each object's class by its module path: a model trained
before the move names ``matcher.recommender.Recommender``, ``matcher.text.LexicalEncoder``
and so on. :func:`load_joblib` reads such a file by resolving the old paths of
:data:`MOVED_MODULES` to the modules that hold those classes now, for the duration of that
one load; nothing is left behind at the old paths. A file that still cannot be read raises
the unpickler's own error, which each artifact's ``load`` turns into "retrain".
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib

#: old module path -> the module that holds its definitions since the v2 layout
MOVED_MODULES: dict[str, str] = {
    "matcher.schema": "matcher.data.schema",
    "matcher.dataset": "matcher.data.dataset",
    "matcher.reference": "matcher.data.reference",
    "matcher.contract": "matcher.data.contract",
    "matcher.text": "matcher.text.encoders",
    "matcher.occupations": "matcher.occupations.normaliser",
    "matcher.occupation_classifier": "matcher.occupations.classifier",
    "matcher.eligibility": "matcher.eligibility.rules",
    "matcher.features": "matcher.models.features",
    "matcher.ranking": "matcher.models.ranking",
    "matcher.calibration": "matcher.models.calibration",
    "matcher.availability": "matcher.models.availability",
    "matcher.scoring": "matcher.models.scoring",
    "matcher.encoding": "matcher.models.encoding",
    "matcher.catalogue": "matcher.models.catalogue",
    "matcher.retrieval": "matcher.models.retrieval",
    "matcher.explain": "matcher.models.explain",
    "matcher.config": "matcher.models.config",
    "matcher.base": "matcher.models.base",
    "matcher.recommender": "matcher.serving.recommender",
    "matcher.batch": "matcher.serving.batch",
    "matcher.precomputed": "matcher.serving.precomputed",
    "matcher.courses": "matcher.serving.courses",
    "matcher.assignment": "matcher.planning.assignment",
    "matcher.priority_posts": "matcher.planning.priority_posts",
    "matcher.metrics": "matcher.evaluation.metrics",
    "matcher.baselines": "matcher.evaluation.baselines",
    "matcher.survival": "matcher.evaluation.survival",
}

#: the reverse of :data:`MOVED_MODULES`: where each module's definitions lived before
_ORIGINAL: dict[str, str] = {new: old for old, new in MOVED_MODULES.items()}

_LOCK = threading.Lock()


def current_class_path(path: str) -> str:
    """``module.Name`` as it is spelled now (an old module path is mapped; others pass)."""
    module, _, name = path.rpartition(".")
    return f"{MOVED_MODULES.get(module, module)}.{name}"


def original_class_path(path: str) -> str:
    """``module.Name`` as it was spelled before the v2 layout (a moved module's old path;
    others pass): a stable identity for keys written by either layout."""
    module, _, name = path.rpartition(".")
    return f"{_ORIGINAL.get(module, module)}.{name}"


def load_joblib(path: str | Path) -> Any:
    """``joblib.load(path)``; a file that names moved modules is read through
    :data:`MOVED_MODULES` (only when the plain load cannot find a class)."""
    try:
        return joblib.load(path)
    except (ImportError, AttributeError):
        pass  # a class under an old module path: read again with the old paths mapped
    with old_module_paths():
        return joblib.load(path)


@contextmanager
def old_module_paths() -> Iterator[None]:
    """Make every old module path resolve to its new module while the block runs.

    An old path that is a package now (``matcher.text``) lends the definitions of its new
    module to that package; any other old path gets the new module in ``sys.modules``.
    Both are undone when the block ends."""
    swapped: list[tuple[str, ModuleType | None]] = []
    lent: list[tuple[ModuleType, str]] = []
    with _LOCK:
        try:
            for old, new in MOVED_MODULES.items():
                target = importlib.import_module(new)
                present = sys.modules.get(old)
                if present is None or not hasattr(present, "__path__"):
                    swapped.append((old, present))
                    sys.modules[old] = target
                    continue
                for name, value in vars(target).items():
                    if getattr(value, "__module__", None) == new and name not in vars(present):
                        setattr(present, name, value)
                        lent.append((present, name))
            yield
        finally:
            for old, before in swapped:
                if before is None:
                    sys.modules.pop(old, None)
                else:
                    sys.modules[old] = before
            for module, name in lent:
                delattr(module, name)
