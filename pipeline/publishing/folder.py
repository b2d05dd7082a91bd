"""The dataset repository folder: Parquet per config and split, in the names training/ and eval/ read.

Configs (a contract with training/data.py and eval/sets.py):

- ``triplets`` (train/dev/test): query_id, query, positive_id, positive, negative_1..negative_k, style,
  negative_scores, plus negative_ids and negative_sources. Only queries with k negatives: every text column is a
  non-empty string, as trainers expect (the others stay in ``pairs``, ``queries`` and ``qrels``).
  An empty split is left out (no file, not in the card's ``configs``).
- ``pairs`` (train/dev/test): query_id, query, passage_id, passage, style.
- ``corpus`` (split ``corpus``): _id, title, text; every passage of the run.
- ``queries`` (train/dev/test): _id, text.   ``qrels`` (train/dev/test): query-id, corpus-id, score (int).

Rows come in batches (any iterable of lists of rows per split, and of passages), written as Parquet row groups:
memory holds one batch and a 16-byte digest per passage (to find passages that share a text), not the rows.

Example (the split stage's rows and the filter's passages)::

    files = write_configs({"train": [train_rows], "dev": [], "test": [test_rows]}, [passages],
                          Path("runs/demo/publish/dataset"), num_negatives=4)
    files["triplets"]["train"]   # 'triplets/train.parquet'
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa

from pipeline.publishing.beir import SameTextIndex, qrels_for
from pipeline.run_folder import SPLITS, ParquetRowWriter


def triplet_schema(k: int) -> pa.Schema:
    fields = [("query_id", pa.string()), ("query", pa.string()), ("positive_id", pa.string()),
              ("positive", pa.string())]
    fields += [(f"negative_{i}", pa.string()) for i in range(1, k + 1)]
    fields += [("style", pa.string()), ("negative_scores", pa.list_(pa.float64())),
               ("negative_ids", pa.list_(pa.string())), ("negative_sources", pa.list_(pa.string()))]
    return pa.schema(fields)


SCHEMAS = {
    "pairs": pa.schema([("query_id", pa.string()), ("query", pa.string()), ("passage_id", pa.string()),
                        ("passage", pa.string()), ("style", pa.string())]),
    "corpus": pa.schema([("_id", pa.string()), ("title", pa.string()), ("text", pa.string())]),
    "queries": pa.schema([("_id", pa.string()), ("text", pa.string())]),
    "qrels": pa.schema([("query-id", pa.string()), ("corpus-id", pa.string()), ("score", pa.int64())]),
}


def triplet_row(row: dict, k: int) -> dict:
    negatives = row["negatives"][:k]
    out = {"query_id": row["query_id"], "query": row["query"], "positive_id": row["passage_id"],
           "positive": row["positive"], "style": row["style"],
           "negative_scores": [n["score"] for n in negatives], "negative_ids": [n["passage_id"] for n in negatives],
           "negative_sources": [n["source"] for n in negatives]}
    out.update({f"negative_{i}": negatives[i - 1]["text"] for i in range(1, k + 1)})
    return out


class _ConfigFile(ParquetRowWriter):
    """One config's file for one split, opened at its first row: an empty split gets no file, since ``datasets``
    cannot load an empty Parquet split ("BatchSize must be greater than 0" / "corresponds to no data"), so an empty
    split is left out of the configs."""

    def __init__(self, folder: Path, name: str, split: str, schema: pa.Schema):
        super().__init__(folder / name / f"{split}.parquet", schema, keep_empty=False)
        self.folder = folder

    def finish(self) -> str | None:
        """The file's path in the folder, or None when no row came."""
        return self.path.relative_to(self.folder).as_posix() if self.close() else None


def write_configs(split_batches: Mapping[str, Iterable[list[dict]]], passage_batches: Iterable[list[dict]],
                  folder: Path, num_negatives: int) -> dict[str, dict[str, str]]:
    """Write every config's Parquet files; return config -> split -> path in the folder (for the card)."""
    folder, files = Path(folder), defaultdict(dict)
    corpus, same_text = _ConfigFile(folder, "corpus", "corpus", SCHEMAS["corpus"]), SameTextIndex()
    for passages in passage_batches:
        corpus.write([{"_id": p["passage_id"], "title": "", "text": p["text"]} for p in passages])
        same_text.add(passages)
    files["corpus"]["corpus"] = corpus.finish()
    copies = same_text.groups()
    k = num_negatives
    for split in SPLITS:
        out = {"triplets": _ConfigFile(folder, "triplets", split, triplet_schema(k)),
               **{name: _ConfigFile(folder, name, split, SCHEMAS[name]) for name in ("pairs", "queries", "qrels")}}
        for rows in split_batches.get(split, ()):
            out["triplets"].write([triplet_row(r, k) for r in rows if len(r["negatives"]) >= k])
            out["pairs"].write([{"query_id": r["query_id"], "query": r["query"], "passage_id": r["passage_id"],
                                 "passage": r["positive"], "style": r["style"]} for r in rows])
            out["queries"].write([{"_id": r["query_id"], "text": r["query"]} for r in rows])
            out["qrels"].write([{"query-id": q, "corpus-id": c, "score": s} for q, c, s in qrels_for(rows, copies)])
        for name, file in out.items():
            files[name][split] = file.finish()
    order = ("triplets", "pairs", "corpus", "queries", "qrels")
    return {name: {split: path for split, path in files[name].items() if path} for name in order}
