"""Read the published dataset through ``datasets.load_dataset``: triplets for training, an IR set for dev.

The dataset (a local folder or a Hub id) has the configs ``triplets``, ``pairs``, ``corpus``, ``queries`` and
``qrels``; see the project README. Every failure becomes a DatasetError that names the dataset, config, split,
file or column at fault and says how to fix it.
"""

from __future__ import annotations

import logging
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from datasets import Dataset, load_dataset

from training.errors import DatasetError

logger = logging.getLogger(__name__)

TRIPLET_COLUMNS = ("query", "positive", "negative_1")
_NEGATIVE = re.compile(r"^negative_(\d+)$")
_CARD_VERSION = re.compile(r"\*\*Version:\*\*\s*`([^`]+)`")
_FIX = "Fix: point --dataset at a folder or Hub id published by `python -m pipeline.run --stage publish`."


@dataclass
class DatasetSource:
    """Where the dataset comes from, for loading and for the model card."""

    path: str
    revision: str | None = None
    is_local: bool = False
    version: str | None = None
    pretty_name: str | None = None
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        """Name for logs and the model card, with the version when known (e.g. ``user/it-triplets version v1.0.0``)."""
        name = self.path
        if self.is_local:
            name = f"{self.pretty_name} ({self.path})" if self.pretty_name else self.path
        version = self.version or self.revision
        return f"{name} version {version}" if version else name


def read_card_metadata(folder: Path) -> dict[str, Any]:
    """The YAML front matter of ``folder/README.md`` (empty if absent or unreadable)."""
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _version_in_card_body(folder: Path) -> str | None:
    """The ``- **Version:** `v1.0.0``` line that the pipeline's dataset card writes (None if absent)."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    match = _CARD_VERSION.search(readme.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def describe_dataset(path: str, revision: str | None = None) -> DatasetSource:
    """Resolve ``path`` to a DatasetSource; a local folder's version comes from its README (YAML ``version:``, else
    the card's ``**Version:** `...``` line)."""
    folder = Path(path).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise DatasetError(f"dataset path {path!r} is a file, not a dataset folder. {_FIX}")
        meta = read_card_metadata(folder)
        version = meta.get("version") or meta.get("dataset_version") or _version_in_card_body(folder)
        return DatasetSource(
            path=str(folder),
            revision=None,
            is_local=True,
            version=str(version) if version else None,
            pretty_name=meta.get("pretty_name"),
            card=meta,
        )
    if path.startswith((".", "/", "~")) or path.count("/") != 1:
        raise DatasetError(f"dataset folder {path!r} does not exist (and it is not a <user>/<name> Hub id). {_FIX}")
    return DatasetSource(path=path, revision=revision, is_local=False)


def data_file_hint(source: DatasetSource, config: str, split: str) -> str:
    """The data file of ``config``/``split`` as listed in a local README (for error messages)."""
    for entry in source.card.get("configs") or []:
        if isinstance(entry, dict) and entry.get("config_name") == config:
            for item in entry.get("data_files") or []:
                if isinstance(item, dict) and item.get("split") == split:
                    path = item.get("path")
                    return str(Path(source.path) / path) if isinstance(path, str) else str(path)
    return f"{source.path} [{config}/{split}]"


def load_split(source: DatasetSource, config: str, split: str) -> Dataset:
    """``load_dataset(source.path, config, split=split)`` with a DatasetError naming what is missing."""
    # datasets caches a local folder under its folder name and layout, not its content: two published folders
    # named "dataset" (or one republished) share a stale cache and fail to cast. Local folders are read into
    # memory through a throw-away cache.
    local = Path(source.path).is_dir()
    try:
        with tempfile.TemporaryDirectory(prefix="datasets-") as tmp:
            return load_dataset(source.path, config, split=split, revision=source.revision,
                                cache_dir=tmp if local else None, keep_in_memory=local or None)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(
            f"cannot load config {config!r} split {split!r} of dataset {source.path!r}: {type(exc).__name__}: "
            f"{message}. The dataset needs the configs triplets, corpus, queries and qrels with splits "
            f"train/dev/test (corpus: split corpus). {_FIX}"
        ) from exc


def require_columns(ds: Dataset, needed: tuple[str, ...] | list[str], where: str) -> None:
    """Raise a DatasetError naming ``where`` (file) and the missing columns."""
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise DatasetError(
            f"{where} lacks column(s) {missing} (it has {ds.column_names}). Expected the published format: "
            f"triplets need query, positive, negative_1..negative_k; corpus _id/title/text; queries _id/text; "
            f"qrels query-id/corpus-id/score. {_FIX}"
        )


