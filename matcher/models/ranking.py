"""Learned ranking: a calibrated probability of a stable placement for each pair.

Why a continuation-ratio model
------------------------------
Outcomes are ordered stages a pair passes through: shown -> applied -> hired ->
still there three months later (retained). We model the chain of conditional
probabilities (the *continuation-ratio* or *sequential* ordinal model; Agresti,
*Categorical Data Analysis*, 3rd ed., sec. 8.3),

    P(stable | x) = P(apply | x) * P(hire | applied, x) * P(stay | hired, x),

with one gradient-boosting classifier per stage (``HistGradientBoostingClassifier``),
each trained only on the pairs that reached its stage:

* apply: every training pair; positives applied / interviewed / rejected /
  declined / hired / left / retained (eligible pairs on vacancies open at the
  holdout cutoff, first pursued after it), negatives eligible open vacancies
  drawn uniformly that the worker did not apply to (a pair only *viewed* is not
  a negative of its own: shown-not-applied pairs are where exposure already
  happened, and measured worse as negatives);
* hire: pairs that applied; positives hired (also hired-then-left or retained),
  negatives rejected or declined or no answer;
* stay: with ``stays`` (what :class:`matcher.serving.recommender.Recommender` passes), a
  weekly *rate of leaving*: a Poisson booster on every hire at risk in the window,
  its leaving events per week at risk (censored hires count the weeks they were
  seen, hires made before the window enter it then: left truncation), so
  P(stay | hired) = exp(-horizon * rate). Without ``stays``: pairs hired whose fate
  is known, positives retained_3m / retained_6m, negatives left (a few months of
  data hold mostly the early leavers, so this underestimates staying). With
  ``calibrate(stay_covariates=True)`` the stay stage is a ridge-penalised proportional
  hazard on :data:`STAY_COVARIATES` instead (the booster left out).

Then :meth:`StablePlacementRanker.calibrate` maps each stage onto the rates of a
*later* time slice and the population the stage must describe (the pairs shown for
apply, the applications for hire, the hires at risk for stay, survival to 26 weeks
by a piecewise-exponential hazard): :mod:`matcher.models.calibration` says why. The product
is then P(stable placement for 26 weeks | proposed), on one scale for all workers.

Compared with one classifier with graded sample weights, each stage uses all the
data that informs it (there are far more applications than retentions), the
graded labels keep their order without inventing a numeric scale, and the
product is a probability of the event the issue asks for, so it can be
calibrated stage by stage: each stage is wrapped in ``CalibratedClassifierCV``
(isotonic when the smaller class has at least ``ISOTONIC_MIN`` rows, Platt's
sigmoid otherwise; ``ensemble=False``: cross-validated predictions fit the
calibrator, one booster refit on all rows predicts — a third of the cost of an
ensemble at request time). A stage with too few rows of either class falls back
to its Laplace-smoothed base rate ``(positives + 1) / (rows + 2)``.

Gradient boosting: Friedman 2001, *Greedy function approximation*; histogram
binning as in LightGBM (Ke et al. 2017). Calibration: Zadrozny & Elkan 2002
(isotonic), Platt 1999 (sigmoid). Request-time tree sums: QuickScorer (Lucchese
et al., SIGIR 2015), see :class:`QuickScorer`.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from matcher.fast_path_guard import FastPathGuard
from matcher.models.calibration import (
    HORIZON_WEEKS,
    CovariateCalibrator,
    CovariateHazard,
    JointCalibrator,
    OfferAcceptance,
    PiecewiseHazard,
    ProbabilityMap,
    Spells,
    StageCalibrator,
    out_of_fold_log_loss,
)
from matcher.models.features import (
    CAPACITY_CODE,
    CHANNELS,
    ENTRY_LEVEL,
    MOBILITY_CODE,
    PAIR_COLUMNS,
    RANKER_COLUMNS,
    WAGE_RATIO_PEERS,
    WORKER_EXPOSURE_LEFT,
    WORKER_LEFT,
)

STAGES = ("apply", "hire", "stay")
#: Minority-class rows needed for isotonic calibration (Platt's sigmoid below).
ISOTONIC_MIN = 200
#: Rows of each class needed to learn a stage at all.
MIN_CLASS_ROWS = 10
#: The joint map's prior: the product of the calibrated stages, worth this many
#: proposals (:class:`matcher.models.calibration.JointCalibrator`, ``prior_rows``).
JOINT_PRIOR_ROWS = 100.0
#: Stand-in for a missing value (unknown wage, age...): below every real feature value,
#: so trees still split "missing" apart, and a column that is missing throughout a
#: cross-validation fold cannot break histogram binning.
MISSING = -1e6
#: :meth:`StablePlacementRanker.predict_top` scores this many times ``k`` pairs per
#: group in its first round (a larger first round sets a higher bar for the second).
FIRST_ROUND = 4
#: Up to this many rows the trees are summed on one thread (a request's few hundred
#: pairs, a service micro-batch of a few dozen requests); larger batches (nightly
#: scoring, evaluation) use sklearn's OpenMP threads.
ONE_THREAD_ROWS = 16384


#: Features whose effect is known not to be negative: more similarity, a closer
#: occupation, more placements from the same county, a preferred region. Monotone
#: constraints keep small markets from learning accidental reversals.
INCREASING = (
    "lightfm",
    "dense",
    "lexical",
    "occ_match",
    "flow_log",
    "preferred_region",
    "tie_views_log",
    "tie_applied_log",
    "tie_hired_log",
    "flow_applied_log",
    "pref_applied_log",
    "worker_seen_vacancy",
    "worker_seen_employer_log",
    "referral_share",
    "flow_share",
)


#: Covariates of the apply stage's map on the shown pairs
#: (:class:`matcher.models.calibration.CovariateCalibrator`): the terms of a worker's choice
#: once a vacancy is shown, whose weight the exposure in the booster's sample blurs —
#: distance (log of km over 100, beyond ``FAR_KM``, housing on a far move), pay against
#: the worker's expectation (log ratio, clipped; 0 and a flag when unknown), where the
#: vacancy is against home and stated preferences, the county's network and the occupation
#: match. Names of :func:`stage_covariates`'s columns.
#: Ranker columns the apply map reads as they are (missing as 0).
_PLAIN_COVARIATES = (
    "same_county",
    "same_province",
    "preferred_region",
    "flow_log",
    "tie_applied_log",
    "occ_match",
)
APPLY_COVARIATES = (
    "log_distance",
    "far",
    "far_housing",
    "log_wage_ratio",
    "wage_unknown",
    *_PLAIN_COVARIATES,
)
#: The apply stage's map takes covariates only when their out-of-fold cross-entropy on
#: the slice is below this share of plain Platt's.
SELECT_MARGIN = 0.98
_COL = {name: j for j, name in enumerate(RANKER_COLUMNS)}
#: Which terms of the worker's choice the apply stage reads (``StablePlacementRanker``'s
#: ``apply_terms``): ``"plain"``, the boosters without :data:`ENTRY_LEVEL` and the apply
#: map on :data:`APPLY_COVARIATES`; ``"entry"``, the boosters with it and the apply map on
#: :data:`APPLY_ENTRY_COVARIATES`.
APPLY_TERMS = ("plain", "entry")
#: Ranker columns each ``apply_terms`` gives the boosters: the leading columns of
#: :data:`RANKER_COLUMNS` (:data:`ENTRY_LEVEL` is the last a booster reads, before
#: :data:`matcher.models.features.WORKER_LEFT`, which only the stay hazard reads).
BOOSTER_WIDTH = {
    "plain": RANKER_COLUMNS.index(ENTRY_LEVEL),
    "entry": RANKER_COLUMNS.index(ENTRY_LEVEL) + 1,
}
assert RANKER_COLUMNS[-4:] == [ENTRY_LEVEL, WORKER_LEFT, WORKER_EXPOSURE_LEFT, WAGE_RATIO_PEERS]
#: What of the worker's own past the stay hazard reads (``StablePlacementRanker``'s
#: ``stay_record``): ``"none"``, :data:`STAY_COVARIATES` only; ``"worker"``, also the
#: worker's leaving record over his ended spells (:data:`matcher.models.features.WORKER_LEFT`,
#: last); ``"exposure"``, instead the record over all his other spells, open ones censored
#: (:data:`matcher.models.features.WORKER_EXPOSURE_LEFT`, last).
STAY_RECORDS = ("none", "worker", "exposure")
#: Ridge on the stay hazard's standardised covariates unless ``calibrate(stay_l2=...)``
#: says otherwise (the loss is the log-likelihood per leaving event).
STAY_COVARIATE_L2 = 0.1
#: The ranker column each ``stay_record`` adds to the stay hazard's covariates.
_RECORD_COLUMN = {"worker": WORKER_LEFT, "exposure": WORKER_EXPOSURE_LEFT}
#: Covariates of the apply stage's map with ``apply_terms="entry"``: those of
#: :data:`APPLY_COVARIATES` but the vacancy's province, with the county's network counted
#: across a provincial border only (a worker's network in his own province is no reason
#: to go there), and a job outside the worker's trade that takes no newcomers (his
#: occupation codes meet the vacancy's below the minor group, and the vacancy's
#: occupation is not :data:`ENTRY_LEVEL`). Why: the slice's shown pairs in the home
#: province are mostly shown because they are near, whatever the trade; with
#: ``same_province`` beside ``far`` the map learnt a large weight for each that cancel on
#: the usual pairs and add up on a rare one — a job across a nearby provincial border —
#: and a job outside the trade, which workers seldom take up unless it takes newcomers,
#: is what the home province's shown pairs hold (``docs/equal-service.md``).
APPLY_ENTRY_COVARIATES = (
    "log_distance",
    "far",
    "far_housing",
    "log_wage_ratio",
    "wage_unknown",
    "same_county",
    "preferred_region",
    "cross_flow_log",
    "tie_applied_log",
    "occ_match",
    "off_trade",
)
#: Covariates of the stay stage's hazard (:class:`matcher.models.calibration.CovariateHazard`):
#: the terms of a job that keep or lose a worker, whatever the market weighs most — pay
#: against the worker's expectation (log ratio, clipped; 0 and a flag when unknown), a
#: written contract, social insurance, housing and meals, the employer's record (arrears,
#: departures, retention, hires, verified), distance, a long move without housing or
#: Mandarin, the occupation match, the channel, the worker's county at the employer and in
#: its province (fellow villagers hired there, the county's flow, referrals, partner
#: provinces), and the worker's age, capacity and sex. Names of
#: :func:`stay_covariate_matrix`'s columns.
_CHANNEL_COLUMNS = tuple(f"channel_{c}" for c in CHANNELS)
_STAY_PLAIN = (
    "labor_contract",
    "social_insurance",
    "housing",
    "meals",
    "employer_arrears_rate",
    "employer_left_rate",
    "employer_retained_rate",
    "employer_hires_log",
    "employer_verified",
    "occ_match",
    "language_fit",
    *_CHANNEL_COLUMNS,
    "same_county",
    "same_province",
    "partner",
    "flow_log",
    "tie_hired_log",
    "tie_applied_log",
    "referral_share",
    "age",
    "capacity",
    "female",
)
STAY_COVARIATES = (
    "log_distance",
    "far",
    "far_no_housing",
    "far_no_mandarin",
    "log_wage_ratio",
    "wage_unknown",
    *_STAY_PLAIN,
)


#: Competition an application met (:func:`matcher.models.labels.application_competition`
#: counts it in the events): the other applications to the vacancy around it per seat left,
#: and the worker's own other applications around it (each ``log1p``). An employer fills
#: at most its seats with the best applicants and a worker takes one offer, so the hires
#: observed per application fall with both; P(hired | applied) as the plan needs it is a
#: single applicant's with a seat free, so scoring puts both at :data:`HIRE_PLANNING`.
HIRE_COMPETITION = ("rivals_per_seat_log", "own_applications_log")
#: The competition's value at scoring (no rival, no other application of the worker's).
HIRE_PLANNING = 0.0
#: Ranker columns the hire map reads beside the competition (missing as 0): the county's
#: network and ties to the employer, which go with more rivals (fellow villagers apply to
#: the same employers), so that the booster learnt their weight net of the competition.
_HIRE_PAIR_COVARIATES = ("flow_log", "flow_applied_log", "tie_applied_log", "tie_hired_log")
HIRE_COVARIATES = (*HIRE_COMPETITION, *_HIRE_PAIR_COVARIATES)


#: Covariates of the hire stage without its booster (``calibrate(hire_alone=...)``): the
#: competition (:data:`HIRE_COMPETITION`, at :data:`HIRE_PLANNING` when scoring), the
#: job's and the pair's terms of :data:`STAY_COVARIATES` (pay against the worker's
#: expectation, which decides whether an offer is taken; distance and a long move, the
#: occupation match, language, channel, the county's network and ties at the employer,
#: age, capacity, sex, the employer's record) and the county's applications to the
#: province and the text similarities of the worker's and the vacancy's occupations.
_HIRE_ALONE_PLAIN = ("flow_applied_log", "lexical", "dense")
HIRE_ALONE_COVARIATES = (*HIRE_COMPETITION, *STAY_COVARIATES, *_HIRE_ALONE_PLAIN)
#: ... with ``apply_terms="entry"`` also ``off_trade`` (:data:`APPLY_ENTRY_COVARIATES`): an
#: employer seldom hires outside the applicant's trade unless the work takes newcomers,
#: the same domain fact (the occupation catalogue's entry flag) the apply map reads.
HIRE_ALONE_ENTRY_COVARIATES = (*HIRE_ALONE_COVARIATES, "off_trade")
#: Ridge of the hire stage's logistic regression on :data:`HIRE_ALONE_COVARIATES`
#: (standardised covariates; the loss is the mean cross-entropy per application).
HIRE_ALONE_L2 = 1e-2


#: Ranker columns :meth:`StablePlacementRanker.predict_top` may leave unknown for the
#: pairs that cannot reach their group's top ``k`` (:class:`DeferredColumns`): columns that
#: the stage maps without a booster read only as plain covariates (``hire_alone``'s and
#: ``apply_alone``'s text similarities) and no other map reads (the later stages' bounds
#: read neither), so that a map's largest value over the column's clipping range bounds
#: the stage while the column is unknown. ``tests/engine/test_deferred_columns.py``
#: holds every covariate function to this.
DEFERRABLE_COLUMNS = ("lexical", "dense")


@dataclass(frozen=True)
class DeferredColumns:
    """Ranker input columns left out of ``predict_top``'s input until a pair needs them.

    ``names``: some of :data:`DEFERRABLE_COLUMNS`, in any order; their values in the
    input are ignored. ``fill(rows)``: the columns' values (raw pair features, as
    :func:`matcher.models.features.pair_matrix` gives them, a missing value as NaN) of
    the input rows ``rows``, shape ``(len(rows), len(names))``; called with each row
    at most once, only for rows whose exact score is computed or whose bound must be
    tightened.
    """

    names: tuple[str, ...]
    fill: Callable[[np.ndarray], np.ndarray]


def _fill_rows(x: np.ndarray, deferred: DeferredColumns | None, rows: np.ndarray) -> None:
    """Write the deferred columns of input rows ``rows`` into ``x`` (missing values as
    ``MISSING``, as :func:`_matrix` writes them)."""
    if deferred is None or not len(rows):
        return
    values = np.asarray(deferred.fill(rows), dtype=float).reshape(len(rows), len(deferred.names))
    cols = np.array([_COL[name] for name in deferred.names], dtype=np.intp)
    x[rows[:, None], cols] = np.where(np.isfinite(values), values, MISSING)


def _column(x: np.ndarray, name: str) -> np.ndarray:
    """Ranker input column ``name`` with ``MISSING`` as NaN."""
    v = x[:, _COL[name]]
    return np.where(v > MISSING / 2, v, np.nan)


_PLAIN_INDEX: dict[tuple[str, ...], np.ndarray] = {}


def _plain(x: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Ranker input columns ``names`` with ``MISSING`` (and NaN) as 0, ``(n, len(names))``:
    ``np.nan_to_num(_column(x, name), nan=0.0)`` of each, in one gather and one pass (a
    request's few hundred rows paid numpy's per-call cost column by column)."""
    index = _PLAIN_INDEX.get(names)
    if index is None:
        index = _PLAIN_INDEX[names] = np.array([_COL[name] for name in names], dtype=np.intp)
    v = x[:, index]
    out = np.where(v > MISSING / 2, v, 0.0)  # a NaN fails the test: 0, as nan_to_num
    if not np.isfinite(out).all():  # +inf: nan_to_num's largest float
        out = np.nan_to_num(out, nan=0.0)
    return out


