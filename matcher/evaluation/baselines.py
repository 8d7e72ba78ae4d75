"""Baselines every jobmatch model is measured against, in the same run.

Both implement :class:`matcher.models.base.RankingModel` and learn nothing about *which*
pairs become stable placements beyond what their name says. They are meant to be
honest: what a placement office already has without jobmatch.

:class:`PopularityRecommender`
    The vacancies that attracted the most outcomes in the training data
    (sum of outcome grades over distinct workers: an application counts 1, a
    hire 2, a 3-month retention 3), newest first among equals, shown only
    where the worker may take them. Candidates for a vacancy: the most active
    workers (same weighting) among those who may take it.
:class:`KeywordRecommender`
    What a job board gives: TF-IDF over character n-grams
    (:class:`matcher.text.encoders.LexicalEncoder`) of the worker's skills, certificates
    and work history against the vacancy's title, description and required
    skills, cosine similarity, nothing learned from outcomes.

The filter
----------
Neither shows a vacancy the worker already pursued (applied, or further), as the
full model does not. Both baselines show a pair only when it passes the worker's
**location filter** and the vacancy is open with seats left:

* mobility ``local``: the vacancy is within ``max_commute_km`` of the home
  county (default 50 km, as the eligibility rules);
* ``province``: the vacancy is in the home province;
* ``any``: anywhere.

With ``filter="eligibility"`` they apply the full hard rules of :class:`matcher.eligibility.rules.EligibilityIndex` instead (which
include the location rule plus labour capacity, age and languages), so that
they keep the contract "an ineligible pair is never recommended" and so that
the comparison with the full model measures ranking, not filtering.
``filter="location"`` gives the bare job-board behaviour. The default
``filter="auto"`` (kept for models and callers that name it) means the eligibility
rules; the filter actually used is in ``filter_`` and is printed in every evaluation
report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import joblib
import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.artifacts import load_joblib
from matcher.data.dataset import Dataset
from matcher.data.reference import coordinate_array, haversine_km
from matcher.data.schema import PURSUED_EVENTS, Columns, Mobility
from matcher.eligibility.rules import EligibilityIndex
from matcher.evaluation.metrics import GRADE, outcome_grades
from matcher.models.base import (
    CANDIDATE_COLUMNS,
    RECOMMENDATION_COLUMNS,
    NotFittedError,
    RankingModel,
)

#: Default commute radius for mobility "local" when a worker's max_commute_km is blank.
DEFAULT_COMMUTE_KM = 50.0
#: Rows of workers scored per block (bounds memory to block x open vacancies floats).
BLOCK = 1024
ARTIFACT_VERSION = 1
_ARTIFACT = "baseline.joblib"
_PURSUED = PURSUED_EVENTS  # not shown again once pursued

__all__ = ["DEFAULT_COMMUTE_KM", "KeywordRecommender", "PopularityRecommender"]


def _join(*parts: object) -> str:
    out: list[str] = []
    for p in parts:
        if p is None or (isinstance(p, float) and np.isnan(p)):
            continue
        if isinstance(p, list | tuple | np.ndarray):
            out.extend(str(x) for x in p if x)
        elif str(p):
            out.append(str(p))
    return " ".join(out)


def worker_text(workers: pd.DataFrame) -> list[str]:
    """Skills, certificates and work history of each worker, as one string."""
    return [
        _join(s, c, h)
        for s, c, h in zip(
            workers["skills"], workers["certificates"], workers["work_history"], strict=True
        )
    ]


def vacancy_text(vacancies: pd.DataFrame) -> list[str]:
    """Title, description and required skills of each vacancy, as one string."""
    return [
        _join(t, d, r)
        for t, d, r in zip(
            vacancies["title"], vacancies["description"], vacancies["required_skills"], strict=True
        )
    ]


def _province(codes: pd.Series) -> np.ndarray:
    return np.array([str(c)[:2] if c else "" for c in codes], dtype=object)


def _distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances in km between every row of ``a`` and of ``b`` ((lon, lat) in degrees)."""
    return haversine_km(a[:, :1], a[:, 1:2], b[:, 0][None, :], b[:, 1][None, :])


