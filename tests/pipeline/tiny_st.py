"""Fixtures for the mine, split and publish tests: a finished ``filter`` stage written by hand.

The tiny model itself is retrieval.testing.tiny_model's ``build_tiny_model`` (shared, used read-only through the
``tiny_model_dir`` fixture of tests/pipeline/conftest.py); the passages reuse its fixture topics, so the tiny
WordPiece vocabulary knows their words.

Layout: 16 documents of 3 passages each (topics 0-47), plus document ``dup`` whose one passage is a near-copy of
passage ``doc00-p0`` (a planted false negative from another document, and a near-duplicate document that the
split must keep together with ``doc00``). Queries: two per passage of the first ``n_query_passages`` passages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.config import config_from_dict
from pipeline.stages.base import write_marker
from retrieval.testing.tiny_topics import fixture_topics

N_DOCS, PER_DOC = 16, 3
NEAR_COPY_ID, NEAR_COPY_OF = "dup-p0", "doc00-p0"


def fixture_passages() -> list[dict]:
    topics = fixture_topics(0)
    rows = []
    for i, topic in enumerate(topics[: N_DOCS * PER_DOC]):
        doc = f"doc{i // PER_DOC:02d}"
        rows.append({"passage_id": f"{doc}-p{i % PER_DOC}", "doc_id": doc, "url": f"https://example.it/{doc}",
                     "position": i % PER_DOC, "n_tokens": len(topic["text"].split()), "text": topic["text"]})
    words = rows[0]["text"].split()
    near_copy = " ".join(words[:-1] + ["sera."])  # the same passage with its last word changed
    rows.append({"passage_id": NEAR_COPY_ID, "doc_id": "dup", "url": "https://example.it/dup", "position": 0,
                 "n_tokens": len(words), "text": near_copy})
    return rows


def fixture_queries(n_query_passages: int = 30) -> list[dict]:
    topics = fixture_topics(0)
    rows = []
    for i, topic in enumerate(topics[:n_query_passages]):
        doc = f"doc{i // PER_DOC:02d}"
        for style, text in (("keywords", f"{topic['a']} {topic['b']}"),
                            ("question", f"storia della città e del lavoro di {topic['a']} e {topic['b']}?")):
            rows.append({"query_id": f"q{i:02d}-{style[0]}", "passage_id": f"{doc}-p{i % PER_DOC}", "doc_id": doc,
                         "style": style, "query": text, "model": "tiny-llm", "prompt_hash": "abc123"})
    return rows


def write_finished_stage(stage_dir: Path, stats: dict) -> None:
    stage_dir.mkdir(parents=True, exist_ok=True)
    (stage_dir / "stats.json").write_text(json.dumps(stats))
    write_marker(stage_dir, {"stage": stage_dir.name, "config_hash": "fixture", "upstream": None,
                             "fingerprint": f"fixture-{stage_dir.name}", "stats": stats})


def write_filter_run(run_dir: Path, queries: list[dict] | None = None, passages: list[dict] | None = None) -> Path:
    """A run folder whose ``filter`` stage has finished (plus stats of the earlier stages, for the card)."""
    queries = fixture_queries() if queries is None else queries
    passages = fixture_passages() if passages is None else passages
    stage = Path(run_dir) / "filter"
    stage.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(queries, columns=["query_id", "passage_id", "doc_id", "style", "query", "model", "prompt_hash"]) \
        .to_parquet(stage / "queries.parquet", index=False)
    pd.DataFrame(passages, columns=["passage_id", "doc_id", "url", "position", "n_tokens", "text"]) \
        .to_parquet(stage / "passages.parquet", index=False)
    write_finished_stage(Path(run_dir) / "ingest", {"documents_in": 40, "kept": 17, "rows": 17, "dropped": {
        "language": 10, "gopher_quality": 8, "minhash": 5}})
    write_finished_stage(Path(run_dir) / "passages", {"documents_in": 17, "rows": len(passages),
                                                       "tokens_mean": 32.0, "tokens_max": 40})
    write_finished_stage(Path(run_dir) / "generate", {
        "replies": 30, "rows": 70, "replies_dropped": {"invalid_json": 2}, "queries_dropped": {"empty": 1},
        "model": "tiny-llm", "prompt_hash": "abc123", "prompt_tokens": 9000, "completion_tokens": 2100})
    write_finished_stage(stage, {"queries_in": 70, "rows": len(queries),
                                 "dropped": {"language": 4, "copy": 2, "round_trip": 4}})
    return stage


def make_run_config(tmp_path: Path, model_dir: Path | str, **sections):
    """A PipelineConfig whose run folder is ``tmp_path/runs/test``; ``sections`` override config sections."""
    data = {"run_name": "test", "output_dir": str(Path(tmp_path) / "runs"),
            "mine": {"model": str(model_dir), "range_max": 20, "num_negatives": 3, "relative_margin": 0.05}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return config_from_dict(data)


def write_mine_run(run_dir: Path, k: int = 3, spare: int = 2) -> list[dict]:
    """A run whose ``mine`` stage has finished, without a model: hand-made negatives that invite leakage.

    Every query gets ``k + spare`` negatives from other documents: the planted near-copy ``dup-p0`` first (for
    queries not about doc00/dup), then positives of other queries, so whichever split holds doc00 or those
    positives, the negatives of the other splits point at held-out passages that the split stage must drop.
    """
    write_filter_run(run_dir)
    passages = {p["passage_id"]: p for p in fixture_passages()}
    positives = list(dict.fromkeys(q["passage_id"] for q in fixture_queries()))
    rows = []
    for n, q in enumerate(fixture_queries()):
        pool = [NEAR_COPY_ID] if q["doc_id"] != "doc00" else []
        pool += [positives[(n * 7 + j * 5) % len(positives)] for j in range(1, 4 * k)]
        chosen = list(dict.fromkeys(p for p in pool if passages[p]["doc_id"] != q["doc_id"]))[: k + spare]
        if n % 10 == 9:
            chosen = chosen[:1]  # a query with fewer than k negatives
        negatives = [{"passage_id": p, "doc_id": passages[p]["doc_id"], "text": passages[p]["text"],
                      "score": 0.8 - 0.05 * j, "source": "dense" if j % 2 == 0 else "bm25"}
                     for j, p in enumerate(chosen)]
        rows.append({"query_id": q["query_id"], "query": q["query"], "passage_id": q["passage_id"],
                     "positive": passages[q["passage_id"]]["text"], "doc_id": q["doc_id"], "style": q["style"],
                     "negatives": negatives, "positive_score": 0.9})
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.stages.mine import TRIPLET_SCHEMA

    stage = Path(run_dir) / "mine"
    stage.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=TRIPLET_SCHEMA), stage / "triplets.parquet")
    write_finished_stage(stage, {"queries_in": len(rows), "rows": len(rows), "queries_with_k_negatives": 54,
                                 "queries_without_negatives": 0, "dropped": {"guard_dense": 40, "guard_bm25": 12,
                                                                             "same_document": 9, "judge": 0}})
    return rows
