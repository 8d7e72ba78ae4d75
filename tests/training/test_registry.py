"""Registry: current pointer, promotion guard (worse refused, --force promotes), rollback,
corrupted artifacts."""

from __future__ import annotations

import json

import pytest
from toy_market import UNTIL

from matcher.evaluation.baselines import KeywordRecommender
from training import registry
from training.registry import CorruptArtifactError, PromotionRefused
from training.split import time_split

IDENTITY = {"cutoff": "2025-03-31T00:00:00", "until": "2025-04-14T00:00:00", "data": "abc"}


@pytest.fixture
def fitted(toy):
    return KeywordRecommender(filter="location").fit(time_split(toy, UNTIL, 2).train)


def make_version(model_dir, name, model, ndcg, identity=IDENTITY, incumbent=None):
    folder = model_dir / name
    model.save(folder)
    card = {
        "version": name,
        "model_class": "matcher.evaluation.baselines.KeywordRecommender",
        "metrics": {"full": {"ndcg@10": ndcg}},
        "split": {"identity": identity},
    }
    if incumbent is not None:
        card["incumbent"] = incumbent
    registry.write_card(folder, card)
    return name


def test_nothing_promoted(tmp_path):
    assert registry.current_model_path(tmp_path) is None
    assert registry.current_version(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="jobmatch train"):
        registry.load_current(tmp_path)
    assert registry.list_models(tmp_path / "absent") == []


def test_promote_then_load_current(tmp_path, fitted):
    v = make_version(tmp_path, "20250101T000000Z", fitted, 0.30)
    decision = registry.promote(tmp_path, v)
    assert decision.allowed
    assert (tmp_path / "current").read_text().strip() == v
    assert registry.current_model_path(tmp_path) == tmp_path / v
    model, version = registry.load_current(tmp_path)
    assert version == v
    assert model.recommend("w1", 3).equals(fitted.recommend("w1", 3))
    assert [m["current"] for m in registry.list_models(tmp_path)] == [True]


def test_guard_refuses_worse_and_force_promotes(tmp_path, fitted):
    a = make_version(tmp_path, "a", fitted, 0.30)
    registry.promote(tmp_path, a)
    # within tolerance: 0.295 >= 0.30 - 0.01
    b = make_version(tmp_path, "b", fitted, 0.295)
    assert registry.promote(tmp_path, b).allowed
    assert registry.current_version(tmp_path) == "b"
    # worse by more than the tolerance: refused, current unchanged
    c = make_version(tmp_path, "c", fitted, 0.20)
    with pytest.raises(PromotionRefused, match=r"0\.2000 vs current 0\.2950.*--force"):
        registry.promote(tmp_path, c)
    assert registry.current_version(tmp_path) == "b"
    # a larger tolerance lets it through; so does --force, and the history says so
    assert registry.guard(tmp_path, c, tolerance=0.1).allowed
    d = registry.promote(tmp_path, c, force=True)
    assert d.basis.startswith("forced")
    assert registry.current_version(tmp_path) == "c"
    assert registry.history(tmp_path)[-1]["forced"] is True


def test_guard_uses_same_split_only(tmp_path, fitted):
    a = make_version(tmp_path, "a", fitted, 0.30)
    registry.promote(tmp_path, a)
    other = dict(IDENTITY, data="different")
    # different split and no re-measurement: refused, with what to do
    b = make_version(tmp_path, "b", fitted, 0.9, identity=other)
    with pytest.raises(PromotionRefused, match="same split"):
        registry.promote(tmp_path, b)
    # the incumbent re-measured on b's split decides, not a's stored number
    c = make_version(
        tmp_path, "c", fitted, 0.25, identity=other, incumbent={"version": "a", "ndcg@10": 0.5}
    )
    with pytest.raises(PromotionRefused, match="0.5000"):
        registry.promote(tmp_path, c)
    calls = []

    def remeasure(card, current):
        calls.append((card["version"], current))
        return 0.2

    assert registry.promote(tmp_path, b, remeasure=remeasure).incumbent == 0.2
    assert calls == [("b", "a")]


