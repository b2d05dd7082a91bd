"""Evaluate embedders on retrieval sets (``python -m eval.run``) and write results.json, results.md, results.png.

Usage::

    python -m eval.run --models base=intfloat/multilingual-e5-small ft=runs/train/e5-small-it/final \\
        --sets ../shared/eval/squad_it_test runs/demo/publish/dataset BelebeleRetrieval \\
        --output-dir results/e5-small-it --max-queries 500

Per model and set: NDCG@10, Recall@10, MRR@10 at the full size and at each Matryoshka size (--dims), NDCG@10 with
int8 and binary embeddings, encoding speed (passages/s) and model size; BM25 is a baseline row. Each model's rows
are kept in ``<output-dir>/finished/`` as soon as it is done: the same command after a crash or a stop evaluates only
the models not done (a changed model folder, set or setting is evaluated again).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

from eval.bm25 import bm25_run
from eval.dense import encode_set, model_size, rank
from eval.errors import SetUnavailable, UserError
from eval.metrics import evaluate_run
from eval.model_card import card_section, write_card
from eval.report import markdown, write_report
from eval.retrieval_set import RetrievalSet
from eval.sets import resolve_set
from retrieval.cli import cli_main, positive_int
from retrieval.device import resolve_device
from retrieval.models import check_model_reference, embedding_dimension, is_local_reference, load_model
from retrieval.paths import unwritable

logger = logging.getLogger("eval")


def parse_model_spec(spec: str) -> tuple[str, str]:
    """``NAME=PATH_OR_ID`` -> (NAME, PATH_OR_ID); a bare path is named after its last component."""
    if "=" in spec:
        name, _, ref = spec.partition("=")
        return name.strip(), ref.strip()
    return Path(spec.rstrip("/")).name, spec


def cached_snapshot(repo_id: str) -> str | None:
    """The local Hub cache folder of ``repo_id`` (for its size on disk), or None."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, local_files_only=True)
    except Exception:
        return None


def evaluate_model(
    name: str, ref: str, sets: list[RetrievalSet], args: argparse.Namespace, device: str
) -> list[dict[str, Any]]:
    """All rows of one model: each set at the full size and each smaller Matryoshka size, three precisions."""
    model = load_model(ref, device=device)
    size = model_size(model, ref if is_local_reference(ref) else cached_snapshot(ref))
    full = embedding_dimension(model)
    dims = [None] + sorted({d for d in args.dims if full is None or d < full}, reverse=True)
    rows, corpora = [], {}
    for rs in sets:
        logger.info("%s: encoding %s (%d queries, %d passages)", name, rs.name, len(rs.queries), len(rs.corpus))
        enc = encode_set(model, rs, args.query_prompt, args.passage_prompt, args.batch_size, args.progress, corpora)
        for dim in dims:
            row: dict[str, Any] = {
                "model": name,
                "set": rs.name,
                "dim": dim or full or enc.corpus.shape[1],
                "full_dim": dim is None,
            }
            row.update(evaluate_run(rank(enc, dim, "float32"), rs.qrels))
            for precision in args.quantization:
                run = rank(enc, dim, precision, quantize_queries=args.quantize_queries)
                row[f"ndcg@10_{precision}"] = evaluate_run(run, rs.qrels)["ndcg@10"]
            row.update(passages_per_s=enc.passages_per_second, encode_seconds=enc.corpus_seconds, **size)
            rows.append(row)
            logger.info("%s / %s / dim %s: NDCG@10 %.4f", name, rs.name, row["dim"], row["ndcg@10"])
    del model
    gc.collect()
    return rows


def bm25_rows(sets: list[RetrievalSet], stop_words: bool, language: str = "ita_Latn") -> list[dict[str, Any]]:
    """The BM25 baseline row of every set."""
    rows = []
    for rs in sets:
        run, speed = bm25_run(rs, k=10, language=language, stop_words=stop_words)
        rows.append({"model": "bm25", "set": rs.name, "dim": None, "full_dim": True, "passages_per_s": speed})
        rows[-1].update(evaluate_run(run, rs.qrels))
        logger.info("bm25 / %s: NDCG@10 %.4f", rs.name, rows[-1]["ndcg@10"])
    return rows


