"""The served catalogue: the encoded workers and vacancies of one market snapshot, and
how a posted, edited or closed vacancy enters it without a full refresh.

:class:`Catalogue` is what every scoring path reads (by catalogue position): worker and
vacancy profiles, their dense, lexical and LightFM vectors, the vacancy context, and
the structures over the *open* vacancies that retrieval and eligibility use (the open
positions, text and LightFM matrices, the eligibility index, the pairs already pursued).
A fitted :class:`matcher.serving.recommender.Recommender` builds one from a snapshot at
``fit`` and ``refresh``.

:class:`VacancyCatalogue` owns the vacancy side of it: encoding vacancies (profiles,
occupation codes, text and LightFM vectors, context) and :meth:`VacancyCatalogue.apply`,
the incremental update. Given the vacancies that changed in the store (new, edited or
closed rows, as the store holds them now) it returns a new catalogue in which

* a new vacancy is appended (new catalogue position, encoded alone);
* an edited vacancy keeps its position and gets its new encoding;
* a vacancy no longer open (closed, filled, past its deadline) leaves the open set;

and everything derived from the open set (crowding counts, the referral-share
denominators, the open-column matrices, the eligibility index, the pursued pairs) is
spliced, not recomputed from raw records: the cost is a few copies of the catalogue's
arrays, not an encoding of every vacancy. The result equals the catalogue a full
refresh of the same records at the same time builds, with one exception: the
projection that the dense *retrieval* channel scores in (:class:`ContentIndex`) keeps
the basis learned at the last full build (new vectors are projected on it). The
ranker's dense feature is the exact cosine either way.

The old catalogue is never modified (requests in flight keep reading it); the new one
shares the arrays that did not change.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matcher.data.schema import Columns
from matcher.eligibility.households import is_public_post
from matcher.eligibility.rules import EligibilityIndex
from matcher.models.encoding import (
    EncodingModel,
    WorkerSide,
    dense_vectors,
    lexical_vectors,
    take_encoded,
    with_clusters,
)
from matcher.models.features import (
    VacancyContext,
    VacancyProfiles,
    WorkerProfiles,
    vacancy_profiles,
)
from matcher.models.retrieval import (
    CandidateGenerator,
    ContentIndex,
    RankerProxy,
    RetrievalFit,
)
from matcher.models.rows import PatchedRows, patched
from matcher.models.scoring import PairScorer


@dataclasses.dataclass
class Catalogue:
    """Everything precomputed for serving one market snapshot (by catalogue position;
    ``open_*`` fields by open column, i.e. position in ``open_pos``)."""

    at: pd.Timestamp | None
    year: int
    workers: pd.DataFrame
    vacancies: pd.DataFrame
    wp: WorkerProfiles
    vp: VacancyProfiles
    vctx: VacancyContext
    w_dense: np.ndarray
    w_lex: sp.csr_matrix
    w_lfm: np.ndarray
    #: vacancy text vectors by catalogue position: a plain matrix after a full build,
    #: :class:`matcher.models.rows.PatchedRows` after incremental updates
    v_dense: np.ndarray | PatchedRows
    v_lex: sp.csr_matrix | PatchedRows
    v_lfm: np.ndarray
    open_pos: np.ndarray  # sorted catalogue positions of the open vacancies
    open_text: ContentIndex
    open_lfm: np.ndarray
    worker_text: ContentIndex
    eligibility: EligibilityIndex
    pursued: sp.csr_matrix  # (n_workers, n_open): pairs the worker already applied to or more
    open_tie_col: np.ndarray  # open vacancies' columns in the network tables
    open_province_col: np.ndarray
    open_prefecture_col: np.ndarray
    open_popularity: np.ndarray  # log applications (all and recent) in training
    #: the ranker proxy that adds candidates (:class:`matcher.models.retrieval.RankerProxy`);
    #: None for catalogues built before it existed, and for the training catalogues
    proxy: RankerProxy | None = None
    #: P(looking for work) at ``at`` of the workers the snapshot's events put below 1
    #: (:mod:`matcher.models.availability`), by worker id, whether or not the catalogue
    #: holds them: workers encoded later (the nightly batch scorer's partitions) are
    #: scored with their own factor. None: not assessed (1.0 for every such worker).
    availability: pd.Series | None = None
    #: positions (ascending) of the workers whose household holds a public-welfare post
    #: at ``at`` (:mod:`matcher.eligibility.households`): their pairs with the open posts
    #: are in ``pursued``, and a post opened by an incremental update joins them. None:
    #: not assessed (training catalogues, the batch scorer's partitions, older catalogues)
    public_barred: np.ndarray | None = None
    #: vacancy id -> position, shared with the catalogues updated from this one
    #: (:class:`VacancyLookup`; built on first use, so catalogues pickled before it
    #: existed read None)
    lookup: VacancyLookup | None = None

    def __getstate__(self) -> dict[str, Any]:
        # the look-up is rebuilt on load (prepare_updates), not stored with the model
        return {**self.__dict__, "lookup": None}

    def vacancy_positions(self, ids: Any) -> np.ndarray:
        """Catalogue positions of the vacancy ids ``ids`` (-1 for an id the catalogue
        does not hold), by dictionary look-up: no hash table of every id is built
        again after an update (``vp.ids.get_indexer`` would)."""
        if self.lookup is None:
            self.lookup = VacancyLookup(self.vp.ids)
        return self.lookup.positions(self.vp.ids, ids)

    def holds_public_post(self, position: int) -> bool | None:
        """Whether the household of the worker at catalogue ``position`` holds a
        public-welfare post at ``at`` (so the catalogue proposes the worker no open
        post of that channel); None when the catalogue did not assess the rule
        (:attr:`public_barred` is None). A binary search in :attr:`public_barred`."""
        barred = self.public_barred
        if barred is None:
            return None
        i = int(np.searchsorted(barred, position))
        return i < len(barred) and int(barred[i]) == position

    def prepare_updates(self) -> None:
        """Build now what the first incremental update would otherwise build (a few
        tenths of a second at 100,000 vacancies): the id and crowding-key look-up
        (:class:`VacancyLookup`) and the spare capacity of the dense retrieval rows
        (:meth:`matcher.models.retrieval.ContentIndex.reserve`). A served catalogue
        calls it when built or loaded; what it builds is shared with the catalogues
        updated from this one. Reading the catalogue is unaffected."""
        if self.lookup is None:
            self.lookup = VacancyLookup(self.vp.ids)
        self.lookup.ensure_buckets(_crowd_keys(self.vp))
        self.open_text.reserve()

    def with_workers(
        self, workers: pd.DataFrame, side: WorkerSide, pursued: sp.csr_matrix | None = None
    ) -> Catalogue:
        """This catalogue with other workers (``side``, encoded from ``workers`` by
        :func:`matcher.models.encoding.encode_workers`) as its worker side, for scoring
        their pairs with the same vacancies (the batch scorer's partitions).
        ``pursued`` (workers x open columns) are the pairs they already applied to or
        more (none when not given). The structures built for this catalogue's own
        workers (``worker_text``, the eligibility index's workers) are not theirs:
        eligibility reads the workers' own rows
        (:meth:`matcher.models.retrieval.CandidateGenerator.eligible`) or encoding.

        Raises
        ------
        ValueError
            ``pursued`` is not of shape (workers, open vacancies).
        """
        shape = (len(workers), len(self.open_pos))
        if pursued is None:
            pursued = sp.csr_matrix(shape, dtype=bool)
        elif pursued.shape != shape:
            raise ValueError(f"pursued has shape {pursued.shape}; the workers need {shape}")
        return dataclasses.replace(
            self,
            workers=workers,
            wp=side.wp,
            w_dense=side.dense,
            w_lex=side.lex,
            w_lfm=side.lfm,
            pursued=sp.csr_matrix(pursued),
            public_barred=None,
        )


@dataclasses.dataclass
class EncodedVacancies:
    """The encoded side of a set of vacancies (rows in the frame's order)."""

    vp: VacancyProfiles
    dense: np.ndarray
    lex: sp.csr_matrix
    lfm: np.ndarray

    def take(self, idx: np.ndarray) -> EncodedVacancies:
        """The rows ``idx`` of this side, in that order (a vacancy's vectors do not
        depend on the other vacancies encoded with it)."""
        return take_encoded(self, idx)


@dataclasses.dataclass
class EncodedSides:
    """Both sides of a snapshot encoded with one retrieval fit, for catalogues of
    subsets of that snapshot (ranker training's history windows share one retrieval fit,
    :meth:`matcher.models.ranker_training.RankerTrainer`): each catalogue takes its
    workers' and vacancies' rows instead of encoding them again.

    The rows are looked up by id: a frame passed to :meth:`workers_of` or
    :meth:`vacancies_of` must hold rows equal to the encoded snapshot's (a subset of it,
    e.g. ``Dataset.until``); one with an id it does not hold gets None (encode it).
    """

    workers: WorkerSide
    vacancies: EncodedVacancies

    def workers_of(self, frame: pd.DataFrame) -> WorkerSide | None:
        """The encoded rows of the workers of ``frame`` (its order), or None."""
        pos = self.workers.wp.ids.get_indexer(pd.Index(frame[Columns.Worker]))
        return None if (pos < 0).any() else self.workers.take(pos)

    def vacancies_of(self, frame: pd.DataFrame) -> EncodedVacancies | None:
        """The encoded rows of the vacancies of ``frame`` (its order), or None."""
        pos = self.vacancies.vp.ids.get_indexer(pd.Index(frame[Columns.Vacancy]))
        return None if (pos < 0).any() else self.vacancies.take(pos)


#: Ids :meth:`VacancyLookup.positions` looks up one by one; more go through the
#: catalogue's pandas index at once (its hash table, built once per catalogue).
_LOOKUP_ONE_BY_ONE = 2000


class VacancyLookup:
    """Vacancy id -> catalogue position for a catalogue and every catalogue updated
    from it (:meth:`VacancyCatalogue.apply` adds the new ids; ids keep their
    positions, closed ones included, so nothing is ever removed), and the positions
    holding each crowding key (occupation code, prefecture, province, employer).

    Both are shared, append-only supersets: a catalogue checks what it reads against
    its own rows (a position past its end or holding another id or key was written
    by a catalogue updated from it, or from the same one on another branch). An
    update so touches only the changed vacancies' entries, not all of them.
    """

    def __init__(self, ids: pd.Index) -> None:
        self.ids: dict[Any, int] = dict(zip(ids.tolist(), range(len(ids)), strict=True))
        #: per crowding key column, key -> positions that held it (built on first use)
        self.buckets: list[dict[Any, list[int]]] | None = None

    def positions(self, index: pd.Index, wanted: Any) -> np.ndarray:
        """Positions in ``index`` (the catalogue's ``vp.ids``) of the ids ``wanted``."""
        wanted = list(wanted)
        if len(wanted) > _LOOKUP_ONE_BY_ONE:  # many at once: one vectorised look-up
            return index.get_indexer(pd.Index(wanted, dtype=object)).astype(np.int64)
        out = np.empty(len(wanted), dtype=np.int64)
        n = len(index)
        for j, v in enumerate(wanted):
            p = self.ids.get(v, -1)
            if p >= n or (p >= 0 and index[p] != v):  # another catalogue's entry
                p = int(index.get_indexer(pd.Index([v], dtype=object))[0])
            out[j] = p
        return out

    def add(self, ids: Any, positions: np.ndarray) -> None:
        for v, p in zip(ids, positions.tolist(), strict=True):
            self.ids[v] = p

    def members(self, j: int, keys: np.ndarray, key: Any) -> np.ndarray:
        """Positions of ``keys`` (key column ``j`` of a catalogue) equal to ``key``."""
        assert self.buckets is not None
        got = np.unique(np.asarray(self.buckets[j].get(key, ()), dtype=np.int64))
        got = got[got < len(keys)]
        return got[keys[got] == key] if len(got) else got

    def ensure_buckets(self, key_columns: tuple[Any, ...]) -> None:
        if self.buckets is not None:
            return
        buckets = []
        for keys in key_columns:
            codes, uniques = pd.factorize(np.asarray(keys, dtype=object), use_na_sentinel=True)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            buckets.append(
                {
                    key: order[bounds[u] : bounds[u + 1]].tolist()
                    for u, key in enumerate(uniques.tolist())
                }
            )
        self.buckets = buckets

    def add_keys(self, key_columns: tuple[Any, ...], positions: np.ndarray) -> None:
        assert self.buckets is not None
        for j, keys in enumerate(key_columns):
            for p in positions.tolist():
                key = keys[p]
                if key is None or (isinstance(key, float) and np.isnan(key)):
                    continue
                self.buckets[j].setdefault(key, []).append(p)


def _crowd_keys(vp: VacancyProfiles) -> tuple[Any, ...]:
    """The crowding key columns (:attr:`VacancyContext.crowd`'s order)."""
    return (vp.code, vp.prefecture, vp.province, vp.employer)


def open_mask(vacancies: pd.DataFrame, at: pd.Timestamp | None) -> np.ndarray:
    """Which rows are open with seats left (and, given ``at``, posted by then and not
    yet closed): :meth:`matcher.data.dataset.Dataset.open_vacancies` as a mask."""
    mask = (vacancies["status"].fillna("open") == "open") & (vacancies["headcount"].fillna(0) > 0)
    if at is not None:
        mask &= vacancies["posted_at"].isna() | (vacancies["posted_at"] <= at)
        mask &= vacancies["closes_at"].isna() | (vacancies["closes_at"] > at)
    return mask.to_numpy(dtype=bool)


class OpenColumns(TypedDict):
    """The per-open-column gathers a :class:`Catalogue` keeps."""

    open_lfm: np.ndarray
    open_tie_col: np.ndarray
    open_province_col: np.ndarray
    open_prefecture_col: np.ndarray
    open_popularity: np.ndarray


def open_columns_of(v_lfm: np.ndarray, vctx: VacancyContext, pos: np.ndarray) -> OpenColumns:
    """The catalogue's per-open-column gathers (``open_lfm``, the network table columns,
    ``open_popularity``) of the LightFM vectors and vacancy context at positions ``pos``."""
    return {
        "open_lfm": np.ascontiguousarray(v_lfm[pos]),
        "open_tie_col": np.ascontiguousarray(vctx.tie_col[pos]),
        "open_province_col": np.ascontiguousarray(vctx.province_col[pos]),
        "open_prefecture_col": np.ascontiguousarray(vctx.prefecture_col[pos]),
        "open_popularity": np.ascontiguousarray(
            (vctx.applied_log + vctx.recent_log)[pos], dtype=np.float32
        ),
    }


class VacancyCatalogue:
    """The vacancy side of a fitted model's catalogue: encoding and incremental updates.

    Parameters
    ----------
    model : EncodingModel
        The fitted model's text encoders and occupation coders.
    retrieval : RetrievalFit
        The model's serving retrieval fit (clusters, LightFM, vacancy feature space,
        training statistics).
    """

    def __init__(
        self, model: EncodingModel, retrieval: RetrievalFit, scorer: PairScorer | None = None
    ) -> None:
        self.model = model
        self.retrieval = retrieval
        self.scorer = scorer

    def encode(self, vacancies: pd.DataFrame) -> EncodedVacancies:
        """Profiles (occupation codes inferred from titles where blank), dense and
        lexical text vectors and LightFM item vectors of ``vacancies`` (Dataset normal
        form); a vacancy unseen in training is scored from its attributes and text."""
        model, retrieval = self.model, self.retrieval
        vp = vacancy_profiles(vacancies, model.vacancy_codes(vacancies))
        dense = dense_vectors(model, vp.texts)
        lex = lexical_vectors(model.lexical_, vp.texts)
        tokens = with_clusters(vp.tokens, retrieval.clusters.predict(dense))
        lfm = retrieval.lightfm.item_vectors(
            retrieval.vacancy_space.transform(list(vp.ids), tokens)
        )
        return EncodedVacancies(vp=vp, dense=dense, lex=lex, lfm=lfm)

    def apply(
        self,
        cat: Catalogue,
        changed: pd.DataFrame,
        employers: pd.DataFrame | None = None,
        at: object = None,
    ) -> Catalogue:
        """A new catalogue with the vacancies ``changed`` as they are now (see the module
        docstring); ``cat`` is left as it was.

        Parameters
        ----------
        cat : Catalogue
        changed : DataFrame
            Vacancy rows in the Dataset normal form: new ones, edited ones and ones
            whose status, seats or dates changed (closed included). A row equal to the
            catalogue's is harmless (applied again, same result).
        employers : DataFrame, optional
            Employer rows (``employer_id``, ``verified``) of the changed vacancies;
            an employer left out counts as not known to be verified.
        at : datetime-like, optional
            Time at which vacancies must be open (default: the catalogue's time, or
            the latest ``posted_at`` among ``changed`` when later).

        Returns
        -------
        Catalogue
        """
        if len(changed) == 0 and at is None:
            return cat
        changed = changed.drop_duplicates(Columns.Vacancy, keep="last").reset_index(drop=True)
        when = _time_after(cat.at, changed, at)
        n_old = len(cat.vp.ids)
        pos = cat.vacancy_positions(changed[Columns.Vacancy].tolist())
        fresh = pos < 0
        pos = pos.astype(np.int64)
        pos[fresh] = n_old + np.arange(int(fresh.sum()))
        n = n_old + int(fresh.sum())

        enc = self.encode(changed)
        stats = self.retrieval.stats
        emp = employers if employers is not None else _no_employers()
        vctx_new = VacancyContext.build(enc.vp, stats, emp, when)
        vp = _splice_dataclass(cat.vp, enc.vp, pos, n_old)
        vctx = _splice_dataclass(cat.vctx, vctx_new, pos, n_old, skip=_OPEN_SET_FIELDS)
        if when is not None and len(vp.posted_ns):
            vctx.age_days = (float(pd.Timestamp(when).value) - vp.posted_ns) / 86_400e9
        else:
            vctx.age_days = np.full(n, np.nan)
        vac = _splice_frame(cat.vacancies, changed, pos)
        lookup = cat.lookup
        assert lookup is not None  # vacancy_positions built it
        lookup.add(changed[Columns.Vacancy].tolist(), pos)
        if when == cat.at and len(cat.vctx.crowd) == n_old:
            # the other vacancies' status is as it was: only the changed ones move
            now_open = pos[open_mask(vac.iloc[pos], when)]
            open_pos = open_after(cat.open_pos, pos, now_open)
            vctx.crowd = _crowd_after(cat, vp, open_pos, pos, lookup)
            vctx.set_open_denominators(open_pos, stats)
        else:  # time moved: any vacancy may have closed
            open_pos = np.flatnonzero(open_mask(vac, when)).astype(np.int64)
            vctx.set_crowd(vp, open_pos, stats)

        # text vectors: new rows, and edited rows whose text changed (a closed or
        # re-seated vacancy keeps its text, so its rows are not copied again)
        retext = fresh.copy()
        retext[~fresh] = [enc.vp.texts[j] != cat.vp.texts[pos[j]] for j in np.flatnonzero(~fresh)]
        # (patched, not copied: the rows that did not change are shared with ``cat``)
        v_dense = patched(cat.v_dense, pos[retext], enc.dense[retext])
        v_lex = patched(cat.v_lex, pos[retext], sp.csr_matrix(enc.lex[retext]))
        v_lfm = _splice_rows(cat.v_lfm, enc.lfm, pos)

        # open columns carried over: same vacancy, open before; "unchanged" ones also
        # keep their text projection and eligibility encoding
        old_col = _columns_of(cat.open_pos, open_pos, n_old)
        edited = np.zeros(n, dtype=bool)
        edited[pos] = True
        same = np.where(edited[open_pos], -1, old_col)
        kept = same >= 0
        fresh_pos = open_pos[~kept]
        open_text = cat.open_text.spliced(
            same, cat.open_text.project(v_dense[fresh_pos]), v_lex[fresh_pos]
        )
        eligibility = cat.eligibility.with_vacancies(
            same, vac.iloc[open_pos[~kept]].reset_index(drop=True)
        )
        out = dataclasses.replace(
            cat,
            at=when,
            year=(when.year if when is not None else cat.year),
            vacancies=vac,
            vp=vp,
            vctx=vctx,
            v_dense=v_dense,
            v_lex=v_lex,
            v_lfm=v_lfm,
            open_pos=open_pos,
            open_text=open_text,
            eligibility=eligibility,
            pursued=_bar_new_posts(
                _remap_columns(cat.pursued, old_col, len(open_pos)),
                cat.public_barred,
                np.flatnonzero(~kept)[is_public_post(vac.iloc[open_pos[~kept]])],
            ),
            lookup=lookup,
        )
        out = dataclasses.replace(out, **open_columns_of(v_lfm, vctx, open_pos))
        if cat.proxy is not None and self.scorer is not None:
            # the changed vacancies' own terms, linear and residual (bucket-mates keep
            # theirs until the next full build: the proxy only chooses candidates)
            proxy = cat.proxy
            vterm = np.concatenate([proxy.vterm, np.zeros(n - n_old)])
            values, _ = self.scorer.pair_values(out, np.zeros(len(pos), np.int64), pos)
            vterm[pos] = linear = proxy.vacancy_terms(values)
            channels = proxy.vacancy_channels(values)
            if channels is not None and proxy.vchannel is not None:
                vchannel = _splice_rows(proxy.vchannel, channels, pos)
                proxy = dataclasses.replace(proxy, vchannel=vchannel)
            col = np.minimum(np.searchsorted(open_pos, pos), max(len(open_pos) - 1, 0))
            is_open = (open_pos[col] == pos) if len(open_pos) else np.zeros(len(pos), bool)
            if proxy.reference_workers is not None and is_open.any():
                generator = CandidateGenerator("full", 0, self.retrieval.stats, 0)
                vterm[pos[is_open]] += proxy.residual_terms(
                    out, self.scorer, generator, col[is_open], linear[is_open]
                )
            out.proxy = dataclasses.replace(proxy, vterm=vterm)
        elif cat.proxy is not None:
            out.proxy = None  # its vacancy terms would not cover the new positions
        return out


#: VacancyContext fields that depend on the whole open set (set by ``set_crowd``).
_OPEN_SET_FIELDS = frozenset({"crowd", "county_open_ties", "county_open_flow"})


def _crowd_after(
    cat: Catalogue,
    vp: VacancyProfiles,
    open_pos: np.ndarray,
    pos: np.ndarray,
    lookup: VacancyLookup,
) -> np.ndarray:
    """:attr:`VacancyContext.crowd` after the vacancies at ``pos`` changed (``vp``: the
    profiles after, ``open_pos``: the open set after), when no other vacancy opened or
    closed: only the buckets a changed vacancy left or joined are counted again (their
    members found through ``lookup``'s key buckets, not by comparing every row), every
    other row is ``cat``'s. Equal to ``set_crowd`` over the whole open set."""
    n_old, n = len(cat.vp.ids), len(vp.ids)
    crowd = np.zeros((n, 4))
    crowd[:n_old] = cat.vctx.crowd
    is_open = np.zeros(n, dtype=bool)
    is_open[open_pos] = True
    before = _crowd_keys(cat.vp)
    after = tuple(np.asarray(k, dtype=object) for k in _crowd_keys(vp))
    lookup.ensure_buckets(before)
    lookup.add_keys(after, pos)
    for j, (old_keys, keys) in enumerate(zip(before, after, strict=True)):
        touched = {keys[p] for p in pos.tolist()}
        touched |= {old_keys[p] for p in pos.tolist() if p < n_old}
        for key in touched:
            if key is None or (isinstance(key, float) and np.isnan(key)):
                continue  # not counted (a missing key has crowd 0)
            members = lookup.members(j, keys, key)
            crowd[members, j] = np.log1p(np.count_nonzero(is_open[members]))
        missing = [p for p in pos.tolist() if keys[p] is None or keys[p] != keys[p]]
        crowd[missing, j] = 0.0
    return crowd


def open_after(old_open: np.ndarray, changed: np.ndarray, now_open: np.ndarray) -> np.ndarray:
    """The sorted open positions after the vacancies at ``changed`` changed: ``old_open``
    (sorted, distinct) without ``changed``, with ``now_open`` (those of ``changed`` open
    now) added. Equal to ``union1d(setdiff1d(old_open, changed), now_open)``, by binary
    search for the few changed positions and two copies (``union1d`` sorts all of them)."""
    changed, now_open = np.unique(changed), np.unique(now_open)
    at = np.searchsorted(old_open, changed)
    inside = at < len(old_open)
    hit = np.zeros(len(changed), dtype=bool)
    hit[inside] = old_open[at[inside]] == changed[inside]
    kept = np.delete(old_open, at[hit])
    return np.insert(kept, np.searchsorted(kept, now_open), now_open).astype(np.int64)


def _time_after(
    current: pd.Timestamp | None, changed: pd.DataFrame, at: object
) -> pd.Timestamp | None:
    if at is not None:
        when = pd.Timestamp(at)  # type: ignore[arg-type]
        if when.tzinfo is not None:
            when = when.tz_convert("UTC").tz_localize(None)
        return when
    posted = changed["posted_at"].max() if len(changed) else pd.NaT
    if pd.isna(posted):
        return current
    posted = pd.Timestamp(posted)
    return posted if current is None or posted > current else current


def _no_employers() -> pd.DataFrame:
    return pd.DataFrame({Columns.Employer: pd.Series([], dtype=object), "verified": []})


def _splice_rows(old: np.ndarray, new: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``old`` with row ``pos[j]`` set to ``new[j]``; positions past its end are
    appended (they are ``len(old), len(old) + 1, ...`` in order). One copy."""
    new = np.asarray(new, dtype=old.dtype).reshape(-1, *old.shape[1:])
    if len(pos) == 0:
        return old
    n_old = len(old)
    upd = pos < n_old
    out = np.concatenate([old, new[~upd]]) if (~upd).any() else old.copy()
    out[pos[upd]] = new[upd]
    return out


def _splice_dataclass(
    old: Any, new: Any, pos: np.ndarray, n_old: int, skip: frozenset[str] = frozenset()
) -> Any:
    """A copy of the per-row dataclass ``old`` with row ``pos[j]`` set to ``new``'s row
    ``j`` (positions past the end appended; fields in ``skip`` copied as they are)."""
    values: dict[str, Any] = {}
    upd = pos < n_old
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name in skip:
            values[f.name] = a
        elif isinstance(a, pd.Index):
            fresh = b.to_numpy(dtype=object)[~upd]
            # one copy of the pointers (Index.append infers and checks more)
            values[f.name] = (
                pd.Index(
                    np.concatenate([np.asarray(a, dtype=object), fresh]), dtype=a.dtype, name=a.name
                )
                if len(fresh)
                else a
            )
        elif isinstance(a, list):
            out = [*a, *(b[j] for j in np.flatnonzero(~upd))]
            for j in np.flatnonzero(upd):
                out[pos[j]] = b[j]
            values[f.name] = out
        else:
            values[f.name] = _splice_rows(np.asarray(a), np.asarray(b), pos)
    return type(old)(**values)


def _splice_frame(old: pd.DataFrame, new: pd.DataFrame, pos: np.ndarray) -> pd.DataFrame:
    """``old`` with row ``pos[j]`` set to ``new``'s row ``j`` (positions past its end
    appended, in order), in ``old``'s columns and dtypes. The columns whose rows did
    not change are shared with ``old`` (not copied); new rows are concatenated."""
    new = new.reindex(columns=old.columns)
    for c in old.columns:  # keep the catalogue's dtypes (e.g. categoricals)
        if new[c].dtype != old[c].dtype:
            with contextlib.suppress(TypeError, ValueError):
                new[c] = new[c].astype(old[c].dtype)
    n_old = len(old)
    upd = np.flatnonzero(pos < n_old)
    out = old.copy(deep=False)
    if len(upd):
        at = pos[upd]
        rows = new.iloc[upd].reset_index(drop=True)
        for c in old.columns:
            before = old[c].iloc[at].reset_index(drop=True)
            if before.equals(rows[c]) and before.dtype == rows[c].dtype:
                continue
            column = old[c].copy()
            try:
                column.iloc[at] = rows[c].to_numpy()
            except (TypeError, ValueError):  # a value the column's dtype cannot hold
                both = pd.concat([old[c], rows[c]], ignore_index=True)
                src = np.arange(n_old)
                src[at] = n_old + np.arange(len(at))
                column = both.take(src).reset_index(drop=True)
            out[c] = column
    fresh = np.flatnonzero(pos >= n_old)
    if len(fresh):
        fresh = fresh[np.argsort(pos[fresh])]
        out = pd.concat([out, new.iloc[fresh]], ignore_index=True)
    return out


def _splice_csr_rows(old: sp.csr_matrix, new: sp.csr_matrix, pos: np.ndarray) -> sp.csr_matrix:
    """``old`` with row ``pos[j]`` set to ``new``'s row ``j``; positions past its end are
    appended (they are ``len(old), len(old) + 1, ...`` in order). One pass over the
    stored entries: the unchanged runs of rows are copied as slices, the new rows put
    between them (no stacking and re-indexing of the whole matrix)."""
    pos = np.asarray(pos, dtype=np.int64)
    if len(pos) == 0:
        return old
    n_old = old.shape[0]
    order = np.argsort(pos, kind="stable")
    pos, new = pos[order], new[order]
    new_len = np.diff(new.indptr)
    lengths = np.concatenate([np.diff(old.indptr), new_len[pos >= n_old]])
    lengths[pos] = new_len
    data: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    start = 0  # first old row not copied yet
    for j, p in enumerate(pos.tolist()):
        stop = min(p, n_old)
        lo, hi = old.indptr[start], old.indptr[stop]
        data.append(old.data[lo:hi])
        indices.append(old.indices[lo:hi])
        lo, hi = new.indptr[j], new.indptr[j + 1]
        data.append(new.data[lo:hi])
        indices.append(new.indices[lo:hi])
        start = min(p + 1, n_old) if p < n_old else n_old
    data.append(old.data[old.indptr[start] :])
    indices.append(old.indices[old.indptr[start] :])
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    out_indices = np.concatenate(indices)
    index_dtype = np.int32 if indptr[-1] < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix(
        (
            np.concatenate(data).astype(old.dtype, copy=False),
            out_indices.astype(index_dtype, copy=False),
            indptr.astype(index_dtype, copy=False),
        ),
        shape=(len(lengths), old.shape[1]),
    )


def _columns_of(old_open: np.ndarray, new_open: np.ndarray, n_old: int) -> np.ndarray:
    """For each new open column, the old open column of the same catalogue position
    (-1: not open before, or a new vacancy)."""
    out = np.full(len(new_open), -1, dtype=np.int64)
    if len(old_open) == 0:
        return out
    at = np.minimum(np.searchsorted(old_open, new_open), len(old_open) - 1)
    hit = (old_open[at] == new_open) & (new_open < n_old)
    out[hit] = at[hit]
    return out


def barred_pairs(barred: np.ndarray, posts: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The pairs of every ``barred`` worker row (his household holds a public-welfare
    post, :mod:`matcher.eligibility.households`) with every open column in ``posts``
    (public-welfare posts): a boolean matrix of ``shape`` to add to the pairs not
    proposed again."""
    rows = np.repeat(np.asarray(barred, dtype=np.int64), len(posts))
    cols = np.tile(np.asarray(posts, dtype=np.int64), len(barred))
    return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)


def _bar_new_posts(
    pursued: sp.csr_matrix, barred: np.ndarray | None, cols: np.ndarray
) -> sp.csr_matrix:
    """``pursued`` with the pairs of the ``barred`` workers (their household holds a
    public-welfare post) and the open columns ``cols`` (public-welfare posts new or
    edited in an update) added."""
    if barred is None or len(barred) == 0 or len(cols) == 0:
        return pursued
    return sp.csr_matrix(pursued + barred_pairs(barred, cols, pursued.shape))


def _remap_columns(matrix: sp.csr_matrix, old_col: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """``matrix``'s columns moved to the new open columns (``old_col``: each new
    column's old one, -1 for none); columns of vacancies no longer open are dropped."""
    to_new = np.full(matrix.shape[1] + 1, -1, dtype=np.int64)
    has = old_col >= 0
    to_new[old_col[has]] = np.flatnonzero(has)
    coo = matrix.tocoo()
    cols = to_new[coo.col]
    keep = cols >= 0
    return sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], cols[keep])), shape=(matrix.shape[0], n_cols)
    )


__all__ = [
    "Catalogue",
    "EncodedVacancies",
    "VacancyCatalogue",
    "VacancyLookup",
    "open_after",
    "open_columns_of",
    "open_mask",
]
