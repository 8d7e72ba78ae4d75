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
    WORKER_EXPOSURE_LEFT,
    WORKER_LEFT,
    PairStatistics,
)
from matcher.models.labels import hires_at_risk
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
    return PairStatistics().fit_worker_record(_events(rows))


#: Spells of three workers, in weeks after T0. a: hired at v1 week 0, left week 4; hired
#: at v2 week 6, left week 8; hired at v3 week 10, still there (open: not read by the
#: ended-spell record). b: hired at v1 week 0, no leaving event, hired at v4 week 10
#: (still there): the first spell ends at the next hire, without a departure. c: one
#: open spell only: nothing ended, the market's rate.
SPELL_ROWS = [
    ("a", "v1", HIRED, 0),
    ("a", "v1", LEFT, 4),
    ("a", "v2", HIRED, 6),
    ("a", "v2", LEFT, 8),
    ("a", "v3", HIRED, 10),
    ("b", "v1", HIRED, 0),
    ("b", "v4", HIRED, 10),
    ("c", "v5", HIRED, 2),
]


def test_known_answer_and_no_spell_reads_its_own_departure():
    stats = _record(SPELL_ROWS)
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
    later = _record([*SPELL_ROWS, ("a", "v3", LEFT, 12)])
    assert later.worker_left_log(np.array(["a"], dtype=object))[0] != pytest.approx(got[0])
    # b and c's spells do not change a's record, only the market's rate it is shrunk to
    cut = _record([row for row in SPELL_ROWS if row[0] == "a"])
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
    assert RANKER_COLUMNS[-2] == WORKER_EXPOSURE_LEFT
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


# ---------------------------------------------------------------- on exposure ("exposure")

VIEWED = EventType.VIEWED.value
#: a: two ended spells (4 and 2 weeks, both left) and one open since week 10; b: one
#: spell ended by the next hire at week 10 (no departure) and one open since then; c: one
#: open spell since week 2. The statistics' events end at week 20 (d's view).
EXPOSURE_ROWS = [*SPELL_ROWS, ("d", "v6", VIEWED, 20)]


def _exposure(stats: PairStatistics, pairs: list[tuple[str, str]]) -> np.ndarray:
    return stats.worker_exposure_left_log(
        np.array([w for w, _ in pairs], dtype=object), np.array([v for _, v in pairs], dtype=object)
    )


def test_exposure_known_answer_counts_the_open_spells():
    stats = _record(EXPOSURE_ROWS)
    # weeks at risk: a 4 + 2 + 10 (open, to week 20), b 10 + 10 (open), c 18 (open)
    assert stats.market_["worker_exposure_left"] == 2
    assert stats.market_["worker_exposure_weeks"] == pytest.approx(54)
    assert stats.market_["worker_exposure_left_rate"] == pytest.approx(2 / 54)

    def want(left: float, weeks: float, market_left: float, market_weeks: float) -> float:
        rate = market_left / market_weeks
        return float(np.log((left + PRIOR_WEEKS * rate) / (weeks + PRIOR_WEEKS)))

    got = _exposure(
        stats,
        [("a", "v9"), ("a", "v3"), ("a", "v1"), ("b", "v9"), ("b", "v4"), ("c", "v5"), ("x", "v1")],
    )
    np.testing.assert_allclose(
        got,
        [
            want(2, 16, 2, 54),  # a elsewhere: all three spells, the open one's 10 weeks
            want(2, 6, 2, 44),  # a at v3: its own open spell left out (and from the market)
            want(1, 12, 1, 50),  # a at v1: its own ended spell left out
            want(0, 20, 2, 54),  # b: 20 weeks without a departure
            want(0, 10, 2, 44),  # b at v4: the ended spell only
            want(0, 0, 2, 36),  # c at v5: no other spell, the market's rate without it
            want(0, 0, 2, 54),  # a worker without a spell: the market's rate
        ],
    )
    # the record of ended spells alone sees a only at 2 departures in 6 weeks: the open
    # spell's 10 weeks without one lower the exposure record below it
    assert got[0] < stats.worker_left_log(np.array(["a"], dtype=object))[0]


def test_a_spell_followed_from_the_cutoff_reads_nothing_of_itself():
    """A training window follows the spells at risk at its cutoff (``hires_at_risk``) with
    statistics fitted on the events before it: such a spell is open in them, and its
    pair's record is the same whatever its tenure before the cutoff and its outcome after
    — the record of the worker's other spells. (The open spells are censored at the
    latest event before the cutoff, d's view at week 20.)"""
    cutoff = 21.0
    kept = [r for r in EXPOSURE_ROWS if r[:2] != ("a", "v3")]

    def pair_value(rows: list[tuple[str, str, str, float]]) -> float:
        before = [r for r in rows if r[3] < cutoff]
        return float(_exposure(_record(before), [("a", "v3")])[0])

    without = pair_value(kept)
    for hired, left in ((10, 25), (10, None), (15, 30), (19, 22)):
        rows = [*kept, ("a", "v3", HIRED, hired)]
        if left is not None:
            rows.append(("a", "v3", LEFT, left))
        assert pair_value(rows) == pytest.approx(without)
        # ... and the window does follow it from the cutoff, with its departure
        at_risk = hires_at_risk(
            _events(rows), T0 + pd.Timedelta(weeks=cutoff), T0 + pd.Timedelta(weeks=40)
        )
        spell = at_risk[(at_risk[Columns.Worker] == "a") & (at_risk[Columns.Vacancy] == "v3")]
        assert len(spell) == 1 and spell["left"].iloc[0] == float(left is not None)
    # while the worker's pairs at other vacancies read the open spell's weeks so far
    early = _exposure(_record([*kept, ("a", "v3", HIRED, 10)]), [("a", "v9")])[0]
    late = _exposure(_record([*kept, ("a", "v3", HIRED, 15)]), [("a", "v9")])[0]
    assert early < late


def test_exposure_record_on_statistics_without_it_and_without_spells():
    stats = PairStatistics()
    stats.market_ = {"left_rate": 0.1}
    np.testing.assert_allclose(_exposure(stats, [("a", "v1")]), np.log(MIN_LEFT_RATE))
    empty = _record([("a", "v1", VIEWED, 0)])
    np.testing.assert_allclose(_exposure(empty, [("a", "v1")]), np.log(MIN_LEFT_RATE))


def test_the_hazard_reads_the_exposure_record_last():
    x = np.zeros((3, len(RANKER_COLUMNS)))
    x[:, RANKER_COLUMNS.index(WORKER_LEFT)] = [-3.0, -1.0, -2.0]
    x[:, RANKER_COLUMNS.index(WORKER_EXPOSURE_LEFT)] = [-4.0, -5.0, -6.0]
    exposure = stay_covariate_matrix(x, "exposure")
    np.testing.assert_array_equal(exposure[:, :-1], stay_covariate_matrix(x))
    np.testing.assert_array_equal(exposure[:, -1], [-4.0, -5.0, -6.0])
    assert RecommenderConfig(stay_record="exposure").stay_record == "exposure"
