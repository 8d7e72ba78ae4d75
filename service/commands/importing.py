"""``jobmatch import DIR``: validate a folder of contract files and load it into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import app, fail


@app.command("import")
def import_cmd(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder holding workers, employers, vacancies and/or events "
            "(.csv UTF-8 or GBK, .parquet, .jsonl).",
        ),
    ],
    infer_occupations: Annotated[
        bool,
        typer.Option(
            "--infer-occupations/--no-infer-occupations",
            help="Fill blank vacancy occupation codes from the title (CSCO 2022).",
        ),
    ] = True,
) -> None:
    """Validate every file of FOLDER, then write all of it to the store in one transaction.

    Any problem (in any file, or a reference to an unknown worker, vacancy or employer)
    is listed with its file, line, column and rule, and nothing is written.
    Re-importing the same files changes nothing.
    """
    from sqlalchemy import make_url
    from sqlalchemy.exc import OperationalError

    from matcher.data.contract import ContractError
    from service.importer import import_folder
    from service.settings import get_settings

    url = get_settings().database_url
    try:
        settings = get_settings()
        summary = import_folder(
            folder,
            url,
            infer_occupations=infer_occupations,
            followup_days=settings.followup_days,
        )
    except ContractError as err:
        typer.echo(str(err), err=True)
        raise fail(
            f"nothing was imported from {folder}; fix the problems above and run again", 1
        ) from None
    except FileNotFoundError as err:
        raise fail(str(err)) from None
    except OperationalError as err:
        where = make_url(url).render_as_string(hide_password=True)
        raise fail(
            f"cannot open the store at {where} ({err.orig}); check JOBMATCH_DATABASE_URL. "
            "Nothing was imported."
        ) from None

    headers = ["table", "file", "rows", "inserted", "updated", "unchanged"]
    rows = [[str(v) for v in row] for row in summary.rows()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    typer.echo("  ".join("-" * w for w in widths))
    for row in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if summary.occupations_given or summary.occupations_inferred:
        typer.echo(
            f"occupation codes: {summary.occupations_given} given, "
            f"{summary.occupations_inferred} inferred from titles"
        )
    if summary.occupation_note:
        typer.echo(f"note: {summary.occupation_note}")
    if summary.employed or summary.needs_replacement:
        typer.echo(
            f"workers by their outcomes: {summary.employed} employed, "
            f"{summary.needs_replacement} to be re-placed"
        )
    if summary.follow_ups:
        typer.echo(
            f"follow-ups: {summary.follow_ups} scheduled for imported hires, "
            f"{summary.follow_ups_settled} of them answered by the imported outcomes"
        )
    for note in summary.ignored:
        typer.echo(f"note: {note}")
    state = "nothing changed" if summary.changed == 0 else f"{summary.changed} rows written"
    typer.echo(f"imported {folder} in {summary.seconds:.1f} s: {state}")
