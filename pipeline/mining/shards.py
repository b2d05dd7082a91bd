"""Mining in shards of the queries, as datatrove tasks: one per ``mine.tasks``, on the run's executor.

Task ``rank`` of ``world_size`` mines the contiguous slice of the query rows that ``shard_bounds`` gives it, with
the model, corpus embeddings and BM25 index the stage prepared (loaded from their caches, never rebuilt by a
task), and writes ``mine/tasks_<N>/shards/<rank>.parquet`` plus its drop counts. datatrove marks the task complete only
after that, so a killed stage resumes with the unfinished tasks alone. Joined in rank order, the shards are the
rows an unsharded run writes: a query's negatives depend only on the query and the corpus.

Example::

    write_shard(folder, rank, batches)                # by task ``rank``: (rows, drops) per batch of its queries
    for rows, drops in read_shards(folder, tasks):   # by the stage, once every task has finished
        ...
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from pipeline.atomic import atomic_path
from pipeline.errors import StageError
from pipeline.executors import shard_bounds
from pipeline.run_folder import TRIPLET_SCHEMA


def shard_files(folder: Path, rank: int) -> tuple[Path, Path]:
    return folder / f"{rank:05d}.parquet", folder / f"{rank:05d}.drops.json"


def write_shard(folder: Path, rank: int, batches) -> None:
    """Both files of a shard from (rows, drop counts) batches, each file written under a temporary name first: a
    killed task leaves no half shard. The rows go out batch by batch (a row holds its negatives' texts)."""
    table, counts = shard_files(folder, rank)
    drops = Counter()
    with atomic_path(table) as tmp, pq.ParquetWriter(tmp, TRIPLET_SCHEMA) as writer:
        for rows, batch_drops in batches:
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=TRIPLET_SCHEMA))
            drops.update(batch_drops)
    with atomic_path(counts) as tmp:
        tmp.write_text(json.dumps(dict(drops)))


def read_shards(folder: Path, tasks: int, batch_rows: int = 20_000):
    """Every shard's rows in rank order, as (rows, drop counts) batches; a shard's counts come with its first
    batch. A missing shard is an error before any row is yielded."""
    for rank in range(tasks):
        table, counts = shard_files(folder, rank)
        if not (table.is_file() and counts.is_file()):
            raise StageError(f"mine: shard {rank} is missing from {folder} although its task finished; rerun with "
                             "`--stage mine --force`")
    for rank in range(tasks):
        table, counts = shard_files(folder, rank)
        drops = Counter(json.loads(counts.read_text()))
        for batch in pq.ParquetFile(table).iter_batches(batch_size=batch_rows):
            yield batch.to_pylist(), drops
            drops = Counter()
        if drops:  # an empty shard still brings its counts
            yield [], drops


class MineShard(PipelineStep):
    """One task of the sharded mine stage (see the module docstring). Takes the run's config as a plain dict, so
    the step pickles to spawned workers, Slurm and Ray alike."""

    name = "⛏ Mine shard"
    type = "⛏ - MINER"

    def __init__(self, config_data: dict, shards_dir: str):
        super().__init__()
        self.config_data = config_data
        self.shards_dir = shards_dir

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from pipeline.config import config_from_dict
        from pipeline.stages.mine import MineStage

        stage = MineStage(config_from_dict(self.config_data))
        rows, corpus, _ = stage.inputs()
        start, end = shard_bounds(len(rows), rank, world_size)
        negatives = 0

        def counted(batches):
            nonlocal negatives
            for rows, drops in batches:
                negatives += sum(len(r["negatives"]) for r in rows)
                yield rows, drops

        write_shard(Path(self.shards_dir), rank, counted(stage.mine_batches(rows[start:end], corpus,
                                                                             stage.tools(corpus))))
        self.stat_update("queries", value=end - start)
        self.stat_update("negatives", value=negatives)
        return None
