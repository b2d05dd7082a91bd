"""eval.run ranks with exported ONNX graphs (float32 and int8) in the same run as the torch model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from eval import run  # noqa: E402
from training.onnx_export import FLOAT_FILE, INT8_FILE, export  # noqa: E402


def test_eval_ranks_with_onnx_models_beside_torch(tiny_model: Path, toy_beir: Path, tmp_path: Path):
    exported = tmp_path / "onnx"
    export(str(tiny_model), exported)
    argv = ["--models", f"torch={tiny_model}", f"fp32={exported / FLOAT_FILE}", f"int8={exported / INT8_FILE}"]
    argv += ["--sets", f"toy={toy_beir}", "--output-dir", str(tmp_path / "r"), "--dims", "32", "--device", "cpu"]
    assert run.main(argv) == 0
    report = json.loads((tmp_path / "r" / "results.json").read_text(encoding="utf-8"))
    full = {r["model"]: r for r in report["results"] if r["full_dim"] and r["model"] != "bm25"}
    assert full["fp32"]["ndcg@10"] == pytest.approx(full["torch"]["ndcg@10"], abs=1e-6)
    assert abs(full["int8"]["ndcg@10"] - full["torch"]["ndcg@10"]) < 0.1
    assert full["int8"]["size_mb"] < full["fp32"]["size_mb"]
    assert all(full[m]["passages_per_s"] > 0 for m in full)
