"""Occupation normalisation: free text -> CSCO 2022 code, name and confidence.

A vacancy title ("急招焊工包吃住月入8000") or a line of work history ("在东莞电子厂做过
贴片") is mapped onto the CSCO 2022 hierarchy (major group 1 digit, middle group, minor
group, detailed occupation: ``6-18-02-04`` 焊工 under ``6-18-02-00`` 机械热加工人员 under
``6-18-00-00`` under ``6-00-00-00``).

Method
------
1. **Cleaning.** :func:`matcher.text.encoders.clean_text` folds full-width characters and strips
   recruiting noise (急招, 包吃住, 月入8000, 日结…); digits are dropped (no CSCO name holds
   one).
2. **Lexical channel.** Every code contributes *entries*: its name (the CSCO markers
   "L" green / "S" digital occupation are removed), each alias, and one description entry
   (definition and tasks). Entries and queries become TF-IDF vectors over character
   n-grams (:class:`matcher.text.encoders.LexicalEncoder`, ``char_wb`` (1, 2)), so Chinese needs no
   word segmenter. A code's score is the best cosine over its name and alias entries plus
   ``description_weight`` times the cosine with its description (the description helps
   with titles that no alias covers; additive measured better than taking the maximum).
3. **Containment.** When a name or alias (two or more characters) occurs verbatim inside
   the cleaned query, the code gains ``containment_bonus`` scaled by the share of the
   query that the name covers — "电焊工" inside "招聘电焊工" is strong evidence even when
   the surrounding words dilute the cosine. The search runs on the text before noise
   stripping, so 招聘师 (an occupation whose name holds a noise word) is still found. On
   the benchmark sets it changes no top-1 answer; it is kept for those cases.
4. **Probabilities.** Scores become a distribution over all codes by a softmax with
   ``temperature`` (chosen by measurement in ``bench/occupation_bench.py``, where it
   minimises the held-out log-loss). The confidence of a group is its own probability
   plus that of all its descendants. An optional "none of these" outcome
   (``null_score``) lowers every confidence when the best match is weak in absolute
   terms; it measured a worse log-loss and is off by default.
5. **Back-off.** The best detailed occupation is returned when its confidence is at
   least ``threshold``; otherwise the best minor group, then middle group, then major
   group whose confidence reaches the threshold; if none does, no answer
   (:data:`NO_MATCH`). The threshold (default 0.5: the answer is more likely right than
   wrong) was chosen by measurement: above 0.5 the precision of the answers barely rises
   while the back-off rate keeps growing (``docs/benchmarks.md``).

An optional dense channel (``embedder``, e.g. a multilingual sentence-transformers
model) mixes ``embedding_weight`` of the cosine between embeddings into the entry scores.
The packaged all-MiniLM-L6-v2 is English-centric: on the benchmark it lowers accuracy at
every weight tried, so the default keeps the lexical channel alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from matcher.data import reference
from matcher.data.reference import Occupation
from matcher.text.encoders import LexicalEncoder, TextEmbedder, clean_text

#: CSCO 2022 marks green (L) and digital (S) occupations with a suffix on the name.
_MARKER_RE = re.compile(r"(?:L/S|L|S)$")
_DIGITS_RE = re.compile(r"\d+")
_SPACES_RE = re.compile(r"\s+")
#: Distinct phrases whose cleaning is remembered per process.
PHRASE_CACHE_SIZE = 500_000
# phrases of a skills or work-history text
_PHRASE_SPLIT_RE = re.compile(
    r"[\n\r。；;，,、/|｜!！?？]+|\s{2,}|(?<=[\u4e00-\u9fff])\s(?=[\u4e00-\u9fff])"
)
# experience verbs around an occupation in free text: 会电焊, 做过普工, 从事保洁工作
_EXPERIENCE_RE = re.compile(
    r"^(?:会|懂|熟悉|熟练|精通|擅长|能|可以|做过|干过|当过|从事过?|担任过?|负责|有)"
    r"|(?:工作|经验|经历|相关工作|等工作)$"
    r"|在.{1,12}?(?:做|当|干|从事)过?"
    r"|[一二三四五六七八九十两几多]+年(?:以上)?"
    r"|年(?:以上)?(?:工作)?经验"
)


def strip_marker(name: str) -> str:
    """``保洁员L`` -> ``保洁员``; ``导航与位置服务工程技术人员L/S`` -> ``…人员``."""
    return _MARKER_RE.sub("", name.strip())


def prepare_query(text: object, strip_noise: bool = True) -> str:
    """The normaliser's query cleaning: :func:`clean_text` minus digits.

    Index entries (CSCO names and aliases) are prepared with ``strip_noise=False``:
    an occupation such as 招聘师 must not lose its 招聘.
    """
    s = clean_text(text, strip_noise=strip_noise)
    s = _DIGITS_RE.sub(" ", s)
    return _SPACES_RE.sub(" ", s).strip()


@dataclass(frozen=True)
class OccupationMatch:
    """A classification: CSCO code, its name, confidence in [0, 1] and its level.

    ``level`` is 1 major, 2 middle, 3 minor group, 4 detailed occupation (as in the CSCO
    table), or 0 with an empty code when the text held nothing to classify or no group
    reached the confidence threshold.
    """

    code: str
    name: str
    confidence: float
    level: int

    @property
    def found(self) -> bool:
        return bool(self.code)


NO_MATCH = OccupationMatch(code="", name="", confidence=0.0, level=0)


class OccupationNormaliser:
    """Map free text onto CSCO 2022 with calibrated confidence and hierarchical back-off.

    Parameters
    ----------
    threshold : float, default 0.5
        Minimum confidence to answer at a level; below it the answer backs off to the
        parent group.
    temperature : float, default 0.06
        Softmax temperature turning scores into probabilities (smaller = sharper); chosen
        by held-out log-loss in the benchmark.
    ngram_range : tuple of int, default (1, 2)
        Character n-grams of the lexical channel; (1, 2) measured best for titles, ahead
        of (1, 3) and (2, 4).
    description_weight : float, default 0.8
        Weight of the definition-and-tasks cosine added to the best name/alias cosine.
    containment_bonus : float, default 0.5
        Added when a name or alias occurs verbatim in the query (scaled by its share).
    embedder : TextEmbedder, optional
        A dense channel (e.g. :class:`matcher.text.encoders.SentenceEmbedder`); None = lexical only.
    embedding_weight : float, default 0.3
        Share of the dense cosine in an entry's score when ``embedder`` is given.
    batch_size : int, default 2048
        Queries scored per block in :meth:`classify_many`.
    colloquial_aliases : bool, default True
        Add the everyday titles of ``matcher/data/occupation_aliases.csv`` (泥水工, 电焊,
        外卖骑手…) to the CSCO aliases. The benchmark fits without them, on CSCO alone.

    Attributes
    ----------
    codes_ : numpy.ndarray of str
        Every CSCO code, in a fixed order.
    levels_ : numpy.ndarray of int
    names_ : list of str
    lexical_ : LexicalEncoder
    entry_matrix_ : scipy.sparse.csr_matrix
        TF-IDF rows of the name and alias entries.
    entry_code_ : numpy.ndarray of int
        Code position of each entry.
    description_matrix_ : scipy.sparse.csr_matrix
        TF-IDF rows of each code's description (row i = code i; empty when none).
    group_matrix_ : scipy.sparse.csr_matrix
        (codes x codes) 0/1: row g marks g and its descendants (sums confidences).
    aliases_ : dict
        Cleaned name/alias -> code positions, for containment.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        temperature: float = 0.06,
        ngram_range: tuple[int, int] = (1, 2),
        description_weight: float = 0.8,
        containment_bonus: float = 0.5,
        embedder: TextEmbedder | None = None,
        embedding_weight: float = 0.3,
        batch_size: int = 2048,
        colloquial_aliases: bool = True,
        null_score: float | None = None,
    ) -> None:
        self.threshold = threshold
        self.temperature = temperature
        self.ngram_range = ngram_range
        self.description_weight = description_weight
        self.containment_bonus = containment_bonus
        self.embedder = embedder
        self.embedding_weight = embedding_weight
        self.batch_size = batch_size
        self.colloquial_aliases = colloquial_aliases
        self.null_score = null_score

    # ------------------------------------------------------------------ params

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "temperature": self.temperature,
            "ngram_range": self.ngram_range,
            "description_weight": self.description_weight,
            "containment_bonus": self.containment_bonus,
            "embedder": self.embedder,
            "embedding_weight": self.embedding_weight,
            "batch_size": self.batch_size,
            "colloquial_aliases": self.colloquial_aliases,
            "null_score": self.null_score,
        }

    def set_params(self, **params: Any) -> OccupationNormaliser:
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"OccupationNormaliser has no parameter {k!r}")
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ fit

    def fit(self, occupations: Mapping[str, Occupation] | None = None) -> OccupationNormaliser:
        """Index the CSCO table.

        Parameters
        ----------
        occupations : mapping of code -> Occupation, optional
            Default: all of CSCO 2022 (:func:`matcher.data.reference.occupations`). A copy with
            fewer aliases is how the benchmark holds aliases out.

        Returns
        -------
        OccupationNormaliser
            ``self``.
        """
        occs = dict(occupations if occupations is not None else reference.occupations())
        if not occs:
            raise ValueError("no occupations to index: the CSCO table is empty")
        extra = colloquial_aliases(occs) if self.colloquial_aliases else {}
        codes = sorted(occs)
        pos = {c: i for i, c in enumerate(codes)}
        self.codes_ = np.asarray(codes)
        self.levels_ = np.asarray([occs[c].level for c in codes], dtype=np.int8)
        self.names_ = [strip_marker(occs[c].name) for c in codes]

        entry_text: list[str] = []
        entry_code: list[int] = []
        aliases: dict[str, set[int]] = {}
        for i, c in enumerate(codes):
            seen: set[str] = set()
            for raw in (occs[c].name, *occs[c].aliases, *extra.get(c, ())):
                text = prepare_query(strip_marker(raw), strip_noise=False)
                if not text or text in seen:
                    continue
                seen.add(text)
                entry_text.append(text)
                entry_code.append(i)
                key = text.replace(" ", "")
                if len(key) >= 2:
                    aliases.setdefault(key, set()).add(i)
        descriptions = [
            prepare_query(
                f"{strip_marker(occs[c].name)} {occs[c].definition} {occs[c].tasks}",
                strip_noise=False,
            )
            if (occs[c].definition or occs[c].tasks)
            else ""
            for c in codes
        ]

        # one pass over names, aliases and (non-empty) descriptions: fit and vectorise
        described = [i for i, d in enumerate(descriptions) if d]
        self.lexical_ = LexicalEncoder(ngram_range=self.ngram_range)
        matrix = self.lexical_.fit_transform(entry_text + [descriptions[i] for i in described])
        n_entries = len(entry_text)
        self.entry_text_ = entry_text
        self.entry_matrix_ = sp.csr_matrix(matrix[:n_entries])
        self.entry_code_ = np.asarray(entry_code, dtype=np.int64)
        # entries are contiguous per code (appended in code order): block starts
        self.entry_owner_, self.entry_start_ = np.unique(self.entry_code_, return_index=True)
        place = sp.csr_matrix(
            (np.ones(len(described), dtype=np.float32), (described, np.arange(len(described)))),
            shape=(len(codes), len(described)),
        )
        self.description_matrix_ = sp.csr_matrix(place @ matrix[n_entries:])
        self.aliases_ = {k: np.asarray(sorted(v), dtype=np.int64) for k, v in aliases.items()}
        lengths: dict[str, set[int]] = {}
        for key in self.aliases_:
            lengths.setdefault(key[:2], set()).add(len(key))
        #: first two characters of a name/alias -> its possible lengths (ascending)
        self.alias_lengths_ = {k: sorted(v) for k, v in lengths.items()}

        # ancestors -> descendants incidence, for summing confidences over a group
        rows, cols = [], []
        for i, c in enumerate(codes):
            rows.append(i)
            cols.append(i)
            for a in reference.occupation_ancestors(c):
                if a in pos:
                    rows.append(pos[a])
                    cols.append(i)
        n = len(codes)
        self.group_matrix_ = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n)
        )
        # a code's ancestor at each level (-1 when absent), for the back-off
        self.ancestor_at_ = np.full((n, 5), -1, dtype=np.int64)
        for i, c in enumerate(codes):
            self.ancestor_at_[i, int(self.levels_[i])] = i
            for a in reference.occupation_ancestors(c):
                if a in pos:
                    lvl = int(occs[a].level)
                    if self.ancestor_at_[i, lvl] < 0:
                        self.ancestor_at_[i, lvl] = pos[a]

        self.entry_embeddings_: np.ndarray | None = None
        if self.embedder is not None:
            self.entry_embeddings_ = self.embedder.encode(entry_text)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "codes_"):
            raise RuntimeError("OccupationNormaliser is not fitted; call fit() first")

    # ------------------------------------------------------------------ scoring

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Raw per-code scores (queries x codes) and the cleaned queries."""
        self._check_fitted()
        queries = [prepare_query(t) for t in texts]
        q = self.lexical_.transform(queries)
        n_codes = len(self.codes_)
        entry_sim = (q @ self.entry_matrix_.T).toarray()
        if self.embedder is not None and self.entry_embeddings_ is not None:
            dense = self.embedder.encode(queries) @ self.entry_embeddings_.T
            w = self.embedding_weight
            entry_sim = (1.0 - w) * entry_sim + w * dense
        best = np.zeros((len(queries), n_codes), dtype=np.float32)
        # max over each code's entries (contiguous blocks, see fit)
        best[:, self.entry_owner_] = np.maximum.reduceat(entry_sim, self.entry_start_, axis=1)
        if self.description_weight:
            desc = (q @ self.description_matrix_.T).toarray()
            best += (self.description_weight * desc).astype(np.float32)
        if self.containment_bonus:
            for r, (raw, query) in enumerate(zip(texts, queries, strict=True)):
                # search the text before noise stripping (招聘师 keeps its 招聘) but
                # measure the share against the stripped query (noise does not dilute)
                plain = prepare_query(raw, strip_noise=False).replace(" ", "")
                for code_pos, share in self._contained(plain, len(query.replace(" ", ""))):
                    best[r, code_pos] += self.containment_bonus * share
        return best, queries

    def _contained(self, compact: str, core_len: int) -> Iterable[tuple[int, float]]:
        """(code position, share) for names/aliases inside ``compact``; the share is the
        alias length over ``core_len`` (the noise-free query length), at most 1."""
        n = len(compact)
        if n < 2:
            return []
        found: dict[int, float] = {}
        for start in range(n - 1):
            lengths = self.alias_lengths_.get(compact[start : start + 2])
            if lengths is None:  # no name or alias starts with these two characters
                continue
            for length in lengths:
                if start + length > n:
                    break
                hit = self.aliases_.get(compact[start : start + length])
                if hit is None:
                    continue
                share = min(1.0, length / max(core_len, 1))
                for code_pos in hit:
                    if share > found.get(int(code_pos), 0.0):
                        found[int(code_pos)] = share
        return found.items()

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each code (queries x codes); empty queries give 0 rows.

        A softmax over the code scores, with an extra "none of these" outcome of score
        ``null_score`` when that is set: a query whose best match is weak in absolute
        terms (no name or alias really resembles it) keeps mass on "none", so every
        code's probability, and the confidence, stay low. Rows sum to 1 minus that mass.
        """
        best, queries = self.scores(texts)
        t = max(self.temperature, 1e-6)
        logits = best / t
        top = logits.max(axis=1, keepdims=True)
        if self.null_score is not None:
            top = np.maximum(top, self.null_score / t)
        p = np.exp(logits - top)
        total = p.sum(axis=1, keepdims=True)
        if self.null_score is not None:
            total = total + np.exp(self.null_score / t - top)
        p /= total
        empty = np.asarray([not q for q in queries])
        p[empty] = 0.0
        return p

    # ------------------------------------------------------------------ classify

    def classify(self, text: str) -> OccupationMatch:
        """Classify one text; see :meth:`classify_many`."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[OccupationMatch]:
        """Classify many texts at once (vectorised in blocks of ``batch_size``).

        Parameters
        ----------
        texts : sequence of str
            Vacancy titles, skills lines, work-history lines. Blank entries give
            :data:`NO_MATCH` (empty code, level 0).

        Returns
        -------
        list of OccupationMatch
            In input order: the detailed code when confident, else the nearest parent
            group whose confidence reaches ``threshold``, else :data:`NO_MATCH`.
        """
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("classify_many takes a sequence of texts; use classify(text)")
        # each distinct text is scored once (titles and skill phrases repeat a lot); and
        # texts that clean to the same query are one query: the answer depends only on
        # the cleaned query and the cleaned text the containment bonus searches
        # ("2019-2021 从江县饭店" and "2020-2022 从江县饭店" differ only in digits)
        keys = ["" if t is None else str(t) for t in texts]
        unique = list(dict.fromkeys(keys))
        query_of = {t: _query_key(t) for t in unique}
        queries = list(dict.fromkeys(query_of.values()))
        first: dict[tuple[str, str], str] = {}
        for t in unique:
            first.setdefault(query_of[t], t)
        answers: list[OccupationMatch] = []
        for start in range(0, len(queries), self.batch_size):
            block = [first[q] for q in queries[start : start + self.batch_size]]
            answers.extend(self._classify_block(block))
        found = dict(zip(queries, answers, strict=True))
        return [found[query_of[k]] for k in keys]

    def _classify_block(self, texts: list[str]) -> list[OccupationMatch]:
        if not texts:
            return []
        p = self.probabilities(texts)
        group_conf = np.asarray((self.group_matrix_ @ p.T).T)  # queries x codes
        n = len(texts)
        chosen = np.full(n, -1, dtype=np.int64)
        chosen_conf = np.zeros(n)
        for level in (4, 3, 2, 1):  # the deepest level whose best code is confident
            cols = np.flatnonzero(self.levels_ == level)
            if cols.size == 0:
                continue
            j = np.argmax(group_conf[:, cols], axis=1)
            c = group_conf[np.arange(n), cols[j]]
            take = (chosen < 0) & (c >= self.threshold) & (c > 0)
            chosen[take] = cols[j][take]
            chosen_conf[take] = c[take]
        out: list[OccupationMatch] = []
        for r in range(n):
            i = int(chosen[r])
            if i < 0:
                out.append(NO_MATCH)
                continue
            out.append(
                OccupationMatch(
                    code=str(self.codes_[i]),
                    name=self.names_[i],
                    confidence=float(min(max(chosen_conf[r], 0.0), 1.0)),
                    level=int(self.levels_[i]),
                )
            )
        return out

    def top(self, text: str, k: int = 5) -> list[OccupationMatch]:
        """The ``k`` most probable detailed occupations (no back-off), for review screens."""
        p = self.probabilities([text])[0]
        order = np.argsort(-p)
        out: list[OccupationMatch] = []
        for i in order:
            if len(out) >= k or p[i] <= 0:
                break
            out.append(
                OccupationMatch(
                    str(self.codes_[i]), self.names_[i], float(p[i]), int(self.levels_[i])
                )
            )
        return out

    # ------------------------------------------------------------------ extract

    def extract(
        self, text: str, max_codes: int = 3, min_confidence: float | None = None
    ) -> list[OccupationMatch]:
        """Occupations mentioned in a skills or work-history text.

        The text is split into phrases (lines, punctuation, enumerations); experience
        words ("会", "做过", "三年经验") are dropped; each phrase is classified; answers
        below ``min_confidence`` (default: ``threshold``) or above detailed/minor level
        are discarded; the same code found twice keeps its best confidence.

        Parameters
        ----------
        text : str
        max_codes : int, default 3
        min_confidence : float, optional

        Returns
        -------
        list of OccupationMatch
            At most ``max_codes``, most confident first; empty when nothing is found.
        """
        return self.extract_many([text], max_codes=max_codes, min_confidence=min_confidence)[0]

    def extract_many(
        self, texts: Sequence[str], max_codes: int = 3, min_confidence: float | None = None
    ) -> list[list[OccupationMatch]]:
        """:meth:`extract` for many texts, classifying all their phrases in one batch."""
        self._check_fitted()
        floor = self.threshold if min_confidence is None else min_confidence
        phrases: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for phrase in split_phrases(text):
                phrases.append(phrase)
                owner.append(i)
        matches = self.classify_many(phrases)
        found: list[dict[str, OccupationMatch]] = [{} for _ in texts]
        for i, m in zip(owner, matches, strict=True):
            if m.level < 3 or m.confidence < floor:
                continue
            prev = found[i].get(m.code)
            if prev is None or m.confidence > prev.confidence:
                found[i][m.code] = m
        return [
            sorted(f.values(), key=lambda m: (-m.confidence, m.code))[:max_codes] for f in found
        ]

    def __repr__(self) -> str:
        return (
            f"OccupationNormaliser(threshold={self.threshold}, temperature={self.temperature}, "
            f"ngram_range={self.ngram_range}, description_weight={self.description_weight}, "
            f"containment_bonus={self.containment_bonus}, embedder={self.embedder!r})"
        )


def split_phrases(text: object) -> list[str]:
    """Split a skills or work-history text into short phrases naming one activity each."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    out = []
    for part in _PHRASE_SPLIT_RE.split(str(text)):
        stripped = _phrase(part)
        if stripped:
            out.append(stripped)
    return out


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _phrase(part: str) -> str | None:
    """One split part without experience words; None when nothing is left to classify.
    Cached: the parts of a million work histories repeat (same employer, same job)."""
    part = part.strip()
    if not part:
        return None
    stripped = _EXPERIENCE_RE.sub(" ", part).strip()
    stripped = _EXPERIENCE_RE.sub(" ", stripped).strip()
    return stripped if prepare_query(stripped) else None


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _query_key(text: str) -> tuple[str, str]:
    """What :meth:`OccupationNormaliser.scores` reads of a text: the cleaned query and the
    cleaned, unstripped text the containment bonus searches."""
    return prepare_query(text), prepare_query(text, strip_noise=False).replace(" ", "")


