"""The training config: a YAML file loaded into validated pydantic models (unknown keys are errors).

Example (``configs/train.yaml``)::

    model: {name_or_path: intfloat/multilingual-e5-small, max_seq_length: 256}
    data: {dataset: runs/demo/publish/dataset}
    loss: {mini_batch_size: 64, matryoshka_dims: [384, 256, 128, 64]}
    training: {output_dir: runs/train/e5-small-it, batch_size: 256, learning_rate: 5.0e-5}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from retrieval.config import StrictModel, load_config_file


class ModelSection(StrictModel):
    name_or_path: str = "intfloat/multilingual-e5-small"
    revision: str | None = Field(None, description="Hub revision of the base model")
    max_seq_length: int | None = Field(
        256, ge=8, description="truncate training inputs to this many tokens (the saved model keeps the base's limit)"
    )
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "


class DataSection(StrictModel):
    dataset: str | None = Field(None, description="published dataset: local folder or Hub id (or --dataset)")
    revision: str | None = Field(None, description="Hub revision/tag of the dataset, e.g. v1.0.0")
    train_split: str = "train"
    dev_split: str | None = Field("dev", description="split for evaluation during training; null: none")
    num_negatives: int | None = Field(
        None, ge=0, description="use negative_1..negative_N; 0: none (in-batch negatives only); null: all of them"
    )
    styles: list[str] | None = Field(
        None, description="train only on queries of these styles (e.g. [keywords]); null: every style"
    )
    max_train_samples: int | None = Field(None, ge=1)
    max_dev_queries: int | None = Field(1000, ge=1)
    max_dev_corpus: int | None = Field(20000, ge=1, description="dev corpus: relevant passages + a sample up to this")


class LossSection(StrictModel):
    scale: float = Field(
        100.0,
        gt=0,
        description="inverse temperature of InfoNCE: 100 = temperature 0.01, the one e5 was trained with. "
        "sentence-transformers' default 20 (0.05) asks e5 to spread its similarities five times wider and made "
        "it forget more (results/squad_it_adapt/ablation)",
    )
    mini_batch_size: int = Field(32, ge=1, description="GradCache mini-batch (memory), not the contrastive batch")
    matryoshka_dims: list[int] | None = Field([384, 256, 128, 64], description="null: no MatryoshkaLoss")

    @field_validator("matryoshka_dims")
    @classmethod
    def _dims(cls, dims: list[int] | None) -> list[int] | None:
        if dims is None:
            return None
        if not dims or any(d < 1 for d in dims):
            raise ValueError("must be a non-empty list of positive integers, or null")
        return sorted(set(dims), reverse=True)


class TrainingSection(StrictModel):
    output_dir: str = "runs/train/e5-small-it"
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="> 0 overrides epochs; -1: train for epochs")
    batch_size: int = Field(128, ge=2, description="contrastive batch: in-batch negatives come from it")
    learning_rate: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    scheduler: Literal["cosine", "linear", "constant_with_warmup"] = "cosine"
    weight_decay: float = Field(0.01, ge=0)
    eval_steps: int = Field(200, ge=1, description="evaluate on dev and save a checkpoint every N steps")
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(20, ge=1)
    seed: int = 42
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N, mps")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    dataloader_num_workers: int = Field(0, ge=0)
    freeze_embeddings: bool = Field(
        False,
        description="keep the token embedding matrix fixed (most of e5-small's weights): the rows of tokens the "
        "training data shows cannot drift away from the rows of those it never shows; less optimizer memory",
    )
    gradient_checkpointing: bool = False
    wise_ft_alphas: list[float] | None = Field(
        None,
        description="WiSE-FT: mix base and fine-tuned weights, (1-a)*base + a*ft, with the a among these that "
        "scores best on the dev split (one value: that a); null: no interpolation",
    )

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, steps: int) -> int:
        if steps < 1 and steps != -1:  # transformers would read 0 (or -5) as "train for epochs", silently
            raise ValueError("must be a number of optimizer steps (at least 1), or -1 to train for epochs")
        return steps

    @field_validator("wise_ft_alphas")
    @classmethod
    def _alphas(cls, alphas: list[float] | None) -> list[float] | None:
        if alphas is None:
            return None
        bad = [a for a in alphas if not 0.0 <= a <= 1.0]
        if not alphas or bad:
            raise ValueError(
                f"interpolation weights must lie in [0, 1] (0: the base model, 1: the fine-tuned one); "
                f"got {bad or alphas}"
            )
        return sorted(set(alphas))


class TeacherSection(StrictModel):
    model: str | None = Field(
        None,
        description="cross-encoder or embedder whose scores the student learns "
        "(training/distill.py); null: InfoNCE on the triplets",
    )
    kind: Literal["auto", "cross-encoder", "embedder"] = "auto"
    loss: Literal["distill_kl", "margin_mse"] = "distill_kl"
    temperature: float | None = Field(
        None, gt=0, description="teacher score divisor; null: 1.0 for a cross-encoder, 0.01 for an embedder"
    )
    query_prompt: str | None = Field(None, description="embedder teacher's query prompt; null: model.query_prompt")
    passage_prompt: str | None = Field(
        None, description="embedder teacher's passage prompt; null: model.passage_prompt"
    )
    batch_size: int = Field(64, ge=1)


class CardSection(StrictModel):
    language: str | list[str] = "it"
    license: str = "mit"
    model_name: str | None = None


class HubSection(StrictModel):
    repo_id: str | None = Field(None, description="<user>/<name>: push the final model there (or --push-to-hub)")
    private: bool = False

    @field_validator("repo_id")
    @classmethod
    def _repo(cls, repo_id: str | None) -> str | None:
        if repo_id is not None and repo_id.count("/") != 1:
            raise ValueError("must look like <user>/<name>")
        return repo_id


class TrainConfig(StrictModel):
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=DataSection)
    loss: LossSection = Field(default_factory=LossSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    teacher: TeacherSection = Field(default_factory=TeacherSection)
    card: CardSection = Field(default_factory=CardSection)
    hub: HubSection = Field(default_factory=HubSection)

    @model_validator(mode="after")
    def _batch(self) -> TrainConfig:
        if self.loss.mini_batch_size > self.training.batch_size:
            raise ValueError(
                f"loss.mini_batch_size ({self.loss.mini_batch_size}) is larger than training.batch_size "
                f"({self.training.batch_size}); make it <= batch_size"
            )
        return self


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> TrainConfig:
    """Load ``path`` (YAML, ``${VAR:-default}`` expanded; None means all defaults), apply dotted ``overrides`` and
    validate.

    Args:
        path: YAML config file.
        overrides: e.g. ``{"training.max_steps": 10}``; None values are skipped.
        settings: ``--set`` values, e.g. ``{"data.num_negatives": 0}``, applied last (None included).

    Raises:
        ConfigError: the file is missing or not YAML, a key is unknown, or a value is invalid.
    """
    return load_config_file(TrainConfig, path, overrides, fix="pass --config configs/train.yaml.", settings=settings)
