"""Sharded round-trip (filter.round_trip.tasks > 1): datatrove tasks give the unsharded kept and dropped queries,
and a stage killed half-way resumes task by task."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipeline.config.ingest import ExecutorConfig
from pipeline.filtering.judges import JudgePanel
from pipeline.mining.embedding_store import text_key
from pipeline.stages.filter import FilterStage
from tests.pipeline.test_filter import PLANTED, make_run

IN_PROCESS = {"type": "local", "tasks": 1, "workers": 1}  # tasks run in this process: monkeypatching reaches them
KEPT = [q[:3] for q in PLANTED if q[3] is None]


def run_filter(tmp_path, model_dir, name: str, tasks: int):
    cfg = make_run(tmp_path, KEPT, run_name=name,
                   round_trip={"enabled": True, "model": str(model_dir), "top_k": 2, "bm25_top_k": 2,
                               "batch_size": 8, "tasks": tasks})
    cfg.executor = ExecutorConfig(**IN_PROCESS)
    return cfg


def outputs(cfg) -> tuple[list[dict], list[dict]]:
    folder = cfg.run_dir / "filter"
    return (pq.read_table(folder / "queries.parquet").to_pylist(),
            pq.read_table(folder / "dropped.parquet").to_pylist())


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory, tiny_model_dir):
    cfg = run_filter(tmp_path_factory.mktemp("flt"), tiny_model_dir, "one", tasks=1)
    return FilterStage(cfg).run(), outputs(cfg)


def test_sharded_round_trip_keeps_and_drops_the_same_queries(tmp_path, tiny_model_dir, unsharded):
    stats_one, (kept_one, dropped_one) = unsharded
    assert len(KEPT) >= 3 and kept_one  # a fixture where the panel has work for three tasks
    cfg = run_filter(tmp_path, tiny_model_dir, "three", tasks=3)
    stats = FilterStage(cfg).run()
    assert outputs(cfg) == (kept_one, dropped_one)
    assert {k: v for k, v in stats.items() if k != "seconds"} == {k: v for k, v in stats_one.items() if k != "seconds"}
    shards = sorted(p.name for p in (cfg.run_dir / "filter" / "tasks_3" / "shards").iterdir())
    assert shards == ["00000.npz", "00001.npz", "00002.npz"]
    assert FilterStage(cfg).config_hash() == FilterStage(run_filter(tmp_path, tiny_model_dir, "x", 1)).config_hash()
    # each task wrote its queries' embeddings into the run's store beside the others' (mine reads them from there)
    stored = {k for p in (cfg.run_dir / "embeddings").rglob("shard-*.keys") for k in p.read_text().split()}
    assert {text_key(query) for _, _, query in KEPT} <= stored


def test_a_killed_round_trip_resumes_task_by_task(tmp_path, tiny_model_dir, unsharded, monkeypatch):
    _, expected = unsharded
    cfg = run_filter(tmp_path, tiny_model_dir, "killed", tasks=3)
    real = JudgePanel.ranks
    ranked: list[int] = []

    def dies_on_the_second_shard(self, queries, positives):
        if len(ranked) == 1:
            raise RuntimeError("killed")
        ranked.append(len(queries))
        return real(self, queries, positives)

    monkeypatch.setattr(JudgePanel, "ranks", dies_on_the_second_shard)
    with pytest.raises(RuntimeError, match="killed"):
        FilterStage(cfg).run()
    assert len(ranked) == 1

    def counts(self, queries, positives):
        ranked.append(len(queries))
        return real(self, queries, positives)

    monkeypatch.setattr(JudgePanel, "ranks", counts)
    FilterStage(cfg).run()
    assert len(ranked) == 3 and sum(ranked) == len(KEPT)  # the finished shard was not ranked again
    assert outputs(cfg) == expected