def hire_covariates(x: np.ndarray, competition: np.ndarray | None = None) -> np.ndarray:
    """The :data:`HIRE_COVARIATES` of ranker input rows ``x``: ``competition`` ``(n, 2)``
    (:data:`HIRE_COMPETITION`; ``None``: the value at scoring, :data:`HIRE_PLANNING`) and
    the pair columns, missing as 0; finite, one row per pair.

    Raises
    ------
    ValueError
        ``competition`` is not ``(n, 2)`` or not finite.
    """
    n = len(x)
    if competition is None:
        comp = np.full((n, len(HIRE_COMPETITION)), HIRE_PLANNING)
    else:
        comp = np.asarray(competition, dtype=float)
        if comp.shape != (n, len(HIRE_COMPETITION)) or not np.isfinite(comp).all():
            raise ValueError(
                f"competition must be a finite array of shape ({n}, {len(HIRE_COMPETITION)}), "
                f"got shape {comp.shape}"
            )
    if not n:
        return np.zeros((0, len(HIRE_COVARIATES)))
    return np.column_stack([comp, _plain(x, _HIRE_PAIR_COVARIATES)])


def hire_alone_covariates(
    x: np.ndarray, competition: np.ndarray | None = None, terms: str = "plain", peers: bool = False
) -> np.ndarray:
    """The :data:`HIRE_ALONE_COVARIATES` of ranker input rows ``x``: ``competition`` as
    :func:`hire_covariates` takes it (``None``: the value at scoring), the
    :func:`stay_covariate_matrix` (with ``peers``) and the plain columns (missing as 0);
    finite, one row per pair. ``terms="entry"``: :data:`HIRE_ALONE_ENTRY_COVARIATES`
    (``off_trade`` last)."""
    width = len(HIRE_ALONE_ENTRY_COVARIATES if terms == "entry" else HIRE_ALONE_COVARIATES)
    if not len(x):
        return np.zeros((0, width))
    comp = hire_covariates(x, competition)[:, : len(HIRE_COMPETITION)]
    plain = [_plain(x, _HIRE_ALONE_PLAIN)]
    if terms == "entry":
        plain.append(_off_trade(x))
    return np.column_stack([comp, stay_covariate_matrix(x, peers=peers), *plain])


def _off_trade(x: np.ndarray) -> np.ndarray:
    """1.0 where the worker's occupation codes meet the vacancy's below the minor group
    and the vacancy's occupation takes no newcomers (:data:`ENTRY_LEVEL` not 1)."""
    occ, entry = _plain(x, ("occ_match", ENTRY_LEVEL)).T
    return ((occ < 3) & (entry != 1)).astype(float)


