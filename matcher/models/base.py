"""The contract every ranking model in jobmatch keeps (LightFM hybrid + ranker,
and the baselines it is measured against).

Verbs
-----
``fit(dataset)``
    Learn from a ``matcher.Dataset``; returns ``self``. Refitting replaces all
    learned state (attributes ending in ``_``); the same data and
    ``random_state`` give the same model.
``recommend(worker_id, k)``
    The ``k`` best open vacancies for one worker, as a tidy DataFrame with
    columns ``worker_id, rank, vacancy_id, score, reasons, warnings`` (rank
    starts at 1, score descending, ``reasons`` and ``warnings`` lists of
    plain-language strings). Never returns an ineligible pair. A worker the
    model has not seen (cold) is served from content, not refused.
``recommend_many(worker_ids, k)``
    The same for many workers at once, concatenated.
``candidates(vacancy_id, k)``
    The ``k`` best workers for one vacancy: ``vacancy_id, rank, worker_id,
    score, reasons, warnings``.
``save(path)`` / ``load(path)``
    One versioned artifact folder; ``load`` refuses an incompatible version
    with a message saying what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.schema import Columns

RECOMMENDATION_COLUMNS = [
    Columns.Worker,
    Columns.Rank,
    Columns.Vacancy,
    Columns.Score,
    Columns.Reasons,
    Columns.Warnings,
]
CANDIDATE_COLUMNS = [
    Columns.Vacancy,
    Columns.Rank,
    Columns.Worker,
    Columns.Score,
    Columns.Reasons,
    Columns.Warnings,
]


@runtime_checkable
class StablePlacementModel(Protocol):
    """A model whose score can be a calibrated probability per proposal of a stable
    placement: ``stable_weeks`` is its horizon in weeks then, else None (ablations,
    uncalibrated rankers); ``lang`` the language of its reasons."""

    @property
    def stable_weeks(self) -> int | None: ...

    lang: str


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit``."""


class RankingModel(ABC):
    """Abstract base of every ranking model; see the module docstring for the contract."""

    @abstractmethod
    def fit(self, dataset: Dataset) -> Self: ...

    @abstractmethod
    def recommend(self, worker_id: str, k: int = 10) -> pd.DataFrame: ...

    def recommend_many(self, worker_ids, k: int = 10) -> pd.DataFrame:
        frames = [self.recommend(w, k) for w in worker_ids]
        if not frames:
            return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    @abstractmethod
    def candidates(self, vacancy_id: str, k: int = 20) -> pd.DataFrame: ...

    def save(self, path: str | Path) -> Path:
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def get_params(self) -> dict:
        """Constructor keyword arguments, so that configs round-trip."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name in sig.parameters
            if name != "self" and hasattr(self, name)
        }
