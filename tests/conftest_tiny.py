"""Tiny, offline test fixtures shared by tests/training and tests/eval.

* ``build_tiny_model(folder)``: a 2-layer BERT (hidden 64) with a WordPiece tokenizer trained on the fixture
  text, wrapped as a SentenceTransformer (Transformer + mean Pooling) and saved to ``folder``.
* ``write_fixture_dataset(root)``: a dataset folder in the published format (Parquet per config and split, a
  README.md with the ``configs:`` YAML, and ``beir/test``), loadable with ``datasets.load_dataset(root, "triplets")``.
* ``write_beir_folder(folder, ...)``: a BEIR-style folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).

The fixture is built so that learning is possible: every topic has two rare invented keywords shared by its
queries and its passage, while the passages are padded with many common Italian words that a random model
confuses. Train, dev and test queries use different templates over the same passages.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

N_TOPICS = 48
_SYLLABLES = ["ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "qua", "bre"]
_COMMON = (
    "la il di che e un una per con del della nel sono era anche come più questo questa molto sempre città "
    "giorno anno tempo vita casa lavoro persone parte storia mondo paese strada acqua sera notte modo caso"
).split()
_TRAIN_TEMPLATES = ["che cosa sai di {a} e {b}", "informazioni su {a} {b}", "{a} {b} spiegazione"]
_DEV_TEMPLATES = ["parlami di {a} e {b}"]
_TEST_TEMPLATES = ["dove si parla di {a} {b}", "notizie {a} {b}"]


def _keyword(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(4))


def fixture_topics(seed: int = 0, n_topics: int = N_TOPICS) -> list[dict[str, str]]:
    """One passage per topic, with two rare keywords; deterministic for a seed."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < 2 * n_topics:
        words.add(_keyword(rng))
    keywords = sorted(words)
    rng.shuffle(keywords)
    topics = []
    for i in range(n_topics):
        a, b = keywords[2 * i], keywords[2 * i + 1]
        filler = [rng.choice(_COMMON) for _ in range(30)]
        filler.insert(rng.randrange(0, 10), a)
        filler.insert(rng.randrange(15, 30), b)
        topics.append({"id": f"p{i}", "a": a, "b": b, "text": " ".join(filler) + "."})
    return topics


def fixture_sentences(seed: int = 0) -> list[str]:
    """All text of the fixture (for training the tiny tokenizer)."""
    out = []
    for t in fixture_topics(seed):
        out.append(t["text"])
        for tpl in _TRAIN_TEMPLATES + _DEV_TEMPLATES + _TEST_TEMPLATES:
            out.append(tpl.format(a=t["a"], b=t["b"]))
    return out


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Build and save a tiny SentenceTransformer (2-layer BERT, hidden 64, mean pooling); returns ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    hf_dir = folder.parent / (folder.name + "_hf")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        fixture_sentences(seed) + ["query: passage:"] * 5,
        trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(hf_dir)
    fast.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(64, "mean")], device="cpu")
    model.save(str(folder))
    return folder


def _write_parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)


def write_beir_folder(
    folder: Path,
    corpus: list[dict[str, str]],
    queries: list[dict[str, str]],
    qrels: list[tuple[str, str, int]],
    qrels_path: str = "qrels/test.tsv",
) -> Path:
    """Write a BEIR-style folder: corpus.jsonl, queries.jsonl and a qrels TSV with a header."""
    folder = Path(folder)
    (folder / qrels_path).parent.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for doc in corpus:
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(folder / qrels_path, "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, did, score in qrels:
            f.write(f"{qid}\t{did}\t{score}\n")
    return folder


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


def write_fixture_dataset(root: Path, seed: int = 0, num_negatives: int = 3) -> Path:
    """Write a tiny dataset folder in the published format; returns ``root``.

    Every topic's passage is in the corpus; train/dev/test queries are different phrasings over the same
    passages (a fixture, not a leak-free split). Negatives are other topics' passages.
    """
    root = Path(root)
    rng = random.Random(seed)
    topics = fixture_topics(seed)
    corpus = [{"_id": t["id"], "title": "", "text": t["text"]} for t in topics]
    _write_parquet(root / "corpus" / "corpus.parquet", corpus)
    configs = {"corpus": {"corpus": "corpus/corpus.parquet"}}
    splits = {"train": _TRAIN_TEMPLATES, "dev": _DEV_TEMPLATES, "test": _TEST_TEMPLATES}
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
            write_beir_folder(
                root / "beir" / "test",
                corpus,
                queries,
                [(q["query-id"], q["corpus-id"], q["score"]) for q in qrels],
            )
    lines = []
    for name, files in configs.items():
        lines.append(f"- config_name: {name}")
        lines.append("  data_files:")
        for split, path in files.items():
            lines.append(f"  - split: {split}")
            lines.append(f"    path: {path}")
    (root / "README.md").write_text(_README.format(configs="\n".join(lines)), encoding="utf-8")
    return root


def run_module(module: str, *args: str, timeout: float = 120):
    """Run ``python -m module args`` from the repo root, offline and single-threaded, as a user would."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