def stage_covariates(x: np.ndarray, peers: bool = False) -> np.ndarray:
    """The :data:`APPLY_COVARIATES` of ranker input rows ``x`` (:data:`RANKER_COLUMNS`
    order, missing values as ``MISSING``): finite, one row per pair. ``peers``: the pay
    term reads :data:`~matcher.models.features.WAGE_RATIO_PEERS` (a vacancy that posts
    no wage at what its peers pay; ``wage_unknown`` still says it posts none)."""

    distance = np.nan_to_num(np.clip(_column(x, "distance_km"), 0.0, None), nan=0.0)
    far, housing = _plain(x, ("far", "housing")).T
    posted = _column(x, "wage_ratio")
    known = np.isfinite(posted) & (np.nan_to_num(posted, nan=0.0) > 0)
    ratio = _column(x, WAGE_RATIO_PEERS) if peers else posted
    usable = np.isfinite(ratio) & (np.nan_to_num(ratio, nan=0.0) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(usable, np.log(np.where(usable, ratio, 1.0)), 0.0)
    return np.column_stack(
        [
            np.log1p(distance / 100.0),
            far,
            far * housing,
            np.clip(log_ratio, -1.0, 1.0),
            (~known).astype(float),
            _plain(x, _PLAIN_COVARIATES),
        ]
    )


def apply_entry_covariates(x: np.ndarray) -> np.ndarray:
    """The :data:`APPLY_ENTRY_COVARIATES` of ranker input rows ``x``
    (:data:`RANKER_COLUMNS` order, missing values as ``MISSING``): finite, one row per
    pair."""
    u = stage_covariates(x)
    named = dict(zip(APPLY_COVARIATES, u.T, strict=True))
    cross = 1.0 - named["same_province"]
    named["cross_flow_log"] = cross * named["flow_log"]
    named["off_trade"] = _off_trade(x)
    return np.column_stack([named[name] for name in APPLY_ENTRY_COVARIATES])


#: Covariates of the apply stage without its booster (``calibrate(apply_alone=...)``): the
#: terms of a worker's choice once a vacancy is shown (:data:`APPLY_COVARIATES`: distance,
#: a far move with housing, pay against the expectation, home and preferred regions, the
#: county's network and applications to the employer, the occupation match) and the
#: rest of the vacancy's terms and the worker's situation at it: meals on a far move, a
#: written contract, social insurance, a verified employer, a far move without Mandarin,
#: the exact and the minor-group occupation match, the text similarities, the channel, a
#: public-welfare post for a poor household, a home channel (employment factory, public
#: welfare) for semi/weak or home-bound labour, the county's network across provinces,
#: partner provinces and fellow villagers hired at the employer. No column of the
#: vacancy's pull or of the worker's own views: the stage is P(apply | shown).
_APPLY_ALONE_PLAIN = (
    "labor_contract",
    "social_insurance",
    "employer_verified",
    "lexical",
    "dense",
    "tie_hired_log",
    *_CHANNEL_COLUMNS,
)
APPLY_ALONE_COVARIATES = (
    *APPLY_COVARIATES,
    "far_meals",
    "far_no_mandarin",
    "occ_exact",
    "occ_minor_group",
    "public_poor",
    "home_channel_fit",
    "cross_flow_log",
    "cross_partner",
    *_APPLY_ALONE_PLAIN,
)
#: Ridge of the apply stage's logistic regression on :data:`APPLY_ALONE_COVARIATES`
#: (standardised covariates; the loss is the mean cross-entropy per view).
APPLY_ALONE_L2 = 1e-2


def apply_alone_covariates(x: np.ndarray) -> np.ndarray:
    """The :data:`APPLY_ALONE_COVARIATES` of ranker input rows ``x``
    (:data:`RANKER_COLUMNS` order, missing values as ``MISSING``): finite, one row per
    pair."""
    if not len(x):
        return np.zeros((0, len(APPLY_ALONE_COVARIATES)))

    def col(name: str) -> np.ndarray:
        return np.nan_to_num(_column(x, name), nan=0.0)

    far = col("far")
    occ = col("occ_match")
    cross = 1.0 - col("same_province")
    home_channel = col("channel_employment_factory") + col("channel_public_welfare_post")
    # a missing capacity or mobility (0 here) reads as neither
    not_full = np.isin(_column(x, "capacity"), [CAPACITY_CODE["semi"], CAPACITY_CODE["weak"]])
    home_bound = _column(x, "mobility") == MOBILITY_CODE["local"]
    return np.column_stack(
        [
            stage_covariates(x),
            far * col("meals"),
            far * (1.0 - col("mandarin")),
            (occ >= 4).astype(float),
            (occ == 3).astype(float),
            col("channel_public_welfare_post") * (col("household") > 0),
            home_channel * (not_full | home_bound),
            cross * col("flow_log"),
            cross * col("partner"),
            _plain(x, _APPLY_ALONE_PLAIN),
        ]
    )


def stay_covariate_matrix(x: np.ndarray, record: str = "none", peers: bool = False) -> np.ndarray:
    """The :data:`STAY_COVARIATES` of ranker input rows ``x`` (:data:`RANKER_COLUMNS`
    order, missing values as ``MISSING``): finite, one row per pair. ``record="worker"``
    or ``"exposure"`` (:data:`STAY_RECORDS`): also the worker's leaving record
    (:data:`matcher.models.features.WORKER_LEFT`, resp.
    :data:`~matcher.models.features.WORKER_EXPOSURE_LEFT`, missing as 0) as the last column.
    ``peers``: pay as :func:`stage_covariates` reads it with ``peers``."""
    u = stage_covariates(x, peers)
    distance, far, far_housing, log_ratio, unknown = (u[:, j] for j in range(5))
    plain = _plain(
        x,
        (
            "mandarin",
            *_STAY_PLAIN,
            *((_RECORD_COLUMN[record],) if record in _RECORD_COLUMN else ()),
        ),
    )
    return np.column_stack(
        [
            distance,
            far,
            far - far_housing,
            far * (1.0 - plain[:, 0]),
            log_ratio,
            unknown,
            plain[:, 1:],
        ]
    )


@dataclass(frozen=True)
class Proposals:
    """Pairs proposed (shown) in a calibration slice and what became of them.

    ``features``: ranker input rows; ``hired``: 1 when the proposal ended in a hire;
    ``weeks``: weeks from that hire to the end of the data or to leaving; ``left``: 1
    when the hire left before the end; ``weight``: trials the row stands for (a pair
    shown several times and not hired is one row weighted by its views).
    """

    features: pd.DataFrame | np.ndarray
    hired: np.ndarray
    weeks: np.ndarray
    left: np.ndarray
    weight: np.ndarray
    #: :data:`HIRE_COMPETITION` of each proposal when it was shown (``(n, 2)``), for a
    #: hire map with competition; ``None``: the value at scoring
    competition: np.ndarray | None = None


def _matrix(features: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Ranker input: a frame with :data:`RANKER_COLUMNS`, or a float array whose columns
    are :data:`RANKER_COLUMNS` in that order (the request path's
    :func:`matcher.models.features.pair_matrix` rows), missing values replaced by ``MISSING``."""
    if isinstance(features, np.ndarray):
        if features.ndim != 2 or features.shape[1] != len(RANKER_COLUMNS):
            raise ValueError(
                f"ranker input array has shape {features.shape}; expected (n, "
                f"{len(RANKER_COLUMNS)}) with columns RANKER_COLUMNS in order"
            )
        x = features.astype(float, copy=False)
    else:
        x = features[RANKER_COLUMNS].to_numpy(dtype=float)
    return np.where(np.isfinite(x), x, MISSING)


def _with_earlier(
    feats: np.ndarray | pd.DataFrame,
    outcome: np.ndarray,
    earlier_feats: np.ndarray | pd.DataFrame,
    earlier_outcome: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``earlier_feats`` stacked over ``feats``, and their outcomes as floats."""
    x = (
        np.vstack([_matrix(earlier_feats), _matrix(feats)])
        if len(earlier_outcome)
        else _matrix(feats)
    )
    y = np.r_[np.asarray(earlier_outcome, dtype=float), np.asarray(outcome, dtype=float)]
    return x, y


#: QuickScorer keeps one bit per leaf in a 16-bit lane: trees with more leaves (a
#: ``max_leaf_nodes`` above 16) are summed by sklearn's tree walk instead.
LANE_LEAVES = 16
#: :class:`QuickScorer` handles this many rows at a time (its per-feature masks of a
#: block, features x rows x 8 bytes per 4 trees, stay a few MB).
QUICK_BLOCK = 512

# index of the lowest set bit of every 16-bit lane value (0 for 0, never looked up)
_LOW = np.arange(1 << LANE_LEAVES)
LOWEST_BIT = np.zeros(1 << LANE_LEAVES, dtype=np.uint8)
LOWEST_BIT[1:] = np.frexp((_LOW & -_LOW)[1:].astype(float))[1] - 1
del _LOW


def _leaf_spans(left: list[int], right: list[int], is_leaf: list[int]) -> list[tuple[int, int]]:
    """For each node of a tree (root 0), the numbers of the leaves under it, leaves
    numbered left to right: ``(first, one past the last)``."""
    span = [(0, 0)] * len(left)

    def number(i: int, start: int) -> int:
        end = start + 1 if is_leaf[i] else number(right[i], number(left[i], start))
        span[i] = (start, end)
        return end

    number(0, 0)
    return span


@dataclass(frozen=True)
class QuickScorer:
    """The trees of a fitted binary ``HistGradientBoostingClassifier`` laid out for
    QuickScorer (Lucchese et al., *QuickScorer: a fast algorithm to rank documents
    with additive ensembles of regression trees*, SIGIR 2015): every tree evaluated
    for a block of rows in a few numpy calls instead of one sklearn call per tree.

    A tree's leaves are numbered left to right, one bit each in the tree's 16-bit
    lane. A split whose test ``x[feature] <= threshold`` fails sends the row right, so
    none of the leaves in its left subtree can be the row's leaf: its *mask* clears
    their bits. The row's leaf is the lowest bit left after clearing the masks of all
    failed splits (every failed split on the row's path has the leaf on its right;
    any leaf further left shares an ancestor on the path that sent the row right).
    For one feature, the failed splits are those with ``threshold < x``: the first
    ``k`` of the feature's sorted thresholds, ``k = searchsorted(thresholds, x)``; so
    row ``k`` of the feature's table holds the AND of those splits' masks, for every
    lane at once (four trees per 64-bit word). A row ANDs one table row per feature.

    The leaf values are sklearn's, summed in sklearn's order (baseline, then tree by
    tree, float64), so the sums are the same numbers; a NaN input (a missing value
    goes where sklearn learnt) is left to sklearn's tree walk.
    """

    predictors: list  # the booster's own list, to notice a refit
    features: np.ndarray  # (m,) the columns some split tests
    thresholds: tuple[np.ndarray, ...]  # per feature: its split thresholds, sorted
    first_row: np.ndarray  # (m, 1) each feature's first row in ``masks``
    masks: np.ndarray  # (sum of (thresholds + 1), words) uint64, 4 lanes a word
    leaf_values: np.ndarray  # (trees * LANE_LEAVES,) value of leaf j of tree t at t*16+j
    n_trees: int

    @classmethod
    def compile(cls, predictors: list) -> QuickScorer | None:
        """The layout of ``booster._predictors`` (one tree per iteration), or None when
        a tree has a categorical split or more than :data:`LANE_LEAVES` leaves."""
        n_trees = len(predictors)
        leaf_values = np.zeros((n_trees, LANE_LEAVES))
        splits: dict[int, list[tuple[float, int, int]]] = {}  # feature -> (threshold, tree, mask)
        for t, (tree,) in enumerate(predictors):
            nodes = tree.nodes
            if nodes["is_categorical"].any() or int(nodes["is_leaf"].sum()) > LANE_LEAVES:
                return None
            left, right = nodes["left"].tolist(), nodes["right"].tolist()
            is_leaf = nodes["is_leaf"].tolist()
            span = _leaf_spans(left, right, is_leaf)
            for i, (lo, _) in enumerate(span):
                if is_leaf[i]:
                    leaf_values[t, lo] = nodes["value"][i]
            for i, (feature, threshold) in enumerate(
                zip(nodes["feature_idx"].tolist(), nodes["num_threshold"].tolist(), strict=True)
            ):
                if not is_leaf[i]:
                    lo, hi = span[left[i]]
                    mask = 0xFFFF & ~(((1 << (hi - lo)) - 1) << lo)
                    splits.setdefault(feature, []).append((threshold, t, mask))
        lanes = -(-max(n_trees, 1) // 4) * 4
        features = sorted(splits)
        thresholds, tables = [], []
        for feature in features:
            cuts = np.unique([threshold for threshold, _, _ in splits[feature]])
            table = np.full((len(cuts) + 1, lanes), 0xFFFF, dtype=np.uint16)
            for threshold, t, mask in splits[feature]:
                # the split fails once threshold < x: from row (its rank + 1) on
                table[int(np.searchsorted(cuts, threshold)) + 1 :, t] &= mask
            thresholds.append(cuts)
            tables.append(table.view(np.uint64))
        if not features:  # every tree a single leaf
            tables = [np.full((1, lanes // 4), np.iinfo(np.uint64).max, dtype=np.uint64)]
        sizes = [len(table) for table in tables]
        return cls(
            predictors=predictors,
            features=np.array(features, dtype=np.intp),
            thresholds=tuple(thresholds),
            first_row=(np.cumsum(sizes) - sizes)[: len(features), None].astype(np.intp),
            masks=np.concatenate(tables),
            leaf_values=leaf_values.ravel(),
            n_trees=n_trees,
        )

    def decision(self, x: np.ndarray, baseline: float) -> np.ndarray | None:
        """``baseline`` plus the sum of the trees at each row of ``x`` (float64, sklearn's
        order), or None when ``x`` has a NaN in a column a split tests."""
        columns = x.T[self.features]  # (m, n), one row per tested feature
        if np.isnan(columns).any():
            return None
        n = len(x)
        rows = np.empty((len(self.features), n), dtype=np.intp)
        for j, (cuts, column) in enumerate(zip(self.thresholds, columns, strict=True)):
            rows[j] = cuts.searchsorted(column)
        rows += self.first_row
        raw = np.empty(n)
        tree_start = (np.arange(self.n_trees) * LANE_LEAVES)[:, None]
        for start in range(0, n, QUICK_BLOCK):
            block = rows[:, start : start + QUICK_BLOCK]
            if len(self.features):
                lanes = np.bitwise_and.reduce(self.masks[block], axis=0)  # (b, words)
            else:
                lanes = np.repeat(self.masks, block.shape[1], axis=0)
            leaf = LOWEST_BIT[lanes.view(np.uint16)[:, : self.n_trees].T]  # (trees, b)
            terms = np.take(self.leaf_values, leaf + tree_start)  # (trees, b)
            # as sklearn: zeros, += baseline, += each tree in order, one row at a time
            # (a reduce may add pairwise; accumulate writes every partial sum)
            total = raw[start : start + leaf.shape[1]]
            total[:] = 0.0
            total += baseline
            for tree_terms in terms:
                total += tree_terms
        return raw


#: booster -> its QuickScorer (None: not supported); built on first use, so models
#: saved before it existed load and score the same
_QUICK_SCORERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def quick_scorer(booster) -> QuickScorer | None:
    """The booster's :class:`QuickScorer`, compiled on first use and again after a
    refit (a new ``_predictors`` list)."""
    predictors = booster._predictors
    cached = _QUICK_SCORERS.get(booster)
    if cached is not None and cached[0] is predictors:
        return cached[1]
    scorer = QuickScorer.compile(predictors)
    _QUICK_SCORERS[booster] = (predictors, scorer)
    return scorer


def raw_tree_output(booster, x: np.ndarray) -> np.ndarray:
    """sklearn's raw sum of trees: ``decision_function`` of a binary classifier, the
    log of the prediction of a Poisson ``HistGradientBoostingRegressor``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    if isinstance(booster, HistGradientBoostingRegressor):
        return booster._raw_predict(x).ravel()
    return booster.decision_function(x)


def _decision(booster, x: np.ndarray) -> np.ndarray:
    """``booster.decision_function(x)`` of a fitted binary
    ``HistGradientBoostingClassifier`` (or the raw output of a Poisson regressor,
    :func:`raw_tree_output`), the same numbers (baseline, then each tree
    added in order), on ONE thread: sklearn opens an OpenMP parallel region per
    tree, and for the few hundred rows of a request that costs more than the tree
    walk (and, with the cores busy, a region can wait for a descheduled thread).
    The trees are summed by :class:`QuickScorer` (a few numpy calls for all trees,
    where sklearn's per-tree call cost dominated), else one sklearn call per tree."""
    predictors = getattr(booster, "_predictors", None)
    if (
        len(x) > ONE_THREAD_ROWS  # a batch: threads pay for themselves
        or predictors is None
        or booster.n_trees_per_iteration_ != 1
        or x.shape[1] != booster.n_features_in_
        # categorical features: sklearn re-encodes and reorders columns before the trees
        or getattr(booster, "_preprocessor", None) is not None
    ):
        return raw_tree_output(booster, x)
    baseline = booster._baseline_prediction[0, 0]
    scorer = quick_scorer(booster)
    if scorer is not None:
        raw = scorer.decision(x, baseline)
        if raw is not None:
            return raw
    known, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    raw = np.zeros(len(x))
    raw += baseline
    for (tree,) in predictors:
        raw += tree.predict(x, known, f_idx_map, 1)
    return raw


def calibrator_predict(calibrator, raw: np.ndarray) -> np.ndarray:
    """``calibrator.predict(raw)`` for a float64 vector, without sklearn's input
    validation for the two calibrators ``CalibratedClassifierCV`` fits: isotonic
    (with ``out_of_bounds="clip"``: clip to the fitted range, then scipy's
    ``interp1d``, which for float64 knots is ``np.interp``) and Platt's sigmoid
    ``expit(-(a * raw + b))``. The same operations, so the same numbers."""
    from scipy.special import expit
    from sklearn.calibration import _SigmoidCalibration
    from sklearn.isotonic import IsotonicRegression

    if type(calibrator) is IsotonicRegression:
        knots_x = getattr(calibrator, "X_thresholds_", None)
        knots_y = getattr(calibrator, "y_thresholds_", None)
        if (
            calibrator.out_of_bounds == "clip"
            and knots_x is not None
            and knots_y is not None
            and knots_x.dtype == np.float64
            and knots_y.dtype == np.float64
            and knots_y.ndim == 1
            and len(knots_y) > 1  # one knot: sklearn repeats it
            and np.isfinite(raw).all()  # sklearn refuses NaN and infinity
        ):
            return np.interp(np.clip(raw, calibrator.X_min_, calibrator.X_max_), knots_x, knots_y)
    elif type(calibrator) is _SigmoidCalibration:
        return expit(-(calibrator.a_ * raw + calibrator.b_))
    return calibrator.predict(raw)


def calibrated_probability(model, x: np.ndarray) -> np.ndarray:
    """P(class 1) of a fitted ``CalibratedClassifierCV``: :func:`_calibrated_fast` when
    :data:`STAGE_FAST_PATH` found it agrees with ``predict_proba`` for this model, else
    ``predict_proba`` itself."""
    token = getattr(model, "calibrated_classifiers_", None)
    if STAGE_FAST_PATH.allows(model, token, partial(stage_fast_path_problem, model)):
        return _calibrated_fast(model, x)
    return model.predict_proba(x)[:, 1]


def _calibrated_fast(model, x: np.ndarray) -> np.ndarray:
    """P(class 1) of a fitted ``CalibratedClassifierCV(ensemble=False)``, computed
    directly from its one booster and calibrator: the same numbers as
    ``predict_proba`` without its per-call validation (a request scores a few
    hundred rows, where that overhead dominated)."""
    fitted = model.calibrated_classifiers_
    if len(fitted) != 1 or len(fitted[0].calibrators) != 1:
        return model.predict_proba(x)[:, 1]
    booster, calibrator = fitted[0].estimator, fitted[0].calibrators[0]
    raw = _decision(booster, x)
    return np.clip(calibrator_predict(calibrator, raw), 0.0, 1.0)


#: One verdict per calibrated stage model: do the fast paths above (QuickScorer tree
#: sums, the one-thread tree walk, the calibrator without validation), all of which
#: read private scikit-learn state, give ``predict_proba``'s numbers?
STAGE_FAST_PATH = FastPathGuard("the ranker's fast path (tree sums and calibration)")
#: Rows :func:`probe_rows` draws at random (plus rows that straddle every split).
PROBE_RANDOM_ROWS = 48
#: The fast path may differ from ``predict_proba`` by this much (it is meant to give
#: the same numbers; a few ulps of a changed summation order are not a break).
PROBE_TOLERANCE = 1e-9


def probe_rows(n_features: int, scorer: QuickScorer | None = None) -> np.ndarray:
    """Feature rows on which :func:`stage_fast_path_problem` compares the fast path
    with ``predict_proba``: seeded random rows over the ranges the features take
    (``MISSING``, zero, similarities in [0, 1], log counts, large values), and, given the booster's compiled ``scorer``, rows at and just above every split
    threshold (where ``<=`` against ``<`` or a shifted threshold would show)."""
    rng = np.random.default_rng(20150809)
    kind = rng.integers(0, 6, size=(PROBE_RANDOM_ROWS, n_features))
    values = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
        [
            np.full(kind.shape, MISSING),
            np.zeros(kind.shape),
            rng.random(kind.shape),
            rng.exponential(3.0, kind.shape),
            rng.normal(0.0, 50.0, kind.shape),
        ],
        default=rng.integers(0, 20, kind.shape).astype(float),
    )
    if scorer is None or not len(scorer.features):
        return values
    n_cuts = max(len(cuts) for cuts in scorer.thresholds)
    edges = np.nan_to_num(values[np.arange(2 * n_cuts) % PROBE_RANDOM_ROWS], nan=MISSING)
    for feature, cuts in zip(scorer.features, scorer.thresholds, strict=True):
        at = np.resize(cuts, n_cuts)
        edges[:n_cuts, feature] = at
        edges[n_cuts:, feature] = np.nextafter(at, np.inf)
    return np.vstack([values, edges])


def stage_fast_path_problem(model) -> str | None:
    """Compare the fast path of a fitted ``CalibratedClassifierCV`` stage with its
    public ``predict_proba`` on :func:`probe_rows`, for a request's rows (QuickScorer
    or the one-thread walk) and for a batch's (``decision_function`` then the
    calibrator). Returns None when they agree within :data:`PROBE_TOLERANCE`, else
    what differed; raises when private state the fast path reads is missing."""
    fitted = model.calibrated_classifiers_
    booster = fitted[0].estimator
    scorer = None
    if len(fitted) == 1 and getattr(booster, "_predictors", None) is not None:
        scorer = quick_scorer(booster)
    x = probe_rows(int(model.n_features_in_), scorer)
    with_nan = x[:8].copy()
    with_nan[:, ::3] = np.nan  # QuickScorer leaves a NaN to the one-thread tree walk
    checks = [("request rows", x, _calibrated_fast(model, x))]
    checks.append(("rows with NaN", with_nan, _calibrated_fast(model, with_nan)))
    if len(fitted) == 1 and len(fitted[0].calibrators) == 1:
        raw = booster.decision_function(x)
        batch = np.clip(calibrator_predict(fitted[0].calibrators[0], raw), 0.0, 1.0)
        checks.append(("batch rows", x, batch))
    for what, rows, got in checks:
        public = model.predict_proba(rows)[:, 1]
        if got.shape != public.shape or not np.allclose(
            got, public, rtol=0.0, atol=PROBE_TOLERANCE
        ):
            worst = float(np.max(np.abs(got - public))) if got.shape == public.shape else np.nan
            return f"{what}: largest difference {worst:.3g} over {len(rows)} probe rows"
    return None


def hazard_fast_path_problem(booster) -> str | None:
    """Compare the fast path of a hazard stay stage (a Poisson
    ``HistGradientBoostingRegressor``: :func:`_decision` for a request's rows,
    :func:`raw_tree_output` for a batch's) with the log of its public ``predict`` on
    :func:`probe_rows`. None when they agree within :data:`PROBE_TOLERANCE`."""
    scorer = quick_scorer(booster) if getattr(booster, "_predictors", None) is not None else None
    x = probe_rows(int(booster.n_features_in_), scorer)
    public = np.log(booster.predict(x))
    for what, got in (
        ("request rows", _decision(booster, x)),
        ("batch rows", raw_tree_output(booster, x)),
    ):
        if got.shape != public.shape or not np.allclose(
            got, public, rtol=0.0, atol=PROBE_TOLERANCE
        ):
            worst = float(np.max(np.abs(got - public))) if got.shape == public.shape else np.nan
            return f"{what}: largest difference {worst:.3g} over {len(x)} probe rows"
    return None


def _log_rate(booster, x: np.ndarray) -> np.ndarray:
    """Log weekly rate of leaving of a hazard stay stage: :func:`_decision` while
    :func:`hazard_fast_path_problem` finds it equal to ``log(predict)``, else that."""
    token = getattr(booster, "_predictors", None)
    if STAGE_FAST_PATH.allows(booster, token, partial(hazard_fast_path_problem, booster)):
        return _decision(booster, x)
    return np.log(booster.predict(x))


class StablePlacementRanker:
    """Three calibrated boosted stages whose product is P(stable placement).

    Parameters
    ----------
    max_iter : int, default 100
        Boosting rounds per stage.
    learning_rate : float, default 0.1
    max_leaf_nodes : int, default 15
    min_samples_leaf : int, default 20
        Capped at a quarter of the rarer class, so small markets still split.
    stay_min_samples_leaf : int, optional
        The same for a hazard stay stage (leaves of at least this many spells, capped at
        a quarter of the leaving events); default ``min_samples_leaf``. Larger leaves
        keep the weekly rate from following a handful of spells (opt-in,
        ``docs/equal-service.md``).
    l2_regularization : float, default 0.0
    cv : int, default 3
        Folds for calibration.
    random_state : int, default 0
    apply_terms : {"plain", "entry"}, default "plain"
        :data:`APPLY_TERMS`: ``"entry"`` (opt-in) gives the boosters
        :data:`matcher.models.features.ENTRY_LEVEL` and the apply stage's map with
        covariates :data:`APPLY_ENTRY_COVARIATES`; ``"plain"`` reads neither (the
        boosters read the first ``BOOSTER_WIDTH["plain"]`` ranker columns).
    stay_record : {"none", "worker", "exposure"}, default "none"
        :data:`STAY_RECORDS`: ``"worker"`` or ``"exposure"`` (opt-in) gives the stay
        stage's covariate hazard the worker's own leaving record as one more covariate
        (over his ended spells, resp. on exposure over all his other spells).

    Attributes
    ----------
    stages_ : dict[str, object]
        Fitted calibrated classifier, or a float base rate, per stage; for a hazard
        stay stage a Poisson regressor of the weekly rate of leaving (or the float log
        rate).
    stage_counts_ : dict[str, dict[str, int]]
        Rows, positives per stage (for the model card).
    calibrators_ : dict[str, ProbabilityMap]
        Per stage, the map fitted on a later time slice by :meth:`calibrate`.
    stay_hazard_ : bool
        The stay stage is a hazard (``fit`` with ``stays``).
    """

    #: learned state added after the first saved rankers, with the value that means
    #: "not there" (:meth:`__setstate__` fills it in for an old pickle)
    _STATE_DEFAULTS: dict[str, Any] = {
        "stay_hazard_": False,
        "horizon_": HORIZON_WEEKS,
        "calibrators_": {},
        "calibration_counts_": {},
        "joint_": None,
        "hire_competition_": False,
        "hire_alone_": False,
        "hire_alone_terms_": "plain",
        "hire_split_": False,
        "hire_planning_": None,
        "apply_alone_": False,
        "stay_l2_": STAY_COVARIATE_L2,
        "wage_peers_": False,
    }
    #: rankers pickled before the parameter existed fitted their stay stage this way
    stay_min_samples_leaf: int | None = None
    #: ... and read no entry level
    apply_terms: str = "plain"
    #: ... and no leaving record of the worker's
    stay_record: str = "none"

    def __init__(
        self,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        cv: int = 3,
        random_state: int = 0,
        stay_min_samples_leaf: int | None = None,
        apply_terms: str = "plain",
        stay_record: str = "none",
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.cv = cv
        self.random_state = random_state
        self.stay_min_samples_leaf = stay_min_samples_leaf
        self.apply_terms = apply_terms
        self.stay_record = stay_record

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, giving a fitted ranker saved before hazards, later-slice and joint
        calibrators existed their neutral defaults (no hazard, no calibrator), so that
        every method reads its attributes directly (one rule instead of probing)."""
        for name, default in self._STATE_DEFAULTS.items():
            state.setdefault(name, copy.copy(default))
        self.__dict__.update(state)

    def _booster_columns(self) -> list[str]:
        return RANKER_COLUMNS[: BOOSTER_WIDTH[self.apply_terms]]

    def booster_input(self, x: np.ndarray) -> np.ndarray:
        """The columns of ranker input rows ``x`` (:data:`RANKER_COLUMNS` order) that the
        stages' boosters read: the first ``BOOSTER_WIDTH[apply_terms]``."""
        return x[:, : BOOSTER_WIDTH[self.apply_terms]]

    def _apply_covariates(self, x: np.ndarray) -> np.ndarray:
        """The apply map's covariates of ``x`` for this ranker's ``apply_terms``."""
        return apply_entry_covariates(x) if self.apply_terms == "entry" else stage_covariates(x)

    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` unless :meth:`fit` has run."""
        if "stages_" not in self.__dict__:
            raise RuntimeError("StablePlacementRanker is not fitted; call fit first")

    def _stage_model(self, y: np.ndarray, extra_cst: tuple[int, ...] = ()):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier

        minority = int(min(y.sum(), len(y) - y.sum()))
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            # small markets: leaves no larger than a quarter of the rarer class
            min_samples_leaf=max(2, min(self.min_samples_leaf, minority // 4)),
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            monotonic_cst=[1 if c in INCREASING else 0 for c in self._booster_columns()]
            + list(extra_cst),
            random_state=self.random_state,
        )
        return CalibratedClassifierCV(
            booster,
            method="isotonic" if minority >= ISOTONIC_MIN else "sigmoid",
            cv=min(self.cv, minority),
            ensemble=False,
        )

    def fit(
        self,
        features: pd.DataFrame,
        labels: pd.DataFrame,
        stays: tuple[pd.DataFrame | np.ndarray, Spells] | None = None,
        applications: tuple[pd.DataFrame | np.ndarray, pd.DataFrame] | None = None,
    ) -> StablePlacementRanker:
        """Fit the three stages.

        Parameters
        ----------
        features : DataFrame
            Pair features with at least :data:`matcher.models.features.RANKER_COLUMNS`.
        labels : DataFrame
            Same rows: ``applied`` and ``hired`` (0/1), ``retained`` (1, 0, or NaN
            when not hired or censored).
        stays : (features, :class:`matcher.models.calibration.Spells`), optional
            Hires followed in tenure weeks, censored or left: the stay stage then
            learns the weekly hazard of leaving from every week at risk (one row per
            person-week, :func:`matcher.models.calibration.person_weeks`), and its
            probability is surviving the horizon. Without it the stay stage learns
            ``retained`` from the hires whose outcome is known.
        applications : (features, labels), optional
            The applications the hire stage learns from instead of the rows of
            ``features`` with ``applied`` 1 (``labels``: ``hired`` 0/1, and the
            :data:`HIRE_COMPETITION` columns when ``labels`` has them): a longer history
            than the apply stage's pairs, each application's decision due.

        With :data:`HIRE_COMPETITION` columns in ``labels`` (the competition each
        application met, :func:`matcher.models.labels.application_competition`)
        the hire stage learns from them beside the features, each constrained not to
        raise the chance, and is scored at :data:`HIRE_PLANNING` (no rival, no other
        application: a single applicant's chance with a seat free).

        Returns
        -------
        self
        """
        if self.apply_terms not in APPLY_TERMS:
            raise ValueError(
                f"apply_terms must be one of {', '.join(APPLY_TERMS)}, got {self.apply_terms!r}"
            )
        if self.stay_record not in STAY_RECORDS:
            raise ValueError(
                f"stay_record must be one of {', '.join(STAY_RECORDS)}, got {self.stay_record!r}"
            )
        x = self.booster_input(_matrix(features))
        applied = labels["applied"].to_numpy(dtype=float)
        hired = labels["hired"].to_numpy(dtype=float)
        retained = labels["retained"].to_numpy(dtype=float)
        self.hire_competition_ = all(c in labels.columns for c in HIRE_COMPETITION)
        self.hire_alone_ = False
        self.hire_planning_: np.ndarray | None = None
        self.apply_alone_ = False
        hire_labels = labels[applied == 1]
        x_hire = x[applied == 1]
        if applications is not None:
            x_hire, hire_labels = self.booster_input(_matrix(applications[0])), applications[1]
            if len(x_hire) != len(hire_labels):
                raise ValueError(
                    f"applications hold {len(x_hire)} feature rows and {len(hire_labels)} "
                    "label rows; give one label row per application"
                )
        hired_after = hire_labels["hired"].to_numpy(dtype=float) == 1
        if self.hire_competition_:
            missing = [c for c in HIRE_COMPETITION if c not in hire_labels.columns]
            if missing:
                raise ValueError(
                    f"the applications' labels lack the competition column(s) "
                    f"{', '.join(missing)} that the pairs' labels have; give both or neither"
                )
            comp = hire_labels[list(HIRE_COMPETITION)].to_numpy(dtype=float)
            x_hire = np.column_stack([x_hire, np.nan_to_num(comp, nan=HIRE_PLANNING)])
        rows = {
            "apply": (x, applied == 1),
            "hire": (x_hire, hired_after),
            "stay": (
                x[(hired == 1) & np.isfinite(retained)],
                retained[(hired == 1) & np.isfinite(retained)] == 1,
            ),
        }
        self.stages_: dict[str, object] = {}
        self.stage_counts_: dict[str, dict[str, int]] = {}
        self.calibrators_: dict[str, ProbabilityMap | CovariateCalibrator | CovariateHazard] = {}
        self.calibration_counts_: dict[str, dict[str, float]] = {}
        self.joint_: JointCalibrator | None = None
        self.__dict__.pop("_stage_max_cache", None)
        self.__dict__.pop("_stage_ends_cache", None)
        self.stay_hazard_ = stays is not None
        self.horizon_ = HORIZON_WEEKS
        if stays is not None:
            self._fit_hazard(*stays)
        for name in STAGES:
            if name in self.stages_:
                continue
            x_stage, positive = rows[name]
            y = positive.astype(int)
            pos = int(y.sum())
            neg = len(y) - pos
            self.stage_counts_[name] = {"rows": len(y), "positives": pos}
            if pos < MIN_CLASS_ROWS or neg < MIN_CLASS_ROWS:
                self.stages_[name] = (pos + 1.0) / (len(y) + 2.0)
                continue
            extra = (-1,) * (x_stage.shape[1] - x.shape[1])
            self.stages_[name] = self._stage_model(y, extra).fit(x_stage, y)
        return self

    def _fit_hazard(self, features: pd.DataFrame | np.ndarray, spells: Spells) -> None:
        """The stay stage as a weekly rate of leaving: a Poisson gradient-boosting
        regression of each spell's events per week at risk, weighted by its weeks at
        risk (the likelihood of a constant hazard per pair, censoring and left
        truncation included); its raw output is the log weekly rate."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        x = self.booster_input(_matrix(features))
        weeks = np.asarray(spells.exit, dtype=float) - np.asarray(spells.entry, dtype=float)
        left = np.asarray(spells.left, dtype=float)
        keep = weeks > 0
        x, weeks, left = x[keep], weeks[keep], left[keep]
        events = int(left.sum())
        self.stage_counts_["stay"] = {"rows": int(len(x)), "positives": events}
        total = float(weeks.sum())
        if events < MIN_CLASS_ROWS:
            # too few leavers to learn from: the market's weekly rate (Laplace-smoothed)
            self.stages_["stay"] = float(np.log((events + 1.0) / (total + 2.0)))
            return
        leaf = self.stay_min_samples_leaf or self.min_samples_leaf
        booster = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=max(2, min(leaf, events // 4)),
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            # features that raise the chance of a placement lower the rate of leaving
            monotonic_cst=[-1 if c in INCREASING else 0 for c in self._booster_columns()],
            random_state=self.random_state,
        )
        self.stages_["stay"] = booster.fit(x, left / weeks, sample_weight=weeks)

    def calibrate(
        self,
        apply: tuple[np.ndarray | pd.DataFrame, np.ndarray, np.ndarray] | None = None,
        hire: tuple[np.ndarray | pd.DataFrame, np.ndarray] | None = None,
        stay: tuple[np.ndarray | pd.DataFrame, Spells] | None = None,
        method: str = "platt",
        horizon: int = HORIZON_WEEKS,
        joint: Proposals | None = None,
        apply_covariates: bool = False,
        stay_covariates: bool = False,
        hire_competition: np.ndarray | None = None,
        hire_alone: tuple[np.ndarray | pd.DataFrame, np.ndarray, np.ndarray] | None = None,
        hire_planning: np.ndarray | None = None,
        joint_tails: str = "clip",
        apply_alone: tuple[np.ndarray | pd.DataFrame, np.ndarray, np.ndarray] | None = None,
        hire_offers: np.ndarray | None = None,
        stay_l2: float = STAY_COVARIATE_L2,
        wage_peers: bool = False,
    ) -> StablePlacementRanker:
        """Calibrate the fitted stages on pairs of a later time slice
        (:mod:`matcher.models.calibration`): afterwards each stage's output is the observed
        rate of its event on that slice's population, and the stay stage the
        probability of still being there after ``horizon`` weeks.

        Parameters
        ----------
        apply : (features, applied 0/1, weight), optional
            Pairs that were *shown* (the exposure denominator), each view a trial.
        hire : (features, hired 0/1), optional
            Pairs that applied.
        stay : (features, :class:`matcher.models.calibration.Spells`), optional
            Hires followed in tenure weeks (censored, possibly left-truncated); needs
            a stay stage fitted as a hazard (labels with ``stay_weeks`` and ``left``).
        method : {"platt", "isotonic"}
            Map of the apply and hire stages and of the product.
        horizon : int
            Weeks of the stay.
        joint : :class:`Proposals`, optional
            Pairs proposed (shown) in the slice with their outcome: after the stages,
            the product of the calibrated stages is mapped onto their rate of stable
            placements (:class:`matcher.models.calibration.JointCalibrator`, ``joint_``); a hire
            still there at the end counts with its calibrated chance of lasting the
            rest of the horizon (:meth:`stay_target`), one that left counts 0.
        apply_covariates : bool, default False
            With Platt: map the apply stage with :data:`APPLY_COVARIATES` beside its
            output (:class:`matcher.models.calibration.CovariateCalibrator`) when their
            out-of-fold cross-entropy on the slice is below :data:`SELECT_MARGIN` times
            the plain map's (both are in ``calibration_counts_["apply"]``).
        stay_covariates : bool, default False
            The stay stage becomes a proportional hazard on :data:`STAY_COVARIATES`
            alone (:class:`matcher.models.calibration.CovariateHazard`, the booster's
            output left out), fitted on ``stay``'s spells — pass every spell followed,
            the booster's training window's and the slice's: with a few hundred leaving
            events a ridge-penalised hazard on the job's terms estimates who stays far
            better than the booster (``bench/stage_truth_bench.py``).
        hire_competition : ndarray of shape (n, 2), optional
            With Platt: the :data:`HIRE_COMPETITION` each application of ``hire`` met; the
            hire stage is then mapped with :data:`HIRE_COVARIATES` (the competition and
            the network columns, :func:`hire_covariates`) when their out-of-fold
            cross-entropy is below :data:`SELECT_MARGIN` times the plain map's, and
            scored with no competition (:data:`HIRE_PLANNING`): a single applicant's
            chance with a seat free. ``joint.competition`` then gives the proposals'.
        hire_planning : ndarray of shape (2,), optional
            The :data:`HIRE_COMPETITION` a hire map with covariates scores every pair
            at (``hire_planning_``); default :data:`HIRE_PLANNING` for both (no rival,
            no other application of the worker's).
        hire_alone : (features, hired 0/1, competition), optional
            With ``hire_competition``: the hire stage becomes a ridge-penalised logistic
            regression on :data:`HIRE_ALONE_COVARIATES` alone (a
            :class:`matcher.models.calibration.CovariateCalibrator` whose stage output is
            held at 0.5, the booster left out), fitted on these applications — the
            booster's training window's, whose decision was due by its end — together
            with ``hire``'s, and scored with no competition. The booster learns from a
            few hundred applications; a regression on the terms of the pair and the
            competition they met estimates a single applicant's chance with a seat free
            more steadily (``bench/stage_truth_bench.py``).
        joint_tails : {"clip", "exact"}, default "clip"
            What the joint map does with a product of the stages below
            :data:`matcher.models.calibration.EPS`: tie it at the clip, or keep its order
            (:class:`matcher.models.calibration.JointCalibrator`, ``tails``).
        apply_alone : (features, applied 0/1, weight), optional
            With ``apply``: the apply stage becomes a ridge-penalised logistic regression
            on :data:`APPLY_ALONE_COVARIATES` alone (a
            :class:`matcher.models.calibration.CovariateCalibrator` whose stage output is
            held at 0.5, the booster left out), fitted on these pairs shown — the
            booster's training window's, each view a trial — together with ``apply``'s.
            The slice alone holds a few hundred pairs shown, too few to weigh the terms
            of a worker's choice beside the booster's output (``docs/equal-service.md``).
        hire_offers : ndarray of shape (n, 2), optional
            With ``hire_alone``: per application of ``hire_alone`` then of ``hire`` (that
            order), whether it got an offer and ``log1p`` of the worker's other offers
            around it (:func:`matcher.models.labels.offer_outcomes`). The hire stage is
            then the employer's offer times the worker's acceptance of one offer
            (:class:`matcher.models.calibration.OfferAcceptance` on
            :data:`HIRE_ALONE_COVARIATES`; the rivals per seat may only lower the offer),
            scored as the regression of ``hire_alone`` is and with no other offer held
            (``docs/hire-stage.md``).
        stay_l2 : float, default :data:`STAY_COVARIATE_L2`
            With ``stay_covariates``: the ridge on the hazard's standardised covariates
            (:class:`matcher.models.calibration.CovariateHazard` ``covariate_l2``; kept
            as ``stay_l2_``).
        wage_peers : bool, default False
            The hire and stay stages' covariates read pay against the worker's
            expectation with a vacancy that posts no wage at what its peers pay
            (:data:`~matcher.models.features.WAGE_RATIO_PEERS`, ``wage_impute="peers"``;
            kept as ``wage_peers_``); the apply stage's never do (the worker sees no
            figure).

        A stage whose slice has fewer than :data:`MIN_CLASS_ROWS` (weighted) rows of
        either outcome, or no leaving event, keeps its uncalibrated output; which
        stages were calibrated is in ``calibration_counts_``.

        Returns
        -------
        self
        """
        self.check_fitted()
        self.calibrators_ = {}
        self.__dict__.pop("_stage_max_cache", None)
        self.__dict__.pop("_stage_ends_cache", None)
        self.calibration_counts_ = {}
        self.hire_alone_ = False
        self.hire_split_ = False
        self.apply_alone_ = False
        if not stay_l2 >= 0:
            raise ValueError(f"stay_l2 must be 0 or more, got {stay_l2!r}")
        self.stay_l2_ = float(stay_l2)
        self.wage_peers_ = bool(wage_peers)
        self.hire_planning_ = (
            None if hire_planning is None else np.asarray(hire_planning, dtype=float).reshape(2)
        )
        for name, part in (("apply", apply), ("hire", hire)):
            if part is None:
                continue
            feats, y, *rest = part
            y = np.asarray(y, dtype=float)
            w = np.asarray(rest[0], dtype=float) if rest else np.ones(len(y))
            pos, neg = float(w @ y), float(w @ (1 - y))
            self.calibration_counts_[name] = {"rows": float(w.sum()), "positives": pos}
            if (
                name == "apply"
                and apply_alone is not None
                and self._fit_apply_alone(feats, y, w, apply_alone)
            ):
                continue
            if (
                name == "hire"
                and hire_alone is not None
                and hire_competition is not None
                and self._fit_hire_alone(feats, y, hire_competition, hire_alone, hire_offers)
            ):
                continue
            if pos < MIN_CLASS_ROWS or neg < MIN_CLASS_ROWS:
                continue
            x = _matrix(feats)
            raw = self._predict(name, x, hire_competition if name == "hire" else None)
            u: np.ndarray | None = None
            if name == "apply" and apply_covariates:
                u = self._apply_covariates(x)
            elif name == "hire" and hire_competition is not None and not self.hire_competition_:
                u = hire_covariates(x, hire_competition)
            # (a stage that is its base rate stays one number for every pair)
            if u is not None and method == "platt" and not self._constant(name):
                plain = out_of_fold_log_loss(raw, None, y, w)
                stacked = out_of_fold_log_loss(raw, u, y, w)
                self.calibration_counts_[name]["oof plain"] = plain
                self.calibration_counts_[name]["oof covariates"] = stacked
                if stacked < plain * SELECT_MARGIN:
                    self.calibrators_[name] = CovariateCalibrator().fit(raw, u, y, w)
                    continue
            self.calibrators_[name] = StageCalibrator(method).fit(raw, y, w)
        if stay is not None and self.stay_hazard_:
            feats, spells = stay
            events = float(np.asarray(spells.left, dtype=float).sum())
            self.calibration_counts_["stay"] = {"rows": float(len(spells.left)), "left": events}
            if events >= MIN_CLASS_ROWS:
                x = _matrix(feats)
                log_rate = self._predict("stay", x)
                self.calibrators_["stay"] = self._stay_map(
                    log_rate, x, spells, horizon, stay_covariates
                )
        self.horizon_ = horizon
        self.joint_ = None
        if joint is not None:
            x = _matrix(joint.features)
            target = self.stay_target(x, joint.hired, joint.weeks, joint.left)
            w = np.asarray(joint.weight, dtype=float)
            hires = float(w @ np.asarray(joint.hired, dtype=float))
            self.calibration_counts_["joint"] = {
                "rows": float(w.sum()),
                "hires": hires,
                "stable (expected)": float(w @ target),
            }
            if hires >= MIN_CLASS_ROWS and float(w @ (1 - target)) >= MIN_CLASS_ROWS:
                product = self._stages(x, joint.competition).prod(axis=1)
                self.joint_ = JointCalibrator(method, JOINT_PRIOR_ROWS, joint_tails).fit(
                    product, target, w
                )
        return self

    def _fit_hire_alone(
        self,
        feats: np.ndarray | pd.DataFrame,
        hired: np.ndarray,
        competition: np.ndarray,
        earlier: tuple[np.ndarray | pd.DataFrame, np.ndarray, np.ndarray],
        offers: np.ndarray | None = None,
    ) -> bool:
        """The hire stage as a logistic regression on :data:`HIRE_ALONE_COVARIATES` of the
        slice's applications and ``earlier`` ones (``calibrate(hire_alone=...)``), or with
        ``offers`` as the offer times the acceptance (:meth:`_fit_offer_acceptance`);
        False (nothing fitted) when they hold fewer than :data:`MIN_CLASS_ROWS` of either
        outcome."""
        e_feats, e_hired, e_comp = earlier
        x, y = _with_earlier(feats, hired, e_feats, e_hired)
        comp = np.vstack([np.asarray(e_comp, dtype=float).reshape(-1, 2), competition])
        # the regression reads the entry terms when the ranker's columns carry them
        self.hire_alone_terms_ = self.apply_terms
        u = hire_alone_covariates(x, comp, self.hire_alone_terms_, self.wage_peers_)
        if offers is not None:
            self.hire_alone_ = self._fit_offer_acceptance(u, y, np.asarray(offers, dtype=float))
            return self.hire_alone_
        self.hire_alone_ = self._fit_alone("hire", u, y, np.ones(len(y)), HIRE_ALONE_L2)
        return self.hire_alone_

    def _fit_offer_acceptance(self, u: np.ndarray, hired: np.ndarray, offers: np.ndarray) -> bool:
        """The hire stage as :class:`OfferAcceptance` on covariates ``u``
        (:data:`HIRE_ALONE_COVARIATES`), ``hired`` and ``offers`` (offered, held offers
        ``log1p``), one row per application. Records ``calibration_counts_["hire
        offers"]``; False (nothing fitted) when the applications hold fewer than
        :data:`MIN_CLASS_ROWS` offers or applications without, or the offers fewer
        hires or offers turned down."""
        if offers.shape != (len(hired), 2):
            raise ValueError(
                f"hire_offers must have one row (offered, held) per application: "
                f"{offers.shape} for {len(hired)} applications"
            )
        offered = np.maximum(offers[:, 0], hired)  # a hire is an offer taken
        n_off, n_hired = float(offered.sum()), float(hired.sum())
        self.calibration_counts_["hire alone"] = {"rows": float(len(hired)), "positives": n_hired}
        self.calibration_counts_["hire offers"] = {
            "rows": float(len(hired)),
            "offers": n_off,
            "hires": n_hired,
        }
        if min(n_off, len(hired) - n_off, n_hired, n_off - n_hired) < MIN_CLASS_ROWS:
            return False
        split = OfferAcceptance(
            HIRE_ALONE_L2, rivals=0, offer_only=tuple(range(len(HIRE_COMPETITION)))
        ).fit(u, offered, hired, offers[:, 1])
        self.calibrators_["hire"] = split
        self.hire_split_ = True
        return True

    def _fit_apply_alone(
        self,
        feats: np.ndarray | pd.DataFrame,
        applied: np.ndarray,
        weight: np.ndarray,
        earlier: tuple[np.ndarray | pd.DataFrame, np.ndarray, np.ndarray],
    ) -> bool:
        """The apply stage as a logistic regression on :data:`APPLY_ALONE_COVARIATES` of
        the slice's pairs shown and ``earlier`` ones (``calibrate(apply_alone=...)``);
        False (nothing fitted) when they hold fewer than :data:`MIN_CLASS_ROWS`
        (weighted) views of either outcome."""
        e_feats, e_applied, e_weight = earlier
        x, y = _with_earlier(feats, applied, e_feats, e_applied)
        w = np.r_[np.asarray(e_weight, dtype=float), np.asarray(weight, dtype=float)]
        self.apply_alone_ = self._fit_alone(
            "apply", apply_alone_covariates(x), y, w, APPLY_ALONE_L2
        )
        return self.apply_alone_

    def _fit_alone(
        self, stage: str, u: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float
    ) -> bool:
        """Fit ``stage``'s map without its booster: a :class:`CovariateCalibrator` on the
        covariates ``u`` alone (the stage output held at 0.5), outcomes ``y`` weighted by
        ``w``. Records the (weighted) rows and positives in
        ``calibration_counts_["<stage> alone"]``; False (nothing fitted) when either
        outcome has fewer than :data:`MIN_CLASS_ROWS`."""
        pos, rows = float(w @ y), float(w.sum())
        self.calibration_counts_[f"{stage} alone"] = {"rows": rows, "positives": pos}
        if pos < MIN_CLASS_ROWS or rows - pos < MIN_CLASS_ROWS:
            return False
        held = np.full(len(y), 0.5)
        self.calibrators_[stage] = CovariateCalibrator(l2=l2).fit(held, u, y, w)
        return True

    def _stay_map(
        self, log_rate: np.ndarray, x: np.ndarray, spells: Spells, horizon: int, covariates: bool
    ) -> PiecewiseHazard:
        """The stay stage's hazard map on ``spells``: the booster's log-rate through a
        :class:`PiecewiseHazard`, or with ``covariates`` a :class:`CovariateHazard` on
        :data:`STAY_COVARIATES` without the booster's output (its term held at 0)."""
        if covariates:
            return CovariateHazard(horizon=horizon, covariate_l2=self.stay_l2_).fit(
                np.zeros(len(x)),
                spells,
                stay_covariate_matrix(x, self.stay_record, self.wage_peers_),
            )
        return PiecewiseHazard(horizon=horizon).fit(log_rate, spells)

    def stay_target(
        self, features: np.ndarray, hired: np.ndarray, weeks: np.ndarray, left: np.ndarray
    ) -> np.ndarray:
        """Survival-weighted outcome of proposals: 0 when not hired or when the hire left
        (within the slice, so before the horizon), else the chance of still being there
        at ``horizon_`` weeks given still there after ``weeks`` (censored at the end of
        the data): ``S(horizon | z) / S(weeks | z)`` of the calibrated stay hazard, or the
        stay stage's probability when there is no hazard map."""
        hired = np.asarray(hired, dtype=float)
        kept = hired * (1.0 - np.asarray(left, dtype=float))
        out = np.zeros(len(kept))
        rows = np.flatnonzero(kept > 0)
        if len(rows) == 0:
            return out
        x = features[rows]
        hazard = self.calibrators_.get("stay")
        if isinstance(hazard, PiecewiseHazard):
            z = self._predict("stay", x)
            seen = np.minimum(np.asarray(weeks, dtype=float)[rows], self.horizon_)
            if isinstance(hazard, CovariateHazard):
                u = stay_covariate_matrix(x, self.stay_record, self.wage_peers_)
                ratio = hazard.survival(z, u) / np.maximum(hazard.survival(z, u, seen), 1e-12)
            else:
                ratio = hazard.survival(z) / np.maximum(hazard.survival(z, seen), 1e-12)
            out[rows] = np.clip(ratio, 0.0, 1.0)
        else:
            out[rows] = self._stage("stay", x)
        return out * kept

    def predict_stages(
        self, features: pd.DataFrame | np.ndarray, competition: np.ndarray | None = None
    ) -> np.ndarray:
        """Conditional probabilities ``(n, 3)``: apply, hire | applied, stay | hired.
        ``features``: a frame with :data:`matcher.models.features.RANKER_COLUMNS`, or an array
        with those columns in that order. ``competition`` ``(n, 2)``: the
        :data:`HIRE_COMPETITION` each pair met, for a hire stage that reads it (a booster
        fitted with it, or a map with covariates); ``None``: at scoring,
        :data:`HIRE_PLANNING`."""
        self.check_fitted()
        return self._stages(_matrix(features), competition)

    def _stages(self, x: np.ndarray, competition: np.ndarray | None = None) -> np.ndarray:
        out = np.empty((len(x), len(STAGES)))
        for j, name in enumerate(STAGES):
            out[:, j] = self._stage(name, x, competition if name == "hire" else None)
        return out

    def check_fast_paths(self) -> dict[str, bool]:
        """Check, for each learned stage, that the fast path gives ``predict_proba``'s
        numbers (:func:`stage_fast_path_problem`); a stage where it does not (or where
        private scikit-learn state it reads is missing) is scored by ``predict_proba``
        from now on, with a logged warning. Run at model load; otherwise each stage is
        checked on its first use.

        Returns
        -------
        dict
            Stage name -> whether its fast path is used (learned stages only).
        """
        self.check_fitted()
        verdicts = {}
        for name in STAGES:
            model = self.stages_[name]
            if isinstance(model, float):
                continue
            if name == "stay" and self.stay_hazard_:
                token = getattr(model, "_predictors", None)
                problem = partial(hazard_fast_path_problem, model)
            else:
                token = getattr(model, "calibrated_classifiers_", None)
                problem = partial(stage_fast_path_problem, model)
            verdicts[name] = STAGE_FAST_PATH.verify(model, token, problem)
        return verdicts

    def _predict(
        self, name: str, x: np.ndarray, competition: np.ndarray | None = None
    ) -> np.ndarray:
        """The stage's booster output: a probability, or for a hazard stay stage the
        log weekly rate of leaving. A hire booster fitted with the competition reads
        ``competition`` beside ``x`` (``None``: at scoring, :data:`HIRE_PLANNING`)."""
        model = self.stages_[name]
        if isinstance(model, float):
            return np.full(len(x), model)
        if len(x) == 0:
            return np.zeros(0)
        if name == "stay" and self.stay_hazard_:
            return _log_rate(model, self.booster_input(x))
        if name == "hire" and self.hire_competition_:
            comp = hire_covariates(x, competition)[:, : len(HIRE_COMPETITION)]
            return calibrated_probability(model, np.column_stack([self.booster_input(x), comp]))
        return calibrated_probability(model, self.booster_input(x))

    def _stage(
        self,
        name: str,
        x: np.ndarray,
        competition: np.ndarray | None = None,
        covariates: np.ndarray | None = None,
        term: np.ndarray | None = None,
    ) -> np.ndarray:
        """The stage's probability: the booster's output through the later slice's
        calibrator when there is one; a hazard stay stage without one is the constant
        weekly hazard carried to the horizon, ``(1 - h)^horizon``. A hire map with
        covariates reads ``competition`` (``None``: at scoring, :data:`HIRE_PLANNING`).
        ``covariates``: the map's covariates of ``x`` (:meth:`_map_covariates`), when
        the caller has them; ``term``: their :meth:`_covariate_term`, when it has that."""
        calibrator = self.calibrators_.get(name)
        if name == "hire" and competition is None and self.hire_planning_ is not None:
            competition = np.tile(self.hire_planning_, (len(x), 1))
        if name == "hire" and self.hire_alone_ and isinstance(calibrator, OfferAcceptance):
            # the offer with no rival, the acceptance of one offer held alone
            return calibrator.predict(
                hire_alone_covariates(x, competition, self.hire_alone_terms_, self.wage_peers_)
            )
        if name == "hire" and self.hire_alone_ and isinstance(calibrator, CovariateCalibrator):
            # the booster left out: its output held at the value the map was fitted with
            return calibrator.predict(
                np.full(len(x), 0.5),
                hire_alone_covariates(x, competition, self.hire_alone_terms_, self.wage_peers_),
            )
        if name == "apply" and self.apply_alone_ and isinstance(calibrator, CovariateCalibrator):
            return calibrator.predict(np.full(len(x), 0.5), apply_alone_covariates(x))
        raw = self._predict(name, x, competition)
        if isinstance(calibrator, CovariateCalibrator | CovariateHazard):
            if term is None:
                u = self._map_covariates(name, x, competition) if covariates is None else covariates
                assert u is not None  # a map with covariates
                term = calibrator.covariate_term(u)
            return calibrator.predict_with_term(raw, term)
        if calibrator is not None:
            return calibrator.predict(raw)
        if name == "stay" and self.stay_hazard_:
            return np.exp(-self.horizon_ * np.exp(raw))
        return raw

    def _map_covariates(
        self, name: str, x: np.ndarray, competition: np.ndarray | None = None
    ) -> np.ndarray | None:
        """The covariates the stage's later-slice map reads for rows ``x`` (None: a map
        without covariates, or a stage's map without its booster). Row by row the same
        numbers whichever rows are given, so the rows' covariates can be computed once
        and sliced."""
        calibrator = self.calibrators_.get(name)
        if (name == "hire" and self.hire_alone_) or (name == "apply" and self.apply_alone_):
            return None
        if name == "hire" and competition is None and self.hire_planning_ is not None:
            competition = np.tile(self.hire_planning_, (len(x), 1))
        if isinstance(calibrator, CovariateCalibrator):
            return hire_covariates(x, competition) if name == "hire" else self._apply_covariates(x)
        if isinstance(calibrator, CovariateHazard):
            return stay_covariate_matrix(x, self.stay_record, self.wage_peers_)
        return None

    @property
    def per_proposal(self) -> bool:
        """True when the product is a probability per proposal: the apply stage is
        calibrated on the pairs shown and the stay stage is a hazard (survival to
        ``horizon_`` weeks)."""
        return "apply" in self.calibrators_ and self.stay_hazard_

    def _stage_max(self, name: str) -> float:
        """An upper bound of the stage's probability over every possible input, for the
        cascade's bound (tighter than 1: a stay stage rarely exceeds 0.7).

        A booster's raw output lies between its baseline plus each tree's smallest leaf
        and its baseline plus each tree's largest; every map after it (sklearn's
        calibrator, the later slice's, the hazard's survival) is monotone, so the stage's
        largest value is at one of those two ends. Rounding is kept out of the way by a
        relative margin; 1.0 when the trees cannot be read."""
        cache = self.__dict__.setdefault("_stage_max_cache", {})
        if name not in cache:
            cache[name] = self._compute_stage_max(name)
        return cache[name]

    def _compute_stage_max(self, name: str) -> float:
        alone = self.calibrators_.get(name)
        if name == "hire" and self.hire_alone_ and isinstance(alone, OfferAcceptance):
            return min(1.0, alone.upper() * (1 + 1e-9) + 1e-12)
        if name == "hire" and self.hire_alone_ and isinstance(alone, CovariateCalibrator):
            top_alone = float(alone.upper(np.array([0.5]))[0])
            return min(1.0, top_alone * (1 + 1e-9) + 1e-12)
        if name == "apply" and self.apply_alone_ and isinstance(alone, CovariateCalibrator):
            top_apply = float(alone.upper(np.array([0.5]))[0])
            return min(1.0, top_apply * (1 + 1e-9) + 1e-12)
        ends = self._stage_ends(name)
        if ends is None:
            return 1.0
        calibrator = self.calibrators_.get(name)
        if name == "stay" and self.stay_hazard_:
            values = (
                _largest(calibrator, ends)
                if calibrator is not None
                else np.exp(-self.horizon_ * np.exp(ends))
            )
        else:
            values = _largest(calibrator, ends) if calibrator is not None else ends
        top = float(np.max(values))
        return min(1.0, top * (1 + 1e-9) + 1e-12) if np.isfinite(top) else 1.0

    def _stage_ends(self, name: str) -> np.ndarray | None:
        """What the stage's later-slice map reads at the two ends of its booster's
        range (:meth:`_stage_max`): the raw log rates of a hazard stay stage, else the
        booster's calibrated probabilities; None when the trees cannot be read."""
        model: Any = self.stages_[name]
        if isinstance(model, float):
            return None
        try:
            booster = (
                model
                if self.stay_hazard_ and name == "stay"
                else model.calibrated_classifiers_[0].estimator
            )
            lo = hi = float(booster._baseline_prediction.ravel()[0])
            for (tree,) in booster._predictors:
                leaves = tree.nodes["value"][tree.nodes["is_leaf"].astype(bool)]
                lo += float(leaves.min())
                hi += float(leaves.max())
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None
        ends = np.array([lo, hi])
        if name == "stay" and self.stay_hazard_:
            return ends
        fitted = model.calibrated_classifiers_
        if len(fitted) != 1 or len(fitted[0].calibrators) != 1:
            return None
        return np.clip(calibrator_predict(fitted[0].calibrators[0], ends), 0.0, 1.0)

    def _covariate_term(self, name: str, covariates: np.ndarray | None) -> np.ndarray | None:
        """The covariates' term of the stage's later-slice map for rows with these
        covariates (:meth:`_map_covariates`), or None for a map without covariates."""
        calibrator = self.calibrators_.get(name)
        if covariates is None or not isinstance(calibrator, CovariateCalibrator | CovariateHazard):
            return None
        return calibrator.covariate_term(covariates)

    def _stage_bounds(
        self,
        name: str,
        x: np.ndarray,
        covariates: np.ndarray | None,
        term: np.ndarray | None = None,
    ) -> np.ndarray:
        """An upper bound of the stage's probability for each row of ``x``, tighter
        than :meth:`_stage_max` where the later-slice map reads covariates: the map at
        the ends of the booster's range with the row's own covariates (for fixed
        covariates the map is monotone in the booster's output, so its largest value
        is at one of the ends). The same relative margin as :meth:`_stage_max`, so
        that a covariate product rounded differently for a subset of the rows stays
        below it; never above :meth:`_stage_max`. ``covariates``: the map's
        covariates of ``x`` (:meth:`_map_covariates`); None: :meth:`_stage_max` for
        every row. ``term``: the covariates' :meth:`_covariate_term`, when the caller
        has it."""
        top = self._stage_max(name)
        calibrator = self.calibrators_.get(name)
        ends = None if covariates is None or not len(x) else self._stage_ends_cached(name)
        if (
            ends is None
            or covariates is None
            or not isinstance(calibrator, CovariateCalibrator | CovariateHazard)
            or not np.isfinite(ends).all()
        ):
            return np.full(len(x), top)
        if term is None:
            term = calibrator.covariate_term(covariates)
        at_ends = np.maximum(
            calibrator.predict_with_term(np.full(len(x), ends[0]), term),
            calibrator.predict_with_term(np.full(len(x), ends[1]), term),
        )
        bound = at_ends * (1 + 1e-9) + 1e-12
        return np.where(np.isfinite(bound), np.minimum(bound, top), top)

    def _stage_ends_cached(self, name: str) -> np.ndarray | None:
        cache = self.__dict__.setdefault("_stage_ends_cache", {})
        if name not in cache:
            cache[name] = self._stage_ends(name)
        return cache[name]

    def _without_booster(self, name: str) -> bool:
        """True when the stage is a map on covariates alone (``hire_alone``,
        ``apply_alone``): :meth:`_stage` computes it without its booster, so it costs
        a small fraction of a booster stage."""
        calibrator = self.calibrators_.get(name)
        if name == "hire" and self.hire_alone_:
            return isinstance(calibrator, OfferAcceptance | CovariateCalibrator)
        if name == "apply" and self.apply_alone_:
            return isinstance(calibrator, CovariateCalibrator)
        return False

    def _constant(self, name: str) -> bool:
        """True when the stage gives every pair the same probability."""
        return isinstance(self.stages_[name], float)

    def defers(self, names: tuple[str, ...]) -> bool:
        """True when :meth:`predict_top` can leave the columns ``names`` unknown for the
        pairs that cannot reach their group's top ``k`` (:class:`DeferredColumns`): the
        stage it computes for every pair is a map without a booster that reads each of
        them once, as a plain covariate."""
        learned = [name for name in STAGES if not self._constant(name)]
        if len(learned) <= 1:
            return False
        first = sorted(learned, key=lambda name: not self._without_booster(name))[0]
        return self._deferred_positions(first, names) is not None

    def _alone_names(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The covariates of the stage's map without a booster, and those of them that are
        plain ranker columns; None when the stage is no such map with covariates."""
        calibrator = self.calibrators_.get(name)
        if not isinstance(calibrator, CovariateCalibrator):
            return None
        if name == "hire" and self.hire_alone_:
            terms = self.hire_alone_terms_
            every = HIRE_ALONE_ENTRY_COVARIATES if terms == "entry" else HIRE_ALONE_COVARIATES
            return every, _HIRE_ALONE_PLAIN
        if name == "apply" and self.apply_alone_:
            return APPLY_ALONE_COVARIATES, _APPLY_ALONE_PLAIN
        return None

    def _deferred_positions(self, name: str, names: tuple[str, ...]) -> np.ndarray | None:
        """Positions of ``names`` among the covariates of the stage's map without a
        booster, when each is one of :data:`DEFERRABLE_COLUMNS` that the map reads once,
        as a plain covariate; else None."""
        known = self._alone_names(name)
        if known is None or not names:
            return None
        every, plain = known
        if any(c not in DEFERRABLE_COLUMNS or c not in plain or every.count(c) != 1 for c in names):
            return None
        return np.array([every.index(c) for c in names], dtype=np.intp)

    def _alone_covariates(self, name: str, x: np.ndarray) -> np.ndarray:
        """The covariates :meth:`_stage` gives the stage's map without a booster."""
        if name == "hire":
            competition = (
                None if self.hire_planning_ is None else np.tile(self.hire_planning_, (len(x), 1))
            )
            return hire_alone_covariates(x, competition, self.hire_alone_terms_, self.wage_peers_)
        return apply_alone_covariates(x)

    def _alone_stage(self, name: str, covariates: np.ndarray) -> np.ndarray:
        """:meth:`_stage` of a map without a booster from its covariates (the same
        numbers: the map reads the covariates row by row)."""
        calibrator = self.calibrators_[name]
        assert isinstance(calibrator, CovariateCalibrator)
        return calibrator.predict(np.full(len(covariates), 0.5), covariates)

    def _deferred_upper(self, name: str, covariates: np.ndarray, at: np.ndarray) -> np.ndarray:
        """An upper bound of :meth:`_alone_stage` whatever the covariates at positions
        ``at`` are: each at the end of its clipping range that its coefficient raises
        (clipping, standardising, the column-by-column sum and the logistic are each
        monotone), with the relative margin of :meth:`_stage_bounds`."""
        calibrator = self.calibrators_[name]
        assert isinstance(calibrator, CovariateCalibrator)
        coef = calibrator.coef_[2:][at]
        top = covariates.copy()
        top[:, at] = np.where(coef > 0, calibrator.high_[at], calibrator.low_[at])
        return np.minimum(self._alone_stage(name, top) * (1 + 1e-9) + 1e-12, 1.0)

    def predict_proba(self, features: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated P(stable placement) of each pair, shape ``(n,)``: the product of
        the stages, through the joint calibrator when there is one."""
        return self._joint(self.predict_stages(features))

    def _joint(self, stages: np.ndarray) -> np.ndarray:
        """The product of the stage probabilities ``(n, 3)``, mapped by ``joint_`` (a
        monotone map, so an upper bound of the product maps to an upper bound)."""
        product = stages.prod(axis=1)
        return product if self.joint_ is None else self.joint_.predict(product)

    def predict_top(
        self,
        features: pd.DataFrame | np.ndarray,
        groups: np.ndarray,
        k: int,
        weight: np.ndarray | None = None,
        deferred: DeferredColumns | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_proba` for the pairs that can be among the ``k`` best of their
        group, computing the later stages only for those (a cascade).

        One learned stage is computed for every pair: a stage without a booster
        (:meth:`_without_booster`, e.g. ``hire_alone``'s map) when there is one, else the
        first in :data:`STAGES` order (a map costs a fraction of a booster stage, and
        its exact value with the other stages' bounds leaves far fewer pairs able to
        reach the top ``k`` than the apply booster first). Each later stage is at
        most its largest possible value (:meth:`_stage_max`, at most 1) and a stage
        that could not be learned is its constant rate, so ``s_first * max * rate``
        (multiplied in the order of :meth:`predict_proba`; rounding is monotone)
        bounds a pair's score from above.
        Round 1 scores the ``FIRST_ROUND * k`` pairs of each group with the highest
        bounds exactly; the ``k``-th best of those scores, ``tau``, is at most the
        ``k``-th best exact score of the group. Round 2 takes every other pair whose
        bound reaches ``tau`` one later stage at a time: the stage's exact value
        replaces its bound, and only the pairs whose bound still reaches ``tau`` go on
        to the next stage (at 100,000 open vacancies the hire stage's bound is loose,
        the stay stage's tight: most pairs that reach the hire stage stop there). A
        pair left out has ``bound < tau``, so its exact score is strictly below the
        ``k``-th best of its group: the top ``k`` (ties included) and their scores
        are those of :meth:`predict_proba`.

        With ``deferred`` columns (:class:`DeferredColumns`, some of
        :data:`DEFERRABLE_COLUMNS`) and a first stage that is a map without a booster
        reading them as plain covariates (:meth:`defers`), the first stage is at first
        only bounded for every pair: its map with each deferred covariate at the end of
        its clipping range that raises it (the map is monotone in each covariate, and
        so is each rounded operation). A pair's columns are filled, and its first stage
        computed exactly, when the pair enters round 1 or its bound reaches ``tau``;
        so the pairs scored exactly, their scores and the bound's guarantee are as
        above, and the columns are computed for the pairs that need them only.
        Otherwise the columns are filled for every pair first.

        Parameters
        ----------
        features : DataFrame or ndarray
            As for :meth:`predict_stages`.
        groups : ndarray of int, shape ``(n,)``
            The group of each pair (e.g. the worker): the top ``k`` is per group.
        k : int
        weight : ndarray of float, shape ``(n,)``, optional
            A non-negative factor per pair (the worker's P(looking for work)): the
            scores, bounds and top ``k`` are those of ``weight * predict_proba``.
        deferred : DeferredColumns, optional
            Input columns unknown until filled (their values in ``features`` ignored).

        Returns
        -------
        score : ndarray, shape ``(n,)``
            The exact (weighted) P(stable placement) where ``exact``; elsewhere the upper bound,
            strictly below the ``k``-th best exact score of the pair's group.
        exact : ndarray of bool, shape ``(n,)``
        """
        self.check_fitted()
        x = _matrix(features)
        n = len(x)
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} pairs")
        w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
        if len(w) != n or (w < 0).any():
            raise ValueError(f"weight must hold {n} non-negative factors")
        stages = np.empty((n, len(STAGES)))
        learned = []
        for j, name in enumerate(STAGES):
            if self._constant(name):
                stages[:, j] = self._stage(name, x[:1])[0] if n else 0.0
            else:
                learned.append(j)
        if len(learned) <= 1 or n == 0 or k <= 0:
            _fill_rows(x, deferred, np.arange(n))
            for j in learned:
                stages[:, j] = self._stage(STAGES[j], x)
            return self._joint(stages) * w, np.ones(n, dtype=bool)
        # the first stage is computed for every pair: a stage without a booster (a map
        # on covariates alone) when there is one, then the others in STAGES order
        learned.sort(key=lambda j: not self._without_booster(STAGES[j]))
        first, later = learned[0], learned[1:]
        first_name = STAGES[first]
        at = None if deferred is None else self._deferred_positions(first_name, deferred.names)
        if at is None:
            _fill_rows(x, deferred, np.arange(n))
            stages[:, first] = self._stage(first_name, x)
        else:
            # the first stage's map bounded over the deferred covariates, exact once filled
            alone = self._alone_covariates(first_name, x)
            stages[:, first] = self._deferred_upper(first_name, alone, at)
            filled = np.zeros(n, dtype=bool)
        # the later maps' covariates of every row, once: they bound each row's stage
        # and are sliced for the rows each round scores
        covariates = {j: self._map_covariates(STAGES[j], x) for j in later}
        # ... and their terms of the maps (each row's is the same among any rows)
        terms = {j: self._covariate_term(STAGES[j], covariates[j]) for j in later}
        bounded = stages.copy()
        for j in later:
            bounded[:, j] = self._stage_bounds(STAGES[j], x, covariates[j], terms[j])
        bound = self._joint(bounded) * w
        exact = np.zeros(n, dtype=bool)

        def fill_first(rows: np.ndarray) -> None:
            """Fill the deferred columns of ``rows`` and compute their first stage."""
            if at is None:
                return
            todo = rows[~filled[rows]]
            if not len(todo):
                return
            assert deferred is not None
            _fill_rows(x, deferred, todo)
            alone[todo[:, None], at] = _plain(x[todo], deferred.names)
            stages[todo, first] = self._alone_stage(first_name, alone[todo])
            bounded[todo, first] = stages[todo, first]
            filled[todo] = True

        def score_stage(j: int, rows: np.ndarray) -> None:
            u, t = covariates[j], terms[j]
            stages[rows, j] = self._stage(
                STAGES[j],
                x[rows],
                covariates=None if u is None else u[rows],
                term=None if t is None else t[rows],
            )

        def score_rows(rows: np.ndarray) -> None:
            for j in later:
                score_stage(j, rows)
            exact[rows] = True

        _, gid = np.unique(groups, return_inverse=True)
        order = np.lexsort((-bound, gid))
        g = gid[order]
        starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
        rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        first_rows = order[rank < FIRST_ROUND * k]
        fill_first(first_rows)
        score_rows(first_rows)
        # tau: the k-th best exact score of each group's first round (a group scored
        # whole in the first round has nothing left, its tau does not matter)
        first_score = self._joint(stages[first_rows]) * w[first_rows]
        fg = gid[first_rows]
        by_score = np.lexsort((-first_score, fg))
        fg_sorted = fg[by_score]
        cut = np.r_[0, np.flatnonzero(fg_sorted[1:] != fg_sorted[:-1]) + 1]
        size = np.diff(np.r_[cut, len(fg_sorted)])
        tau = np.full(int(gid.max()) + 1, -np.inf)
        full = size >= k
        tau[fg_sorted[cut[full]]] = first_score[by_score][cut[full] + k - 1]
        rest = np.flatnonzero(~exact & (bound >= tau[gid]))
        if at is not None and len(rest):
            # the first stage exactly where its bound reaches tau, and the bound again
            fill_first(rest)
            bound[rest] = self._joint(bounded[rest]) * w[rest]
            rest = rest[bound[rest] >= tau[gid[rest]]]
        # stage by stage: each later stage computed exactly tightens the bound of the
        # rows still in (its exact value replaces its bound, the product is monotone in
        # each factor), and only the rows whose bound still reaches tau go on
        for j in later[:-1]:
            if not len(rest):
                break
            score_stage(j, rest)
            bounded[rest, j] = stages[rest, j]
            bound[rest] = self._joint(bounded[rest]) * w[rest]
            rest = rest[bound[rest] >= tau[gid[rest]]]
        if len(rest):
            score_stage(later[-1], rest)
            exact[rest] = True
        score = bound
        score[exact] = self._joint(stages[exact]) * w[exact]
        return score, exact


def _largest(
    calibrator: ProbabilityMap | CovariateCalibrator | CovariateHazard, p: np.ndarray
) -> np.ndarray:
    """The largest value a stage's later-slice map gives output ``p`` (over every
    covariate value, for a map with covariates)."""
    if isinstance(calibrator, CovariateCalibrator | CovariateHazard):
        return calibrator.upper(p)
    return calibrator.predict(p)


def top_k_per_group(
    values: np.ndarray, score: np.ndarray, group: np.ndarray, other: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the ``k`` best pairs of each group (best first) and their ranks from 1.

    ``values`` are pair values in :data:`PAIR_COLUMNS` order. Best first by
    ``score``; equal scores (a stage the ranker could not learn is a constant rate)
    are ordered by occupation match and text similarity, then by the other side's
    catalogue position (deterministic). ``recommend_many``, ``candidates`` and the
    nightly batch scorer all order this way.
    """
    col = {name: j for j, name in enumerate(PAIR_COLUMNS)}
    content = (
        values[:, col["occ_match"]] + (values[:, col["dense"]] + values[:, col["lexical"]]) / 2
    )
    order = np.lexsort((other, -np.nan_to_num(content), -score, group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return order[rank < k], rank[rank < k] + 1


def ranker_input(features: pd.DataFrame | np.ndarray) -> np.ndarray:
    """The matrix every stage of the ranker reads from pair features (a frame with
    :data:`RANKER_COLUMNS`, or :func:`matcher.models.features.pair_matrix` rows cut to them),
    missing values replaced by ``MISSING``: for benchmarks that time one stage."""
    return _matrix(features)


def tree_sum(booster: Any, x: np.ndarray) -> np.ndarray:
    """A fitted binary ``HistGradientBoostingClassifier``'s ``decision_function(x)`` (a
    Poisson regressor's :func:`raw_tree_output`) as the request path computes it: the
    same numbers, its trees summed on one thread (for batches larger than
    ``ONE_THREAD_ROWS``, sklearn's own threaded call)."""
    return _decision(booster, x)
