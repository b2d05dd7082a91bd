"""Round-trip ranks in shards of the queries, as datatrove tasks: one per ``filter.round_trip.tasks``.

The stage applies the cheap rules, writes the queries left for the panel (``filter/tasks_<N>/candidates.parquet``:
query text and its positive's corpus index) and the corpus (``filter/passages.parquet``), and builds the panel once
so that the passage embeddings (the run's embedding store) and the BM25 index are on disk. Task ``rank`` then builds
the panel from those caches, ranks its contiguous slice of the candidates and writes every judge's ranks to
``shards/<rank>.npz``; datatrove marks it complete after that, so a killed stage reruns only unfinished tasks.
Exact search ranks a query the same whoever else is in its shard, so the joined shards are the unsharded ranks.

Example::

    ranks = read_rank_shards(folder / "shards", tasks)   # {"base": array([...]), "bm25": array([...])}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from pipeline.atomic import atomic_path
from pipeline.errors import StageError
from pipeline.executors import shard_bounds


def write_candidates(folder: Path, queries: list[str], positives: np.ndarray) -> Path:
    """The panel's input, written once (a rerun with the same config finds the same file)."""
    path = folder / "candidates.parquet"
    if not path.is_file():
        with atomic_path(path) as tmp:
            pq.write_table(pa.table({"query": queries, "positive": np.asarray(positives, dtype=np.int64)}), tmp)
    return path


def write_rank_shard(folder: Path, rank: int, ranks: dict[str, np.ndarray]) -> None:
    with atomic_path(folder / f"{rank:05d}.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **ranks)


def read_rank_shards(folder: Path, tasks: int) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {}
    for rank in range(tasks):
        path = folder / f"{rank:05d}.npz"
        if not path.is_file():
            raise StageError(f"filter: round-trip shard {rank} is missing from {folder} although its task finished; "
                             "rerun with `--stage filter --force`")
        with np.load(path) as shard:
            for judge in shard.files:
                parts.setdefault(judge, []).append(shard[judge])
    return {judge: np.concatenate(arrays) for judge, arrays in parts.items()}


class RoundTripShard(PipelineStep):
    """One task of the sharded round-trip (see the module docstring); the config travels as a plain dict."""

    name = "🔁 Round-trip shard"
    type = "🔁 - JUDGE"

    def __init__(self, config_data: dict, tasks_dir: str):
        super().__init__()
        self.config_data = config_data
        self.tasks_dir = tasks_dir

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from pipeline.config import config_from_dict
        from pipeline.stages.filter import FilterStage

        stage = FilterStage(config_from_dict(self.config_data))
        candidates = pq.read_table(Path(self.tasks_dir) / "candidates.parquet").to_pydict()
        start, end = shard_bounds(len(candidates["query"]), rank, world_size)
        texts = stage.folder.read("filter.passages", columns=("text",)).column("text").to_pylist()
        panel = stage.panel(texts)  # tasks running at once write their own shards of the run's store
        ranks = panel.ranks(candidates["query"][start:end], np.asarray(candidates["positive"][start:end]))
        write_rank_shard(Path(self.tasks_dir) / "shards", rank, ranks)
        self.stat_update("queries", value=end - start)
        return None
