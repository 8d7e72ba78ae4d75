"""Encoding the two sides of a pair: text vectors (word by word where exact) and the
worker side every scoring path needs.

The live request (:meth:`matcher.recommender.Recommender.recommend_many`, through the
catalogue), the nightly batch scorer (:class:`matcher.batch.BatchScorer`) and the
precomputed lists all encode workers here, so that they read the same vectors.

Dense (feature hashing) and lexical (TF-IDF) text vectors of character n-grams within
words are sums over the text's words, so each distinct word is vectorised once
(:func:`hashing_vectors`, :func:`lexical_vectors`; exact, up to float rounding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.fast_path_guard import FastPathGuard
from matcher.features import WorkerProfiles, worker_profiles
from matcher.text import HashingEmbedder, csr_difference, probe_texts, word_counts


class EncodingModel(Protocol):
    """What encoding needs of a fitted model: its text encoders and occupation coder."""

    #: the dense text encoder (a :class:`matcher.text.HashingEmbedder` or a sentence model)
    embedder_: Any
    #: the fitted :class:`matcher.text.LexicalEncoder`
    lexical_: Any

    def embed(self, texts: list[str]) -> np.ndarray:
        """Dense vectors of ``texts`` (rows in order), through the model's memo."""
        ...

    def worker_codes(self, workers: pd.DataFrame) -> list[list[str]]:
        """Occupation codes found in each worker's skills and history."""
        ...


def with_clusters(tokens: list[list[str]], clusters: np.ndarray) -> list[list[str]]:
    """Each row's LightFM feature tokens plus its text cluster's token (cluster -1:
    none)."""
    return [
        [*t, f"cluster:{c}"] if c >= 0 else list(t) for t, c in zip(tokens, clusters, strict=True)
    ]


# --------------------------------------------------------------------------- texts


def hashing_vectors(embedder: HashingEmbedder, texts: Sequence[str]) -> np.ndarray:
    """``embedder.encode(texts)``, vectorising each distinct word once.

    Character n-grams of the ``char_wb`` analyser never cross a word boundary, so a
    text's hashed counts are the sum of its words' counts; the L2 norm is taken after.
    """
    from sklearn.preprocessing import normalize

    if len(texts) == 0:
        return np.zeros((0, embedder.dim), np.float32)
    words, counts = word_counts(texts)
    x = counts @ embedder.vectorizer(norm=None).transform(words).astype(np.float32)
    return np.asarray(normalize(x, norm="l2").toarray(), dtype=np.float32)


#: Per lexical encoder: does :func:`lexical_vectors`' word-by-word path (which reads
#: the fitted ``TfidfVectorizer``'s private ``_tfidf``) give sklearn's ``transform`` rows?
LEXICAL_FAST_PATH = FastPathGuard("the word-by-word TF-IDF of lexical_vectors")


def lexical_vectors(encoder: Any, texts: Sequence[str]) -> sp.csr_matrix:
    """``encoder.transform(texts)`` for a fitted :class:`matcher.text.LexicalEncoder`,
    counting each distinct word's n-grams once (raw counts add up over words; the
    sublinear tf, idf and L2 norm are applied to the text's total). The word-by-word
    path is used once :data:`LEXICAL_FAST_PATH` found it agrees with sklearn's
    ``transform`` for this encoder (:func:`check_lexical_fast_path`)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = getattr(encoder, "vectorizer_", None)
    if (
        not isinstance(vec, TfidfVectorizer)
        or getattr(encoder, "clean", False)
        or vec.analyzer != "char_wb"
        or len(texts) == 0
        or not LEXICAL_FAST_PATH.allows(encoder, vec, lambda: _lexical_problem(vec))
    ):
        return encoder.transform(list(texts))
    return _lexical_by_words(vec, texts)


def check_lexical_fast_path(encoder: Any) -> bool:
    """Check now (at model load) that :func:`lexical_vectors`' word-by-word path gives
    sklearn's ``transform`` rows for ``encoder`` on :func:`matcher.text.probe_texts`;
    when not, it logs a warning and ``lexical_vectors`` uses ``encoder.transform``.
    Returns whether the word-by-word path is used (False too when it does not apply)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = getattr(encoder, "vectorizer_", None)
    if (
        not isinstance(vec, TfidfVectorizer)
        or getattr(encoder, "clean", False)
        or vec.analyzer != "char_wb"
    ):
        return False
    return LEXICAL_FAST_PATH.verify(encoder, vec, lambda: _lexical_problem(vec))


def _lexical_problem(vec: Any) -> str | None:
    texts = probe_texts(vec)
    return csr_difference(_lexical_by_words(vec, texts), vec.transform(texts))


def _lexical_by_words(vec: Any, texts: Sequence[str]) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import CountVectorizer

    words, counts = word_counts(texts)
    per_word = CountVectorizer.transform(vec, words)
    total = counts @ per_word.astype(np.float32)
    return sp.csr_matrix(vec._tfidf.transform(total, copy=False), dtype=np.float32)


def dense_vectors(model: EncodingModel, texts: Sequence[str]) -> np.ndarray:
    """Dense text vectors with the model's embedder (hashing: word by word; a sentence
    model: through the model's memo of texts already encoded)."""
    if isinstance(model.embedder_, HashingEmbedder):
        return hashing_vectors(model.embedder_, texts)
    return model.embed(list(texts))


# --------------------------------------------------------------------------- worker side


@dataclasses.dataclass
class WorkerSide:
    """What the scorer needs of a set of workers (rows in the frame's order)."""

    wp: WorkerProfiles
    dense: np.ndarray
    lex: sp.csr_matrix
    lfm: np.ndarray


def encode_workers(model: EncodingModel, retrieval: Any, workers: pd.DataFrame) -> WorkerSide:
    """Profiles, dense and lexical text vectors and LightFM user vectors of ``workers``
    (cold: their attributes and texts, no identity factor unless seen in training)."""
    wp = worker_profiles(workers, model.worker_codes(workers))
    dense = dense_vectors(model, wp.texts)
    lex = lexical_vectors(model.lexical_, wp.texts)
    tokens = with_clusters(wp.tokens, retrieval.clusters.predict(dense))
    lfm = retrieval.lightfm.user_vectors(retrieval.worker_space.transform(list(wp.ids), tokens))
    return WorkerSide(wp=wp, dense=dense, lex=lex, lfm=lfm)
