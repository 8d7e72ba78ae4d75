"""Skills-training courses and what each would do for a worker's stable placements.

The catalogue
-------------
``matcher/data/training_courses.csv`` lists the courses a county bureau can run (电工证,
焊工证, 叉车证, 育婴员, 养老护理员, 中式烹调, 普通话, ...): what each adds to a worker
in the project's vocabulary (skill phrases, certificates, languages), the occupations it
trains for, its typical length and providers. :func:`load_courses` reads and checks it;
``docs/training-courses.md`` explains it.

The effect of a course
----------------------
A worker's *expected stable placements* are the sum of the ``k`` largest calibrated
P(stable placement | proposed) among the open vacancies the worker may take and has not
pursued yet: the expected number of stable placements from the ``k`` proposals an
officer would make (by linearity of expectation; the score is a probability per
proposal, :attr:`matcher.serving.recommender.Recommender.stable_weeks`). Every eligible open
vacancy is scored, not only a candidate shortlist, so this is the exact top ``k``.

The worker *with the course* is the same record with the course's skill phrases appended
to ``skills``, its certificates added to ``certificates`` and its languages to
``languages`` (:func:`with_course`). Both are encoded with the model's own encoders
(:meth:`matcher.serving.recommender.Recommender.encode_workers`: occupation codes, text vectors, LightFM user
vector; the worker keeps its id, so its learned identity factor stays) and scored with
the model's one scorer (:class:`matcher.models.scoring.PairScorer`), eligibility from the
catalogue's rules (:mod:`matcher.eligibility.rules`). The course's effect is

* ``extra_expected_placements`` = expected stable placements with the course minus
  without it;
* ``vacancies_unlocked`` = open vacancies eligible with the course and not without it
  (today only a language can do that: no hard rule reads certificates, since the data
  contract has no field for a certificate a vacancy requires; certificates and skills
  act through the score).

This is what the model believes, not a causal estimate: the ranker learned how pairs
with a certificate or a matching skill fared in the market's history, and a course
changes the worker's record the way that history saw it.

Cost
----
A worker with ``C`` courses is ``1 + C`` rows scored against every open vacancy they
may take: ``(1 + C) x n_eligible`` pairs through the pair features and the ranker.
:func:`course_effects` works in blocks of workers to bound memory; a county view scores
a seeded sample of its job-seekers (``service`` chooses the size) and scales up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from matcher.data.contract import iso639_1
from matcher.data.reference import data_path, is_csco_code
from matcher.data.schema import Columns
from matcher.models.features import RANKER_COLUMNS

if TYPE_CHECKING:
    from matcher.serving.recommender import Recommender

#: The catalogue table in ``matcher/data/``.
COURSES_TABLE = "training_courses.csv"
#: Workers encoded and scored together (memory: block x (1 + courses) x open vacancies).
BLOCK = 32
#: Unlocked vacancy ids kept per (worker, course) (the count is always exact).
MAX_UNLOCKED_IDS = 20
EFFECT_COLUMNS = [
    Columns.Worker,
    "course_id",
    "expected_before",
    "expected_after",
    "extra_expected_placements",
    "vacancies_unlocked",
    "unlocked_vacancy_ids",
]


class CourseCatalogueError(ValueError):
    """The course catalogue is malformed (the message names the line and field)."""


@dataclass(frozen=True)
class Course:
    """One course of the catalogue (see the module docstring)."""

    course_id: str
    name: str
    skills: tuple[str, ...]
    certificates: tuple[str, ...]
    languages: tuple[str, ...]
    occupation_codes: tuple[str, ...]
    duration_days: int
    providers: tuple[str, ...]

    @property
    def skill(self) -> str:
        """What the course grants, in one phrase: its certificates, else its languages'
        skill phrase, else its skill phrases."""
        return "、".join(self.certificates or self.skills)

    def held_by(self, worker: pd.Series) -> bool:
        """Whether the worker already has everything the course grants (its
        certificates and languages; a course granting only skills: every phrase
        already in the worker's skills text)."""
        certs = set(_as_list(worker.get("certificates")))
        langs = set(_as_list(worker.get("languages")))
        if self.certificates or self.languages:
            return set(self.certificates) <= certs and set(self.languages) <= langs
        text = str(worker.get("skills") or "")
        return all(s in text for s in self.skills)


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [v for v in value.split(";") if v]
    return [str(v) for v in value]  # type: ignore[attr-defined]


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(";") if p.strip())


