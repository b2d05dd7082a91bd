"""Benchmark: hard-negative mining time per 1,000 queries on CPU, split into embedding, dense search, BM25 and
selection, next to a plain ``model.encode`` of the same texts measured in the same run.

    E5_MODEL=$(../shared/tools/get-e5-small) python benchmarks/mine.py                 # 1,000 queries, 10,000 passages
    python benchmarks/mine.py --model /root/.cache/e5-small-offline --queries 100 --passages 1000

Passages come from ``runs/it_corpus/passages/data/*.parquet`` when present, else from the shared corpus texts
(``../shared/data/it_corpus``, cut into paragraphs); queries are the first sentence of random passages (seeded).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config.dataset import MineConfig  # noqa: E402
from pipeline.languages import load_language  # noqa: E402
from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer  # noqa: E402
from pipeline.mining.corpus import Corpus  # noqa: E402
from pipeline.mining.dense import dense_candidates  # noqa: E402
from pipeline.mining.embeddings import EmbeddingCache  # noqa: E402
from pipeline.mining.miner import Miner  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from retrieval.models import load_embedder  # noqa: E402


def load_passages(n: int, seed: int) -> list[dict]:
    """``n`` passages (passage_id, doc_id, text) from the it_corpus run, else from the shared corpus files."""
    run = RunFolder(ROOT / "runs" / "it_corpus")
    if run.path("passages.passages").is_dir():
        rows = run.read("passages.passages", columns=("passage_id", "doc_id", "text")).to_pylist()
    else:
        rows = []
        for path in sorted((ROOT.parent / "shared" / "data" / "it_corpus").glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for d, line in enumerate(f):
                    paragraphs = [p for p in json.loads(line)["text"].split("\n") if len(p.split()) >= 20]
                    rows += [{"passage_id": f"{path.stem}-{d}-{i}", "doc_id": f"{path.stem}-{d}", "text": p}
                             for i, p in enumerate(paragraphs)]
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} passages available, asked for {n}")
    return random.Random(seed).sample(rows, n)


def make_queries(passages: list[dict], n: int, seed: int) -> list[dict]:
    """Synthetic queries: the first sentence (at most 20 words) of ``n`` random passages."""
    rows = []
    for i, p in enumerate(random.Random(seed).sample(passages, n)):
        sentence = re.split(r"(?<=[.!?])\s", p["text"].strip(), maxsplit=1)[0]
        rows.append({"query_id": f"q{i}", "query": " ".join(sentence.split()[:20]), "passage_id": p["passage_id"],
                     "doc_id": p["doc_id"], "style": "synthetic"})
    return rows


def timed(label: str, timings: dict, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[label] = time.perf_counter() - start
    return out


def run(args) -> dict:
    cfg = MineConfig(model=args.model, method=args.method, batch_size=args.batch_size, use_faiss=True)
    passages = load_passages(args.passages, args.seed)
    queries = make_queries(passages, args.queries, args.seed)
    corpus = Corpus.from_rows(passages)
    model = load_embedder(args.model)
    q_texts = list(dict.fromkeys(q["query"] for q in queries))
    model.encode([cfg.query_prompt + t for t in q_texts[:8]], batch_size=8)  # warm-up, not timed
    t: dict[str, float] = {}
    timed("plain_encode", t, lambda: (model.encode([cfg.query_prompt + q for q in q_texts], batch_size=cfg.batch_size),
                                      model.encode([cfg.corpus_prompt + c for c in corpus.texts],
                                                   batch_size=cfg.batch_size)))
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(model, args.model, Path(tmp))
        q_emb = timed("embed_queries", t, cache.encode, "query", q_texts, cfg.query_prompt, cfg.batch_size)
        c_emb = timed("embed_passages", t, cache.encode, "corpus", corpus.texts, cfg.corpus_prompt, cfg.batch_size)
        for q in queries:
            q["positive_index"] = corpus.index_of_passage[q["passage_id"]]
        positives_of: dict[str, set[int]] = {}
        for q in queries:
            positives_of.setdefault(q["query"], set()).add(q["positive_index"])
        miner = Miner(corpus, cfg, q_emb, c_emb, {q: i for i, q in enumerate(q_texts)}, positives_of=positives_of)
        if args.method != "bm25":
            miner.dense = timed("dense_search", t, dense_candidates, model, [q["query"] for q in queries],
                                [corpus.texts[q["positive_index"]] for q in queries], corpus, cfg, cache.folder)
        if args.method != "dense":
            language = load_language("ita_Latn")
            miner.bm25 = timed("bm25_index", t, Bm25Index, corpus.texts,
                               LanguageTokenizer(language.spacy, language.stop_words))
            timed("bm25_search", t, miner.prefetch_bm25, q_texts)  # as the stage does: one batched search
        rows = timed("bm25_and_select", t, lambda: [miner.mine_one(q)[0] for q in queries])
    embed = t["embed_queries"] + t["embed_passages"]
    search = sum(t.get(k, 0.0) for k in ("dense_search", "bm25_index", "bm25_search", "bm25_and_select"))
    per_k = 1000 / len(queries)
    return {
        "queries": len(queries), "passages": len(corpus), "method": args.method, "model": args.model,
        "seconds": {k: round(v, 2) for k, v in t.items()},
        "embedding_s": round(embed, 2), "search_s": round(search, 2), "mining_total_s": round(embed + search, 2),
        # the passages are embedded once per corpus; each query adds its own embedding and search
        "per_1000_queries_s": {"embedding": round(t["embed_queries"] * per_k, 2), "search": round(search * per_k, 2)},
        "ratio_mining_to_plain_encode": round((embed + search) / t["plain_encode"], 3),
        "mean_negatives": round(sum(len(r["negatives"]) for r in rows) / len(rows), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("E5_MODEL"), help="embedder folder (default: $E5_MODEL)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=10000)
    parser.add_argument("--method", choices=["dense", "bm25", "hybrid"], default="hybrid")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.model:
        parser.error("no model: pass --model or set E5_MODEL (../shared/tools/get-e5-small prints a local path)")
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
