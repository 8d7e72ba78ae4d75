"""title_coding="market": vacancy codes the store inferred from the title are coded again
by the shipped classifier adapted to the snapshot's own coded postings; "learned": by the
shipped suggestion model."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

import matcher.occupations.classifier as classifier
from matcher.models.config import ConfigError, RecommenderConfig
from matcher.models.market_codes import MIN_MARKET_TITLES
from matcher.serving import precomputed
from matcher.serving.recommender import Recommender

WELDER, COOK, CLEANER = "6-18-02-04", "4-03-02-01", "4-09-08-01"


@dataclass(frozen=True)
class _Match:
    code: str


class _Coder:
    """Codes every title containing 焊 as a welder, else as a cook; counts its calls."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def classify_many(self, texts):
        self.seen.extend(texts)
        return [_Match(WELDER if "焊" in t else COOK) for t in texts]


def _vacancies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": ["电焊工", "焊工学徒", "保洁员", "炒菜师傅", "电焊工"],
            "occupation_code": [CLEANER, None, CLEANER, CLEANER, CLEANER],
            "occupation_source": ["given", None, "corrected", "inferred", "inferred"],
        }
    )


def test_market_coding_recodes_inferred_and_blank_codes_and_keeps_given_ones():
    model = Recommender(title_coding="market")
    model.title_cache_ = {}
    model.title_coder_ = coder = _Coder()
    codes = model.vacancy_codes(_vacancies())
    # given and corrected codes stay even where the coder disagrees (电焊工 is given
    # as a cleaner); blank and inferred ones take the coder's code
    assert codes == [CLEANER, WELDER, CLEANER, COOK, WELDER]
    assert sorted(coder.seen) == sorted(["焊工学徒", "炒菜师傅", "电焊工"])  # each title once
    model.vacancy_codes(_vacancies())
    assert len(coder.seen) == 3  # memoised per model


def test_stored_coding_uses_the_stored_codes():
    model = Recommender(title_coding="stored")
    model.title_cache_ = {"焊工学徒": WELDER}  # a blank code is still inferred
    model.title_coder_ = None
    assert model.vacancy_codes(_vacancies()) == [CLEANER, WELDER, CLEANER, CLEANER, CLEANER]


def test_the_market_coder_learns_from_given_and_corrected_codes_only(monkeypatch):
    seen: list = []

    def fake_market_classifier(examples):
        seen.append(list(examples))
        return "coder"

    monkeypatch.setattr(classifier, "market_classifier", fake_market_classifier)
    n = MIN_MARKET_TITLES
    frame = pd.DataFrame(
        {
            "title": [f"焊工{i}" for i in range(n)] + ["厨师", " ", "保洁"],
            "occupation_code": [WELDER] * n + [COOK, COOK, "not-a-code"],
            "occupation_source": ["given"] * (n - 1) + ["corrected", "inferred", "given", None],
        }
    )
    model = Recommender(title_coding="market")
    assert model.fit_title_coder(frame) == "coder"
    assert [(ex.title, ex.code) for ex in seen[0]] == [(f"焊工{i}", WELDER) for i in range(n)]
    # one title fewer than the minimum: no coder, the stored codes serve
    assert model.fit_title_coder(frame.iloc[1:]) is None
    assert Recommender(title_coding="stored").fit_title_coder(frame) is None


def test_title_coding_is_validated_and_old_keys_do_not_change():
    with pytest.raises(ConfigError, match="title_coding must be one of stored, market, learned"):
        RecommenderConfig(title_coding="guess")
    assert RecommenderConfig.from_json({}).title_coding == "stored"
    # a model pickled before the parameter existed reads "stored"
    old = Recommender.__new__(Recommender)
    assert old.title_coding == "stored" and old.title_coder_ is None


def test_fit_key_of_stored_coding_is_the_key_from_before_the_parameter(monkeypatch):
    model = Recommender(title_coding="stored")
    for name, value in (
        ("trained_at_", "t"),
        ("data_fingerprint_", "f"),
        ("version_", 2),
        ("embedder_", object()),
    ):
        setattr(model, name, value)
    monkeypatch.setattr(Recommender, "check_fitted", lambda self: None)
    stored = precomputed.fit_key(model)
    params = Recommender.get_params
    monkeypatch.setattr(
        Recommender,
        "get_params",
        lambda self, deep=True: {k: v for k, v in params(self).items() if k != "title_coding"},
    )
    assert precomputed.fit_key(model) == stored  # as computed before the parameter
    monkeypatch.setattr(Recommender, "get_params", params)
    model.title_coding = "market"
    assert precomputed.fit_key(model) != stored


def test_no_coder_is_fitted_when_every_code_was_given(monkeypatch):
    monkeypatch.setattr(classifier, "market_classifier", lambda examples: "coder")
    n = MIN_MARKET_TITLES + 5
    frame = pd.DataFrame(
        {
            "title": [f"焊工{i}" for i in range(n)],
            "occupation_code": [WELDER] * n,
            "occupation_source": ["given"] * n,
        }
    )
    model = Recommender(title_coding="market")
    assert model.fit_title_coder(frame) is None  # nothing to code again
    frame.loc[3, "occupation_code"] = None  # a blank code is coded by the market coder
    assert model.fit_title_coder(frame) == "coder"


def test_learned_coding_codes_inferred_titles_with_the_shipped_suggestion_model(monkeypatch):
    loaded: list = []

    def fake_load(path=None):
        loaded.append(path)
        return "suggestion model"

    monkeypatch.setattr(classifier, "load_classifier", fake_load)
    model = Recommender(title_coding="learned")
    assert model.fit_title_coder(_vacancies()) == "suggestion model"
    assert loaded == [classifier.suggest_model_file()]
    # every code given or corrected: nothing to code again, nothing loaded
    given = _vacancies().assign(occupation_source="given", occupation_code=CLEANER)
    assert model.fit_title_coder(given) is None and len(loaded) == 1
    assert Recommender(title_coding="stored").fit_title_coder(_vacancies()) is None
    # the coder recodes blank and inferred codes only, as the market coder does
    model.title_cache_ = {}
    model.title_coder_ = coder = _Coder()
    assert model.vacancy_codes(_vacancies()) == [CLEANER, WELDER, CLEANER, COOK, WELDER]
    assert sorted(coder.seen) == sorted(["焊工学徒", "炒菜师傅", "电焊工"])
