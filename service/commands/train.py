"""``jobmatch train`` and ``jobmatch models list | show | promote | rollback``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from service.cli_app import app, fail, models_app


def _print_summary(result) -> None:
    table = result.summary
    typer.echo("")
    typer.echo(
        f"time split: train before {result.comparison.split.cutoff:%Y-%m-%d}, "
        f"test until {result.comparison.split.until:%Y-%m-%d}; "
        f"{len(result.comparison.split.test_workers)} evaluated workers "
        f"({len(result.comparison.split.warm_workers)} warm, "
        f"{len(result.comparison.split.cold_workers)} cold)"
    )
    cols = [str(c) for c in table.columns]
    width = max(len(str(i)) for i in table.index)
    widths = [max(len(c), 8) for c in cols]
    typer.echo(
        " " * width + "  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))
    )
    for idx, row in table.iterrows():
        cells = []
        for c, w in zip(table.columns, widths, strict=True):
            v = row[c]
            cells.append(("–" if v != v else f"{v:.4f}").rjust(w))
        typer.echo(str(idx).ljust(width) + "  " + "  ".join(cells))
    typer.echo("")
    typer.echo("stage timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))


@app.command("train")
def train_cmd(
    until: Annotated[
        datetime | None,
        typer.Option(
            help="Use data before this date (UTC); default: the end of the last event's day."
        ),
    ] = None,
    test_weeks: Annotated[float, typer.Option(help="Weeks held out for the evaluation.")] = 4,
    seed: Annotated[int, typer.Option(help="random_state of every model.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the new model is worse.")
    ] = False,
    tolerance: Annotated[
        float, typer.Option(help="NDCG@10 drop (absolute) still promoted.")
    ] = 0.01,
    gap_tolerance: Annotated[
        float,
        typer.Option(
            help="Widening of a group gap (1 - worst/best group NDCG@10, absolute) still promoted."
        ),
    ] = 0.02,
    gap_min_workers: Annotated[
        int,
        typer.Option(help="Smallest group (evaluated workers) whose NDCG@10 counts for a gap."),
    ] = 20,
    promote: Annotated[
        bool, typer.Option("--promote/--no-promote", help="Try to promote the new model.")
    ] = True,
    max_eval_workers: Annotated[
        int,
        typer.Option(help="Evaluate a seeded sample of at most this many test workers (0 = all)."),
    ] = 5000,
) -> None:
    """Train on the store, evaluate against baselines on a time split, write models/<version>/."""
    from service.settings import get_settings
    from service.training_runs import train_from_store
    from training.pipeline import TrainOptions
    from training.registry import CorruptArtifactError
    from training.split import TrainingDataError

    settings = get_settings()
    opts = TrainOptions(
        until=until,
        test_weeks=test_weeks,
        seed=seed,
        force=force,
        tolerance=tolerance,
        gap_tolerance=gap_tolerance,
        gap_min_workers=gap_min_workers,
        promote=promote,
        max_eval_workers=max_eval_workers or None,
    )
    try:
        result = train_from_store(settings.database_url, settings.model_dir, opts)
    except (TrainingDataError, CorruptArtifactError) as err:
        raise fail(str(err)) from None
    _print_summary(result)
    typer.echo(f"model written to {result.folder} (report: {result.folder / 'report.html'})")
    if result.promoted:
        note = " (FORCED: the promotion guard was overridden)" if force else ""
        msg = result.decision.message() if result.decision else ""
        typer.secho(f"promoted {result.version}{note}; {msg}", fg=typer.colors.GREEN)
    elif result.refusal:
        typer.secho(f"not promoted: {result.refusal}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)


@models_app.command("list")
def models_list() -> None:
    """List trained models; * marks the promoted one."""
    from service.settings import get_settings
    from training.registry import list_models

    rows = list_models(get_settings().model_dir)
    if not rows:
        typer.echo(f"no models in {get_settings().model_dir}: run `jobmatch train`")
        return

    def f(v) -> str:
        return "–" if v is None else f"{v:.4f}"

    typer.echo(
        f"  {'version':<22} {'ndcg@10':>8} {'keyword':>8} {'popular':>8} {'events':>9}  status"
    )
    for r in rows:
        mark = "*" if r["current"] else " "
        events = r.get("events")
        typer.echo(
            f"{mark} {r['version']:<22} {f(r.get('ndcg10')):>8} {f(r.get('keyword')):>8} "
            f"{f(r.get('popularity')):>8} {events if events is not None else '–':>9}  {r['status']}"
        )


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="Model version (folder name).")],
) -> None:
    """Print a model's card (JSON)."""
    from service.settings import get_settings
    from training.registry import CorruptArtifactError, read_card

    try:
        card = read_card(get_settings().model_dir, version)
    except (FileNotFoundError, CorruptArtifactError, ValueError) as err:
        raise fail(str(err)) from None
    typer.echo(json.dumps(card, indent=2, ensure_ascii=False))


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Model version (folder name).")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the guard refuses.")
    ] = False,
    tolerance: Annotated[
        float, typer.Option(help="NDCG@10 drop (absolute) still promoted.")
    ] = 0.01,
    gap_tolerance: Annotated[
        float,
        typer.Option(
            help="Widening of a group gap (1 - worst/best group NDCG@10, absolute) still promoted."
        ),
    ] = 0.02,
    gap_min_workers: Annotated[
        int,
        typer.Option(help="Smallest group (evaluated workers) whose NDCG@10 counts for a gap."),
    ] = 20,
    override_gap: Annotated[
        str | None,
        typer.Option(
            "--override-gap",
            metavar="REASON",
            help="Administrator: promote although the model widens a group gap; the reason "
            "is logged in models/history.jsonl.",
        ),
    ] = None,
) -> None:
    """Make VERSION the served model, if it is no worse than the current one on the same split
    and widens no group's gap beyond the tolerance."""
    from service.settings import get_settings
    from service.training_runs import remeasure_from_store
    from training.registry import CorruptArtifactError, PromotionRefused, promote

    settings = get_settings()
    try:
        decision = promote(
            settings.model_dir,
            version,
            tolerance=tolerance,
            gap_tolerance=gap_tolerance,
            gap_min_workers=gap_min_workers,
            gap_override=override_gap,
            force=force,
            remeasure=remeasure_from_store(settings.database_url, settings.model_dir),
            reason="jobmatch models promote",
        )
    except PromotionRefused as err:
        raise fail(str(err), 1) from None
    except (FileNotFoundError, CorruptArtifactError, ValueError) as err:
        raise fail(str(err)) from None
    if force:
        typer.secho(
            f"promoted {version} (FORCED: the promotion guard was overridden; {decision.basis})",
            fg=typer.colors.YELLOW,
        )
    elif decision.gap is not None and decision.gap.override:
        typer.secho(
            f"promoted {version} (GAP GUARD OVERRIDDEN, logged): {decision.message()}",
            fg=typer.colors.YELLOW,
        )
    else:
        typer.secho(f"promoted {version}: {decision.message()}", fg=typer.colors.GREEN)
    _serve_everywhere(settings.database_url, version, "jobmatch models promote")


