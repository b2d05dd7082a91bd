"""The dense index: its choice by corpus size, recall of the approximate kinds against exact search, the memory
check before building, and the filter giving the same verdicts through a flat index as by exact ranks."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config.generate import DenseIndexConfig
from pipeline.errors import ConfigError
from pipeline.filtering.round_trip import positive_ranks
from pipeline.mining.dense_index import DenseIndex, index_bytes
from pipeline.stages.filter import FilterStage
from tests.pipeline.test_filter import PASSAGES, PLANTED, make_run


def clustered(n: int, dim: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Normalized vectors around ``clusters`` centres, as embeddings of a corpus of topics are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    vecs = centres[rng.integers(0, clusters, n)] + 0.4 * rng.normal(size=(n, dim))
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


def test_auto_is_exact_below_the_threshold_and_ivf_above():
    vecs = clustered(3000)
    assert DenseIndex(vecs, DenseIndexConfig(exact_below=5000)).kind == "flat"
    assert DenseIndex(vecs, DenseIndexConfig(exact_below=1000)).kind == "ivf"


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_find_what_exact_search_finds(kind):
    vecs = clustered(5000)
    queries = vecs[:300] + 0.05 * np.random.default_rng(1).normal(size=(300, vecs.shape[1])).astype(np.float32)
    index = DenseIndex(vecs, DenseIndexConfig(kind=kind))
    assert index.recall_against_exact(queries, k=10, sample=300) >= 0.9


def test_positive_ranks_agree_with_exact_ranks_within_depth():
    vecs = clustered(2000)
    queries = vecs[:200] + 0.3 * np.random.default_rng(2).normal(size=(200, vecs.shape[1])).astype(np.float32)
    positives = np.arange(200)
    exact = positive_ranks(queries, vecs, positives)
    found = DenseIndex(vecs, DenseIndexConfig(kind="flat")).positive_ranks(queries, positives, depth=50)
    assert np.array_equal(found, np.where(exact <= 50, exact, 51))


def test_an_index_that_does_not_fit_is_refused_before_it_is_built():
    vecs = clustered(1000)
    need = index_bytes(1000, vecs.shape[1], "flat")
    with pytest.raises(ConfigError, match=r"needs about .* GB.*max_memory_gb"):
        DenseIndex(vecs, DenseIndexConfig(kind="flat", max_memory_gb=need / 2e9))


def test_a_gpu_asked_for_and_missing_is_a_clear_error():
    import faiss

    if faiss.get_num_gpus() > 0:
        pytest.skip("a GPU is there")
    with pytest.raises(ConfigError, match="sees no GPU"):
        DenseIndex(clustered(100), DenseIndexConfig(gpu=True))


def test_the_filter_keeps_the_same_queries_through_an_index(tmp_path):
    from retrieval.testing.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny_model")
    queries = [q[:3] for q in PLANTED if q[3] is None]
    panel = {"enabled": True, "model": str(model), "top_k": 3, "batch_size": 8, "bm25_top_k": None}
    exact = make_run(tmp_path, queries, run_name="exact", round_trip=panel)
    indexed = make_run(tmp_path, queries, run_name="indexed",
                       round_trip={**panel, "index": {"kind": "flat", "exact_below": 1, "depth": len(PASSAGES)}})
    assert FilterStage(exact).config_hash() != FilterStage(indexed).config_hash()
    runs = []
    for cfg in (exact, indexed):
        try:
            FilterStage(cfg).run()
            runs.append(pq.read_table(cfg.run_dir / "filter" / "queries.parquet").column("query_id").to_pylist())
        except Exception as e:  # an untrained model may keep nothing: then both must keep nothing
            runs.append(type(e).__name__)
    assert runs[0] == runs[1]