def negative_columns(columns: list[str], limit: int | None = None) -> list[str]:
    """``negative_1``, ``negative_2``... present in ``columns``, in numeric order, at most ``limit``."""
    found = sorted((int(m.group(1)), c) for c in columns if (m := _NEGATIVE.match(c)))
    names = [c for _, c in found]
    return names[:limit] if limit else names


def load_triplets(
    source: DatasetSource,
    split: str = "train",
    num_negatives: int | None = None,
    max_samples: int | None = None,
    seed: int = 42,
) -> Dataset:
    """The ``triplets`` split as a Dataset with exactly the columns query, positive, negative_1..negative_k.

    Rows with an empty or missing text are dropped (and counted in the log); ids and style are removed because
    the trainer feeds every remaining column to the loss.
    """
    ds = load_split(source, "triplets", split)
    where = data_file_hint(source, "triplets", split)
    require_columns(ds, TRIPLET_COLUMNS, where)
    negatives = negative_columns(ds.column_names, num_negatives)
    if num_negatives and len(negatives) < num_negatives:
        logger.warning(
            "data.num_negatives is %d but %s has only %d negative columns", num_negatives, where, len(negatives)
        )
    columns = ["query", "positive", *negatives]
    ds = ds.select_columns(columns)
    before = len(ds)
    ds = ds.filter(lambda row: all(isinstance(row[c], str) and row[c].strip() for c in columns))
    if len(ds) < before:
        logger.warning("dropped %d of %d rows of %s with an empty text", before - len(ds), before, where)
    if len(ds) == 0:
        raise DatasetError(f"{where} has no usable rows (every row lacks a query, positive or negative). {_FIX}")
    if max_samples and len(ds) > max_samples:
        ds = ds.shuffle(seed=seed).select(range(max_samples))
    return ds


@dataclass
class IRData:
    """A retrieval set: query id -> text, passage id -> text, query id -> relevant passage ids."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, set[str]]


def load_ir_split(
    source: DatasetSource,
    split: str,
    max_queries: int | None = None,
    max_corpus: int | None = None,
    seed: int = 42,
) -> IRData:
    """Queries and qrels of ``split`` plus the corpus, subsampled for a fast in-training evaluation.

    The corpus keeps every passage relevant to a kept query plus a seeded random sample of the others, up to
    ``max_corpus`` passages in all.
    """
    queries_ds = load_split(source, "queries", split)
    require_columns(queries_ds, ("_id", "text"), data_file_hint(source, "queries", split))
    qrels_ds = load_split(source, "qrels", split)
    require_columns(qrels_ds, ("query-id", "corpus-id", "score"), data_file_hint(source, "qrels", split))
    corpus_ds = load_split(source, "corpus", "corpus")
    require_columns(corpus_ds, ("_id", "text"), data_file_hint(source, "corpus", "corpus"))

    relevant: dict[str, set[str]] = {}
    for qid, did, score in zip(qrels_ds["query-id"], qrels_ds["corpus-id"], qrels_ds["score"], strict=True):
        if score and score > 0:
            relevant.setdefault(str(qid), set()).add(str(did))
    queries = {
        str(q): t for q, t in zip(queries_ds["_id"], queries_ds["text"], strict=True) if str(q) in relevant and t
    }
    rng = random.Random(seed)
    if max_queries and len(queries) > max_queries:
        queries = {q: queries[q] for q in sorted(rng.sample(sorted(queries), max_queries))}
    relevant = {q: relevant[q] for q in queries}
    corpus_all = {str(d): t for d, t in zip(corpus_ds["_id"], corpus_ds["text"], strict=True) if t}
    needed = set().union(*relevant.values()) & corpus_all.keys() if relevant else set()
    others = sorted(corpus_all.keys() - needed)
    room = len(others) if not max_corpus else max(0, max_corpus - len(needed))
    keep = needed | set(rng.sample(others, min(room, len(others))))
    corpus = {d: corpus_all[d] for d in sorted(keep)}
    relevant = {q: docs & keep for q, docs in relevant.items() if docs & keep}
    queries = {q: queries[q] for q in relevant}
    return IRData(queries=queries, corpus=corpus, relevant_docs=relevant)