def _rows_file(args: argparse.Namespace, name: str, ref: str, sets: list[RetrievalSet]) -> tuple[Path, str]:
    """Where one model's finished rows are kept, and the key of what produced them (model, sets, settings)."""
    what = [ref, [(rs.name, rs.source, len(rs.queries), len(rs.corpus)) for rs in sets], args.dims,
            args.quantization, args.quantize_queries, args.max_queries, args.seed, args.split, args.query_prompt,
            args.passage_prompt, args.use_title]
    if is_local_reference(ref) and Path(ref).exists():  # a retrained model at the same path is a new model
        files = [Path(ref)] if Path(ref).is_file() else [f for f in Path(ref).rglob("*") if f.is_file()]
        what.append(max((f.stat().st_mtime for f in files), default=0))
    key = hashlib.sha256(json.dumps(what, default=str).encode()).hexdigest()[:16]
    return Path(args.output_dir) / "finished" / f"{name}.json", key


def _finished_rows(args: argparse.Namespace, name: str, ref: str, sets: list[RetrievalSet]) -> list[dict] | None:
    """The rows of ``name`` from an earlier, interrupted run of the same evaluation (None: evaluate it)."""
    path, key = _rows_file(args, name, ref, sets)
    if not path.is_file():
        return None
    kept = json.loads(path.read_text(encoding="utf-8"))
    if kept.get("key") != key:
        return None
    logger.info("%s: reusing the rows of an earlier run of this evaluation (%s)", name, path)
    return kept["rows"]


def _keep_rows(args: argparse.Namespace, name: str, ref: str, sets: list[RetrievalSet], rows: list[dict]) -> None:
    """Keep a finished model's rows, so a rerun after a crash or a stop evaluates only the models not done."""
    path, key = _rows_file(args, name, ref, sets)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "rows": rows}, default=str), encoding="utf-8")
    tmp.replace(path)


def _check_output_dir(folder: Path) -> None:
    """The results can be written there (checked without creating anything)."""
    problem = unwritable(folder)
    if problem:
        raise UserError(f"cannot write results to {folder}: {problem[0]} {problem[1]}. Fix: pass an --output-dir you "
                        "can write to.")


