"""Sharded mining (mine.tasks > 1): datatrove tasks on the run's executor give the unsharded rows, and a stage killed
half-way resumes task by task without mining a finished shard again."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.executors import shard_bounds
from pipeline.stages.mine import MineStage
from tests.pipeline.tiny_st import make_run_config, write_filter_run

SHARDED = {"tasks": 3, "relative_margin": 0.01}
IN_PROCESS = {"type": "local", "tasks": 1, "workers": 1}  # tasks run in this process: monkeypatching reaches them


def mine(tmp_path, model_dir, name: str, **mine_section):
    config = make_run_config(tmp_path / name, model_dir, mine=mine_section, executor=IN_PROCESS)
    write_filter_run(config.run_dir)
    return config


def triplets(config) -> list[dict]:
    return pq.read_table(config.run_dir / "mine" / "triplets.parquet").to_pylist()


def test_shard_bounds_cover_every_row_once_in_order():
    for n, world in [(10, 3), (2, 5), (60, 7), (0, 2)]:
        bounds = [shard_bounds(n, rank, world) for rank in range(world)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(e - s for s, e in bounds) - min(e - s for s, e in bounds) <= 1


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory, tiny_model_dir):
    config = mine(tmp_path_factory.mktemp("mine"), tiny_model_dir, "one", relative_margin=0.01)
    return MineStage(config).run(), triplets(config)


def test_sharded_mining_writes_the_unsharded_rows(tmp_path, tiny_model_dir, unsharded):
    stats_one, rows_one = unsharded
    config = mine(tmp_path, tiny_model_dir, "three", **SHARDED)
    stats = MineStage(config).run()
    assert triplets(config) == rows_one
    assert stats["tasks"] == 3
    ignore = {"tasks", "seconds", "embeddings_reused"}
    assert {k: v for k, v in stats.items() if k not in ignore} == {
        k: v for k, v in stats_one.items() if k not in ignore}
    shards = sorted(p.name for p in (config.run_dir / "mine" / "tasks_3" / "shards").iterdir())
    assert shards == ["00000.drops.json", "00000.parquet", "00001.drops.json", "00001.parquet",
                      "00002.drops.json", "00002.parquet"]
    # the task count does not shape the output, so it is not part of the config hash
    assert MineStage(config).config_hash() == MineStage(mine(tmp_path, tiny_model_dir, "x", relative_margin=0.01)
                                                         ).config_hash()


def test_a_killed_stage_resumes_task_by_task(tmp_path, tiny_model_dir, unsharded, monkeypatch):
    _, rows_one = unsharded
    config = mine(tmp_path, tiny_model_dir, "killed", **SHARDED)
    real = MineStage.mine_rows
    mined: list[int] = []

    def dies_on_the_second_shard(self, rows, corpus, tools):
        if len(mined) == 1:
            raise RuntimeError("killed")
        mined.append(len(rows))
        return real(self, rows, corpus, tools)

    monkeypatch.setattr(MineStage, "mine_rows", dies_on_the_second_shard)
    with pytest.raises(RuntimeError, match="killed"):
        MineStage(config).run()
    assert mined == [20]  # the first shard finished (60 queries / 3)

    def counts(self, rows, corpus, tools):
        mined.append(len(rows))
        return real(self, rows, corpus, tools)

    monkeypatch.setattr(MineStage, "mine_rows", counts)
    MineStage(config).run()
    assert mined == [20, 20, 20]  # only the two unfinished shards ran again
    assert triplets(config) == rows_one


def test_shards_mined_by_spawned_worker_processes(tmp_path, tiny_model_dir, unsharded):
    """workers > 1: each task runs in a spawned process (the step and the config pickle), same rows."""
    _, rows_one = unsharded
    config = make_run_config(tmp_path / "spawned", tiny_model_dir, mine={"tasks": 2, "relative_margin": 0.01},
                             executor={"type": "local", "tasks": 1, "workers": 2})
    write_filter_run(config.run_dir)
    MineStage(config).run()
    assert triplets(config) == rows_one


def test_mining_in_small_batches_writes_the_same_rows(tmp_path, tiny_model_dir, unsharded, monkeypatch):
    """The stage mines and writes batch_rows queries at a time (in one process and in each task): any batch size
    gives the same rows and statistics, and the file holds one row group per batch."""
    stats_one, rows_one = unsharded
    monkeypatch.setattr(MineStage, "batch_rows", 4)
    ignore = {"tasks", "seconds", "embeddings_reused"}
    for name, section in (("batched", {"relative_margin": 0.01}), ("batched-tasks", SHARDED)):
        config = mine(tmp_path, tiny_model_dir, name, **section)
        stats = MineStage(config).run()
        assert triplets(config) == rows_one, name
        assert {k: v for k, v in stats.items() if k not in ignore} == {
            k: v for k, v in stats_one.items() if k not in ignore}, name
        assert pq.ParquetFile(config.run_dir / "mine" / "triplets.parquet").num_row_groups > 1
