"""Ground truth of the sample market: it agrees with the simulation, and training never sees it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from import_graph import imported_modules

from training.synth import TRUTH_FILE, build_market, read_truth, write_market, write_truth
from training.synth.behaviour import PARAMS, WEEK, draw_tenure, stay_probability
from training.synth.truth import TRUTH_COLUMNS, average_over_staying
from training.synth.workers import STAYING_SD

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def probed():
    """A 40-week market with the probability behind every draw kept."""
    return build_market(1500, 80, weeks=40, seed=5, probe=True)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize(
    ("rate", "p_arrears", "inj_rate", "p_new_year", "hired"),
    [
        (0.03, 0.01, 0.0003 * 16, 0.08, "2026-01-05"),  # festival 6 weeks in, heavy work
        (0.06, 0.6, 0.0003, 0.20, "2026-09-01"),  # risky employer, far; next festival in window
        (0.01, 0.6, 0.005, 0.20, "2026-10-20"),  # festival near the end of the window
        (0.02, 0.0, 1e-12, 0.0, "2026-03-01"),  # the hazard alone: exp(-26 * 0.02)
    ],
)
def test_closed_form_stay_matches_the_drawn_tenures(rate, p_arrears, inj_rate, p_new_year, hired):
    n = 200_000
    rng = np.random.default_rng(11)
    t = np.full(n, pd.Timestamp(hired).value, np.int64)

    def full(x):
        return np.full(n, x, float)

    drawn = draw_tenure(
        rng, PARAMS, full(rate), full(p_arrears), full(inj_rate), full(p_new_year), t
    )
    simulated = (drawn.tenure > 26 * WEEK).mean()
    exact = stay_probability(
        PARAMS, full(rate)[:1], full(p_arrears)[:1], full(inj_rate)[:1], full(p_new_year)[:1], t[:1]
    )[0]
    se = np.sqrt(exact * (1 - exact) / n)
    assert abs(simulated - exact) < 4 * se + 1e-4, (simulated, exact)
    if p_arrears == p_new_year == 0:
        assert exact == pytest.approx(np.exp(-26 * rate))


def test_stay_probability_refuses_short_windows():
    one = np.ones(1)
    with pytest.raises(ValueError, match="at least 14"):
        stay_probability(PARAMS, one, one, one, one, np.zeros(1, np.int64), weeks=13)


# --------------------------------------------------------------------------- the table


def test_truth_table_is_the_eligible_seeking_by_open_pairs(probed):
    truth, f = probed.truth, probed.frames
    assert truth is not None and list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(truth) > 1000
    for col in TRUTH_COLUMNS[2:]:
        assert truth[col].between(0, 1).all(), col
    np.testing.assert_allclose(
        truth["value"], truth["p_apply"] * truth["p_hire"] * truth["p_stay6m"]
    )
    assert not truth.duplicated(["worker_id", "vacancy_id"]).any()
    # only open vacancies ...
    status = f["vacancies"].set_index("vacancy_id")["status"]
    assert (status.loc[truth["vacancy_id"].unique()] == "open").all()
    # ... and workers not in a job at the snapshot
    ev = f["events"]
    last = ev[ev["event"].isin(["hired", "left"])].sort_values("occurred_at")
    in_job = last.groupby("worker_id")["event"].last() == "hired"
    assert not truth["worker_id"].isin(in_job[in_job].index).any()
    # the generator's hard rules hold for every stored pair
    workers = f["workers"].set_index("worker_id")
    vac = f["vacancies"].set_index("vacancy_id")
    mob = workers.loc[truth["worker_id"], "mobility"].to_numpy()
    same_prov = (
        workers.loc[truth["worker_id"], "home_region"].str[:2].to_numpy()
        == vac.loc[truth["vacancy_id"], "region"].str[:2].to_numpy()
    )
    assert same_prov[mob == "province"].all()
    # pairs the worker applied to before are worth nothing now
    applied = set(map(tuple, ev.loc[ev["event"] == "applied", ["worker_id", "vacancy_id"]].values))
    again = [
        (w, v) in applied for w, v in zip(truth["worker_id"], truth["vacancy_id"], strict=True)
    ]
    assert (truth.loc[again, "p_apply"] == 0).all()
    # a worker's best option is a real chance (the issue: about 0.3), not a rounding error
    best = truth.groupby("worker_id")["value"].max()
    assert 0.1 < best.mean() < 0.6


def test_average_over_staying_is_the_normal_expectation():
    # E[exp(-26 r e^{-z})] for z ~ N(0, sd), against a fine Riemann sum of the density
    rate = np.array([0.01, 0.03, 0.1])
    got = average_over_staying(lambda z: np.exp(-26 * rate * np.exp(-z)))
    z = np.linspace(-8 * STAYING_SD, 8 * STAYING_SD, 200_001)
    density = np.exp(-0.5 * (z / STAYING_SD) ** 2) / (STAYING_SD * np.sqrt(2 * np.pi))
    want = [np.sum(np.exp(-26 * r * np.exp(-z)) * density) * (z[1] - z[0]) for r in rate]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # a constant stays itself; the mean of z is 0 and its variance sd²
    np.testing.assert_allclose(average_over_staying(lambda z: np.full(2, 0.3)), [0.3, 0.3])
    assert average_over_staying(lambda z: np.array([z]))[0] == pytest.approx(0.0, abs=1e-12)
    assert average_over_staying(lambda z: np.array([z * z]))[0] == pytest.approx(STAYING_SD**2)


def test_averaged_stay_forgets_the_latent_staying_power(probed):
    """``p_stay6m_avg`` is ``p_stay6m`` with the worker's hidden staying power averaged out:
    the two differ by a factor that belongs to the worker (one hidden number each), not to
    the pair, and agree on average."""
    truth = probed.truth
    np.testing.assert_allclose(
        truth["value_avg_staying"], truth["p_apply"] * truth["p_hire"] * truth["p_stay6m_avg"]
    )
    # the ratio of the two is mostly each worker's own: it comes from one hidden number per
    # worker (pairs both of whose probabilities are not negligible)
    ok = (truth["p_stay6m"] > 0.05) & (truth["p_stay6m_avg"] > 0.05)
    ratio = np.log(truth["p_stay6m"] / truth["p_stay6m_avg"])[ok]
    workers = truth["worker_id"][ok]
    within = ratio - ratio.groupby(workers).transform("mean")
    assert ratio.var() > 0.05
    assert within.var() < 0.3 * ratio.var()
    # and so is its sign: above the average at every pair or at none, for most workers
    above = (ratio > 0).groupby(workers).mean()
    assert ((above == 0) | (above == 1)).mean() > 0.8
    # on average over workers the two agree (the staying power has mean 0)
    assert abs(truth["p_stay6m"].mean() - truth["p_stay6m_avg"].mean()) < 0.03


def test_a_long_horizon_emits_retained_6m(probed):
    ev = probed.frames["events"]
    hired = ev[ev["event"] == "hired"].set_index(["worker_id", "vacancy_id"])["occurred_at"]
    kept = ev[ev["event"] == "retained_6m"].set_index(["worker_id", "vacancy_id"])["occurred_at"]
    assert len(kept) > 100
    assert ((kept - hired.loc[kept.index]) == 26 * pd.Timedelta(weeks=1)).all()


def test_truth_is_deterministic_and_round_trips(probed, tmp_path):
    again = build_market(1500, 80, weeks=40, seed=5)
    pd.testing.assert_frame_equal(probed.truth, again.truth)
    path = write_truth(probed.truth, tmp_path)
    assert path.name == TRUTH_FILE
    pd.testing.assert_frame_equal(read_truth(tmp_path), probed.truth)
    with pytest.raises(FileNotFoundError, match="jobmatch synth"):
        read_truth(tmp_path / "nowhere")
    # a file from before the averaged columns still reads; one without a value does not
    probed.truth.drop(columns=["p_stay6m_avg", "value_avg_staying"]).to_parquet(path)
    assert list(read_truth(tmp_path).columns) == list(TRUTH_COLUMNS[:6])
    probed.truth.drop(columns=["value"]).to_parquet(path)
    with pytest.raises(ValueError, match="missing truth columns value"):
        read_truth(tmp_path)


def test_no_truth_without_events_or_when_switched_off():
    assert build_market(50, 4, weeks=2, seed=1, with_events=False).truth is None
    assert build_market(50, 4, weeks=2, seed=1, truth=False).truth is None


# --------------------------------------------------------------------------- agreement


def _by_quintile(p: np.ndarray, outcome: np.ndarray) -> pd.DataFrame:
    q = pd.qcut(p, 5, labels=False, duplicates="drop")
    frame = pd.DataFrame({"p": p, "o": outcome.astype(float), "q": q})
    return frame.groupby("q").agg(p=("p", "mean"), o=("o", "mean"), n=("o", "size"))


def test_simulated_applications_track_p_apply(probed):
    """Among viewed pairs, the apply rate per quintile of the apply probability matches it."""
    table = _by_quintile(probed.probes.arrays("view_p"), probed.probes.arrays("view_applied"))
    se = np.sqrt(table["p"] * (1 - table["p"]) / table["n"])
    assert (abs(table["o"] - table["p"]) < 4 * se + 0.005).all(), table
    assert table["o"].is_monotonic_increasing


def test_simulated_stays_track_p_stay6m(probed):
    """Hires' 26-week survival per quintile of the closed-form probability matches it."""
    table = _by_quintile(probed.probes.arrays("hire_p6m"), probed.probes.arrays("hire_kept6m"))
    assert table["n"].sum() > 1000
    se = np.sqrt(table["p"] * (1 - table["p"]) / table["n"])
    assert (abs(table["o"] - table["p"]) < 4 * se + 0.01).all(), table
    assert table["o"].iloc[-1] > table["o"].iloc[0] + 0.5


