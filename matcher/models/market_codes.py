"""Occupation codes of a market's workers and vacancies, as one fitted model codes them.

Workers' codes come from the occupation normaliser over their skills and work history;
a vacancy's is its stored CSCO code, or the normaliser's code of its title where it has
none — or, with ``title_coding="market"``, the code a classifier adapted to the
snapshot's own coded postings gives every vacancy whose code the store inferred
(:func:`matcher.occupations.classifier.market_classifier`), and with
``title_coding="learned"`` the code the shipped suggestion model gives it
(:func:`matcher.occupations.classifier.suggest_model_file`). Codes are memoised per model
(its caches, pickled with it) and per process (models fitted one after the other in a
training run code the same texts once).

:class:`MarketCodes` holds that logic; the model keeps the state (its caches and title
coder) and builds one over them when it needs codes
(:meth:`matcher.serving.recommender.Recommender.market_codes`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from matcher.data.reference import is_csco_code
from matcher.eligibility.rules import INFERRED_SOURCE
from matcher.models.features import MAX_WORKER_CODES, matches_to_codes

__all__ = ["MEMO_SIZE", "MIN_MARKET_TITLES", "MarketCodes"]

#: Texts whose occupation codes are memoised per process (models fitted one after the
#: other in a training run extract the same workers' codes only once).
MEMO_SIZE = 500_000
_OCCUPATION_MEMO: dict[str, list[str]] = {}
_TITLE_MEMO: dict[str, str | None] = {}
#: Fewest given (not inferred) codes of titles a snapshot needs for a market title coder.
MIN_MARKET_TITLES = 100


class MarketCodes:
    """Codes workers and vacancies for one model.

    Parameters
    ----------
    title_coding : {"stored", "market", "learned"}
        The model's ``title_coding``.
    title_coder : OccupationClassifier or None
        The model's title coder (:meth:`fit_title_coder`), if any.
    occupation_cache, title_cache : dict
        The model's memos (worker text -> codes, title -> code), updated in place.
    """

    def __init__(
        self,
        title_coding: str,
        title_coder: Any,
        occupation_cache: dict[str, list[str]],
        title_cache: dict[str, str | None],
    ) -> None:
        self.title_coding = title_coding
        self.title_coder = title_coder
        self.occupation_cache = occupation_cache
        self.title_cache = title_cache

    def worker_codes(self, workers: pd.DataFrame) -> list[list[str]]:
        """Occupation codes the normaliser finds in each worker's skills and history
        (one list per row of ``workers``, which needs ``skills`` and ``work_history``);
        lines already coded by this model or in this process are not coded again."""
        from matcher.occupations.normaliser import default_normaliser

        cache = self.occupation_cache
        lines = [
            "；".join(str(x) for x in (s, h) if isinstance(x, str) and x.strip())
            for s, h in zip(workers["skills"], workers["work_history"], strict=True)
        ]
        missing = [t for t in dict.fromkeys(lines) if t not in cache]
        for t in missing:  # found by another model fitted in this process
            if t in _OCCUPATION_MEMO:
                cache[t] = _OCCUPATION_MEMO[t]
        missing = [t for t in missing if t not in cache]
        if missing:
            found = default_normaliser().extract_many(missing, max_codes=MAX_WORKER_CODES)
            for t, matches in zip(missing, found, strict=True):
                cache[t] = matches_to_codes(matches)
            _remember(_OCCUPATION_MEMO, {t: cache[t] for t in missing})
        return [cache[t] for t in lines]

    def vacancy_codes(self, vacancies: pd.DataFrame) -> list[str | None]:
        """Each vacancy's CSCO code; blank codes inferred from the title (and, with a
        market title coder, codes the store inferred too: see ``title_coding``)."""
        codes: list[str | None] = [
            c if isinstance(c, str) and is_csco_code(c) else None
            for c in vacancies["occupation_code"]
        ]
        coder = self.title_coder
        if coder is not None:
            return self._market_codes(vacancies, codes, coder)
        blank = [i for i, c in enumerate(codes) if c is None]
        if blank:
            cache = self.title_cache
            titles = [str(vacancies["title"].iloc[i] or "") for i in blank]
            todo = [t for t in dict.fromkeys(titles) if t not in cache]
            for t in todo:
                if t in _TITLE_MEMO:
                    cache[t] = _TITLE_MEMO[t]
            todo = [t for t in todo if t not in cache]
            if todo:
                from matcher.occupations.normaliser import default_normaliser

                found = default_normaliser().classify_many(todo)
                for t, m in zip(todo, _codes_of(found), strict=True):
                    cache[t] = m
                _remember(_TITLE_MEMO, {t: cache[t] for t in todo})
            for i, t in zip(blank, titles, strict=True):
                codes[i] = cache[t]
        return codes

    def _market_codes(
        self, vacancies: pd.DataFrame, codes: list[str | None], coder: Any
    ) -> list[str | None]:
        """``codes`` with every blank or store-inferred one replaced by ``coder``'s code
        of the vacancy's title (memoised per model: the coder is this fit's)."""
        sources = (
            vacancies["occupation_source"].tolist()
            if "occupation_source" in vacancies.columns
            else [None] * len(vacancies)
        )
        redo = [
            i
            for i, (c, src) in enumerate(zip(codes, sources, strict=True))
            if c is None or src == INFERRED_SOURCE
        ]
        if not redo:
            return codes
        cache = self.title_cache
        titles = [str(vacancies["title"].iloc[i] or "") for i in redo]
        todo = [t for t in dict.fromkeys(titles) if t not in cache]
        if todo:
            from matcher.occupations.classifier import UNCLASSIFIABLE_CODE

            for t, match in zip(todo, coder.classify_many(todo), strict=True):
                cache[t] = match.code if match.code != UNCLASSIFIABLE_CODE else None
        out = list(codes)
        for i, t in zip(redo, titles, strict=True):
            out[i] = cache[t]
        return out

    def fit_title_coder(self, vacancies: pd.DataFrame) -> Any:
        """The title coder: with ``title_coding="market"`` the shipped classifier
        adapted to the snapshot's vacancies whose code was given or corrected (not
        inferred), None with fewer than ``MIN_MARKET_TITLES`` of them; with
        ``"learned"`` the shipped suggestion model; None otherwise, or when every
        vacancy's code was given or corrected (nothing to code again)."""
        if self.title_coding not in ("market", "learned"):
            return None
        coded = vacancies["occupation_code"].map(lambda c: isinstance(c, str) and is_csco_code(c))
        inferred = (
            vacancies["occupation_source"].eq(INFERRED_SOURCE)
            if "occupation_source" in vacancies.columns
            else pd.Series(False, index=vacancies.index)
        )
        if (coded & ~inferred).all():  # nothing the coder would change: no fit
            return None
        if self.title_coding == "learned":
            from matcher.occupations.classifier import load_classifier, suggest_model_file

            return load_classifier(suggest_model_file())
        from matcher.occupations.classifier import LabelledTitle, market_classifier

        sources = (
            vacancies["occupation_source"]
            if "occupation_source" in vacancies.columns
            else pd.Series([None] * len(vacancies), index=vacancies.index)
        )
        examples = [
            LabelledTitle(str(t).strip(), str(c))
            for t, c, src in zip(
                vacancies["title"], vacancies["occupation_code"], sources, strict=True
            )
            if isinstance(c, str)
            and is_csco_code(c)
            and src != INFERRED_SOURCE
            and isinstance(t, str)
            and t.strip()
        ]
        if len(examples) < MIN_MARKET_TITLES:
            return None
        return market_classifier(examples)


def _remember(memo: dict, items: dict) -> None:
    if len(memo) + len(items) > MEMO_SIZE:
        memo.clear()
    memo.update(items)


def _codes_of(found: Any) -> list[str | None]:
    """Codes from ``classify_many`` output (a frame with ``code`` or a list of matches)."""
    if isinstance(found, pd.DataFrame):
        values = found["code"].tolist()
    else:
        values = [getattr(m, "code", m) for m in found]
    return [v if isinstance(v, str) and is_csco_code(v) else None for v in values]
