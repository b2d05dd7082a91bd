"""Shared test set-up: import paths, offline Hub, one torch thread, and the tiny model/dataset fixtures (thin
wrappers over retrieval.testing, which builds them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from retrieval.testing.tiny_dataset import write_fixture_dataset  # noqa: E402
from retrieval.testing.tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine 2 threads are ~10x slower than 1."""
    import torch

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
