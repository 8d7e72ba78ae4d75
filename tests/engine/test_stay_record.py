"""The worker's own leaving record in the stay hazard (``Recommender(stay_record=
"worker")``): the known answer of a toy market, no spell reading its own departure or
tenure, the hazard's covariate, and the config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.data.schema import Columns, EventType
from matcher.models.config import ConfigError, RecommenderConfig
from matcher.models.features import (
    MIN_LEFT_RATE,
    PRIOR_WEEKS,
    RANKER_COLUMNS,
    WORKER_LEFT,
    PairStatistics,
)
from matcher.models.ranking import (
    BOOSTER_WIDTH,
    STAY_COVARIATES,
    StablePlacementRanker,
    stay_covariate_matrix,
)

T0 = pd.Timestamp("2026-01-05")


def _events(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Events (worker, vacancy, kind, week after T0)."""
    return pd.DataFrame(
        {
            Columns.Worker: [r[0] for r in rows],
            Columns.Vacancy: [r[1] for r in rows],
            Columns.Event: [r[2] for r in rows],
            Columns.OccurredAt: [T0 + pd.Timedelta(weeks=r[3]) for r in rows],
        }
    )


HIRED, LEFT = EventType.HIRED.value, EventType.LEFT.value


def _record(rows: list[tuple[str, str, str, float]]) -> PairStatistics:
    stats = PairStatistics()
    stats.market_ = {}
    stats._fit_worker_record(_events(rows))
    return stats


def test_known_answer_and_no_spell_reads_its_own_departure():
    stats = _record(
        [
            # a: hired at v1 week 0, left week 4; hired at v2 week 6, left week 8;
            # hired at v3 week 10, still there (open: not read)
            ("a", "v1", HIRED, 0),
            ("a", "v1", LEFT, 4),
            ("a", "v2", HIRED, 6),
            ("a", "v2", LEFT, 8),
            ("a", "v3", HIRED, 10),
            # b: hired at v1 week 0, no leaving event, hired at v4 week 10 (still there):
            # the first spell ends at the next hire, without a departure
            ("b", "v1", HIRED, 0),
            ("b", "v4", HIRED, 10),
            # c: one open spell only: nothing ended, the market's rate
            ("c", "v5", HIRED, 2),
        ]
    )
    rate = 2.0 / (4 + 2 + 10)  # ended spells: departures per week employed
    assert stats.market_["worker_left_rate"] == pytest.approx(rate)
    got = stats.worker_left_log(np.array(["a", "b", "c", "nobody"], dtype=object))
    want = [
        np.log((2 + PRIOR_WEEKS * rate) / (6 + PRIOR_WEEKS)),
        np.log((0 + PRIOR_WEEKS * rate) / (10 + PRIOR_WEEKS)),
        np.log(rate),
        np.log(rate),
    ]
    np.testing.assert_allclose(got, want)
    # a's third spell, open at the statistics' end (as every spell followed from there
    # is), was not read above; once it has left within the events it has ended and counts
    later = _record(
        [
            ("a", "v1", HIRED, 0),
            ("a", "v1", LEFT, 4),
            ("a", "v2", HIRED, 6),
            ("a", "v2", LEFT, 8),
            ("a", "v3", HIRED, 10),
            ("b", "v1", HIRED, 0),
            ("b", "v4", HIRED, 10),
            ("c", "v5", HIRED, 2),
            ("a", "v3", LEFT, 12),
        ]
    )
    assert later.worker_left_log(np.array(["a"], dtype=object))[0] != pytest.approx(got[0])
    # b and c's spells do not change a's record, only the market's rate it is shrunk to
    cut = _record(
        [
            ("a", "v1", HIRED, 0),
            ("a", "v1", LEFT, 4),
            ("a", "v2", HIRED, 6),
            ("a", "v2", LEFT, 8),
            ("a", "v3", HIRED, 10),
        ]
    )
    rate_a = 2.0 / 6
    assert cut.worker_left_log(np.array(["a"], dtype=object))[0] == pytest.approx(
        np.log((2 + PRIOR_WEEKS * rate_a) / (6 + PRIOR_WEEKS))
    )


def test_no_departure_anywhere_reads_the_floor():
    stats = _record([("a", "v1", HIRED, 0), ("a", "v2", HIRED, 5)])
    got = stats.worker_left_log(np.array(["a", "b"], dtype=object))
    np.testing.assert_allclose(got, np.log(MIN_LEFT_RATE))


def test_statistics_fitted_before_the_record_read_nothing_of_it():
    stats = PairStatistics()
    stats.market_ = {"left_rate": 0.1}
    got = stats.worker_left_log(np.array(["a"], dtype=object))
    np.testing.assert_allclose(got, np.log(MIN_LEFT_RATE))


def test_the_hazard_reads_the_record_and_no_booster_does():
    x = np.zeros((3, len(RANKER_COLUMNS)))
    x[:, RANKER_COLUMNS.index(WORKER_LEFT)] = [-3.0, -1.0, -2.0]
    plain = stay_covariate_matrix(x)
    worker = stay_covariate_matrix(x, "worker")
    assert plain.shape == (3, len(STAY_COVARIATES))
    assert worker.shape == (3, len(STAY_COVARIATES) + 1)
    np.testing.assert_array_equal(worker[:, :-1], plain)
    np.testing.assert_array_equal(worker[:, -1], [-3.0, -1.0, -2.0])
    assert max(BOOSTER_WIDTH.values()) == RANKER_COLUMNS.index(WORKER_LEFT)
    ranker = StablePlacementRanker(stay_record="worker")
    assert ranker.booster_input(x).shape[1] == BOOSTER_WIDTH["plain"]


def test_config():
    assert RecommenderConfig().stay_record == "none"
    assert RecommenderConfig.from_json({}).stay_record == "none"
    assert RecommenderConfig(stay_record="worker").stay_record == "worker"
    with pytest.raises(ConfigError, match="stay_record"):
        RecommenderConfig(stay_record="own")
    with pytest.raises(ConfigError, match="stay_map"):
        RecommenderConfig(stay_record="worker", stay_map="plain")