def test_rollback_returns_to_previous(tmp_path, fitted):
    for name in ("a", "b", "c"):
        make_version(tmp_path, name, fitted, 0.3)
    registry.promote(tmp_path, "a")
    registry.promote(tmp_path, "b")
    registry.promote(tmp_path, "c")
    assert registry.rollback(tmp_path) == "b"
    assert registry.rollback(tmp_path) == "a"
    with pytest.raises(PromotionRefused, match="nothing to roll back"):
        registry.rollback(tmp_path)
    assert registry.current_version(tmp_path) == "a"
    registry.promote(tmp_path, "c")
    assert registry.rollback(tmp_path) == "a"
    actions = [h["action"] for h in registry.history(tmp_path)]
    assert actions == ["promote"] * 3 + ["rollback"] * 2 + ["promote", "rollback"]


def test_corrupted_artifact(tmp_path, fitted):
    v = make_version(tmp_path, "v", fitted, 0.3)
    (tmp_path / v / "baseline.joblib").write_bytes(b"\x00garbage")
    with pytest.raises(CorruptArtifactError, match="cannot be loaded.*retrain"):
        registry.load_model(tmp_path, v)
    # a damaged artifact is never promoted
    with pytest.raises(CorruptArtifactError):
        registry.promote(tmp_path, v, force=True)
    assert registry.current_version(tmp_path) is None


