"""Batch scoring: the top K eligible vacancies of every active worker, at province scale.

:meth:`matcher.serving.recommender.Recommender.recommend_many` serves one officer's request:
per worker it scores every open vacancy on five channels, takes the union of each
channel's top ``n_candidates`` (a few hundred pairs) and ranks them with the calibrated
ranker. The nightly run asks the same question for a million workers against tens of
thousands of vacancies (5e10 pairs), which that path answers in about a day. This module
answers it in minutes with the same model, by doing each step once where it can:

1. **Worker side, once per partition** (:meth:`matcher.serving.recommender.Recommender.encode_workers`): occupation codes,
   profiles, text vectors and LightFM user vectors. Dense (feature hashing) and lexical
   (TF-IDF) text vectors of character n-grams within words are sums over the text's
   words, so each distinct word is vectorised once (:func:`matcher.models.encoding.hashing_vectors`,
   :func:`~matcher.models.encoding.lexical_vectors`; exact, up to float rounding).
2. **Eligibility by segment**: every rule except age and language depends on the worker
   only through the segment (mobility, capacity, home point and commute limit, home
   province; :meth:`matcher.eligibility.rules.EligibilityIndex.segments`): one mask per
   segment. Age and language (:meth:`~matcher.eligibility.rules.EligibilityIndex.residual_ok`)
   and the pairs the worker already pursued are checked on the shortlist only.
3. **Shortlist**: a pre-score that imitates the ranker's logit, ``prior[county(w), v] +
   a * lightfm(w, v) + b * dense(w, v) + c * lexical(w, v) + wage term``
   (:meth:`BatchScorer.prepare`): the prior is the ranker's logit for a typical worker
   of the home county against every open vacancy (it carries everything the ranker
   reads of the vacancy, the county's referral network, distances and flows); the
   weights are fitted by least squares on the exact logits of a sample of workers
   (lexical in a low-rank TF-IDF subspace, pre-score only). Workers of one segment and
   county share the mask and the prior: one matrix product per block and
   ``torch.topk`` keep ``shortlist + slack`` pairs per worker, the residual rules drop
   ineligible ones, and ``shortlist`` (32) pairs remain. A worker whose shortlist ends
   up shorter than K while more vacancies are eligible is shortlisted again over his
   exact mask (counted in :attr:`BatchScorer.stats_`).
4. **Ranking**: the shortlist goes through the model's own pair features and calibrated
   ranker (the code ``recommend_many`` runs), with the same order and tie-breaks; the K
   best are kept. No reasons: :func:`explain_pairs` writes them for the pairs the plan
   assigns.

When the shortlist covers every eligible vacancy (``shortlist`` at least the number
of open vacancies), the result equals ``recommend_many``'s whenever that one ranks
every eligible vacancy too (``n_candidates`` at least their number).
``bench/match_bench.py`` measures the agreement of the two on a sample of a real-size
market. ``BatchScorer(model, candidates="live")`` skips steps 2-3: each worker's
candidates are the live path's (:meth:`matcher.models.retrieval.CandidateGenerator.for_workers`)
and step 4 ranks them with :meth:`matcher.models.scoring.PairScorer.rank_top`, as
``recommend_many`` does, so the lists are ``recommend_many``'s at its cost per worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.data.schema import Columns
from matcher.models.calibration import logit
from matcher.models.ranking import top_k_per_group
from matcher.models.retrieval import PAIR_BLOCK_WORKERS, CandidateGenerator
from matcher.models.scoring import RankedPairs, candidate_runs

if TYPE_CHECKING:
    from matcher.serving.recommender import Recommender

#: Pairs per worker that go through the pair features and the ranker.
DEFAULT_SHORTLIST = 32
#: Rank of the lexical (TF-IDF) subspace the pre-score uses.
LEXICAL_RANK = 96
#: Extra vacancies fetched per channel so that the residual rules leave ``n`` eligible.
DEFAULT_SLACK = 12
#: Workers scored together in one matrix product (memory: block x open vacancies).
DEFAULT_BLOCK = 1024
#: Workers whose live candidates are generated together: the generator's own pair
#: block (:data:`matcher.models.retrieval.PAIR_BLOCK_WORKERS`); a larger block only adds
#: memory traffic (its channel products and eligibility masks are block x open vacancies).
LIVE_BLOCK = PAIR_BLOCK_WORKERS
#: How :class:`BatchScorer` chooses each worker's candidates.
CANDIDATE_MODES = ("shortlist", "live")
SCORE_COLUMNS = [Columns.Worker, Columns.Vacancy, Columns.Rank, Columns.Score]


# --------------------------------------------------------------------------- scorer


class BatchScorer:
    """Top-K eligible vacancies for many workers with a fitted, refreshed Recommender
    (see the module docstring).

    Parameters
    ----------
    model : Recommender
        Fitted (``stages="full"``), with :meth:`~Recommender.refresh` done on tonight's
        vacancies: the scorer uses the catalogue's open vacancies; its workers are not
        needed (pass only the workers an officer pinned, or none).
    shortlist : int, default :data:`DEFAULT_SHORTLIST`
        Pairs per worker that the ranker scores.
    slack : int, default :data:`DEFAULT_SLACK`
    block : int, default :data:`DEFAULT_BLOCK`
    sample_workers : int, default 300
        Workers whose exact scores fit the pre-score's weights in :meth:`prepare`.
    random_state : int, default 0
    candidates : {"shortlist", "live"}, default "shortlist"
        ``"shortlist"``: the pre-score's ``shortlist`` best pairs per worker (steps 2-4
        of the module docstring). ``"live"``: the live path's candidates
        (:meth:`matcher.models.retrieval.CandidateGenerator.for_workers`, every
        channel's ``n_candidates`` best and the ranker proxy's), so that each worker's
        list is ``recommend_many``'s, at the live path's cost per worker (tens of
        times the shortlist's; ``bench/match_bench.py`` measures both). No
        :meth:`prepare` needed.
    channel_candidates, proxy_candidates : int, optional
        Live mode only: take each channel's ``channel_candidates`` best and the ranker
        proxy's ``proxy_candidates`` best instead of the model's numbers (at most
        those: a subset of ``recommend_many``'s candidates, cheaper to rank, agreeing
        with it where its top K is among them; ``bench/nightly_fidelity_bench.py``
        measures the curve).
    proxy_margin : float, optional
        Live mode only: of the proxy's best, keep those within this margin of the
        worker's best proxy score (:class:`~matcher.models.retrieval.CandidateGenerator`,
        ``proxy_margin``): fewer candidates where a worker's top is clear.

    Attributes
    ----------
    prior_ : ndarray of shape (n_counties, n_open)
        Ranker logit of each county's typical worker for every open vacancy.
    weights_ : dict
        Pre-score weights of the LightFM and dense channels.
    stats_ : dict
        Counters of the last :meth:`score` call: workers, shortlisted pairs, fallbacks.
    """

    def __init__(
        self,
        model: Recommender,
        *,
        shortlist: int = 0,
        slack: int = DEFAULT_SLACK,
        block: int = DEFAULT_BLOCK,
        sample_workers: int = 300,
        random_state: int = 0,
        candidates: str = "shortlist",
        channel_candidates: int | None = None,
        proxy_candidates: int | None = None,
        proxy_margin: float | None = None,
    ) -> None:
        model.check_fitted()
        if candidates not in CANDIDATE_MODES:
            raise ValueError(
                f"candidates must be one of {', '.join(CANDIDATE_MODES)}, got {candidates!r}"
            )
        if model.stages != "full":
            raise ValueError(
                f"batch scoring ranks with the full model; stages={model.stages!r} is an "
                "ablation: score it with recommend_many"
            )
        self.model = model
        self.shortlist = int(shortlist) or DEFAULT_SHORTLIST
        self.slack = int(slack)
        self.block = max(1, int(block))
        self.sample_workers = int(sample_workers)
        self.random_state = random_state
        self.candidates = candidates
        for name, value in (
            ("channel_candidates", channel_candidates),
            ("proxy_candidates", proxy_candidates),
        ):
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.channel_candidates = channel_candidates
        self.proxy_candidates = proxy_candidates
        if candidates == "shortlist":
            given = [
                name
                for name, value in (
                    ("channel_candidates", channel_candidates),
                    ("proxy_candidates", proxy_candidates),
                    ("proxy_margin", proxy_margin),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} choose the live candidates; the shortlist mode has "
                    'none to choose: pass candidates="live" with them, or leave them out'
                )
        if proxy_margin is not None and not float(proxy_margin) >= 0:
            raise ValueError(f"proxy_margin must be at least 0, got {proxy_margin}")
        self.proxy_margin = None if proxy_margin is None else float(proxy_margin)
        self.stats_: dict[str, int] = {}

    # ------------------------------------------------------------------ prepare

    def prepare(self, workers: pd.DataFrame) -> BatchScorer:
        """Precompute what every partition shares: the county priors and the weights.

        The pre-score of a pair is ``prior[county(w), v] + a * lightfm(w, v) +
        b * dense(w, v) + c * lexical(w, v) + d * wage shortfall``: the prior is the
        ranker's logit for a typical worker of the county (median expected wage and age, the median LightFM, dense, lexical and
        occupation-match values) against each open vacancy -- it carries everything the
        ranker reads of the vacancy and of the county's referral network, distances and
        flows; the weights are fitted by least squares on the exact logits of
        ``sample_workers`` workers' eligible pairs (within-worker deviations).

        Parameters
        ----------
        workers : DataFrame
            The workers to be scored (all of them, or a sample with every home county).
        """
        model = self.model
        cat = model.catalogue
        n_open = len(cat.open_pos)
        workers = workers.reset_index(drop=True)
        text = cat.open_text
        # the lexical channel in a low-rank subspace of the open vacancies' TF-IDF rows
        # (pre-score only: the ranker's lexical feature is the exact cosine)
        from sklearn.decomposition import TruncatedSVD

        v_lex = cat.v_lex[cat.open_pos]
        rank = max(1, min(LEXICAL_RANK, v_lex.shape[0] - 1, v_lex.shape[1] - 1))
        svd = TruncatedSVD(rank, algorithm="randomized", n_iter=4, random_state=self.random_state)
        v_lex_low = svd.fit_transform(v_lex).astype(np.float32)
        self.lex_basis_ = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
        self.open_t_ = np.ascontiguousarray(
            np.vstack([cat.open_lfm.T, text.row_vectors.T, v_lex_low.T]), dtype=np.float32
        )
        self.basis_ = text.basis
        self.dims_ = {
            "lightfm": cat.open_lfm.shape[1],
            "dense": text.dense.shape[1],
            "lexical": v_lex_low.shape[1],
        }
        log_offered = np.log(np.clip(cat.vp.offered_wage[cat.open_pos], 1.0, None))
        self.log_offered_ = np.nan_to_num(log_offered, nan=float(np.nanmedian(log_offered)))
        county = workers["home_region"].astype(object).where(workers["home_region"].notna(), "")
        self.counties_ = pd.Index(pd.unique(county.to_numpy(dtype=object)))
        rng = np.random.default_rng(self.random_state)
        sample = workers.iloc[
            np.sort(rng.choice(len(workers), min(self.sample_workers, len(workers)), replace=False))
        ]
        reps = workers.groupby(county.to_numpy(dtype=object), sort=False).head(1)
        reps = reps.set_index(county.loc[reps.index].to_numpy(dtype=object)).loc[self.counties_]
        both = pd.concat([reps, sample], ignore_index=True)
        side = model.encode_workers(both)
        local = model.catalogue.with_workers(both, side)
        n_rep = len(reps)
        # the sample's eligible pairs (up to 200 each) with exact logits
        index = cat.eligibility
        enc = index.encode_workers(both)
        wi_s, vi_s = [], []
        for w in range(n_rep, len(both)):
            cols = np.flatnonzero(
                index.pair_mask_of(enc, np.full(n_open, w), np.arange(n_open), cat.at)
            )
            if len(cols) > 200:
                cols = np.sort(rng.choice(cols, 200, replace=False))
            wi_s.append(np.full(len(cols), w))
            vi_s.append(cols)
        wi = np.concatenate(wi_s).astype(np.int64) if wi_s else np.zeros(0, np.int64)
        vi = np.concatenate(vi_s).astype(np.int64) if vi_s else np.zeros(0, np.int64)
        scorer = model.scorer
        feats = scorer.pair_frame(local, wi, cat.open_pos[vi])
        typical = {
            c: float(np.nanmedian(feats[c].to_numpy(dtype=float))) if len(feats) else 0.0
            for c in ("lightfm", "dense", "lexical", "occ_match")
        }
        expected = workers["expected_wage"].groupby(county.to_numpy(dtype=object)).median()
        age = (cat.year - pd.to_numeric(workers["birth_year"], errors="coerce")).median()
        # the county priors
        prior = np.zeros((n_rep, n_open), np.float32)
        cols = np.arange(n_open)
        for r in range(n_rep):
            f = scorer.pair_frame(local, np.full(n_open, r), cat.open_pos)
            for c, value in typical.items():
                f[c] = value
            e = float(expected.get(self.counties_[r], np.nan))
            if np.isfinite(e) and e > 0:
                f["expected_wage"] = e
                f["wage_ratio"] = f["offered_wage"] / e
                f["wage_gap"] = f["offered_wage"] - e
            if np.isfinite(age):
                f["age"] = age
            prior[r, cols] = logit(scorer.looking_score(f))
        self.prior_ = prior
        # the channel weights: exact logit - prior ~ channels, within each worker
        self.weights_ = {name: 1.0 for name in (*self.dims_, "wage_shortfall")}
        if len(feats) > 10:
            y = (
                logit(scorer.looking_score(feats))
                - prior[self.counties_.get_indexer(pd.Index(local.wp.county[wi])), vi]
            )
            x = self._channels(local, wi, vi)
            frame = pd.DataFrame(x, columns=list(self.weights_))
            frame["y"], frame["w"] = y, wi
            cols_ = [*self.weights_, "y"]
            # a worker's constant does not change his order: fit the deviations
            dev = frame[cols_] - frame.groupby("w")[cols_].transform("mean")
            coef, *_ = np.linalg.lstsq(
                dev[list(self.weights_)].to_numpy(), dev["y"].to_numpy(), rcond=None
            )
            self.weights_ = {
                name: float(max(c, 0.0)) for name, c in zip(self.weights_, coef, strict=True)
            }
        return self

    def _channels(self, local: Any, wi: np.ndarray, vi: np.ndarray) -> np.ndarray:
        """Pre-score channels of pairs (open columns ``vi``): LightFM, dense, lexical
        (low rank) and the wage shortfall ``min(0, log offered - log expected)``."""
        q = self._queries(local, wi)
        out = []
        lo = 0
        for name in self.dims_:
            hi = lo + self.dims_[name]
            out.append(np.einsum("ij,ji->i", q[:, lo:hi], self.open_t_[lo:hi, vi]))
            lo = hi
        out.append(np.minimum(0.0, self.log_offered_[vi] - self._log_expected(local, wi)))
        return np.column_stack(out)

    def _log_expected(self, local: Any, rows: np.ndarray) -> np.ndarray:
        e = np.asarray(local.wp.expected_wage[rows], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.log(np.where(e > 0, e, np.nan))
        return np.nan_to_num(out, nan=-np.inf)  # unknown expectation: no shortfall

    def _queries(self, local: Any, rows: np.ndarray) -> np.ndarray:
        """Worker rows in the pre-score's space: ``[LightFM vector, projected dense,
        low-rank lexical]``."""
        dense = np.asarray(local.w_dense[rows], dtype=np.float32)
        if self.basis_ is not None:
            dense = dense @ self.basis_
        lex = np.asarray(local.w_lex[rows] @ self.lex_basis_, dtype=np.float32)
        return np.ascontiguousarray(
            np.hstack([np.asarray(local.w_lfm[rows], np.float32), dense, lex]), dtype=np.float32
        )

    def _scale(self) -> np.ndarray:
        return np.concatenate(
            [np.full(d, self.weights_[name], np.float32) for name, d in self.dims_.items()]
        )

    # ------------------------------------------------------------------ scoring

    def score(
        self, workers: pd.DataFrame, pursued: pd.DataFrame | None = None, k: int = 10
    ) -> pd.DataFrame:
        """The ``k`` best eligible open vacancies of each worker.

        Parameters
        ----------
        workers : DataFrame
            Workers in the Dataset normal form (need not be in the model's catalogue).
        pursued : DataFrame, optional
            ``worker_id, vacancy_id`` pairs the workers already applied to (or further):
            never returned, as in ``recommend_many``.
        k : int

        Returns
        -------
        DataFrame
            ``worker_id, vacancy_id, rank, score``, grouped by worker in the order given,
            rank from 1, score descending (calibrated P(stable placement)).
        """
        import torch

        model = self.model
        cat = model.catalogue
        workers = workers.reset_index(drop=True)
        n, n_open = len(workers), len(cat.open_pos)
        self.stats_ = {"workers": n, "shortlisted": 0, "fallback_workers": 0}
        if n == 0 or n_open == 0 or k < 1:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        if self.candidates == "live":
            return self._score_live(workers, pursued, k)
        if not hasattr(self, "prior_"):
            self.prepare(workers)
        side = model.encode_workers(workers)
        local = cat.with_workers(workers, side)
        index = cat.eligibility
        enc = index.encode_workers(workers)
        seg, reps = index.segments(enc)
        seg_masks = index.segment_masks(enc, reps, at=cat.at)
        pursued_keys = self._pursued_keys(workers, pursued, n_open)
        prior_row = self.counties_.get_indexer(
            pd.Index(pd.Series(local.wp.county, dtype=object).fillna(""))
        )
        if (prior_row < 0).any():  # a county prepare() did not see: no prior
            self.prior_ = np.vstack([self.prior_, np.zeros((1, n_open), np.float32)])
            self.counties_ = self.counties_.append(pd.Index([None]))
            prior_row[prior_row < 0] = len(self.counties_) - 1
        scale = self._scale()
        used = scale != 0  # a channel the fit gave no weight costs nothing
        open_t = np.ascontiguousarray(self.open_t_[used] * scale[used, None])
        queries = np.ascontiguousarray(self._queries(local, np.arange(n))[:, used])
        log_expected = self._log_expected(local, np.arange(n)).astype(np.float32)
        shortfall = float(self.weights_["wage_shortfall"])
        # workers of one segment and county share the mask and the prior: score them
        # together over their segment's eligible columns only
        order = np.lexsort((np.arange(n), prior_row, seg))
        key = seg[order] * (len(self.counties_) + 1) + prior_row[order]
        starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1, n]
        seg_cols: dict[int, np.ndarray] = {}
        complete = np.zeros(n, dtype=bool)  # every column of the segment was fetched
        wi_parts, vi_parts = [], []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one core per Dask worker process
        try:
            for g0, g1 in zip(starts[:-1], starts[1:], strict=True):
                s_, c_ = int(seg[order[g0]]), int(prior_row[order[g0]])
                if s_ not in seg_cols:
                    seg_cols[s_] = np.flatnonzero(seg_masks[s_])
                cols = seg_cols[s_]
                if len(cols) == 0:
                    continue
                whole = len(cols) == n_open
                t_cols = torch.from_numpy(
                    open_t if whole else np.ascontiguousarray(open_t[:, cols])
                )
                p_cols = torch.from_numpy(
                    np.ascontiguousarray(self.prior_[c_] if whole else self.prior_[c_, cols])
                )
                lo_cols = torch.from_numpy(
                    np.ascontiguousarray(self.log_offered_ if whole else self.log_offered_[cols])
                ).float()
                for b0 in range(g0, g1, self.block):
                    rows = np.sort(order[b0 : min(g1, b0 + self.block)])
                    pre = torch.from_numpy(queries[rows]) @ t_cols
                    pre += p_cols[None, :]
                    if shortfall > 0:
                        gap = lo_cols[None, :] - torch.from_numpy(log_expected[rows])[:, None]
                        pre += shortfall * torch.clamp(gap, max=0.0)
                    m = min(self.shortlist + self.slack, len(cols))
                    complete[rows] = m == len(cols)
                    pos = torch.topk(pre, m, dim=1, largest=True, sorted=True)[1].numpy()
                    wi, vi = self._eligible_shortlist(rows, cols[pos], enc, pursued_keys)
                    wi_parts.append(wi)
                    vi_parts.append(vi)
        finally:
            torch.set_num_threads(threads)
        wi = np.concatenate(wi_parts) if wi_parts else np.zeros(0, np.int64)
        vi = np.concatenate(vi_parts) if vi_parts else np.zeros(0, np.int64)
        wi, vi = self._fill_short(
            local, wi, vi, enc, seg, seg_masks, prior_row, pursued_keys, k, complete
        )
        self.stats_["shortlisted"] = len(wi)
        frames = []
        bounds = np.searchsorted(wi, np.arange(0, n + self.block, self.block))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi > lo:
                frames.append(self._rank(local, wi[lo:hi], cat.open_pos[vi[lo:hi]], k))
        if not frames:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]

    def _score_live(
        self, workers: pd.DataFrame, pursued: pd.DataFrame | None, k: int
    ) -> pd.DataFrame:
        """:meth:`score` with the live path's candidates and ranking: the partition's
        workers encoded into a copy of the catalogue (with their own pursued pairs),
        :meth:`~matcher.models.retrieval.CandidateGenerator.for_workers` and
        :meth:`~matcher.models.scoring.PairScorer.rank_top`, block by block as
        ``recommend_many`` does. ``workers``: indexed from 0, at least one; ``k`` ≥ 1."""
        model = self.model
        cat = model.catalogue
        n, n_open = len(workers), len(cat.open_pos)
        keys = self._pursued_keys(workers, pursued, n_open)
        done = sp.csr_matrix(
            (np.ones(len(keys), dtype=bool), (keys // n_open, keys % n_open)), shape=(n, n_open)
        )
        local = cat.with_workers(workers, model.encode_workers(workers), done)
        generator = self.live_generator()
        scorer = model.scorer
        frames = []
        for start in range(0, n, LIVE_BLOCK):
            block = np.arange(start, min(n, start + LIVE_BLOCK))
            unions = generator.for_workers(local, block)
            self.stats_["shortlisted"] += sum(len(u) for u in unions)
            # rank a few workers at a time (rank_chunks: the same lists whichever
            # workers share a call)
            for wi, vi in candidate_runs(block, unions, cat.open_pos):
                frames.append(self._frame(local, wi, vi, scorer.rank_top(local, wi, vi, k)))
        if not frames:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]

    def live_generator(self) -> CandidateGenerator:
        """The candidate generator of the live mode: the model's, or with fewer
        vacancies per channel (``channel_candidates``) or from the ranker proxy
        (``proxy_candidates``, ``proxy_margin``), whose candidates are then a subset of
        the model's (each channel's best few are among its best many), so the lists
        differ from ``recommend_many``'s only where one of its top K is left out."""
        generator = self.model.candidate_generator
        if (
            self.channel_candidates is None
            and self.proxy_candidates is None
            and self.proxy_margin is None
        ):
            return generator
        return CandidateGenerator(
            generator.stages,
            min(generator.n_candidates, int(self.channel_candidates or generator.n_candidates)),
            generator.stats,
            min(
                generator.proxy_candidates,
                int(self.proxy_candidates or generator.proxy_candidates),
            ),
            self.proxy_margin,
        )

    def _eligible_shortlist(
        self, rows: np.ndarray, pos: np.ndarray, enc: Any, pursued_keys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first ``shortlist`` fetched positions of each worker that pass the
        residual rules (age, language) and were not pursued already."""
        cat = self.model.catalogue
        n_open = len(cat.open_pos)
        b, m = pos.shape
        wi = np.repeat(rows, m)
        vi = pos.ravel()
        ok = vi >= 0
        okw, okv = wi[ok], vi[ok]
        good = cat.eligibility.residual_ok(enc, okw, okv, at=cat.at)
        if len(pursued_keys):
            good &= ~_isin_sorted(okw * n_open + okv, pursued_keys)
        keep = np.zeros(b * m, dtype=bool)
        keep[np.flatnonzero(ok)[good]] = True
        keep2 = keep.reshape(b, m)
        keep2 &= np.cumsum(keep2, axis=1) <= self.shortlist
        flat = keep2.ravel()
        return wi[flat].astype(np.int64), vi[flat].astype(np.int64)

    def _fill_short(
        self,
        local: Any,
        wi: np.ndarray,
        vi: np.ndarray,
        enc: Any,
        seg: np.ndarray,
        seg_masks: np.ndarray,
        prior_row: np.ndarray,
        pursued_keys: np.ndarray,
        k: int,
        complete: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Workers left with fewer than ``min(k, shortlist)`` pairs whose fetch did not
        cover their segment's every column get their shortlist over their exact mask.
        Returns the pairs sorted by worker."""
        cat = self.model.catalogue
        n_open = len(cat.open_pos)
        n = len(seg)
        counts = np.bincount(wi, minlength=n)
        short = np.flatnonzero((counts < min(k, self.shortlist)) & ~complete)
        if len(short):
            weights = np.array(list(self.weights_.values()))
            drop = np.isin(wi, short)
            wi_parts, vi_parts = [wi[~drop]], [vi[~drop]]
            queries = self._queries(local, short)
            scale = self._scale()
            for q, w_ in zip(queries, short, strict=True):
                w = int(w_)
                cols = np.flatnonzero(seg_masks[seg[w]])
                cols = cols[cat.eligibility.residual_ok(enc, np.full(len(cols), w), cols, cat.at)]
                if len(pursued_keys):
                    cols = cols[~_isin_sorted(w * n_open + cols, pursued_keys)]
                pre = self.prior_[prior_row[w], cols] + ((q * scale) @ self.open_t_)[cols]
                gap = self.log_offered_[cols] - self._log_expected(local, np.array([w]))[0]
                pre = pre + weights[-1] * np.minimum(0.0, np.nan_to_num(gap, nan=0.0))
                best = cols[np.lexsort((cols, -pre))[: self.shortlist]]
                wi_parts.append(np.full(len(best), w, np.int64))
                vi_parts.append(best.astype(np.int64))
            self.stats_["fallback_workers"] += len(short)
            wi, vi = np.concatenate(wi_parts), np.concatenate(vi_parts)
        order = np.lexsort((vi, wi))
        return wi[order], vi[order]

    def _pursued_keys(
        self, workers: pd.DataFrame, pursued: pd.DataFrame | None, n_open: int
    ) -> np.ndarray:
        """Sorted ``worker row * n_open + open column`` of the pursued pairs."""
        if pursued is None or len(pursued) == 0:
            return np.zeros(0, np.int64)
        cat = self.model.catalogue
        open_ids = pd.Index(cat.vp.ids.to_numpy(dtype=object)[cat.open_pos])
        w = pd.Index(workers[Columns.Worker]).get_indexer(pd.Index(pursued[Columns.Worker]))
        v = open_ids.get_indexer(pd.Index(pursued[Columns.Vacancy]))
        ok = (w >= 0) & (v >= 0)
        return np.unique(w[ok].astype(np.int64) * n_open + v[ok])

    def _rank(self, local: Any, wi: np.ndarray, vi: np.ndarray, k: int) -> pd.DataFrame:
        """The model's pair features and ranker on the shortlist; the ``k`` best per
        worker, ordered exactly as ``recommend_many`` orders them (the same
        :meth:`~matcher.models.scoring.PairScorer.rank_top` computes the same scores
        with its cascade)."""
        from matcher.models.features import PAIR_COLUMNS

        scorer = self.model.scorer
        values, matched = scorer.pair_values(local, wi, vi)
        score = scorer.score(pd.DataFrame(values, columns=PAIR_COLUMNS, copy=False))
        keep, ranks = top_k_per_group(values, score, wi, vi, k)
        ranked = RankedPairs(keep, ranks, score[keep], values[keep], matched[keep])
        return self._frame(local, wi, vi, ranked)

    @staticmethod
    def _frame(local: Any, wi: np.ndarray, vi: np.ndarray, ranked: RankedPairs) -> pd.DataFrame:
        keep = ranked.keep
        return pd.DataFrame(
            {
                Columns.Worker: local.wp.ids[wi[keep]].to_numpy(dtype=object),
                Columns.Vacancy: local.vp.ids[vi[keep]].to_numpy(dtype=object),
                Columns.Rank: ranked.rank.astype(np.int64),
                Columns.Score: ranked.score.astype(float),
            }
        )


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, values)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == values


