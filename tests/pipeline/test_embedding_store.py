"""The run's embedding store: each text embedded once per model and prompt, across shards, runs and stages."""

from __future__ import annotations

import numpy as np

from pipeline.mining.embedding_store import EmbeddingStore


class CountingModel:
    """A stand-in embedder: a text's vector is a function of the text (and the prompt), and every call is counted."""

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts, prompt=None, **kwargs):
        self.encoded += texts
        vecs = np.array([[len(t), sum(map(ord, t)) % 97, len(prompt or "")] for t in texts], dtype=np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_a_growing_corpus_encodes_only_new_texts_in_order(tmp_path):
    model = CountingModel()
    texts = [f"passaggio numero {i}" for i in range(10)]
    store = EmbeddingStore(tmp_path, "m", "passage: ", shard_size=4)
    first = store.embed(model, texts[:7])
    assert len(model.encoded) == 7 and len(list(store.folder.glob("shard-*.npy"))) == 2
    grown = EmbeddingStore(tmp_path, "m", "passage: ", shard_size=4).embed(model, texts[::-1])  # a new run
    assert model.encoded[7:] == [texts[9], texts[8], texts[7]]
    np.testing.assert_array_equal(grown[::-1][:7], first)
    np.testing.assert_array_equal(grown, CountingModel().encode(texts[::-1], prompt="passage: "))


def test_model_and_prompt_are_kept_apart(tmp_path):
    model = CountingModel()
    EmbeddingStore(tmp_path, "m", "passage: ").embed(model, ["uno"])
    EmbeddingStore(tmp_path, "m", "query: ").embed(model, ["uno"])
    EmbeddingStore(tmp_path, "other-model", "passage: ").embed(model, ["uno"])
    assert model.encoded == ["uno", "uno", "uno"]


def test_writers_at_once_keep_their_own_shards(tmp_path):
    """Two tasks that opened the store together and encode at once: neither overwrites the other's shard."""
    model = CountingModel()
    first, second = EmbeddingStore(tmp_path, "m", None), EmbeddingStore(tmp_path, "m", None)
    assert len(first) == len(second) == 0  # both have read the empty store
    first.embed(model, ["uno", "due"])
    second.embed(model, ["tre", "due"])
    assert len(list(first.folder.glob("shard-*.keys"))) == 2
    reader = EmbeddingStore(tmp_path, "m", None)
    out = reader.embed(model, ["uno", "due", "tre"])
    assert len(reader) == 3 and model.encoded == ["uno", "due", "tre", "due"]  # the reader encoded nothing
    np.testing.assert_array_equal(out, CountingModel().encode(["uno", "due", "tre"]))


def test_a_shard_cut_short_by_a_kill_is_encoded_again(tmp_path):
    model = CountingModel()
    store = EmbeddingStore(tmp_path, "m", None, shard_size=2)
    store.embed(model, ["a", "b", "c", "d"])
    sorted(store.folder.glob("shard-*-00001.keys"))[0].unlink()  # killed between the vectors and their keys
    fresh = EmbeddingStore(tmp_path, "m", None, shard_size=2)
    assert len(fresh) == 2
    out = fresh.embed(model, ["a", "b", "c", "d"])
    assert model.encoded[4:] == ["c", "d"] and out.shape == (4, 3)


def test_a_large_shard_is_encoded_in_steps_with_progress(tmp_path, monkeypatch, capsys):
    from pipeline.mining import embedding_store

    monkeypatch.setattr(embedding_store, "PROGRESS_MIN_TEXTS", 5)
    monkeypatch.setattr(embedding_store, "PROGRESS_STEP", 3)
    model = CountingModel()
    texts = [f"testo {i}" for i in range(8)]
    out = EmbeddingStore(tmp_path, "m", None, shard_size=100).embed(model, texts, desc="encoding passages")
    np.testing.assert_array_equal(out, CountingModel().encode(texts))  # same vectors, in order, one shard
    assert len(list((tmp_path).rglob("shard-*.npy"))) == 1
    calls = []
    model.encode = lambda texts, **kw: calls.append(len(texts)) or CountingModel.encode(model, texts, **kw)
    EmbeddingStore(tmp_path, "m2", None, shard_size=100).embed(model, texts)
    assert calls == [3, 3, 2]  # the bar moves within the shard
    assert "encoding passages" in capsys.readouterr().err
