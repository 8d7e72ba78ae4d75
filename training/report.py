"""``report.html``: one self-contained page per trained model.

Plots are drawn offline with matplotlib's Agg backend and embedded as base64 PNG
``data:`` URIs; the page loads nothing from anywhere (no scripts, fonts or
stylesheets from outside), so it opens from a file share or an e-mail attachment.

Sections: the summary table (metrics x models, with the candidate's ratios to the
keyword and popularity baselines), NDCG@10 against the baselines for all, warm and
cold workers, the calibration curve (score against observed stable placement),
score distributions, per-channel results, the split and the data snapshot.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from training.evaluate import CANDIDATE_NAME, Comparison, summary_table  # noqa: E402
from training.groups import (  # noqa: E402
    GAP_METRIC,
    MIN_GROUP_WORKERS,
    group_gaps,
    groups_from_card,
)

__all__ = ["append_section", "render_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2rem;
color:#1d2733;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d5dbe1;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#eef2f5}.note{color:#55606b;font-size:.85rem}
.ok{color:#1a7f37;font-weight:600}.bad{color:#b42318;font-weight:600}
img{max-width:100%;height:auto}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "–" if not np.isfinite(v) else f"{v:.4f}"
    return html.escape(str(v))


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    cols = list(frame.columns)
    head = ("<th></th>" if index else "") + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    rows = []
    for idx, row in frame.iterrows():
        cells = (f"<td>{html.escape(str(idx))}</td>" if index else "") + "".join(
            f"<td>{_fmt(row[c])}</td>" for c in cols
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _models(comparison: Comparison) -> list[str]:
    return list(dict.fromkeys(comparison.metrics["model"]))


def plot_metrics(comparison: Comparison, k: int = 10) -> str:
    """Grouped bars: NDCG@k per model for all / warm / cold workers."""
    m = comparison.metrics
    m = m[(m["metric"] == "ndcg") & (m["k"] == k)]
    models = _models(comparison)
    segs = ["all", "warm", "cold"]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(segs)
    x = np.arange(len(models))
    for i, seg in enumerate(segs):
        vals = [
            float(m[(m["model"] == name) & (m["segment"] == seg)]["value"].fillna(0).sum())
            for name in models
        ]
        bars = ax.bar(x + (i - 1) * width, vals, width, label=seg)
        for b, v in zip(bars, vals, strict=True):
            ax.annotate(
                f"{v:.3f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=7
            )
    ax.set_xticks(x, models)
    ax.set_ylabel(f"NDCG@{k}")
    ax.set_title(f"NDCG@{k} (graded by outcome) against the baselines")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def plot_calibration(comparison: Comparison) -> str:
    """Mean score per bin against the observed share of stable placements (solid)
    and of hires (dashed): see :func:`training.evaluate.calibration`."""
    cal = comparison.calibration
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot([0, 1], [0, 1], ls=":", color="#999", lw=1, label="perfect calibration")
    top = 0.05
    for name, part in cal.groupby("model", sort=False):
        if part.empty:
            continue
        s = part["score_mean"].to_numpy(dtype=float)
        if s.min() < 0 or s.max() > 1:
            continue  # not a probability: shown in the table only
        (line,) = ax.plot(s, part["observed"], marker="o", label=f"{name}: retained 3 months")
        ax.plot(
            s, part["hired"], marker="x", ls="--", color=line.get_color(), label=f"{name}: hired"
        )
        top = max(top, float(part["hired"].max()), float(part["observed"].max()), float(s.max()))
    ax.set_xlabel("score of the recommended pair (bin mean)")
    ax.set_ylabel("observed share in the test weeks")
    ax.set_title("Calibration on recommended test pairs")
    ax.legend(frameon=False, fontsize=7)
    ax.set_xlim(0, min(1.0, top * 1.1))
    ax.set_ylim(0, min(1.0, top * 1.1))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def plot_scores(comparison: Comparison) -> str:
    """One histogram per model of the scores of recommended pairs (scales differ)."""
    scores = comparison.scores()
    n = max(1, len(scores))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.6), squeeze=False)
    for ax, (name, vals) in zip(axes[0], scores.items(), strict=False):
        vals = vals[np.isfinite(vals)]
        if len(vals):
            ax.hist(vals, bins=30, color="#4c78a8")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Score distribution of recommended pairs", fontsize=10, y=1.06)
    return _png(fig)


def plot_channels(comparison: Comparison, metric: str = "ndcg@10") -> str:
    pc = comparison.per_channel
    pc = pc[pc["metric"] == metric]
    channels = sorted(pc["channel"].unique())
    models = _models(comparison)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(models))
    x = np.arange(len(channels))
    for i, name in enumerate(models):
        part = pc[pc["model"] == name].set_index("channel")["value"]
        vals = [float(part.get(c, np.nan)) for c in channels]
        ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, label=name)
    ax.set_xticks(x, [c.replace("_", "\n") for c in channels], fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per vacancy channel")
    ax.legend(frameon=False, fontsize=7, ncol=len(models))
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def plot_survival(survival: dict[str, Any]) -> str:
    """Survival curves (training baseline, model mean, observed) and Brier scores."""
    curves = survival.get("curves") or {}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.6))
    days = curves.get("days", [])
    if days:
        ax.step(days, curves["baseline"], where="post", label="Kaplan–Meier (training hires)")
        ax.plot(days, curves["model_mean"], label="model: mean predicted S(t)")
        obs = curves.get("observed", [])
        ax.step(days[: len(obs)], obs, where="post", ls="--", label="observed (evaluated hires)")
    ax.set_xlabel("days since hire")
    ax.set_ylabel("still in the job")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    hs = sorted(survival.get("brier", {}), key=int)
    x = np.arange(len(hs))
    model = [survival["brier"][h] for h in hs]
    base = [survival["brier_baseline"][h] for h in hs]
    bx.bar(x - 0.2, [v if v is not None else 0 for v in model], 0.4, label="model")
    bx.bar(x + 0.2, [v if v is not None else 0 for v in base], 0.4, label="Kaplan–Meier")
    for i, (m, b) in enumerate(zip(model, base, strict=True)):
        if m is None or b is None:
            bx.text(i, 0.005, "n/e", ha="center", fontsize=8)
    bx.set_xticks(x, [f"{h} d" for h in hs])
    bx.set_ylabel("Brier score (lower is better)")
    bx.legend(fontsize=7)
    return _png(fig)


def survival_section(survival: dict[str, Any] | None) -> list[str]:
    """The report's "retention as survival" section (HTML fragments) for a card's
    ``survival`` entry; nothing when the run had no survival figures."""
    if not survival:
        return []
    out = ["<h2>Retention as survival</h2>"]
    if survival.get("note") and not survival.get("n"):
        return [*out, f"<p class='note'>{html.escape(str(survival['note']))}</p>"]
    rows = {
        "concordance": {
            "model": survival.get("concordance"),
            "Kaplan–Meier": survival.get("concordance_baseline"),
        }
    }
    for h in sorted(survival.get("brier", {}), key=int):
        rows[f"Brier @{h} d"] = {
            "model": survival["brier"][h],
            "Kaplan–Meier": survival["brier_baseline"][h],
        }
    table = pd.DataFrame(rows).T
    if survival.get("note"):
        out.append(f"<p class='note'><b>{html.escape(str(survival['note']))}</b></p>")
    out += [
        _img(plot_survival(survival), "survival curves and Brier scores"),
        _table(table),
        "<p class='note'>Evaluated: "
        f"{survival.get('n')} hires whose fate was unknown at the cutoff "
        f"({survival.get('events')} left; {survival.get('skipped')} the model could not "
        f"score), followed up to {survival.get('max_follow_up_days')} days. Baseline and "
        f"curve shape from {survival.get('train_hires')} training-period hires. The model's "
        "curve is the baseline's with a proportional hazard set so that S(90 d) equals the "
        "stay stage's P(retained 3 months | hired). Brier: IPCW, conditional on having lasted "
        "until the cutoff; n/e = not estimable (no follow-up that long).</p>",
    ]
    return out


def plot_groups(table: pd.DataFrame, metric: str = "ndcg@10") -> str:
    """Horizontal bars: ``metric`` per group of workers and model, 95 % intervals."""
    part = table[(table["metric"] == metric) & (table["group"] != "not stated")]
    part = part[part["n"] > 0]  # a group nobody belongs to has no bar to draw
    labels = list(dict.fromkeys(part["dimension"] + ": " + part["group"]))
    models = list(dict.fromkeys(part["model"]))
    fig, ax = plt.subplots(
        figsize=(7.5, 0.34 * max(len(labels), 1) * max(len(models), 1) / 2 + 1.4)
    )
    y = np.arange(len(labels))
    height = 0.8 / max(len(models), 1)
    colours = {"full": "#1f6fb2", "keyword": "#b0b7bf", "popularity": "#e2a03f"}
    for i, name in enumerate(models):
        rows = (
            part[part["model"] == name]
            .assign(label=lambda f: f["dimension"] + ": " + f["group"])
            .set_index("label")
            .reindex(labels)
        )
        mean = rows["mean"].to_numpy(float)
        lo = np.nan_to_num(mean - rows["lo"].to_numpy(float), nan=0.0).clip(min=0)
        hi = np.nan_to_num(rows["hi"].to_numpy(float) - mean, nan=0.0).clip(min=0)
        ax.barh(
            y + (i - (len(models) - 1) / 2) * height,
            np.nan_to_num(mean),
            height=height,
            xerr=np.vstack([lo, hi]),
            color=colours.get(name),
            label=name,
            capsize=2,
        )
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} on the held-out weeks (bootstrap 95 % interval)")
    ax.set_title(f"{metric} per group of workers")
    ax.legend(frameon=False, fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _groups_section(card: dict[str, Any]) -> list[str]:
    """Per-group held-out metrics (``training.groups``): chart, table, gaps."""
    table = groups_from_card(card.get("groups"))
    if table.empty:
        return []

    def cell(r: pd.Series) -> str:
        if not np.isfinite(r["mean"]):
            return "–"
        if not np.isfinite(r["lo"]):
            return f"{r['mean']:.3f}"
        return f"{r['mean']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"

    wide = table.assign(
        cell=table.apply(cell, axis=1), col=table["model"] + " " + table["metric"]
    ).pivot_table(
        index=["dimension", "group"], columns="col", values="cell", aggfunc="first", sort=False
    )
    n = table[table["metric"] == GAP_METRIC].drop_duplicates(["dimension", "group"])
    wide.insert(0, "workers", n.set_index(["dimension", "group"])["n"].reindex(wide.index))
    wide.index = [f"{d}: {g}" for d, g in wide.index]
    gaps = group_gaps(table, CANDIDATE_NAME)
    gap_rows = pd.DataFrame(gaps).T if gaps else pd.DataFrame()
    return [
        "<h2>Per group of workers</h2>",
        _img(plot_groups(table), "NDCG@10 per group of workers"),
        _table(wide),
        "<p class='note'>Held-out weeks only (training never sees a market's truth). "
        "ndcg@10: graded by the held-out outcome; ece: calibration error of the "
        "recommended pairs' scores against hired in the test weeks; placed: share of the "
        "group placed by a plan over the evaluated workers' top-10 lists (the model's "
        "scores, seats open at the cutoff); share of best: the planned pair's score over "
        "the worker's best score (the model's own estimate). 95 % percentile bootstrap "
        "intervals, workers resampled within the group. Cold: no event before the cutoff.</p>",
        "<h3>Gaps (1 − worst/best group NDCG@10, groups of at least "
        f"{MIN_GROUP_WORKERS} workers)</h3>",
        _table(gap_rows)
        if len(gap_rows)
        else "<p class='note'>No dimension has two groups large enough to compare.</p>",
        "<p class='note'>The promotion guard refuses a model that widens one of these gaps "
        "beyond its tolerance over the current model's on the same split.</p>",
    ]


def render_report(comparison: Comparison, card: dict[str, Any]) -> str:
    """The report page as one HTML string (no external resources)."""
    summary = summary_table(comparison.metrics)
    split = comparison.split
    cand = CANDIDATE_NAME
    verdict = ""
    if cand in summary.columns:
        row = "ndcg@10 all"
        checks = []
        for base, target in (("keyword", 1.5), ("popularity", 2.0)):
            col = f"{cand}/{base}"
            if col in summary.columns and row in summary.index:
                r = float(summary.at[row, col])  # type: ignore[arg-type]
                ok = np.isfinite(r) and r >= target
                cls = "ok" if ok else "bad"
                checks.append(
                    f'<span class="{cls}">NDCG@10 {cand}/{base} = {r:.2f} '
                    f"(target ≥ {target:g}×: {'met' if ok else 'not met'})</span>"
                )
        verdict = "<p>" + "<br>".join(checks) + "</p>"
    cal = comparison.calibration.copy()
    chan = comparison.per_channel.pivot_table(
        index=["channel", "metric"], columns="model", values="value", sort=False
    )
    chan.index = [f"{c} {m}" for c, m in chan.index]
    n_workers = comparison.per_channel.drop_duplicates("channel").set_index("channel")["n_workers"]
    timings = pd.DataFrame(
        {
            "fit s": {n: r.fit_seconds for n, r in comparison.runs.items()},
            "recommend s": {n: r.recommend_seconds for n, r in comparison.runs.items()},
            "how": {
                n: f"read off {r.derived_from}" if r.derived_from else "fitted"
                for n, r in comparison.runs.items()
            },
        }
    )
    methods = card.get("baseline_methods") or {}
    promotion = card.get("promotion") or {}
    data = card.get("data", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>jobmatch model {html.escape(card.get('version', ''))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>jobmatch model {html.escape(card.get('version', ''))}</h1>",
        f"<p class='note'>Trained {html.escape(str(card.get('created_at', '')))}; "
        f"class {html.escape(str(card.get('model_class', '')))}; seed {card.get('seed')}. "
        f"Data fingerprint <code>{html.escape(str(data.get('fingerprint', ''))[:16])}</code>.</p>",
        verdict,
        "<h2>Summary: metrics at 10 (rows) by model (columns)</h2>",
        _table(summary),
        "<p class='note'>NDCG: linear gain = outcome grade (retained 3, hired 2, applied 1). "
        "MAP: AP@k divided by min(k, relevant pairs). Coverage: share of vacancies open at the "
        "cutoff shown in any evaluated worker's top 10. Warm = had training events; cold = none "
        "(incl. registered during the test weeks).</p>",
        "<h2>Against the baselines</h2>",
        _img(plot_metrics(comparison), "NDCG@10 per model"),
        "<p class='note'>How each baseline was obtained: "
        + "; ".join(f"<b>{html.escape(n)}</b>: {html.escape(m)}" for n, m in methods.items())
        + ".</p>",
        "<h2>Calibration</h2>",
        _img(plot_calibration(comparison), "calibration curve"),
        "<p class='note'>Only models whose scores are probabilities are drawn. A 3-month "
        "retention can only appear in the test weeks for a pair hired three months before, "
        "which is not a test pair (it was pursued before the cutoff); with a shorter test "
        "window the 'hired' curve is the outcome the window can show.</p>",
        _table(cal, index=False),
        *survival_section(card.get("survival")),
        *_groups_section(card),
        "<h2>Score distribution</h2>",
        _img(plot_scores(comparison), "score histograms"),
        "<h2>Per channel</h2>",
        _img(plot_channels(comparison), "per-channel NDCG@10"),
        _table(chan),
        "<p class='note'>Evaluated workers with a test outcome per channel: "
        + ", ".join(f"{html.escape(str(c))} {int(n)}" for c, n in n_workers.items())
        + ".</p>",
        "<h2>Split</h2>",
        f"<p>Train before <b>{split.cutoff:%Y-%m-%d %H:%M}</b>, test "
        f"[{split.cutoff:%Y-%m-%d}, {split.until:%Y-%m-%d}) UTC. Candidates: vacancies open at "
        "the cutoff. Test pairs: first pursued in the test weeks.</p>",
        f"<pre>{html.escape(json.dumps(split.summary(), indent=2, default=str))}</pre>",
        "<h2>Data snapshot</h2>",
        f"<pre>{html.escape(json.dumps(data, indent=2, default=str))}</pre>",
        "<h2>Timings</h2>",
        _table(timings),
        f"<pre>{html.escape(json.dumps(card.get('timings', {}), indent=2))}</pre>",
        "<h2>Promotion</h2>",
        f"<pre>{html.escape(json.dumps({'incumbent': card.get('incumbent'), **promotion}, indent=2, default=str))}</pre>",
        "<h2>Packages</h2>",
        f"<pre>{html.escape(json.dumps(card.get('packages', {}), indent=2))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(path: str | Path, comparison: Comparison, card: dict[str, Any]) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8)."""
    out = Path(path)
    out.write_text(render_report(comparison, card), encoding="utf-8")
    return out


def append_section(
    path: str | Path, title: str, note: str, png: bytes | None = None, alt: str = ""
) -> Path:
    """Add a section (heading, optional PNG, note) at the end of an existing report page.

    For figures measured after training by other tools (a benchmark's judgement of the
    model against a reference); the page stays self-contained (the PNG is embedded).
    A section with the same title is replaced, so re-running the tool does not pile up.
    """
    out = Path(path)
    page = out.read_text(encoding="utf-8")
    marker = f"<!-- section:{html.escape(title)} -->"
    end = "</body></html>"
    if marker in page:
        start = page.index(marker)
        stop = page.index(f"<!-- /section:{html.escape(title)} -->", start)
        page = page[:start] + page[stop + len(f"<!-- /section:{html.escape(title)} -->") :]
    parts = [marker, f"<h2>{html.escape(title)}</h2>"]
    if png is not None:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(_img(uri, alt or title))
    parts += [f"<p class='note'>{html.escape(note)}</p>", f"<!-- /section:{html.escape(title)} -->"]
    block = "\n".join(parts) + "\n"
    page = page.replace(end, block + end) if end in page else page + block
    out.write_text(page, encoding="utf-8")
    return out
