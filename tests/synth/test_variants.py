"""The family of sample markets: every variant really changes the mechanism it names."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest

from matcher.data import reference
from training.synth import VARIANTS, build_market, get_variant
from training.synth.variants import DEFAULT_VARIANT, MarketVariant

SIZE = {"n_workers": 1500, "n_employers": 80, "weeks": 40, "seed": 5}


@pytest.fixture(scope="module")
def markets():
    return {name: build_market(**SIZE, variant=name) for name in VARIANTS}


@pytest.fixture(scope="module")
def measured(markets):
    return {name: _measures(m) for name, m in markets.items()}


def _views(m) -> tuple[pd.DataFrame, np.ndarray]:
    ev = m.frames["events"]
    views = ev.loc[ev["event"] == "viewed", ["worker_id", "vacancy_id"]].drop_duplicates()
    applied = ev.loc[ev["event"] == "applied", ["worker_id", "vacancy_id"]]
    key = pd.MultiIndex.from_frame(applied)
    return views, pd.MultiIndex.from_frame(views).isin(key)


def _measures(m) -> dict[str, float]:
    """What each mechanism should move, measured on the generated market (not its params)."""
    f, truth = m.frames, m.truth
    workers = f["workers"].set_index("worker_id")
    vac = f["vacancies"].set_index("vacancy_id")
    views, applied = _views(m)
    # applications by pay: apply rate in the top third of offered / expected wage over the bottom
    mid = vac.loc[views["vacancy_id"], ["wage_min", "wage_max"]].to_numpy(float).mean(axis=1)
    ratio = np.log(mid / workers.loc[views["worker_id"], "expected_wage"].to_numpy(float))
    ok = ~np.isnan(ratio)
    lo, hi = np.nanquantile(ratio, [1 / 3, 2 / 3])
    wage = applied[ok & (ratio >= hi)].mean() / applied[ok & (ratio <= lo)].mean()
    # applications by distance: under 150 km over beyond 800 km
    home = np.array(
        [reference.coordinates(c) for c in workers.loc[views["worker_id"], "home_region"]]
    )
    job = np.array([reference.coordinates(c) for c in vac.loc[views["vacancy_id"], "region"]])
    km = reference.haversine_km(home[:, 0], home[:, 1], job[:, 0], job[:, 1])
    distance = applied[km < 150].mean() / applied[km > 800].mean()
    # who stays (true 6-month stay of the snapshot's pairs), on the hazard scale -log P(stay)
    hazard = -np.log(truth["p_stay6m"].clip(1e-9)).to_numpy()
    terms = vac.loc[truth["vacancy_id"], ["labor_contract", "social_insurance"]].astype(bool)
    both, neither = terms.all(axis=1).to_numpy(), (~terms).all(axis=1).to_numpy()
    contract = hazard[neither].mean() / hazard[both].mean()
    ev = f["events"]
    hires = ev[ev["event"] == "hired"].join(workers["home_region"], on="worker_id")
    hires = hires.join(vac["employer_id"], on="vacancy_id")
    fellow = hires.groupby(["home_region", "employer_id"]).size()
    key = pd.MultiIndex.from_arrays(
        [
            workers.loc[truth["worker_id"], "home_region"].to_numpy(),
            vac.loc[truth["vacancy_id"], "employer_id"].to_numpy(),
        ]
    )
    n_fellow = fellow.reindex(key).fillna(0).to_numpy()
    villagers = hazard[n_fellow == 0].mean() / hazard[n_fellow >= 3].mean()
    seekers = truth["worker_id"].nunique()
    open_seats = vac.loc[vac["status"] == "open", "headcount"].sum()
    return {
        "wage": float(wage),
        "distance": float(distance),
        "contract": float(contract),
        "villagers": float(villagers),
        "registered_during": float((workers["registered_at"] >= m.start).mean()),
        "seats_per_seeker": float(open_seats / max(seekers, 1)),
    }


def test_the_family_is_named_documented_and_distinct():
    assert len(VARIANTS) >= 5 and "default" in VARIANTS
    assert VARIANTS["default"] == DEFAULT_VARIANT
    knobs = {
        name: (dataclasses.astuple(v.params), v.seats_scale, v.registered_before)
        for name, v in VARIANTS.items()
    }
    assert len(set(knobs.values())) == len(VARIANTS)
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "sample-market.md").read_text(encoding="utf-8")
    for name, v in VARIANTS.items():
        assert v.name == name and v.mechanism
        assert f"`{name}`" in doc, name
    assert get_variant(VARIANTS["cold-start"]) is VARIANTS["cold-start"]
    with pytest.raises(ValueError, match="unknown market variant 'nope'; use one of default"):
        get_variant("nope")


# The default market as docs/sample-market.md describes it, pinned: a change to the default
# variant's behaviour must be deliberate (update the fingerprint and the docs together).
DEFAULT_EVENT_COUNTS = {
    "viewed": 595,
    "applied": 139,
    "interviewed": 81,
    "rejected": 53,
    "declined": 12,
    "hired": 38,
    "left": 4,
}
DEFAULT_EVENTS_SHA256 = "7b865055c50c783b287c3cf1719757efb00b5540cdc05bb4f58ed83fd93b69e6"


def test_default_variant_is_the_documented_market():
    events = build_market(200, 10, weeks=4, seed=1, variant="default").frames["events"]
    assert events["event"].value_counts().to_dict() == DEFAULT_EVENT_COUNTS
    digest = hashlib.sha256(pd.util.hash_pandas_object(events, index=False).to_numpy().tobytes())
    assert digest.hexdigest() == DEFAULT_EVENTS_SHA256
    # the variant's name and the default argument are one market
    pd.testing.assert_frame_equal(events, build_market(200, 10, weeks=4, seed=1).frames["events"])


def test_wage_driven_applicants_follow_pay(measured):
    base, wage = measured["default"], measured["wage-driven"]
    assert wage["wage"] > 2 * base["wage"], (wage, base)
    assert wage["wage"] > 2.0


def test_distance_driven_applicants_stay_near_home(measured):
    base, dist = measured["default"], measured["distance-driven"]
    assert dist["distance"] > 2.5 * base["distance"], (dist, base)
    assert dist["wage"] < 0.6 * base["wage"]


def test_contract_retention_turns_on_terms_not_villagers(measured):
    base, c = measured["default"], measured["contract-retention"]
    assert c["contract"] > 1.3 * base["contract"], (c, base)
    assert c["villagers"] < 0.6 * base["villagers"]


def test_villager_retention_turns_on_fellow_villagers_not_terms(measured):
    base, v = measured["default"], measured["villager-retention"]
    assert v["villagers"] > 1.8 * base["villagers"], (v, base)
    assert v["contract"] < 0.8 * base["contract"]


def test_cold_start_market_is_mostly_new_workers(measured):
    assert measured["cold-start"]["registered_during"] > 0.7
    assert measured["default"]["registered_during"] < 0.45


def test_scarce_seats_leave_fewer_seats_than_seekers(measured):
    base, scarce = measured["default"], measured["scarce-seats"]
    assert scarce["seats_per_seeker"] < 1.5 < 3 < base["seats_per_seeker"], (scarce, base)


def test_every_variant_has_a_usable_truth(markets):
    for name, m in markets.items():
        t = m.truth
        assert t is not None and len(t) > 1000, name
        best = t.groupby("worker_id")["value"].max().mean()
        assert 0.05 < best < 0.7, (name, best)


def test_params_override_the_variant():
    custom = MarketVariant("custom", "test", seats_scale=0.5)
    m = build_market(200, 10, weeks=4, seed=1, variant=custom)
    base = build_market(200, 10, weeks=4, seed=1)
    assert m.seats_posted.sum() < base.seats_posted.sum()


def test_cli_writes_a_variant_and_refuses_unknown_ones(tmp_path):
    from typer.testing import CliRunner

    from service.cli import app

    runner = CliRunner()
    args = ["synth", "--workers", "60", "--employers", "5", "--weeks", "3", "--start", "2026-01-05"]
    ok = runner.invoke(app, [*args, "--variant", "scarce-seats", "--out", str(tmp_path / "a")])
    assert ok.exit_code == 0, ok.output
    assert "scarce-seats" in ok.output
    bad = runner.invoke(app, [*args, "--variant", "nope", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2
    assert "--variant 'nope' is not one of default" in bad.output
