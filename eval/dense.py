"""Dense retrieval: encode a set once, then rank at every Matryoshka size and embedding precision.

* Matryoshka: keep the first ``dim`` coordinates and L2-normalise again (cosine similarity).
* Quantization (``quantize_embeddings``) measures what storing the corpus in low precision costs: the corpus is
  quantized, the query stays float32 (as when a quantized index is searched or rescored with the float query).

  - int8: each dimension's corpus range is cut into 256 buckets; scores use the bucket values (dequantized).
  - binary: sign bits of the corpus (``"ubinary"``); the score is the float query dotted with the +-1 vector.

  With ``quantize_queries=True`` the query is quantized too (int8 with the corpus ranges; binary: the score is
  dim - 2 * Hamming distance), i.e. an index searched with quantized queries only.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import quantize_embeddings

from eval.retrieval_set import RetrievalSet

PRECISIONS = ("float32", "int8", "binary")


@dataclass
class EncodedSet:
    """Raw (full-size) embeddings of one set plus the corpus encoding speed."""

    query_ids: list[str]
    doc_ids: list[str]
    queries: np.ndarray
    corpus: np.ndarray
    corpus_seconds: float

    @property
    def passages_per_second(self) -> float:
        return len(self.doc_ids) / self.corpus_seconds if self.corpus_seconds > 0 else float("inf")


def encode_set(
    model: SentenceTransformer,
    rs: RetrievalSet,
    query_prompt: str = "query: ",
    passage_prompt: str = "passage: ",
    batch_size: int = 64,
    show_progress_bar: bool = False,
    corpus_cache: dict | None = None,
) -> EncodedSet:
    """Encode the queries and the corpus of ``rs`` (prompts prepended; empty prompt = none).

    ``corpus_cache`` (a dict kept for one model) holds corpora already encoded: a second set over the same passages
    (a synthetic dev split and the real queries of one collection) does not encode them again."""
    query_ids, doc_ids = list(rs.queries), list(rs.corpus)
    q = model.encode(
        [rs.queries[i] for i in query_ids],
        prompt=query_prompt or None,
        batch_size=batch_size,
        convert_to_numpy=True,
        show_progress_bar=show_progress_bar,
    )
    texts = [rs.corpus[i] for i in doc_ids]
    key = hashlib.sha256(json.dumps([passage_prompt, texts]).encode()).hexdigest()
    if corpus_cache is not None and key in corpus_cache:
        c, seconds = corpus_cache[key]
    else:
        start = time.perf_counter()
        c = model.encode(
            texts,
            prompt=passage_prompt or None,
            batch_size=batch_size,
            convert_to_numpy=True,
            show_progress_bar=show_progress_bar,
        )
        seconds = time.perf_counter() - start
        if corpus_cache is not None:
            corpus_cache[key] = (c, seconds)
    return EncodedSet(query_ids, doc_ids, q.astype(np.float32), c.astype(np.float32), seconds)


def truncate(embeddings: np.ndarray, dim: int | None = None) -> np.ndarray:
    """First ``dim`` coordinates (all if None), L2-normalised.

    Written here rather than ``model.encode(truncate_dim=dim)``: the set is encoded once at full size and ranked at
    every Matryoshka size from those embeddings; ``truncate_dim`` would re-encode the corpus once per size."""
    emb = embeddings[:, :dim] if dim else embeddings
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.clip(norms, 1e-12, None)


def quantized_pair(
    q: np.ndarray, c: np.ndarray, precision: str, quantize_queries: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Queries and corpus as float32 matrices whose dot products are the ``precision`` scores (see module doc)."""
    if precision == "float32":
        return q, c
    if precision == "int8":
        ranges = np.vstack([c.min(axis=0), c.max(axis=0)]).astype(np.float32)
        steps = (ranges[1] - ranges[0]) / 255

        def dequantize(x: np.ndarray) -> np.ndarray:
            return (quantize_embeddings(x, "int8", ranges=ranges).astype(np.float32) + 128) * steps + ranges[0]

        return (dequantize(q) if quantize_queries else q), dequantize(c)
    if precision == "binary":
        dim = q.shape[1]

        def signs(x: np.ndarray) -> np.ndarray:
            return np.unpackbits(quantize_embeddings(x, "ubinary"), axis=1)[:, :dim].astype(np.float32) * 2 - 1

        return (signs(q) if quantize_queries else q), signs(c)
    raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")


def top_k(
    q: np.ndarray, c: np.ndarray, query_ids: list[str], doc_ids: list[str], k: int = 10, chunk: int = 512
) -> dict[str, list[str]]:
    """Rank the corpus for every query by dot product; ties go to the earlier passage (deterministic).

    Written here rather than ``sentence_transformers.util.semantic_search``: its ``torch.topk`` breaks ties in no
    fixed order, and binary-quantized scores tie often, so two runs of the same model could report different
    NDCG."""
    run: dict[str, list[str]] = {}
    k = min(k, c.shape[0])
    for start in range(0, q.shape[0], chunk):
        scores = q[start : start + chunk] @ c.T
        if k < scores.shape[1]:
            cand = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            cand = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
        for row, idx in enumerate(cand):
            idx = np.sort(idx)
            order = idx[np.argsort(-scores[row, idx], kind="stable")]
            run[query_ids[start + row]] = [doc_ids[i] for i in order]
    return run


def rank(
    enc: EncodedSet, dim: int | None, precision: str = "float32", k: int = 10, quantize_queries: bool = False
) -> dict[str, list[str]]:
    """The top-k run at Matryoshka size ``dim`` (None: full) and the given corpus precision."""
    q, c = quantized_pair(truncate(enc.queries, dim), truncate(enc.corpus, dim), precision, quantize_queries)
    return top_k(q, c, enc.query_ids, enc.doc_ids, k)


def model_size(model: SentenceTransformer, path: str | None = None) -> dict[str, float | str]:
    """Parameters, and megabytes (10^6 bytes) of weight files on disk (in-memory size if no local folder)."""
    if hasattr(model, "size"):  # an OnnxEmbedder knows its own file
        return model.size()
    params = sum(p.numel() for p in model.parameters())
    weights = []
    if path and Path(path).is_dir():
        weights = [f for ext in ("*.safetensors", "*.bin") for f in Path(path).rglob(ext)]
    if weights:
        return {"parameters": params, "size_mb": sum(f.stat().st_size for f in weights) / 1e6, "size_of": "disk"}
    in_memory = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"parameters": params, "size_mb": in_memory / 1e6, "size_of": "memory"}
