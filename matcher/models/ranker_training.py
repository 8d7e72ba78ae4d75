"""Training of the stable-placement ranker: its boosters on earlier time windows and
the calibration of its stages on the latest slice of the events.

:class:`RankerTrainer` is the one job the :class:`matcher.serving.recommender.Recommender`
façade hands over when it fits (``stages="full"``) or recalibrates: it cuts the events
into windows by time (``ranker_holdout``, ``ranker_folds``, ``calibration_share``,
``history_stages``/``history_windows``), builds each window's servable pairs, labels
(:mod:`matcher.models.labels`) and pair features as a model trained at the window's
start would have scored them, fits a :class:`matcher.models.ranking.StablePlacementRanker`
on them and calibrates its apply, hire and stay stages on the later slice
(:mod:`matcher.models.calibration`). What it needs of the model being fitted — retrieval
fitted on a snapshot and the catalogue of the vacancies open at a cutoff — it asks
through :class:`TrainingSnapshots`, so this module imports nothing of
:mod:`matcher.serving`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from matcher.data.dataset import Dataset
from matcher.data.schema import PURSUED_EVENTS, Columns, EventType
from matcher.models.catalogue import Catalogue, EncodedSides
from matcher.models.config import RecommenderConfig
from matcher.models.features import RANKER_COLUMNS, PairStatistics
from matcher.models.labels import (
    DECISION_DAYS,
    NO_APPLICATIONS,
    NO_SPELLS,
    NO_VIEWS,
    ShownTrials,
    application_competition,
    concat_trials,
    due_applications,
    due_offers,
    hires_at_risk,
    history_applications,
    history_cutoffs,
    offer_outcomes,
    pair_labels,
    proposal_outcomes,
    spells_of,
    view_trials,
)
from matcher.models.ranking import (
    HIRE_COMPETITION,
    HIRE_PLANNING,
    Proposals,
    StablePlacementRanker,
)
from matcher.models.retrieval import RetrievalFit
from matcher.models.scoring import PairScorer

_APPLIED = PURSUED_EVENTS


class TrainingSnapshots(Protocol):
    """What ranker training needs of the model it trains: the retrieval fit of a snapshot
    and the catalogue that model would have served at a cutoff."""

    def fit_retrieval(self, dataset: Dataset) -> RetrievalFit:
        """Retrieval channels and pair statistics fitted on ``dataset``."""
        ...

    def fit_statistics(self, dataset: Dataset) -> PairStatistics:
        """The pair statistics of ``dataset`` alone (as :meth:`fit_retrieval` fits them)."""
        ...

    def encode_sides(self, dataset: Dataset, retrieval: RetrievalFit) -> EncodedSides:
        """Every worker and vacancy of ``dataset`` encoded with ``retrieval``."""
        ...

    def training_catalogue(
        self,
        dataset: Dataset,
        retrieval: RetrievalFit,
        at: pd.Timestamp,
        sides: EncodedSides | None = None,
    ) -> Catalogue:
        """The catalogue of the vacancies open at ``at`` as they were then (seats left
        then), encoded with ``retrieval``; every worker of ``dataset`` (``sides``: the
        encoded rows of a snapshot holding ``dataset``'s, :meth:`encode_sides`)."""
        ...


class RankerTrainer:
    """Fits and calibrates the stable-placement ranker of one model.

    Parameters
    ----------
    config : RecommenderConfig
        The model's parameters (the ranker's windows, negatives, stage maps, seed).
    snapshots : TrainingSnapshots
        The model being fitted: retrieval and catalogues as of each window's start.

    Attributes
    ----------
    counts : dict
        What the last :meth:`fit` or :meth:`recalibrate` learnt from (cutoffs, pairs,
        stays, per-stage rows; the model keeps it as ``ranker_counts_``).
    """

    def __init__(self, config: RecommenderConfig, snapshots: TrainingSnapshots) -> None:
        self.config = config
        self.snapshots = snapshots
        self.counts: dict[str, Any] = {}

    def fit(self, dataset: Dataset) -> StablePlacementRanker | None:
        """The ranker fitted on ``dataset``'s events and calibrated on their latest
        ``calibration_share`` (:attr:`counts` says on what); None without events."""
        self.counts = {}
        ev = dataset.events
        if len(ev) == 0:
            return None
        times = ev[Columns.OccurredAt]
        end = pd.Timestamp(times.max()) + pd.Timedelta(seconds=1)
        rng = np.random.default_rng(self.config.random_state)
        # the latest calibration_share of the events calibrates the stages; the booster
        # learns from the ranker_holdout share before it
        cal_cut: pd.Timestamp | None = None
        if self.config.calibration_share > 0:
            cal_cut = pd.Timestamp(times.quantile(1.0 - self.config.calibration_share))  # type: ignore[arg-type]
            if not ((times < cal_cut).any() and (times >= cal_cut).any()):
                cal_cut = None
        parts: list[
            tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, ShownTrials | None]
        ] = []
        ends: list[pd.Timestamp] = []
        cutoffs: list[str] = []
        upper: pd.Timestamp | None = cal_cut
        offset = self.config.calibration_share if cal_cut is not None else 0.0
        for fold in range(max(1, self.config.ranker_folds)):
            share = min(0.95, offset + self.config.ranker_holdout * (fold + 1))
            cutoff = pd.Timestamp(times.quantile(1.0 - share))  # type: ignore[arg-type]
            if not (times < cutoff).any():
                if fold:
                    break
                cutoff = pd.Timestamp(times.max())
            data = dataset if upper is None else dataset.until(upper)
            if upper is not None and not (data.events[Columns.OccurredAt] >= cutoff).any():
                break
            parts.append(self._ranker_fold(data, cutoff, rng, end=upper or end))
            ends.append(upper or end)
            cutoffs.append(str(cutoff))
            upper = cutoff
        feats = pd.concat([p[0] for p in parts], ignore_index=True)
        pairs = pd.concat([p[1] for p in parts], ignore_index=True)
        if self.config.hire_map == "competition":
            # the competition each application met, from all events (hires after a fold's
            # end still tell the seats it had)
            comp = application_competition(
                dataset.events, dataset.vacancies, pairs, pairs["applied_at"]
            )
            pairs[list(HIRE_COMPETITION)] = comp
        stay_feats = pd.concat([p[2] for p in parts], ignore_index=True)
        stays = pd.concat([p[3] for p in parts], ignore_index=True)
        self.counts = {
            "cutoffs": cutoffs,
            "pairs": len(pairs),
            "sampled_negatives": int((pairs["source"] == "sampled").sum()),
            "stays": len(stays),
        }
        earlier_stays = (stay_feats, stays)
        applications = None
        history_hires = None
        history_offers = None
        if cal_cut is not None and (
            self.config.history_stages != "none" or self.config.hire_map == "history"
        ):
            history = history_cutoffs(
                times, self.config.calibration_share, self.config.history_windows
            )
            self.counts["history_cutoffs"] = [str(c) for c in history]
            before = self._early_stays_until(cutoffs)
            windows, history_stays = self._window_history(
                dataset,
                history,
                cal_cut,
                stays="stay" in self.config.history_stages or before is not None,
                stays_until=before,
                shared=self.config.history_stages == "none",
            )
            if before is not None and len(history_stays[1]):
                # the stay map also learns from the spells of the history windows
                # before the booster's (their own employer statistics, no overlap)
                earlier_stays = (
                    pd.concat([history_stays[0], stay_feats], ignore_index=True),
                    pd.concat([history_stays[1], stays], ignore_index=True),
                )
                self.counts["early_stays"] = len(history_stays[1])
            if self.config.hire_map == "history":
                history_hires = due_applications(dataset, windows)
                if self.config.hire_split == "offer-accept":
                    history_offers = due_offers(dataset, windows)
            if "hire" in self.config.history_stages:
                applications = history_applications(dataset, windows, self.config.hire_map)
                self.counts["history_applications"] = len(applications[1])
            if "stay" in self.config.history_stages:
                earlier_stays = history_stays
                self.counts["history_stays"] = len(history_stays[1])
        ranker = StablePlacementRanker(
            max_iter=self.config.max_iter,
            learning_rate=self.config.ranker_learning_rate,
            random_state=self.config.random_state,
            stay_min_samples_leaf=self.config.stay_min_leaf,
            apply_terms=self.config.apply_terms,
            stay_record=self.config.stay_record,
        ).fit(feats, pairs, stays=(stay_feats, spells_of(stays)), applications=applications)
        self.counts["stages"] = ranker.stage_counts_
        if cal_cut is not None:
            earlier_hires = history_hires
            earlier_offers = history_offers
            if self.config.hire_map == "covariates":
                fold_windows = [
                    (p[0], p[1], fold_end) for p, fold_end in zip(parts, ends, strict=True)
                ]
                earlier_hires = due_applications(dataset, fold_windows)
                if self.config.hire_split == "offer-accept":
                    earlier_offers = due_offers(dataset, fold_windows)
            self._calibrate(
                ranker,
                dataset,
                cal_cut,
                end,
                rng,
                earlier_stays=earlier_stays,
                earlier_hires=earlier_hires,
                earlier_views=concat_trials([p[4] for p in parts]),
                earlier_offers=earlier_offers,
            )
            self.counts["calibration_cutoff"] = str(cal_cut)
            self.counts["calibration"] = ranker.calibration_counts_
        return ranker

    def _calibrate(
        self,
        ranker: StablePlacementRanker,
        dataset: Dataset,
        cutoff: pd.Timestamp,
        end: pd.Timestamp,
        rng: np.random.Generator,
        earlier_stays: tuple[pd.DataFrame, pd.DataFrame] | None = None,
        earlier_hires: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
        earlier_views: ShownTrials | None = None,
        earlier_offers: np.ndarray | None = None,
    ) -> None:
        """Calibrate ``ranker`` on the events at or after ``cutoff`` (later than every
        outcome it learnt from), with retrieval and statistics fitted on the events
        before it, as a model trained at ``cutoff`` would have scored them
        (:mod:`matcher.models.calibration`):

        * apply: the pairs shown in the slice (``viewed``; ``apply_exposure="sampled"``:
          the applications and the uniformly drawn eligible vacancies, each negative
          weighted by its worker's inverse sampling rate), each view a trial;
        * hire: the pairs applied to in the slice whose decision is due (applied at
          least ``DECISION_DAYS`` before the end, or decided);
        * stay: every hire at risk of leaving in the slice, in tenure weeks (entering
          the risk set at the cutoff when hired before it), left or still there
          (censored) at the end; with ``stay_map="covariates"`` also the spells the
          booster learnt from (``earlier_stays``: features and spells of its window,
          censored at its end, where the slice's spells of the same hires begin).
        * with ``hire_map="covariates"`` the hire stage also learns from the booster's
          window's applications whose decision was due by its end (``earlier_hires``:
          features, hired, the competition each met); with ``hire_map="history"`` from
          the history windows' instead; with ``hire_split="offer-accept"`` also whether
          each got an offer and the other offers its worker held (``earlier_offers``,
          :func:`matcher.models.labels.due_offers`, the rows of ``earlier_hires``).
        * with ``apply_map="history"`` the apply stage also learns from the pairs shown in
          the booster's window (``earlier_views``: features, applied, views as weight).
        """
        ev = dataset.events
        times = ev[Columns.OccurredAt]
        retrieval = self.snapshots.fit_retrieval(dataset.until(cutoff))
        cat = self.snapshots.training_catalogue(dataset, retrieval, cutoff)
        late = ev[times >= cutoff]
        before = ev[times < cutoff]
        fresh = self._servable_pairs(cat, before, pair_labels(late), cutoff)
        fresh = fresh[fresh["applied"] == 1]
        keys = [Columns.Worker, Columns.Vacancy]
        # apply: each view of an eligible open pair not applied to before is a trial
        if self.config.apply_exposure == "viewed":
            views = late[late[Columns.Event].astype(str) == EventType.VIEWED.value]
            shown = views.groupby(keys).size().rename("views").reset_index()
            shown = self._servable_pairs(cat, before, shown, cutoff)
            trials = view_trials(shown, fresh)
        elif self.config.apply_exposure == "sampled":
            negatives = self._sample_negatives(dataset, cat, late, rng)
            trials = pd.concat(
                [
                    fresh[keys].assign(y=1.0, w=1.0),
                    negatives[keys].assign(y=0.0, w=negatives["weight"].to_numpy(dtype=float)),
                ],
                ignore_index=True,
            )
        else:
            raise ValueError(
                f"apply_exposure must be 'viewed' or 'sampled', got {self.config.apply_exposure!r}"
            )
        # hire: applications whose decision is due
        due = fresh[
            (fresh["hired"] == 1)
            | (fresh["decided"] == 1)
            | (fresh["applied_at"] < end - pd.Timedelta(days=DECISION_DAYS))
        ]
        apply_pairs, apply_feats = self._features_of(cat, retrieval, trials)
        hire_pairs, hire_feats = self._features_of(cat, retrieval, due)
        competing = self.config.hire_map in HIRE_COMPETING
        at_risk = hires_at_risk(ev, cutoff, end)
        stays, stay_feats = self._features_of(cat, retrieval, at_risk)
        stay_spells = spells_of(stays)
        if self.config.stay_map == "covariates" and earlier_stays is not None:
            stay_feats = pd.concat([earlier_stays[0], stay_feats], ignore_index=True)
            stay_spells = spells_of(pd.concat([earlier_stays[1], stays], ignore_index=True))
        hire_competition = (
            application_competition(ev, dataset.vacancies, hire_pairs, hire_pairs["applied_at"])
            if competing
            else None
        )
        hire_offers = None
        if self.config.hire_split == "offer-accept":
            before_offers = np.zeros((0, 2)) if earlier_offers is None else earlier_offers
            hire_offers = np.vstack([before_offers, offer_outcomes(ev, hire_pairs)])
        joint = None
        if self.config.apply_exposure == "viewed":
            proposals = proposal_outcomes(views, shown, fresh, at_risk, end)
            joint_pairs, joint_feats = self._features_of(cat, retrieval, proposals)
            joint = Proposals(
                joint_feats,
                joint_pairs["hired"].to_numpy(dtype=float),
                joint_pairs["weeks"].to_numpy(dtype=float),
                joint_pairs["left"].to_numpy(dtype=float),
                joint_pairs["w"].to_numpy(dtype=float),
                competition=(
                    application_competition(
                        ev, dataset.vacancies, joint_pairs, joint_pairs["first_view"]
                    )
                    if competing
                    else None
                ),
            )
        ranker.calibrate(
            apply=(apply_feats, apply_pairs["y"].to_numpy(), apply_pairs["w"].to_numpy()),
            hire=(hire_feats, hire_pairs["hired"].to_numpy(dtype=float)),
            stay=(stay_feats, stay_spells),
            method=self.config.calibration,
            horizon=self.config.stay_weeks,
            joint=joint,
            apply_covariates=self.config.apply_map == "covariates",
            stay_l2=self.config.stay_l2,
            wage_peers=self.config.wage_impute == "peers",
            stay_covariates=self.config.stay_map == "covariates",
            hire_competition=hire_competition,
            hire_alone=(
                (earlier_hires or NO_APPLICATIONS)
                if self.config.hire_map in ("covariates", "history")
                else None
            ),
            hire_planning=(
                # no rival for the seats; the worker's own other applications as the
                # slice's applications typically had them
                np.array([HIRE_PLANNING, float(hire_competition[:, 1].mean())])
                if self.config.hire_map in ("competition-typical", "history")
                and hire_competition is not None
                and len(hire_competition)
                else None
            ),
            joint_tails=self.config.joint_tails,
            apply_alone=(
                (earlier_views or NO_VIEWS)
                if self.config.apply_map == "history" and self.config.apply_exposure == "viewed"
                else None
            ),
            hire_offers=hire_offers,
        )

    def _shown_negatives(
        self,
        cat: Catalogue,
        before: pd.DataFrame,
        late: pd.DataFrame,
        positives: pd.DataFrame,
        cutoff: pd.Timestamp,
    ) -> pd.DataFrame:
        """Servable pairs shown (``viewed``) in ``late`` and not applied to."""
        keys = [Columns.Worker, Columns.Vacancy]
        views = late[late[Columns.Event].astype(str) == EventType.VIEWED.value]
        shown = views[keys].drop_duplicates()
        shown = self._servable_pairs(cat, before, shown, cutoff)
        applied = late[late[Columns.Event].astype(str).isin(_APPLIED)]
        done = pd.MultiIndex.from_frame(applied[keys])
        shown = shown[~pd.MultiIndex.from_frame(shown[keys]).isin(done)]
        return _negatives(shown.reset_index(drop=True), "shown")

    def _features_of(
        self, cat: Catalogue, retrieval: RetrievalFit, pairs: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rows of ``pairs`` whose worker and vacancy the catalogue holds, and their
        pair features."""
        wi = cat.wp.ids.get_indexer(pd.Index(pairs[Columns.Worker]))
        vi = cat.vp.ids.get_indexer(pd.Index(pairs[Columns.Vacancy]))
        ok = (wi >= 0) & (vi >= 0)
        return pairs[ok].reset_index(drop=True), PairScorer(
            self.config.stages, None, retrieval.stats
        ).pair_frame(cat, wi[ok], vi[ok])

    def _servable_pairs(
        self, cat: Catalogue, before: pd.DataFrame, pairs: pd.DataFrame, cutoff: pd.Timestamp
    ) -> pd.DataFrame:
        """The ``pairs`` a model at ``cutoff`` could serve: on vacancies open then, not
        applied to before it, and eligible."""
        open_ids = pd.Index(cat.vp.ids.to_numpy(dtype=object)[cat.open_pos])
        pairs = pairs[open_ids.get_indexer(pd.Index(pairs[Columns.Vacancy])) >= 0]
        before = before[before[Columns.Event].astype(str).isin(_APPLIED)]
        old = pd.MultiIndex.from_frame(before[[Columns.Worker, Columns.Vacancy]])
        new = pd.MultiIndex.from_frame(pairs[[Columns.Worker, Columns.Vacancy]])
        pairs = pairs[~new.isin(old)]
        lw = cat.wp.ids.get_indexer(pd.Index(pairs[Columns.Worker]))
        lv = open_ids.get_indexer(pd.Index(pairs[Columns.Vacancy]))
        ok = lw >= 0
        eligible = np.zeros(len(pairs), dtype=bool)
        eligible[ok] = cat.eligibility.pair_mask(lw[ok], lv[ok], at=cutoff)
        return pairs[eligible].reset_index(drop=True)

    def _ranker_fold(
        self, dataset: Dataset, cutoff: pd.Timestamp, rng: np.random.Generator, end: pd.Timestamp
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, ShownTrials | None]:
        """Pair features and labels of the events in ``[cutoff, end)``, and the features
        and tenure spells of the hires at risk of leaving then (:func:`hires_at_risk`), with
        retrieval and statistics fitted on the events before ``cutoff``; with
        ``apply_map="history"`` also the pairs shown then (:meth:`_shown_trials`), else
        None."""
        ev = dataset.events
        times = ev[Columns.OccurredAt]
        early = dataset.until(cutoff)
        retrieval = self.snapshots.fit_retrieval(early)
        cat = self.snapshots.training_catalogue(dataset, retrieval, cutoff)
        late = ev[times >= cutoff]
        # positives: pairs applied to (or further); views without an application are
        # not negatives of their own (exposure is what a recommendation changes): the
        # negatives are eligible vacancies drawn uniformly, viewed or not
        labels = pair_labels(late)
        labels = labels[labels["applied"] == 1]
        # only vacancies open at the cutoff (the pairs a model at the cutoff ranks), first
        # pursued after it (an earlier application is masked), and pairs the worker may
        # take: an ineligible pair is never served, so an application to one teaches the
        # ranker nothing it may use
        labels = self._servable_pairs(cat, ev[times < cutoff], labels, cutoff)
        parts = [labels]
        if self.config.apply_negatives in ("sampled", "both"):
            parts.append(self._sample_negatives(dataset, cat, late, rng))
        if self.config.apply_negatives in ("viewed", "both"):
            parts.append(self._shown_negatives(cat, ev[times < cutoff], late, labels, cutoff))
        pairs, feats = self._features_of(cat, retrieval, pd.concat(parts, ignore_index=True))
        # stays: every hire at risk of leaving in the window (censored at its end)
        stays, stay_feats = self._features_of(cat, retrieval, hires_at_risk(ev, cutoff, end))
        shown_trials = None
        if self.config.apply_map == "history":
            shown_trials = self._shown_trials(
                cat, retrieval, ev[times < cutoff], late, labels, cutoff
            )
        return feats, pairs, stay_feats, stays, shown_trials

    def _shown_trials(
        self,
        cat: Catalogue,
        retrieval: RetrievalFit,
        before: pd.DataFrame,
        late: pd.DataFrame,
        applied: pd.DataFrame,
        cutoff: pd.Timestamp,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The servable pairs shown (``viewed``) in ``late``, each view a trial
        (:func:`view_trials`; ``applied``: the servable pairs applied to in it), as
        features, applied (0/1) and weight: what the apply map of ``apply_map="history"``
        learns from beside the slice's."""
        keys = [Columns.Worker, Columns.Vacancy]
        views = late[late[Columns.Event].astype(str) == EventType.VIEWED.value]
        shown = views.groupby(keys).size().rename("views").reset_index()
        shown = self._servable_pairs(cat, before, shown, cutoff)
        trials, feats = self._features_of(cat, retrieval, view_trials(shown, applied))
        return feats, trials["y"].to_numpy(dtype=float), trials["w"].to_numpy(dtype=float)

    def _sample_negatives(
        self, dataset: Dataset, cat: Catalogue, late: pd.DataFrame, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Eligible retrieval candidates the worker never touched, at their first late event."""
        first = late.groupby(Columns.Worker)[Columns.OccurredAt].min()
        workers = first.index.to_numpy(dtype=object)
        if len(workers) > self.config.ranker_max_workers:
            workers = np.sort(rng.choice(workers, self.config.ranker_max_workers, replace=False))
        wpos = cat.wp.ids.get_indexer(pd.Index(workers))
        # pairs the worker applied to (or got further) are positives, or masked when served
        ev = dataset.events
        ev = ev[ev[Columns.Event].astype(str).isin(_APPLIED)]
        touched_pos = cat.vp.ids.get_indexer(pd.Index(ev[Columns.Vacancy]))
        touched_w = cat.wp.ids.get_indexer(pd.Index(ev[Columns.Worker]))
        by_w = np.argsort(touched_w, kind="stable")
        touched_w, touched_pos = touched_w[by_w], touched_pos[by_w]
        rows: list[tuple[str, str, float]] = []
        open_ids = cat.vp.ids.to_numpy(dtype=object)[cat.open_pos]
        for w in wpos[wpos >= 0]:
            wid = cat.wp.ids[w]
            mask = cat.eligibility.mask_for_worker(cat.workers.iloc[w], at=first[wid])
            pool = np.flatnonzero(mask)
            lo, hi = np.searchsorted(touched_w, [w, w + 1])
            if hi > lo:  # vacancies this worker applied to (or got further)
                pool = pool[~np.isin(cat.open_pos[pool], touched_pos[lo:hi])]
            if len(pool) == 0:
                continue
            take = min(self.config.ranker_negatives, len(pool))
            for j in np.sort(rng.choice(pool, take, replace=False)):
                rows.append((wid, open_ids[j], len(pool) / take))
        return _negatives(
            pd.DataFrame(rows, columns=[Columns.Worker, Columns.Vacancy, "weight"]), "sampled"
        )

    def recalibrate(
        self, ranker: StablePlacementRanker, counts: dict[str, Any], dataset: Dataset
    ) -> dict[str, Any]:
        """Fit ``ranker``'s calibration once more on ``dataset`` (the events it was fitted
        on), on the slice its fit used (``counts``: the ``counts`` of that :meth:`fit`) and
        with the same seed; the boosters stay. With unchanged code it reproduces the
        fitted calibration.

        Returns
        -------
        dict
            ``counts`` with the new calibration's counts (also :attr:`counts`).

        Raises
        ------
        ValueError
            ``counts`` names no calibration slice.
        """
        cutoff = counts.get("calibration_cutoff")
        if cutoff is None:
            raise ValueError("the model has no ranker calibrated on a later slice")
        self.counts = dict(counts)
        times = dataset.events[Columns.OccurredAt]
        end = pd.Timestamp(times.max()) + pd.Timedelta(seconds=1)
        rng = np.random.default_rng(self.config.random_state)
        earlier = None
        if self.config.stay_map == "covariates":
            windows = counts.get("cutoffs", [])
            if "stay" in self.config.history_stages:
                windows = counts.get("history_cutoffs", [])
            earlier = self._window_stays(dataset, windows, pd.Timestamp(cutoff))
            before = self._early_stays_until(counts.get("cutoffs", []))
            if before is not None:
                history = counts.get("history_cutoffs") or [
                    str(c)
                    for c in history_cutoffs(
                        times, self.config.calibration_share, self.config.history_windows
                    )
                ]
                early = self._window_history(
                    dataset,
                    history,
                    pd.Timestamp(cutoff),
                    stays_until=before,
                    shared=self.config.history_stages == "none",
                )[1]
                if len(early[1]):
                    earlier = (
                        pd.concat([early[0], earlier[0]], ignore_index=True),
                        pd.concat([early[1], earlier[1]], ignore_index=True),
                    )
        earlier_hires = None
        earlier_offers = None
        if self.config.hire_map == "covariates":
            earlier_hires, earlier_offers = self._window_applications(
                dataset, counts.get("cutoffs", []), pd.Timestamp(cutoff)
            )
        if self.config.hire_map == "history":
            # a model fitted with another hire map kept no history windows: fit's own
            history = counts.get("history_cutoffs") or [
                str(c)
                for c in history_cutoffs(
                    times, self.config.calibration_share, self.config.history_windows
                )
            ]
            earlier_hires, earlier_offers = self._window_applications(
                dataset, history, pd.Timestamp(cutoff)
            )
        earlier_views = None
        if self.config.apply_map == "history":
            earlier_views = self._window_views(
                dataset, counts.get("cutoffs", []), pd.Timestamp(cutoff)
            )
        self._calibrate(
            ranker,
            dataset,
            pd.Timestamp(cutoff),
            end,
            rng,
            earlier_stays=earlier,
            earlier_hires=earlier_hires,
            earlier_views=earlier_views,
            earlier_offers=earlier_offers,
        )
        self.counts["calibration"] = ranker.calibration_counts_
        return self.counts

    def _windows(
        self,
        dataset: Dataset,
        cutoffs: list[str] | list[pd.Timestamp],
        upper: pd.Timestamp,
        *,
        shared: bool = False,
    ) -> Iterator[TrainingWindow]:
        """Training windows ``cutoffs`` (latest first, the first ending at ``upper``, each
        ending where the next later one starts), each with retrieval and statistics
        fitted on the events before it and the catalogue of the vacancies open at its
        start, as :meth:`_ranker_fold` builds them, and its servable applications.

        With ``shared`` the windows share one retrieval fit, on the events before the
        earliest window's start, each with the pair statistics of the events before its
        own start (:meth:`matcher.models.retrieval.RetrievalFit.with_statistics`): the
        pair features differ from per-window fits only in what reads the LightFM model or
        the text clusters (the ``lightfm`` column), so a caller that reads no booster
        output and no ``lightfm`` (the hire map's :data:`HIRE_ALONE_COVARIATES`) gets the
        same rows for one retrieval fit instead of one per window."""
        base: RetrievalFit | None = None
        sides: EncodedSides | None = None
        if shared and len(cutoffs):
            first = min(pd.Timestamp(c) for c in cutoffs)
            base = self.snapshots.fit_retrieval(dataset.until(min(first, upper)))
            # every window's workers and vacancies are rows of the latest window's
            # snapshot, encoded alike by the shared fit: encoded once
            sides = self.snapshots.encode_sides(dataset.until(upper), base)
        for text in cutoffs:
            cutoff = pd.Timestamp(text)
            data = dataset.until(upper)
            if base is not None:
                stats = self.snapshots.fit_statistics(data.until(cutoff))
                retrieval = base.with_statistics(stats)
            else:
                retrieval = self.snapshots.fit_retrieval(data.until(cutoff))
            cat = self.snapshots.training_catalogue(data, retrieval, cutoff, sides=sides)
            ev = data.events
            labels = pair_labels(ev[ev[Columns.OccurredAt] >= cutoff])
            labels = labels[labels["applied"] == 1]
            labels = self._servable_pairs(cat, ev[ev[Columns.OccurredAt] < cutoff], labels, cutoff)
            yield TrainingWindow(cutoff, upper, ev, retrieval, cat, labels)
            upper = cutoff

    def _early_stays_until(self, cutoffs: list[str]) -> pd.Timestamp | None:
        """Where the history windows whose spells the stay map also learns from must end:
        the start of the booster's window (``cutoffs``: its folds' starts), so that no
        spell's weeks are counted twice. Only with ``stay_spells="earlier"`` (opt-in),
        ``hire_map="history"`` (its windows are built anyway), ``stay_map="covariates"``
        and ``history_stages`` without "stay" (which takes every history window's
        spells instead); else None.

        Why: on a market whose workers mostly registered lately (cold-start) the
        booster's window and the slice hold few departures (257 on the truth bench's
        cold-start market), too few for the stay hazard's covariates; the earlier
        windows add the departures before it, each spell with the employer statistics
        of its own window's start (``docs/equal-service.md``, session 13)."""
        if (
            self.config.stay_spells != "earlier"
            or self.config.hire_map != "history"
            or self.config.stay_map != "covariates"
            or "stay" in self.config.history_stages
            or not cutoffs
        ):
            return None
        # one second's slack: a history window's start and the fold's start are the
        # same quantile of the event times computed from shares that differ in the
        # last bit
        return min(pd.Timestamp(c) for c in cutoffs) + pd.Timedelta(seconds=1)

    def _window_history(
        self,
        dataset: Dataset,
        cutoffs: list[str] | list[pd.Timestamp],
        upper: pd.Timestamp,
        *,
        stays: bool = True,
        stays_until: pd.Timestamp | None = None,
        shared: bool = False,
    ) -> tuple[
        list[tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]], tuple[pd.DataFrame, pd.DataFrame]
    ]:
        """Per window (``cutoffs``, latest first, the first ending at ``upper``; retrieval
        and statistics fitted on the events before each), the servable applications
        (features, labels, the window's end: :func:`due_applications`' input), and the
        features and spells of the hires at risk in all windows (censored at each
        window's end), as :meth:`_ranker_fold` collects them, without sampled pairs
        (without ``stays``: none; ``stays_until``: only of the windows ending by then;
        ``shared``: one retrieval fit, :meth:`_windows`)."""
        windows = []
        feats, spell_parts = [], []
        for w in self._windows(dataset, cutoffs, upper, shared=shared):
            pairs, pair_feats = self._features_of(w.cat, w.retrieval, w.applied)
            windows.append((pair_feats, pairs, w.end))
            if not stays or (stays_until is not None and w.end > stays_until):
                continue
            spells, spell_feats = self._features_of(
                w.cat, w.retrieval, hires_at_risk(w.events, w.cutoff, w.end)
            )
            feats.append(spell_feats)
            spell_parts.append(spells)
        if not feats:
            return windows, (pd.DataFrame(columns=RANKER_COLUMNS), NO_SPELLS)
        return windows, (
            pd.concat(feats, ignore_index=True),
            pd.concat(spell_parts, ignore_index=True),
        )

    def _window_stays(
        self, dataset: Dataset, cutoffs: list[str], upper: pd.Timestamp
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The features and spells of the hires at risk in the windows ``cutoffs``
        (:meth:`_window_history`)."""
        return self._window_history(dataset, cutoffs, upper)[1]

    def _window_applications(
        self, dataset: Dataset, cutoffs: list[str], upper: pd.Timestamp
    ) -> tuple[tuple[pd.DataFrame, np.ndarray, np.ndarray], np.ndarray]:
        """The applications of the booster's training windows (``cutoffs``, latest first,
        the first ending at ``upper``) whose decision was due by the window's end, as
        :meth:`fit` passes them (:func:`due_applications`), for the hire map without its
        booster (features read as :data:`HIRE_ALONE_COVARIATES`: one retrieval fit
        serves all windows, :meth:`_windows`), and their offers (:func:`due_offers`)."""
        windows = self._window_history(dataset, cutoffs, upper, stays=False, shared=True)[0]
        return due_applications(dataset, windows), due_offers(dataset, windows)

    def _window_views(
        self, dataset: Dataset, cutoffs: list[str], upper: pd.Timestamp
    ) -> ShownTrials | None:
        """The pairs shown in the booster's training windows (``cutoffs``, latest first,
        the first ending at ``upper``), as :meth:`_ranker_fold` collects them
        (:meth:`_shown_trials`)."""
        windows: list[ShownTrials | None] = []
        for w in self._windows(dataset, cutoffs, upper):
            before = w.events[w.events[Columns.OccurredAt] < w.cutoff]
            late = w.events[w.events[Columns.OccurredAt] >= w.cutoff]
            windows.append(
                self._shown_trials(w.cat, w.retrieval, before, late, w.applied, w.cutoff)
            )
        return concat_trials(windows)


#: Hire maps that read the competition each application met.
HIRE_COMPETING = (
    "competition",
    "competition-map",
    "competition-typical",
    "covariates",
    "history",
)


@dataclass(frozen=True)
class TrainingWindow:
    """One training window of :meth:`RankerTrainer._windows`: events in ``[cutoff, end)``
    (``events``: all up to ``end``), retrieval fitted before ``cutoff``, the catalogue
    at ``cutoff`` and the servable pairs applied to in the window (``applied``)."""

    cutoff: pd.Timestamp
    end: pd.Timestamp
    events: pd.DataFrame
    retrieval: RetrievalFit
    cat: Catalogue
    applied: pd.DataFrame


def _negatives(pairs: pd.DataFrame, source: str) -> pd.DataFrame:
    """``pairs`` labelled as negatives of the booster's training rows (not applied to,
    not hired, no stay) from ``source`` ("shown" or "sampled")."""
    pairs["applied"] = 0.0
    pairs["hired"] = 0.0
    pairs["retained"] = np.nan
    pairs["source"] = source
    return pairs
