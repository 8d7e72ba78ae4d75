"""``jobmatch match``: the nightly placement plan; ``jobmatch pins``: pin or exclude pairs."""

from __future__ import annotations

import json

import typer

from service.cli_app import app, fail

pins_app = typer.Typer(
    help="Pin (force) or exclude (forbid) worker-vacancy pairs for the nightly plan.",
    no_args_is_help=True,
)
app.add_typer(pins_app, name="pins")


def _pair(text: str) -> tuple[str, str]:
    worker, sep, vacancy = text.partition(":")
    if not sep or not worker or not vacancy:
        raise fail(f"{text!r} is not a pair: write WORKER_ID:VACANCY_ID, e.g. W000001:V00012")
    return worker.strip(), vacancy.strip()


@app.command("match")
def match(
    out: str | None = typer.Option(
        None, "--out", help="Write plan.csv (worker_id,vacancy_id,score,reasons) here."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler tcp://HOST:PORT (default: JOBMATCH_DASK_SCHEDULER, else in-process).",
    ),
    run_id: str | None = typer.Option(
        None,
        "--run-id",
        help="Name of the run (default run-<UTC time>); re-running an id with the same inputs gives the same plan.",
    ),
    k: int = typer.Option(10, "--k", min=1, max=100, help="Candidate vacancies scored per worker."),
    monitored_weight: float = typer.Option(
        1.5,
        "--monitored-weight",
        min=0.01,
        help="Score weight of workers from monitored households.",
    ),
    partition_size: int | None = typer.Option(
        None,
        "--partition-size",
        min=1,
        help="Workers per Dask scoring task (default: 25,000 with batch scoring, 5,000 exact).",
    ),
    scoring: str = typer.Option(
        "batch",
        "--scoring",
        help=(
            "batch: the nightly shortlist scorer (matcher.serving.batch); live: the same "
            "scorer with the live candidates (the lists of recommend_many, far slower); "
            "exact: recommend_many per worker."
        ),
    ),
    pin: list[str] = typer.Option(
        [], "--pin", help="WORKER:VACANCY to pin before this run (stored; repeatable)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="WORKER:VACANCY to exclude before this run (stored; repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Plan at most one placement per active worker within every vacancy's open seats."""
    from service import nightly
    from service.settings import get_settings

    settings = get_settings()
    if scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise fail(f"--scheduler must look like tcp://HOST:PORT, got {scheduler!r}")
    if scoring not in nightly.SCORING_CHOICES:
        raise fail(
            f"--scoring must be one of {', '.join(nightly.SCORING_CHOICES)}, got {scoring!r}"
        )
    pairs = [(*_pair(p), "pin") for p in pin] + [(*_pair(x), "exclude") for x in exclude]
    if pairs:
        _store_pins(settings.database_url, pairs)
    try:
        summary = nightly.run_match(
            settings.database_url,
            settings.model_dir,
            run_id=run_id,
            out=out,
            scheduler=scheduler,
            k=k,
            monitored_weight=monitored_weight,
            partition_size=partition_size,
            scoring=scoring,
            progress=lambda msg: typer.echo(msg, err=True),
        )
    except nightly.NightlyError as exc:
        raise fail(str(exc)) from exc
    except Exception as exc:  # recorded as failed in match_runs; say so and where
        raise fail(
            f"the run failed ({type(exc).__name__}: {exc}); it is recorded as failed"
        ) from exc
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), default=str, ensure_ascii=False, indent=2))
        return
    c = summary.counts
    typer.echo(f"run {summary.run_id}: {summary.status} (model {summary.model_version})")
    typer.echo(
        f"  active workers {c['active_workers']}, open vacancies {c['open_vacancies']} "
        f"({c['seats']} seats), candidate pairs {c['candidates']}"
    )
    typer.echo(f"  placed {c['placed']} (proposals), objective {summary.objective:.2f}")
    typer.echo(
        "  expected stable placements if every planned pair is proposed "
        f"{c['expected_stable_placements']:.1f} (sum over planned pairs of "
        "P(apply) x P(hire | apply) x P(stay | hire); most proposals are not taken up)"
    )
    typer.echo(
        f"  placement rate: monitored households {c['placement_rate_monitored']}, "
        f"others {c['placement_rate_other']}; public-welfare seats {c['welfare_seats_filled']} "
        f"({c['welfare_seats_to_priority_workers']} to semi/weak/local workers)"
    )
    typer.echo(
        f"  groups placed {c['groups_placed']} of {c['groups']}; pins honoured {c['pins_honoured']} of {c['pins']}"
    )
    for p in summary.summary.get("pins", []):
        if not p["honoured"]:
            typer.echo(f"  pin {p['worker_id']}:{p['vacancy_id']} not honoured: {p['reason']}")
    for row in summary.summary.get("by_channel", []):
        typer.echo(f"  {row['key']}: {row['placements']}")
    t = summary.timings
    typer.echo(
        "  seconds: " + ", ".join(f"{k_.removesuffix('_seconds')} {v}" for k_, v in t.items())
    )
    if summary.out:
        typer.echo(f"  plan written to {summary.out}")