def _check_cards(names: list[str], refs: dict[str, str]) -> None:
    """--card names a model of this run whose folder is local and writable (checked before the slow work)."""
    for name in names:
        if name not in refs:
            raise UserError(f"--card {name}: no model of this run has that name (models: {sorted(refs)}). Fix: "
                            f"name one of them, e.g. --card {next(iter(refs), 'NAME')}.")
        folder = Path(refs[name])
        if not (is_local_reference(refs[name]) and folder.is_dir()):
            raise UserError(f"--card {name}: {refs[name]} is not a local model folder, so there is no card to write. "
                            "Fix: evaluate a local copy (a folder) of the model.")
        if (problem := unwritable(folder)) is not None:
            raise UserError(f"--card {name}: cannot write {folder / 'README.md'}: {problem[0]} {problem[1]}.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=[], metavar="NAME=PATH_OR_ID", help="models to evaluate")
    p.add_argument(
        "--sets",
        nargs="+",
        required=True,
        metavar="[NAME=]PATH_OR_TASK",
        help="BEIR-style folders, published dataset roots, or MTEB tasks (BelebeleRetrieval, "
        "WikipediaRetrievalMultilingual, mteb:<Task>:<subset>)",
    )
    p.add_argument("--output-dir", required=True, help="folder for results.json, results.md, results.png")
    p.add_argument("--dims", nargs="*", type=positive_int, default=[384, 256, 128, 64], help="Matryoshka sizes")
    p.add_argument(
        "--quantization", nargs="*", default=["int8", "binary"], choices=["int8", "binary"], help="precisions"
    )
    p.add_argument(
        "--quantize-queries", action="store_true", help="quantize the queries too (default: only the corpus)"
    )
    p.add_argument("--max-queries", type=positive_int, default=None,
                   help="evaluate a seeded sample of N queries per set")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--split", default="test", help="qrels split of local sets (default test)")
    p.add_argument("--query-prompt", default="query: ")
    p.add_argument("--passage-prompt", default="passage: ")
    p.add_argument("--no-title", dest="use_title", action="store_false", help="encode passage text without title")
    p.add_argument("--no-bm25", dest="bm25", action="store_false", help="skip the BM25 baseline")
    p.add_argument("--bm25-stopwords", action="store_true", help="drop the language file's stop words in BM25")
    p.add_argument("--language", default="ita_Latn", help="language file for BM25's tokenizer (a bundled code or a "
                   "YAML path; default ita_Latn)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--progress", action="store_true", help="show encoding progress bars")
    p.add_argument("--card", nargs="+", default=[], metavar="NAME", help="write this run's tables into the README.md "
                   "(model card) of these models' folders")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate everything ``args`` names; returns the report (also written to --output-dir)."""
    device = resolve_device(args.device)
    models = [parse_model_spec(s) for s in args.models]
    model_names = [n for n, _ in models]
    if len(set(model_names)) != len(model_names) or "bm25" in model_names:
        raise UserError(f"model names must be unique and not 'bm25' (got {model_names}). Fix: --models a=PATH b=PATH.")
    if not models and not args.bm25:
        raise UserError("nothing to evaluate: no --models and --no-bm25. Fix: name models with --models NAME=PATH, or "
                        "drop --no-bm25.")
    _check_output_dir(Path(args.output_dir))  # results are written at the end: fail now, not after the work
    for name, ref in models:  # fail before any slow work
        if not ref:
            raise UserError(f"model {name!r} has no path or id. Fix: --models {name}=PATH_OR_ID.")
        check_model_reference(ref)
    _check_cards(args.card, dict(models))
    sets, skipped = [], []
    for spec in args.sets:
        try:
            rs = resolve_set(spec, args.split, args.use_title)
        except SetUnavailable as exc:
            print(f"note: {exc}", file=sys.stderr)
            skipped.append({"set": spec, "reason": str(exc)})
            continue
        sets.append(rs.subsample(args.max_queries, args.seed))
    if not sets:
        raise UserError(f"no evaluation set is left to evaluate: every one was skipped ({skipped[0]['reason']}"
                        f"{'; ...' if len(skipped) > 1 else ''}). Fix: pass a set that loads here, e.g. a BEIR-style "
                        "folder or a published dataset folder.")
    names = [rs.name for rs in sets]
    if len(set(names)) != len(names):
        raise UserError(f"two sets have the same name {names}. Fix: name them, e.g. --sets a=PATH b=PATH.")
    results: list[dict[str, Any]] = bm25_rows(sets, args.bm25_stopwords, args.language) if args.bm25 else []
    model_info = {}
    for name, ref in models:
        rows = _finished_rows(args, name, ref, sets)
        if rows is None:
            rows = evaluate_model(name, ref, sets, args, device)
            _keep_rows(args, name, ref, sets, rows)
        results += rows
        if rows:
            model_info[name] = {"ref": ref, **{k: rows[0][k] for k in ("parameters", "size_mb", "size_of")}}
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "device": device if device != "cpu" else f"cpu ({platform.processor() or platform.machine()})",
            "query_prompt": args.query_prompt,
            "passage_prompt": args.passage_prompt,
            "dims": args.dims,
            "quantization": args.quantization,
            "quantize_queries": args.quantize_queries,
            "max_queries": args.max_queries,
            "seed": args.seed,
            "use_title": args.use_title,
            "bm25_stopwords": args.bm25_stopwords,
        },
        "models": model_info,
        "sets": {
            rs.name: {"source": rs.source, "queries": len(rs.queries), "passages": len(rs.corpus), "notes": rs.notes}
            for rs in sets
        },
        "skipped": skipped,
        "results": results,
    }


@cli_main(sigterm=True)
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for user errors, printed without a traceback)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    report = run(args)
    paths = write_report(report, Path(args.output_dir))
    print(markdown(report))
    for name in args.card:
        paths[f"card {name}"] = write_card(Path(report["models"][name]["ref"]), card_section(report, name, argv))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
