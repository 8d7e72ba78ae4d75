"""The jobmatch Recommender: hybrid retrieval, eligibility, learned ranking, reasons.

Pipeline for one worker (``recommend``)
---------------------------------------
1. **Retrieval.** Five channels score every open vacancy with one
   matrix-vector product or gather each: the LightFM hybrid score
   ``q_u . p_i + b_u + b_i`` (:mod:`matcher.models.retrieval`; Kula 2015, WARP loss of
   Weston et al. 2011), the dense cosine of sentence embeddings, the lexical
   TF-IDF cosine of character n-grams, the referral/network pull (how many people
   from the worker's county saw and applied to the vacancy's employer, province
   and prefecture in training: 老乡介绍 and the county's migration routes) and
   the vacancy's popularity in training. The vacancy sides are precomputed.
2. **Eligibility.** The hard rules (:mod:`matcher.eligibility.rules`) mask every
   vacancy the worker may not take; an ineligible pair is never returned.
   Vacancies the worker already applied to (or was hired on) are masked too:
   they are not news to the worker or the officer.
3. **Candidates.** The union of the top ``n_candidates`` eligible vacancies of
   each channel (a few hundred at most).
4. **Ranking.** Pair features (:mod:`matcher.models.features`) of the candidates go
   through the continuation-ratio booster (:mod:`matcher.models.ranking`), which gives
   a calibrated probability of a stable placement; the ``k`` best are returned
   with reasons and warnings (:mod:`matcher.models.explain`).

``candidates(vacancy_id, k)`` runs the same pipeline from the vacancy's side.
Cold workers and vacancies (no history, or created after training and added with
:meth:`Recommender.refresh`) are scored by their attributes (LightFM feature
tokens without an identity token) and their text.

Training the ranker without leaks
---------------------------------
The ranker must learn from retrieval scores and statistics as they look for
pairs the retrieval stage has *not* seen, or it would learn to trust an
overfitted LightFM score. ``fit`` therefore holds out the last
``ranker_holdout`` share of the events (by time): retrieval and statistics are
fitted on the earlier events, the ranker on the pairs of the later ones, and
finally retrieval and statistics are refitted on all events for serving. The
ranker's pairs mirror what serving ranks: vacancies open at the holdout cutoff
(seats then = seats now + hires since), positives the pairs first applied to
after it, negatives eligible vacancies drawn uniformly (a pair only *viewed* is
not a negative of its own: exposure is what a recommendation changes). The ranker's inputs at serving time have the same
meaning as at training (each is computed from events before the pairs it
scores).

Calibration: the latest ``calibration_share`` of the events is held out from the
booster (it learns from the ``ranker_holdout`` share before it); retrieval and
statistics are fitted once more on the events before that slice, and the stages
are calibrated on its pairs (:class:`matcher.models.ranker_training.RankerTrainer`,
:mod:`matcher.models.calibration`): apply on the pairs *shown* (``viewed``), hire on the
applications, stay on every hire at risk (censored); then their product is mapped
once more onto the outcome of the slice's proposals (the pairs shown, a censored hire
counting its chance of lasting the horizon: :class:`matcher.models.calibration.JointCalibrator`).
The product estimates P(stable placement for ``stay_weeks`` weeks | proposed, the
worker is looking); times the worker's P(looking for work) now, learned from the
search rates by state of the job history (:mod:`matcher.models.availability`: a worker who
left a job days ago, or is still in a job that had arrears or an injury recorded,
rarely is), the score is a probability per proposal, comparable across workers,
which the nightly plan maximises.

Stages
------
``stages="full"`` is the model above. ``"lightfm"`` ranks eligible vacancies by
the LightFM score alone and ``"content"`` by the mean of dense and lexical
similarity alone (no learning from outcomes): the ablations the training report
compares against.

Artifact
--------
:meth:`Recommender.save` writes one folder: ``recommender.joblib`` (the whole
fitted object) and ``artifact.json`` (:data:`ARTIFACT_VERSION`, class, package
versions, the typed :class:`matcher.models.config.RecommenderConfig` as plain JSON and the
embedder's class). :meth:`Recommender.load` reads the versions in
:data:`READABLE_ARTIFACT_VERSIONS` (version 1, whose ``artifact.json`` held the
parameters as repr strings, loads: the pickled object carries its parameters) and
refuses any other with a message saying to retrain.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.artifacts import load_joblib
from matcher.data.dataset import Dataset, snapshot_time
from matcher.data.schema import PURSUED_EVENTS, Columns, EventType
from matcher.models.availability import Availability
from matcher.models.base import (
    CANDIDATE_COLUMNS,
    RECOMMENDATION_COLUMNS,
    NotFittedError,
    RankingModel,
)
from matcher.models.catalogue import (
    Catalogue,
    EncodedSides,
    VacancyCatalogue,
    barred_pairs,
    open_columns_of,
)
from matcher.models.config import ConfigError, RecommenderConfig
from matcher.models.encoding import (
    WorkerSide,
    encode_workers,
    with_clusters,
)
from matcher.models.explain import stable_chance, texts
from matcher.models.features import (
    PAIR_COLUMNS,
    RANKER_COLUMNS,
    EmbeddingClusters,
    FeatureSpace,
    PairStatistics,
    VacancyContext,
    time_ns,
    vacancy_profiles,
    vacancy_texts,
    worker_profiles,
    worker_texts,
)
from matcher.models.festival import FestivalLeave
from matcher.models.market_codes import MarketCodes
from matcher.models.ranker_training import RankerTrainer
from matcher.models.ranking import (
    STAGES,
    STAY_COVARIATE_L2,
)
from matcher.models.retrieval import (
    PAIR_BLOCK_WORKERS,
    CandidateGenerator,
    ContentIndex,
    LightFMRetriever,
    RetrievalFit,
    fit_ranker_proxy,
    interaction_weights,
)
from matcher.models.scoring import PairScorer, candidate_runs

#: Version of the saved artifact layout; bump when a saved model can no longer be read.
#: 2: ``artifact.json`` holds the config as JSON (``config``) and the embedder's class.
ARTIFACT_VERSION = 2
#: Artifact versions :meth:`Recommender.load` reads (1: parameters as repr strings).
READABLE_ARTIFACT_VERSIONS = (1, 2)
ARTIFACT_FILE = "recommender.joblib"
META_FILE = "artifact.json"
#: Workers whose candidates are generated together in batched calls: the generator's
#: own pair block (bounds memory: block x open vacancies; a larger block measured slower).
BLOCK = PAIR_BLOCK_WORKERS
#: Dense vectors memoised per process for the embedder that encoded them (a training
#: run fits several models and catalogues over the same texts with one embedder).
EMBEDDING_MEMO_SIZE = 200_000
_EMBEDDING_MEMO: dict[str, np.ndarray] = {}
_EMBEDDING_MEMO_OWNER: list[Any] = [None]


def _embedding_memo(embedder: Any) -> dict[str, np.ndarray]:
    """The process memo of ``embedder``'s vectors (emptied when another embedder comes)."""
    if _EMBEDDING_MEMO_OWNER[0] is not embedder:
        _EMBEDDING_MEMO.clear()
        _EMBEDDING_MEMO_OWNER[0] = embedder
    return _EMBEDDING_MEMO


_APPLIED = PURSUED_EVENTS


