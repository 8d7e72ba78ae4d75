"""Writing a market folder in the data contract's file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from matcher.data.schema import CONTRACT, Kind

_LIST_KINDS = (Kind.STR_LIST, Kind.REGION_LIST, Kind.LANG_LIST)
FORMATS = ("csv", "parquet", "jsonl")


def _csv_frame(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Contract text for every cell: lists ;-joined, true/false, ISO 8601 UTC, whole numbers."""
    spec = CONTRACT[table]
    out = pd.DataFrame(index=frame.index)
    for f in spec.fields:
        col = frame[f.name] if f.name in frame else pd.Series(None, index=frame.index)
        if f.kind in _LIST_KINDS:
            out[f.name] = [";".join(v) if isinstance(v, list | tuple) else "" for v in col]
        elif f.kind == Kind.BOOL:
            b = col.astype("boolean")
            out[f.name] = np.where(b.isna(), "", np.where(b.fillna(False), "true", "false"))
        elif f.kind in (Kind.DATE, Kind.DATETIME):
            ts = pd.to_datetime(col)
            out[f.name] = ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("")
        elif f.kind in (Kind.INT, Kind.FLOAT):
            num = pd.to_numeric(col)
            whole = num.dropna()
            if (whole == np.round(whole)).all():
                out[f.name] = num.round().astype("Int64").astype(str).replace("<NA>", "")
            else:
                out[f.name] = num.map(lambda x: "" if pd.isna(x) else repr(float(x)))
        else:
            out[f.name] = col.astype(object).where(col.notna(), "")
    return out


def write_market(
    frames: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "csv"
) -> list[Path]:
    """Write ``workers``, ``employers``, ``vacancies``, ``events`` into ``out_dir``.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Contract frames in normal form (as :func:`generate_market` returns).
    out_dir : str or Path
        Folder to write; created when missing. Existing files of the same names
        are replaced.
    fmt : {"csv", "parquet", "jsonl"}
        CSV: UTF-8 with a header row, lists ``;``-joined, booleans ``true``/``false``,
        times ISO 8601 in UTC. Parquet and JSON lines keep lists as lists.

    Returns
    -------
    list of Path
        The files written, in contract order.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in CONTRACT:
        if table not in frames:
            continue
        frame = frames[table]
        path = out / f"{table}.{fmt}"
        if fmt == "csv":
            _csv_frame(frame, table).to_csv(
                path, index=False, encoding="utf-8", lineterminator="\n"
            )
        elif fmt == "parquet":
            frame[CONTRACT[table].columns].to_parquet(path, index=False)
        else:
            text = _csv_frame(frame, table)
            for f in CONTRACT[table].fields:
                if f.kind in _LIST_KINDS:
                    text[f.name] = frame[f.name].to_numpy()
            text.to_json(path, orient="records", lines=True, force_ascii=False)
        written.append(path)
    return written