def _store_pins(database_url: str, pairs: list[tuple[str, str, str]]) -> None:
    from sqlalchemy import select

    from service.store.db import make_engine, session_scope
    from service.store.migrate import ensure_schema
    from service.store.models import MatchPin, Vacancy, Worker

    ensure_schema(database_url)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as s:
            for worker_id, vacancy_id, kind in pairs:
                if s.get(Worker, worker_id) is None:
                    raise fail(
                        f"--{kind} {worker_id}:{vacancy_id}: no worker {worker_id!r} in the store"
                    )
                if s.get(Vacancy, vacancy_id) is None:
                    raise fail(
                        f"--{kind} {worker_id}:{vacancy_id}: no vacancy {vacancy_id!r} in the store"
                    )
                row = s.scalars(
                    select(MatchPin).where(
                        MatchPin.worker_id == worker_id, MatchPin.vacancy_id == vacancy_id
                    )
                ).first()
                if row is None:
                    s.add(MatchPin(worker_id=worker_id, vacancy_id=vacancy_id, kind=kind))
                else:
                    row.kind = kind
    finally:
        engine.dispose()


@pins_app.command("add")
def pins_add(
    pair: str = typer.Argument(..., help="WORKER_ID:VACANCY_ID"),
    exclude: bool = typer.Option(
        False, "--exclude", help="Exclude the pair instead of pinning it."
    ),
) -> None:
    """Pin (or with --exclude, exclude) a pair for the next runs."""
    from service.settings import get_settings

    w, v = _pair(pair)
    _store_pins(get_settings().database_url, [(w, v, "exclude" if exclude else "pin")])
    typer.echo(f"{'excluded' if exclude else 'pinned'} {w}:{v}")


@pins_app.command("list")
def pins_list() -> None:
    """Pins and excludes stored for the next runs."""
    from service import nightly
    from service.settings import get_settings
    from service.store.db import make_engine
    from service.store.migrate import ensure_schema

    url = get_settings().database_url
    ensure_schema(url)
    engine = make_engine(url)
    try:
        pins, excludes = nightly.read_pins(engine)
    finally:
        engine.dispose()
    for w, v in zip(pins["worker_id"], pins["vacancy_id"], strict=True):
        typer.echo(f"pin     {w}:{v}")
    for w, v in zip(excludes["worker_id"], excludes["vacancy_id"], strict=True):
        typer.echo(f"exclude {w}:{v}")


@pins_app.command("remove")
def pins_remove(pair: str = typer.Argument(..., help="WORKER_ID:VACANCY_ID")) -> None:
    """Remove a pin or exclude."""
    from sqlalchemy import delete

    from service.settings import get_settings
    from service.store.db import make_engine, session_scope
    from service.store.migrate import ensure_schema
    from service.store.models import MatchPin

    w, v = _pair(pair)
    url = get_settings().database_url
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            n = s.execute(  # type: ignore[attr-defined]
                delete(MatchPin).where(MatchPin.worker_id == w, MatchPin.vacancy_id == v)
            ).rowcount
    finally:
        engine.dispose()
    if not n:
        raise fail(f"no pin or exclude for {w}:{v}")
    typer.echo(f"removed {w}:{v}")
