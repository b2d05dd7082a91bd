"""Readers: datatrove's JsonlReader with loud errors, a reader that keeps dedup indices aligned per rank, and one
that reads a folder of text/Markdown files, one document each."""

from __future__ import annotations

import gzip
import re
import zlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.readers.base import BaseDiskReader

from pipeline.errors import InputDataError


class StrictJsonlReader(JsonlReader):
    """JsonlReader that stops with a clear error on bad input instead of skipping it with a log line.

    datatrove's JsonlReader logs and skips lines that are not JSON and records without text; in a curated
    pipeline a broken input file is almost always a mistake the user wants to hear about, with file and line.

    Example::

        reader = StrictJsonlReader("pipeline/data/sample", glob_pattern="*.jsonl.gz")
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


TEXT_EXTENSIONS = (".txt", ".md", ".markdown")
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class TextFilesReader(BaseDiskReader):
    """One document per plain-text or Markdown file (``.txt``, ``.md``, ``.markdown``): a folder of manuals, FAQs
    or notes, as a team has them. datatrove's readers all read records (JSONL, CSV, Parquet, WARC...), none a file
    as one document, hence this reader.

    The document id is the file's path under the folder; Markdown front matter (``---`` ... ``---``) is dropped
    and the first heading, or else the file name, becomes ``metadata["title"]``. Files that are not UTF-8 stop
    the run with the file named.

    Example::

        reader = TextFilesReader("docs/", glob_pattern="**/*")
    """

    name = "📄 Text files"

    def __init__(self, data_folder, extensions: tuple[str, ...] = TEXT_EXTENSIONS, **kwargs) -> None:
        super().__init__(data_folder, **kwargs)
        self.extensions = tuple(e.lower() for e in extensions)

    def read_file(self, filepath: str) -> DocumentsPipeline:
        if not filepath.lower().endswith(self.extensions):
            return
        try:
            with self.data_folder.open(filepath, "r", encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError as e:
            raise InputDataError(
                f"{self.data_folder.resolve_paths(filepath)}: not UTF-8 text ({e}). Convert it to UTF-8 "
                f"(iconv -f latin1 -t utf-8) or move it out of the folder, then rerun."
            ) from None
        text = _FRONT_MATTER.sub("", text, count=1).strip()
        if not text:
            return
        heading = _HEADING.search(text)
        title = heading.group(1) if heading else filepath.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        with self.track_time():
            document = self.get_document_from_dict(
                {"text": text, "id": filepath, "metadata": {"title": title}}, filepath, 0
            )
        if document:
            yield document


def count_text_files(folder: str, extensions: tuple[str, ...] = TEXT_EXTENSIONS) -> int:
    """How many files under ``folder`` the TextFilesReader would read."""
    from pathlib import Path

    return sum(1 for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in extensions)
