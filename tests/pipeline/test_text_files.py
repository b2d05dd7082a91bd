"""A folder of .txt / .md files, one document each, through ingest + passages (ingest.source.type: files)."""

from __future__ import annotations

import gzip
import json

import pytest

from pipeline.errors import InputDataError
from pipeline.run import run_stages
from pipeline.stages.ingest import IngestStage
from tests.pipeline.conftest import make_config


def write_folder(folder, italian_docs) -> dict[str, str]:
    """Four documents as files (one Markdown with front matter, one in a subfolder) plus files to skip."""
    folder.mkdir(parents=True)
    (folder / "sub").mkdir()
    files = {
        "a.txt": italian_docs[0]["text"],
        "guida.md": "---\nauthor: x\n---\n# Guida al servizio\n\n" + italian_docs[1]["text"],
        "sub/c.markdown": italian_docs[2]["text"],
        "d.TXT": italian_docs[3]["text"],
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "empty.md").write_text("---\ntitle: none\n---\n", encoding="utf-8")
    return files


def read_output(run_dir) -> dict[str, dict]:
    docs = {}
    for path in sorted((run_dir / "ingest" / "output").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                docs[record["id"]] = record
    return docs


def test_text_files_become_documents(tmp_path, italian_docs, tiny_model_dir):
    files = write_folder(tmp_path / "docs", italian_docs)
    cfg = make_config(tmp_path, tmp_path / "docs", tiny_model_dir,
                      ingest={"source": {"type": "files", "path": str(tmp_path / "docs")},
                              "fineweb_quality": False, "gopher_quality": False, "gopher_repetition": False})
    results = run_stages(cfg, ["ingest", "passages"])
    docs = read_output(cfg.run_dir)
    assert set(docs) == set(files)  # the image and the empty file are not documents
    assert results["ingest"]["documents_in"] == 4
    guide = docs["guida.md"]
    assert guide["metadata"]["title"] == "Guida al servizio"
    assert "author:" not in guide["text"] and guide["text"].startswith("# Guida al servizio")
    assert docs["a.txt"]["metadata"]["title"] == "a"
    assert results["passages"]["rows"] >= 4


def test_a_folder_without_text_files_is_refused(tmp_path, tiny_model_dir):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.csv").write_text("a,b\n")
    cfg = make_config(tmp_path, tmp_path / "docs", tiny_model_dir,
                      ingest={"source": {"type": "files", "path": str(tmp_path / "docs")}})
    with pytest.raises(InputDataError, match=r"no \.txt, \.md"):
        IngestStage(cfg).run()


def test_a_file_that_is_not_utf8_is_named(tmp_path, italian_docs, tiny_model_dir):
    write_folder(tmp_path / "docs", italian_docs)
    (tmp_path / "docs" / "latin1.txt").write_bytes("perché è così".encode("latin-1"))
    cfg = make_config(tmp_path, tmp_path / "docs", tiny_model_dir,
                      executor={"type": "local", "tasks": 1, "workers": 1},
                      ingest={"source": {"type": "files", "path": str(tmp_path / "docs")}})
    with pytest.raises(InputDataError, match=r"latin1\.txt: not UTF-8.*iconv"):
        IngestStage(cfg).run()
