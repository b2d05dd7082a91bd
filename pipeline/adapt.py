"""Adapt an embedder to your own documents in one command (``python -m pipeline.adapt``).

From a folder of documents (``.txt``/``.md`` files, one document each, or JSONL records) and an LLM (a local GGUF
file or any OpenAI-compatible endpoint) to a dataset and an adapted model::

    python -m pipeline.adapt docs/ --name manuals --gguf qwen2.5-1.5b-instruct-q4_k_m.gguf
    python -m pipeline.adapt faq.jsonl --name faq --endpoint http://localhost:8000/v1 \\
        --llm-model Qwen/Qwen2.5-7B-Instruct --real-queries my_queries/   # BEIR folder of real user questions

It runs the pipeline with settings for a curated collection (pipeline/adapt_config.py: web-quality filters and
PII masking off, every passage in the retrieval corpus, no test split: 90% train and 10% dev), fine-tunes the base
model, then compares the model choices (``best_dev``: the checkpoint with the best synthetic dev NDCG@10;
``last``: the last checkpoint; ``wise``: the last one mixed half-and-half with the base, WiSE-FT) with the base,
on the synthetic dev split and, with ``--real-queries``, on real queries; with ``--guard-set`` (a general set such
as the news dataset's test split) a model that loses more than ``--guard-tolerance`` points there against the base
is never recommended (the forgetting check). Everything goes under
``<output-dir>/<name>/``: ``adapt.yaml`` (the pipeline config: rerun any stage with ``python -m pipeline.run
--config``), the stage folders, ``model/`` and ``eval/``; ``adapt_report.md`` says which model to use.

Every check that can fail (documents, their language and length, the LLM) runs before any slow step.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import yaml

from pipeline.adapt_config import adapt_pipeline_config, adapt_train_config, check_documents
from pipeline.checks import check_run
from pipeline.config import config_from_dict
from pipeline.errors import ConfigError
from pipeline.run import run_stages
from pipeline.run_folder import RunFolder
from pipeline.stages import ORDER
from retrieval.cli import RESUMABLE, cli_main, positive_int
from retrieval.config import apply_overrides, parse_overrides
from retrieval.errors import ModelError
from retrieval.models import check_model_reference

CHOICES = ("best_dev", "last", "wise")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipeline.adapt", description=__doc__.split("\n")[0])
    p.add_argument("documents", help="folder of .txt/.md files (one document each), or JSONL file(s)")
    p.add_argument("--name", required=True, help="run name: everything goes to <output-dir>/<name>/")
    p.add_argument("--output-dir", default="runs")
    llm = p.add_mutually_exclusive_group(required=True)
    llm.add_argument("--gguf", help="local GGUF file, served by llama.cpp's llama-server (started and stopped here)")
    llm.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    p.add_argument("--llm-model", default="local-gguf", help="model name to ask the endpoint for")
    p.add_argument("--llm-threads", type=positive_int, default=None,
                   help="llama.cpp threads (default: all cores)")
    p.add_argument("--language", default="ita_Latn", help="language file: a bundled code or a YAML path")
    p.add_argument("--base-model", default="intfloat/multilingual-e5-small", help="embedder to adapt")
    p.add_argument("--text-key", default="text", help="JSONL input: the field holding the text")
    p.add_argument("--id-key", default="id", help="JSONL input: the field holding the document id")
    p.add_argument("--group-key", help="JSONL input: a field that groups records into one source (e.g. the article "
                   "title of paragraphs): passages of one source are never each other's negatives and stay in one "
                   "split. Without it, paragraphs of one article become each other's hard negatives")
    p.add_argument("--max-passages", type=int, default=None, help="send at most N passages to the LLM (default: all)")
    p.add_argument("--queries-per-passage", type=int, default=3)
    p.add_argument("--reply-store", help="folder that keeps every finished LLM reply (commit or copy it): a run on "
                   "another machine sends only the passages it does not cover")
    p.add_argument("--epochs", type=float, default=1.0)
    # 2e-5: on SQuAD-it the best of the rates tried (5e-5 forgot at full size), and no loss on the news split
    p.add_argument("--learning-rate", type=float, default=2e-5)
    p.add_argument("--device", default="auto", help="training and evaluation device: auto, cpu, cuda, mps")
    p.add_argument("--real-queries", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) of real queries")
    p.add_argument("--guard-set", help="a retrieval set the adapted model must not get worse on (the forgetting "
                   "check): a BEIR folder, a published dataset (its test split) or an MTEB task")
    p.add_argument("--guard-tolerance", type=float, default=0.5,
                   help="NDCG@10 points (x100) a model may lose on --guard-set against the base and still be "
                   "recommended (default 0.5)")
    p.add_argument("--eval-max-queries", type=positive_int, default=None,
                   help="evaluate on a seeded sample of at most N queries per set (default: all)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one pipeline setting (YAML value), e.g. --set mine.num_negatives=2; repeatable")
    p.add_argument("--train-set", dest="train_overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one training setting (training.train's config), e.g. --train-set loss.scale=50 or "
                   "--train-set training.freeze_embeddings=false; repeatable")
    p.add_argument("--stop-after", choices=["dataset", "train"], help="stop after building the dataset / training")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """The whole adaptation; returns the report (also written to <run>/adapt_report.json and .md)."""
    data = apply_overrides(adapt_pipeline_config(args), parse_overrides(args.overrides, "--set", ConfigError))
    config = config_from_dict(data, source="pipeline.adapt")
    run_dir = config.run_dir
    try:  # named as the option the user gave, before check_run names the pipeline settings it fills
        check_model_reference(args.base_model)
    except ModelError as exc:
        raise ConfigError(f"--base-model: {exc}") from None
    check_run(config, list(ORDER))
    check_documents(config, args)  # documents, language, length and the LLM, before anything slow
    check_later_steps(args, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "adapt.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    timings: dict[str, float] = {}
    start = time.time()
    with RunFolder(run_dir).lock():
        results = run_stages(config, list(ORDER))
    timings["dataset"] = time.time() - start
    dataset = Path(results["publish"].get("folder") or RunFolder(run_dir).path("publish.dataset"))
    report: dict = {"run": str(run_dir), "dataset": str(dataset), "stages": _stage_rows(results)}
    if args.stop_after == "dataset":
        return _finish(report, run_dir, timings)

    from training.train import run as train_run

    start = time.time()
    train_cfg = adapt_train_config(args, dataset, run_dir / "model")
    final = _trained(train_cfg) or train_run(train_cfg)
    models = _model_choices(args, final)
    timings["train"] = time.time() - start
    report["models"] = {name: str(path) for name, path in models.items()}
    report["same_as"] = _same_weights(final)
    if args.stop_after == "train":
        return _finish(report, run_dir, timings)

    start = time.time()
    report["eval"] = _evaluate(args, models, dataset, run_dir / "eval", report["same_as"])
    timings["eval"] = time.time() - start
    return _finish(report, run_dir, timings, args.guard_tolerance)


def check_later_steps(args: argparse.Namespace, run_dir: Path) -> None:
    """What training and evaluation will need, before the dataset is built: the training settings (--epochs,
    --learning-rate), the device and the real queries."""
    if args.guard_tolerance < 0:
        raise ConfigError(f"--guard-tolerance must be 0 or more NDCG@10 points, not {args.guard_tolerance}.")
    if args.stop_after == "dataset":
        return
    from retrieval.device import resolve_device

    adapt_train_config(args, RunFolder(run_dir).path("publish.dataset"), run_dir / "model")
    resolve_device(args.device)
    if args.stop_after != "train":
        from eval.sets import resolve_set

        if args.real_queries:
            resolve_set(f"real={args.real_queries}")  # a missing folder, or one without qrels
        if args.guard_set:
            resolve_set(f"guard={args.guard_set}")


def _trained(train_cfg) -> Path | None:
    """The final model of an earlier run of this adaptation with the same training config (a rerun after a stop
    during the evaluation does not train again), else None."""
    final = Path(train_cfg.training.output_dir) / "final"
    info = final / "training_info.json"
    if not info.is_file():
        return None
    done = json.loads(info.read_text(encoding="utf-8")).get("config")
    if done != json.loads(json.dumps(train_cfg.model_dump(), default=str)):
        return None
    logging.getLogger("pipeline.adapt").info("the model is already trained with this config: %s", final)
    return final


def _stage_rows(results: dict) -> dict:
    return {name: {k: v for k, v in stats.items() if isinstance(v, (int, float, str))} for name, stats in
            results.items()}


def _model_choices(args: argparse.Namespace, final: Path) -> dict[str, Path]:
    """best_dev (the trainer's final), last (the last checkpoint) and wise (last mixed 50/50 with the base)."""
    from retrieval.models import load_model
    from training.interpolate import interpolate

    info, checkpoints = _training_outcome(final)
    base = load_model(args.base_model, device="cpu")
    # "last" and "wise" must keep the base's input limit, not training's (a speed budget), or they cut long passages
    # at inference (on a SQuAD-it pilot that alone cost 0.5 to 1.3 NDCG@10 points). training.train saves its
    # checkpoints so; the limit is set again here for checkpoints of runs made before it did.
    last_dir, wise_dir = final.parent / "last", final.parent / "wise_0.5"
    tuned = None
    if not _saved_with_limit(last_dir, base.max_seq_length):
        tuned = load_model(str(checkpoints[-1] if checkpoints else final), device="cpu")
        tuned.max_seq_length = base.max_seq_length
        tuned.save(str(last_dir))
    if not _saved_with_limit(wise_dir, base.max_seq_length):
        tuned = tuned if tuned is not None else load_model(str(last_dir), device="cpu")
        interpolate(base, tuned, 0.5).save(str(wise_dir))
    models = {"base": Path(args.base_model) if Path(args.base_model).exists() else args.base_model,
              "best_dev": final, "last": last_dir, "wise": wise_dir}
    logging.getLogger("pipeline.adapt").info("best dev checkpoint %s, last %s", info.get("best_checkpoint"),
                                             checkpoints[-1] if checkpoints else final)
    return models


def _training_outcome(final: Path) -> tuple[dict, list[Path]]:
    """training.train's record of the run (training_info.json) and its checkpoint folders, oldest first."""
    info = json.loads((final / "training_info.json").read_text(encoding="utf-8"))
    return info, sorted(final.parent.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))


