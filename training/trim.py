"""Trim a sentence-transformers model's vocabulary to the tokens one language uses (``python -m training.trim``).

About 96M of multilingual-e5-small's 118M parameters are its 250k-token embedding matrix; Italian text uses a small
part of it. This keeps the rows of the tokens that tokenizing the language's text produces (plus the special
tokens and every one-character piece of the characters seen, so unseen words still split into known pieces), and
rewrites the tokenizer's Unigram vocabulary to the same tokens in the same order. For any text whose tokens were
all seen, tokenization is unchanged (Viterbi's best path only used kept pieces; removing the others cannot make a
better one), and its embeddings are identical, since every kept row is copied as it is. E5-NL did this for Dutch:
40.8M parameters, the same retrieval score.

Written here rather than with ``vocabtrimmer`` (PyPI, 0.0.2, 2023): it mines only Hub datasets (no local corpus
such as a run's passages), works on transformers task models rather than sentence-transformers folders, and is
unmaintained. The counting and the rewrite are a few dozen lines over ``tokenizers``' JSON model.

Usage::

    python -m training.trim --model intfloat/multilingual-e5-small --texts ../shared/data/it_corpus \\
        data/datasets/it_corpus --output runs/trim/e5-small-it --check ../shared/eval/squad_it_test
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from retrieval.cli import cli_main, positive_int
from retrieval.dataset import negative_columns
from retrieval.errors import ConfigError, DatasetError
from retrieval.models import load_model
from retrieval.paths import check_output_folder, replacing

logger = logging.getLogger("training.trim")


def iter_texts(paths: Iterable[str | Path], limit: int | None = None) -> Iterator[str]:
    """Texts from JSONL(.gz) files (``text`` field, and ``title`` if any), Parquet files (every string column) and
    folders of them (a dataset folder, a BEIR folder, a corpus folder)."""
    n = 0
    for root in paths:
        root = Path(root)
        check_text_sources([root])
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and (
            p.name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".parquet"))))
        for path in files:
            for text in _file_texts(path):
                if text:
                    yield text
                    n += 1
                    if limit and n >= limit:
                        return


def check_text_sources(paths: Iterable[str | Path]) -> None:
    """Raise ConfigError naming the first of ``paths`` that does not exist (checked before the model loads)."""
    for path in map(Path, paths):
        if not path.exists():
            raise ConfigError(f"text source {path} does not exist. Fix: give JSONL/Parquet files or folders of them.")


_TEXT_COLUMNS = {"text", "title", "query", "positive", "passage"}


def _file_texts(path: Path) -> Iterator[str]:
    """The texts of one file; DatasetError naming the file when it is corrupt, truncated or not UTF-8."""
    import pyarrow as pa

    try:
        yield from _read_texts(path)
    except (OSError, EOFError, UnicodeDecodeError, pa.ArrowException) as exc:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"cannot read {path}: {type(exc).__name__}: {exc}. Fix: re-create or re-download it "
                           "(JSONL, gzipped JSONL or Parquet), or leave it out of --texts/--check.") from None


def _read_texts(path: Path) -> Iterator[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        negatives = set(negative_columns(table.column_names))
        for name in table.column_names:  # the text columns of the published configs, not ids or styles
            if name in _TEXT_COLUMNS or name in negatives:
                yield from (t for t in table.column(name).to_pylist() if isinstance(t, str))
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                for key in ("title", "text"):
                    if isinstance(row.get(key), str):
                        yield row[key]


def count_tokens(tokenizer, texts: Iterable[str], batch: int = 512) -> Counter:
    counts: Counter = Counter()
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            for ids in tokenizer(chunk, add_special_tokens=False)["input_ids"]:
                counts.update(ids)
            chunk = []
    if chunk:
        for ids in tokenizer(chunk, add_special_tokens=False)["input_ids"]:
            counts.update(ids)
    return counts


def kept_ids(tokenizer, counts: Counter, min_count: int = 1, seen_chars: set[str] | None = None,
             vocab_size: int | None = None) -> list[int]:
    """Sorted ids to keep: special tokens, tokens seen ``min_count`` times, one-character pieces of seen chars, and,
    up to ``vocab_size``, the most probable pieces (Unigram score) written only in seen characters: the pieces the
    language's unseen words most likely need, since the counting corpus never covers a whole language."""
    keep = set(tokenizer.all_special_ids) | {i for i, n in counts.items() if n >= min_count}
    if seen_chars:
        vocab = tokenizer.get_vocab()
        for ch in seen_chars:
            for piece in (ch, "\u2581" + ch):
                if piece in vocab:
                    keep.add(vocab[piece])
    if vocab_size and seen_chars and len(keep) < vocab_size:
        pieces = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["vocab"]
        ranked = sorted(range(len(pieces)), key=lambda i: -pieces[i][1])
        for i in ranked:
            if len(keep) >= vocab_size:
                break
            text = pieces[i][0].replace("\u2581", "")
            if i not in keep and text and all(c in seen_chars for c in text):
                keep.add(i)
    return sorted(keep)