@cache
def load_courses(path: str | Path | None = None) -> tuple[Course, ...]:
    """The course catalogue (default ``matcher/data/training_courses.csv``).

    Raises
    ------
    CourseCatalogueError
        A row lacks an id, name or grant, repeats an id, names an unknown CSCO code or
        language, or has a duration that is not a positive whole number of days; the
        message says which line and field.
    """
    file = Path(path) if path is not None else data_path(COURSES_TABLE)
    table = pd.read_csv(file, dtype=str, comment="#", keep_default_na=False)
    known_languages = iso639_1()
    # line numbers in the file: comments and the header come first
    lines = file.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line and not line.startswith("#")) + 2
    out: list[Course] = []
    seen: set[str] = set()
    for n, row in enumerate(table.to_dict("records")):
        where = f"{file.name}, line {first + n}"

        def bad(field: str, what: str, where: str = where) -> CourseCatalogueError:
            return CourseCatalogueError(f"{where}, field {field}: {what}")

        cid = row["course_id"].strip()
        if not cid or cid in seen:
            raise bad("course_id", f"missing or repeated id {cid!r}; give each course its own")
        seen.add(cid)
        if not row["name"].strip():
            raise bad("name", "missing; name the course as workers know it")
        skills, certs, langs = (
            _split(row["skills"]),
            _split(row["certificates"]),
            _split(row["languages"]),
        )
        if not (skills or certs or langs):
            raise bad("skills", "the course grants nothing: list a skill, certificate or language")
        if unknown := [x for x in langs if x not in known_languages]:
            raise bad("languages", f"{unknown} are not ISO 639-1 codes")
        codes = _split(row["occupation_codes"])
        if unknown := [c for c in codes if not is_csco_code(c)]:
            raise bad("occupation_codes", f"{unknown} are not CSCO 2022 codes")
        try:
            days = int(row["duration_days"])
        except ValueError:
            days = 0
        if days <= 0:
            raise bad("duration_days", f"{row['duration_days']!r} is not a positive whole number")
        out.append(
            Course(
                course_id=cid,
                name=row["name"].strip(),
                skills=skills,
                certificates=certs,
                languages=langs,
                occupation_codes=codes,
                duration_days=days,
                providers=_split(row["providers"]),
            )
        )
    return tuple(out)


def with_course(workers: pd.DataFrame, course: Course) -> pd.DataFrame:
    """``workers`` (Dataset normal form) as they would be after the course: its skill
    phrases appended to ``skills``, its certificates and languages added to theirs."""
    out = workers.copy()
    phrase = "、".join(course.skills)
    out["skills"] = [
        (f"{s}；{phrase}" if isinstance(s, str) and s.strip() else phrase) if phrase else s
        for s in out["skills"]
    ]
    out["certificates"] = [
        _as_list(c) + [x for x in course.certificates if x not in _as_list(c)]
        for c in out["certificates"]
    ]
    out["languages"] = [
        _as_list(v) + [x for x in course.languages if x not in _as_list(v)]
        for v in out["languages"]
    ]
    return out