def _same_weights(final: Path) -> dict[str, str]:
    """{"last": "best_dev"} when the best dev checkpoint is the last one (then both hold the same weights and are
    evaluated once: on SQuAD-it one model costs about 15 minutes of CPU), else {}."""
    info, checkpoints = _training_outcome(final)
    best = info.get("best_checkpoint")
    if info.get("wise_ft") or not checkpoints or not best or Path(best).name != checkpoints[-1].name:
        return {}
    return {"last": "best_dev"}


def _saved_with_limit(folder: Path, max_seq_length: int) -> bool:
    """Whether ``folder`` already holds a model with this input limit (kept from an earlier run of the same
    adaptation: saving it again would change its files and void the evaluation's finished rows). It loads the model
    (a second or two) rather than read sentence-transformers' files, whose place for the limit changed between
    versions (sentence_bert_config.json, then tokenizer_config.json)."""
    from retrieval.models import load_model

    return (folder / "modules.json").is_file() and load_model(str(folder), device="cpu").max_seq_length == \
        max_seq_length


def _evaluate(args: argparse.Namespace, models: dict, dataset: Path, out: Path, same_as: dict[str, str]) -> dict:
    """eval.run on the real queries, the guard set and the synthetic dev split (what decides first, so a stop leaves
    the figures that matter); returns NDCG@10 per set and model. A model in ``same_as`` takes its twin's scores."""
    from eval.report import write_report
    from eval.run import parse_args as eval_args
    from eval.run import run as eval_run

    specs = [f"{name}={path}" for name, path in models.items() if name not in same_as]
    runs = [("real", ["--sets", f"real={args.real_queries}"])] if args.real_queries else []
    if args.guard_set:
        runs.append(("guard", ["--sets", f"guard={args.guard_set}", "--split", "test"]))
    runs.append(("synthetic_dev", ["--sets", f"synthetic_dev={dataset}", "--split", "dev"]))
    sample = ["--max-queries", str(args.eval_max_queries)] if args.eval_max_queries else []
    table: dict[str, dict[str, float]] = {}
    for label, set_args in runs:
        eargs = eval_args(["--models", *specs, *set_args, *sample, "--output-dir", str(out / label), "--dims", "128",
                           "--quantization", "binary", "--device", args.device, "--language", args.language])
        report = eval_run(eargs)
        write_report(report, out / label)
        for row in report["results"]:
            key = f"{row['set']}" + ("" if row.get("full_dim") else f"@{row['dim']}d")
            table.setdefault(key, {})[row["model"]] = row["ndcg@10"]
            if row.get("full_dim") and "ndcg@10_binary" in row:
                table.setdefault(f"{row['set']} binary", {})[row["model"]] = row["ndcg@10_binary"]
    for scores in table.values():
        scores.update({name: scores[twin] for name, twin in same_as.items() if twin in scores})
    return table


