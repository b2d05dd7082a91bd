"""Fixtures for the training tests: a tiny training config (tiny model and dataset: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CONFIG = """\
model: {max_seq_length: 48}  # below the tiny model's 64: the saved model must keep 64
data: {max_dev_queries: 48}
loss: {mini_batch_size: 8, matryoshka_dims: [64, 32]}
training: {batch_size: 16, learning_rate: 1.0e-3, eval_steps: 20, logging_steps: 10, device: cpu, seed: 0}
card: {language: it, license: mit}
"""


@pytest.fixture()
def tiny_config(tmp_path: Path) -> Path:
    """A training config sized for the tiny model on 2 CPU cores."""
    path = tmp_path / "train_tiny.yaml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return path
