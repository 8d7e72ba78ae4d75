"""A model a ``bench/truth_bench.py --workdir`` run kept, at its market's snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