def test_simulated_hires_stay_below_the_single_applicant_probability(probed):
    """p_hire is one applicant's chance with a seat free; competition only lowers it."""
    table = _by_quintile(probed.probes.arrays("app_p"), probed.probes.arrays("app_hired"))
    assert (table["o"] <= table["p"] + 0.02).all(), table
    assert table["o"].is_monotonic_increasing
    assert (table["o"].iloc[-1] / table["p"].iloc[-1]) > 0.5


# --------------------------------------------------------------------------- separation

#: modules that may name the truth besides the generator (training/synth) and the
#: evaluation code that judges against it (matcher/evaluation)
TRUTH_READERS = {
    "service/commands/synth.py",  # writes it
    "service/importer.py",  # skips it, and says so
}
PROJECT_PACKAGES = ("matcher", "training", "service")
TRUTH_NAMES = ("truth.parquet", "TRUTH_FILE", "read_truth", "market_truth", "training.synth.truth")


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at any depth of its code (lazy imports too)."""
    return {m for m in imported_modules(path) if m.split(".")[0] in PROJECT_PACKAGES}


def _reachable(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # package __init__s
        todo += sorted(_imports(path))
    return seen


def test_training_code_cannot_reach_the_truth():
    """The import graph of training and of the library never touches the generator's truth."""
    roots = [
        "training.pipeline",
        "training.evaluate",
        "training.split",
        "training.report",
        "training.registry",
        "service.training_runs",
        "service.commands.train",
        "service.store.repository",
        *(
            "matcher." + ".".join(p.relative_to(ROOT / "matcher").with_suffix("").parts)
            for p in (ROOT / "matcher").rglob("*.py")
            if p.relative_to(ROOT / "matcher").as_posix() != "evaluation/truth.py"
        ),
    ]
    reached = _reachable(roots)
    assert "training.pipeline" in reached and "matcher.models.ranking" in reached
    assert not {m for m in reached if m.startswith("training.synth")}, sorted(reached)
    # the code that judges against the truth is for benchmarks only (its generic parts,
    # calibration and per-group means, serve the training report too)
    assert "matcher.evaluation.truth" not in reached
    assert "service.importer" not in reached
    for name in reached:
        path = _module_file(name)
        assert path is not None
        text = path.read_text(encoding="utf-8")
        for word in TRUTH_NAMES:
            assert word not in text, f"{path.relative_to(ROOT)} names {word}"


