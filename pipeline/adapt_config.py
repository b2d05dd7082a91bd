"""Settings and early checks of ``python -m pipeline.adapt`` (adapting an embedder to a curated collection).

The pipeline defaults suit a web crawl (C4). A team's own collection differs, so adaptation changes:

* ingest: the web-quality filters (Gopher, FineWeb) and PII masking are off: a manual's tables, a FAQ's short
  lines or a support address are content here, not noise. Language ID and de-duplication stay on.
* filter: the whole collection is the retrieval corpus (round-trip and mining search all of it); decontamination
  is off (no public eval set to protect; the user's real queries are never shown to the generator).
* split: 90% of documents train, 10% dev (model selection); no test split: real queries are the test.
* passages: cut for the base model's tokenizer, 16 to 256 tokens (FAQ answers are short).
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError, InputDataError
from retrieval.config import apply_overrides, parse_overrides, validate_config

DEV_EVALUATIONS = 5  # dev evaluations (and checkpoints) per training run
BATCH_SIZE = 32
MIN_SHARE_IN_LANGUAGE = 0.5  # below this share of sampled documents in the language file's language: refuse
SAMPLE_DOCUMENTS = 200


def _source(args: argparse.Namespace) -> dict:
    path = Path(args.documents)
    if not path.exists():
        raise InputDataError(f"documents not found: {path.resolve()}. Pass a folder of .txt/.md files (one "
                             "document each) or a JSONL file or folder.")
    jsonl = path.is_file() or any(path.glob("*.jsonl*")) or any(path.glob("*.json.gz"))
    if jsonl:
        return {"type": "jsonl", "path": str(path), "text_key": args.text_key, "id_key": args.id_key,
                **({} if path.is_file() else {"glob": "**/*.json*"})}
    return {"type": "files", "path": str(path)}


def adapt_pipeline_config(args: argparse.Namespace) -> dict:
    """The pipeline config (a plain mapping, written to <run>/adapt.yaml) for adapting to ``args.documents``."""
    generate: dict = {"styles": ["question", "keywords"], "queries_per_passage": args.queries_per_passage,
                      "max_passages": args.max_passages, "batch_passages": 100, "records_per_chunk": 25,
                      "reply_store": args.reply_store}
    if args.gguf:
        generate.update(backend="llama-server", model=Path(args.gguf).stem, concurrency=2,
                        llamacpp={"model_path": args.gguf, "n_threads": args.llm_threads})
    else:
        generate.update(backend="endpoint", endpoint_url=args.endpoint, model=args.llm_model, concurrency=8)
    path = Path(args.documents)
    return {
        "run_name": args.name,
        "output_dir": args.output_dir,
        "language": args.language,
        "executor": {"type": "local", "tasks": 2, "workers": 2},
        "ingest": {"source": _source(args), "gopher_repetition": False, "fineweb_quality": False,
                   "gopher_quality": False, "pii": False},
        "passages": {"tokenizer": args.base_model, "max_tokens": 256, "min_tokens": 16,
                     **({"group_key": args.group_key} if getattr(args, "group_key", None) else {})},
        "generate": generate,
        "filter": {"corpus_max_passages": None,
                   "round_trip": {"model": args.base_model, "top_k": 10, "bm25_top_k": 20, "agree": "any"},
                   "decontamination": {"eval_sets": []}},
        "mine": {"model": args.base_model},
        "split": {"train": 0.9, "dev": 0.1, "test": 0.0},
        "publish": {"version": "1.0.0", "pretty_name": f"{args.name}: synthetic queries for adapting an embedder",
                    "license": "other", "source_description": f"a curated collection of documents (`{path.name}`)"},
    }


def adapt_train_config(args: argparse.Namespace, dataset: Path, output_dir: Path):
    """A CPU-sized training config (configs/train_cpu_proof.yaml's recipe) on the adaptation dataset."""

    from training.config import TrainConfig

    data = {
        "model": {"name_or_path": args.base_model, "max_seq_length": 192},
        "data": {"dataset": str(dataset), "num_negatives": 2, "max_dev_queries": 300, "max_dev_corpus": None},
        # scale 100 (the training default, e5's temperature) and no Matryoshka: on SQuAD-it, adapting with Matryoshka
        # lost 1.6 NDCG@10 at full size and without it none (results/squad_it_adapt/ablation)
        "loss": {"mini_batch_size": 16, "matryoshka_dims": None},
        "training": {"output_dir": str(output_dir), "epochs": args.epochs, "batch_size": BATCH_SIZE,
                     "learning_rate": args.learning_rate, "warmup_ratio": 0.1,
                     "eval_steps": eval_steps(dataset, args.epochs),
                     "save_total_limit": 2, "logging_steps": 5, "device": args.device, "seed": 42},
        "card": {"language": args.language.split("_")[0][:2] if args.language.endswith("_Latn") else "multilingual"},
    }
    overrides = parse_overrides(getattr(args, "train_overrides", []), "--train-set", ConfigError)
    where = "the training config of pipeline.adapt (from its options and --train-set)"
    return validate_config(TrainConfig, apply_overrides(data, overrides), where, error=ConfigError)


def eval_steps(dataset: Path, epochs: float) -> int:
    """Steps between dev evaluations: about DEV_EVALUATIONS per run. Each one encodes the whole collection (the dev
    split searches all of it), which on a CPU costs more than the steps between them once a collection holds
    thousands of passages (2,427 SQuAD-it passages: ~4 minutes an evaluation, 36 s a step). 10 before the dataset
    exists (the early check of the settings)."""
    if not dataset.is_dir():
        return 10
    from retrieval.dataset import describe_dataset, load_split

    rows = len(load_split(describe_dataset(str(dataset)), "triplets", "train"))
    return max(1, math.ceil(math.ceil(rows / BATCH_SIZE) * epochs / DEV_EVALUATIONS))


def check_documents(config: PipelineConfig, args: argparse.Namespace) -> None:
    """Refuse, before any slow step, documents that cannot make a dataset and an LLM that cannot answer."""
    texts = _sample_texts(config)
    if not texts:
        raise InputDataError(f"no readable documents in {args.documents}: every file is empty. Put one document per "
                             ".txt/.md file, or JSONL records with a text field (--text-key).")
    _check_length(texts, config)
    _check_language(texts, config)
    _check_llm(config)


def _sample_texts(config: PipelineConfig) -> list[str]:
    from pipeline.stages.ingest import IngestStage

    stage = IngestStage(config)
    stage.preflight()  # the folder exists and holds files of the right kind
    reader = stage._reader()
    texts = []
    # read_file directly: run() would log and draw progress bars for what is only a peek
    for path in reader.data_folder.list_files(glob_pattern=reader.glob_pattern, recursive=True):
        for doc in reader.read_file(path) or ():
            texts.append(doc.text)
            if len(texts) >= SAMPLE_DOCUMENTS:
                return texts
    return texts


def _check_length(texts: list[str], config: PipelineConfig) -> None:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.passages.tokenizer)
    except Exception as e:  # offline Hub, missing folder: one fix
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot load the tokenizer of the base model {config.passages.tokenizer!r} ({first}). "
                          "Fix: pass --base-model with a local sentence-transformers folder (offline: "
                          "../shared/tools/get-e5-small prints one) or a Hub id you can reach.") from None
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    if max(lengths) < config.passages.min_tokens:
        raise InputDataError(
            f"every document sampled is shorter than {config.passages.min_tokens} tokens (longest {max(lengths)}): "
            "there is nothing to cut into passages. Fix: merge short entries (e.g. a FAQ's question and answer) "
            "into one document each."
        )


