"""The YAML metadata block at the top of the dataset's README.md (what the Hub indexes and ``load_dataset`` reads).

Example:
    >>> meta = card_metadata(pretty_name="It triplets", language="it", license="cc-by-4.0",
    ...                      source_datasets=["allenai/c4"], tags=["retrieval"], n_rows=1200,
    ...                      files={"triplets": {"train": "triplets/train.parquet"}})
    >>> meta["size_categories"], meta["configs"][0]["default"]
    (['1K<n<10K'], True)
"""

from __future__ import annotations

import yaml

_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]


def size_category(n: int) -> str:
    """The Hub's size bucket for ``n`` rows."""
    return next((label for limit, label in _SIZES if n < limit), "n>100M")


def card_metadata(*, pretty_name: str, language: str, license: str, source_datasets: list[str], tags: list[str],
                  n_rows: int, files: dict[str, dict[str, str]], default_config: str = "triplets",
                  version: str | None = None) -> dict:
    """The metadata mapping; ``files`` is config -> split -> path inside the repository."""
    configs = []
    for name, splits in files.items():
        entry = {"config_name": name}
        if name == default_config:
            entry["default"] = True
        entry["data_files"] = [{"split": split, "path": path} for split, path in splits.items()]
        configs.append(entry)
    from retrieval.dataset import SCHEMA_KEY, SCHEMA_VERSION

    meta = {
        "pretty_name": pretty_name,
        "language": [language],
        "license": license,
        "multilinguality": ["monolingual"],
        "annotations_creators": ["machine-generated"],
        "language_creators": ["found", "machine-generated"],
        "task_categories": ["sentence-similarity", "text-retrieval"],
        "task_ids": ["document-retrieval"],
        "size_categories": [size_category(n_rows)],
        **({"source_datasets": list(source_datasets)} if source_datasets else {}),  # none for one's own documents
        "tags": list(tags),
        "configs": configs,
        SCHEMA_KEY: SCHEMA_VERSION,  # the published format (retrieval/dataset.py): readers refuse another one
    }
    if version:
        meta["version"] = version  # the dataset's own version; the Hub release is tagged v<version>
    return meta


def front_matter(metadata: dict) -> str:
    """``---\\n<yaml>---\\n``, the block a README.md starts with."""
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n"
