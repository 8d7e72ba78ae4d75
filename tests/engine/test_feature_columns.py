"""The feature column lists: the ranker's vacancy-only columns (which the ranker proxy
reads once per vacancy, ``matcher.models.retrieval``) are ranker columns whose value
does not depend on the worker of the pair."""

from __future__ import annotations

import numpy as np
from engine_markets import fast_params

from matcher.data.dataset import Dataset
from matcher.models.features import PAIR_COLUMNS, RANKER_COLUMNS, VACANCY_ONLY_COLUMNS
from matcher.serving.recommender import Recommender
from training.synth import generate_market


def test_vacancy_only_columns_are_ranker_columns_listed_once():
    assert set(VACANCY_ONLY_COLUMNS) <= set(RANKER_COLUMNS)
    assert len(set(VACANCY_ONLY_COLUMNS)) == len(VACANCY_ONLY_COLUMNS)
    assert len(set(RANKER_COLUMNS)) == len(RANKER_COLUMNS)


def test_vacancy_only_columns_do_not_depend_on_the_worker():
    market = Dataset.from_frames(**generate_market(160, 12, weeks=8, seed=5))
    model = Recommender(**fast_params()).fit(market)
    cat = model.catalogue_
    workers = np.arange(min(40, market.n_workers), dtype=np.int64)
    for v in cat.open_pos[:10]:
        values, _ = model.scorer.pair_values(cat, workers, np.full(len(workers), v, np.int64))
        for name in VACANCY_ONLY_COLUMNS:
            column = values[:, PAIR_COLUMNS.index(name)]
            assert np.allclose(column, column[0], equal_nan=True), name
        # and the worker-dependent columns are not all constant (the check can fail)
        varying = [c for c in RANKER_COLUMNS if c not in VACANCY_ONLY_COLUMNS]
        assert any(np.ptp(np.nan_to_num(values[:, PAIR_COLUMNS.index(c)])) > 0 for c in varying)
