"""Distillation from a teacher (``teacher:`` in the training config): the student learns the teacher's scores.

Tamber et al. (2025) found InfoNCE on synthetic queries often makes strong embedders worse, while distilling a
cross-encoder's scores gave consistent gains. With ``teacher.model`` set, every training row (query, positive,
negative_1..k) is scored by the teacher once, before training, and the loss becomes sentence-transformers'
``DistillKLDivLoss`` (the student's softmax over the row's candidates matches the teacher's) or ``MarginMSELoss``
(the student's positive-minus-negative margins match the teacher's).

Both sides are put on one scale: the student's score is cosine / ``1 / loss.scale`` (100 x cosine by default, as in
the InfoNCE loss), the teacher's is its raw score / ``teacher.temperature`` (default 1.0 for a cross-encoder's logits,
0.01 for an embedder's cosine: the e5 training temperature, the student's default scale).

Example config::

    teacher: {model: BAAI/bge-reranker-v2-m3, kind: cross-encoder, loss: distill_kl}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import pairwise_cos_sim
from torch import nn

from retrieval.errors import ConfigError, ModelError
from retrieval.models import is_local_reference
from training.config import TrainConfig

logger = logging.getLogger(__name__)

LABEL = "label"
DEFAULT_TEMPERATURE = {"cross-encoder": 1.0, "embedder": 0.01}


def teacher_kind(name_or_path: str, kind: str) -> str:
    """``cross-encoder`` or ``embedder``. ``auto`` reads a local folder's files (a sentence-transformers
    CrossEncoder, or a transformers ``*ForSequenceClassification``, is a cross-encoder); a Hub id counts as a
    cross-encoder when its name says rerank/cross-encoder, otherwise as an embedder (set ``kind`` to be sure)."""
    if kind != "auto":
        return kind
    if is_local_reference(name_or_path):
        folder = Path(name_or_path).expanduser()
        st_config = folder / "config_sentence_transformers.json"
        if st_config.is_file() and "CrossEncoder" in st_config.read_text(encoding="utf-8"):
            return "cross-encoder"
        if (folder / "modules.json").is_file():
            return "embedder"
        config = folder / "config.json"
        if config.is_file():
            archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
            if any(a.endswith("ForSequenceClassification") for a in archs):
                return "cross-encoder"
        return "embedder"
    name = name_or_path.lower()
    return "cross-encoder" if "rerank" in name or "cross-encoder" in name else "embedder"


class TeacherScorer:
    """Scores (query, passage) pairs with a cross-encoder (its logit) or an embedder (cosine with its prompts)."""

    def __init__(self, cfg: TrainConfig, device: str) -> None:
        t = cfg.teacher
        self.kind = teacher_kind(t.model, t.kind)
        self.batch_size = t.batch_size
        self.query_prompt = cfg.model.query_prompt if t.query_prompt is None else t.query_prompt
        self.passage_prompt = cfg.model.passage_prompt if t.passage_prompt is None else t.passage_prompt
        try:
            if self.kind == "cross-encoder":
                from sentence_transformers import CrossEncoder

                self.model = CrossEncoder(t.model, device=device)
            else:
                self.model = SentenceTransformer(t.model, device=device)
        except Exception as exc:
            raise ModelError(
                f"could not load the teacher {t.model!r} as a {self.kind} ({type(exc).__name__}: {exc}). Fix: set "
                "teacher.model to a local folder or Hub id that loads, teacher.kind to cross-encoder or embedder, "
                "or remove the teacher section to train with InfoNCE."
            ) from exc

    def score(self, queries: list[str], candidates: list[list[str]]) -> np.ndarray:
        """(rows, len(candidates)): the teacher's score of each query with each candidate column's passage. An
        embedder encodes the queries once for all columns."""
        if self.kind == "cross-encoder":
            columns = [self.model.predict(list(zip(queries, passages)), batch_size=self.batch_size,
                                          show_progress_bar=False) for passages in candidates]
            return np.stack([np.asarray(c) for c in columns], axis=1)
        q = self._encode(queries, self.query_prompt)
        return np.stack([(q * self._encode(passages, self.passage_prompt)).sum(axis=1) for passages in candidates],
                        axis=1)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        return self.model.encode(texts, prompt=prompt or None, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True)


def add_teacher_scores(dataset: Dataset, cfg: TrainConfig, device: str) -> Dataset:
    """``dataset`` with a ``label`` column: the teacher's scores for [positive, negative_1, ...], over temperature."""
    candidates = [c for c in dataset.column_names if c != "query"]
    if len(candidates) < 2:
        raise ConfigError(
            "distillation needs at least one negative per row (the teacher ranks the row's passages). "
            "Fix: use a dataset with mined negatives, or unset data.num_negatives' limit."
        )
    scorer = TeacherScorer(cfg, device)
    temperature = cfg.teacher.temperature or DEFAULT_TEMPERATURE[scorer.kind]
    logger.info(
        "scoring %d rows x %d passages with the %s teacher %s",
        len(dataset),
        len(candidates),
        scorer.kind,
        cfg.teacher.model,
    )
    queries = dataset["query"]
    scores = scorer.score(queries, [dataset[c] for c in candidates]) / temperature
    agree = float(np.mean(scores[:, 0] >= scores[:, 1:].max(axis=1)))
    logger.info("the teacher ranks the positive first in %.0f%% of rows", 100 * agree)
    del scorer
    return dataset.add_column(LABEL, scores.astype(np.float32).tolist())


class ScaledCosine(nn.Module):
    """cosine x scale: the student's score on the InfoNCE loss's scale (a module, so the loss config can name it)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return pairwise_cos_sim(a, b) * self.scale


def build_distillation_loss(model: SentenceTransformer, cfg: TrainConfig) -> nn.Module:
    """DistillKLDivLoss or MarginMSELoss with the student's cosine scaled by ``loss.scale``."""
    from sentence_transformers.sentence_transformer.losses import DistillKLDivLoss, MarginMSELoss

    similarity = ScaledCosine(cfg.loss.scale)
    if cfg.teacher.loss == "margin_mse":
        return MarginMSELoss(model, similarity_fct=similarity)
    return DistillKLDivLoss(model, similarity_fct=similarity, temperature=1.0)
