"""Capabilities a ranking model may have beyond the :class:`matcher.models.base.RankingModel`
verbs, as :class:`typing.Protocol` classes.

The service and the nightly run serve whatever model the registry promoted: the
LightFM hybrid :class:`matcher.serving.recommender.Recommender` or a baseline. What they may
do with it depends on what it can do; they ask with ``isinstance(model, Capability)``
(each protocol is ``runtime_checkable``), which mypy understands as a type guard, so a
call after the check is type-checked against the protocol's signature — instead of
probing attribute names with ``hasattr``/``getattr`` and swallowing a ``TypeError``
when a signature does not match.

Capabilities
------------
:class:`RefreshableModel`
    Serves a newer snapshot of the store without retraining (``refresh``).
:class:`JointFitModel`
    Fits on one snapshot and serves another in one call (``fit_and_refresh``).
:class:`AblatingModel`
    Reads an ablation of itself off its own fit (``ablation``).
:class:`FilteringModel`
    Reports the candidate filter it applied (``filter_``).
:class:`VacancyUpdatingModel`
    Takes vacancies posted, edited or closed since its last refresh into its
    catalogue without a full refresh (``update_vacancies``).
:class:`ExplainingModel`
    Explains one (worker, vacancy) pair in its reasons' language (``explain``, ``lang``).
:class:`AvailabilityModel`
    Tells each worker's chance of looking for work now, a factor of its scores
    (``worker_availability``).
:class:`CatalogueModel`
    Tells which ids its catalogue holds and when it was trained, so the service can
    decide whether a catalogue refresh is needed.
:class:`HouseholdRuleModel`
    Tells whether a worker's household holds a public-welfare post in its catalogue
    (so no other is proposed; ``household_holds_public_post``).

And one capability of a text channel:

:class:`Embedder`
    Turns texts into dense, L2-normalised vectors (``encode``, ``dim``). The backends
    live in :mod:`matcher.text.encoders`: the package-shipped multilingual Universal Sentence
    Encoder (the offline default), a local sentence-transformers folder, and the
    model-free :class:`matcher.text.encoders.HashingEmbedder` for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from matcher.data.dataset import Dataset


@runtime_checkable
class RefreshableModel(Protocol):
    """A fitted model that can serve a newer snapshot without retraining."""

    def refresh(
        self, dataset: Dataset, at: object = None, *, holders: frozenset[str] | None = None
    ) -> Self:
        """Map the records of ``dataset`` into the fitted model (new ones cold, from
        content); vacancies must be open at ``at`` (default: the snapshot's time).
        ``holders``: the households that hold a public-welfare post at ``at``
        (:func:`matcher.eligibility.households.public_post_holders`), for a ``dataset``
        that holds only some of the workers (default: from its own events and workers).
        Returns the model itself."""
        ...


@runtime_checkable
class JointFitModel(Protocol):
    """A model that fits on one snapshot and serves another in one call, building the
    catalogue only once (an evaluation fits on the training weeks and serves the cutoff)."""

    def fit_and_refresh(self, dataset: Dataset, serving: Dataset, at: object = None) -> Self:
        """``fit(dataset)`` then ``refresh(serving, at)``. Returns the model itself."""
        ...


@runtime_checkable
class AblatingModel(Protocol):
    """A fitted model that reads an ablation of itself off its own fit (one channel alone)."""

    def ablation(self, stages: str) -> Any:
        """A copy that ranks with ``stages`` ("lightfm" or "content") alone, sharing this
        model's fitted state and catalogue (a :class:`matcher.models.base.RankingModel`;
        not imported here, which every part of :mod:`matcher` may import)."""
        ...


@runtime_checkable
class FilteringModel(Protocol):
    """A baseline that reports which candidate filter it applied (printed in evaluations)."""

    #: the filter actually used, e.g. "eligibility"
    filter_: str


@runtime_checkable
class VacancyUpdatingModel(Protocol):
    """A fitted model that takes changed vacancies into its catalogue incrementally."""

    def update_vacancies(
        self, changed: pd.DataFrame, employers: pd.DataFrame | None = None, at: object = None
    ) -> Self:
        """Serve the vacancy rows ``changed`` as they are now (new ones added, edited
        ones re-encoded, ones no longer open left out); ``employers`` holds their
        employers' rows. Returns the model itself, whose catalogue is a new object
        (the old one is not modified)."""
        ...


@runtime_checkable
class ExplainingModel(Protocol):
    """A model that can explain one pair: its score, eligibility and reasons."""

    #: language of the reasons it writes ("zh" or "en")
    lang: str

    def explain(self, worker_id: str, vacancy_id: str) -> dict:
        """The pair's ``score``, ``eligible`` flag, ``exclusions`` (rules broken, each
        with ``code`` and ``message``) and ``reasons`` (each with ``code`` and one text
        per language). Raises ``KeyError`` for an unknown id."""
        ...


@runtime_checkable
class StageScoringModel(Protocol):
    """A model that gives the score and stage probabilities of many pairs at once."""

    def pair_stages(self, worker_ids: Any, vacancy_ids: Any) -> pd.DataFrame:
        """``worker_id, vacancy_id, score`` and one column per stage (``apply``,
        ``hire``, ``stay``), one row per pair in the order given; NaN where the model
        cannot score the pair (an id it does not hold, a stage it does not have)."""
        ...


@runtime_checkable
class AvailabilityModel(Protocol):
    """A model whose per-proposal probability includes the worker's chance of looking for
    work now (:mod:`matcher.models.availability`): the score is P(looking) times the
    probability for a worker who is looking, so the order of one worker's list does not
    depend on it."""

    def worker_availability(self, worker_ids: pd.Index) -> np.ndarray:
        """Each worker's P(looking for work) in the served snapshot (1.0 for a worker it
        knows nothing against)."""
        ...


@runtime_checkable
class CatalogueModel(Protocol):
    """A model whose catalogue can say which workers and vacancies it holds."""

    #: UTC ISO time of the fit (``fit``), or None before it
    trained_at_: str | None

    def knows_worker(self, worker_id: str) -> bool:
        """Whether the catalogue holds this worker (as of the last fit or refresh)."""
        ...

    def knows_vacancy(self, vacancy_id: str) -> bool:
        """Whether the catalogue holds this vacancy (open or not)."""
        ...

    def catalogue_size(self) -> tuple[int, int]:
        """Numbers of workers and vacancies the catalogue holds."""
        ...


@runtime_checkable
class HouseholdRuleModel(Protocol):
    """A model whose served catalogue applies the one-public-welfare-post-per-household
    rule (:mod:`matcher.eligibility.households`) and can say, per worker, whether it
    applied."""

    def household_holds_public_post(self, worker_id: str) -> bool | None:
        """Whether a member of the worker's household holds a public-welfare post in the
        served catalogue (then no other is proposed); None when the catalogue did not
        assess the rule. Raises ``KeyError`` for a worker the catalogue does not hold."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """A dense text channel: texts in, one L2-normalised float32 row per text out.

    The same text gives the same row in any process (the retrieval index, the ranker's
    cosine features and cached vectors all rely on it), and the empty string is a
    valid text.
    """

    @property
    def dim(self) -> int:
        """Length of every row (may load the model)."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Rows of shape ``(len(texts), dim)``, float32, unit length (an all-zero row
        only where a model has nothing to say about a text), in input order."""
        ...
