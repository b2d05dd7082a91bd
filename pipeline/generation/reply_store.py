"""A folder of finished LLM replies that travels with the project (committed to git), so a run continues anywhere.

The run folder (``runs/<name>/generate/``) lives on one machine. LLM replies are the one expensive thing a run
makes, so every finished batch of them is also exported here, one gzipped JSONL file per batch, named by the
passages it covers. A fresh clone on another machine rebuilds the cheap stages (ingest, passages: deterministic),
then generate sends only the passages that no stored reply covers.

Each record ties a reply to what produced it::

    {"passage_id": ..., "text_sha1": <sha1 of the passage text>, "prompt_hash": ..., "model": ...,
     "llm_file": <the GGUF served, local backends>, "config_hash": <generate's config hash>,
     "doc_id": ..., "reply": {"text": ..., "finish_reason": ..., "usage": {...}}}

A stored reply made for other passage text (the corpus or the passages settings changed), another prompt, another
model or GGUF, or other generation settings (temperature, max_tokens, response format) is never mixed in silently:
loading it is an error that names the file and the fix. Replies for passages the run does not have (a run on part of
the collection) are left unused, with a notice; a store of which nothing fits the run is an error.

Example::

    store = ReplyStore("data/replies/it_corpus")
    store.add([record, ...])            # after a batch finishes
    done = store.load(expect={pid: sha1 for ...}, prompt_hash=h, model=m)   # passage_id -> record
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

from pipeline.atomic import atomic_path
from pipeline.errors import ConfigError


def text_sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class ReplyStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("replies-*.jsonl.gz"))

    def add(self, records: list[dict]) -> Path | None:
        """Write one batch of records as a new file (atomic); return it. Records already stored are skipped."""
        if not records:
            return None
        ids = sorted(r["passage_id"] for r in records)
        name = "replies-" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12] + ".jsonl.gz"
        path = self.folder / name
        if path.is_file():
            return path
        # mtime=0: the same replies give the same bytes, so re-exporting a batch never shows as a git change
        with atomic_path(path) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            for record in sorted(records, key=lambda r: r["passage_id"]):
                f.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
        return path

    def records(self) -> list[dict]:
        """Every stored record; a truncated or corrupt file is an error naming it."""
        out = []
        for path in self.files():
            try:
                with gzip.open(path, "rt", encoding="utf-8") as f:
                    out.extend(json.loads(line) for line in f if line.strip())
            except (EOFError, OSError, zlib.error, json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ConfigError(
                    f"the stored reply file {path} is truncated or corrupt ({type(e).__name__}): restore it with "
                    f"`git checkout -- {path}`, or delete it (its passages are then sent to the LLM again)."
                ) from None
        return out

    def load(self, expect: dict[str, str], prompt_hash: str, model: str, config_hash: str | None = None,
             llm_file: str | None = None) -> dict[str, dict]:
        """passage_id -> record, for the passages of ``expect`` (passage_id -> text sha1) that a stored reply covers.

        Raises ConfigError when a stored reply belongs to other passages, another prompt, another model or GGUF, or
        other generation settings.
        """
        found: dict[str, dict] = {}
        problems: dict[str, list[str]] = {"text": [], "unknown": [], "prompt": [], "model": [], "settings": []}
        for record in self.records():
            pid = record.get("passage_id")
            if pid not in expect:
                problems["unknown"].append(pid)
            elif record.get("text_sha1") != expect[pid]:
                problems["text"].append(pid)
            elif record.get("prompt_hash") != prompt_hash:
                problems["prompt"].append(pid)
            elif record.get("model") != model or (llm_file and record.get("llm_file") not in (None, llm_file)):
                problems["model"].append(pid)
            elif config_hash and record.get("config_hash") not in (None, config_hash):
                problems["settings"].append(pid)
            else:
                found[pid] = record
        if found and problems["unknown"] and not problems["text"]:
            # a run on part of the collection (fewer documents than the run that filled the store): the other
            # passages' replies are harmless, never mixed in; only a store of which nothing fits is an error
            print(f"[generate] {len(problems['unknown'])} stored replies in {self.folder} are for passages this run "
                  f"does not have (a part of the collection?): not used")
            problems["unknown"] = []
        self._raise_mismatch(problems, prompt_hash, model)
        return found

    def _raise_mismatch(self, problems: dict[str, list[str]], prompt_hash: str, model: str) -> None:
        fix = (f"Restore the corpus, config and language file that made them, or set generate.reply_store to a new "
               f"folder (the replies in {self.folder} are then not used).")
        if problems["text"] or problems["unknown"]:
            n, m = len(problems["text"]), len(problems["unknown"])
            example = (problems["text"] or problems["unknown"])[0]
            raise ConfigError(
                f"stored replies in {self.folder} do not match this run's passages: {n} were made for other text "
                f"and {m} for passages this run does not have (e.g. {example}); the corpus or the passages "
                f"settings changed. {fix}")
        if problems["prompt"]:
            raise ConfigError(
                f"{len(problems['prompt'])} stored replies in {self.folder} were made with another prompt (this "
                f"run's prompt hash is {prompt_hash}): the language file's prompts or generate.styles changed. {fix}")
        if problems["model"]:
            raise ConfigError(
                f"{len(problems['model'])} stored replies in {self.folder} were made by another model or GGUF file "
                f"(this run asks '{model}'). {fix}")
        if problems["settings"]:
            raise ConfigError(
                f"{len(problems['settings'])} stored replies in {self.folder} were made with other generation "
                f"settings (temperature, max_tokens, response format, styles: the generate section changed). {fix}")
