"""The run folder, the pipeline's real interface: every stage's folder and files, their columns, the stage order,
the split names, the markers and the lock. Open this file to learn what a run leaves on disk.

    runs/<run_name>/
      .lock                          one run at a time (pipeline/run_lock.py)
      embeddings/                    the embedding store, by model and prompt (mining/embedding_store.py)
      bm25/                          BM25 indexes by tokenizer and corpus, shared by filter and mine (mining/bm25.py)
      <stage>/_STARTED.json          a stage under way (config hash), removed when it finishes
      <stage>/_SUCCESS.json          a finished stage: config hash, upstream fingerprint, statistics
      <stage>/stats.json             the same statistics, for people
      <stage>/logs/                  datatrove task logs (the terminal shows only summaries)
      ingest/output/*.jsonl.gz       clean, de-duplicated documents (datatrove JSONL)
      ingest/removed/<reason>/       what each filter removed;  ingest/work/: dedup signatures and buckets
      passages/data/*.parquet        passages (PASSAGES)
      generate/input/ raw/           request batches and raw LLM replies (datatrove JSONL, resumable)
      generate/checkpoints/          datatrove's request cache;  generate/<backend>.log: the local LLM server's log
      generate/queries.parquet       parsed queries (GENERATED_QUERIES);  generate/dropped.parquet: unusable replies
      filter/queries.parquet         kept queries with judge ranks (KEPT_QUERIES); filter/dropped.parquet: the rest
      filter/passages.parquet        the corpus every later stage uses (contaminated passages removed)
      mine/triplets.parquet          one row per query with its mined negatives (TRIPLET_SCHEMA)
      split/{train,dev,test}.parquet triplets of each split (SPLIT_TRIPLET_SCHEMA); split/documents.parquet
      split/beir/test/               the test split as a BEIR set
      split/work/                    MinHash signatures while the split runs (a memory-mapped file, then removed)
      split/tasks_<N>/               with split.tasks N > 1: the MinHash tasks' markers and signature shards
      publish/dataset/               the Hugging Face dataset folder (its format: retrieval/dataset.py)

A stage reads only what ``INPUTS`` declares for it, through ``RunFolder.read`` (a whole table), ``RunFolder.batches``
(batch by batch, for inputs of any size) or ``RunFolder.path``, and writes with ``write`` or, row group by row group,
``writer``.

Example:
    >>> folder = RunFolder("runs/demo")
    >>> folder.path("split.triplets", split="dev")
    PosixPath('runs/demo/split/dev.parquet')
    >>> INPUTS["publish"]
    ('split.triplets', 'split.beir', 'filter.passages')
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import atomic_path
from pipeline.errors import InputDataError, StageError

STAGES = ("ingest", "passages", "generate", "filter", "mine", "split", "publish")
SPLITS = ("train", "dev", "test")
SUCCESS = "_SUCCESS.json"
STARTED = "_STARTED.json"
STATS = "stats.json"
BATCH_ROWS = 10_000  # rows per batch when a stage streams an artifact (a Parquet row group on write)

PASSAGES = pa.schema([("passage_id", pa.string()), ("doc_id", pa.string()), ("url", pa.string()),
                      ("position", pa.int64()), ("n_tokens", pa.int64()), ("text", pa.string())])
GENERATED_QUERIES = pa.schema([(name, pa.string()) for name in
                               ("query_id", "passage_id", "doc_id", "style", "query", "evidence", "model",
                                "prompt_hash")])
GENERATE_DROPPED = pa.schema([(name, pa.string()) for name in ("passage_id", "reason", "raw")])
FILTER_DROPPED = pa.schema([(name, pa.string()) for name in
                            ("query_id", "passage_id", "style", "query", "reason", "detail")])
NEGATIVE_TYPE = pa.struct([("passage_id", pa.string()), ("doc_id", pa.string()), ("text", pa.string()),
                           ("score", pa.float64()), ("source", pa.string())])
TRIPLET_SCHEMA = pa.schema([
    ("query_id", pa.string()), ("query", pa.string()), ("passage_id", pa.string()), ("positive", pa.string()),
    ("doc_id", pa.string()), ("style", pa.string()), ("negatives", pa.list_(NEGATIVE_TYPE)),
    ("positive_score", pa.float64()),
])
SPLIT_TRIPLET_SCHEMA = TRIPLET_SCHEMA.append(pa.field("group_id", pa.string()))


@dataclass(frozen=True)
class Artifact:
    """One file or folder a stage writes: its path inside the stage folder (``{split}`` filled in on use) and the
    columns its readers need (the kept-queries file has more, one ``rank_<judge>`` per judge of the panel)."""

    stage: str  # "run" for what belongs to the whole run (any stage may read it)
    relpath: str
    columns: tuple[str, ...] = ()


_QUERY_KEYS = ("query_id", "passage_id", "doc_id", "style", "query")
ARTIFACTS: dict[str, Artifact] = {
    "run.embeddings": Artifact("run", "embeddings"),
    "run.bm25": Artifact("run", "bm25"),
    "ingest.documents": Artifact("ingest", "output"),
    "ingest.removed": Artifact("ingest", "removed"),
    "ingest.work": Artifact("ingest", "work"),
    "passages.passages": Artifact("passages", "data", tuple(PASSAGES.names)),
    "generate.input": Artifact("generate", "input"),
    "generate.raw": Artifact("generate", "raw"),
    "generate.checkpoints": Artifact("generate", "checkpoints"),
    "generate.server_log": Artifact("generate", "{backend}.log"),
    "generate.queries": Artifact("generate", "queries.parquet", tuple(GENERATED_QUERIES.names)),
    "generate.dropped": Artifact("generate", "dropped.parquet", tuple(GENERATE_DROPPED.names)),
    "filter.queries": Artifact("filter", "queries.parquet", _QUERY_KEYS),
    "filter.passages": Artifact("filter", "passages.parquet", ("passage_id", "doc_id", "text")),
    "filter.dropped": Artifact("filter", "dropped.parquet", tuple(FILTER_DROPPED.names)),
    "filter.tasks": Artifact("filter", "tasks_{tasks}"),  # sharded round-trip: candidates, logs/, shards/
    "mine.triplets": Artifact("mine", "triplets.parquet", tuple(TRIPLET_SCHEMA.names)),
    "mine.embeddings": Artifact("mine", "embeddings"),
    "mine.tasks": Artifact("mine", "tasks_{tasks}"),  # sharded mining: logs/ (datatrove markers) and shards/
    "split.triplets": Artifact("split", "{split}.parquet", tuple(SPLIT_TRIPLET_SCHEMA.names)),
    "split.documents": Artifact("split", "documents.parquet", ("doc_id", "group_id", "split", "queries")),
    "split.beir": Artifact("split", "beir"),
    "split.work": Artifact("split", "work"),
    "split.tasks": Artifact("split", "tasks_{tasks}"),  # sharded MinHash: logs/ (datatrove markers) and shards/
    "publish.dataset": Artifact("publish", "dataset"),
}

# what each stage reads (besides its own folder); the first entry's stage is its upstream, whose fingerprint
# decides whether the stage's output is still current (the others lie further up the same chain)
INPUTS: dict[str, tuple[str, ...]] = {
    "ingest": (),
    "passages": ("ingest.documents",),
    "generate": ("passages.passages",),
    "filter": ("generate.queries", "passages.passages"),
    "mine": ("filter.queries", "filter.passages"),
    "split": ("mine.triplets", "filter.passages", "filter.queries"),
    "publish": ("split.triplets", "split.beir", "filter.passages"),
}


def upstream_of(stage: str) -> str | None:
    """The stage whose output this one builds on: ``upstream_of("mine") == "filter"``."""
    inputs = INPUTS[stage]
    return ARTIFACTS[inputs[0]].stage if inputs else None


class RunFolder:
    """Paths and checked reads/writes of one run folder. ``reader`` (a stage name) limits reads to that stage's
    declared ``INPUTS`` and its own files: a stage that reaches for something else fails in tests, not on a user."""

    def __init__(self, root: str | Path, reader: str | None = None):
        self.root = Path(root)
        self.reader = reader

    def stage_dir(self, stage: str) -> Path:
        if stage not in STAGES:
            raise KeyError(f"unknown stage {stage!r}; stages are {STAGES}")
        return self.root / stage

    def path(self, key: str, split: str | None = None, **fields: str) -> Path:
        """Where artifact ``key`` ("stage.name") lives; ``split`` for per-split artifacts, ``fields`` for other
        placeholders (``generate.server_log`` needs ``backend``)."""
        artifact = ARTIFACTS[key]
        if artifact.stage == "run":
            return self.root / artifact.relpath
        if self.reader and artifact.stage != self.reader and key not in INPUTS[self.reader]:
            raise RuntimeError(f"stage {self.reader!r} reads {key!r}, which INPUTS does not declare for it")
        if "{split}" in artifact.relpath:
            if split not in SPLITS:
                raise KeyError(f"{key} needs a split, one of {SPLITS} (got {split!r})")
            return self.stage_dir(artifact.stage) / artifact.relpath.format(split=split)
        return self.stage_dir(artifact.stage) / artifact.relpath.format(**fields)

    def read(self, key: str, split: str | None = None, allow_empty: bool = False,
             columns: tuple[str, ...] | None = None) -> pa.Table:
        """The artifact as one Arrow table, checked: present, readable, with its columns, not empty (unless
        ``allow_empty``); each failure an error that names the file and the stage to rerun. ``columns`` reads only
        those columns."""
        artifact = ARTIFACTS[key]
        return read_table(self.path(key, split), columns or artifact.columns, artifact.stage, allow_empty,
                          select=columns)

    def batches(self, key: str, split: str | None = None, columns: tuple[str, ...] | None = None,
                batch_rows: int = BATCH_ROWS, allow_empty: bool = False,
                rows: tuple[int, int] | None = None) -> Iterator[list[dict]]:
        """The artifact's rows as lists of at most ``batch_rows`` dicts, in file order, checked as ``read`` checks
        them: memory stays at one batch, whatever the number of rows. ``rows=(start, stop)`` reads only that range
        (a task's shard; row groups outside it are skipped unread)."""
        artifact = ARTIFACTS[key]
        path = self.path(key, split)
        files = parquet_files(path, columns or artifact.columns, artifact.stage)
        start, stop = rows if rows is not None else (0, None)
        seen = offset = 0
        for file in files:
            parquet = pq.ParquetFile(file)
            for group in range(parquet.num_row_groups):
                size = parquet.metadata.row_group(group).num_rows
                if offset + size <= start or (stop is not None and offset >= stop):
                    offset += size
                    continue
                for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group],
                                                  columns=list(columns) if columns else None):
                    low, high = max(start - offset, 0), batch.num_rows if stop is None else min(stop - offset,
                                                                                                  batch.num_rows)
                    offset += batch.num_rows
                    if high > low:
                        seen += high - low
                        yield batch.slice(low, high - low).to_pylist()
        if seen == 0 and not allow_empty and rows is None:
            raise _empty_error(path, artifact.stage)

    def schema(self, key: str, split: str | None = None) -> pa.Schema:
        """A Parquet artifact's schema (of its first file), checked as ``read`` checks it."""
        artifact = ARTIFACTS[key]
        files = parquet_files(self.path(key, split), artifact.columns, artifact.stage)
        return pq.read_schema(files[0]) if files else pa.schema([])

    def num_rows(self, key: str, split: str | None = None) -> int:
        """Rows of a Parquet artifact, from the files' metadata (nothing is read)."""
        artifact = ARTIFACTS[key]
        return sum(pq.read_metadata(f).num_rows
                   for f in parquet_files(self.path(key, split), artifact.columns, artifact.stage))

    @contextmanager
    def writer(self, key: str, schema: pa.Schema, split: str | None = None) -> Iterator[ParquetRowWriter]:
        """Write a Parquet artifact batch by batch (``with folder.writer(key, schema) as out: out.write(rows)``),
        atomically: the file appears under its name only when the block ends without an error."""
        with atomic_path(self.path(key, split)) as tmp:
            out = ParquetRowWriter(tmp, schema)
            try:
                yield out
            finally:
                out.close()

    def write(self, key: str, table: pa.Table | list[dict], schema: pa.Schema | None = None,
              split: str | None = None) -> Path:
        """Write a Parquet artifact atomically (a killed run never leaves half a file under the final name)."""
        path = self.path(key, split)
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pylist(table, schema=schema) if table or schema else pa.table({})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path

    def lock(self):
        """The run's exclusive lock (``with folder.lock(): ...``); see pipeline/run_lock.py."""
        from pipeline.run_lock import RunLock

        return RunLock(self.root)


