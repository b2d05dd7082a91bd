"""Fixtures for the evaluation tests: a tiny model, a tiny dataset, and a 3-query toy BEIR folder."""

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
from conftest_tiny import build_tiny_model, write_beir_folder, write_fixture_dataset  # noqa: E402


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
    """A tiny dataset folder in the published format (with beir/test)."""
    return write_fixture_dataset(tmp_path_factory.mktemp("data") / "it-fixture")


@pytest.fixture()
def toy_beir(tmp_path: Path) -> Path:
    """Three queries over five passages, qrels as qrels/test.tsv."""
    corpus = [
        {"_id": "d1", "title": "Roma", "text": "Roma è la capitale d'Italia."},
        {"_id": "d2", "title": "", "text": "Il Po è il fiume più lungo d'Italia."},
        {"_id": "d3", "title": "", "text": "La pizza margherita nasce a Napoli."},
        {"_id": "d4", "title": "", "text": "Il Monte Bianco è la vetta più alta delle Alpi."},
        {"_id": "d5", "title": "", "text": "Venezia è costruita su un arcipelago di isole."},
    ]
    queries = [
        {"_id": "q1", "text": "capitale d'Italia"},
        {"_id": "q2", "text": "fiume più lungo"},
        {"_id": "q3", "text": "dove nasce la pizza"},
    ]
    qrels = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 1)]
    return write_beir_folder(tmp_path / "toy", corpus, queries, qrels)
