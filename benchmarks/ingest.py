"""Benchmark: ingest + passages over the shared Italian corpus, next to datatrove's reader alone.

Prints documents/s and passages/s of the two stages, and the documents/s of datatrove's JsonlReader reading the
same files in the same run, so the ratio shows what filtering, dedup and splitting cost.

Usage: python benchmarks/ingest.py [--corpus ../shared/data/it_corpus] [--tokenizer PATH] [--tasks 4 --workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from datatrove.pipeline.readers import JsonlReader

from pipeline.config import config_from_dict
from pipeline.stages.ingest import IngestStage
from pipeline.stages.passages import PassagesStage


def reader_alone(corpus: str) -> tuple[int, float]:
    start = time.perf_counter()
    n = sum(1 for _ in JsonlReader(corpus, glob_pattern="*.jsonl.gz").run(None, 0, 1))
    return n, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data/it_corpus"))
    parser.add_argument("--tokenizer", default=os.environ.get("E5_MODEL", "intfloat/multilingual-e5-small"))
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    n_read, t_read = reader_alone(args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config_from_dict({
            "run_name": "bench", "output_dir": tmp, "executor": {"tasks": args.tasks, "workers": args.workers},
            "ingest": {"source": {"type": "jsonl", "path": args.corpus, "glob": "*.jsonl.gz"}},
            "passages": {"tokenizer": args.tokenizer},
        })
        start = time.perf_counter()
        ingest = IngestStage(cfg).run()
        t_ingest = time.perf_counter() - start
        start = time.perf_counter()
        passages = PassagesStage(cfg).run()
        t_passages = time.perf_counter() - start

    docs = ingest["documents_in"]
    total = t_ingest + t_passages
    print("\n=== ingest + passages benchmark ===")
    print(f"machine: {os.cpu_count()} cores; executor tasks={args.tasks} workers={args.workers}")
    print(f"datatrove JsonlReader alone : {n_read:>7} docs in {t_read:7.1f}s = {n_read / t_read:9.1f} docs/s")
    print(f"ingest (LID, filters, dedup): {docs:>7} docs in {t_ingest:7.1f}s = {docs / t_ingest:9.1f} docs/s "
          f"({ingest['kept']} kept)")
    print(f"passages                    : {passages['rows']:>7} passages in {t_passages:7.1f}s = "
          f"{passages['rows'] / t_passages:9.1f} passages/s")
    print(f"both stages                 : {total:7.1f}s for {docs} docs = {docs / total:9.1f} docs/s")
    print(f"ratio reader-alone speed / pipeline speed: {(n_read / t_read) / (docs / total):.1f}x")
    print(f"target (whole corpus in < 180 s): {'met' if total < 180 else 'NOT met'} ({total:.0f} s)")


if __name__ == "__main__":
    main()
