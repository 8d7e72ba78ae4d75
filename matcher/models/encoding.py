"""Encoding the two sides of a pair: text vectors (word by word where exact) and the
worker side every scoring path needs.

The live request (:meth:`matcher.serving.recommender.Recommender.recommend_many`, through the
catalogue), the nightly batch scorer (:class:`matcher.serving.batch.BatchScorer`) and the
precomputed lists all encode workers here, so that they read the same vectors.

Dense (feature hashing) and lexical (TF-IDF) text vectors of character n-grams within
words are sums over the text's words, so each distinct word is vectorised once
(:func:`hashing_vectors`, :func:`lexical_vectors`; exact, up to float rounding).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.models.features import WorkerProfiles, worker_profiles
from matcher.text.encoders import HashingEmbedder, LexicalEncoder, word_counts


class EncodingModel(Protocol):
    """What encoding needs of a fitted model: its text encoders and occupation coder."""

    #: the dense text encoder (a :class:`matcher.text.encoders.HashingEmbedder` or a sentence model)
    embedder_: Any
    #: the fitted lexical (TF-IDF) encoder
    lexical_: LexicalEncoder

    def embed(self, texts: list[str]) -> np.ndarray:
        """Dense vectors of ``texts`` (rows in order), through the model's memo."""
        ...

    def worker_codes(self, workers: pd.DataFrame) -> list[list[str]]:
        """Occupation codes found in each worker's skills and history."""
        ...

    def vacancy_codes(self, vacancies: pd.DataFrame) -> list[str | None]:
        """Each vacancy's CSCO code (inferred from the title where blank)."""
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


def lexical_vectors(encoder: LexicalEncoder, texts: Sequence[str]) -> sp.csr_matrix:
    """``encoder.transform(texts)``, each distinct word's n-grams counted once
    (:meth:`matcher.text.encoders.LexicalEncoder.transform_words`, behind its fast-path guard)."""
    return encoder.transform_words(list(texts))


def dense_vectors(model: EncodingModel, texts: Sequence[str]) -> np.ndarray:
    """Dense text vectors with the model's embedder (hashing: word by word; a sentence
    model: through the model's memo of texts already encoded)."""
    if isinstance(model.embedder_, HashingEmbedder):
        return hashing_vectors(model.embedder_, texts)
    return model.embed(list(texts))


# --------------------------------------------------------------------------- worker side


_Rows = TypeVar("_Rows")


def take_rows(rows: _Rows, idx: np.ndarray) -> _Rows:
    """The per-row dataclass ``rows`` (profiles: each field one entry per row of
    ``rows.ids``, or empty when not assessed) restricted to the rows ``idx``, in that
    order. A new object: its arrays and lists are copies, so setting or changing a field
    of it leaves ``rows`` as it was."""
    n = len(rows.ids)  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(rows):  # type: ignore[arg-type]
        a = getattr(rows, f.name)
        if isinstance(a, pd.Index):
            values[f.name] = a[idx]
        elif len(a) != n:  # not assessed (empty)
            values[f.name] = list(a) if isinstance(a, list) else np.array(a, copy=True)
        elif isinstance(a, list):
            values[f.name] = [a[i] for i in idx]
        else:
            values[f.name] = np.asarray(a)[idx]
    return type(rows)(**values)


@dataclasses.dataclass
class WorkerSide:
    """What the scorer needs of a set of workers (rows in the frame's order)."""

    wp: WorkerProfiles
    dense: np.ndarray
    lex: sp.csr_matrix
    lfm: np.ndarray

    def take(self, idx: np.ndarray) -> WorkerSide:
        """The rows ``idx`` of this side, in that order (a worker's vectors do not depend
        on the other workers encoded with it)."""
        return take_encoded(self, idx)


def take_encoded(side: _Rows, idx: np.ndarray) -> _Rows:
    """The rows ``idx`` of an encoded side (a dataclass of profiles and per-row vectors:
    :class:`WorkerSide`, :class:`matcher.models.catalogue.EncodedVacancies`), in that
    order; a new object (:func:`take_rows`)."""
    idx = np.asarray(idx, dtype=np.int64)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(side):  # type: ignore[arg-type]
        a = getattr(side, f.name)
        if sp.issparse(a):
            values[f.name] = sp.csr_matrix(a[idx])
        elif isinstance(a, np.ndarray):
            values[f.name] = a[idx]
        else:
            values[f.name] = take_rows(a, idx)
    return type(side)(**values)


def encode_workers(model: EncodingModel, retrieval: Any, workers: pd.DataFrame) -> WorkerSide:
    """Profiles, dense and lexical text vectors and LightFM user vectors of ``workers``
    (cold: their attributes and texts, no identity factor unless seen in training)."""
    wp = worker_profiles(workers, model.worker_codes(workers))
    dense = dense_vectors(model, wp.texts)
    lex = lexical_vectors(model.lexical_, wp.texts)
    tokens = with_clusters(wp.tokens, retrieval.clusters.predict(dense))
    lfm = retrieval.lightfm.user_vectors(retrieval.worker_space.transform(list(wp.ids), tokens))
    return WorkerSide(wp=wp, dense=dense, lex=lex, lfm=lfm)
