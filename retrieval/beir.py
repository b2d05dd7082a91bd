"""BEIR-style retrieval folders, the format the pipeline publishes (``beir/test``) and BEIR, MTEB and eval/ read:
``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``) and qrels as
``qrels/<split>.tsv`` or ``qrels.tsv`` (header ``query-id  corpus-id  score``). One reader and one writer for all.

Example::

    write_beir(Path("split/beir/test"), [{"_id": "p1", "title": "", "text": "..."}],
               [{"_id": "q1", "text": "..."}], [("q1", "p1", 1)])
    read_qrels(find_qrels(Path("split/beir/test"), "test"))      # {'q1': {'p1': 1}}
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from retrieval.errors import EvalSetError

BEIR_HELP = (
    "A BEIR-style folder needs corpus.jsonl (_id, title, text), queries.jsonl (_id, text) and qrels/test.tsv "
    "or qrels.tsv (header: query-id, corpus-id, score)."
)


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


def read_jsonl(path: Path, needed: tuple[str, ...] = ()) -> list[dict]:
    """The records of a JSONL file; EvalSetError naming the line that is not JSON or lacks a ``needed`` key."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise EvalSetError(f"{path} line {n} is not valid JSON ({exc}). {BEIR_HELP}") from exc
            missing = [k for k in needed if k not in row]
            if missing:
                raise EvalSetError(f"{path} line {n} lacks the key(s) {missing} (it has {sorted(row)}). {BEIR_HELP}")
            rows.append(row)
    return rows


def find_qrels(folder: Path, split: str) -> Path:
    """``qrels/<split>.tsv``, else ``qrels.tsv``, else the only TSV in ``qrels/``; EvalSetError if none."""
    for candidate in (folder / "qrels" / f"{split}.tsv", folder / "qrels.tsv"):
        if candidate.is_file():
            return candidate
    tsvs = sorted((folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
    if len(tsvs) == 1:
        return tsvs[0]
    raise EvalSetError(
        f"{folder} has no qrels: looked for qrels/{split}.tsv and qrels.tsv. Fix: add the relevance judgements "
        f"as a TSV with the header 'query-id<TAB>corpus-id<TAB>score'. {BEIR_HELP}"
    )


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a qrels TSV (with header) into query id -> {passage id: score}."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise EvalSetError(f"{path} must start with the header 'query-id<TAB>corpus-id<TAB>score' (got {header}).")
        for n, row in enumerate(reader, 2):
            if not row:
                continue
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
            except (IndexError, ValueError) as exc:
                raise EvalSetError(f"{path} line {n} is not 'query-id<TAB>corpus-id<TAB>score': {row}") from exc
    return qrels
