"""Fixtures for the pipeline tests: a tiny tokenizer/model and a tiny C4-shaped corpus, all built offline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # import paths and offline Hub: tests/conftest.py
SAMPLE_DIR = ROOT / "pipeline" / "data" / "sample"


def sample_documents() -> list[dict]:
    docs = []
    for path in sorted(SAMPLE_DIR.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs += [json.loads(line) for line in f]
    return docs


def write_jsonl_gz(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_model) -> Path:
    """The shared tiny SentenceTransformer folder (its tokenizer loads with AutoTokenizer too)."""
    return tiny_model


@pytest.fixture(scope="session")
def italian_docs() -> list[dict]:
    """Eight clean Italian documents from the bundled sample (FLORES paragraphs long enough for Gopher's minimum)."""
    good = [d for d in sample_documents() if d["id"].startswith("flores") and len(d["text"].split()) >= 80]
    return sorted(good, key=lambda d: d["id"])[:8]


@pytest.fixture()
def tiny_corpus(tmp_path, italian_docs) -> dict:
    """Italian documents plus one of each kind the ingest stage must drop, split over two files."""
    base = italian_docs
    english = {"id": "english", "url": "https://example.org/en", "text": (
        "The city council approved the new budget on Tuesday after a long debate about public transport. The "
        "mayor said the plan would add three bus lines and repair the old bridge over the river by next summer.")}
    exact = dict(base[0], id="exact-copy", text=base[0]["text"].replace(". ", ".   ").upper().lower())
    exact["text"] = base[0]["text"].replace(". ", ".  ")
    near = dict(base[1], id="near-copy", text=base[1]["text"] + " Lo ha riferito l'agenzia.")
    boilerplate = {"id": "boilerplate", "url": "https://example.org/menu", "text": "\n".join(
        ["Home", "Chi siamo", "Contatti", "Privacy", "Cookie", "Login", "Registrati", "Carrello"] * 3)}
    records = [*base, english, exact, near, boilerplate]
    folder = tmp_path / "corpus"
    write_jsonl_gz(folder / "part-0.jsonl.gz", records[: len(records) // 2])
    write_jsonl_gz(folder / "part-1.jsonl.gz", records[len(records) // 2 :])
    return {"folder": folder, "records": records}


def make_config(tmp_path: Path, source: Path, tokenizer: str | Path = "unused", **sections):
    """A PipelineConfig for tests: local executor with one in-process worker (so monkeypatching works)."""
    from pipeline.config import config_from_dict

    data = {
        "run_name": "test", "output_dir": str(tmp_path / "runs"),
        "executor": {"type": "local", "tasks": 2, "workers": 1},
        "ingest": {"source": {"type": "jsonl", "path": str(source), "glob": "*.jsonl.gz"}},
        "passages": {"tokenizer": str(tokenizer), "max_tokens": 64, "min_tokens": 8},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return config_from_dict(data)