class ParquetRowWriter:
    """Rows appended to one Parquet file, a row group per ``write`` (``RunFolder.writer``; the dataset folder's
    config files). The file is opened at the first row; ``close`` leaves a file with the schema and no rows when none
    came, or no file at all with ``keep_empty=False`` (``datasets`` cannot load an empty Parquet split)."""

    def __init__(self, path: Path, schema: pa.Schema, keep_empty: bool = True):
        self.path, self.schema, self.keep_empty = Path(path), schema, keep_empty
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, rows: list[dict] | pa.Table) -> None:
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=self.schema)
        if not table.num_rows:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> bool:
        """Close the file; whether there is one."""
        if self._writer is None and self.keep_empty:
            self._writer = pq.ParquetWriter(self.path, self.schema)
        if self._writer is None:
            return False
        self._writer.close()
        return True


def parquet_files(path: Path, columns: tuple[str, ...], producer: str) -> list[Path]:
    """The Parquet file(s) of an artifact (a file, or a folder's files in name order), checked for presence,
    readability and ``columns``; errors name the file and the stage to rerun."""
    path = Path(path)
    if not path.exists():
        raise _missing_error(path, producer)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    try:
        for file in files:
            names = pq.read_schema(file).names
            missing = [c for c in columns if c not in names]
            if missing:
                raise InputDataError(f"{file} lacks the column(s) {missing} (it has {names}). It was written by an "
                                     f"incompatible '{producer}' stage: rerun it with --force.")
    except (pa.ArrowInvalid, OSError) as e:
        raise InputDataError(f"{path} is not readable Parquet ({e}). Rerun the '{producer}' stage with --force.") \
            from None
    return files


