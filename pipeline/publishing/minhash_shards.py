"""MinHash signatures in shards of the corpus, as datatrove tasks: one per ``split.tasks``.

MinHash is the split stage's costly part (datatrove's shingling and hashing, a few milliseconds per passage in
Python). Task ``rank`` of ``world_size`` reads its contiguous slice of ``filter/passages.parquet`` (the row range
``shard_bounds`` gives it), computes the signatures with the stage's ``MinHasher`` and writes
``split/tasks_<N>/shards/<rank>.npz`` (``values``: one uint64 row per passage; ``valid``: False for a text without
words). datatrove marks the task complete only after that, so a killed stage reruns only the unfinished tasks. A
passage's signature depends on its text alone, so the shards joined in rank order are the unsharded signatures.

Example::

    for values, valid in read_signature_shards(folder / "shards", tasks):   # by the stage, in corpus order
        table.add_array(values, valid)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep

from pipeline.atomic import atomic_path
from pipeline.errors import StageError
from pipeline.executors import shard_bounds


def write_signature_shard(folder: Path, rank: int, values: np.ndarray, valid: np.ndarray) -> None:
    with atomic_path(folder / f"{rank:05d}.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, values=values, valid=valid)


def read_signature_shards(folder: Path, tasks: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every shard's (values, valid) in rank order; a missing shard is an error before any is read."""
    missing = [rank for rank in range(tasks) if not (folder / f"{rank:05d}.npz").is_file()]
    if missing:
        raise StageError(f"split: MinHash shard(s) {missing} are missing from {folder} although their tasks "
                         "finished; rerun with `--stage split --force`")
    for rank in range(tasks):
        with np.load(folder / f"{rank:05d}.npz") as shard:
            yield shard["values"], shard["valid"]


class SignatureShard(PipelineStep):
    """One task of the sharded MinHash (see the module docstring); the config travels as a plain dict."""

    name = "#️⃣ MinHash shard"
    type = "#️⃣ - DEDUP"

    def __init__(self, config_data: dict, shards_dir: str, total: int):
        super().__init__()
        self.config_data = config_data
        self.shards_dir = shards_dir
        self.total = total

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from pipeline.config import config_from_dict
        from pipeline.stages.split import SplitStage

        stage = SplitStage(config_from_dict(self.config_data))
        hasher = stage.minhasher()
        start, end = shard_bounds(self.total, rank, world_size)
        parts = [hasher.signature_arrays([p["text"] for p in batch])
                 for batch in stage.folder.batches("filter.passages", columns=("text",), batch_rows=stage.batch_rows,
                                                   rows=(start, end))]
        values = np.concatenate([v for v, _ in parts]) if parts else np.zeros((0, hasher.num_values), np.uint64)
        valid = np.concatenate([v for _, v in parts]) if parts else np.zeros(0, dtype=bool)
        write_signature_shard(Path(self.shards_dir), rank, values, valid)
        self.stat_update("passages", value=end - start)
        return None
