"""``jobmatch synth``: write a sample labour market as a folder of contract files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import app, fail


def live_start(weeks: int, today: date | None = None) -> date:
    """The Monday ``weeks`` weeks before ``today`` (UTC): a market generated from it
    ends this week, so its open vacancies are still open and its deadlines ahead."""
    day = today or datetime.now(UTC).date()
    first = day - timedelta(weeks=weeks)
    return first - timedelta(days=first.weekday())


@app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the market into.")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="Number of workers.")] = 3000,
    employers: Annotated[
        int, typer.Option("--employers", min=1, help="Number of employers.")
    ] = 120,
    weeks: Annotated[
        int,
        typer.Option("--weeks", min=1, help="Weeks of events (27 or more for retained_6m events)."),
    ] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    vacancies: Annotated[
        int | None,
        typer.Option(
            "--vacancies", min=0, help="Number of vacancies (default: employers x weeks / 4)."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="First day of the horizon (ISO date, UTC). Default: the Monday WEEKS weeks "
            "before today, so the horizon ends this week and the market is live today.",
        ),
    ] = None,
    events: Annotated[
        bool,
        typer.Option("--events/--no-events", help="Simulate weeks of events (slow at scale)."),
    ] = True,
    fmt: Annotated[
        str, typer.Option("--format", help="File format: csv, parquet or jsonl.")
    ] = "csv",
    variant: Annotated[
        str,
        typer.Option(
            "--variant",
            help="Market of the family (docs/sample-market.md, Variants): default, "
            "wage-driven, distance-driven, contract-retention, villager-retention, "
            "cold-start, scarce-seats.",
        ),
    ] = "default",
    truth: Annotated[
        bool,
        typer.Option(
            "--truth/--no-truth",
            help="Also write truth.parquet: the true value of every eligible pair of a "
            "seeking worker and an open vacancy (benchmarks only; import ignores it).",
        ),
    ] = True,
) -> None:
    """Generate a realistic sample market (docs/sample-market.md) and write it to OUT.

    Workers come from real poverty-alleviation counties, employers from the
    labour-importing east and from home; events follow a documented behavioural
    model. The files follow data contract v1 and load with `jobmatch import OUT`.
    """
    import pandas as pd

    from training.synth import VARIANTS, build_market, write_market, write_truth

    if start is None:
        start = live_start(weeks).isoformat()
    try:
        pd.Timestamp(start)
    except ValueError:
        raise fail(f"--start {start!r} is not an ISO date such as 2026-01-05") from None
    if variant not in VARIANTS:
        raise fail(f"--variant {variant!r} is not one of {', '.join(VARIANTS)}")
    if fmt not in ("csv", "parquet", "jsonl"):
        raise fail(f"--format {fmt!r} is not one of csv, parquet, jsonl")
    market = build_market(
        workers,
        employers,
        weeks,
        seed,
        with_events=events,
        start=start,
        n_vacancies=vacancies,
        truth=truth,
        variant=variant,
    )
    try:
        paths = write_market(market.frames, out, fmt=fmt)
        if market.truth is not None:
            paths.append(write_truth(market.truth, out))
    except OSError as err:
        raise fail(f"cannot write the market into {out}: {err.strerror or err}") from None
    f = market.frames
    ev = f["events"]["event"].value_counts()
    v = f["vacancies"]
    counties = f["workers"]["home_region"].nunique()
    typer.echo(
        f"sample market ({variant}, seed {seed}, {weeks} weeks from {market.start.date()}) -> {out}"
    )
    typer.echo(f"  workers   {len(f['workers']):>9,}  from {counties} poverty-alleviation counties")
    typer.echo(f"  employers {len(f['employers']):>9,}")
    typer.echo(
        f"  vacancies {len(v):>9,}  open {int((v['status'] == 'open').sum()):,}, "
        f"filled {int((v['status'] == 'filled').sum()):,}, "
        f"closed {int((v['status'] == 'closed').sum()):,}"
    )
    typer.echo(
        f"  events    {len(f['events']):>9,}  "
        + ", ".join(
            f"{k} {int(ev.get(k, 0)):,}"
            for k in ("applied", "hired", "left", "retained_3m", "retained_6m")
        )
    )
    if market.truth is not None:
        typer.echo(
            f"  truth     {len(market.truth):>9,}  eligible (seeking worker, open vacancy) "
            f"pairs, mean value {market.truth['value'].mean():.3f} (benchmarks only)"
        )
    typer.echo("  files: " + ", ".join(p.name for p in paths))
