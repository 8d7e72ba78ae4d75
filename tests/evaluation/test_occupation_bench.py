"""bench/occupation_bench.py's command line and the full run's speed section (the
cross-validation itself is a long bench, not run here)."""

from __future__ import annotations

import pytest

import bench.occupation_bench as bench


def test_baseline_ref_is_taken_without_speed_only_and_checked_at_once():
    args = bench.parse_args(["--baseline-ref", "HEAD", "--no-write"])
    assert (args.baseline_ref, args.speed_only) == ("HEAD", False)
    assert bench.parse_args([]).baseline_ref == ""
    with pytest.raises(SystemExit):
        bench.parse_args(["--baseline-ref", "no-such-commit-anywhere"])


def test_a_full_run_writes_the_speed_section_only_with_a_same_run_baseline(monkeypatch):
    compared: list[str] = []
    monkeypatch.setattr(bench, "measure_speed", lambda titles, model_file=None: "speed")

    def compare(titles, ref):
        compared.append(ref)
        return f"baseline {ref}"

    monkeypatch.setattr(bench, "compare_with_ref", compare)
    assert bench.full_run_speed(["焊工"], "") == ("speed\n\nspeed", False)
    assert compared == []
    assert bench.full_run_speed(["焊工"], "abc123") == ("speed\n\nspeed\n\nbaseline abc123", True)
    assert compared == ["abc123"]