def _check_language(texts: list[str], config: PipelineConfig) -> None:
    from pipeline.languages import load_language
    from pipeline.steps.language_id import LocalFastTextLID, bundled_ft176_path

    language = load_language(config.language)
    lid = language.lid.get("ft176")
    if lid is None:
        return
    model = LocalFastTextLID(bundled_ft176_path())
    sample = random.Random(0).sample(texts, min(len(texts), 50))
    found = {}
    for text in sample:
        labels, _ = model.model.predict(" ".join(text.split())[:2000], k=1)
        code = labels[0].removeprefix("__label__")
        found[code] = found.get(code, 0) + 1
    share = found.get(lid.label, 0) / len(sample)
    if share < MIN_SHARE_IN_LANGUAGE:
        top = ", ".join(f"{c} {n}" for c, n in sorted(found.items(), key=lambda x: -x[1])[:3])
        raise ConfigError(
            f"only {share:.0%} of {len(sample)} sampled documents are in {language.code} ({lid.label}); language ID "
            f"found: {top}. Fix: pass --language with the collection's language file (pipeline/languages/), or "
            "check the folder."
        )


def _check_llm(config: PipelineConfig) -> None:
    """The endpoint answers (a local GGUF and its server are checked with the run's other preflights)."""
    gen = config.generate
    if gen.backend == "endpoint":
        from pipeline.generation.endpoint import api_key_from_env, preflight

        preflight(gen.endpoint_url, api_key_from_env(gen.api_key_env), gen.model, gen.api_key_env, timeout=10)