class UnknownIdError(KeyError):
    """A worker or vacancy id the model's catalogue does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown id"


class IncompatibleArtifactError(RuntimeError):
    """A saved model this version of jobmatch cannot read."""


#: Artifacts pickled before the catalogue and the retrieval fit moved to their own
#: modules name them here; these names let those artifacts load.
_Retrieval = RetrievalFit
_Catalogue = Catalogue


def _serving_time(dataset: Dataset, at: object) -> pd.Timestamp | None:
    """``at`` (default: the snapshot's latest time) as a naive UTC timestamp."""
    when = pd.Timestamp(at) if at is not None else snapshot_time(dataset)  # type: ignore[arg-type]
    if when is not None and when.tzinfo is not None:
        when = when.tz_convert("UTC").tz_localize(None)
    return when


@dataclass
class RankedRows:
    """Ranked pairs as arrays, the rows of a :meth:`Recommender.rank_pairs` frame:
    catalogue positions of each row's worker and vacancy, the position it is ranked
    within (``group``: the worker's or the vacancy's), its rank, score, reasons and
    warnings."""

    worker: np.ndarray
    vacancy: np.ndarray
    group: np.ndarray
    rank: np.ndarray
    score: np.ndarray
    reasons: list
    warnings: list

    @classmethod
    def concat(cls, parts: list[RankedRows]) -> RankedRows:
        """The rows of ``parts``, one after the other."""
        if len(parts) == 1:
            return parts[0]
        arrays = {f: np.concatenate([getattr(p, f) for p in parts]) for f in _RANKED_ARRAYS}
        return cls(
            **arrays,
            reasons=[r for p in parts for r in p.reasons],
            warnings=[w for p in parts for w in p.warnings],
        )

    def take(self, order: np.ndarray) -> RankedRows:
        """The rows at ``order``."""
        picked = order.tolist()
        return RankedRows(
            **{f: getattr(self, f)[order] for f in _RANKED_ARRAYS},
            reasons=[self.reasons[j] for j in picked],
            warnings=[self.warnings[j] for j in picked],
        )

    def frame(self, cat: Catalogue, by: str) -> pd.DataFrame:
        """The rows as :meth:`Recommender.recommend` (``by="worker"``) or
        :meth:`Recommender.candidates` columns, with the catalogue's ids."""
        data = {
            Columns.Worker: cat.wp.ids.to_numpy(dtype=object)[self.worker],
            Columns.Vacancy: cat.vp.ids.to_numpy(dtype=object)[self.vacancy],
            Columns.Rank: self.rank,
            Columns.Score: self.score,
            Columns.Reasons: self.reasons,
            Columns.Warnings: self.warnings,
        }
        columns = RECOMMENDATION_COLUMNS if by == "worker" else CANDIDATE_COLUMNS
        return pd.DataFrame({c: data[c] for c in columns})


#: The array fields of :class:`RankedRows`, in order.
_RANKED_ARRAYS = ("worker", "vacancy", "group", "rank", "score")


class Recommender(RankingModel):
    """Hybrid retrieval + calibrated ranking of stable placements (see module docstring).

    Parameters
    ----------
    stages : {"full", "lightfm", "content"}, default "full"
        The full model, or one of the two ablations.
    embedder : matcher.protocols.Embedder, optional
        Dense text channel; default: :func:`matcher.text.encoders.embedder_from_env`
        (``JOBMATCH_EMBEDDING_MODEL`` or the package-shipped multilingual Universal
        Sentence Encoder).
        Tests pass :class:`matcher.text.encoders.HashingEmbedder`.
    no_components, epochs, learning_rate, item_alpha, user_alpha, max_sampled
        LightFM hyper-parameters (WARP loss).
    n_clusters : int, default 32
        k-means clusters of text embeddings used as LightFM feature tokens.
    n_candidates : int, default 100
        Top vacancies taken from each retrieval channel before ranking.
    ranker_holdout : float, default 0.3
        Share of the latest events whose pairs train the ranker (see module docstring).
    ranker_negatives : int, default 10
        Sampled never-touched eligible candidates per worker in the ranker's training set.
    ranker_max_workers : int, default 5000
        Most workers sampled for ranker negatives.
    ranker_folds : int, default 1
        Consecutive windows of ``ranker_holdout`` events (latest first) whose pairs
        train the ranker, each with retrieval and statistics fitted on the events
        before it: more training pairs, one more retrieval fit per fold.
    calibration_share : float, default 0.15
        Share of the latest events whose pairs calibrate the ranker's stages (a later
        slice than the booster learns from; :mod:`matcher.models.calibration`); 0 leaves the
        stages as the boosters' own cross-validated calibration has them.
    calibration : {"platt", "isotonic"}, default "platt"
        Map of the apply and hire stages onto the slice's rates.
    apply_exposure : {"viewed", "sampled"}, default "viewed"
        Denominator of the apply stage's calibration: the pairs shown (``viewed``
        events), or the applications against uniformly drawn eligible vacancies
        weighted by the inverse sampling rate.
    apply_map : {"plain", "covariates", "history"}, default "covariates"
        Map of the apply stage on the shown pairs: ``calibration``'s map of the stage's
        output alone, or (``"covariates"``, with Platt) Platt's map with distance, pay,
        location, network and occupation covariates
        (:class:`matcher.models.calibration.CovariateCalibrator`) when their out-of-fold
        cross-entropy on the slice beats the plain map's. ``"history"`` (opt-in; with
        ``apply_exposure="viewed"``): without the booster, a ridge-penalised logistic
        regression on the terms of the worker's choice once a vacancy is shown
        (:data:`matcher.models.ranking.APPLY_ALONE_COVARIATES`: distance, pay, housing
        and meals on a far move, contract, insurance, a verified employer, Mandarin on a
        far move, occupation match, channel and the worker's situation at it, network)
        fitted on the pairs shown in the booster's window and in the slice, each view a
        trial (``docs/equal-service.md``).
    apply_terms : {"plain", "entry"}, default "entry"
        ``"entry"``: the ranker's boosters also read whether the vacancy's
        occupation takes newcomers without experience
        (:data:`matcher.models.features.ENTRY_LEVEL`, from the occupation catalogue), and
        the apply map with covariates reads a job outside the worker's trade that takes
        no newcomers and the county's network across a provincial border instead of the
        vacancy's province (:data:`matcher.models.ranking.APPLY_ENTRY_COVARIATES`,
        ``docs/equal-service.md``).
    stay_map : {"plain", "covariates"}, default "covariates"
        The stay stage: the booster's weekly rate of leaving mapped by a piecewise
        hazard fitted on the calibration slice's spells, or (``"covariates"``) a
        proportional piecewise hazard on the job's terms
        (:data:`matcher.models.ranking.STAY_COVARIATES`: pay ratio, contract, insurance,
        the employer's record, distance and housing, fellow villagers and the county's
        network at the employer...) fitted on every spell followed, the booster's
        training window's and the slice's (censored and left-truncated), without the
        booster (:class:`matcher.models.calibration.CovariateHazard`).
    hire_map : str, default "history"
        One of "plain", "competition", "competition-map", "competition-typical",
        "covariates", "history".
        The hire stage. Observed hires per application fall with the rivals for the
        vacancy's seats and with the worker's other applications (one offer taken);
        the plan needs a single applicant's chance with a seat free. ``"competition"``:
        the hire booster also learns the competition each application met
        (:func:`application_competition`: rivals per seat, the worker's other
        applications; constrained not to raise the chance), is calibrated with each
        slice application's own, and scored with none. ``"competition-map"``: the
        booster as ``"plain"``, its Platt map on the slice with the competition and
        network covariates (:data:`matcher.models.ranking.HIRE_COVARIATES`), scored
        with none, when their out-of-fold cross-entropy beats the plain map's.
        ``"competition-typical"``: as ``"competition-map"``, scored with no rival for
        the seats but with the worker's own other applications at their mean over the
        slice's applications: scoring them at none overshoots the chance
        (``docs/hire-stage.md``).
        ``"covariates"``: without the booster, a ridge-penalised logistic regression
        on the competition and the pair's terms
        (:data:`matcher.models.ranking.HIRE_ALONE_COVARIATES`: pay against the
        worker's expectation, distance, occupation match, language, channel, network
        and ties, the employer's record...) fitted on the applications of the
        booster's window and of the slice whose decision was due, scored with none.
        ``"history"``: the same regression fitted on the applications whose decision was
        due of the ``history_windows`` windows before the slice (``history_stages``'
        windows: about four times the booster window's) and of the slice, scored as
        ``"competition-typical"`` (no rival, the worker's own other applications at
        the slice's mean): ``docs/hire-history.md``. The windows share one retrieval
        fit, each with its own pair statistics. The default since session 13, with
        ``apply_terms="entry"`` and ``joint_tails="exact"``
        (``docs/truth-entry-history-combined.md``: plan and NDCG@10 up on every market
        variant of the truth bench); models saved before keep what they were trained with.
    history_stages : {"none", "hire", "stay", "hire-stay"}, default "none"
        Stages that learn from the whole history before the calibration slice instead
        of the booster's training window alone. The window holds the pairs of the
        vacancies open at its start, and vacancies stay open a few weeks, so most of its
        applications (those to vacancies posted later) are lost: the history is cut into
        ``history_windows`` windows of :data:`HISTORY_SHARE` of the events each (the
        latest ending at the slice), each with retrieval and statistics fitted on the
        events before it. ``"hire"``: the hire booster learns from every application of
        those windows whose decision was due by the window's end; ``"stay"``: the stay
        map (``stay_map="covariates"``) from every spell they followed (censored at
        each window's end, left-truncated at its start) instead of the booster's
        window's; ``"hire-stay"``: both. The apply booster keeps its window. One more
        retrieval fit per window.
    history_windows : int, default 7
        Windows of ``history_stages`` (down to the events' 0.05 quantile): 7 reach back
        to the 0.15 quantile with the default slice; 3 cover the booster's own window
        (``ranker_holdout`` 0.3), where the statistics are as mature as its pairs'.
    stay_spells : {"window", "earlier"}, default "window"
        Spells the stay map (``stay_map="covariates"``) learns from beside the slice's:
        the booster's window's, or (``"earlier"``, opt-in, needs ``hire_map="history"``)
        also those of the history windows that end by the booster's window's start, which
        that hire map builds anyway (one shared retrieval fit; each spell with its own
        window's employer statistics; no week counted twice). On a market whose workers
        mostly registered lately the booster's window and the slice hold few departures
        (``docs/equal-service.md``, session 13). With ``history_stages`` reading "stay"
        the map takes every history window's spells instead and this changes nothing.
    stay_record : {"none", "worker", "exposure"}, default "none"
        ``"worker"`` (opt-in, with ``stay_map="covariates"``): the stay hazard also reads
        the worker's own leaving record (:data:`matcher.models.features.WORKER_LEFT`):
        departures per week employed over the worker's spells that ended in the events
        the model's statistics hold (a spell still open there, as every spell followed
        from there is, never reads its own departure), shrunk towards the market's rate
        over 26 pseudo-weeks, log-scaled. No new fit and no new window.
        ``"exposure"`` (opt-in, with ``stay_map="covariates"``): instead the record on
        exposure (:data:`matcher.models.features.WORKER_EXPOSURE_LEFT`): departures per
        week at risk over all the worker's spells but the pair's own (a spell at the
        pair's vacancy), open ones counted with their weeks so far, shrunk the same way
        towards the market's rate on exposure; the record of ended spells only counts
        short spells, this one does not.
    hire_split : {"none", "offer-accept"}, default "none"
        ``"offer-accept"`` (opt-in, with ``hire_map`` "covariates" or "history"): the hire
        regression becomes two, fitted on the same applications: the employer's offer
        (offered = hired or declined; the rivals per seat may only lower it) and the
        worker's acceptance of an offer (hired among the offers, with the other offers he
        held around it as a covariate), scored at no rival and one offer held
        (:class:`matcher.models.calibration.OfferAcceptance`, ``docs/hire-stage.md``).
        One regression of hired per application learns the worker's pick among his offers
        as if the employer made it. No new fit and no new window.
    stay_weeks : int, default 26
        Horizon of a stable placement: the score is P(apply) * P(hire | applied) *
        P(still there after ``stay_weeks`` weeks | hired).
    max_iter, ranker_learning_rate
        Boosting rounds (default 100) and step (0.1) of each ranker stage.
    stay_min_leaf : int, default 20
        Fewest hires at risk in a leaf of the stay stage's hazard booster (capped at a
        quarter of its leaving events, as every stage's leaves are): larger leaves keep
        its rate of leaving from following a few spells. Opt-in: 100 lifted every
        language group on two market variants and lowered the default market
        (``docs/equal-service.md``).
    festival_leave : {"none", "learnt"}, default "none"
        ``"learnt"`` (opt-in): the Spring Festival departures (春节返乡不返岗) measured on
        the snapshot's events, near and far from home (:mod:`matcher.models.festival`),
        lower a pair's score by the share of hires that a festival inside the first
        ``stay_weeks`` weeks after the serving time takes away; the stay stage, learnt in
        tenure weeks, cannot tell an autumn hire (whose six months hold the festival) from
        a spring one.
    stay_l2 : float, default 0.1
        The ridge on the stay hazard's standardised covariates (``stay_map="covariates"``;
        :class:`matcher.models.calibration.CovariateHazard` ``covariate_l2``). A larger
        one (1.0, opt-in) narrows the spread of the stays the hazard gives: on the truth
        bench's markets it raises the plan and lowers NDCG on some (``docs/stay-stage.md``,
        session 18).
    wage_impute : {"none", "peers"}, default "peers"
        A vacancy that posts no wage: ``"none"`` leaves its pay against the worker's
        expectation unknown (models trained before it read as this); ``"peers"`` gives the hire and stay stages'
        covariate maps the median offered wage of the vacancies of its occupation and
        channel that post one (:class:`matcher.models.features.WageReference`, fitted
        with the statistics; :data:`matcher.models.features.WAGE_RATIO_PEERS`). The
        boosters, the apply stage (the worker sees no figure) and the explanations read
        posted wages only (``docs/stay-stage.md``, session 19).
    joint_tails : {"clip", "exact"}, default "exact"
        Products of the calibrated stages below ``1e-6``
        (:data:`matcher.models.calibration.EPS`) in the joint map: ``"clip"`` ties them
        at the clip; ``"exact"`` keeps their order (Platt's curve continued below it).
        The stay stage on the job's terms puts some pairs' P(stay) far below it, so
        without it many of a worker's pairs can tie (``docs/equal-service.md``).
    lang : {"zh", "en"}, default "zh"
        Language of the reasons and warnings in tidy outputs.
    title_coding : {"stored", "market", "learned"}, default "stored"
        The occupation code of a vacancy whose code the store inferred from its title
        (``occupation_source`` ``inferred``): ``"stored"`` uses that code; ``"market"``
        codes the title again with the shipped classifier adapted to the training
        snapshot's own coded postings
        (:func:`matcher.occupations.classifier.market_classifier`; the shipped code
        when the snapshot has fewer than ``MIN_MARKET_TITLES`` of them); ``"learned"``
        codes it again with the shipped suggestion model
        (:func:`matcher.occupations.classifier.suggest_model_file`, the most accurate on
        real labelled titles; docs/occupation-coding.md). Blank codes are inferred by
        that coder, else by the normaliser.
    random_state : int, default 0

    Attributes
    ----------
    retrieval_ : fitted retrieval stage (features, LightFM, statistics)
    ranker_ : StablePlacementRanker or None
    catalogue_ : the served snapshot (see :meth:`refresh`)
    title_coder_ : OccupationClassifier or None
        The title coder of ``title_coding="market"`` or ``"learned"`` (None otherwise).
    availability_ : Availability or None
        Each worker's P(looking for work) by the state of their job history
        (:mod:`matcher.models.availability`); the served score is the ranker's probability times
        it. None for models saved before it existed (every worker counts as looking).
    version_, trained_at_, metrics_ : artifact metadata
    """

    #: models saved before availability existed unpickle without it
    availability_: Availability | None = None
    #: models saved before title coding was a parameter unpickle as "stored", without a coder
    title_coding: str = "stored"
    title_coder_: Any = None
    #: models saved before the apply map's covariates existed unpickle without it
    apply_map: str = "plain"
    #: ... and before the apply terms, with the plain ones
    apply_terms: str = "plain"
    #: models saved before the stay map existed unpickle as "plain"
    stay_map: str = "plain"
    #: ... and before the hire map's competition
    hire_map: str = "plain"
    #: models saved before the stay stage's leaf size was a parameter unpickle with it
    stay_min_leaf: int = 20
    #: ... and before the joint map's tails, clipping
    joint_tails: str = "clip"
    #: ... and before the history windows, without them
    history_stages: str = "none"
    history_windows: int = 7
    #: ... and before the stay map's earlier spells, with the booster's window's
    stay_spells: str = "window"
    #: ... and before the worker's leaving record, without it
    stay_record: str = "none"
    #: ... and before the hire regression's split, one regression
    hire_split: str = "none"
    festival_leave: str = "none"
    festival_: FestivalLeave | None = None
    #: ... and before the stay hazard's ridge was a parameter, with the fixed one
    stay_l2: float = STAY_COVARIATE_L2
    #: ... and before a blank wage read its peers', with none
    wage_impute: str = "none"

    def __init__(
        self,
        *,
        stages: str = "full",
        embedder: Any = None,
        no_components: int = 32,
        epochs: int = 20,
        learning_rate: float = 0.05,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        max_sampled: int = 10,
        n_clusters: int = 32,
        n_candidates: int = 100,
        ranker_holdout: float = 0.3,
        ranker_negatives: int = 10,
        ranker_max_workers: int = 5000,
        ranker_folds: int = 1,
        apply_negatives: str = "sampled",
        calibration_share: float = 0.15,
        calibration: str = "platt",
        apply_exposure: str = "viewed",
        apply_map: str = "covariates",
        apply_terms: str = "entry",
        stay_map: str = "covariates",
        hire_map: str = "history",
        history_stages: str = "none",
        history_windows: int = 7,
        stay_spells: str = "window",
        stay_record: str = "none",
        hire_split: str = "none",
        festival_leave: str = "none",
        stay_l2: float = STAY_COVARIATE_L2,
        wage_impute: str = "peers",
        stay_weeks: int = 26,
        max_iter: int = 100,
        ranker_learning_rate: float = 0.1,
        stay_min_leaf: int = 20,
        joint_tails: str = "exact",
        lang: str = "zh",
        title_coding: str = "stored",
        random_state: int = 0,
    ) -> None:
        self.stages = stages
        self.embedder = embedder
        self.no_components = no_components
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.n_clusters = n_clusters
        self.n_candidates = n_candidates
        self.ranker_holdout = ranker_holdout
        self.ranker_negatives = ranker_negatives
        self.ranker_max_workers = ranker_max_workers
        self.ranker_folds = ranker_folds
        self.apply_negatives = apply_negatives
        self.calibration_share = calibration_share
        self.calibration = calibration
        self.apply_exposure = apply_exposure
        self.apply_map = apply_map
        self.apply_terms = apply_terms
        self.stay_map = stay_map
        self.hire_map = hire_map
        self.history_stages = history_stages
        self.history_windows = history_windows
        self.stay_spells = stay_spells
        self.stay_record = stay_record
        self.hire_split = hire_split
        self.festival_leave = festival_leave
        self.stay_l2 = stay_l2
        self.wage_impute = wage_impute
        self.stay_weeks = stay_weeks
        self.max_iter = max_iter
        self.ranker_learning_rate = ranker_learning_rate
        self.stay_min_leaf = stay_min_leaf
        self.joint_tails = joint_tails
        self.lang = lang
        self.title_coding = title_coding
        self.random_state = random_state

    # ------------------------------------------------------------------ params

    def get_params(self, deep: bool = True) -> dict:
        return super().get_params()

    def set_params(self, **params: Any) -> Self:
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Recommender has no parameter {key!r}; parameters are {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    @property
    def config(self) -> RecommenderConfig:
        """The parameters (all but ``embedder``) as a validated, JSON-ready
        :class:`~matcher.models.config.RecommenderConfig`.

        Raises
        ------
        matcher.models.config.ConfigError
            A parameter has the wrong type or breaks its rule (the message names it).
        """
        params = self.get_params()
        params.pop("embedder", None)
        return RecommenderConfig(**params)

    @classmethod
    def from_config(cls, config: RecommenderConfig, embedder: Any = None) -> Recommender:
        """An unfitted Recommender with ``config``'s parameters and ``embedder``."""
        return cls(embedder=embedder, **config.to_json())

    # ------------------------------------------------------------------ text and codes

    def embed(self, texts_: list[str]) -> np.ndarray:
        """Dense vectors of ``texts_`` (rows in order) with the model's embedder.

        Texts already in the served catalogue are not encoded again (a refresh after
        loading a saved model re-encodes only new texts); a process-wide memo keeps
        texts another model with the same embedder encoded.

        Parameters
        ----------
        texts_ : list of str

        Returns
        -------
        numpy.ndarray
            float32, one row per text.
        """
        memo: dict[str, np.ndarray] = {}
        cat = getattr(self, "catalogue_", None)
        if cat is not None:
            for side_texts, vectors in ((cat.wp.texts, cat.w_dense), (cat.vp.texts, cat.v_dense)):
                memo.update(zip(side_texts, vectors, strict=True))
        todo = [t for t in dict.fromkeys(texts_) if t not in memo]
        if todo:
            shared = _embedding_memo(self.embedder_)
            for t in todo:
                vector = shared.get(t)
                if vector is not None:
                    memo[t] = vector
            todo = [t for t in todo if t not in memo]
        if todo:
            found = dict(
                zip(todo, np.asarray(self.embedder_.encode(todo), dtype=np.float32), strict=True)
            )
            memo.update(found)
            if len(shared) + len(found) > EMBEDDING_MEMO_SIZE:
                shared.clear()
            shared.update(found)
        if not texts_:
            return np.zeros((0, self._dense_dim(memo)), dtype=np.float32)
        return np.stack([memo[t] for t in texts_]).astype(np.float32, copy=False)

    def _dense_dim(self, memo: dict[str, np.ndarray]) -> int:
        if memo:
            return len(next(iter(memo.values())))
        return int(self.embedder_.encode([""]).shape[1])

    def market_codes(self) -> MarketCodes:
        """This model's occupation coding of workers and vacancies
        (:class:`matcher.models.market_codes.MarketCodes`), over its caches and title coder."""
        return MarketCodes(
            self.title_coding,
            self.title_coder_,
            self.__dict__.setdefault("occupation_cache_", {}),
            self.__dict__.setdefault("title_cache_", {}),
        )

    def worker_codes(self, workers: pd.DataFrame) -> list[list[str]]:
        """Occupation codes the normaliser finds in each worker's skills and history
        (:meth:`matcher.models.market_codes.MarketCodes.worker_codes`)."""
        return self.market_codes().worker_codes(workers)

    def vacancy_codes(self, vacancies: pd.DataFrame) -> list[str | None]:
        """Each vacancy's CSCO code
        (:meth:`matcher.models.market_codes.MarketCodes.vacancy_codes`)."""
        return self.market_codes().vacancy_codes(vacancies)

    def fit_title_coder(self, vacancies: pd.DataFrame) -> Any:
        """The title coder of ``title_coding="market"`` or ``"learned"``
        (:meth:`matcher.models.market_codes.MarketCodes.fit_title_coder`), or None."""
        return self.market_codes().fit_title_coder(vacancies)

    # ------------------------------------------------------------------ fit

    def fit(self, dataset: Dataset) -> Self:
        """Learn retrieval, statistics and the ranker from a market snapshot.

        Parameters
        ----------
        dataset : Dataset

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Unknown ``stages`` or ``lang``, or a dataset without workers or vacancies.
        """
        return self._fit(dataset, None, None)

    def fit_and_refresh(self, dataset: Dataset, serving: Dataset, at: object = None) -> Self:
        """``fit(dataset)`` then ``refresh(serving, at)``, the same model, without building
        the catalogue of ``dataset`` that the refresh would replace (an evaluation fits on
        the training snapshot and serves the snapshot at the cutoff).

        Returns
        -------
        self
        """
        return self._fit(dataset, serving, at)

    def _fit(self, dataset: Dataset, serving: Dataset | None, at: object) -> Self:
        _ = self.config  # validates every parameter (ConfigError, a ValueError, names it)
        if dataset.n_workers == 0 or dataset.n_vacancies == 0:
            raise ValueError(
                f"cannot fit on {dataset.n_workers} workers and {dataset.n_vacancies} vacancies: "
                "import workers and vacancies first"
            )
        if self.embedder is None:
            from matcher.text.encoders import embedder_from_env

            self.embedder_ = embedder_from_env()
        else:
            self.embedder_ = self.embedder
        from matcher.text.encoders import LexicalEncoder

        self.__dict__.pop("catalogue_", None)  # refit replaces state (and its text memo)
        self.occupation_cache_: dict[str, list[str]] = {}
        self.title_cache_: dict[str, str | None] = {}
        self.title_coder_ = self.fit_title_coder(dataset.vacancies)
        self.lexical_ = LexicalEncoder().fit(
            worker_texts(dataset.workers) + vacancy_texts(dataset.vacancies)
        )
        self.ranker_ = None
        self.ranker_counts_: dict[str, Any] = {}
        if self.stages == "full":
            trainer = RankerTrainer(self.config, self)
            self.ranker_ = trainer.fit(dataset)
            self.ranker_counts_ = trainer.counts
        self.retrieval_ = self.fit_retrieval(dataset)
        self.availability_ = Availability().fit(dataset.events, dataset.workers)
        self.festival_ = FestivalLeave().fit(dataset) if self.festival_leave == "learnt" else None
        if serving is None:
            self.catalogue_ = self._catalogue(dataset, self.retrieval_, snapshot_time(dataset))
        else:  # as refresh(serving, at) does
            self.catalogue_ = self._catalogue(serving, self.retrieval_, _serving_time(serving, at))
        self.version_ = ARTIFACT_VERSION
        self.trained_at_ = datetime.now(UTC).isoformat(timespec="seconds")
        self.data_fingerprint_ = dataset.fingerprint()
        self.metrics_: dict[str, Any] = {}
        return self

    def ablation(self, stages: str) -> Recommender:
        """An ablation of this fitted full model, read off it without another fit.

        ``"lightfm"`` ranks eligible vacancies by this model's LightFM score alone and
        ``"content"`` by the mean of its dense and lexical similarities alone. A
        ``Recommender(stages=stages)`` with the same parameters fitted on the same
        snapshot learns exactly these: its retrieval fit is this model's final one
        (same events, features and seed; the ranker's holdout fits use their own
        copies), and the content channels learn nothing from outcomes (a sentence
        model and a TF-IDF vocabulary of the snapshot's texts) — so both recommend the
        same vacancies in the same order with the same scores. The copy shares this
        model's fitted state and served catalogue (refreshing one does not change the
        other); it has no ranker.

        Parameters
        ----------
        stages : {"lightfm", "content"}

        Returns
        -------
        Recommender
            Fitted, ``stages`` set, serving this model's catalogue.

        Raises
        ------
        ValueError
            ``stages`` is not an ablation, or this model is not ``stages="full"``.
        NotFittedError
            This model is not fitted.
        """
        import copy

        if stages not in ("lightfm", "content"):
            raise ValueError(f"stages must be 'lightfm' or 'content', got {stages!r}")
        if self.stages != "full":
            raise ValueError(
                f"ablations are read off a full model; this one has stages={self.stages!r}"
            )
        self.check_fitted()
        out = copy.copy(self)
        out.stages = stages
        out.ranker_ = None
        out.ranker_counts_ = {}
        out.metrics_ = {}
        return out

    def fit_retrieval(self, dataset: Dataset) -> RetrievalFit:
        wk, vac = dataset.workers, dataset.vacancies
        w_codes = self.worker_codes(wk)
        v_codes = self.vacancy_codes(vac)
        wp = worker_profiles(wk, w_codes)
        vp = vacancy_profiles(vac, v_codes)
        w_emb = self.embed(wp.texts)
        v_emb = self.embed(vp.texts)
        clusters = EmbeddingClusters(self.n_clusters, self.random_state).fit(
            np.vstack([w_emb, v_emb])
        )
        w_tokens = with_clusters(wp.tokens, clusters.predict(w_emb))
        v_tokens = with_clusters(vp.tokens, clusters.predict(v_emb))
        wspace = FeatureSpace().fit(list(wp.ids), w_tokens)
        vspace = FeatureSpace().fit(list(vp.ids), v_tokens)
        weights = interaction_weights(dataset.events, wp.ids, vp.ids)
        lightfm = LightFMRetriever(
            no_components=self.no_components,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            max_sampled=self.max_sampled,
            random_state=self.random_state,
        )
        if self.stages == "content":  # the ablation learns nothing from outcomes
            weights = sp.coo_matrix(weights.shape, dtype=np.float32)
        lightfm.fit(
            weights,
            wspace.transform(list(wp.ids), w_tokens),
            vspace.transform(list(vp.ids), v_tokens),
        )
        stats = self.fit_statistics(dataset, vacancy_codes=v_codes)
        return RetrievalFit(clusters, wspace, vspace, lightfm, stats)

    def fit_statistics(
        self, dataset: Dataset, vacancy_codes: Sequence[str | None] | None = None
    ) -> PairStatistics:
        """The pair statistics of ``dataset`` (:class:`PairStatistics`); with
        ``wage_impute="peers"`` their wage reference keyed by the vacancies' codes as the
        pair features read them (:meth:`vacancy_codes`; ``vacancy_codes``: those codes,
        one per row of ``dataset.vacancies``, when the caller has them)."""
        if self.wage_impute != "peers":
            return PairStatistics().fit(dataset)
        if vacancy_codes is None:
            vacancy_codes = self.vacancy_codes(dataset.vacancies)
        return PairStatistics().fit(dataset, wage_impute=True, vacancy_codes=vacancy_codes)

    def encode_sides(self, dataset: Dataset, retrieval: RetrievalFit) -> EncodedSides:
        """Every worker and vacancy of ``dataset`` encoded with ``retrieval`` (profiles,
        text and LightFM vectors), for :meth:`training_catalogue` of subsets of it."""
        return EncodedSides(
            workers=encode_workers(self, retrieval, dataset.workers.reset_index(drop=True)),
            vacancies=VacancyCatalogue(self, retrieval).encode(
                dataset.vacancies.reset_index(drop=True)
            ),
        )

    def training_catalogue(
        self,
        dataset: Dataset,
        retrieval: RetrievalFit,
        at: pd.Timestamp,
        sides: EncodedSides | None = None,
    ) -> Catalogue:
        """The catalogue a model fitted at ``at`` would have served: the vacancies open
        then as they were then (posted before it, not closed, seats left = seats now +
        hires since), every worker of ``dataset``, encoded with ``retrieval`` (ranker
        training: :class:`matcher.models.ranker_training.RankerTrainer`). ``sides``:
        the rows of a snapshot that holds ``dataset``'s, encoded with ``retrieval``
        (:meth:`encode_sides`), taken instead of encoding them again (same catalogue)."""
        return self._catalogue(dataset, retrieval, at, every_vacancy=True, sides=sides)

    def _catalogue(
        self,
        dataset: Dataset,
        retrieval: RetrievalFit,
        at: pd.Timestamp | None,
        *,
        every_vacancy: bool = False,
        sides: EncodedSides | None = None,
        holders: frozenset[str] | None = None,
    ) -> Catalogue:
        from matcher.eligibility.households import (
            in_households,
            is_public_post,
            public_post_holders,
        )
        from matcher.eligibility.rules import EligibilityIndex

        wk = dataset.workers.reset_index(drop=True)
        vac = dataset.vacancies.reset_index(drop=True)
        # text vectors word by word (exact; each distinct word is vectorised once)
        side = sides.workers_of(wk) if sides is not None else None
        if side is None:
            side = encode_workers(self, retrieval, wk)
        wp, w_dense, w_lex, w_lfm = side.wp, side.dense, side.lex, side.lfm
        availability: pd.Series | None = None
        if not every_vacancy and at is not None and self.availability_ is not None:
            # serving: each worker's P(looking for work) now (matcher.models.availability),
            # also of the workers the events name but the catalogue does not hold (the
            # nightly batch scorer encodes them partition by partition)
            wp.available = self.availability_.at(dataset.events, wp.ids, at)
            named = pd.Index(pd.unique(dataset.events[Columns.Worker].to_numpy(dtype=object)))
            factor = self.availability_.at(dataset.events, named, at)
            availability = pd.Series(factor[factor < 1], index=named[factor < 1], dtype=float)
        v_side = sides.vacancies_of(vac) if sides is not None else None
        if v_side is None:
            v_side = VacancyCatalogue(self, retrieval).encode(vac)
        vp, v_dense, v_lex, v_lfm = v_side.vp, v_side.dense, v_side.lex, v_side.lfm
        rules_on = vac
        if every_vacancy and at is not None:
            # training: the vacancies open at the cutoff as they were then (posted
            # before it, not closed, seats left = seats now + hires since), exactly the
            # catalogue a model fitted at the cutoff serves; the worker's rules decide
            # at event time
            now = float(pd.Timestamp(at).value)
            closes = time_ns(vac["closes_at"])
            ev_all = dataset.events
            later = ev_all[
                (ev_all[Columns.OccurredAt] >= at)
                & (ev_all[Columns.Event].astype(str) == str(EventType.HIRED))
            ]
            hired_later = (
                later.drop_duplicates([Columns.Worker, Columns.Vacancy])
                .groupby(Columns.Vacancy)
                .size()
            )
            seats = np.nan_to_num(vp.headcount) + vac[Columns.Vacancy].map(hired_later).fillna(
                0
            ).to_numpy(dtype=float)
            vp.headcount = seats
            live = (vp.posted_ns < now) & ~(closes <= now) & (seats > 0)
            open_pos = np.flatnonzero(live).astype(np.int64)
            rules_on = vac.assign(status="open", headcount=np.maximum(seats, 1).astype(int))
        elif every_vacancy:
            open_pos = np.arange(len(vac), dtype=np.int64)
            rules_on = vac.assign(status="open", headcount=1)
        else:
            view = Dataset(wk, dataset.employers, vac, dataset.events.iloc[:0])
            open_v = view.open_vacancies(at)
            open_pos = np.sort(view.vacancy_pos(open_v[Columns.Vacancy]).astype(np.int64))
        eligibility = EligibilityIndex().fit(rules_on.iloc[open_pos].reset_index(drop=True), wk)
        vctx = VacancyContext.build(vp, retrieval.stats, dataset.employers, at)
        vctx.set_crowd(vp, open_pos, retrieval.stats)
        ev = dataset.events
        graded = ev[ev[Columns.Event].astype(str).isin(_APPLIED)]
        open_index = pd.Index(vac[Columns.Vacancy].iloc[open_pos])
        pw = wp.ids.get_indexer(pd.Index(graded[Columns.Worker]))
        pv = open_index.get_indexer(pd.Index(graded[Columns.Vacancy]))
        ok = (pw >= 0) & (pv >= 0)
        pw, pv = pw[ok], pv[ok]
        barred_pos: np.ndarray | None = None
        if not every_vacancy:
            # serving: a household that holds a public-welfare post is proposed no other
            # (matcher.eligibility.households); its members' pairs with the open posts
            # join the pairs not proposed again
            if holders is None:
                holders = public_post_holders(dataset.events, vac, wk, at)
            barred_pos = np.flatnonzero(in_households(wk, holders))
        shape = (len(wk), len(open_pos))
        pursued = sp.csr_matrix((np.ones(len(pw), dtype=bool), (pw, pv)), shape=shape)
        if barred_pos is not None:
            posts = np.flatnonzero(is_public_post(vac.iloc[open_pos]))
            pursued = sp.csr_matrix(pursued + barred_pairs(barred_pos, posts, shape))
        cat = Catalogue(
            at=at,
            year=(at.year if at is not None else datetime.now(UTC).year),
            workers=wk,
            vacancies=vac,
            wp=wp,
            vp=vp,
            vctx=vctx,
            w_dense=w_dense,
            w_lex=w_lex,
            w_lfm=w_lfm,
            v_dense=v_dense,
            v_lex=v_lex,
            v_lfm=v_lfm,
            open_pos=open_pos,
            open_text=ContentIndex(v_dense[open_pos], v_lex[open_pos]),
            worker_text=ContentIndex(w_dense, w_lex),
            eligibility=eligibility,
            pursued=pursued,
            public_barred=barred_pos,
            **open_columns_of(v_lfm, vctx, open_pos),
            availability=availability,
        )
        if not every_vacancy and self.stages == "full" and self.ranker_ is not None:
            # serving catalogues only: the training ones rank sampled pairs, not requests
            cat.proxy = fit_ranker_proxy(
                cat,
                self._scorer_of(retrieval, at),
                CandidateGenerator(self.stages, self.n_candidates, retrieval.stats),
                random_state=self.random_state,
            )
            cat.prepare_updates()
        return cat

    # ------------------------------------------------------------------ scoring

    def worker_availability(self, worker_ids: pd.Index) -> np.ndarray:
        """Each worker's P(looking for work) in the served snapshot: the catalogue's for
        its workers, and for a worker it does not hold the factor the snapshot's events
        give (:attr:`matcher.models.catalogue.Catalogue.availability`); 1.0 for a worker
        the events put in no state below it, or when the model has no availability."""
        self.check_fitted()
        cat = self.catalogue_
        wp = cat.wp
        ids = pd.Index(worker_ids)
        table = cat.availability  # None on catalogues pickled before it (class default)
        out = np.ones(len(ids))
        if table is not None and len(table):
            out = table.reindex(ids).fillna(1.0).to_numpy(dtype=float)
        if not len(wp.available):
            return out
        pos = wp.ids.get_indexer(ids)
        return np.where(pos >= 0, wp.available[np.maximum(pos, 0)], out)

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless the model was fitted (or loaded)."""
        if not hasattr(self, "catalogue_"):
            raise NotFittedError("the Recommender is not fitted; call fit(dataset) first")

    def worker_mask(self, cat: Catalogue, w: int) -> np.ndarray:
        """Open vacancies (a boolean mask over ``cat.open_pos``) that worker position
        ``w`` of the catalogue ``cat`` may take and has not pursued yet: the exhaustive
        reference every candidate set is measured against
        (:meth:`matcher.models.retrieval.CandidateGenerator.eligible`)."""
        return self.candidate_generator.eligible(cat, w)

    @property
    def candidate_generator(self) -> CandidateGenerator:
        """The retrieval channels of this fitted model
        (:class:`matcher.models.retrieval.CandidateGenerator`): which open vacancies each
        worker's ranking considers.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self.check_fitted()
        return CandidateGenerator(self.stages, self.n_candidates, self.retrieval_.stats)

    def encode_workers(self, workers: pd.DataFrame) -> WorkerSide:
        """The worker side of scoring for ``workers`` (Dataset normal form; need not be
        in the catalogue): profiles, text vectors and LightFM user vectors, cold from
        their attributes and texts (:func:`matcher.models.encoding.encode_workers`). With
        :meth:`matcher.models.catalogue.Catalogue.with_workers` their pairs are scored by
        :attr:`scorer` exactly as the catalogue's own workers' are (each worker with
        the served snapshot's P(looking for work), :meth:`worker_availability`).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self.check_fitted()
        side = encode_workers(self, self.retrieval_, workers)
        side.wp.available = self.worker_availability(side.wp.ids)
        return side

    @property
    def catalogue(self) -> Catalogue:
        """The served catalogue (:class:`matcher.models.catalogue.Catalogue`) as of the last
        fit, refresh or update.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self.check_fitted()
        return self.catalogue_

    @property
    def scorer(self) -> PairScorer:
        """THE scoring function of this fitted model (:class:`matcher.models.scoring.PairScorer`):
        pair features -> calibrated P(stable placement). Every path — live request,
        micro-batch, precomputed lists, the nightly batch scorer — scores pairs with it.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        self.check_fitted()
        return self._scorer_of(self.retrieval_, self.catalogue_.at)

    def _scorer_of(self, retrieval: RetrievalFit, at: pd.Timestamp | None) -> PairScorer:
        stats = retrieval.stats
        keep = None
        if self.festival_ is not None and self.ranker_ is not None:
            keep = self.festival_.keep(at, self.stay_weeks)
        return PairScorer(
            self.stages, self.ranker_, stats, stats.market_.get("left_rate", 0.0), keep
        )

    def _worker_pos(self, worker_id: str) -> int:
        pos = int(self.catalogue_.wp.ids.get_indexer(pd.Index([worker_id]))[0])
        if pos < 0:
            raise UnknownIdError(
                f"unknown worker_id {worker_id!r}: not in the model's catalogue; check the id, "
                "or call refresh(dataset) with a snapshot that includes this worker"
            )
        return pos

    def _vacancy_pos(self, vacancy_id: str) -> int:
        pos = int(self.catalogue_.vacancy_positions([vacancy_id])[0])
        if pos < 0:
            raise UnknownIdError(
                f"unknown vacancy_id {vacancy_id!r}: not in the model's catalogue; check the id, "
                "or call refresh(dataset) with a snapshot that includes this vacancy"
            )
        return pos

    # ------------------------------------------------------------------ public verbs

    def recommend(
        self, worker_id: str, k: int = 10, lang: str | None = None, *, reasons: bool = True
    ) -> pd.DataFrame:
        """The ``k`` best open eligible vacancies for one worker.

        Parameters
        ----------
        worker_id : str
        k : int, default 10
        lang : {"zh", "en"}, optional
            Language of reasons and warnings (default: the model's ``lang``).
        reasons : bool, default True
            Write reasons and warnings; ``False`` leaves both columns ``None`` and
            skips their cost (ranking and scores are the same either way; explain
            chosen pairs later with :meth:`pair_reasons`).

        Returns
        -------
        DataFrame
            ``worker_id, rank, vacancy_id, score, reasons, warnings``; rank from 1,
            score descending (a calibrated P(stable placement) for ``stages="full"``).

        Raises
        ------
        UnknownIdError
            The worker is not in the catalogue.
        """
        return self.recommend_many([worker_id], k, lang=lang, reasons=reasons)

    def recommend_many(
        self, worker_ids, k: int = 10, lang: str | None = None, *, reasons: bool = True
    ) -> pd.DataFrame:
        """:meth:`recommend` for many workers, scored in blocks; rows grouped by worker
        in the order given. Raises :class:`UnknownIdError` naming the first unknown id.
        ``reasons=False`` skips reasons and warnings (both columns ``None``): the
        nightly run explains only the pairs it assigns (:meth:`pair_reasons`)."""
        self.check_fitted()
        lang = lang or self.lang
        cat = self.catalogue_
        ids = list(worker_ids)
        positions = cat.wp.ids.get_indexer(pd.Index(ids, dtype=object))
        if (positions < 0).any():
            self._worker_pos(ids[int(np.flatnonzero(positions < 0)[0])])
        generator = self.candidate_generator
        parts: list[RankedRows] = []
        for start in range(0, len(positions), BLOCK):
            block = positions[start : start + BLOCK]
            unions = generator.for_workers(cat, block)
            for wi, vi in candidate_runs(block, unions, cat.open_pos):
                parts.append(self.rank_rows(wi, vi, k, lang, by="worker", reasons=reasons))
        if not parts:
            return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
        rows = RankedRows.concat(parts)
        if len(positions) > 1:
            # rows come grouped by catalogue position: put the workers in the order given
            # (ids and catalogue positions are one to one: order by each position's first)
            order = {p: j for j, p in enumerate(dict.fromkeys(positions.tolist()))}
            key = np.array([order[p] for p in rows.group.tolist()], dtype=np.int64)
            rows = rows.take(np.lexsort((rows.rank, key)))
        return rows.frame(cat, by="worker")

    def recommend_among(
        self,
        worker_id: str,
        vacancy_ids,
        k: int = 10,
        lang: str | None = None,
        *,
        reasons: bool = True,
    ) -> pd.DataFrame:
        """:meth:`recommend` restricted to the vacancies ``vacancy_ids``.

        The same rules, retrieval and ranking as :meth:`recommend`, over these
        vacancies instead of every open one: vacancies not open in the catalogue, not
        eligible for the worker, already pursued by them or unknown are left out; of
        the rest, each channel's ``n_candidates`` best are ranked (all of them when
        there are no more than ``n_candidates``). Given every open vacancy, the
        answer is :meth:`recommend`'s. Serving from precomputed lists
        (:mod:`matcher.serving.precomputed`) re-ranks a worker's stored vacancies plus the
        ones posted since with this.

        Parameters
        ----------
        worker_id : str
        vacancy_ids : iterable of str
        k : int, default 10
        lang : {"zh", "en"}, optional
        reasons : bool, default True

        Returns
        -------
        DataFrame
            As :meth:`recommend`.

        Raises
        ------
        UnknownIdError
            The worker is not in the catalogue.
        """
        self.check_fitted()
        cat = self.catalogue_
        w = self._worker_pos(worker_id)
        vpos = cat.vacancy_positions(vacancy_ids)
        return self.recommend_open(
            w, _open_columns(cat.open_pos, vpos[vpos >= 0]), k, lang, reasons
        )

    def recommend_open(
        self, w: int, cols: np.ndarray, k: int, lang: str | None, reasons: bool = True
    ) -> pd.DataFrame:
        """:meth:`recommend_among` for catalogue worker position ``w`` and open columns
        ``cols`` (positions in ``catalogue_.open_pos``): what lists bound to this
        catalogue (:mod:`matcher.serving.precomputed`) call, without the id look-ups."""
        cat = self.catalogue_
        union = self.candidate_generator.among(cat, w, np.unique(cols))
        return self.rank_pairs(
            np.full(len(union), w, dtype=np.int64),
            cat.open_pos[union],
            k,
            lang or self.lang,
            by="worker",
            reasons=reasons,
        )

    def rank_pairs(
        self, wi: np.ndarray, vi: np.ndarray, k: int, lang: str, by: str, reasons: bool = True
    ) -> pd.DataFrame:
        """The ``k`` best of the candidate pairs ``(wi[j], vi[j])`` (catalogue
        positions) per worker (``by="worker"``: :meth:`recommend` columns) or per
        vacancy (``by="vacancy"``: :meth:`candidates` columns), scored by
        :attr:`scorer` and ordered by :func:`matcher.models.ranking.top_k_per_group`; reasons
        in ``lang`` unless ``reasons`` is False."""
        if len(wi) == 0:
            return pd.DataFrame(
                columns=RECOMMENDATION_COLUMNS if by == "worker" else CANDIDATE_COLUMNS
            )
        return self.rank_rows(wi, vi, k, lang, by, reasons).frame(self.catalogue_, by)

    def rank_rows(
        self, wi: np.ndarray, vi: np.ndarray, k: int, lang: str, by: str, reasons: bool = True
    ) -> RankedRows:
        """:meth:`rank_pairs` as arrays (:class:`RankedRows`), before they become a frame:
        :meth:`recommend_many` makes one frame of all its runs' rows."""
        cat = self.catalogue_
        scorer = self.scorer
        ranked = scorer.rank_top(cat, wi, vi, k, by="worker" if by == "worker" else "vacancy")
        keep, ranks = ranked.keep, ranked.rank
        if reasons:
            expl = scorer.reasons(cat, ranked.values, ranked.matched, vi[keep])
            why: list = [texts(r, lang) for r, _ in expl]
            warn: list = [texts(w, lang) for _, w in expl]
        else:
            why = warn = [None] * len(keep)
        return RankedRows(
            worker=wi[keep],
            vacancy=vi[keep],
            group=(wi if by == "worker" else vi)[keep],
            rank=ranks.astype(np.int64),
            score=ranked.score.astype(float),
            reasons=why,
            warnings=warn,
        )

    def pair_reasons(self, worker_ids, vacancy_ids, lang: str | None = None) -> pd.DataFrame:
        """Score, reasons and warnings of given (worker, vacancy) pairs, e.g. the pairs
        a nightly plan assigned after ``recommend_many(..., reasons=False)``.

        Returns
        -------
        DataFrame
            ``worker_id, vacancy_id, score, reasons, warnings``, one row per pair in
            the order given (the same values :meth:`recommend` gives the pair).

        Raises
        ------
        UnknownIdError
            A worker or vacancy the catalogue does not hold.
        ValueError
            ``worker_ids`` and ``vacancy_ids`` differ in length.
        """
        self.check_fitted()
        lang = lang or self.lang
        cat = self.catalogue_
        w_ids = list(worker_ids)
        v_ids = list(vacancy_ids)
        if len(w_ids) != len(v_ids):
            raise ValueError(
                f"pair_reasons needs one vacancy per worker: got {len(w_ids)} worker ids "
                f"and {len(v_ids)} vacancy ids"
            )
        wi = cat.wp.ids.get_indexer(pd.Index(w_ids, dtype=object))
        vi = cat.vacancy_positions(v_ids)
        if (wi < 0).any():
            self._worker_pos(w_ids[int(np.flatnonzero(wi < 0)[0])])
        if (vi < 0).any():
            self._vacancy_pos(v_ids[int(np.flatnonzero(vi < 0)[0])])
        wi, vi = wi.astype(np.int64), vi.astype(np.int64)
        scorer = self.scorer
        values, matched = scorer.pair_values(cat, wi, vi)
        feats = pd.DataFrame(values, columns=PAIR_COLUMNS, copy=False)
        expl = scorer.reasons(cat, values, matched, vi)
        return pd.DataFrame(
            {
                Columns.Worker: np.asarray(w_ids, dtype=object),
                Columns.Vacancy: np.asarray(v_ids, dtype=object),
                Columns.Score: scorer.score(feats).astype(float),
                Columns.Reasons: [texts(r, lang) for r, _ in expl],
                Columns.Warnings: [texts(w, lang) for _, w in expl],
            }
        )

    def candidates(self, vacancy_id: str, k: int = 20, lang: str | None = None) -> pd.DataFrame:
        """The ``k`` workers most likely to become a stable placement on a vacancy.

        Returns
        -------
        DataFrame
            ``vacancy_id, rank, worker_id, score, reasons, warnings``; empty when the
            vacancy is not open (filled, closed, no seats) or nobody is eligible.

        Raises
        ------
        UnknownIdError
            The vacancy is not in the catalogue.
        """
        self.check_fitted()
        lang = lang or self.lang
        cat = self.catalogue_
        v = self._vacancy_pos(vacancy_id)
        wi = self.candidate_generator.for_vacancy(cat, v)
        vi = np.full(len(wi), v, dtype=np.int64)
        out = self.rank_pairs(wi, vi, k, lang, by="vacancy")
        return out.reset_index(drop=True)

    @property
    def stable_weeks(self) -> int | None:
        """Weeks of the stable placement the score is the probability of (when the
        score is a calibrated probability per proposal), else None: an ablation's
        similarity or an uncalibrated ranker's score is not a chance to quote."""
        ranker = getattr(self, "ranker_", None)
        if self.stages != "full" or ranker is None or not ranker.per_proposal:
            return None
        return int(ranker.horizon_)

    def pair_stages(self, worker_ids: Any, vacancy_ids: Any) -> pd.DataFrame:
        """The score and stage probabilities of many (worker, vacancy) pairs at once, as
        :meth:`explain` gives them one pair at a time.

        Returns
        -------
        DataFrame
            ``worker_id, vacancy_id, score`` and one column per stage (``apply``,
            ``hire``, ``stay``: NaN unless the model is a full one with a ranker), one
            row per pair in the order given; every value NaN for a pair whose worker or
            vacancy the catalogue does not hold.

        Raises
        ------
        ValueError
            ``worker_ids`` and ``vacancy_ids`` differ in length.
        """
        self.check_fitted()
        cat = self.catalogue_
        w_ids = np.asarray(list(worker_ids), dtype=object)
        v_ids = np.asarray(list(vacancy_ids), dtype=object)
        if len(w_ids) != len(v_ids):
            raise ValueError(
                f"pair_stages needs one vacancy per worker: got {len(w_ids)} worker ids "
                f"and {len(v_ids)} vacancy ids"
            )
        wi = cat.wp.ids.get_indexer(pd.Index(w_ids, dtype=object))
        vi = np.asarray(cat.vacancy_positions(list(v_ids)))
        ok = np.flatnonzero((wi >= 0) & (vi >= 0))
        out = pd.DataFrame(
            {Columns.Worker: w_ids, Columns.Vacancy: v_ids, Columns.Score: np.nan}
            | {name: np.nan for name in STAGES}
        )
        if len(ok):
            scorer = self.scorer
            values, _ = scorer.pair_values(cat, wi[ok].astype(np.int64), vi[ok].astype(np.int64))
            feats = pd.DataFrame(values, columns=PAIR_COLUMNS, copy=False)
            out.loc[ok, Columns.Score] = scorer.score(feats).astype(float)
            if self.stages == "full" and self.ranker_ is not None:
                probs = np.asarray(self.ranker_.predict_stages(feats), dtype=float)
                for j, name in enumerate(STAGES):
                    out.loc[ok, name] = probs[:, j]
        return out

    def explain(self, worker_id: str, vacancy_id: str) -> dict:
        """Why (or why not) this vacancy for this worker.

        Returns
        -------
        dict
            ``worker_id``, ``vacancy_id``, ``score`` (P(stable placement) for the full
            model), ``stages`` (P(apply), P(hire | applied), P(stay | hired)) for the
            full model, ``stable_chance`` (the score as a sentence, ``{code, zh, en,
            values}``, when it is a calibrated probability per proposal), ``eligible`` and ``exclusions`` (code and message of every
            broken rule), ``reasons`` and ``warnings`` (each ``{code, zh, en,
            values}``) and ``features`` (the pair's ranker inputs).

        Raises
        ------
        UnknownIdError
        """
        self.check_fitted()
        from matcher.eligibility.rules import exclusions

        cat = self.catalogue_
        w = self._worker_pos(worker_id)
        v = self._vacancy_pos(vacancy_id)
        scorer = self.scorer
        values, matched = scorer.pair_values(cat, np.array([w]), np.array([v]))
        feats = pd.DataFrame(values, columns=PAIR_COLUMNS, copy=False)
        score = float(scorer.score(feats)[0])
        excl = exclusions(cat.workers.iloc[w], cat.vacancies.iloc[v], at=cat.at)
        reasons, warnings = scorer.reasons(cat, values, matched, np.array([v]))[0]
        out: dict[str, Any] = {
            Columns.Worker: worker_id,
            Columns.Vacancy: vacancy_id,
            Columns.Score: score,
            "eligible": not excl and bool(np.isin(v, cat.open_pos)),
            "exclusions": [{"code": str(e.code), "message": e.message} for e in excl],
            Columns.Reasons: [r.as_dict() for r in reasons],
            Columns.Warnings: [r.as_dict() for r in warnings],
            "features": {
                c: (None if not math.isfinite(float(feats[c].iloc[0])) else float(feats[c].iloc[0]))
                for c in RANKER_COLUMNS
            },
        }
        if self.stages == "full" and self.ranker_ is not None:
            probs = self.ranker_.predict_stages(feats)[0]
            out["stages"] = {name: float(p) for name, p in zip(STAGES, probs, strict=True)}
        weeks = self.stable_weeks
        if weeks is not None:
            out["stable_chance"] = stable_chance(score, weeks).as_dict()
        return out

    # ------------------------------------------------------------------ catalogue

    def recalibrate(self, dataset: Dataset) -> Self:
        """Fit the ranker's calibration once more on ``dataset`` (the events the model
        was fitted on), on the same slice as ``fit`` (events at or after
        ``ranker_counts_["calibration_cutoff"]``) and with the same seed; the boosters,
        retrieval and statistics stay. With unchanged code it reproduces the fitted
        calibration; a bench uses it to measure a calibration change on a trained model.
        With ``festival_leave="learnt"`` it also measures the festival departures again.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            The model has no ranker or was fitted without a calibration slice.
        """
        self.check_fitted()
        if self.ranker_ is None:
            raise ValueError("the model has no ranker calibrated on a later slice")
        trainer = RankerTrainer(self.config, self)
        self.ranker_counts_ = trainer.recalibrate(self.ranker_, self.ranker_counts_, dataset)
        self.festival_ = FestivalLeave().fit(dataset) if self.festival_leave == "learnt" else None
        return self

    def refresh(
        self, dataset: Dataset, at: object = None, *, holders: frozenset[str] | None = None
    ) -> Self:
        """Serve a newer snapshot without retraining.

        New workers and vacancies (cold) are mapped into the fitted feature space
        (unknown tokens ignored, no identity factors); learned parameters and the
        training statistics stay as fitted.

        Parameters
        ----------
        dataset : Dataset
        at : datetime-like, optional
            Time at which vacancies must be open (default: the snapshot's latest time).
        holders : frozenset of str, optional
            The households that hold a public-welfare post at ``at``
            (:func:`matcher.eligibility.households.public_post_holders`): their members
            are proposed no other. Default: from ``dataset``'s events and workers; give
            them when ``dataset`` holds only some of the workers (a holder's household is
            read from the holder's own row).

        Returns
        -------
        self
        """
        self.check_fitted()
        self.catalogue_ = self._catalogue(
            dataset, self.retrieval_, _serving_time(dataset, at), holders=holders
        )
        return self

    update_catalogue = refresh

    def update_vacancies(
        self,
        changed: pd.DataFrame,
        employers: pd.DataFrame | None = None,
        at: object = None,
    ) -> Self:
        """Serve vacancies posted, edited or closed since the last fit or refresh,
        without a full refresh (:meth:`matcher.models.catalogue.VacancyCatalogue.apply`).

        The catalogue is replaced by a new one (the old one is not modified, so a
        shallow copy of this model made before keeps serving it): new vacancies are
        appended and encoded alone (cold, from content), edited ones re-encoded in
        place, and those no longer open leave the open set; the result equals
        ``refresh`` of the same records at the same time except for the basis the
        dense retrieval channel projects on (kept from the last full build).

        Parameters
        ----------
        changed : DataFrame
            The vacancy rows that changed, as they are now (Dataset normal form).
        employers : DataFrame, optional
            Employer rows of those vacancies (``verified`` is read).
        at : datetime-like, optional
            Time at which vacancies must be open (default: the catalogue's time, or
            the latest ``posted_at`` among ``changed`` when later).

        Returns
        -------
        self
        """
        self.check_fitted()
        self.catalogue_ = VacancyCatalogue(self, self.retrieval_, self.scorer).apply(
            self.catalogue_, changed, employers, at
        )
        return self

    def knows_worker(self, worker_id: str) -> bool:
        """Whether the catalogue (as of the last fit or refresh) holds this worker."""
        self.check_fitted()
        return worker_id in self.catalogue_.wp.ids

    def household_holds_public_post(self, worker_id: str) -> bool | None:
        """Whether a member of the worker's household holds a public-welfare post in the
        served catalogue (as of the last fit or refresh; the worker may be the holder):
        then the worker is proposed no public-welfare post
        (:mod:`matcher.eligibility.households`). Reads the catalogue only, so it says
        what this model's lists did.

        Parameters
        ----------
        worker_id : str

        Returns
        -------
        bool or None
            None when the catalogue did not assess the rule (one built before it).

        Raises
        ------
        UnknownIdError
            The worker is not in the catalogue.
        """
        self.check_fitted()
        return self.catalogue_.holds_public_post(self._worker_pos(worker_id))

    def knows_vacancy(self, vacancy_id: str) -> bool:
        """Whether the catalogue (as of the last fit or refresh) holds this vacancy."""
        self.check_fitted()
        return bool(self.catalogue_.vacancy_positions([vacancy_id])[0] >= 0)

    def catalogue_size(self) -> tuple[int, int]:
        """Numbers of workers and vacancies the catalogue holds (open or not)."""
        self.check_fitted()
        return len(self.catalogue_.wp.ids), len(self.catalogue_.vp.ids)

    def check_fast_paths(self) -> dict[str, bool]:
        """Check that the fast paths reading private scikit-learn state (the ranker's
        tree sums and calibration, the word-by-word TF-IDF) give the public API's
        answers for this model; where one does not, it logs a warning and the public
        API serves instead. :meth:`load` runs it.

        Returns
        -------
        dict
            ``"ranker:<stage>"`` and ``"lexical"`` -> whether the fast path is used.
        """
        self.check_fitted()
        verdicts = {}
        if self.ranker_ is not None:
            verdicts = {f"ranker:{k}": v for k, v in self.ranker_.check_fast_paths().items()}
        verdicts["lexical"] = self.lexical_.check_fast_path()
        return verdicts

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the folder ``path`` (created); returns it."""
        self.check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, folder / ARTIFACT_FILE, compress=3)
        meta = {
            "artifact_version": ARTIFACT_VERSION,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "trained_at": self.trained_at_,
            "config": self.config.to_json(),
            "embedder": f"{type(self.embedder_).__module__}.{type(self.embedder_).__qualname__}",
            "packages": _package_versions(),
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Read a model written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            No artifact in ``path``.
        IncompatibleArtifactError
            Written by a version not in :data:`READABLE_ARTIFACT_VERSIONS`, or its
            config cannot be read; says to retrain.
        """
        folder = Path(path)
        meta_path = folder / META_FILE
        if not meta_path.exists() or not (folder / ARTIFACT_FILE).exists():
            raise FileNotFoundError(
                f"{folder} holds no Recommender artifact ({META_FILE} and {ARTIFACT_FILE}); "
                "train one with `jobmatch train`"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise IncompatibleArtifactError(
                f"{meta_path} is not valid JSON ({exc}); the artifact is corrupted: retrain "
                "with `jobmatch train`"
            ) from exc
        version = meta.get("artifact_version")
        if version not in READABLE_ARTIFACT_VERSIONS:
            readable = ", ".join(map(str, READABLE_ARTIFACT_VERSIONS))
            raise IncompatibleArtifactError(
                f"the model in {folder} has artifact version {version}, but this jobmatch reads "
                f"versions {readable}: retrain with `jobmatch train` (or install the "
                "jobmatch version that wrote it)"
            )
        saved_config = None
        if version >= 2:
            try:
                saved_config = RecommenderConfig.from_json(meta.get("config"))
            except ConfigError as exc:
                raise IncompatibleArtifactError(
                    f"{meta_path} holds a config this jobmatch cannot read ({exc}): retrain "
                    "with `jobmatch train`"
                ) from None
        model = load_joblib(folder / ARTIFACT_FILE)
        if not isinstance(model, cls):
            raise IncompatibleArtifactError(
                f"{folder / ARTIFACT_FILE} holds a {type(model).__name__}, not a {cls.__name__}"
            )
        if saved_config is not None and saved_config != model.config:
            raise IncompatibleArtifactError(
                f"{meta_path} and {ARTIFACT_FILE} disagree on the model's config (the folder "
                "mixes two artifacts): retrain with `jobmatch train`"
            )
        model.check_fast_paths()
        if hasattr(model, "catalogue_"):
            model.catalogue_.prepare_updates()
        return model


# --------------------------------------------------------------------------- helpers


def _open_columns(open_pos: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Columns in ``open_pos`` (sorted catalogue positions of the open vacancies) of
    those ``positions`` that are open; the others are left out."""
    if len(open_pos) == 0:
        return np.zeros(0, dtype=np.int64)
    cols = np.minimum(np.searchsorted(open_pos, positions), len(open_pos) - 1)
    return cols[open_pos[cols] == positions].astype(np.int64)


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("jobmatch", "scikit-learn", "lightfm-next", "numpy", "pandas", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