def _finish(report: dict, run_dir: Path, timings: dict, guard_tolerance: float = 0.5) -> dict:
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    if "eval" in report:
        ranked = "real" if "real" in report["eval"] else "synthetic_dev"
        report["forgetting"] = _forgetting(report["eval"].get("guard", {}), guard_tolerance)
        # the base competes too: when no adapted model beats it where it is measured, the honest advice is the base
        scores = {m: s for m, s in report["eval"][ranked].items()
                  if m in ("base", *CHOICES) and m not in report["forgetting"]}
        report["recommended"] = max(scores, key=scores.get) if scores else None
        report["recommended_by"] = ranked
    (run_dir / "adapt_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (run_dir / "adapt_report.md").write_text(report_markdown(report), encoding="utf-8")
    return report


def _forgetting(guard: dict[str, float], tolerance: float) -> dict[str, float]:
    """Adapted models that lost more than ``tolerance`` NDCG@10 points (x100) on the guard set against the base:
    model -> points lost. Such a model is never recommended, whatever it scores on the collection."""
    if "base" not in guard:
        return {}
    lost = {m: round(100 * (guard["base"] - s), 2) for m, s in guard.items() if m in CHOICES}
    return {m: pts for m, pts in lost.items() if pts > tolerance}


def report_markdown(report: dict) -> str:
    lines = [f"# Adaptation report: {report['run']}", "", f"Dataset: `{report['dataset']}`", ""]
    if "eval" in report:
        models = ["bm25", "base", *CHOICES]
        lines += ["NDCG@10 (x100) by set and model:", "", "| set | " + " | ".join(models) + " |",
                  "|---|" + "---:|" * len(models)]
        for key, scores in report["eval"].items():
            cells = [f"{100 * scores[m]:.1f}" if m in scores else "" for m in models]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines += ["", f"Recommended: **{report['recommended']}** (best NDCG@10 on {report['recommended_by']}"
                  + ("; synthetic dev only: check with real queries, --real-queries" if report["recommended_by"]
                     == "synthetic_dev" else "") + f"): `{report['models'][report['recommended']]}`"]
        for model, points in report.get("forgetting", {}).items():
            lines += ["", f"Not recommended: {model} lost {points:.2f} NDCG@10 points on the guard set (forgetting)."]
        if report["recommended"] == "base":
            lines += ["", "No adapted model beat the base here: keep the base model. Read the README section "
                      "\"Adapt e5-small to your own documents\" (what to expect) before trying again."]
    if "models" in report:
        lines += ["", "Models:", *[f"- {k}: `{v}`" for k, v in report["models"].items()]]
        lines += [f"- {k} has the same weights as {v} (the best dev checkpoint is the last): evaluated once"
                  for k, v in report.get("same_as", {}).items()]
    lines += ["", "Time (s): " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()), ""]
    return "\n".join(lines)


@cli_main(interrupted=RESUMABLE, hard_exit=True, sigterm=True)
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "openai"):  # a line per LLM request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report = run(args)
    print(report_markdown(report))
    print(f"report: {report['run']}/adapt_report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
