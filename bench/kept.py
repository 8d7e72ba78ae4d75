"""A model a ``bench/truth_bench.py --workdir`` run kept, at its market's snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class KeptModel:
    """The market's store as a dataset, the model refreshed at the snapshot, and the
    active workers and open vacancies the nightly run would take."""

    dataset: Any
    at: pd.Timestamp
    model: Any
    workers: pd.DataFrame
    vacancies: pd.DataFrame


def load_kept(folder: Path, model_dir: str | Path, version: str) -> KeptModel:
    """Read ``folder/store.db`` and model ``version`` of ``model_dir``, refreshed at the
    store's snapshot (as the truth bench served it)."""
    from service.nightly import active_workers, open_vacancies, snapshot_time
    from service.store.db import make_engine
    from service.store.repository import load_dataset
    from training import registry

    engine = make_engine(f"sqlite:///{folder / 'store.db'}")
    try:
        ds = load_dataset(engine)
    finally:
        engine.dispose()
    at = snapshot_time(ds)
    model = registry.load_model(model_dir, version)
    model = model.refresh(ds, at=at) or model
    return KeptModel(ds, at, model, active_workers(ds), open_vacancies(ds, at))


@dataclass
class ServedLists:
    """Each worker's top-``k`` list as the kept model serves it, with the pairs' truth rows,
    ranker features and calibrated stage probabilities ``(n, 3)``."""

    lists: pd.DataFrame
    features: pd.DataFrame
    stages: np.ndarray
    true: pd.DataFrame


def served_lists(model: Any, worker_ids: list[str], k: int, truth: pd.DataFrame) -> ServedLists:
    """``model.recommend_many(worker_ids, k)`` and, per listed pair, its row of ``truth``
    (NaN where the truth has none), features and stage probabilities."""
    from matcher.models.features import RANKER_COLUMNS

    lists = model.recommend_many(worker_ids, k, reasons=False)
    cat = model.catalogue
    wi = cat.wp.ids.get_indexer(lists["worker_id"])
    vi = cat.vp.ids.get_indexer(lists["vacancy_id"])
    values, _ = model.scorer.pair_values(cat, wi, vi)
    feats = pd.DataFrame(values[:, : len(RANKER_COLUMNS)], columns=RANKER_COLUMNS)
    key = pd.MultiIndex.from_frame(lists[["worker_id", "vacancy_id"]])
    true = truth.set_index(["worker_id", "vacancy_id"]).reindex(key)
    return ServedLists(lists, feats, model.ranker_.predict_stages(feats), true)


def rankable_pairs(model: Any, worker_ids: Any) -> pd.DataFrame:
    """``worker_id, vacancy_id`` of every open vacancy each worker may take and has not
    pursued yet (``Recommender.worker_mask``): the pairs the model may rank, the
    reference of an exhaustive ranking."""
    cat = model.catalogue
    parts = [
        pd.DataFrame({"worker_id": pd.Series(dtype=object), "vacancy_id": pd.Series(dtype=object)})
    ]
    for worker in worker_ids:
        open_cols = cat.open_pos[model.worker_mask(cat, cat.wp.ids.get_loc(worker))]
        parts.append(pd.DataFrame({"worker_id": worker, "vacancy_id": cat.vp.ids[open_cols]}))
    return pd.concat(parts, ignore_index=True)
