"""Read a published retrieval dataset (a local folder or a Hub id) through ``datasets.load_dataset``.

The published format (pipeline/stages/publish.py writes it): configs ``triplets``, ``pairs``, ``corpus``,
``queries`` and ``qrels`` with splits train/dev/test (corpus: split ``corpus``), and a README whose YAML front
matter lists the configs and the version. Used by training (triplets, the dev IR set) and evaluation (a dataset
root as an eval set); every failure is a DatasetError naming the dataset, config, split, file or column at fault.

Example::

    source = describe_dataset("data/datasets/it_corpus")
    load_split(source, "queries", "test").column_names      # ['_id', 'text']
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset, load_dataset

from retrieval.errors import DatasetError

SCHEMA_KEY = "retrieval_schema_version"
# the published format: configs triplets/pairs/corpus/queries/qrels with the columns require_columns names
SCHEMA_VERSION = 1  # bump when they change
_CARD_VERSION = re.compile(r"\*\*Version:\*\*\s*`([^`]+)`")
_NEGATIVE = re.compile(r"^negative_(\d+)$")
FIX = "Fix: point --dataset at a folder or Hub id published by `python -m pipeline.run --stage publish`."


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
    """The YAML front matter of ``folder/README.md`` (huggingface_hub's reader; empty if absent or unreadable)."""
    from huggingface_hub import metadata_load

    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    try:
        return metadata_load(readme) or {}
    except Exception:  # not YAML: a card written by hand; the data files still load
        return {}


def check_schema(meta: dict[str, Any], where: str) -> None:
    """A dataset written in another version of the published format is refused with the fix. Cards without the
    field predate it (dataset versions up to 0.5.0) and have format 1."""
    found = meta.get(SCHEMA_KEY, SCHEMA_VERSION)
    if found != SCHEMA_VERSION:
        raise DatasetError(
            f"{where} is in version {found!r} of the published format ({SCHEMA_KEY} in its README); this toolkit "
            f"reads version {SCHEMA_VERSION}. Fix: republish it with this toolkit (`python -m pipeline.run --stage "
            "publish --force`), or use the toolkit release that wrote it."
        )


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
            raise DatasetError(f"dataset path {path!r} is a file, not a dataset folder. {FIX}")
        meta = read_card_metadata(folder)
        check_schema(meta, f"dataset {path!r}")
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
        raise DatasetError(f"dataset folder {path!r} does not exist (and it is not a <user>/<name> Hub id). {FIX}")
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
        if message.startswith("Unknown split"):  # datasets lists the splits there is: "Should be one of [...]"
            raise DatasetError(
                f"config {config!r} of dataset {source.path!r} has no split {split!r}: {message} Fix: name one of "
                "them (eval.run: --split; training: data.train_split / data.dev_split, or data.dev_split: null to "
                "train without a dev split)."
            ) from exc
        raise DatasetError(
            f"cannot load config {config!r} split {split!r} of dataset {source.path!r}: {type(exc).__name__}: "
            f"{message}. The dataset needs the configs triplets, corpus, queries and qrels with splits "
            f"train/dev/test (corpus: split corpus). {FIX}"
        ) from exc


def require_columns(ds: Dataset, needed: tuple[str, ...] | list[str], where: str) -> None:
    """Raise a DatasetError naming ``where`` (file) and the missing columns."""
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise DatasetError(
            f"{where} lacks column(s) {missing} (it has {ds.column_names}). Expected the published format: "
            f"triplets need query, positive, negative_1..negative_k; corpus _id/title/text; queries _id/text; "
            f"qrels query-id/corpus-id/score. {FIX}"
        )


def negative_columns(columns: list[str], limit: int | None = None) -> list[str]:
    """``negative_1``, ``negative_2``... present in ``columns``, in numeric order, at most ``limit``.

    Example:
        >>> negative_columns(["query", "negative_10", "negative_2", "negative_1", "negative_x"], 2)
        ['negative_1', 'negative_2']
    """
    found = sorted((int(m.group(1)), c) for c in columns if (m := _NEGATIVE.match(c)))
    names = [c for _, c in found]
    return names[:limit] if limit else names