def check_trimmable(tokenizer) -> None:
    """Raise ConfigError unless ``tokenizer`` is a fast Unigram (sentencepiece) tokenizer, the kind trimming
    rewrites."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = json.loads(backend.to_str())["model"].get("type") if backend is not None else type(tokenizer).__name__
    if kind != "Unigram":
        raise ConfigError(f"vocabulary trimming supports Unigram (sentencepiece) tokenizers such as e5's, not {kind}. "
                          "Fix: pass a model with such a tokenizer (multilingual-e5, XLM-RoBERTa).")


def trimmed_tokenizer_json(tokenizer, keep: list[int]) -> dict:
    """The fast tokenizer's JSON with the Unigram vocabulary cut to ``keep`` (old ids, sorted) and ids remapped."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    model = state["model"]
    check_trimmable(tokenizer)
    new_id = {old: new for new, old in enumerate(keep)}
    # tokens added after training (e.g. <mask> in some tokenizers) have ids past the model's vocabulary: they keep
    # their place after it, so the enumeration order of ``keep`` is the new id order either way
    model["vocab"] = [model["vocab"][old] for old in keep if old < len(model["vocab"])]
    model["unk_id"] = new_id[model["unk_id"]]
    for token in state.get("added_tokens") or []:
        token["id"] = new_id[token["id"]]
    post = state.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    for key in ("sep", "cls"):  # RobertaProcessing form
        if isinstance(post.get(key), list):
            post[key][1] = new_id[post[key][1]]
    return state


def trim(model, keep: list[int], output: Path):
    """Save a copy of ``model`` whose embedding matrix and tokenizer hold only ``keep``; return the new model."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = model.tokenizer
    state = trimmed_tokenizer_json(tokenizer, keep)
    transformer = model[0].auto_model
    old = transformer.get_input_embeddings()
    index = torch.tensor(keep, dtype=torch.long)
    new = torch.nn.Embedding(len(keep), old.embedding_dim, padding_idx=None)
    with torch.no_grad():
        new.weight.copy_(old.weight[index])
    transformer.set_input_embeddings(new)
    transformer.config.vocab_size = len(keep)
    pad = tokenizer.pad_token_id
    if pad is not None:
        transformer.config.pad_token_id = keep.index(pad)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(state)), bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token, unk_token=tokenizer.unk_token, sep_token=tokenizer.sep_token,
        pad_token=tokenizer.pad_token, cls_token=tokenizer.cls_token, mask_token=tokenizer.mask_token,
        model_max_length=tokenizer.model_max_length)
    model[0].processor = fast  # sentence-transformers 6 keeps the tokenizer as the module's processor
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return model


def changed_share(old_tokenizer, new_tokenizer, keep: list[int], texts: list[str]) -> float:
    """Share of ``texts`` whose trimmed tokenization differs from the original's (ids mapped old -> new)."""
    if not texts:
        return 0.0
    new_id = {old: new for new, old in enumerate(keep)}
    old_ids = old_tokenizer(texts, add_special_tokens=False)["input_ids"]
    new_ids = new_tokenizer(texts, add_special_tokens=False)["input_ids"]
    changed = sum([new_id.get(i, -1) for i in a] != b for a, b in zip(old_ids, new_ids))
    return changed / len(texts)


