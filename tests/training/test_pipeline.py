"""The training pipeline end to end on a small sample market: artifact, card, report,
promotion, reproducibility, the guard at pipeline level, rollback, and the CLI."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from matcher.data.dataset import Dataset
from matcher.evaluation.baselines import PopularityRecommender
from matcher.models.base import RECOMMENDATION_COLUMNS
from matcher.text.encoders import HashingEmbedder
from training import registry
from training.pipeline import TrainOptions, train

SMALL = dict(
    epochs=3, no_components=8, max_iter=30, n_clusters=4, n_candidates=30, ranker_max_workers=200
)


@pytest.fixture(scope="module")
def market() -> Dataset:
    from training.synth import generate_market

    return Dataset.from_frames(**generate_market(250, 18, weeks=9, seed=3))


def options(**kw) -> TrainOptions:
    base = dict(
        test_weeks=3,
        seed=5,
        embedder=HashingEmbedder(dim=64),
        candidate_params=SMALL,
        progress=False,
    )
    base.update(kw)
    return TrainOptions(**base)


class SilentRecommender(PopularityRecommender):
    """A candidate that is surely worse than anything: it recommends nothing."""

    def recommend_many(self, worker_ids, k: int = 10) -> pd.DataFrame:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)


def silent_candidate(random_state, embedder, candidate_params, include):
    """A factory whose 'full' model is :class:`SilentRecommender` (baselines stay real)."""
    return {
        name: SilentRecommender() if name == "full" else PopularityRecommender() for name in include
    }


@pytest.fixture(scope="module")
def runs(market, tmp_path_factory):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    model_dir = tmp_path_factory.mktemp("models")
    first = train(market, model_dir, options())
    second = train(market, model_dir, options())
    return model_dir, first, second


def test_writes_artifact_card_and_self_contained_report(runs):
    model_dir, first, _ = runs
    folder = model_dir / first.version
    card = json.loads((folder / "model_card.json").read_text())
    assert card["model_class"] == "matcher.serving.recommender.Recommender"
    assert card["data"]["fingerprint"] and card["data"]["counts"]["events"] > 0
    assert set(card["metrics"]) == {"popularity", "keyword", "lightfm", "content", "full"}
    assert 0 <= card["metrics"]["full"]["ndcg@10"] <= 1
    assert {"ndcg@10/warm", "ndcg@10/cold", "map@5", "coverage@20"} <= set(card["metrics"]["full"])
    assert card["split"]["identity"]["cutoff"] < card["split"]["identity"]["until"]
    assert card["packages"]["scikit-learn"]
    assert card["promotion"]["promoted"] is True
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6  # incl. survival and per-group bars
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "Calibration" in html and "Per channel" in html and "Retention as survival" in html
    survival = card["survival"]
    assert survival["n"] > 0 and 0 <= survival["concordance"] <= 1
    assert set(survival["brier"]) == {"30", "90", "180"}
    # per group of workers on the held-out weeks (issue 18): every dimension, the
    # candidate and two baselines, the summary's NDCG@10 recovered from the group means
    groups = pd.DataFrame(card["groups"]["rows"])
    assert set(groups["model"]) == {"full", "keyword", "popularity"}
    assert {"language", "gender", "labour capacity", "mobility", "household", "history"} == set(
        groups["dimension"]
    )
    assert {"ndcg@10", "placed", "share of best", "ece"} <= set(groups["metric"])
    nd = groups[(groups["model"] == "full") & (groups["metric"] == "ndcg@10")]
    for _, dim in nd.groupby("dimension"):
        pooled = (dim["mean"] * dim["n"]).sum() / dim["n"].sum()
        assert pooled == pytest.approx(card["metrics"]["full"]["ndcg@10"], abs=1e-5)
    assert ((nd["lo"] <= nd["mean"] + 1e-9) & (nd["mean"] <= nd["hi"] + 1e-9)).all()
    assert "Per group of workers" in html


def test_promoted_model_loads_for_the_service(runs, market):
    model_dir, _, second = runs
    model, version = registry.load_current(model_dir)
    assert version == second.version
    recs = model.recommend(market.workers["worker_id"].iloc[0], k=5)
    assert list(recs["rank"]) == list(range(1, len(recs) + 1))


def test_same_data_and_seed_give_the_same_metrics(runs):
    _, first, second = runs
    a, b = first.card["metrics"], second.card["metrics"]
    for model in a:
        for key in a[model]:
            assert round(a[model][key], 4) == round(b[model][key], 4), (model, key)
    # the second run re-measured the first (its recipe refitted on the same split)
    inc = second.card["incumbent"]
    assert inc["version"] == first.version
    assert round(inc["ndcg@10"], 4) == round(a["full"]["ndcg@10"], 4)
    # ... per group too: the same recipe on the same split, so no gap widened
    assert second.decision.gap is not None and second.decision.gap.allowed
    inc_groups = pd.DataFrame(inc["groups"]["rows"])
    assert set(inc_groups["model"]) == {"incumbent"} and len(inc_groups)
    assert second.promoted and "refitted on this model's split" in second.decision.basis


def test_worse_candidate_refused_then_forced_then_rolled_back(runs, market):
    model_dir, _, second = runs
    worse = train(
        market,
        model_dir,
        options(models_factory=silent_candidate, baselines=("keyword",)),
    )
    inc = worse.card["incumbent"]["ndcg@10"]
    assert worse.card["metrics"]["full"]["ndcg@10"] == 0.0 < inc - 0.01
    assert not worse.promoted and "--force" in worse.refusal
    assert registry.current_version(model_dir) == second.version
    forced = train(
        market,
        model_dir,
        options(models_factory=silent_candidate, baselines=("keyword",), force=True),
    )
    assert forced.promoted and forced.decision.basis.startswith("forced")
    assert registry.current_version(model_dir) == forced.version
    assert registry.history(model_dir)[-1]["forced"] is True
    assert registry.rollback(model_dir) == second.version
    model, version = registry.load_current(model_dir)
    assert version == second.version


def test_cli_models_commands(runs, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    model_dir, first, second = runs
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(model_dir))
    get_settings.cache_clear()
    try:
        cli = CliRunner()
        out = cli.invoke(app, ["models", "list"])
        assert out.exit_code == 0, out.output
        assert (
            first.version in out.output and "* " + registry.current_version(model_dir) in out.output
        )
        out = cli.invoke(app, ["models", "show", first.version])
        assert out.exit_code == 0 and json.loads(out.output)["version"] == first.version
        out = cli.invoke(app, ["models", "show", "nope"])
        assert out.exit_code == 2 and "no model 'nope'" in out.output
        before = registry.current_version(model_dir)
        out = cli.invoke(app, ["models", "promote", first.version, "--force"])
        assert out.exit_code == 0 and "FORCED" in out.output
        out = cli.invoke(app, ["models", "rollback"])
        assert out.exit_code == 0 and f"to {before}" in out.output
    finally:
        get_settings.cache_clear()


def test_cli_train_on_an_empty_store(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv("JOBMATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("JOBMATCH_MODEL_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["train"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 2
    assert "store is empty" in out.output and "jobmatch import" in out.output
    assert not (tmp_path / "models" / "current").exists()
