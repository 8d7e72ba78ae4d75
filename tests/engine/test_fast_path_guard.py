"""The fast paths that read private scikit-learn state are checked against the public
API, and fall back to it (with a warning) when they disagree or the state is gone:
the answers stay those of ``predict_proba`` / ``transform``."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sklearn.calibration  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

import matcher.models.ranking as ranking  # noqa: E402
from matcher.fast_path_guard import FastPathGuard  # noqa: E402
from matcher.models.encoding import lexical_vectors  # noqa: E402
from matcher.models.features import RANKER_COLUMNS  # noqa: E402
from matcher.models.ranking import (  # noqa: E402
    MISSING,
    STAGE_FAST_PATH,
    STAGES,
    StablePlacementRanker,
    probe_rows,
    stage_fast_path_problem,
)
from matcher.text.encoders import (  # noqa: E402
    LEXICAL_FIT_FAST_PATH,
    LEXICAL_WORDS_FAST_PATH,
    LexicalEncoder,
    probe_texts,
)

TEXTS = [
    "电焊工 焊接 钢结构",
    "普工 包吃住 电子厂",
    "服务员 餐厅 酒店",
    "焊工 二氧焊 电焊",
    "保洁 物业 小区",
    "叉车司机 仓库 物流",
    "电焊工 焊接 钢结构",
    "厨师 川菜 餐厅",
]


def _ranker(seed: int = 1) -> StablePlacementRanker:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1500, len(RANKER_COLUMNS)))
    x[rng.random(x.shape) < 0.05] = MISSING
    z = np.clip(x, -30, 30)
    applied = (rng.random(len(x)) < 1 / (1 + np.exp(-(z[:, 0] + z[:, 1])))).astype(int)
    hired = applied * (rng.random(len(x)) < 1 / (1 + np.exp(-z[:, 2]))).astype(int)
    retained = np.where(hired == 1, (rng.random(len(x)) < 0.6).astype(float), np.nan)
    labels = pd.DataFrame({"applied": applied, "hired": hired, "retained": retained})
    return StablePlacementRanker(max_iter=20, cv=2).fit(
        pd.DataFrame(x, columns=RANKER_COLUMNS), labels
    )


def _public(ranker: StablePlacementRanker, x: np.ndarray) -> np.ndarray:
    """P(stable placement) from sklearn's public predict_proba alone."""
    out = np.ones(len(x))
    xb = ranker.booster_input(x)
    for name in STAGES:
        model = ranker.stages_[name]
        out *= model if isinstance(model, float) else model.predict_proba(xb)[:, 1]
    return out


def _rows(n: int = 300, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, len(RANKER_COLUMNS)))


def test_fast_path_agrees_and_is_used():
    ranker = _ranker()
    verdicts = ranker.check_fast_paths()
    assert verdicts and all(verdicts.values())
    for name, ok in verdicts.items():
        assert ok and STAGE_FAST_PATH.verdict(ranker.stages_[name]) is True
        assert stage_fast_path_problem(ranker.stages_[name]) is None
    x = _rows()
    np.testing.assert_array_equal(ranker.predict_proba(x), _public(ranker, x))


def test_probe_rows_straddle_every_split():
    model = next(m for m in _ranker().stages_.values() if not isinstance(m, float))
    scorer = ranking.quick_scorer(model.calibrated_classifiers_[0].estimator)
    x = probe_rows(model.n_features_in_, scorer)
    assert np.isfinite(x).all() and (x == MISSING).any()
    for feature, cuts in zip(scorer.features, scorer.thresholds, strict=True):
        assert np.isin(cuts, x[:, feature]).all()
        assert np.isin(np.nextafter(cuts, np.inf), x[:, feature]).all()


def test_disagreeing_tree_sums_fall_back_to_predict_proba(monkeypatch, caplog):
    """A scikit-learn whose trees no longer mean what QuickScorer reads (simulated:
    every sum off by 0.25) is caught by the check; answers stay predict_proba's."""
    original = ranking.QuickScorer.decision

    def shifted(self, x, baseline):
        raw = original(self, x, baseline)
        return None if raw is None else raw + 0.25

    monkeypatch.setattr(ranking.QuickScorer, "decision", shifted)
    ranker = _ranker()
    x = _rows()
    with caplog.at_level(logging.WARNING, logger="matcher.fast_path_guard"):
        verdicts = ranker.check_fast_paths()
    assert verdicts and not any(verdicts.values())
    assert "uses the public API instead" in caplog.text
    assert "request rows" in caplog.text
    np.testing.assert_array_equal(ranker.predict_proba(x), _public(ranker, x))
    score, exact = ranker.predict_top(x, np.arange(len(x)) % 7, 3)
    np.testing.assert_array_equal(score[exact], _public(ranker, x)[exact])