def course_effects(
    model: Recommender,
    workers: pd.DataFrame,
    courses: tuple[Course, ...] | None = None,
    k: int = 10,
    block: int = BLOCK,
) -> pd.DataFrame:
    """The effect of every course on every worker (see the module docstring).

    Parameters
    ----------
    model : Recommender
        Fitted (``stages="full"``); its catalogue's open vacancies are the market.
    workers : DataFrame
        Workers in the Dataset normal form (typically rows of the model's catalogue;
        a worker the catalogue holds has its pursued vacancies left out).
    courses : tuple of Course, optional
        Default: :func:`load_courses`.
    k : int, default 10
        Proposals per worker the expectation is taken over.
    block : int
        Workers encoded and scored together.

    Returns
    -------
    DataFrame
        :data:`EFFECT_COLUMNS`, one row per (worker, course) the worker does not hold
        already (:meth:`Course.held_by`), workers in the order given, courses in
        catalogue order. ``expected_before`` is the same for every course of a worker.

    Raises
    ------
    ValueError
        ``k`` below 1, or the model is an ablation (its score is not a probability).
    """
    model.check_fitted()
    if model.stages != "full":
        raise ValueError(
            f"course effects need the full model's probabilities; stages={model.stages!r}"
        )
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    courses = load_courses() if courses is None else courses
    workers = workers.reset_index(drop=True)
    frames = [
        _effects_block(model, workers.iloc[lo : lo + block], courses, k)
        for lo in range(0, len(workers), max(1, block))
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[EFFECT_COLUMNS]


def _effects_block(
    model: Recommender, workers: pd.DataFrame, courses: tuple[Course, ...], k: int
) -> pd.DataFrame:
    cat = model.catalogue
    n_open = len(cat.open_pos)
    workers = workers.reset_index(drop=True)
    # rows: each worker as is (course -1), then with each course not held yet
    owner, course_of, parts = [], [], [workers]
    owner += list(range(len(workers)))
    course_of += [-1] * len(workers)
    for c, course in enumerate(courses):
        todo = [i for i in range(len(workers)) if not course.held_by(workers.iloc[i])]
        if todo:
            parts.append(with_course(workers.iloc[todo], course))
            owner += todo
            course_of += [c] * len(todo)
    rows = pd.concat(parts, ignore_index=True)
    who, which = np.asarray(owner, np.int64), np.asarray(course_of, np.int64)
    m = len(rows)
    if n_open == 0:
        ok = np.zeros((m, 0), dtype=bool)
        scores = np.zeros((m, 0))
    else:
        # eligibility of every row against every open vacancy, minus pursued pairs
        enc = cat.eligibility.encode_workers(rows)
        wi = np.repeat(np.arange(m), n_open)
        cols = np.tile(np.arange(n_open), m)
        ok = cat.eligibility.pair_mask_of(enc, wi, cols, cat.at).reshape(m, n_open)
        pos = cat.wp.ids.get_indexer(pd.Index(workers[Columns.Worker], dtype=object))
        for i, p in enumerate(pos):
            if p >= 0:
                pursued = cat.pursued.indices[cat.pursued.indptr[p] : cat.pursued.indptr[p + 1]]
                ok[np.ix_(np.flatnonzero(who == i), pursued)] = False
        local = cat.with_workers(rows, model.encode_workers(rows))
        pr, pc = np.nonzero(ok)
        scorer = model.scorer
        values, _ = scorer.pair_values(local, pr.astype(np.int64), cat.open_pos[pc])
        feats = pd.DataFrame(values[:, : len(RANKER_COLUMNS)], columns=RANKER_COLUMNS, copy=False)
        scores = np.full((m, n_open), -np.inf)
        scores[pr, pc] = scorer.score(feats)
    top = np.sort(np.where(np.isfinite(scores), scores, 0.0), axis=1)[:, ::-1][:, :k]
    expected = top.sum(axis=1)
    base_row = np.full(len(workers), -1, np.int64)
    base_row[who[which < 0]] = np.flatnonzero(which < 0)
    open_ids = cat.vp.ids.to_numpy(dtype=object)[cat.open_pos]
    out = []
    for j in np.flatnonzero(which >= 0):
        b = base_row[who[j]]
        unlocked = np.flatnonzero(ok[j] & ~ok[b])
        out.append(
            {
                Columns.Worker: workers[Columns.Worker].iat[who[j]],
                "course_id": courses[which[j]].course_id,
                "expected_before": float(expected[b]),
                "expected_after": float(expected[j]),
                "extra_expected_placements": float(expected[j] - expected[b]),
                "vacancies_unlocked": len(unlocked),
                "unlocked_vacancy_ids": [str(v) for v in open_ids[unlocked[:MAX_UNLOCKED_IDS]]],
            }
        )
    frame = pd.DataFrame(out, columns=EFFECT_COLUMNS)
    # workers in the order given, courses in catalogue order
    order = {c.course_id: n for n, c in enumerate(courses)}
    frame["_w"] = frame[Columns.Worker].map({w: n for n, w in enumerate(workers[Columns.Worker])})
    frame["_c"] = frame["course_id"].map(order)
    return frame.sort_values(["_w", "_c"], kind="stable").drop(columns=["_w", "_c"])


__all__ = ["Course", "CourseCatalogueError", "course_effects", "load_courses", "with_course"]
