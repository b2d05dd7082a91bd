"""LimitKeepingTrainer: a checkpoint is saved with the base model's input limit, and training keeps its own."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments

from training.trainer import LimitKeepingTrainer


def _trainer(model: SentenceTransformer, tmp_path: Path, saved: int | None) -> LimitKeepingTrainer:
    rows = Dataset.from_dict({"anchor": ["una domanda"], "positive": ["un passaggio"]})
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    return LimitKeepingTrainer(model=model, args=args, train_dataset=rows, saved_max_seq_length=saved)


def test_checkpoint_saved_with_the_base_limit_while_training_keeps_its_own(tiny_model: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_model), device="cpu")
    model.max_seq_length = 16  # training's budget; the tiny base's limit is 64
    trainer = _trainer(model, tmp_path, saved=64)
    trainer._save(str(tmp_path / "checkpoint-1"))
    assert SentenceTransformer(str(tmp_path / "checkpoint-1"), device="cpu").max_seq_length == 64
    assert model.max_seq_length == 16


def test_without_a_saved_limit_the_checkpoint_keeps_the_training_limit(tiny_model: Path, tmp_path: Path) -> None:
    model = SentenceTransformer(str(tiny_model), device="cpu")
    model.max_seq_length = 16
    _trainer(model, tmp_path, saved=None)._save(str(tmp_path / "checkpoint-1"))
    assert SentenceTransformer(str(tmp_path / "checkpoint-1"), device="cpu").max_seq_length == 16
