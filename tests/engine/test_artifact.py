"""Typed configuration and artifact versions: RecommenderConfig validates and
round-trips through JSON; artifact.json stores it as JSON; an artifact of the previous
format (version 1, parameters as repr strings) loads and answers as before; any other
version, or a config that cannot be read, fails with a message saying to retrain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from engine_markets import fast_params, random_market

from matcher.models.config import ConfigError, RecommenderConfig
from matcher.serving.recommender import (
    ARTIFACT_VERSION,
    META_FILE,
    IncompatibleArtifactError,
    Recommender,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    ds = random_market(21)
    model = Recommender(**{**fast_params(), "n_candidates": 40}).fit(ds)
    path = model.save(tmp_path_factory.mktemp("artifact") / "m")
    return model, path


def test_config_round_trips_through_json():
    config = RecommenderConfig(stages="content", n_candidates=np.int64(40), learning_rate=1)
    text = json.dumps(config.to_json())
    back = RecommenderConfig.from_json(json.loads(text))
    assert back == config
    assert type(back.n_candidates) is int and type(back.learning_rate) is float


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("stages", "magic", "stages must be one of full, lightfm, content"),
        ("lang", "fr", "lang must be one of"),
        ("calibration", "beta", "calibration must be one of"),
        ("apply_map", "stacked", "apply_map must be one of plain, covariates"),
        ("n_candidates", 0, "n_candidates must be at least 1"),
        ("n_candidates", 2.5, "n_candidates must be an integer"),
        ("epochs", True, "epochs must be an integer"),
        ("learning_rate", 0.0, "learning_rate must be above 0"),
        ("ranker_holdout", 1.0, r"ranker_holdout must be a share \(0 < x < 1\)"),
        ("calibration_share", -0.1, "calibration_share must be a share"),
        ("item_alpha", -1e-6, "item_alpha must be 0 or more"),
    ],
)
def test_a_bad_value_is_refused_with_its_field_and_rule(field, value, rule):
    with pytest.raises(ConfigError, match=rule):
        RecommenderConfig(**{field: value})
    with pytest.raises(ValueError, match=rule):  # fit validates first
        Recommender(**{**fast_params(), field: value}).fit(random_market(0))


def test_unknown_fields_are_named():
    with pytest.raises(ConfigError, match="unknown Recommender config field.*n_candidate\\b"):
        RecommenderConfig.from_json({"n_candidate": 3})
    with pytest.raises(ConfigError, match="JSON object"):
        RecommenderConfig.from_json("stages=full")


def test_a_config_written_before_the_stage_maps_reads_as_the_plain_maps():
    """The apply, hire and stay maps became covariate maps by default after artifacts
    first saved their config: a saved config without them is a model trained with the
    plain maps, and a model pickled then unpickles as one (class attributes), so the
    artifact's two records of the config still agree."""
    from matcher.models.config import LEGACY_VALUES

    default = RecommenderConfig()
    assert (default.apply_map, default.hire_map, default.stay_map) == (
        "covariates",
        "history",
        "covariates",
    )
    assert (default.apply_terms, default.joint_tails) == ("entry", "exact")
    written = {k: v for k, v in default.to_json().items() if k not in LEGACY_VALUES}
    old = RecommenderConfig.from_json(written)
    assert (old.apply_map, old.hire_map, old.stay_map) == ("plain", "plain", "plain")
    assert old.title_coding == "stored" and old.stay_min_leaf == 20
    pickled_then = Recommender.__new__(Recommender)
    assert {k: getattr(pickled_then, k) for k in LEGACY_VALUES} == LEGACY_VALUES
    # a key that is written is taken as written
    assert RecommenderConfig.from_json({"stay_map": "covariates"}).stay_map == "covariates"


def test_the_model_and_its_config_agree():
    model = Recommender(**fast_params())
    config = model.config
    assert config.epochs == fast_params()["epochs"]
    rebuilt = Recommender.from_config(config, embedder=model.embedder)
    assert rebuilt.get_params() == model.get_params()


def test_artifact_json_holds_the_config_as_json(saved):
    model, path = saved
    meta = json.loads((path / META_FILE).read_text())
    assert meta["artifact_version"] == ARTIFACT_VERSION == 2
    assert meta["config"]["n_candidates"] == 40  # a number, not the repr string "40"
    assert RecommenderConfig.from_json(meta["config"]) == model.config
    assert meta["embedder"] == "matcher.text.encoders.HashingEmbedder"
    assert "params" not in meta
    loaded = Recommender.load(path)
    assert loaded.config == model.config


def _rewrite(path, change) -> None:
    meta = json.loads((path / META_FILE).read_text())
    change(meta)
    (path / META_FILE).write_text(json.dumps(meta))


def test_a_version_1_artifact_loads_and_answers_as_before(saved, tmp_path):
    import shutil

    model, path = saved
    old = tmp_path / "v1"
    shutil.copytree(path, old)

    def to_v1(meta):  # what version 1 wrote: parameters as repr strings, no config
        meta["artifact_version"] = 1
        meta["params"] = {k: repr(v) for k, v in model.get_params().items()}
        del meta["config"], meta["embedder"]

    _rewrite(old, to_v1)
    loaded = Recommender.load(old)
    assert loaded.config == model.config
    workers = list(model.catalogue_.wp.ids[:5])
    pd.testing.assert_frame_equal(
        loaded.recommend_many(workers, 5), model.recommend_many(workers, 5)
    )


@pytest.mark.parametrize("version", [0, 3, None, "2"])
def test_another_version_says_to_retrain(saved, tmp_path, version):
    import shutil

    _, path = saved
    other = tmp_path / "other"
    shutil.copytree(path, other)
    _rewrite(other, lambda meta: meta.update(artifact_version=version))
    with pytest.raises(IncompatibleArtifactError, match="retrain with `jobmatch train`"):
        Recommender.load(other)


@pytest.mark.parametrize(
    "config",
    [{"stages": "magic"}, {"n_candidate": 3}, None, {"n_candidates": 41}],
    ids=["bad value", "unknown field", "missing", "disagrees with the pickle"],
)
def test_an_unreadable_config_says_to_retrain(saved, tmp_path, config):
    import shutil

    model, path = saved
    other = tmp_path / "bad"
    shutil.copytree(path, other)

    def change(meta):
        if config is None:
            del meta["config"]
        else:
            meta["config"] = {**meta["config"], **config}

    _rewrite(other, change)
    with pytest.raises(IncompatibleArtifactError, match="retrain with `jobmatch train`"):
        Recommender.load(other)