def test_only_the_generator_and_evaluation_name_the_truth():
    for package in ("matcher", "training", "service"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in TRUTH_READERS or rel.startswith(("training/synth/", "matcher/evaluation/")):
                continue
            text = path.read_text(encoding="utf-8")
            named = [w for w in TRUTH_NAMES if w in text]
            assert not named, f"{rel} names {named}; only the generator and evaluation may"


def _store_rows(url: str) -> dict[str, list[tuple]]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sorted(inspect(conn).get_table_names())
            return {
                t: sorted(
                    map(tuple, conn.execute(text(f'SELECT * FROM "{t}"')).fetchall()), key=repr
                )
                for t in tables
                if t != "alembic_version" and not t.startswith("import")
            }
    finally:
        engine.dispose()


def test_import_ignores_the_truth_and_says_so(tmp_path):
    from service.importer import find_files, import_folder

    market = build_market(120, 8, weeks=6, seed=2)
    with_truth = tmp_path / "with"
    write_market(market.frames, with_truth)
    write_truth(market.truth, with_truth)
    without = tmp_path / "without"
    shutil.copytree(with_truth, without)
    (without / TRUTH_FILE).unlink()
    assert TRUTH_FILE not in {p.name for p in find_files(with_truth).values()}

    a = import_folder(with_truth, f"sqlite:///{tmp_path / 'a.db'}", infer_occupations=False)
    b = import_folder(without, f"sqlite:///{tmp_path / 'b.db'}", infer_occupations=False)
    assert any("truth.parquet ignored" in note for note in a.ignored)
    assert b.ignored == []
    rows_a = _store_rows(f"sqlite:///{tmp_path / 'a.db'}")
    rows_b = _store_rows(f"sqlite:///{tmp_path / 'b.db'}")
    assert rows_a.keys() == rows_b.keys()
    for table in rows_a:
        # timestamps of the import itself differ; the rows' data do not
        assert len(rows_a[table]) == len(rows_b[table]), table

    # the import never opens the file: garbage in its place changes nothing
    (with_truth / TRUTH_FILE).write_bytes(b"not a parquet file")
    again = import_folder(with_truth, f"sqlite:///{tmp_path / 'c.db'}", infer_occupations=False)
    assert again.table("events").inserted == len(market.frames["events"])