#: Everyday job titles missing from CSCO's alias lists (data, not code).
COLLOQUIAL_ALIASES_TABLE = "occupation_aliases.csv"


def colloquial_aliases(occupations: Mapping[str, Occupation] | None = None) -> dict[str, list[str]]:
    """``matcher/data/occupation_aliases.csv`` as code -> aliases.

    Parameters
    ----------
    occupations : mapping, optional
        Keep only codes present here (a normaliser fitted on part of CSCO).

    Raises
    ------
    ValueError
        If a row names a code that is not a CSCO 2022 code (names the row).
    """
    known = reference.occupations()
    table = reference.domain_table(COLLOQUIAL_ALIASES_TABLE)
    out: dict[str, list[str]] = {}
    for i, (code, alias) in enumerate(zip(table["code"], table["alias"], strict=True)):
        if code not in known:
            raise ValueError(
                f"matcher/data/{COLLOQUIAL_ALIASES_TABLE}: row {i + 1}: code {code!r} is not "
                "a CSCO 2022 occupation code; fix or remove the row"
            )
        if alias.strip() and (occupations is None or code in occupations):
            out.setdefault(code, []).append(alias.strip())
    return out


@cache
def default_normaliser() -> OccupationNormaliser:
    """A fitted normaliser over all of CSCO 2022 with the default settings (cached)."""
    return OccupationNormaliser().fit()
