"""ONNX export and int8 quantization of a tiny model: same embeddings as torch (float32), close ones (int8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from retrieval.errors import ModelError  # noqa: E402
from retrieval.models import load_model  # noqa: E402
from retrieval.onnx_model import OnnxEmbedder  # noqa: E402
from training.onnx_export import FLOAT_FILE, INT8_FILE, export, main  # noqa: E402

TEXTS = [
    "query: chi ha vinto le elezioni comunali di Modena?",
    "passage: La squadra ha perso in casa per due a uno dopo un secondo tempo difficile.",
    "passage: Il museo riapre sabato.",
    "query: orari biblioteca",
]


@pytest.fixture(scope="module")
def exported(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny"
    files = export(str(tiny_model), out)
    assert set(files) == {"float32", "int8"}
    return out


def test_float32_graph_encodes_like_torch(tiny_model: Path, exported: Path):
    expected = load_model(str(tiny_model), device="cpu").encode(TEXTS, convert_to_numpy=True)
    got = OnnxEmbedder(exported / FLOAT_FILE).encode(TEXTS, batch_size=3)  # batches of mixed lengths
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_int8_graph_is_close_and_smaller(tiny_model: Path, exported: Path):
    expected = load_model(str(tiny_model), device="cpu").encode(
        TEXTS, convert_to_numpy=True, normalize_embeddings=True
    )
    int8 = load_model(str(exported / INT8_FILE))  # the owner of model loading hands back an OnnxEmbedder
    assert isinstance(int8, OnnxEmbedder)
    got = int8.encode(TEXTS, normalize_embeddings=True)
    cosines = (expected * got).sum(axis=1)
    assert cosines.min() > 0.95
    assert int8.size()["size_mb"] < OnnxEmbedder(exported / FLOAT_FILE).size()["size_mb"]


def test_prompt_and_single_text(exported: Path):
    model = OnnxEmbedder(exported / FLOAT_FILE)
    one = model.encode("chi ha vinto?", prompt="query: ")
    assert one.ndim == 1 and one.shape[0] == model.get_embedding_dimension()
    np.testing.assert_allclose(one, model.encode(["query: chi ha vinto?"])[0], atol=1e-6)


def test_missing_onnx_file_names_the_fix(tmp_path: Path):
    with pytest.raises(ModelError, match="training.onnx_export"):
        load_model(str(tmp_path / "onnx" / "model_qint8.onnx"))


def test_cli_refuses_a_non_empty_output(tiny_model: Path, tmp_path: Path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main(["--model", str(tiny_model), "--output", str(tmp_path / "out")]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_cli_names_a_model_that_does_not_exist(tmp_path: Path, capsys):
    assert main(["--model", str(tmp_path / "nope"), "--output", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_force_keeps_the_old_output_when_the_export_fails(tmp_path: Path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    assert main(["--model", str(tmp_path / "empty"), "--output", str(tmp_path / "out"), "--force"]) == 2
    assert "is not a sentence-transformers model" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "out"]  # no partial folder left
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_cli_output_that_is_a_file(tiny_model: Path, tmp_path: Path, capsys):
    (tmp_path / "out").write_text("a file")
    assert main(["--model", str(tiny_model), "--output", str(tmp_path / "out" / "onnx")]) == 2
    assert "out is a file, not a folder. Fix: pass an --output folder" in capsys.readouterr().err



def test_a_plain_kill_leaves_no_half_written_output(tiny_model: Path, tmp_path: Path, capsys, monkeypatch):
    import os
    import signal

    from training import onnx_export

    def killed_half_way(model_ref: str, output: Path, *args) -> dict:
        (output / "onnx").mkdir(parents=True)
        (output / "onnx" / "model.onnx").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGTERM)  # a plain `kill` (SIGTERM) while the export writes
        raise AssertionError("SIGTERM should have interrupted the export")

    monkeypatch.setattr(onnx_export, "export", killed_half_way)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main(["--model", str(tiny_model), "--output", str(tmp_path / "out"), "--force"]) == 130
    assert "interrupted: --output was not left half-written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (tmp_path / "out" / "keep.txt").is_file()
