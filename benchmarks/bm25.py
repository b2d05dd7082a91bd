"""Benchmark: the project's BM25 against bm25s's own ``retrieve`` and rank-bm25, same corpus, tokens and queries.

The project's BM25 is bm25s's index scored sparsely (only the passages holding a query term, ``Bm25Index``);
``bm25s.retrieve`` fills a score for every passage per query; rank-bm25 scans the corpus in Python. Prints index
time, queries/s and the overlap of the top-10 lists (mean |A & B| / 10). The corpus is a run's
passages (default ``runs/it_corpus``); queries are sentences drawn from those passages (a seeded sample), so every
query has lexical matches. Needs rank-bm25 (the ``dev`` extra).

    python benchmarks/bm25.py --run runs/it_corpus --passages 16000 --queries 2000
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipeline.languages import load_language  # noqa: E402
from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default="runs/it_corpus")
    parser.add_argument("--passages", type=int, default=16000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from rank_bm25 import BM25Okapi

    texts = RunFolder(args.run).read("passages.passages", columns=("text",))["text"].to_pylist()[: args.passages]
    rng = random.Random(args.seed)
    sentences = [s for t in rng.sample(texts, min(len(texts), args.queries))
                 for s in [rng.choice(re.split(r"(?<=[.!?])\s+", t))]]
    tokenizer = LanguageTokenizer.for_language(load_language("ita_Latn"))
    tokens = tokenizer.many(texts)
    query_tokens = tokenizer.many(sentences)
    print(f"[bm25] {len(texts)} passages, {len(sentences)} queries")

    start = time.perf_counter()
    index = Bm25Index(texts, tokenizer)
    t_index_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = index.top_many(sentences, 10)
    t_query_s = time.perf_counter() - start

    start = time.perf_counter()
    docs, scores = index.index.retrieve([t or ["\x00none"] for t in query_tokens], k=10, show_progress=False,
                                        n_threads=1)
    t_query_b = time.perf_counter() - start
    dense = [[int(i) for i, v in zip(d, s) if v > 0] for d, s in zip(np.asarray(docs), np.asarray(scores))]

    start = time.perf_counter()
    okapi = BM25Okapi([t or ["\x00empty"] for t in tokens])
    t_index_r = time.perf_counter() - start
    start = time.perf_counter()
    theirs = []
    for q in query_tokens:
        scores = okapi.get_scores(q)
        top = np.argsort(-scores, kind="stable")[:10]
        theirs.append([int(i) for i in top if scores[i] > 0])
    t_query_r = time.perf_counter() - start

    overlap = np.mean([len({i for i, _ in a} & set(b)) / 10 for a, b in zip(ours, theirs)])
    top1 = np.mean([bool(a) and bool(b) and a[0][0] == b[0] for a, b in zip(ours, theirs)])
    same = np.mean([len({i for i, _ in a} & set(b)) / max(len(b), 1) for a, b in zip(ours, dense)])
    print(f"{'library':<16} {'index s':>8} {'queries/s':>10}")
    print(f"{'ours (sparse)':<16} {t_index_s:>8.2f} {len(sentences) / t_query_s:>10.1f}")
    print(f"{'bm25s.retrieve':<16} {t_index_s:>8.2f} {len(sentences) / t_query_b:>10.1f}")
    print(f"{'rank-bm25':<16} {t_index_r:>8.2f} {len(sentences) / t_query_r:>10.1f}")
    print(f"queries/s ratio sparse / bm25s.retrieve: {t_query_b / t_query_s:.1f}x; same top-10 {same:.3f} "
          "(the same scores; lists differ only where scores tie at the cut)")
    print(f"queries/s ratio sparse / rank-bm25: {t_query_r / t_query_s:.1f}x; top-10 overlap {overlap:.3f}, "
          f"same top-1 {top1:.3f} (tokenization is shared; bm25s scores with Lucene's IDF, rank-bm25 with Okapi's)")


if __name__ == "__main__":
    main()
