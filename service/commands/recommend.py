"""``jobmatch recommend`` and ``jobmatch candidates``: the current model against the store.

The promoted model (``JOBMATCH_MODEL_DIR``/current, see ``training.registry``) is
loaded; when the store has changed since training (new workers, vacancies or
events), the model's catalogue is refreshed from the store first, so workers and
vacancies created after training are served without retraining.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli_app import app, fail

RECOMMEND_CSV = ["worker_id", "rank", "vacancy_id", "score", "reasons"]
CANDIDATES_CSV = ["vacancy_id", "rank", "worker_id", "score", "reasons"]


def _load_model_and_data() -> tuple[Any, Any]:
    """The promoted model, refreshed against the store, and the store's Dataset."""
    from service.settings import get_settings
    from service.store.db import engine_for
    from service.store.repository import load_dataset
    from training.registry import load_current

    settings = get_settings()
    try:
        model, _version = load_current(settings.model_dir)
    except FileNotFoundError:
        raise fail(
            f"no trained model in {settings.model_dir}: run `jobmatch train` first "
            "(after `jobmatch import` or `jobmatch synth`)"
        ) from None
    except Exception as exc:  # CorruptArtifactError and friends carry their own advice
        raise fail(str(exc)) from None
    try:
        dataset = load_dataset(engine_for(settings.database_url))
    except Exception as exc:
        raise fail(
            f"cannot read the store at {settings.database_url.split('@')[-1]}: {exc}; "
            "check JOBMATCH_DATABASE_URL, and run `jobmatch import` to create and fill it"
        ) from None
    from matcher.protocols import RefreshableModel
    from matcher.serving.recommender import Recommender

    # the hybrid model records what it was fitted on: no refresh when that is the store
    fitted_on_store = (
        isinstance(model, Recommender) and model.data_fingerprint_ == dataset.fingerprint()
    )
    if isinstance(model, RefreshableModel) and not fitted_on_store:
        model.refresh(dataset)
    return model, dataset


def _write(frame, columns: list[str], out: Path | None) -> None:
    table = frame.copy()
    table["reasons"] = ["; ".join(r) for r in table["reasons"]]
    table["score"] = [f"{s:.6f}" for s in table["score"]]
    table = table[columns]
    if out is None:
        buf = io.StringIO()
        table.to_csv(buf, index=False, lineterminator="\n")
        sys.stdout.write(buf.getvalue())
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, encoding="utf-8", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    typer.echo(f"wrote {len(table)} rows to {out}", err=True)


@app.command()
def recommend(
    worker: Annotated[str | None, typer.Option("--worker", help="One worker_id.")] = None,
    all_workers: Annotated[bool, typer.Option("--all", help="Every worker in the store.")] = False,
    k: Annotated[int, typer.Option("--k", min=1, help="Vacancies per worker.")] = 10,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV here instead of stdout.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Reasons in zh or en.")] = "zh",
    precompute: Annotated[
        bool,
        typer.Option(
            "--precompute",
            help="With --all: store every worker's best vacancies beside the promoted model "
            "(<model>/precomputed/), for the service to answer from; no CSV.",
        ),
    ] = False,
    depth: Annotated[
        int,
        typer.Option("--depth", min=1, help="With --precompute: vacancies stored per worker."),
    ] = 50,
    jobs: Annotated[
        int,
        typer.Option("--jobs", min=1, help="With --precompute: processes scoring in parallel."),
    ] = 1,
) -> None:
    """Best vacancies for a worker (or all workers): CSV worker_id,rank,vacancy_id,score,reasons."""
    if (worker is None) == (not all_workers):
        raise fail("give exactly one of --worker ID or --all")
    if lang not in ("zh", "en"):
        raise fail(f"--lang must be zh or en, got {lang!r}")
    if precompute and (not all_workers or out is not None):
        raise fail("--precompute goes with --all and writes no CSV (drop --worker / --out)")
    model, dataset = _load_model_and_data()
    if precompute:
        _precompute(model, dataset, depth, jobs)
        return
    if all_workers:
        ids = list(dataset.workers["worker_id"])
        if not ids:
            raise fail("the store holds no workers: run `jobmatch import` first")
        frames = []
        with typer.progressbar(
            range(0, len(ids), 512), label="recommending", file=sys.stderr
        ) as bar:
            for start in bar:
                frames.append(model.recommend_many(ids[start : start + 512], k=k, lang=lang))
        import pandas as pd

        recs = pd.concat(frames, ignore_index=True)
    else:
        try:
            recs = model.recommend(worker, k=k, lang=lang)
        except KeyError:
            raise fail(
                f"unknown worker id {worker!r}: it is not in the store "
                f"({dataset.n_workers} workers); check the id or import the worker"
            ) from None
    _write(recs, RECOMMEND_CSV, out)


def _precompute(model: Any, dataset: Any, depth: int, jobs: int) -> None:
    """Build and store the precomputed recommendations of every worker in the store."""
    import time

    from matcher.serving.precomputed import PrecomputedRecommendations
    from service.model_holder import LISTS_FOLDER
    from service.settings import get_settings
    from training.registry import current_model_path

    if dataset.n_workers == 0:
        raise fail("the store holds no workers: run `jobmatch import` first")
    path = current_model_path(get_settings().model_dir)
    if path is None:  # _load_model_and_data found one: promoted meanwhile?
        raise fail("no promoted model to store the lists beside: run `jobmatch train`")
    started = time.perf_counter()
    with typer.progressbar(length=dataset.n_workers, label="precomputing", file=sys.stderr) as bar:
        done = [0]

        def progress(n: int, _total: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        lists = PrecomputedRecommendations.build(
            model, list(dataset.workers["worker_id"]), depth, n_jobs=jobs, progress=progress
        )
    folder = lists.save(path / LISTS_FOLDER)
    typer.echo(
        f"stored the {depth} best vacancies of {lists.manifest['workers']} workers "
        f"({lists.manifest['entries']} rows) in {folder} in {time.perf_counter() - started:.0f}s; "
        "a running `jobmatch serve` picks them up within seconds",
        err=True,
    )


@app.command()
def candidates(
    vacancy: Annotated[str, typer.Option("--vacancy", help="The vacancy_id.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Workers to list.")] = 20,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV here instead of stdout.")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Reasons in zh or en.")] = "zh",
) -> None:
    """Best workers for a vacancy: CSV vacancy_id,rank,worker_id,score,reasons."""
    if lang not in ("zh", "en"):
        raise fail(f"--lang must be zh or en, got {lang!r}")
    model, dataset = _load_model_and_data()
    try:
        cands = model.candidates(vacancy, k=k, lang=lang)
    except KeyError:
        raise fail(
            f"unknown vacancy id {vacancy!r}: it is not in the store "
            f"({dataset.n_vacancies} vacancies); check the id or import the vacancy"
        ) from None
    if cands.empty:
        typer.echo(
            f"no eligible candidates for {vacancy} (the vacancy may be filled or closed, "
            "or nobody passes its rules)",
            err=True,
        )
    _write(cands, CANDIDATES_CSV, out)
