"""Fixtures for the evaluation tests: a 3-query toy BEIR folder (tiny model and dataset: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.beir import write_beir


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
    return write_beir(tmp_path / "toy", corpus, queries, qrels)
