"""Readers: datatrove's JsonlReader with loud errors, and a reader that keeps dedup indices aligned per rank."""

from __future__ import annotations

import gzip
import zlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.readers import JsonlReader

from pipeline.errors import InputDataError


class StrictJsonlReader(JsonlReader):
    """JsonlReader that stops with a clear error on bad input instead of skipping it with a log line.

    datatrove's JsonlReader logs and skips lines that are not JSON and records without text; in a curated
    pipeline a broken input file is almost always a mistake the user wants to hear about, with file and line.

    Example:
        >>> reader = StrictJsonlReader("pipeline/data/sample", glob_pattern="*.jsonl.gz")
    """

    name = "🐿 Jsonl (strict)"

    def read_file(self, filepath: str) -> DocumentsPipeline:
        import orjson

        where = self.data_folder.resolve_paths(filepath)
        line_no = 0
        try:
            with self.data_folder.open(filepath, "r", compression=self.compression) as f:
                for line_no, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError as e:
                        raise InputDataError(
                            f"{where}, line {line_no}: not valid JSON ({e}). Each line must be one JSON object "
                            f"(JSONL); fix or delete that line, then rerun: finished work is kept."
                        ) from None
                    if not isinstance(record, dict) or not isinstance(record.get(self.text_key), str):
                        raise InputDataError(
                            f"{where}, line {line_no}: record has no string field '{self.text_key}'. Set "
                            f"ingest.source.text_key to the field that holds the text, or fix the record."
                        )
                    with self.track_time():
                        document = self.get_document_from_dict(record, filepath, line_no - 1)
                    if document:
                        yield document
        except (gzip.BadGzipFile, zlib.error, EOFError, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise InputDataError(
                f"{where}: corrupt or truncated compressed file near line {line_no} ({type(e).__name__}: {e}). "
                f"Re-download or re-compress it (gzip -t {where} checks it), then rerun."
            ) from None
        except UnicodeDecodeError as e:
            raise InputDataError(
                f"{where}, line {line_no + 1}: not UTF-8 text ({e}). Convert the file to UTF-8."
            ) from None


class RankFileReader(JsonlReader):
    """Reads only the file that rank ``r`` of the previous step wrote (``{r:05d}.jsonl.gz``), or nothing.

    datatrove's readers shard a folder by position in its sorted file list; when an upstream rank wrote no file
    (all its documents were dropped), every later rank would read its neighbour's file and apply the wrong
    dedup indices. Dedup signatures and removal lists are per rank, so each rank must read its own file.
    """

    name = "🐿 Jsonl (rank file)"

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        filename = f"{rank:05d}.jsonl.gz"
        if not self.data_folder.isfile(filename):
            return
        for doc in self.read_files_shard([filename]):
            self.update_doc_stats(doc)
            yield doc
