"""``jobmatch occupation classify``: free text -> CSCO 2022 code, name, confidence."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli_app import fail, occupation_app

OUTPUT_COLUMNS = ["text", "code", "name", "confidence"]


def _read_lines(path: Path) -> list[str]:
    """One text per line; UTF-8 (with or without BOM), else GB18030 as spreadsheets export."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail(f"input file {path} does not exist") from None
    except OSError as exc:
        raise fail(f"cannot read input file {path}: {exc.strerror}") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly any byte string
        raise fail(f"{path}: not UTF-8 or GB18030 text; save it as UTF-8 and retry")
    return text.splitlines()


def _write_rows(rows: list[list[object]], out: Path | None) -> None:
    if out is None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(OUTPUT_COLUMNS)
            writer.writerows(rows)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None


@occupation_app.command("classify")
def classify(
    text: Annotated[
        str | None, typer.Argument(help="A vacancy title or work-history line to classify.")
    ] = None,
    in_file: Annotated[
        Path | None,
        typer.Option("--in", help="A text file, one title per line (UTF-8 or GB18030)."),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write CSV here (text,code,name,confidence); default stdout."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Back off to the parent group below this confidence (default 0.5).",
        ),
    ] = None,
) -> None:
    """Classify free text into CSCO 2022 occupations (code, name, confidence)."""
    if (text is None) == (in_file is None):
        raise fail("give either TEXT or --in FILE (not both, not neither)")
    from matcher.occupations import OccupationNormaliser, default_normaliser

    normaliser: OccupationNormaliser = default_normaliser()
    if threshold is not None:
        normaliser = OccupationNormaliser(**{**normaliser.get_params(), "threshold": threshold})
        normaliser.fit()
    texts = [text or ""] if in_file is None else _read_lines(in_file)
    matches = normaliser.classify_many(texts)
    rows: list[list[object]] = [
        [t, m.code, m.name, f"{m.confidence:.3f}" if m.code else ""]
        for t, m in zip(texts, matches, strict=True)
    ]
    _write_rows(rows, out_file)
    if out_file is not None:
        found = sum(1 for m in matches if m.code)
        typer.echo(f"classified {found} of {len(texts)} lines -> {out_file}", err=True)
