"""passages: clean documents -> sentence-aware passages bounded in embedder tokens, as Parquet.

Output ``runs/<name>/passages/data/*.parquet`` with columns passage_id, doc_id, url, position, n_tokens, text.
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import ParquetWriter

from pipeline.errors import StageError
from pipeline.executors import make_executor, read_step_stats
from pipeline.stages.base import Stage
from pipeline.steps.passage_splitter import PassageSplitter, load_tokenizer


def passage_row(_writer, doc: Document) -> dict:
    """ParquetWriter adapter: one flat row per passage."""
    m = doc.metadata
    return {"passage_id": doc.id, "doc_id": m["doc_id"], "url": m.get("url", ""), "position": m["position"],
            "n_tokens": m["n_tokens"], "text": doc.text}


class PassagesStage(Stage):
    name = "passages"
    config_sections = ("passages",)

    def config_hash(self) -> str:
        # group_key left out while unset: runs made before the setting existed keep their hash (and generate, an
        # expensive stage, its upstream)
        if self.config.passages.group_key is None:
            return self.config.section_hash("passages", exclude={"passages": {"group_key"}})
        return super().config_hash()

    def preflight(self) -> None:
        load_tokenizer(self.config.passages.tokenizer)  # fail here, with a clear message, not inside a worker

    def process(self) -> dict[str, Any]:
        cfg, ex = self.config.passages, self.config.executor
        source = self.folder.path("ingest.documents")
        files = sorted(source.glob("*.jsonl.gz"))
        if not files:
            raise StageError(f"ingest kept no documents ({source} is empty): nothing to cut into passages. "
                             "Check ingest/stats.json for what was dropped and why.")
        pipeline = [
            JsonlReader(str(source), glob_pattern="*.jsonl.gz"),
            PassageSplitter(cfg.tokenizer, self.language.spacy, cfg.max_tokens, cfg.min_tokens, cfg.group_key),
            ParquetWriter(str(self.folder.path("passages.passages")), output_filename="${rank}.parquet",
                          adapter=passage_row),
        ]
        make_executor(ex, pipeline, self.dir / "logs", min(ex.tasks, len(files)), "passages").run()
        counters = read_step_stats(self.dir / "logs")
        split = next((c for name, c in counters.items() if "Passages" in name), {})
        lengths = self.folder.read("passages.passages", columns=("n_tokens",), allow_empty=True)
        lengths = lengths["n_tokens"].to_pylist()
        lengths.sort()
        return {
            "documents_in": int(split.get("documents", 0)),
            "rows": len(lengths),
            "dropped_too_short": int(split.get("dropped_too_short", 0)),
            "documents_without_group": int(split.get("group_key_missing", 0)),
            "tokens_mean": round(sum(lengths) / max(len(lengths), 1), 1),
            "tokens_p50": lengths[len(lengths) // 2] if lengths else 0,
            "tokens_max": lengths[-1] if lengths else 0,
            "output": str(self.folder.path("passages.passages")),
        }

    def summary(self, stats: dict[str, Any]) -> str:
        return (f"{stats['documents_in']} documents -> {stats['rows']} passages (mean {stats['tokens_mean']} "
                f"tokens, max {stats['tokens_max']}); {stats['dropped_too_short']} short pieces dropped")