def _missing_error(path: Path, producer: str) -> InputDataError:
    return InputDataError(f"{path} is missing: the '{producer}' stage should have written it. Rerun "
                          f"`python -m pipeline.run --stage {producer} --force`.")


def _empty_error(path: Path, producer: str) -> StageError:
    return StageError(f"{path} is empty: the '{producer}' stage kept no rows, so there is nothing to do. Check "
                      f"{path.parent / STATS} for what was dropped and why, relax those settings, and rerun from "
                      "that stage.")


def read_table(path: Path, columns: tuple[str, ...], producer: str, allow_empty: bool = False,
               select: tuple[str, ...] | None = None) -> pa.Table:
    """Read ``path`` (a Parquet file or folder; only the ``select`` columns if given); InputDataError/StageError
    that names the file and the fix."""
    path = Path(path)
    if not path.exists():
        raise _missing_error(path, producer)
    try:
        names = pq.ParquetDataset(path).schema.names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputDataError(f"{path} lacks the column(s) {missing} (it has {names}). It was written by an "
                                 f"incompatible '{producer}' stage: rerun it with --force.")
        table = pq.read_table(path, columns=list(select) if select else None)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputDataError(f"{path} is not readable Parquet ({e}). Rerun the '{producer}' stage with --force.") \
            from None
    if table.num_rows == 0 and not allow_empty:
        raise _empty_error(path, producer)
    return table


def read_marker(stage_dir: Path) -> dict | None:
    """A finished stage's ``_SUCCESS.json`` (config hash, upstream fingerprint, statistics), or None."""
    path = Path(stage_dir) / SUCCESS
    return json.loads(path.read_text()) if path.is_file() else None


def write_marker(stage_dir: Path, payload: dict) -> None:
    """Mark a stage finished (atomically) and drop its under-way marker."""
    with atomic_path(Path(stage_dir) / SUCCESS) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    (Path(stage_dir) / STARTED).unlink(missing_ok=True)