def fraction(text: str) -> float:
    """argparse ``type=`` for --max-changed: a share of texts, from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1 (e.g. 0.01 for 1%), not {text!r}")
    return value


def parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


@cli_main(interrupted="interrupted: --output was not left half-written", sigterm=True)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.trim", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="sentence-transformers model: local folder or Hub id")
    p.add_argument("--texts", nargs="+", required=True, help="the language's text: JSONL/Parquet files or folders")
    p.add_argument("--output", required=True, help="folder for the trimmed model")
    p.add_argument("--min-count", type=positive_int, default=1, help="keep tokens seen at least this often "
                   "(default 1)")
    p.add_argument("--max-texts", type=positive_int, help="count tokens on at most this many texts")
    p.add_argument("--vocab-size", type=positive_int, help="fill the vocabulary up to this size with the most "
                   "probable pieces written in the text's characters (covers words the counting text lacks)")
    p.add_argument("--check", nargs="*", default=[], help="texts to report on (e.g. eval sets): the share whose "
                   "tokenization changes; never used for counting")
    p.add_argument("--max-changed", type=fraction, help="fail when more than this share of a --check source would "
                   "tokenize differently (e.g. 0.01)")
    p.add_argument("--force", action="store_true", help="replace an existing --output folder (once trimming worked)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    output = Path(args.output)
    check_output_folder(output, args.force)  # before the slow part: loading, counting
    check_text_sources([*args.texts, *args.check])
    model = load_model(args.model, device="cpu")
    original = model.tokenizer
    check_trimmable(original)
    if args.vocab_size and args.vocab_size >= len(original):
        raise ConfigError(f"--vocab-size {args.vocab_size} is not below the model's {len(original):,} tokens: there "
                          "is nothing to trim. Fix: a smaller --vocab-size (e.g. 60000 for e5-small), or leave it out "
                          "to keep only the tokens the text uses.")
    texts = list(iter_texts(args.texts, args.max_texts))
    if not texts:
        raise ConfigError(f"no text found in {args.texts}: give JSONL files with a 'text' field or Parquet files")
    texts += [prompt for prompt in (model.prompts or {}).values() if prompt]  # "query: ", "passage: "
    counts = count_tokens(original, texts)
    chars = {c for t in texts for c in t if not c.isspace()}
    keep = kept_ids(original, counts, args.min_count, chars, args.vocab_size)
    before = parameters(model)
    with replacing(output) as partial:  # a failed trim leaves an existing --output as it was
        trimmed = trim(model, keep, partial)
    report = {"model": args.model, "texts": len(texts), "vocab_before": len(original), "vocab_after": len(keep),
              "parameters_before": before, "parameters_after": parameters(trimmed)}
    for source in args.check:
        check = list(iter_texts([source]))
        share = changed_share(original, trimmed.tokenizer, keep, check)
        report[f"changed_tokenization:{Path(source).name}"] = round(share, 4)
        if args.max_changed is not None and share > args.max_changed:
            raise ConfigError(
                f"the trimmed vocabulary changes the tokenization of {share:.1%} of {source} (more than "
                f"--max-changed {args.max_changed}): tokens its text needs were dropped. Fix: add text like it "
                f"to --texts (never the eval set itself), or lower --min-count. The model in {args.output} "
                "should not be used.")
    (Path(args.output) / "trim_info.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