def test_corrupted_card_and_dangling_pointer(tmp_path, fitted):
    v = make_version(tmp_path, "v", fitted, 0.3)
    registry.promote(tmp_path, v)
    (tmp_path / v / "model_card.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptArtifactError, match="not valid JSON"):
        registry.read_card(tmp_path, v)
    assert registry.list_models(tmp_path)[0]["status"].startswith("damaged")
    (tmp_path / "current").write_text("gone\n", encoding="utf-8")
    with pytest.raises(CorruptArtifactError, match="does not exist"):
        registry.current_model_path(tmp_path)


def test_version_dirs_do_not_collide(tmp_path):
    a = registry.new_version_dir(tmp_path)
    b = registry.new_version_dir(tmp_path)
    assert a != b and a.is_dir() and b.is_dir()
    with pytest.raises(ValueError):
        registry.read_card(tmp_path, "../etc")
    json.dumps(registry.list_models(tmp_path))


def test_promote_remeasures_the_current_recipe_from_the_store(tmp_path, toy):
    """Rule 3: cards from different data -> the current model's recipe is refitted on the
    candidate's split, read from the store (what `jobmatch models promote` does)."""
    from service.store.db import make_engine, session_scope
    from service.store.migrate import ensure_schema
    from service.store.repository import upsert
    from service.training_runs import remeasure_from_store, store_loader

    url = f"sqlite:///{tmp_path / 'store.db'}"
    ensure_schema(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for name in ("employers", "workers", "vacancies", "events"):
            upsert(session, name, getattr(toy, name))
    engine.dispose()
    stored = store_loader(url)()
    split = time_split(stored, UNTIL, 2)
    identity = split.identity()
    models = tmp_path / "models"
    old = KeywordRecommender(filter="location").fit(split.train)
    make_version(models, "old", old, 0.9, identity=dict(identity, data_fingerprint="older"))
    registry.promote(models, "old")
    card = {"test_weeks": 2, "identity": identity}
    new = make_version(models, "new", old, 0.01, identity=identity)
    registry.write_card(
        models / new, dict(registry.read_card(models, new), split=card, version="new")
    )
    remeasure = remeasure_from_store(url, models)
    # the old recipe refitted on the new split scores far above 0.01: refused
    with pytest.raises(PromotionRefused, match="refitted on this model's split"):
        registry.promote(models, new, remeasure=remeasure)
    # a store that changed since the candidate was trained cannot be compared fairly
    stale = make_version(models, "stale", old, 0.5, identity=dict(identity, data_fingerprint="x"))
    registry.write_card(
        models / stale,
        dict(
            registry.read_card(models, stale),
            split={"test_weeks": 2, "identity": dict(identity, data_fingerprint="x")},
        ),
    )
    with pytest.raises(PromotionRefused, match="store changed"):
        registry.promote(models, stale, remeasure=remeasure)


def _groups(model, minority, mandarin, n=50):
    rows = [
        {
            "model": model,
            "dimension": "language",
            "group": group,
            "metric": "ndcg@10",
            "n": n,
            "mean": mean,
            "lo": mean,
            "hi": mean,
        }
        for group, mean in (("minority only", minority), ("Mandarin only", mandarin))
    ]
    return {"rows": rows}


def test_gap_guard_refuses_a_wider_gap_and_an_admin_overrides_with_a_reason(
    tmp_path, fitted, caplog
):
    a = make_version(tmp_path, "a", fitted, 0.30)
    registry.promote(tmp_path, a)
    # same NDCG@10, but the minority-only group falls from 0.9 to 0.7 of Mandarin speakers
    incumbent = {"version": "a", "ndcg@10": 0.30, "groups": _groups("incumbent", 0.54, 0.60)}
    b = make_version(tmp_path, "b", fitted, 0.30, incumbent=incumbent)
    card = registry.read_card(tmp_path, b)
    card["groups"] = _groups("full", 0.42, 0.60)
    registry.write_card(tmp_path / b, card)
    with pytest.raises(PromotionRefused, match=r"language gap widens by \+0\.2000") as err:
        registry.promote(tmp_path, b)
    assert "'minority only'" in str(err.value) and "--override-gap" in str(err.value)
    assert registry.current_version(tmp_path) == "a"
    # a wider tolerance lets it through
    assert registry.guard(tmp_path, b, gap_tolerance=0.25).gap.allowed
    # an override needs a reason ...
    with pytest.raises(ValueError, match="needs a reason"):
        registry.promote(tmp_path, b, gap_override="  ")
    # ... and is logged with it
    with caplog.at_level("WARNING", logger="training.registry"):
        d = registry.promote(tmp_path, b, gap_override="Yi interpreters hired; ticket 42")
    assert d.gap.override == "Yi interpreters hired; ticket 42"
    assert registry.current_version(tmp_path) == "b"
    last = registry.history(tmp_path)[-1]
    assert last["gap_override"] == "Yi interpreters hired; ticket 42"
    assert last["gap"]["dimension"] == "language"
    assert last["gap"]["widened_by"] == pytest.approx(0.2)
    assert "gap guard overridden" in caplog.text and "ticket 42" in caplog.text
    # the override does not lift the NDCG guard
    worse = {"version": "b", "ndcg@10": 0.5, "groups": _groups("incumbent", 0.54, 0.60)}
    c = make_version(tmp_path, "c", fitted, 0.30, incumbent=worse)
    with pytest.raises(PromotionRefused, match="NDCG@10"):
        registry.promote(tmp_path, c, gap_override="any")


def test_cli_promote_says_which_gap_and_takes_an_override(tmp_path, fitted, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    registry.promote(tmp_path, make_version(tmp_path, "a", fitted, 0.30))
    incumbent = {"version": "a", "ndcg@10": 0.30, "groups": _groups("incumbent", 0.57, 0.60)}
    b = make_version(tmp_path, "b", fitted, 0.31, incumbent=incumbent)
    card = registry.read_card(tmp_path, b)
    card["groups"] = _groups("full", 0.45, 0.60)
    registry.write_card(tmp_path / b, card)
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        cli = CliRunner()
        out = cli.invoke(app, ["models", "promote", b])
        assert out.exit_code == 1, out.output
        assert "language gap widens by +0.2000" in out.output
        assert "'minority only'" in out.output
        assert registry.current_version(tmp_path) == "a"
        out = cli.invoke(app, ["models", "promote", b, "--gap-min-workers", "60"])
        assert out.exit_code == 0, out.output
        registry.rollback(tmp_path)
        out = cli.invoke(app, ["models", "promote", b, "--override-gap", "accepted by the bureau"])
        assert out.exit_code == 0 and "GAP GUARD OVERRIDDEN" in out.output
        assert registry.history(tmp_path)[-1]["gap_override"] == "accepted by the bureau"
    finally:
        get_settings.cache_clear()