def test_missing_private_attribute_falls_back(monkeypatch, caplog):
    """A release without the private ``_SigmoidCalibration`` the fast calibration looks
    for (simulated after the fit): the check raises inside, the guard logs it and
    predict_proba serves, checked on first use without an explicit call."""
    ranker = _ranker(3)
    calibrators = [
        type(m.calibrated_classifiers_[0].calibrators[0]).__name__
        for m in ranker.stages_.values()
        if not isinstance(m, float)
    ]
    assert "_SigmoidCalibration" in calibrators
    monkeypatch.delattr(sklearn.calibration, "_SigmoidCalibration")
    x = _rows(seed=8)
    with caplog.at_level(logging.WARNING, logger="matcher.fast_path_guard"):
        got = ranker.predict_proba(x)
    assert "ImportError" in caplog.text
    assert all(
        STAGE_FAST_PATH.verdict(m) is False
        for m in ranker.stages_.values()
        if not isinstance(m, float)
    )
    np.testing.assert_array_equal(got, _public(ranker, x))


def test_refit_is_checked_again():
    ranker = _ranker()
    model = next(m for m in ranker.stages_.values() if not isinstance(m, float))
    calls = []

    def check():
        calls.append(1)
        return None

    guard = FastPathGuard("test path")
    assert guard.allows(model, model.calibrated_classifiers_, check)
    assert guard.allows(model, model.calibrated_classifiers_, check)
    assert len(calls) == 1
    assert guard.allows(model, object(), check)  # a refit: new fitted state
    assert len(calls) == 2


def test_lexical_fast_path_agrees_with_transform():
    encoder = LexicalEncoder().fit(TEXTS)
    assert LEXICAL_FIT_FAST_PATH.verdict(encoder) is True
    assert encoder.check_fast_path()
    probes = probe_texts(encoder.vectorizer_)
    assert all(encoder.vectorizer_.transform(probes).getnnz(axis=1) > 0)
    texts = TEXTS + ["焊工 电焊", ""]
    want = encoder.vectorizer_.transform(texts)
    assert abs(lexical_vectors(encoder, texts) - want).max() < 1e-6


def test_lexical_fast_path_falls_back_when_tfidf_is_renamed(monkeypatch, caplog):
    """A TfidfVectorizer whose transform no longer reads ``_tfidf`` (simulated by a
    release that keeps its fitted IDF under another name): both the word-by-word fit
    and lexical_vectors notice, warn, and sklearn's public fit / transform serve."""
    fit, transform = TfidfVectorizer.fit, TfidfVectorizer.transform

    def renamed_fit(self, raw_documents, y=None):
        fit(self, raw_documents)
        self._idf_holder = self._tfidf
        self._tfidf = None  # transform must not read it any more
        return self

    def renamed_transform(self, raw_documents):
        kept, self._tfidf = self._tfidf, self._idf_holder
        try:
            return transform(self, raw_documents)
        finally:
            self._tfidf = kept

    monkeypatch.setattr(TfidfVectorizer, "fit", renamed_fit)
    monkeypatch.setattr(TfidfVectorizer, "transform", renamed_transform)
    with caplog.at_level(logging.WARNING, logger="matcher.fast_path_guard"):
        encoder = LexicalEncoder().fit(TEXTS)
        assert LEXICAL_FIT_FAST_PATH.verdict(encoder) is False
        assert not encoder.check_fast_path()
    assert "LexicalEncoder's word-by-word TF-IDF fit" in caplog.text
    assert "LexicalEncoder.transform_words" in caplog.text
    assert LEXICAL_WORDS_FAST_PATH.verdict(encoder) is False
    texts = TEXTS + ["焊工 电焊"]
    got = lexical_vectors(encoder, texts)
    monkeypatch.undo()  # the real sklearn, fitted its own way
    want = LexicalEncoder()._vectorizer().fit(TEXTS).transform(texts)
    assert abs(got - want).max() < 1e-6


def test_load_checks_every_fast_path(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from engine_markets import fast_params, random_market

    from matcher.serving.recommender import Recommender

    ds = random_market(5, n_workers=80, n_vacancies=60, n_events=600)
    path = Recommender(**fast_params()).fit(ds).save(tmp_path / "m")
    loaded = Recommender.load(path)  # checked here, before any request
    learned = [m for m in loaded.ranker_.stages_.values() if not isinstance(m, float)]
    assert learned
    assert all(STAGE_FAST_PATH.verdict(m) is True for m in learned)
    assert LEXICAL_WORDS_FAST_PATH.verdict(loaded.lexical_) is True
    verdicts = loaded.check_fast_paths()
    assert verdicts["lexical"] and all(v for k, v in verdicts.items() if k.startswith("ranker:"))
