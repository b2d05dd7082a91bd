"""A tiny dataset folder in the published format, built from the fixture topics (tiny_topics.py).

Parquet files per config and split (``triplets``, ``pairs``, ``queries``, ``qrels``, plus ``corpus``), a README.md
whose ``configs:`` YAML ``datasets.load_dataset(root, "triplets")`` reads, and the test split as a BEIR folder
(``beir/test``). Train, dev and test queries are different phrasings over the same passages (a fixture, not a
leak-free split); negatives are other topics' passages.

Example::

    root = write_fixture_dataset(tmp_path / "it-fixture")
    datasets.load_dataset(str(root), "triplets")["train"].num_rows      # 144: 48 topics x 3 train templates
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from retrieval.beir import write_beir
from retrieval.testing.tiny_topics import DEV_TEMPLATES, TEST_TEMPLATES, TRAIN_TEMPLATES, fixture_topics

_README = """---
license: cc-by-4.0
language:
- it
version: 0.0.1-test
configs:
{configs}
---
# Tiny fixture dataset (tests only)
"""


def _write_parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def _configs_yaml(configs: dict[str, dict[str, str]]) -> str:
    """The ``configs:`` list of the card's YAML (config name -> split -> file)."""
    lines = []
    for name, files in configs.items():
        lines.append(f"- config_name: {name}")
        lines.append("  data_files:")
        for split, path in files.items():
            lines.append(f"  - split: {split}")
            lines.append(f"    path: {path}")
    return "\n".join(lines)


def write_fixture_dataset(root: Path, seed: int = 0, num_negatives: int = 3) -> Path:
    """Write a tiny dataset folder in the published format; returns ``root``."""
    root = Path(root)
    rng = random.Random(seed)
    topics = fixture_topics(seed)
    corpus = [{"_id": t["id"], "title": "", "text": t["text"]} for t in topics]
    _write_parquet(root / "corpus" / "corpus.parquet", corpus)
    configs = {"corpus": {"corpus": "corpus/corpus.parquet"}}
    splits = {"train": TRAIN_TEMPLATES, "dev": DEV_TEMPLATES, "test": TEST_TEMPLATES}
    for split, templates in splits.items():
        triplets, pairs, queries, qrels = [], [], [], []
        for i, t in enumerate(topics):
            others = [o for o in topics if o["id"] != t["id"]]
            for j, tpl in enumerate(templates):
                qid = f"{split}-q{i}-{j}"
                query = tpl.format(a=t["a"], b=t["b"])
                negs = rng.sample(others, num_negatives)
                row = {"query_id": qid, "query": query, "positive_id": t["id"], "positive": t["text"]}
                row.update({f"negative_{k + 1}": n["text"] for k, n in enumerate(negs)})
                row["style"] = "keywords"
                triplets.append(row)
                pairs.append(
                    {"query_id": qid, "query": query, "passage_id": t["id"], "passage": t["text"], "style": "keywords"}
                )
                queries.append({"_id": qid, "text": query})
                qrels.append({"query-id": qid, "corpus-id": t["id"], "score": 1})
        for name, rows in [("triplets", triplets), ("pairs", pairs), ("queries", queries), ("qrels", qrels)]:
            _write_parquet(root / name / f"{split}.parquet", rows)
            configs.setdefault(name, {})[split] = f"{name}/{split}.parquet"
        if split == "test":
            write_beir(root / "beir" / "test", corpus, queries,
                       [(q["query-id"], q["corpus-id"], q["score"]) for q in qrels])
    (root / "README.md").write_text(_README.format(configs=_configs_yaml(configs)), encoding="utf-8")
    return root
