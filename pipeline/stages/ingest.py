"""ingest: raw documents -> language ID -> quality filters -> PII -> exact + MinHash dedup -> clean documents.

Every step is datatrove's own; this module only wires them with the language file's thresholds. Work happens in
datatrove executors whose logging folders hold completion markers, so a killed run resumes task by task.

Layout under ``runs/<name>/ingest/``::

    output/            clean documents, datatrove JSONL (${rank}.jsonl.gz)
    removed/<reason>/  dropped documents, for inspection (ingest.keep_removed)
    work/              intermediate files (filtered docs, dedup signatures)
    logs/<step>/       datatrove logs, completion markers and statistics
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datatrove.pipeline.dedup import MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets
from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig

from pipeline.errors import InputDataError, StageError
from pipeline.executors import all_tasks_done, make_executor, read_step_stats
from pipeline.stages.base import Stage, format_drops
from pipeline.steps.cleanup import TrailingMarksFormatter
from pipeline.steps.dedup_keys import normalized_text
from pipeline.steps.language_id import OfflineLanguageFilter
from pipeline.steps.readers import RankFileReader, StrictJsonlReader, TextFilesReader, count_text_files

RANK_FILE = "${rank}.jsonl.gz"


def _refuse_empty(files: list[Path]) -> None:
    """Every input file is empty: a run would finish with no document (and a rerun would skip its finished tasks)."""
    if all(f.stat().st_size == 0 for f in files):
        where = files[0].resolve() if len(files) == 1 else f"{len(files)} files under {files[0].parent.resolve()}"
        raise InputDataError(f"no documents to read: {where} {'is' if len(files) == 1 else 'are all'} empty. Fix "
                             "ingest.source.path/glob, or fill the file(s) with JSONL records (one JSON object with a "
                             "text field per line).")


class IngestStage(Stage):
    name = "ingest"
    config_sections = ("ingest",)

    # ------------------------------------------------------------ building blocks
    def _reader(self):
        src = self.config.ingest.source
        if src.type == "hub":
            from datatrove.pipeline.readers import HuggingFaceDatasetReader

            return HuggingFaceDatasetReader(
                src.hub_dataset, dataset_options={"name": src.hub_config, "split": src.hub_split},
                streaming=True, text_key=src.text_key, id_key=src.id_key, limit=src.limit, doc_progress=True,
            )
        if src.type == "files":
            return TextFilesReader(self._resolve_text_folder(), glob_pattern=src.glob or "**/*", limit=src.limit,
                                   file_progress=True)
        folder, glob = self._resolve_local_source()
        return StrictJsonlReader(folder, glob_pattern=glob, text_key=src.text_key, id_key=src.id_key,
                                 limit=src.limit, file_progress=True)

    def _resolve_local_source(self) -> tuple[str, str | None]:
        src = self.config.ingest.source
        if "://" in src.path:  # remote (s3://, hf://, https://): datatrove/fsspec reads it; errors surface there
            return src.path, src.glob
        path = Path(src.path)
        if not path.exists():
            raise InputDataError(
                f"input path not found: {path.resolve()}. Set ingest.source.path to a JSONL(.gz) file or a folder "
                f"of them (relative paths start from the folder you run in)."
            )
        if path.is_file():
            _refuse_empty([path])
            return str(path.parent), path.name
        glob = src.glob or "**/*.json*"
        files = [p for p in path.glob(glob) if p.is_file()]
        if not files:
            raise InputDataError(f"no files match '{glob}' under {path.resolve()}. Fix ingest.source.glob/path.")
        _refuse_empty(files)
        return str(path), glob

    def _resolve_text_folder(self) -> str:
        path = Path(self.config.ingest.source.path)
        if not path.is_dir():
            raise InputDataError(f"ingest.source.type is 'files' but {path.resolve()} is not a folder. Set "
                                 "ingest.source.path to the folder that holds your .txt/.md documents.")
        if count_text_files(str(path)) == 0:
            raise InputDataError(f"no .txt, .md or .markdown files under {path.resolve()}. Put one document per "
                                 "file there, or use ingest.source.type: jsonl for JSONL records.")
        return str(path)

    def _removed(self, reason: str):
        if not self.config.ingest.keep_removed:
            return None
        return JsonlWriter(str(self.folder.path("ingest.removed") / reason), output_filename=RANK_FILE)

    def _filters(self) -> list:
        ing, lang = self.config.ingest, self.language
        lid = lang.lid.get(ing.language_id.backend)
        if lid is None:
            raise StageError(f"language file {lang.code} has no lid.{ing.language_id.backend} entry: add it")
        q = lang.quality
        steps = [TrailingMarksFormatter()] if ing.strip_trailing_marks else []
        steps += [
            OfflineLanguageFilter(
                languages=[lid.label], language_threshold=ing.language_id.threshold or lid.threshold,
                backend=ing.language_id.backend, model_path=ing.language_id.model_path,
                exclusion_writer=self._removed("language"),
            )
        ]
        # Thresholds as FineWeb-2 applies them (its fineweb-2-pipeline.py), numbers from the language file.
        if ing.gopher_repetition:
            steps.append(GopherRepetitionFilter(
                dup_line_frac=q.dup_line_frac, dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0,
                top_n_grams=q.top_n_grams, dup_n_grams=q.dup_n_grams, language=lang.datatrove_language,
                exclusion_writer=self._removed("gopher_repetition"),
            ))
        if ing.fineweb_quality:
            steps.append(FineWebQualityFilter(
                short_line_thr=999, char_duplicates_ratio=0.1, line_punct_thr=q.line_punct_thr,
                new_line_ratio=q.new_line_ratio, language=lang.datatrove_language,
                exclusion_writer=self._removed("fineweb_quality"),
            ))
        if ing.gopher_quality:
            steps.append(GopherQualityFilter(
                max_avg_word_length=q.max_avg_word_length, min_avg_word_length=q.min_avg_word_length,
                stop_words=q.stopwords, min_stop_words=q.min_stop_words,
                max_non_alpha_words_ratio=q.max_non_alpha_words_ratio, language=lang.datatrove_language,
                exclusion_writer=self._removed("gopher_quality"),
            ))
        if ing.pii:
            steps.append(PIIFormatter())
        return steps

    # ------------------------------------------------------------------- run
    def preflight(self) -> None:
        if self.config.ingest.source.type == "jsonl":
            self._resolve_local_source()
        elif self.config.ingest.source.type == "files":
            self._resolve_text_folder()

    def process(self) -> dict[str, Any]:
        ing, ex = self.config.ingest, self.config.executor
        work, logs = self.folder.path("ingest.work"), self.dir / "logs"
        tasks = ex.tasks
        filtered = work / "filtered"
        executors = [make_executor(ex, [self._reader(), *self._filters(),
                                        JsonlWriter(str(filtered), output_filename=RANK_FILE)],
                                   logs / "1_filter", tasks, "ingest_filter")]
        exact_cfg = ExactDedupConfig(content_getter=normalized_text)
        stream_in = filtered
        if ing.dedup.exact:
            executors.append(make_executor(ex, [RankFileReader(str(filtered)),
                                                ExactDedupSignature(str(work / "exact_sigs"), config=exact_cfg)],
                                           logs / "2_exact_signatures", tasks, "ingest_exact_sigs", executors[-1]))
            executors.append(make_executor(ex, [ExactFindDedups(str(work / "exact_sigs"), str(work / "exact_dups"),
                                                                config=exact_cfg)],
                                           logs / "3_exact_find", 1, "ingest_exact_find", executors[-1]))
        minhash_cfg = MinhashConfig(hash_config=HashConfig(hash_fc="xxhash", precision=64),
                                    num_buckets=ing.dedup.num_buckets, hashes_per_bucket=ing.dedup.hashes_per_bucket,
                                    n_grams=ing.dedup.n_grams)
        # One pass: drop exact duplicates, write the survivors, and compute MinHash signatures over that same
        # stream, so MinHash's per-rank document indices refer to the written file.
        step4 = [RankFileReader(str(stream_in))]
        if ing.dedup.exact:
            step4.append(ExactDedupFilter(str(work / "exact_dups"), config=exact_cfg,
                                          exclusion_writer=self._removed("exact_duplicate")))
        step4.append(JsonlWriter(str(work / "exact_deduped"), output_filename=RANK_FILE))
        if ing.dedup.minhash:
            step4.append(MinhashDedupSignature(str(work / "minhash_sigs"), config=minhash_cfg,
                                               language=self.language.datatrove_language))
        executors.append(make_executor(ex, step4, logs / "4_exact_filter", tasks, "ingest_exact_filter",
                                       executors[-1]))
        final = [RankFileReader(str(work / "exact_deduped"))]
        if ing.dedup.minhash:
            buckets = MinhashDedupBuckets(str(work / "minhash_sigs"), str(work / "minhash_buckets"),
                                          config=minhash_cfg)
            executors.append(make_executor(ex, [buckets],
                                           logs / "5_minhash_buckets", minhash_cfg.num_buckets,
                                           "ingest_mh_buckets", executors[-1]))
            executors.append(make_executor(ex, [MinhashDedupCluster(str(work / "minhash_buckets"),
                                                                    str(work / "minhash_remove"), config=minhash_cfg)],
                                           logs / "6_minhash_cluster", 1, "ingest_mh_cluster", executors[-1]))
            final.append(MinhashDedupFilter(str(work / "minhash_remove"),
                                            exclusion_writer=self._removed("near_duplicate")))
        final.append(JsonlWriter(str(self.folder.path("ingest.documents")), output_filename=RANK_FILE))
        executors.append(make_executor(ex, final, logs / "7_output", tasks, "ingest_output", executors[-1]))

        if ex.type == "local":
            for executor in executors:
                executor.run()
        else:
            executors[-1].run()  # launches the dependency chain
            if not all_tasks_done(executors[-1]):
                raise StageError(f"ingest jobs submitted to {ex.type}; rerun this command when they have finished "
                                 f"(logs in {logs}). Finished tasks are skipped.")
        return self._statistics(logs)

    def _statistics(self, logs: Path) -> dict[str, Any]:
        first = read_step_stats(logs / "1_filter")
        docs_in = sum(c.get("documents", 0) for name, c in first.items() if "Jsonl" in name or "Reader" in name
                      or "HuggingFace" in name or "Text files" in name)
        dropped: dict[str, int] = {}
        reasons: dict[str, dict[str, int]] = {}
        for name, counter in first.items():
            if counter.get("dropped"):
                key = _FILTER_KEYS.get(name.split(": ", 1)[-1].split(" ", 1)[-1].strip(), name)
                dropped[key] = int(counter["dropped"])
                reasons[key] = {k.removeprefix("dropped_"): int(v) for k, v in counter.items()
                                if k.startswith("dropped_")}
        if self.config.ingest.dedup.exact:
            for counter in read_step_stats(logs / "4_exact_filter").values():
                if counter.get("dropped"):
                    dropped["exact_duplicate"] = int(counter["dropped"])
        if self.config.ingest.dedup.minhash:
            for counter in read_step_stats(logs / "7_output").values():
                if counter.get("dropped"):
                    dropped["near_duplicate"] = int(counter["dropped"])
        kept = docs_in - sum(dropped.values())
        return {"documents_in": docs_in, "kept": kept, "rows": kept, "dropped": dropped, "dropped_detail": reasons,
                "output": str(self.folder.path("ingest.documents"))}

    def summary(self, stats: dict[str, Any]) -> str:
        return (f"{stats['documents_in']} documents in, {stats['kept']} kept; dropped: "
                f"{format_drops(stats['dropped'])}")


_FILTER_KEYS = {
    "Language ID": "language",
    "Gopher Repetition": "gopher_repetition",
    "FineWeb Quality": "fineweb_quality",
    "Gopher Quality": "gopher_quality",
}
