"""The trainer ``training.train`` uses: sentence-transformers' own, with checkpoints saved at the base model's input
limit.

Training truncates inputs at ``model.max_seq_length`` (a speed budget, e.g. 192 tokens for e5's 512). A trainer
checkpoint is a full model folder that people evaluate, ship or build on (``pipeline.adapt`` offers the last one and
mixes it with the base), so it must not keep that budget: it would silently cut every long passage at inference.
The trainer's ``_save`` writes the folder; this subclass writes it with the base's limit and puts the training limit
back. Loading a checkpoint (resume, best model at the end) takes only its weights, so training is unchanged.

Example::

    trainer = LimitKeepingTrainer(model=model, args=args, train_dataset=train_ds, loss=loss, saved_max_seq_length=512)
"""

from __future__ import annotations

from sentence_transformers import SentenceTransformerTrainer


class LimitKeepingTrainer(SentenceTransformerTrainer):
    """``SentenceTransformerTrainer`` whose saved checkpoints carry ``saved_max_seq_length``."""

    def __init__(self, *args, saved_max_seq_length: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.saved_max_seq_length = saved_max_seq_length

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        training_limit = self.model.max_seq_length
        if self.saved_max_seq_length:
            self.model.max_seq_length = self.saved_max_seq_length
        try:
            super()._save(output_dir, state_dict)
        finally:
            self.model.max_seq_length = training_limit
