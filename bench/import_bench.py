"""Benchmark ``jobmatch import`` on a 50,000-worker sample market (target: under 60 s).

Generates the market with ``training.synth`` (CSV files in a temporary folder),
then imports it into a fresh SQLite database (and a fresh PostgreSQL schema when
PostgreSQL answers) several times and reports the median, plus the re-import of
the same files (which must change nothing). The import includes inferring the
blank vacancy occupation codes, as ``jobmatch import`` does.

Baselines measured in the same run: reading the four CSV files with
``pandas.read_csv`` alone (no checks, no writes: a floor for any importer) and the
contract validation alone (``matcher.data.contract.check_file`` on every file).

    .venv/bin/python bench/import_bench.py [--workers 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "2")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine, markdown_table, write_section  # noqa: E402
from service.store.db import postgres_unavailable  # noqa: E402

POSTGRES_URL = os.environ.get(
    "JOBMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_S = 60.0


class PostgresSchema:
    """A fresh schema in the test database, dropped afterwards."""

    def __init__(self) -> None:
        from sqlalchemy import create_engine

        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(POSTGRES_URL)

    def __enter__(self) -> str:
        from sqlalchemy import text

        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50_000)
    parser.add_argument("--employers", type=int, default=None, help="default: workers / 25")
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    employers = args.employers or max(1, args.workers // 25)

    import pandas as pd

    from matcher.data.contract import check_file
    from matcher.occupations.normaliser import default_normaliser
    from service.importer import find_files, import_folder
    from training.synth import generate_market, write_market

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="jobmatch-import-bench-") as tmp:
        folder = Path(tmp) / "market"
        t0 = time.perf_counter()
        frames = generate_market(args.workers, employers, weeks=args.weeks, seed=args.seed)
        write_market(frames, folder)
        print(f"generated the market in {time.perf_counter() - t0:.1f} s")
        rows = {name: len(frame) for name, frame in frames.items()}
        blank_codes = int(frames["vacancies"]["occupation_code"].isna().sum())
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
        del frames
        files = find_files(folder)

        # the normaliser is loaded once per process, like the CLI; its loading is
        # timed on its own and the imports below reuse it
        t0 = time.perf_counter()
        normaliser = default_normaliser()
        load_normaliser_s = time.perf_counter() - t0

        def read_only() -> None:
            for path in files.values():
                pd.read_csv(path, dtype=str, keep_default_na=False)

        def validate_only() -> None:
            for name, path in files.items():
                checked = check_file(path, name)
                assert checked.ok, checked.problems[:3]

        results: list[list[object]] = []
        medians: dict[str, float] = {}

        def record(label: str, runs: list[float]) -> None:
            medians[label] = statistics.median(runs)
            results.append([label, round(medians[label], 2), ", ".join(f"{r:.1f}" for r in runs)])

        def timed_runs(label: str, fn) -> None:
            runs = []
            for i in range(args.repeats):
                t = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - t)
                print(f"  {label} run {i + 1}: {runs[-1]:.1f} s", flush=True)
            record(label, runs)

        timed_runs("baseline: pandas.read_csv only (no checks, no writes)", read_only)
        timed_runs("contract validation only (check_file)", validate_only)

        inferred: list[int] = []

        def import_runs(db_name: str, fresh_url) -> None:
            first, again, life = [], [], []
            for i in range(args.repeats):
                with fresh_url(i) as url:
                    t = time.perf_counter()
                    summary = import_folder(folder, url, normaliser=normaliser)
                    first.append(time.perf_counter() - t)
                    life.append(summary.lifecycle_seconds)
                    assert summary.table("workers").inserted == rows["workers"]
                    inferred.append(summary.occupations_inferred)
                    t = time.perf_counter()
                    repeat = import_folder(folder, url, normaliser=normaliser)
                    again.append(time.perf_counter() - t)
                    assert repeat.changed == 0, repeat.rows()
                print(
                    f"  {db_name} run {i + 1}: import {first[-1]:.1f} s, re-import {again[-1]:.1f} s"
                )
            record(f"**import, {db_name}** (fresh database)", first)
            record(
                f"of which statuses, placements and follow-ups from the outcomes, {db_name}",
                life,
            )
            record(f"re-import of the same files, {db_name} (changes nothing)", again)

        @contextmanager
        def fresh_sqlite(i: int):
            db = Path(tmp) / f"import-{i}.db"
            try:
                yield f"sqlite:///{db}"
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)

        import_runs("SQLite", fresh_sqlite)
        if not args.no_postgres and postgres_unavailable(POSTGRES_URL) is None:
            import_runs("PostgreSQL", lambda i: PostgresSchema())
        else:
            print("PostgreSQL did not answer (or --no-postgres): skipped")

    table = markdown_table(["what", "median s", "runs (s)"], results)
    print()
    print(table)
    import_rows = [label for label in medians if label.startswith("**import")]
    verdict = ", ".join(
        f"{label.split('**')[1]}: {medians[label]:.1f} s "
        f"({'meets' if medians[label] < TARGET_S else 'misses'} the {TARGET_S:.0f} s target)"
        for label in import_rows
    )
    print(verdict)
    load = os.getloadavg()
    body = f"""
Data: the sample market of `training.synth.generate_market({args.workers}, {employers},
weeks={args.weeks}, seed={args.seed})` written as CSV (UTF-8):
{rows["workers"]:,} workers, {rows["employers"]:,} employers, {rows["vacancies"]:,} vacancies
and {rows["events"]:,} events, {sum(sizes.values()) / 2**20:.1f} MiB of CSV. {blank_codes:,} vacancies
have a blank occupation code; the import inferred one for {min(inferred) if inferred else 0:,}
of them (the rest: no confident match, left blank).

An import validates every cell, checks references across files and against the store,
infers blank occupation codes, writes everything and brings workers' statuses, placements
and follow-ups in line with the imported outcomes (`service.lifecycle`, `service.followups`;
timed on its own as part of each import), all in one transaction. Median of
{args.repeats} runs, each into a fresh database; the re-import of the same files (nothing
changes) is timed separately. Loading the occupation normaliser once per process took
{load_normaliser_s:.1f} s and is not included (the imports reuse it).

{table}

Result: {verdict}. Load average on this shared machine while the benchmark ran:
{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores, so the
figures include contention from other processes.
"""
    if not args.no_write:
        path = write_section("import", "Import (`jobmatch import`)", body, "bench/import_bench.py")
        print(f"wrote the import section of {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