class _FilteredBaseline(RankingModel):
    """Shared machinery: open vacancies, the filter, block-wise top-k."""

    filter: str

    # ------------------------------------------------------------------ fit

    def _fit_common(self, dataset: Dataset) -> None:
        if self.filter not in ("auto", "eligibility", "location"):
            raise ValueError(
                f"filter must be 'auto', 'eligibility' or 'location', got {self.filter!r}"
            )
        self.filter_ = self.filter
        if self.filter == "auto":
            self.filter_ = "eligibility"
        self._index(dataset, at=None)

    def _index(self, dataset: Dataset, at: pd.Timestamp | None) -> None:
        """Id maps, open vacancies and filter inputs of the served snapshot."""
        self.dataset_ = dataset
        self.at_ = at
        open_v = dataset.open_vacancies(at)
        self.open_pos_ = np.sort(dataset.vacancy_pos(open_v[Columns.Vacancy]).astype(np.int64))
        self.vacancy_ids_ = dataset.vacancies[Columns.Vacancy].to_numpy(dtype=object)
        self.worker_ids_ = dataset.workers[Columns.Worker].to_numpy(dtype=object)
        w, v = dataset.workers, dataset.vacancies
        self.w_xy_ = coordinate_array(list(w["home_region"]))
        self.v_xy_ = coordinate_array(list(v["region"]))
        self.w_prov_ = _province(w["home_region"])
        self.v_prov_ = _province(v["region"])
        self.w_mob_ = w["mobility"].fillna(Mobility.ANY.value).to_numpy(dtype=object)
        self.w_km_ = w["max_commute_km"].fillna(DEFAULT_COMMUTE_KM).to_numpy(dtype=float)
        # pairs the worker already pursued (applied or further): a job board marks them
        # "applied" and the worker looks elsewhere; the full model masks them too
        ev = dataset.events
        ev = ev[ev[Columns.Event].astype(str).isin(_PURSUED)]
        pw, pv = dataset.worker_pos(ev[Columns.Worker]), dataset.vacancy_pos(ev[Columns.Vacancy])
        ok = (pw >= 0) & (pv >= 0)
        self.pursued_ = sp.csr_matrix(
            (np.ones(int(ok.sum()), dtype=bool), (pw[ok], pv[ok])),
            shape=(dataset.n_workers, dataset.n_vacancies),
        )
        self.eligibility_ = None
        if self.filter_ == "eligibility":
            self.eligibility_ = EligibilityIndex().fit(dataset.vacancies, dataset.workers)

    def refresh(
        self, dataset: Dataset, at: object = None, *, holders: frozenset[str] | None = None
    ) -> Self:
        """Serve a newer snapshot without refitting (new workers and vacancies are cold).

        Learned state (popularity counts, the TF-IDF vocabulary) stays as fitted;
        only id maps, texts and filter inputs are rebuilt from ``dataset``, and
        vacancies must be open at ``at`` (default: by status only). ``holders`` is
        accepted for :class:`matcher.protocols.RefreshableModel` and not read: a
        baseline keeps a job board's rules, the attribute filter and applied pairs.
        """
        self._check_fitted()
        when = None if at is None else pd.Timestamp(at)  # type: ignore[arg-type]
        if when is not None and when.tzinfo is not None:
            when = when.tz_convert("UTC").tz_localize(None)
        old_w, old_v = self.worker_ids_, self.vacancy_ids_
        self._index(dataset, when)
        self._reindex_learned(old_w, old_v)
        return self

    def _reindex_learned(self, old_workers: np.ndarray, old_vacancies: np.ndarray) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "dataset_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(dataset) first")

    def _allowed(self, wpos: np.ndarray, vpos: np.ndarray) -> np.ndarray:
        """Boolean (len(wpos), len(vpos)): may worker i be shown vacancy j."""
        if self.eligibility_ is not None:
            wp = np.repeat(np.asarray(wpos, dtype=np.int64), len(vpos))
            vp = np.tile(np.asarray(vpos, dtype=np.int64), len(wpos))
            return self.eligibility_.pair_mask(wp, vp, at=self.at_).reshape(len(wpos), len(vpos))
        return self._location_mask(wpos, vpos)

    def _location_mask(self, wpos: np.ndarray, vpos: np.ndarray) -> np.ndarray:
        mob = self.w_mob_[wpos]
        mask = np.ones((len(wpos), len(vpos)), dtype=bool)
        prov = mob == Mobility.PROVINCE.value
        if prov.any():
            mask[prov] = self.w_prov_[wpos][prov][:, None] == self.v_prov_[vpos][None, :]
        local = mob == Mobility.LOCAL.value
        if local.any():
            d = _distance_matrix(self.w_xy_[wpos][local], self.v_xy_[vpos])
            # unknown coordinates: fall back to the same-province rule
            same_prov = self.w_prov_[wpos][local][:, None] == self.v_prov_[vpos][None, :]
            ok = np.where(np.isnan(d), same_prov, d <= self.w_km_[wpos][local][:, None])
            mask[local] = ok
        return mask

    # ------------------------------------------------------------------ scoring hooks

    def _worker_scores(self, wpos: np.ndarray, vpos: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _worker_reasons(self, wpos: int, vpos: int, score: float) -> list[str]:
        raise NotImplementedError

    def _candidate_scores(self, vpos: int, wpos: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _tiebreak(self, vpos: np.ndarray) -> np.ndarray:
        """Secondary key for equal scores (higher first): newer postings first."""
        posted = self.dataset_.vacancies["posted_at"].to_numpy(dtype="datetime64[ns]")[vpos]
        t = posted.astype("int64").astype(float)
        t[np.isnat(posted)] = -np.inf
        return t

    # ------------------------------------------------------------------ verbs

    def recommend(self, worker_id: str, k: int = 10) -> pd.DataFrame:
        return self.recommend_many([worker_id], k)

    def recommend_many(self, worker_ids, k: int = 10) -> pd.DataFrame:
        self._check_fitted()
        ids = list(worker_ids)
        wpos_all = self.dataset_.worker_pos(ids)
        unknown = [w for w, p in zip(ids, wpos_all, strict=True) if p < 0]
        if unknown:
            raise KeyError(
                f"unknown worker_id {unknown[0]!r} ({len(unknown)} unknown in all): the model "
                "was fitted on a snapshot without them; refit on the current store"
            )
        vpos = self.open_pos_
        frames = []
        # tie-break position of each open vacancy: newer postings first, then by id
        tie = self._tiebreak(vpos)
        tb = np.empty(len(vpos), dtype=np.int64)
        tb[np.lexsort((self.vacancy_ids_[vpos].astype(str), -tie))] = np.arange(len(vpos))
        for start in range(0, len(wpos_all), BLOCK):
            wpos = wpos_all[start : start + BLOCK]
            scores = np.array(self._worker_scores(wpos, vpos), dtype=float)
            scores[~self._allowed(wpos, vpos)] = -np.inf
            scores[self.pursued_[wpos][:, vpos].toarray()] = -np.inf
            kk = min(k, len(vpos))
            order = np.lexsort((np.broadcast_to(tb, scores.shape), -scores), axis=-1)[:, :kk]
            top = np.take_along_axis(scores, order, axis=1)
            rows, cols = np.nonzero(np.isfinite(top))  # shown pairs, rank order in each row
            chosen = order[rows, cols]
            wp, vp = wpos[rows], vpos[chosen]
            sc = scores[rows, chosen]
            frames.append(
                pd.DataFrame(
                    {
                        Columns.Worker: self.worker_ids_[wp],
                        Columns.Rank: cols + 1,
                        Columns.Vacancy: self.vacancy_ids_[vp],
                        Columns.Score: sc,
                        Columns.Reasons: [
                            self._worker_reasons(int(w), int(v), float(x))
                            for w, v, x in zip(wp, vp, sc, strict=True)
                        ],
                        Columns.Warnings: [[] for _ in range(len(wp))],
                    }
                )
            )
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
        out = pd.concat(frames, ignore_index=True)[RECOMMENDATION_COLUMNS]
        out[Columns.Rank] = out[Columns.Rank].astype(np.int64)
        return out

    def candidates(self, vacancy_id: str, k: int = 20) -> pd.DataFrame:
        self._check_fitted()
        vp = int(self.dataset_.vacancy_pos([vacancy_id])[0])
        if vp < 0:
            raise KeyError(f"unknown vacancy_id {vacancy_id!r}: refit on the current store")
        if vp not in set(self.open_pos_.tolist()):
            return pd.DataFrame(columns=CANDIDATE_COLUMNS)
        wpos = np.arange(len(self.worker_ids_))
        vcol = np.array([vp])
        allowed = (
            np.concatenate(
                [self._allowed(wpos[s : s + BLOCK], vcol)[:, 0] for s in range(0, len(wpos), BLOCK)]
            )
            if len(wpos)
            else np.zeros(0, dtype=bool)
        )
        ok = np.flatnonzero(allowed)
        scores = self._candidate_scores(vp, ok).astype(float)
        order = np.lexsort((self.worker_ids_[ok].astype(str), -scores))[:k]
        return pd.DataFrame(
            {
                Columns.Vacancy: vacancy_id,
                Columns.Rank: np.arange(1, len(order) + 1),
                Columns.Worker: self.worker_ids_[ok[order]],
                Columns.Score: scores[order],
                Columns.Reasons: [[] for _ in order],
                Columns.Warnings: [[] for _ in order],
            }
        )[CANDIDATE_COLUMNS]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write ``baseline.joblib`` (with an artifact version) into folder ``path``."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"version": ARTIFACT_VERSION, "model": self}, folder / _ARTIFACT)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a folder written by :meth:`save`; refuses other versions or classes."""
        file = Path(path) / _ARTIFACT
        try:
            blob = load_joblib(file)
        except FileNotFoundError:
            raise FileNotFoundError(f"{file} does not exist: no baseline was saved there") from None
        except Exception as exc:
            raise ValueError(
                f"{file} is not a readable baseline artifact ({type(exc).__name__}); "
                "delete the folder and retrain"
            ) from exc
        if not isinstance(blob, dict) or blob.get("version") != ARTIFACT_VERSION:
            raise ValueError(
                f"{file} has artifact version {getattr(blob, 'get', lambda _k: None)('version')!r}, "
                f"this jobmatch reads version {ARTIFACT_VERSION}; retrain the model"
            )
        model = blob["model"]
        if not isinstance(model, cls):
            raise ValueError(f"{file} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


class PopularityRecommender(_FilteredBaseline):
    """Most-applied/hired open vacancies in the training data, behind the filter.

    Parameters
    ----------
    filter : {"auto", "eligibility", "location"}, default "auto"
        Which pairs may be shown (see the module docstring).
    window_days : float, optional
        Count only outcomes in the last ``window_days`` before the snapshot's
        last event (vacancies are short-lived; recent interest predicts better).
        None counts all training outcomes.

    Attributes
    ----------
    popularity_ : numpy.ndarray
        Per vacancy (Dataset order): sum of outcome grades over distinct workers.
    activity_ : numpy.ndarray
        Per worker: the same sum over that worker's pairs (for :meth:`candidates`).
    """

    def __init__(self, filter: str = "auto", window_days: float | None = None) -> None:
        self.filter = filter
        self.window_days = window_days

    def fit(self, dataset: Dataset) -> Self:
        self._fit_common(dataset)
        ev = dataset.events
        if self.window_days is not None and len(ev):
            start = ev[Columns.OccurredAt].max() - pd.Timedelta(days=float(self.window_days))
            ev = ev[ev[Columns.OccurredAt] >= start]
        grades = outcome_grades(ev)
        vpos = dataset.vacancy_pos(grades[Columns.Vacancy])
        wpos = dataset.worker_pos(grades[Columns.Worker])
        g = grades[GRADE].to_numpy(dtype=float)
        self.popularity_ = np.bincount(
            vpos[vpos >= 0], weights=g[vpos >= 0], minlength=dataset.n_vacancies
        ).astype(float)
        self.activity_ = np.bincount(
            wpos[wpos >= 0], weights=g[wpos >= 0], minlength=dataset.n_workers
        ).astype(float)
        return self

    def _reindex_learned(self, old_workers: np.ndarray, old_vacancies: np.ndarray) -> None:
        pop = pd.Series(self.popularity_, index=pd.Index(old_vacancies))
        act = pd.Series(self.activity_, index=pd.Index(old_workers))
        self.popularity_ = pop.reindex(self.vacancy_ids_, fill_value=0.0).to_numpy(dtype=float)
        self.activity_ = act.reindex(self.worker_ids_, fill_value=0.0).to_numpy(dtype=float)

    def _worker_scores(self, wpos: np.ndarray, vpos: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_[vpos], (len(wpos), len(vpos)))

    def _worker_reasons(self, wpos: int, vpos: int, score: float) -> list[str]:
        if score <= 0:
            return ["recently posted"]
        return [f"popular: outcome score {score:g} from other workers"]

    def _candidate_scores(self, vpos: int, wpos: np.ndarray) -> np.ndarray:
        return self.activity_[wpos]


class KeywordRecommender(_FilteredBaseline):
    """TF-IDF keyword search of worker profile against vacancy text (a job board).

    Parameters
    ----------
    filter : {"auto", "eligibility", "location"}, default "auto"
        Which pairs may be shown (see the module docstring).
    ngram_range : tuple of int, default (1, 3)
        Character n-gram lengths of the TF-IDF (Chinese needs no tokenizer).

    Attributes
    ----------
    encoder_ : matcher.text.encoders.LexicalEncoder
        Fitted on worker and vacancy texts of the training snapshot.
    worker_matrix_, vacancy_matrix_ : scipy.sparse.csr_matrix
        L2-normalised TF-IDF rows in Dataset order.
    """

    def __init__(self, filter: str = "auto", ngram_range: tuple[int, int] = (1, 3)) -> None:
        self.filter = filter
        self.ngram_range = ngram_range

    def fit(self, dataset: Dataset) -> Self:
        from matcher.text.encoders import LexicalEncoder

        self._fit_common(dataset)
        wt = worker_text(dataset.workers)
        vt = vacancy_text(dataset.vacancies)
        self.encoder_ = LexicalEncoder(ngram_range=self.ngram_range, clean=False).fit(wt + vt)
        del wt, vt
        self._transform(dataset)
        return self

    def _transform(self, dataset: Dataset) -> None:
        self.worker_matrix_ = sp.csr_matrix(self.encoder_.transform(worker_text(dataset.workers)))
        self.vacancy_matrix_ = sp.csr_matrix(
            self.encoder_.transform(vacancy_text(dataset.vacancies))
        )
        self.vacancy_titles_ = dataset.vacancies["title"].fillna("").to_numpy(dtype=object)

    def _reindex_learned(self, old_workers: np.ndarray, old_vacancies: np.ndarray) -> None:
        self._transform(self.dataset_)

    def _worker_scores(self, wpos: np.ndarray, vpos: np.ndarray) -> np.ndarray:
        sims = self.worker_matrix_[wpos] @ self.vacancy_matrix_[vpos].T
        return np.asarray(sims.todense(), dtype=float)

    def _worker_reasons(self, wpos: int, vpos: int, score: float) -> list[str]:
        return [f"keywords match {self.vacancy_titles_[vpos]} (similarity {score:.2f})"]

    def _candidate_scores(self, vpos: int, wpos: np.ndarray) -> np.ndarray:
        sims = self.worker_matrix_[wpos] @ self.vacancy_matrix_[vpos].T
        return np.asarray(sims.todense(), dtype=float).ravel()

    def get_params(self) -> dict[str, Any]:
        return {"filter": self.filter, "ngram_range": self.ngram_range}
