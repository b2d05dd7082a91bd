"""mine: hard negatives for every kept query, dense (mine_hard_negatives + FAISS) and lexical (BM25).

Both sources obey the positive-aware false-negative guard TopK-PercPos (a negative may score at most
``positive - |positive| * relative_margin`` with the base embedder), come from other documents than the
positive's, and may be checked by an LLM judge (``mine.llm_judge``). ``method: hybrid`` interleaves the two
ranked lists (dense first) and keeps the first ``num_negatives + spare_negatives`` distinct passages, best first
(the split may drop leaking ones; publish takes the first ``num_negatives``).

Output under ``runs/<name>/mine/``: ``triplets.parquet`` (one row per query; see TRIPLET_SCHEMA), ``embeddings/``
(cached embeddings, reused on rerun), ``judge_cache.jsonl`` (with llm_judge), ``tasks_<N>/`` (with ``mine.tasks`` N
above 1: the tasks' markers and shards, pipeline/mining/shards.py).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

from tqdm.auto import tqdm

from pipeline.config.generate import DenseIndexConfig
from pipeline.errors import ConfigError, StageError
from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer
from pipeline.mining.corpus import Corpus
from pipeline.mining.dense import dense_candidates
from pipeline.mining.embedding_store import EmbeddingStore
from pipeline.mining.embeddings import EmbeddingCache
from pipeline.mining.miner import Miner
from pipeline.mining.stats import TripletStats
from pipeline.mining.tools import MiningTools
from pipeline.run_folder import TRIPLET_SCHEMA
from pipeline.stages.base import Stage, format_drops
from retrieval.errors import ModelError
from retrieval.models import load_embedder


class MineStage(Stage):
    name = "mine"
    config_sections = ("mine",)
    batch_rows = 20_000  # queries mined per batch: their rows (negative texts included) are written, then dropped

    def config_hash(self) -> str:
        # with the judge on, its model and endpoint shape the output too (not the rest of the generate section)
        gen = self.config.generate
        judge = [gen.backend, gen.model, gen.endpoint_url] if self.config.mine.llm_judge else None
        # shards give the same rows; the index settings shape them only above index.exact_below passages, and at
        # their defaults are left out (runs made before the setting existed keep their hash)
        unused = {"tasks", "index"} if self.config.mine.index == DenseIndexConfig() else {"tasks"}
        own = self.config.section_hash("mine", exclude={"mine": unused})
        return hashlib.sha256(json.dumps([own, judge]).encode()).hexdigest()[:16]

    def inputs(self) -> tuple[list[dict], Corpus, int]:
        queries = self.folder.read("filter.queries").to_pylist()
        passages = self.folder.read("filter.passages", columns=("passage_id", "doc_id", "text")).to_pylist()
        corpus = Corpus.from_rows(passages)
        kept = []
        for q in queries:
            index = corpus.index_of_passage.get(q["passage_id"])
            if index is not None:
                kept.append({**q, "positive_index": index})
        if not kept:
            raise StageError(f"none of the {len(queries)} queries' positive passages is in "
                             f"{self.folder.path('filter.passages')}: the filter outputs disagree. Rerun "
                             "`python -m pipeline.run --stage filter --force`.")
        return kept, corpus, len(queries) - len(kept)

    def process(self) -> dict[str, Any]:
        cfg = self.config.mine
        rows, corpus, orphans = self.inputs()
        print(f"[mine] {len(rows)} queries, {len(corpus)} unique passages; method {cfg.method}, model {cfg.model}"
              + (f"; {cfg.tasks} tasks" if cfg.tasks > 1 else ""))
        tools = self.tools(corpus)
        stats, drops = TripletStats(cfg.num_negatives), Counter()
        with self.folder.writer("mine.triplets", TRIPLET_SCHEMA) as out:
            batches = self._mine_in_tasks(len(rows)) if cfg.tasks > 1 else self.mine_batches(rows, corpus, tools)
            for batch, batch_drops in batches:  # rows with their negatives' texts: written, never all held
                out.write(batch)
                stats.add(batch)
                drops.update(batch_drops)
        drops["positive_not_in_corpus"] = orphans
        return {
            "queries_in": len(rows) + orphans, **stats.result(),
            "dropped": {k: drops.get(k, 0) for k in ("guard_dense", "guard_bm25", "same_document", "judge",
                                                     "positive_not_in_corpus")},
            "judge_unclear": drops.get("judge_unclear", 0),
            "corpus_passages": len(corpus), "model": cfg.model, "method": cfg.method,
            "num_negatives": cfg.num_negatives, "range_min": cfg.range_min, "range_max": cfg.range_max,
            "relative_margin": cfg.relative_margin, "llm_judge": cfg.llm_judge,
            "judge_model": self.config.generate.model if cfg.llm_judge else None,
            "embeddings_reused": sorted(set(tools.cache.hits)), "tasks": cfg.tasks,
        }

    def tools(self, corpus: Corpus) -> MiningTools:
        """What every query shares: the model, the embedding cache holding the corpus embeddings, the BM25 index.
        Built once by the stage before any task starts (tasks then load them, none builds them concurrently)."""
        cfg = self.config.mine
        try:
            model = load_embedder(cfg.model)
        except ModelError as e:
            raise ConfigError(f"mine.model: {e}") from None
        cache = EmbeddingCache(model, cfg.model, self.folder.path("mine.embeddings"))
        store = self.folder.path("run.embeddings")  # what the filter's judges embedded is not embedded again
        corpus_embeddings = cache.encode("corpus", corpus.texts, cfg.corpus_prompt or None, cfg.batch_size,
                                         reuse=lambda: EmbeddingStore(store, cfg.model, cfg.corpus_prompt)
                                         .embed(model, corpus.texts, cfg.batch_size, desc="passages"))
        bm25 = None
        if cfg.method in ("bm25", "hybrid"):
            bm25 = Bm25Index(corpus.texts, LanguageTokenizer.for_language(self.language), self.folder.path("run.bm25"))
        return MiningTools(model, cache, corpus_embeddings, bm25)

    def mine_batches(self, rows: list[dict], corpus: Corpus, tools: MiningTools):
        """``mine_rows`` over ``batch_rows`` queries at a time: yields (rows, drop counts) per batch. A row holds its
        negatives' texts (several passages per query), so memory holds one batch of them, not the whole run."""
        for start in range(0, len(rows), self.batch_rows):
            if len(rows) > self.batch_rows:
                print(f"[mine] queries {start + 1}-{min(start + self.batch_rows, len(rows))} of {len(rows)}")
            yield self.mine_rows(rows[start:start + self.batch_rows], corpus, tools)

    def mine_rows(self, rows: list[dict], corpus: Corpus, tools: MiningTools) -> tuple[list[dict], Counter]:
        """Negatives for ``rows`` (query rows with ``positive_index``), in their order, and the drop counts. Each
        query's negatives depend only on it and the corpus, so any split of the rows gives the same output rows."""
        cfg = self.config.mine
        query_texts = list(dict.fromkeys(r["query"] for r in rows))
        positives_of: dict[str, set[int]] = {}
        for r in rows:
            positives_of.setdefault(r["query"], set()).add(r["positive_index"])
        store = self.folder.path("run.embeddings")
        miner = Miner(
            corpus, cfg,
            query_embeddings=tools.cache.encode("query", query_texts, cfg.query_prompt or None, cfg.batch_size,
                                                reuse=lambda: EmbeddingStore(store, cfg.model, cfg.query_prompt)
                                                .embed(tools.model, query_texts, cfg.batch_size, desc="queries")),
            corpus_embeddings=tools.corpus_embeddings,
            query_index={q: i for i, q in enumerate(query_texts)}, positives_of=positives_of, bm25=tools.bm25,
        )
        if tools.bm25 is not None:
            miner.prefetch_bm25(query_texts)
        drops = Counter()
        if cfg.method in ("dense", "hybrid"):
            miner.dense = dense_candidates(tools.model, [r["query"] for r in rows],
                                           [corpus.texts[r["positive_index"]] for r in rows], corpus, cfg,
                                           tools.cache.folder)
            drops["guard_dense"] = miner.dense.guard_dropped
        return self._mine_all(miner, rows, drops), drops

    def _mine_in_tasks(self, n_rows: int):
        """Mine in ``mine.tasks`` shards of the queries on the configured executor (local workers, Slurm, Ray);
        datatrove's completion markers let a killed stage resume task by task. Yields the shards' rows in order,
        batch by batch, with their drop counts."""
        from pipeline.executors import run_sharded
        from pipeline.mining.shards import MineShard, read_shards

        tasks = min(self.config.mine.tasks, n_rows)
        folder = self.folder.path("mine.tasks", tasks=str(tasks))  # one task count's markers and shards
        step = MineShard(self.config.model_dump(mode="json"), str(folder / "shards"))
        run_sharded(self.config.executor, step, folder, tasks, "mine", "mine")
        return read_shards(folder / "shards", tasks, self.batch_rows)

    def _mine_all(self, miner: Miner, rows: list[dict], drops: Counter) -> list[dict]:
        """Mine every query; with the judge, queries go to the endpoint concurrently (generate.concurrency)."""
        judge_ctx = nullcontext(None)
        if self.config.mine.llm_judge:
            from pipeline.mining.judge import open_judge

            judge_ctx = open_judge(self.config, self.language, self.dir)
        with judge_ctx as judge:
            miner.judge = judge
            workers = self.config.generate.concurrency if judge else 1
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(tqdm(pool.map(miner.mine_one, rows), total=len(rows), desc="mine", disable=None))
        out = []
        for row, row_drops in results:
            out.append(row)
            drops.update(row_drops)
        return out

    def summary(self, stats: dict[str, Any]) -> str:
        return (f"{stats['queries_in']} queries -> {stats['queries_with_k_negatives']} with "
                f"{stats['num_negatives']} negatives, {stats['queries_without_negatives']} with none "
                f"({stats['negatives_by_source']}); dropped: {format_drops(stats['dropped'])}")
