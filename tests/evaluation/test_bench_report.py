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


def test_baseline_tree_extracts_a_commit_once_and_reuses_it(tmp_path):
    tree = report.baseline_tree("HEAD", tmp_path)
    assert tree == tmp_path / "baseline-HEAD"
    assert (tree / "bench" / "report.py").is_file()
    (tree / "bench" / "report.py").unlink()
    # a tree a previous run left is reused as it is, not extracted again
    assert report.baseline_tree("HEAD", tmp_path) == tree
    assert not (tree / "bench" / "report.py").exists()
    # extract_commit writes the same files into a folder of the caller's choosing
    other = report.extract_commit("HEAD", tmp_path / "other")
    assert (other / "bench" / "report.py").is_file()
