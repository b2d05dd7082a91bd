"""BEIR-style retrieval folders: ``corpus.jsonl`` (_id, title, text), ``queries.jsonl`` (_id, text) and
``qrels/<split>.tsv`` (header ``query-id  corpus-id  score``), the format BEIR, MTEB and eval/ read.

Example:
    >>> write_beir(Path("split/beir/test"), [{"_id": "p1", "title": "", "text": "..."}],
    ...            [{"_id": "q1", "text": "..."}], [("q1", "p1", 1)])
"""

from __future__ import annotations

import json
from pathlib import Path


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def write_beir(folder: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]],
               split: str = "test") -> Path:
    """Write one BEIR-style folder; returns it."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "queries.jsonl", queries)
    with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for query_id, corpus_id, score in qrels:
            f.write(f"{query_id}\t{corpus_id}\t{int(score)}\n")
    return folder


def qrels_for(rows: list[dict], ids_of_text: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """(query-id, corpus-id, 1) for each query's positive and every other passage with exactly its text
    (a verbatim copy under another id answers the query just as well)."""
    out = []
    for row in rows:
        ids = dict.fromkeys([row["passage_id"], *ids_of_text.get(row["positive"], [])])
        out.extend((row["query_id"], pid, 1) for pid in ids)
    return out
