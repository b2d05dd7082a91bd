"""Distillation: the student learns a teacher's scores (training/distill.py) and retrieval gets better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_train_e2e import _test_ndcg

from training import train
from training.config import load_config
from training.distill import teacher_kind


def _lexical_teacher(tiny_model: Path, folder: Path) -> Path:
    """A word-overlap teacher: mean of random 512-d token vectors (cosine ~ shared tokens). The fixture's
    queries share rare words with their passages, so this teacher ranks them well without any training."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    static = StaticEmbedding(tokenizer, embedding_weights=torch.randn(len(tokenizer), 512))
    SentenceTransformer(modules=[static], device="cpu").save(str(folder))
    return folder


def test_distillation_improves_retrieval(tiny_model: Path, fixture_dataset: Path, tiny_config: Path, tmp_path: Path):
    teacher = _lexical_teacher(tiny_model, tmp_path / "teacher")
    config = tiny_config.read_text(encoding="utf-8") + (
        f"teacher: {{model: {teacher}, query_prompt: '', passage_prompt: '', temperature: 0.05}}\n"
    )
    tiny_config.write_text(config, encoding="utf-8")
    out = tmp_path / "run"
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model)]
    assert train.main([*argv, "--output-dir", str(out), "--max-steps", "40"]) == 0
    card = (out / "final" / "README.md").read_text(encoding="utf-8")
    assert "DistillKLDivLoss" in card and "MatryoshkaLoss" in card
    info = json.loads((out / "final" / "training_info.json").read_text(encoding="utf-8"))
    assert info["config"]["teacher"]["model"] == str(teacher)
    before, after = _test_ndcg(tiny_model, fixture_dataset), _test_ndcg(out / "final", fixture_dataset)
    print(f"distilled: NDCG@10 {before:.3f} -> {after:.3f}")
    # measured gains: +0.20 to +0.43 depending on which tests ran before in the same process (the untrained tiny
    # model's near-tied scores); an undistilled student stays at its base score
    assert after > before + 0.1, (before, after)


def test_a_teacher_that_does_not_load_exits_2(tiny_model, fixture_dataset, tiny_config, tmp_path, capsys):
    tiny_config.write_text(tiny_config.read_text() + f"teacher: {{model: {tmp_path / 'nope'}}}\n", encoding="utf-8")
    argv = ["--config", str(tiny_config), "--dataset", str(fixture_dataset), "--model", str(tiny_model)]
    assert train.main([*argv, "--output-dir", str(tmp_path / "run"), "--max-steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "teacher" in err and "Fix:" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "final").exists()


def test_teacher_kind_is_read_from_the_folder(tiny_model: Path, tmp_path: Path):
    assert teacher_kind(str(tiny_model), "auto") == "embedder"
    folder = tmp_path / "ce"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["XLMRobertaForSequenceClassification"]}))
    assert teacher_kind(str(folder), "auto") == "cross-encoder"
    assert teacher_kind("BAAI/bge-reranker-v2-m3", "auto") == "cross-encoder"
    assert teacher_kind("intfloat/multilingual-e5-large", "auto") == "embedder"
    assert teacher_kind("intfloat/multilingual-e5-large", "cross-encoder") == "cross-encoder"


def test_teacher_options_are_validated(tmp_path: Path):
    from retrieval.errors import ConfigError

    path = tmp_path / "c.yaml"
    path.write_text("teacher: {model: x, loss: mse}\n")
    with pytest.raises(ConfigError, match="teacher.loss"):
        load_config(path)
    path.write_text("teacher: {model: x, temperature: 0}\n")
    with pytest.raises(ConfigError, match="teacher.temperature"):
        load_config(path)
