"""The engine's answers as the recommendation route reads them: :class:`Ranked`.

An answer frame (``recommend`` / ``recommend_many`` columns: worker, rank, vacancy,
score, reasons, warnings) becomes one immutable :class:`Ranked` per worker, read
column by column once per frame. The micro-batcher converts a batch's frame here in
one pass (:func:`ranked_by_worker`): slicing, filtering and re-indexing the frame with
pandas per request cost about 2 ms of CPU per live request
(``bench/request_profile.py --live``), more than the rest of the route's own code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from matcher.models.base import StablePlacementModel
from matcher.models.explain import stable_chance
from matcher.protocols import AvailabilityModel


@dataclass(frozen=True)
class Ranked:
    """An engine answer for one worker as the recommendation route reads it: per
    vacancy, in rank order, its rank, score, the score said plainly (``chances``),
    reasons and warnings. Immutable, so one answer can be handed to many requests."""

    vacancy_ids: tuple[str, ...]
    ranks: tuple[int, ...]
    scores: tuple[float, ...]
    chances: tuple[str | None, ...]
    reasons: tuple[tuple[str, ...], ...]
    warnings: tuple[tuple[str, ...], ...]


EMPTY = Ranked((), (), (), (), (), ())


def as_list(value: Any) -> list[str]:
    """Reasons or warnings as a list of strings (None -> [], one string -> [it])."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(x) for x in value]
    except TypeError:
        return [str(value)]


def stable_weeks_of(model: Any) -> int | None:
    """The horizon (weeks) of the stable placement ``model``'s score is the probability
    of, when it is a calibrated probability per proposal; else None."""
    return model.stable_weeks if isinstance(model, StablePlacementModel) else None


def stable_chance_text(model: Any) -> Callable[[float], str | None]:
    """Score -> "约 28% 的机会稳定就业 6 个月" (in the model's language) when the model's
    score is a calibrated probability per proposal, else -> None."""
    weeks = stable_weeks_of(model)
    if weeks is None:
        return lambda score: None
    lang = model.lang

    def say(score: float) -> str | None:
        if not 0.0 <= score <= 1.0:
            return None
        return stable_chance(score, weeks).text(lang)

    return say


#: Below this chance of looking for work now the worker page says why every chance on
#: the list is small (:func:`not_looking`).
NOT_LOOKING_BELOW = 0.5


@dataclass(frozen=True)
class NotLooking:
    """A worker the served model thinks is probably not looking for work now (in a job,
    or just left one): ``share`` is its P(looking for work), and ``if_looking`` each
    listed vacancy's chance said plainly as if the worker were looking (its score divided
    by ``share``, at most 1). The order of the list is the same either way."""

    share: float
    if_looking: dict[str, str]


def not_looking(model: Any, worker_id: str, scores: Mapping[str, float]) -> NotLooking | None:
    """:class:`NotLooking` for a worker whose P(looking for work) under ``model`` is
    below :data:`NOT_LOOKING_BELOW`, with the chances of the vacancies ``scores`` holds
    (vacancy id -> served score); None for a worker likely looking, or a model whose
    scores are no calibrated chances or that does not estimate it
    (:class:`matcher.protocols.AvailabilityModel`)."""
    if stable_weeks_of(model) is None or not isinstance(model, AvailabilityModel):
        return None
    share = float(model.worker_availability(pd.Index([worker_id]))[0])
    if not 0.0 < share < NOT_LOOKING_BELOW:
        return None
    say = stable_chance_text(model)
    chances = {v: say(min(1.0, score / share)) for v, score in scores.items()}
    return NotLooking(share, {v: text for v, text in chances.items() if text})


def _columns(frame: Any) -> tuple[list, list, list, list, list, list]:
    n = len(frame)
    return (
        frame["worker_id"].tolist() if "worker_id" in frame else [None] * n,
        frame["vacancy_id"].tolist(),
        frame["rank"].tolist(),
        frame["score"].tolist(),
        frame["reasons"].tolist() if "reasons" in frame else [None] * n,
        frame["warnings"].tolist() if "warnings" in frame else [None] * n,
    )


def _make(
    rows: list[int],
    cols: tuple[list, list, list, list, list, list],
    chance: Callable[[float], str | None],
) -> Ranked:
    _, vacancies, ranks, scores, reasons, warnings = cols
    got = tuple(float(scores[i]) for i in rows)
    return Ranked(
        vacancy_ids=tuple(str(vacancies[i]) for i in rows),
        ranks=tuple(int(ranks[i]) for i in rows),
        scores=got,
        chances=tuple(chance(x) for x in got),
        reasons=tuple(tuple(as_list(reasons[i])) for i in rows),
        warnings=tuple(tuple(as_list(warnings[i])) for i in rows),
    )


def ranked(frame: Any, model: Any) -> Ranked:
    """One worker's answer frame (``recommend``'s columns) as the route reads it."""
    n = len(frame)
    if not n:
        return EMPTY
    return _make(list(range(n)), _columns(frame), stable_chance_text(model))


def ranked_by_worker(frame: Any, model: Any) -> dict[str, Ranked]:
    """A frame of many workers' answers (``recommend_many``'s) as one :class:`Ranked`
    per worker id, each in the frame's row order (the same as :func:`ranked` on the
    worker's own rows)."""
    if not len(frame):
        return {}
    cols = _columns(frame)
    rows: dict[str, list[int]] = {}
    for i, worker in enumerate(cols[0]):
        rows.setdefault(worker, []).append(i)
    chance = stable_chance_text(model)
    return {worker: _make(at, cols, chance) for worker, at in rows.items()}


def head(answer: Ranked, k: int) -> Ranked:
    """The rows of ``answer`` ranked ``k`` or better (``answer`` itself when all are)."""
    keep = [i for i, r in enumerate(answer.ranks) if r <= k]
    if len(keep) == len(answer.ranks):
        return answer
    return Ranked(
        vacancy_ids=tuple(answer.vacancy_ids[i] for i in keep),
        ranks=tuple(answer.ranks[i] for i in keep),
        scores=tuple(answer.scores[i] for i in keep),
        chances=tuple(answer.chances[i] for i in keep),
        reasons=tuple(answer.reasons[i] for i in keep),
        warnings=tuple(answer.warnings[i] for i in keep),
    )
