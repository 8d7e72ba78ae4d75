"""The sample labour market: a realistic, reproducible market in data contract v1.

Workers from real poverty-alleviation counties (Suo County 542427 among them),
employers in the labour-importing east and at home, vacancies with CSCO 2022
occupations and noisy Chinese titles, and weeks of events from a documented
behavioural model (``docs/sample-market.md``).

>>> frames = generate_market(3000, 120, weeks=40, seed=7)   # doctest: +SKIP
>>> Dataset.from_frames(**frames)                            # doctest: +SKIP

The frames are a snapshot at the end of the horizon: ``headcount`` is the seats
still open then (seats posted minus hires) and ``status`` is ``filled`` when none
are left, ``closed`` when ``closes_at`` has passed, ``open`` otherwise. The hidden
truth behind the events (seats posted, risky employers, workers' trades) is on
:class:`SampleMarket` from :func:`build_market`, for tests and evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from matcher.data.dataset import normalise_frame
from matcher.data.schema import CONTRACT, Kind, TableSpec
from training.synth.behaviour import PARAMS, Outcome, PairMarket, Params, Probes, simulate
from training.synth.employers import draw_employers, draw_vacancies
from training.synth.io import write_market
from training.synth.tables import load_tables, select_counties
from training.synth.truth import TRUTH_FILE, market_truth, read_truth, write_truth
from training.synth.variants import VARIANTS, MarketVariant, get_variant
from training.synth.workers import draw_workers

_LIST_KINDS = (Kind.STR_LIST, Kind.REGION_LIST, Kind.LANG_LIST)

__all__ = [
    "SampleMarket",
    "build_market",
    "generate_market",
    "write_market",
    "write_truth",
    "read_truth",
    "TRUTH_FILE",
    "PARAMS",
    "Params",
    "VARIANTS",
    "MarketVariant",
    "get_variant",
]


@dataclass
class SampleMarket:
    """The four contract frames plus the hidden truth that generated them."""

    frames: dict[str, pd.DataFrame]
    #: seats each vacancy posted (headcount in the frame is what is left at the end)
    seats_posted: pd.Series
    #: hires per vacancy over the horizon
    hires: pd.Series
    #: employers that pay late (wage arrears) and lose people
    risky_employers: pd.Series
    #: CSCO code of every vacancy, including those published without one
    true_occupation: pd.Series
    #: each worker's main trade (CSCO code) or None for newcomers
    worker_trade: pd.Series
    #: placements in the horizon, county code x province code
    flows: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    #: the true value of every eligible (seeking worker, open vacancy) pair at the snapshot
    #: (``training.synth.truth``); None when not computed
    truth: pd.DataFrame | None = None
    #: the probabilities behind the simulated draws (``build_market(probe=True)``)
    probes: Probes | None = None


def _normal_form(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """``matcher.data.dataset.normalise_frame``, except list columns, which are built as lists.

    Re-listing millions of list cells is the slowest step of a large market, and the
    generator already makes every list cell a fresh ``list`` of ``str``.
    """
    lists = [f.name for f in spec.fields if f.kind in _LIST_KINDS]
    rest = replace(spec, fields=tuple(f for f in spec.fields if f.name not in lists))
    out = normalise_frame(frame.drop(columns=lists), rest)
    for name in lists:
        out[name] = frame[name].to_numpy(object)
    return out[spec.columns]


def _check_args(n_workers: int, n_employers: int, weeks: int, n_vacancies: int | None) -> None:
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    if n_employers < 1:
        raise ValueError(f"n_employers must be at least 1, got {n_employers}")
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    if n_vacancies is not None and n_vacancies < 0:
        raise ValueError(f"n_vacancies must not be negative, got {n_vacancies}")


def build_market(
    n_workers: int,
    n_employers: int,
    weeks: int = 16,
    seed: int = 0,
    *,
    with_events: bool = True,
    start: str = "2026-01-05",
    n_vacancies: int | None = None,
    params: Params | None = None,
    truth: bool = True,
    probe: bool = False,
    variant: str | MarketVariant = "default",
) -> SampleMarket:
    """Generate the market with its hidden truth (see :func:`generate_market`).

    ``variant`` names a market of the family (``training.synth.variants``); ``params``,
    when given, replaces its behavioural coefficients.

    ``truth`` computes :attr:`SampleMarket.truth` (the true value of each eligible pair of a
    seeking worker and an open vacancy at the snapshot); ``probe`` keeps the probability
    behind every simulated view, application and hire (:class:`Probes`, for validation).
    """
    _check_args(n_workers, n_employers, weeks, n_vacancies)
    market_variant = get_variant(variant)
    if params is None:
        params = market_variant.params
    t0 = pd.Timestamp(start)
    if t0.tzinfo is not None:
        t0 = t0.tz_convert("UTC").tz_localize(None)
    t0 = t0.normalize()
    end = t0 + pd.Timedelta(weeks=weeks)
    if n_vacancies is None:
        n_vacancies = max(1, round(n_employers * weeks / 4))
    seeds = np.random.SeedSequence(seed).spawn(5)
    rw, re_, rv, rb, rc = (np.random.default_rng(s) for s in seeds)
    tables = select_counties(load_tables(), n_workers, rc)
    workers = draw_workers(
        rw, n_workers, tables, t0, weeks, registered_before=market_variant.registered_before
    )
    employers = draw_employers(re_, n_employers, tables)
    vacancies = draw_vacancies(
        rv, n_vacancies, employers, tables, t0, weeks, seats_scale=market_variant.seats_scale
    )
    vf = vacancies.frame
    n_v = len(vf)
    outcome: Outcome | None = None
    if with_events:
        outcome = simulate(
            rb, workers, employers, vacancies, tables, t0, weeks, params, probe=probe
        )
        events = outcome.events
        hires = outcome.hires
        flows = outcome.flows
    else:
        events = pd.DataFrame(
            {
                "worker_id": pd.Series(dtype=object),
                "vacancy_id": pd.Series(dtype=object),
                "event": pd.Series(dtype=object),
                "occurred_at": pd.Series(dtype="datetime64[ns]"),
            }
        )
        hires = np.zeros(n_v, int)
        flows = np.zeros_like(tables.partner_share)
    left = vacancies.seats - hires
    truth_frame = None  # without events there is no simulated state to judge from
    if truth and outcome is not None and outcome.state is not None:
        truth_frame = market_truth(
            PairMarket(workers, employers, vacancies, tables), params, outcome.state
        )
    if (left < 0).any():  # pragma: no cover - guarded by the simulation
        raise AssertionError("the simulation hired more people than a vacancy had seats")
    vf["headcount"] = pd.array(left, dtype="Int64")
    closed = vf["closes_at"].notna() & (vf["closes_at"] <= end)
    vf["status"] = np.where(left == 0, "filled", np.where(closed, "closed", "open")).astype(object)
    raw = {
        "workers": workers.frame,
        "employers": employers.frame,
        "vacancies": vf,
        "events": events,
    }
    frames = {name: _normal_form(raw[name], spec) for name, spec in CONTRACT.items()}
    vid = vf["vacancy_id"]
    cat = tables.catalogue
    return SampleMarket(
        frames=frames,
        seats_posted=pd.Series(vacancies.seats, index=vid, name="seats_posted"),
        hires=pd.Series(hires, index=vid, name="hires"),
        risky_employers=pd.Series(
            employers.risky, index=employers.frame["employer_id"], name="risky"
        ),
        true_occupation=pd.Series(cat.code[vacancies.occupation], index=vid, name="occupation"),
        worker_trade=pd.Series(
            np.where(workers.trade1 >= 0, cat.code[np.maximum(workers.trade1, 0)], None),
            index=workers.frame["worker_id"],
            name="trade",
        ),
        flows=pd.DataFrame(flows, index=tables.counties.code, columns=tables.provinces),
        start=t0,
        end=end,
        truth=truth_frame,
        probes=outcome.probes if outcome is not None else None,
    )


def generate_market(
    n_workers: int,
    n_employers: int,
    weeks: int = 16,
    seed: int = 0,
    *,
    with_events: bool = True,
    start: str = "2026-01-05",
    n_vacancies: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a sample labour market in data contract v1.

    Parameters
    ----------
    n_workers, n_employers : int
        Market size (at least 1 each).
    weeks : int
        Length of the horizon; vacancies are posted and events happen within it
        (vacancies may be posted up to three weeks before ``start``).
    seed : int
        Same arguments and seed give identical frames.
    with_events : bool
        False skips the behavioural simulation (fast; for scale benchmarks).
    start : str
        First day of the horizon (ISO date, UTC).
    n_vacancies : int, optional
        Number of vacancies; default ``n_employers * weeks / 4`` (one posting per
        employer every four weeks on average).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``workers``, ``employers``, ``vacancies``, ``events`` with exactly the
        contract's columns in ``matcher.data.dataset`` normal form.

    Raises
    ------
    ValueError
        If a size is below 1 (or ``n_vacancies`` negative).
    """
    return build_market(
        n_workers,
        n_employers,
        weeks,
        seed,
        with_events=with_events,
        start=start,
        n_vacancies=n_vacancies,
    ).frames
