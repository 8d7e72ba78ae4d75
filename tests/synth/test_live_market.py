"""`jobmatch synth` without --start makes a market that is live today: its horizon ends
this week, so open vacancies have deadlines ahead (make run shows a live market on any date)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd


def test_live_start_is_the_monday_weeks_before_today():
    from service.commands.synth import live_start

    day = live_start(16, today=date(2026, 12, 6))  # a Sunday
    assert day == date(2026, 8, 10) and day.weekday() == 0
    assert (date(2026, 12, 6) - day).days // 7 == 16
    assert live_start(1, today=date(2026, 12, 7)) == date(2026, 11, 30)


def test_cli_market_without_start_is_live_today(tmp_path):
    from typer.testing import CliRunner

    from service.cli import app

    out = tmp_path / "m"
    args = ["synth", "--workers", "120", "--employers", "10", "--weeks", "6", "--seed", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    v = pd.read_csv(out / "vacancies.csv")
    for col in ("posted_at", "closes_at"):
        v[col] = pd.to_datetime(v[col], utc=True, format="ISO8601")
    now = pd.Timestamp(datetime.now(UTC))
    open_ = v[v["status"] == "open"]
    assert len(open_) > 0
    assert (open_["closes_at"].isna() | (open_["closes_at"] > now - pd.Timedelta(days=7))).all()
    assert (open_["closes_at"].dropna() > now).mean() > 0.8
    assert v["posted_at"].max() <= now
    e = pd.read_csv(out / "events.csv")
    assert pd.to_datetime(e["occurred_at"], utc=True, format="ISO8601").max() <= now
