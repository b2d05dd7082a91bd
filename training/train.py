"""Fine-tune a sentence-transformers embedder on the dataset's triplets (``python -m training.train``).

Loss: CachedMultipleNegativesRankingLoss (InfoNCE over in-batch and mined hard negatives, with GradCache so the
contrastive batch can exceed GPU memory), or with ``teacher.model`` set a distillation loss on the teacher's scores
(training/distill.py), optionally wrapped in MatryoshkaLoss. e5 prompts go in through the
``prompts`` training argument; batches hold no duplicate texts (``BatchSamplers.NO_DUPLICATES``). The dev split is
scored with InformationRetrievalEvaluator during training and the best checkpoint by NDCG@10 is kept.

Usage::

    python -m training.train --config configs/train.yaml --dataset runs/demo/publish/dataset --output-dir runs/train/ft
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from sentence_transformers import (
    SentenceTransformer,
    SentenceTransformerModelCardData,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss, MatryoshkaLoss
from sentence_transformers.util import cos_sim
from torch import nn

from retrieval.cli import cli_main
from retrieval.config import parse_overrides
from retrieval.dataset import DatasetSource, describe_dataset
from retrieval.device import resolve_device, resolve_precision
from retrieval.errors import ConfigError, ModelError
from retrieval.models import check_model_reference, embedding_dimension, is_local_reference, load_model
from retrieval.paths import check_output_folder
from training.config import TrainConfig, load_config
from training.data import IRData, load_ir_split, load_triplets
from training.distill import LABEL, add_teacher_scores, build_distillation_loss
from training.interpolate import choose_alpha, interpolate
from training.resume import finished_state, resume_checkpoint, run_fingerprint
from training.trainer import LimitKeepingTrainer

logger = logging.getLogger("training")

DEV_NAME = "dev"
BEST_METRIC = f"eval_{DEV_NAME}_cosine_ndcg@10"


def build_loss(model: SentenceTransformer, cfg: TrainConfig) -> nn.Module:
    """CachedMultipleNegativesRankingLoss (or, with a teacher, a distillation loss: training/distill.py), wrapped
    in MatryoshkaLoss when ``loss.matryoshka_dims`` is set."""
    if cfg.teacher.model:
        loss: nn.Module = build_distillation_loss(model, cfg)
    else:
        loss = CachedMultipleNegativesRankingLoss(
            model, scale=cfg.loss.scale, mini_batch_size=cfg.loss.mini_batch_size
        )
    dims = cfg.loss.matryoshka_dims
    if not dims:
        return loss
    full = embedding_dimension(model)
    too_big = [d for d in dims if full and d > full]
    if too_big:
        raise ConfigError(
            f"loss.matryoshka_dims has {too_big}, larger than the model's embedding size {full}. "
            f"Fix: use dims <= {full} (e.g. [{full}, {full // 2}]) or `matryoshka_dims: null`."
        )
    if full and dims[0] != full:
        logger.warning("loss.matryoshka_dims %s does not include the full size %d", dims, full)
    return MatryoshkaLoss(model, loss, matryoshka_dims=dims)


def build_evaluator(ir: IRData, cfg: TrainConfig) -> InformationRetrievalEvaluator:
    """InformationRetrievalEvaluator on the dev IR set with the e5 prompts; its main metric is cosine NDCG@10."""
    return InformationRetrievalEvaluator(
        queries=ir.queries,
        corpus=ir.corpus,
        relevant_docs=ir.relevant_docs,
        name=DEV_NAME,
        query_prompt=cfg.model.query_prompt or None,
        corpus_prompt=cfg.model.passage_prompt or None,
        score_functions={"cosine": cos_sim},
        main_score_function="cosine",
        batch_size=64,
        show_progress_bar=False,
    )


def freeze_token_embeddings(model: SentenceTransformer) -> int:
    """Stop gradients into the word-embedding matrix of every transformer module; returns the frozen parameter count.

    Fine-tuning on a narrow corpus updates only the rows of tokens it contains; the other rows stay where pre-training
    put them, so the two drift apart and texts with unseen tokens lose (a cause of forgetting). Position and
    token-type embeddings and every layer above still train.

    Example::

        model = SentenceTransformer("intfloat/multilingual-e5-small")
        freeze_token_embeddings(model)   # 96,014,208: the 250,037 x 384 matrix; 21.3M parameters still train
    """
    frozen = 0
    for module in model.modules():
        get = getattr(module, "get_input_embeddings", None)
        if get is None or not hasattr(module, "config"):
            continue
        weight = get().weight
        if weight.requires_grad:
            weight.requires_grad_(False)
            frozen += weight.numel()
    return frozen


def _checkpointing_kwarg(enabled: bool) -> dict[str, bool]:
    """transformers >= 5.x calls it ``activation_checkpointing``; older versions ``gradient_checkpointing``."""
    fields = SentenceTransformerTrainingArguments.__dataclass_fields__
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": enabled}


def build_args(
    cfg: TrainConfig, columns: list[str], device: str, precision: str, has_evaluator: bool
) -> SentenceTransformerTrainingArguments:
    """Training arguments: prompts per column, NO_DUPLICATES batches, warm-up + schedule, precision, best model."""
    t = cfg.training
    columns = [c for c in columns if c != LABEL]  # the teacher's scores are not a text
    prompts = {c: (cfg.model.query_prompt if c == "query" else cfg.model.passage_prompt) for c in columns}
    prompts = {c: p for c, p in prompts.items() if p}
    return SentenceTransformerTrainingArguments(
        output_dir=t.output_dir,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        learning_rate=t.learning_rate,
        warmup_steps=t.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        lr_scheduler_type=t.scheduler,
        weight_decay=t.weight_decay,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        prompts=prompts or None,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps" if has_evaluator else "no",
        eval_steps=t.eval_steps,
        eval_on_start=has_evaluator,
        save_strategy="steps",
        save_steps=t.eval_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=has_evaluator,
        metric_for_best_model=BEST_METRIC if has_evaluator else None,
        greater_is_better=True if has_evaluator else None,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        dataloader_num_workers=t.dataloader_num_workers,
        **_checkpointing_kwarg(t.gradient_checkpointing),
        report_to="none",
        run_name=Path(t.output_dir).name,
    )


def build_card_data(cfg: TrainConfig, source: DatasetSource) -> SentenceTransformerModelCardData:
    """Model card data naming the dataset (Hub id or folder) and its version, the language and the license."""
    dataset: dict[str, Any] = {"name": source.display_name}
    if not source.is_local:
        dataset["id"] = source.path
        if source.revision:
            dataset["revision"] = source.revision
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    local_only = offline or (source.is_local and is_local_reference(cfg.model.name_or_path))
    version = source.version or source.revision
    return SentenceTransformerModelCardData(
        language=cfg.card.language,
        license=cfg.card.license,
        model_name=cfg.card.model_name or f"{Path(cfg.model.name_or_path).name} fine-tuned on {source.display_name}",
        model_id=cfg.hub.repo_id,
        train_datasets=[dataset],
        task_name="semantic search and retrieval (Italian)",
        tags=["sentence-transformers", "sentence-similarity", "feature-extraction", "retrieval"]
        + ([f"dataset-version:{version}"] if version else []),
        local_files_only=local_only,
        generate_widget_examples=False,
    )


def run(cfg: TrainConfig, fresh: bool = False) -> Path:
    """Train as ``cfg`` says; returns the folder of the final (best) model.

    A run killed mid-way resumes from its last complete checkpoint when started again with the same settings and
    dataset version (training/resume.py); ``fresh`` discards those checkpoints and starts over.
    """
    if not cfg.data.dataset:
        raise ConfigError("no dataset given. Fix: set data.dataset in the config or pass --dataset PATH_OR_ID.")
    check_output_folder(Path(cfg.training.output_dir), force=True, option="--output-dir (training.output_dir)")
    device = resolve_device(cfg.training.device)
    precision = resolve_precision(cfg.training.precision, device)
    check_model_reference(cfg.model.name_or_path)  # fail before the slow work
    if cfg.training.wise_ft_alphas and len(cfg.training.wise_ft_alphas) > 1 and not cfg.data.dev_split:
        raise ConfigError(
            f"training.wise_ft_alphas lists {cfg.training.wise_ft_alphas} but data.dev_split is null: "
            "there is nothing to choose among them on. Fix: give one value, or set data.dev_split."
        )
    source = describe_dataset(cfg.data.dataset, cfg.data.revision)
    logger.info("dataset %s, device %s, precision %s", source.display_name, device, precision)
    fingerprint = run_fingerprint(cfg.model_dump(), source.version, source.revision)
    checkpoint = resume_checkpoint(Path(cfg.training.output_dir), fingerprint, fresh)  # before the slow work

    train_ds = load_triplets(
        source, cfg.data.train_split, cfg.data.num_negatives, cfg.data.max_train_samples, cfg.training.seed,
        cfg.data.styles,
    )
    if cfg.teacher.model:
        train_ds = add_teacher_scores(train_ds, cfg, device)
    evaluator = None
    if cfg.data.dev_split:
        ir = load_ir_split(
            source, cfg.data.dev_split, cfg.data.max_dev_queries, cfg.data.max_dev_corpus, cfg.training.seed
        )
        if ir.queries:
            evaluator = build_evaluator(ir, cfg)
            logger.info("dev set: %d queries, %d passages", len(ir.queries), len(ir.corpus))
        else:
            logger.warning("the %r split has no queries with qrels: training without evaluation", cfg.data.dev_split)

    alphas = cfg.training.wise_ft_alphas
    if alphas and len(alphas) > 1 and evaluator is None:  # checked before training, so no trained model is lost
        raise ConfigError(
            f"training.wise_ft_alphas lists {alphas} but the dev split has no queries to choose among "
            "them. Fix: give one value, or a dataset whose dev split has queries."
        )
    model = load_model(
        cfg.model.name_or_path,
        device=device,
        revision=cfg.model.revision,
        model_card_data=build_card_data(cfg, source),
    )
    base_max_seq_length = model.max_seq_length
    if cfg.model.max_seq_length:
        model.max_seq_length = cfg.model.max_seq_length
    if cfg.training.freeze_embeddings:
        frozen = freeze_token_embeddings(model)
        logger.info("token embeddings frozen: %.1fM of %.1fM parameters", frozen / 1e6,
                    sum(p.numel() for p in model.parameters()) / 1e6)
    loss = build_loss(model, cfg)
    args = build_args(cfg, train_ds.column_names, device, precision, evaluator is not None)
    logger.info("training on %d triplets with columns %s", len(train_ds), train_ds.column_names)
    trainer = LimitKeepingTrainer(  # checkpoints, like the final model below, keep the base model's limit
        model=model, args=args, train_dataset=train_ds, loss=loss, evaluator=evaluator,
        saved_max_seq_length=base_max_seq_length,
    )
    state = finished_state(checkpoint)
    if state is None:
        trainer.train(resume_from_checkpoint=checkpoint)  # ends with the best checkpoint loaded (load_best_model...)
        model, state = trainer.model, trainer.state
    else:
        best = state.best_model_checkpoint if evaluator and state.best_model_checkpoint else checkpoint
        logger.info("training had finished (step %d of %d): taking %s", state.global_step, state.max_steps, best)
        model = load_model(best, device=device, model_card_data=build_card_data(cfg, source))
    wise_ft = None
    if cfg.training.wise_ft_alphas:
        model, wise_ft = _wise_ft(model, cfg, device, evaluator)
    # model.max_seq_length truncates training inputs (a speed budget); the saved model keeps the base model's limit,
    # or it would silently cut every passage at inference and lose to the base on long texts for that reason alone
    model.max_seq_length = base_max_seq_length
    final_dir = Path(cfg.training.output_dir) / "final"
    model.save(str(final_dir))
    info = {
        "dataset": source.path,
        "dataset_revision": source.revision,
        "dataset_version": source.version,
        "base_model": cfg.model.name_or_path,
        "device": device,
        "precision": precision,
        "train_rows": len(train_ds),
        "global_steps": state.global_step,
        "best_metric": {BEST_METRIC: state.best_metric} if evaluator else None,
        "best_checkpoint": state.best_model_checkpoint,
        "dev_ndcg@10": [
            {"step": h.get("step"), "ndcg@10": h[BEST_METRIC]} for h in state.log_history if BEST_METRIC in h
        ],
        "wise_ft": wise_ft,
        "config": cfg.model_dump(),
    }
    (final_dir / "training_info.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    logger.info("saved the final model to %s", final_dir)

    if cfg.hub.repo_id:
        try:
            url = model.push_to_hub(
                cfg.hub.repo_id,
                private=cfg.hub.private,
                local_model_path=str(final_dir),
                exist_ok=True,
                commit_message=f"Fine-tuned on {source.display_name}",
            )
        except Exception as exc:
            raise ModelError(
                f"the model is saved in {final_dir}, but pushing it to {cfg.hub.repo_id!r} failed: "
                f"{type(exc).__name__}: {exc}. Fix: log in (`hf auth login` or HF_TOKEN with write access) "
                "and check the repo name; then rerun with --push-to-hub or upload the folder."
            ) from exc
        logger.info("pushed to %s", url)
    return final_dir


def _wise_ft(model: SentenceTransformer, cfg: TrainConfig, device: str, evaluator) -> tuple[SentenceTransformer, dict]:
    """Interpolate the trained weights with the base model's (training/interpolate.py), a chosen on dev."""
    alphas = cfg.training.wise_ft_alphas
    base = load_model(cfg.model.name_or_path, device=device, revision=cfg.model.revision)
    base.max_seq_length = model.max_seq_length
    if len(alphas) == 1 or evaluator is None:
        if len(alphas) > 1:
            raise ConfigError(
                f"training.wise_ft_alphas lists {alphas} but there is no dev split to choose among "
                "them. Fix: give one value, or set data.dev_split."
            )
        return interpolate(base, model, alphas[0]), {"alpha": alphas[0], "dev_ndcg@10": None}
    alpha, scores, mixed = choose_alpha(base, model, evaluator, alphas)
    logger.info("WiSE-FT: dev NDCG@10 by alpha %s; keeping alpha %.2f", scores, alpha)
    return mixed, {"alpha": alpha, "dev_ndcg@10": {str(a): s for a, s in scores.items()}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None, help="YAML config (configs/train.yaml, configs/train_cpu.yaml)")
    p.add_argument("--dataset", help="published dataset: local folder or Hub id (overrides data.dataset)")
    p.add_argument("--dataset-revision", help="Hub revision or tag of the dataset, e.g. v1.0.0")
    p.add_argument("--model", help="base model: local folder or Hub id (overrides model.name_or_path)")
    p.add_argument("--output-dir", help="where checkpoints and <output-dir>/final go")
    p.add_argument("--max-steps", type=int, help="stop after N optimizer steps (overrides epochs)")
    p.add_argument("--epochs", type=float, help="number of epochs")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--fresh", action="store_true",
                   help="train from the start, deleting checkpoints a killed run left in --output-dir "
                   "(default: resume from them when the settings and dataset version match)")
    p.add_argument("--push-to-hub", metavar="REPO", help="push the final model to <user>/<name>")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one setting (YAML value), e.g. --set data.num_negatives=0; repeatable")
    return p.parse_args(argv)


@cli_main(sigterm=True)
def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for user errors, printed without a traceback)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        "data.dataset": args.dataset,
        "data.revision": args.dataset_revision,
        "model.name_or_path": args.model,
        "training.output_dir": args.output_dir,
        "training.max_steps": args.max_steps,
        "training.epochs": args.epochs,
        "training.device": args.device,
        "hub.repo_id": args.push_to_hub,
    }
    final_dir = run(load_config(args.config, overrides, parse_overrides(args.settings)), fresh=args.fresh)
    print(f"final model: {final_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
