"""Training suggestions: which course would raise a worker's (or a county's job-seekers')
expected stable placements the most (``matcher.serving.courses``).

Officers see the workers and counties of their region, admins all; employers never (the
routes take :data:`service.auth.OfficerPrincipal`). The work is the engine's: the served
Recommender re-scores each worker with the course's skills, certificates and languages
added. A county's figure is estimated from a seeded sample of its job-seekers (the cost
is bounded by the sample, not by the county) and cached per served catalogue.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.data.schema import Columns
from matcher.serving.courses import Course, course_effects, load_courses
from matcher.serving.recommender import Recommender
from service import lifecycle
from service.auth import Principal
from service.domain import (
    CatalogueSync,
    check_worker_scope,
    forbidden,
    model_or_503,
    region_label,
    run_model,
)
from service.domain_errors import Conflict
from service.model_holder import LoadedModel, ModelHolder
from service.store.models import Worker

#: Proposals per worker the expectation is taken over (the officer's list).
DEFAULT_K = 10
MAX_K = 50
#: Job-seekers of a county re-scored for its view (a seeded sample when it has more).
DEFAULT_SAMPLE = 200
MIN_SAMPLE = 10
MAX_SAMPLE = 1000
#: A worker "gains" from a course when it adds at least this many expected placements.
GAIN = 0.005
#: County views kept (per served catalogue, county, sample and k).
CACHE_SIZE = 32
_cache: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def course_info(course: Course) -> dict[str, Any]:
    """What the catalogue says of a course (no effect)."""
    return {
        "course_id": course.course_id,
        "name": course.name,
        "skill": course.skill,
        "skills": list(course.skills),
        "certificates": list(course.certificates),
        "languages": list(course.languages),
        "occupation_codes": list(course.occupation_codes),
        "duration_days": course.duration_days,
        "providers": list(course.providers),
    }


def catalogue() -> list[dict[str, Any]]:
    """Every course of ``matcher/data/training_courses.csv``."""
    return [course_info(c) for c in load_courses()]


def _recommender(loaded: LoadedModel) -> Recommender:
    """The served model when it can re-score a changed worker (the full model: its
    score is P(stable placement), calibrated per proposal when ``stable_weeks`` is set)."""
    model = loaded.model
    if not isinstance(model, Recommender) or model.stages != "full":
        raise Conflict(
            f"the serving model {loaded.version} cannot re-score a worker with a course "
            "(a baseline or an ablation is served): promote a full jobmatch model",
            headers={"X-Model-Version": loaded.version},
        )
    return model


def _catalogue_rows(model: Recommender, worker_ids: list[str]) -> pd.DataFrame:
    """The workers' records as the model's catalogue holds them (KeyError: one is not
    there yet)."""
    workers = model.catalogue.workers
    found = workers[workers[Columns.Worker].isin(worker_ids)]
    if len(found) < len(set(worker_ids)):
        missing = sorted(set(worker_ids) - set(found[Columns.Worker]))
        raise KeyError(f"worker {missing[0]} is not in the model's catalogue yet")
    return found.set_index(Columns.Worker, drop=False).loc[worker_ids].reset_index(drop=True)


def worker_suggestions(
    session: Session,
    principal: Principal,
    holder: ModelHolder,
    sync: CatalogueSync | None,
    worker_id: str,
    k: int = DEFAULT_K,
) -> dict[str, Any]:
    """Courses for one worker, the largest rise in expected stable placements first."""
    check_worker_scope(session, principal, worker_id)
    loaded = model_or_503(holder)
    courses = load_courses()

    def call(lm: LoadedModel) -> tuple[Recommender, pd.DataFrame]:
        model = _recommender(lm)
        return model, course_effects(model, _catalogue_rows(model, [worker_id]), courses, k=k)

    try:
        loaded, (model, frame) = run_model(loaded, sync, "worker", worker_id, call)
    except KeyError as exc:
        raise Conflict(
            f"the model cannot serve worker {worker_id} yet: {exc}",
            headers={"X-Model-Version": loaded.version},
        ) from None
    by_id = {c.course_id: c for c in courses}
    items = []
    for row in frame.itertuples(index=False):
        items.append(
            {
                **course_info(by_id[row.course_id]),
                "extra_expected_placements": round(float(row.extra_expected_placements), 4),
                "expected_placements_after": round(float(row.expected_after), 4),
                "vacancies_unlocked": int(row.vacancies_unlocked),
                "unlocked_vacancy_ids": list(row.unlocked_vacancy_ids),
            }
        )
    items.sort(
        key=lambda x: (-x["extra_expected_placements"], -x["vacancies_unlocked"], x["course_id"])
    )
    before = float(frame["expected_before"].iat[0]) if len(frame) else None
    if before is None:  # every course held: the worker as is
        before = _expected_now(model, worker_id, k)
    held = sorted(set(by_id) - set(frame["course_id"]))
    return {
        "worker_id": worker_id,
        "model_version": loaded.version,
        "k": k,
        "stable_weeks": model.stable_weeks,
        # uncalibrated scores order the courses but are not chances to add up
        "calibrated": model.stable_weeks is not None,
        "expected_placements": round(before, 4),
        "held": held,
        "data": items,
        "count": len(items),
    }


def _expected_now(model: Recommender, worker_id: str, k: int) -> float:
    frame = model.recommend(worker_id, k, reasons=False)
    return float(frame[Columns.Score].sum()) if len(frame) else 0.0


def _seekers(session: Session, region: str) -> list[str]:
    stmt = (
        select(Worker.worker_id)
        .where(Worker.home_region == region, lifecycle.seeking_condition())
        .order_by(Worker.worker_id)
    )
    return list(session.scalars(stmt))


def county_suggestions(
    session: Session,
    principal: Principal,
    holder: ModelHolder,
    sync: CatalogueSync | None,
    region: str,
    sample: int = DEFAULT_SAMPLE,
    k: int = DEFAULT_K,
) -> dict[str, Any]:
    """Courses ranked by their estimated total effect over a county's job-seekers.

    The job-seekers the served catalogue holds are sampled (seeded, without replacement;
    all of them when there are no more than ``sample``) and each re-scored with every
    course; a course's total is the sample's mean gain times the number of job-seekers,
    with its standard error (finite-population corrected; 0 when all were scored).
    """
    if not principal.sees_region(region):
        raise forbidden(
            f"county {region} is outside your region {principal.region_prefix}; ask the "
            "officer of that region or an admin"
        )
    loaded = model_or_503(holder)
    seekers = _seekers(session, region)
    courses = load_courses()

    def call(lm: LoadedModel) -> dict[str, Any]:
        model = _recommender(lm)
        # the catalogue a view was computed on: the model version and the store state
        # its catalogue reflects (a refresh gives a new stamp)
        key = (lm.version, repr(lm.catalogue_stamp), region, sample, k)
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        known = [w for w in seekers if model.knows_worker(w)]
        rng = np.random.default_rng(0)
        chosen = (
            known
            if len(known) <= sample
            else sorted(rng.choice(np.array(known, dtype=object), sample, replace=False))
        )
        t0 = time.perf_counter()
        rows = _catalogue_rows(model, list(chosen)) if chosen else None
        frame = course_effects(model, rows, courses, k=k) if rows is not None else None
        elapsed = time.perf_counter() - t0
        out = _county_view(courses, frame, list(chosen), len(known))
        out.update(
            {
                "elapsed_s": round(elapsed, 3),
                "in_model": len(known),
                "calibrated": model.stable_weeks is not None,
            }
        )
        with _cache_lock:
            _cache[key] = out
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return out

    loaded, view = run_model(loaded, sync, "county", region, call)
    return {
        "region": region,
        "name": region_label(region) or region,
        "model_version": loaded.version,
        "k": k,
        "seekers": len(seekers),
        **view,
        "count": len(view["data"]),
    }


def _county_view(
    courses: tuple[Course, ...], frame: pd.DataFrame | None, chosen: list[str], population: int
) -> dict[str, Any]:
    """Per course: the estimated total gain over ``population`` job-seekers from the
    sample ``chosen`` (a worker who holds the course already gains 0)."""
    n = len(chosen)
    order = pd.Index(chosen, dtype=object)
    data = []
    fpc = math.sqrt(max(0.0, (population - n) / (population - 1))) if population > 1 else 0.0
    for course in courses:
        gains = np.zeros(n)
        unlocked = np.zeros(n, dtype=np.int64)
        ids: set[str] = set()
        if frame is not None and n:
            mine = frame[frame["course_id"] == course.course_id]
            pos = order.get_indexer(pd.Index(mine[Columns.Worker], dtype=object))
            gains[pos] = mine["extra_expected_placements"].to_numpy(dtype=float)
            unlocked[pos] = mine["vacancies_unlocked"].to_numpy(dtype=np.int64)
            for v in mine["unlocked_vacancy_ids"]:
                ids.update(v)
            trainees = len(mine)
        else:
            trainees = 0
        mean = float(gains.mean()) if n else 0.0
        se = float(gains.std(ddof=1)) / math.sqrt(n) * fpc if n > 1 else 0.0
        data.append(
            {
                **course_info(course),
                "total_extra_expected_placements": round(mean * population, 3),
                "standard_error": round(se * population, 3),
                "mean_extra_per_trainee": round(float(gains.sum()) / trainees, 4)
                if trainees
                else 0.0,
                "sampled_without_course": trainees,
                "share_gaining": round(float(np.mean(gains >= GAIN)), 4) if n else 0.0,
                "workers_with_unlocked": int((unlocked > 0).sum()),
                "vacancies_unlocked": len(ids),
            }
        )
    data.sort(key=lambda x: (-x["total_extra_expected_placements"], x["course_id"]))
    return {"sampled": n, "data": data}