def _serve_everywhere(database_url: str, version: str, by: str) -> None:
    """Record in the store that every server process should serve ``version`` (they
    follow within seconds); a store that cannot be reached is reported, not fatal (the
    processes also follow the model pointer)."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.serving_state import ServingState
    from service.store.db import make_engine
    from service.store.migrate import ensure_schema

    try:
        engine = make_engine(database_url)
        ensure_schema(engine)
        ServingState(engine).decide(version, by=by)
        engine.dispose()
    except SQLAlchemyError as exc:
        typer.secho(
            f"warning: the store could not record {version} as the served model "
            f"({type(exc).__name__}); running servers follow the model pointer instead",
            fg=typer.colors.YELLOW,
            err=True,
        )


@models_app.command("rollback")
def models_rollback() -> None:
    """Return to the model promoted before the current one."""
    from service.settings import get_settings
    from training.registry import CorruptArtifactError, PromotionRefused, current_version, rollback

    model_dir = get_settings().model_dir
    before = current_version(model_dir)
    try:
        target = rollback(model_dir)
    except (PromotionRefused, CorruptArtifactError) as err:
        raise fail(str(err), 1) from None
    typer.secho(f"rolled back from {before} to {target}", fg=typer.colors.GREEN)
    _serve_everywhere(get_settings().database_url, target, "jobmatch models rollback")
