"""Contracts of matcher.text.encoders: cleaning, the cached dense embedder, hashing and lexical channels."""

from __future__ import annotations

import pickle
import unicodedata

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.protocols import Embedder
from matcher.text import encoders as text_mod
from matcher.text.encoders import (
    HashingEmbedder,
    LexicalEncoder,
    SentenceEmbedder,
    UniversalSentenceEncoder,
    clean_text,
    embedder_from_env,
    minilm_model_path,
    normalise_text,
    text_hash,
)

# ----------------------------------------------------------------------------- clean_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("急招焊工包吃住月入8000", "焊工"),
        ("【急招】焊工，包吃住，月入8000！！", "焊工"),
        ("高薪诚聘 电焊工 8000-12000元/月 五险一金", "电焊工"),
        ("招普工 长白班 日结", "普工"),
        ("保洁员 月薪3500", "保洁员"),
        ("叉车司机 工资6000以上 包住", "叉车司机"),
        ("ＣＮＣ操作工（数控）18-45岁 男女不限 😀", "cnc操作工 数控"),
        ("  砌筑工\t\u3000泥瓦工 ", "砌筑工 泥瓦工"),
        ("招待员", "招待员"),  # 招 is part of the word, not an advert
        # 招聘 before a recruiting role is the occupation (招聘师), not an advert
        ("招聘主管双休五险一金", "招聘主管"),
        ("招聘专员/助理", "招聘专员 助理"),
        ("高薪招聘专员", "招聘专员"),
        ("招聘HR", "招聘hr"),
        ("长期招聘普工", "普工"),
        ("招聘客服", "客服"),
        ("招聘师傅", "师傅"),
        ("临时工", "临时工"),  # stripping would leave nothing: the words are kept
        ("", ""),
        (None, ""),
        (float("nan"), ""),
    ],
)
def test_clean_text_known_answers(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_without_noise_stripping_keeps_words():
    assert clean_text("急招焊工，包吃住", strip_noise=False) == "急招焊工 包吃住"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_clean_text_output_is_normalised(raw):
    out = clean_text(raw)
    assert out == out.strip()
    assert "  " not in out
    assert out == out.lower()
    # no full-width ASCII left, no punctuation
    assert not any("\uff01" <= ch <= "\uff5e" for ch in out)
    assert not any(unicodedata.category(ch).startswith("P") for ch in out if ch != "_")


def test_normalise_text_folds_full_width():
    assert normalise_text("ＡＢＣ１２３") == "abc123"


# ----------------------------------------------------------------------------- dense embedder


class FakeModel:
    """Counts calls; returns a deterministic vector per text (not normalised)."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, batch_size=32, show_progress_bar=False, **kwargs):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            rng = np.random.default_rng(int(text_hash(t)[:8], 16))
            out[i] = rng.normal(size=self.dim) * 3.0
        return out


def _fake_embedder(**kwargs) -> tuple[SentenceEmbedder, FakeModel]:
    emb = SentenceEmbedder(**kwargs)
    fake = FakeModel()
    emb._model = fake
    return emb, fake


def test_embedder_rows_are_float32_unit_vectors_in_input_order():
    emb, _ = _fake_embedder()
    x = emb.encode(["焊工", "保洁员", "焊工"])
    assert x.shape == (3, 8)
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x[0], x[2])
    assert not np.allclose(x[0], x[1])


def test_embedder_never_encodes_a_text_twice():
    emb, fake = _fake_embedder()
    emb.encode(["a", "b", "a"])
    emb.encode(["b", "c"])
    emb.encode(["a", "b", "c"])
    encoded = [t for call in fake.calls for t in call]
    assert sorted(encoded) == ["a", "b", "c"]
    assert emb.n_encoded == 3


def test_embedder_memory_keeps_the_most_recently_used_and_answers_alike(tmp_path):
    texts = [f"t{i}" for i in range(12)]
    want = _fake_embedder()[0].encode(texts)  # the default cap is far above 12
    emb, _ = _fake_embedder()
    emb.memory_texts = 4
    np.testing.assert_array_equal(emb.encode(texts), want)  # more texts than the cap at once
    assert emb.n_in_memory == 4
    n = emb.n_encoded
    np.testing.assert_array_equal(emb.encode(texts[-4:]), want[-4:])  # the last 4 kept
    assert emb.n_encoded == n
    np.testing.assert_array_equal(emb.encode(["t0"]), want[:1])  # dropped: encoded again
    assert (emb.n_encoded, emb.n_in_memory) == (n + 1, 4)  # t8 made room
    emb.encode(["t9"])  # a hit is the most recently used: t10 is now the oldest
    emb.encode(["t12"])
    n = emb.n_encoded
    np.testing.assert_array_equal(emb.encode(["t9", "t11", "t0"]), want[[9, 11, 0]])
    assert emb.n_encoded == n
    emb.encode(["t10"])
    assert emb.n_encoded == n + 1 and emb.n_in_memory == 4
    # with the SQLite cache, a text dropped from memory is read back, not encoded
    disk, _ = _fake_embedder(cache_path=str(tmp_path / "emb.sqlite"))
    disk.memory_texts = 2
    disk.encode(texts)
    n = disk.n_encoded
    np.testing.assert_array_equal(disk.encode(texts), want)
    assert disk.n_encoded == n and disk.n_in_memory == 2
    # pickling keeps the cap, not the vectors
    back = pickle.loads(pickle.dumps(disk))
    assert (back.memory_texts, back.n_in_memory) == (2, 0)


def test_embedder_disk_cache_is_shared_across_instances(tmp_path):
    path = str(tmp_path / "emb.sqlite")
    first, fake1 = _fake_embedder(cache_path=path)
    x1 = first.encode(["焊工", "砌筑工"])
    second, fake2 = _fake_embedder(cache_path=path)
    x2 = second.encode(["砌筑工", "焊工", "保洁员"])
    assert [t for call in fake2.calls for t in call] == ["保洁员"]
    np.testing.assert_array_equal(x2[0], x1[1])
    np.testing.assert_array_equal(x2[1], x1[0])


def test_embedder_pickles_without_the_model(tmp_path):
    emb, _ = _fake_embedder(cache_path=str(tmp_path / "c.sqlite"))
    emb.encode(["x" * 50] * 3)
    blob = pickle.dumps(emb)
    assert len(blob) < 2_000  # the model and the in-memory cache are dropped
    back = pickle.loads(blob)
    assert back._model is None
    assert back.cache_path == emb.cache_path
    fake = FakeModel()
    back._model = fake
    back.encode(["x" * 50])  # from the disk cache: no model call
    assert fake.calls == []


def test_embedder_shows_progress_only_for_long_encodes(monkeypatch):
    emb, fake = _fake_embedder()
    seen = []
    original = fake.encode

    def spy(texts, show_progress_bar=False, **kw):
        seen.append(show_progress_bar)
        return original(texts, **kw)

    fake.encode = spy  # type: ignore[method-assign]
    monkeypatch.setattr(text_mod, "PROGRESS_THRESHOLD", 5)
    emb.encode([str(i) for i in range(3)])
    emb.encode([str(i) for i in range(3, 20)])
    assert seen == [False, True]
    quiet, fake2 = _fake_embedder(show_progress=False)
    quiet.encode([str(i) for i in range(20)])


def test_embedder_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv("JOBMATCH_EMBEDDING_MODEL", raising=False)
    default = embedder_from_env(cache_path=str(tmp_path / "c.sqlite"))
    assert isinstance(default, UniversalSentenceEncoder)
    assert default.cache_path == str(tmp_path / "c.sqlite")
    monkeypatch.setenv("JOBMATCH_EMBEDDING_MODEL", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="JOBMATCH_EMBEDDING_MODEL"):
        embedder_from_env()
    monkeypatch.setenv("JOBMATCH_EMBEDDING_MODEL", minilm_model_path())
    local = embedder_from_env(show_progress=False)
    assert isinstance(local, SentenceEmbedder)
    assert local.model_path == minilm_model_path() and local.show_progress is False


def test_every_backend_is_an_embedder():
    for emb in (UniversalSentenceEncoder(), SentenceEmbedder(), HashingEmbedder()):
        assert isinstance(emb, Embedder)


def test_missing_model_folder_is_an_actionable_error(tmp_path):
    emb = SentenceEmbedder(model_path=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="JOBMATCH_EMBEDDING_MODEL"):
        emb.encode(["x"])


@pytest.mark.slow
def test_real_minilm_model_small():
    """The packaged all-MiniLM-L6-v2, offline, on a handful of texts."""
    emb = SentenceEmbedder(show_progress=False)
    x = emb.encode(["welder", "welding worker", "cashier at a supermarket"])
    assert x.shape == (3, emb.dim) and emb.dim == 384
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2]
    assert len(pickle.dumps(emb)) < 2_000


def _use_fake(**kwargs) -> tuple[UniversalSentenceEncoder, list[list[str]]]:
    """A UniversalSentenceEncoder whose model is a stand-in that records its calls."""
    emb = UniversalSentenceEncoder(**kwargs)
    calls: list[list[str]] = []

    class Fake:
        def encode(self, texts):
            calls.append(list(texts))
            return FakeModel(dim=512).encode(texts)

    emb._model = Fake()
    return emb, calls


def test_universal_encoder_caches_and_batches(tmp_path):
    path = str(tmp_path / "emb.sqlite")
    emb, calls = _use_fake(batch_size=2, cache_path=path)
    x = emb.encode(["a", "b", "c", "a", "d", "e"])
    assert calls == [["a", "b"], ["c", "d"], ["e"]]  # distinct new texts, in batches of 2
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(x[0], x[3])
    again, calls2 = _use_fake(cache_path=path)
    np.testing.assert_array_equal(again.encode(["e", "a", "f"])[:2], x[[5, 0]])
    assert calls2 == [["f"]] and again.n_encoded == 1
    # another model never reads these vectors: the cache is keyed by the model
    other, fake = _fake_embedder(cache_path=path)
    other.encode(["a"])
    assert fake.calls == [["a"]]


@pytest.mark.slow
def test_real_universal_encoder_reads_chinese():
    """The package-shipped multilingual USE, offline: occupations that mean the same
    are closer than unrelated ones, in Chinese and across languages."""
    emb = UniversalSentenceEncoder(show_progress=False)
    x = emb.encode(["焊工", "电焊工", "收银员", "保洁员", "清洁工", "welder", ""])
    assert x.shape == (7, emb.dim) and emb.dim == 512 and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    sim = x @ x.T
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]  # 焊工 ~ 电焊工
    assert sim[3, 4] > sim[3, 0] and sim[3, 4] > sim[3, 2]  # 保洁员 ~ 清洁工
    assert sim[5, 0] > sim[5, 2] and sim[5, 0] > sim[5, 3]  # welder ~ 焊工
    np.testing.assert_allclose(UniversalSentenceEncoder().encode(["电焊工"])[0], x[1], atol=1e-5)
    assert len(pickle.dumps(emb)) < 1_000


# ----------------------------------------------------------------------------- hashing


def test_hashing_embedder_is_deterministic_and_normalised():
    a = HashingEmbedder(dim=64).encode(["焊工", "电焊工", "保洁员", ""])
    b = HashingEmbedder(dim=64).encode(["焊工", "电焊工", "保洁员", ""])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 64) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a[:3], axis=1), 1.0, rtol=1e-5)
    assert a[0] @ a[1] > a[0] @ a[2]
    assert len(pickle.dumps(HashingEmbedder())) < 500


# ----------------------------------------------------------------------------- lexical


def test_lexical_encoder_chinese_without_tokenizer():
    enc = LexicalEncoder().fit(["焊工", "电焊工", "保洁员", "砌筑工", "收银员"])
    x = enc.transform(["焊工", "氩弧焊工", "保洁"])
    assert sp.isspmatrix_csr(x)
    np.testing.assert_allclose(sp.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    ref = enc.transform(["焊工", "保洁员"])
    sims = (x @ ref.T).toarray()
    assert sims[1, 0] > sims[1, 1]  # 氩弧焊工 is nearer 焊工 than 保洁员
    assert sims[2, 1] > sims[2, 0]


def test_lexical_encoder_contract():
    with pytest.raises(RuntimeError, match="not fitted"):
        LexicalEncoder().transform(["x"])
    with pytest.raises(TypeError):
        LexicalEncoder().fit("焊工")  # type: ignore[arg-type]
    enc = LexicalEncoder(ngram_range=(2, 4))
    assert enc.get_params()["ngram_range"] == (2, 4)
    assert enc.set_params(min_df=1) is enc
    x = enc.fit_transform(["急招焊工", "保洁"])
    assert x.shape[0] == 2
    cleaned = LexicalEncoder(clean=True).fit(["焊工"]).transform(["急招焊工包吃住"])
    plain = LexicalEncoder(clean=True).fit(["焊工"]).transform(["焊工"])
    np.testing.assert_allclose(cleaned.toarray(), plain.toarray())
    back = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(
        back.transform(["焊工"]).toarray(), enc.transform(["焊工"]).toarray()
    )
