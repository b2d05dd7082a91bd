"""Dense ranking pieces (Matryoshka truncation, quantization, top-k) and the BM25 baseline on toy data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eval.bm25 import bm25_run
from eval.dense import quantized_pair, top_k, truncate
from eval.metrics import evaluate_run
from eval.sets import load_beir_folder


def test_truncate_renormalises() -> None:
    emb = np.array([[3.0, 4.0, 12.0], [1.0, 0.0, 0.0]])
    out = truncate(emb, 2)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)
    np.testing.assert_allclose(out[0], [0.6, 0.8])


def test_top_k_order_and_ties() -> None:
    q = np.array([[1.0, 0.0]])
    c = np.array([[0.5, 0.0], [1.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    assert top_k(q, c, ["q"], ["a", "b", "c", "d"], k=3) == {"q": ["b", "a", "c"]}  # tie a/c: earlier first
    assert top_k(q, c, ["q"], ["a", "b", "c", "d"], k=10)["q"] == ["b", "a", "c", "d"]


def test_quantized_rankings_follow_float() -> None:
    rng = np.random.default_rng(0)
    c = truncate(rng.normal(size=(200, 64)))
    q = truncate(c[:20] + 0.05 * rng.normal(size=(20, 64)))  # each query is a noisy copy of one passage
    ids, qids = [f"d{i}" for i in range(200)], [f"q{i}" for i in range(20)]
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(20)}
    for precision in ("float32", "int8", "binary"):
        for quantize_queries in (False, True):
            qq, cc = quantized_pair(q, c, precision, quantize_queries)
            assert evaluate_run(top_k(qq, cc, qids, ids), qrels)["ndcg@10"] > 0.95, (precision, quantize_queries)
    # int8: the corpus is dequantized from 256 buckets per dimension, so it stays within half a bucket
    qf, ci = quantized_pair(q, c, "int8")
    assert qf is q and np.abs(ci - c).max() <= (c.max(0) - c.min(0)).max() / 255
    # binary: the corpus becomes signs; with quantized queries the score is dim - 2 * Hamming distance
    _, cb = quantized_pair(q, c, "binary")
    np.testing.assert_array_equal(cb, np.where(c > 0, 1.0, -1.0))
    qb, cb = quantized_pair(q, c, "binary", quantize_queries=True)
    hamming = (np.sign(q)[:, None, :] != np.sign(c)[None, :, :]).sum(-1)
    np.testing.assert_allclose(qb @ cb.T, 64 - 2 * hamming)


def test_bm25_tokens_and_run(toy_beir: Path) -> None:
    """eval's baseline is the pipeline's BM25: the same tokenizer as mining and the round-trip judge."""
    from pipeline.languages import load_language
    from pipeline.mining.bm25 import LanguageTokenizer

    italian = load_language("ita_Latn")
    assert LanguageTokenizer.for_language(italian, stop_words=False)("L'Italia è bella, vero?") == [
        "l", "italia", "è", "bella", "vero"]
    assert LanguageTokenizer.for_language(italian)("la capitale d'Italia") == ["capitale", "d", "italia"]
    rs = load_beir_folder(toy_beir)
    for stop_words in (False, True):
        run, speed = bm25_run(rs, stop_words=stop_words)
        assert speed > 0 and evaluate_run(run, rs.qrels)["ndcg@10"] == 1.0


def test_a_corpus_shared_by_two_sets_is_encoded_once(toy_beir: Path) -> None:
    from eval.dense import encode_set

    class Counting:
        encoded = 0

        def encode(self, texts, **kwargs):
            Counting.encoded += len(texts)
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    rs = load_beir_folder(toy_beir)
    corpora: dict = {}
    first = encode_set(Counting(), rs, corpus_cache=corpora)
    second = encode_set(Counting(), rs, query_prompt="", corpus_cache=corpora)
    assert Counting.encoded == 2 * len(rs.queries) + len(rs.corpus)
    np.testing.assert_array_equal(first.corpus, second.corpus)
    encode_set(Counting(), rs, passage_prompt="", corpus_cache=corpora)  # another prompt: another encoding
    assert Counting.encoded == 3 * len(rs.queries) + 2 * len(rs.corpus)
