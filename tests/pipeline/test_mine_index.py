"""mine.index: above index.exact_below passages the dense candidates come from an approximate FAISS index; below,
nothing changes. An IVF index that probes every cell finds what exact search finds, so the published rows match."""

from __future__ import annotations

import faiss
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.config.generate import DenseIndexConfig
from pipeline.mining.dense import _IndexStandIn
from pipeline.stages.mine import MineStage
from tests.pipeline.tiny_st import make_run_config, write_filter_run

MARGIN = 0.01


def mine_rows(folder, model_dir, **mine):
    config = make_run_config(folder, model_dir, mine={"relative_margin": MARGIN, **mine})
    write_filter_run(config.run_dir)
    stats = MineStage(config).run()
    return pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist(), stats, config


def test_exhaustive_ivf_gives_the_exact_rows(tmp_path, tiny_model_dir, capfd):
    exact, _, exact_config = mine_rows(tmp_path / "exact", tiny_model_dir)
    ivf, _, ivf_config = mine_rows(tmp_path / "ivf", tiny_model_dir,
                                   index={"exact_below": 1, "kind": "ivf", "nlist": 4, "nprobe": 4})
    assert "from the ivf index over" in capfd.readouterr().out
    assert ivf == exact
    assert faiss.IndexFlatIP.__name__ != "<lambda>"  # the library's name is given back after the call
    # non-default index settings are part of what shaped the stage (default ones are left out of the hash)
    assert MineStage(ivf_config).config_hash() != MineStage(exact_config).config_hash()


def test_below_the_threshold_the_index_is_not_used(tmp_path, tiny_model_dir, capfd):
    rows, _, _ = mine_rows(tmp_path, tiny_model_dir, index={"exact_below": 10_000, "kind": "ivf"})
    assert rows and "index over" not in capfd.readouterr().out


def test_a_query_with_too_few_candidates_is_searched_exactly():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 8)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stand_in = _IndexStandIn(DenseIndexConfig(kind="ivf", nlist=100, nprobe=1), faiss.IndexFlatIP)
    stand_in.add(vectors)
    scores, ids = stand_in.search(vectors[:50], 30)  # one cell of ~4 passages cannot hold 30
    assert (ids >= 0).all()
    exact = np.argsort(-(vectors[:50] @ vectors.T), axis=1, kind="stable")[:, :30]
    assert (ids == exact).all()
    assert np.allclose(scores, np.take_along_axis(vectors[:50] @ vectors.T, exact, axis=1), atol=1e-5)


@pytest.mark.parametrize("setting", ["max_memory_gb", "gpu"])
def test_index_errors_name_the_mine_setting(setting):
    from pipeline.errors import ConfigError
    from pipeline.mining.dense_index import DenseIndex

    vectors = np.eye(4, dtype="float32")
    settings = DenseIndexConfig(max_memory_gb=1e-9) if setting == "max_memory_gb" else DenseIndexConfig(gpu=True)
    with pytest.raises(ConfigError, match=f"mine.index.{setting}"):
        DenseIndex(vectors, settings, setting="mine.index")
