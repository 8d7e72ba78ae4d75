"""The stamp every bench section carries (``bench/report.py``)."""

from __future__ import annotations

import numpy as np

import bench.report as report


def test_numerics_names_the_cpu_and_the_numeric_libraries():
    line = report.numerics()
    assert line.startswith("CPU ")
    assert f"numpy {np.__version__}" in line
    assert "scikit-learn " in line


def test_a_written_section_carries_the_machine_and_the_numerics(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "BENCHMARKS", tmp_path / "benchmarks.md")
    report.write_section("toy", "Toy", "figure 1", "bench/toy.py")
    text = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    stamp = next(line for line in text.splitlines() if line.startswith("_Written by"))
    assert report.machine() in stamp and report.numerics() in stamp
    report.write_section("toy", "Toy", "figure 2", "bench/toy.py")
    text = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert text.count("<!-- bench:toy -->") == 1 and "figure 2" in text and "figure 1" not in text