# --------------------------------------------------------------------------- reasons


def explain_pairs(
    model: Recommender, workers: pd.DataFrame, pairs: pd.DataFrame, lang: str | None = None
) -> list[list[str]]:
    """Reasons (in ``lang``, default the model's) of each ``worker_id, vacancy_id`` pair,
    for workers given in ``workers`` (need not be in the catalogue) and vacancies in the
    model's catalogue: the nightly run explains only the pairs its plan assigns."""
    from matcher.models.explain import texts

    if len(pairs) == 0:
        return []
    cat = model.catalogue
    lang = lang or model.lang
    workers = workers.reset_index(drop=True)
    wi = pd.Index(workers[Columns.Worker]).get_indexer(pd.Index(pairs[Columns.Worker]))
    vi = cat.vp.ids.get_indexer(pd.Index(pairs[Columns.Vacancy]))
    if (wi < 0).any() or (vi < 0).any():
        bad = pairs.iloc[int(np.flatnonzero((wi < 0) | (vi < 0))[0])]
        raise KeyError(
            f"pair ({bad[Columns.Worker]!r}, {bad[Columns.Vacancy]!r}) names a worker not "
            "given or a vacancy not in the model's catalogue"
        )
    side = model.encode_workers(workers)
    local = cat.with_workers(workers, side)
    vi = vi.astype(np.int64)
    scorer = model.scorer
    values, matched = scorer.pair_values(local, wi.astype(np.int64), vi)
    return [texts(r, lang) for r, _ in scorer.reasons(local, values, matched, vi)]


__all__ = ["BatchScorer", "explain_pairs"]
