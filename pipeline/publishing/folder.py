"""The dataset repository folder: Parquet per config and split, in the names training/ and eval/ read.

Configs (a contract with training/data.py and eval/sets.py):

- ``triplets`` (train/dev/test): query_id, query, positive_id, positive, negative_1..negative_k, style,
  negative_scores, plus negative_ids and negative_sources. Only queries with k negatives: every text column is a
  non-empty string, as trainers expect (the others stay in ``pairs``, ``queries`` and ``qrels``).
  An empty split is left out (no file, not in the card's ``configs``).
- ``pairs`` (train/dev/test): query_id, query, passage_id, passage, style.
- ``corpus`` (split ``corpus``): _id, title, text; every passage of the run.
- ``queries`` (train/dev/test): _id, text.   ``qrels`` (train/dev/test): query-id, corpus-id, score (int).

Example (the split stage's rows and the filter's passages)::

    files = write_configs(split_rows, passages, Path("runs/demo/publish/dataset"), num_negatives=4)
    files["triplets"]["train"]   # 'triplets/train.parquet'
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.publishing.beir import qrels_for
from pipeline.run_folder import SPLITS


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


def _write(folder: Path, name: str, split: str, rows: list[dict], schema: pa.Schema) -> str | None:
    """Write one split's file; None (no file) for an empty split: ``datasets`` cannot load an empty Parquet split
    ("BatchSize must be greater than 0" / "corresponds to no data"), so an empty split is left out of the configs."""
    if not rows:
        return None
    path = Path(folder) / name / f"{split}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path.relative_to(folder).as_posix()


def write_configs(split_rows: dict[str, list[dict]], passages: list[dict], folder: Path,
                  num_negatives: int) -> dict[str, dict[str, str]]:
    """Write every config's Parquet files; return config -> split -> path in the folder (for the card)."""
    folder, files = Path(folder), defaultdict(dict)
    files["corpus"]["corpus"] = _write(folder, "corpus", "corpus", [
        {"_id": p["passage_id"], "title": "", "text": p["text"]} for p in passages], SCHEMAS["corpus"])
    ids_of_text = defaultdict(list)
    for p in passages:
        ids_of_text[p["text"]].append(p["passage_id"])
    for split in SPLITS:
        rows = split_rows[split]
        triplets = [triplet_row(r, num_negatives) for r in rows if len(r["negatives"]) >= num_negatives]
        files["triplets"][split] = _write(folder, "triplets", split, triplets, triplet_schema(num_negatives))
        files["pairs"][split] = _write(folder, "pairs", split, [
            {"query_id": r["query_id"], "query": r["query"], "passage_id": r["passage_id"], "passage": r["positive"],
             "style": r["style"]} for r in rows], SCHEMAS["pairs"])
        files["queries"][split] = _write(folder, "queries", split, [
            {"_id": r["query_id"], "text": r["query"]} for r in rows], SCHEMAS["queries"])
        files["qrels"][split] = _write(folder, "qrels", split, [
            {"query-id": q, "corpus-id": c, "score": s} for q, c, s in qrels_for(rows, ids_of_text)], SCHEMAS["qrels"])
    order = ("triplets", "pairs", "corpus", "queries", "qrels")
    return {name: {split: path for split, path in files[name].items() if path} for name in order}
