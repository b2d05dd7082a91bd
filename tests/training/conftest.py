"""Fixtures for the training tests: a tiny model and a tiny dataset in the published format (built once)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
for _p in (str(_ROOT), str(_ROOT / "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from conftest_tiny import build_tiny_model, write_fixture_dataset  # noqa: E402

TINY_CONFIG = """\
model: {max_seq_length: 64}
data: {max_dev_queries: 48}
loss: {mini_batch_size: 8, matryoshka_dims: [64, 32]}
training: {batch_size: 16, learning_rate: 1.0e-3, eval_steps: 20, logging_steps: 10, device: cpu, seed: 0}
card: {language: it, license: mit}
"""


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine 2 threads are ~10x slower than 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained SentenceTransformer folder (2-layer BERT, hidden 64, mean pooling)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def fixture_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dataset folder in the published format (triplets, pairs, corpus, queries, qrels, beir/test)."""
    return write_fixture_dataset(tmp_path_factory.mktemp("data") / "it-fixture")


@pytest.fixture()
def tiny_config(tmp_path: Path) -> Path:
    """A training config sized for the tiny model on 2 CPU cores."""
    path = tmp_path / "train_tiny.yaml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return path
