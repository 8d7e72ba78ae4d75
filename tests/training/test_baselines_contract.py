"""The engine's shared ranking-model contract, run over both baselines."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))

from ranking_contract import RankingModelContract  # noqa: E402

from matcher.evaluation.baselines import KeywordRecommender, PopularityRecommender  # noqa: E402


class TestPopularityContract(RankingModelContract):
    def make_model(self):
        return PopularityRecommender(filter="eligibility")


class TestKeywordContract(RankingModelContract):
    def make_model(self):
        return KeywordRecommender(filter="eligibility")
