"""Whole-run checks before the first stage (pipeline/checks.py): later stages' settings fail before ingest."""

from __future__ import annotations

import os

import pytest

from pipeline.errors import ConfigError
from pipeline.run import main


def write_config(tmp_path, **extra) -> str:
    import yaml

    data = {"run_name": "chk", "output_dir": str(tmp_path / "runs"),
            "ingest": {"source": {"type": "jsonl", "path": "pipeline/data/sample"}}, **extra}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("extra", "message"), [
    ({"mine": {"model": "/no/such/model"}}, "mine.model is '/no/such/model'"),
    ({"filter": {"round_trip": {"model": "./missing-e5"}}}, "filter.round_trip.model"),
    ({"filter": {"decontamination": {"eval_sets": ["/no/eval"]}}}, "has no corpus.jsonl"),
])
def test_later_stage_settings_fail_before_ingest(tmp_path, capsys, extra, message):
    assert main(["--config", write_config(tmp_path, **extra)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Fix:" in err and "Traceback" not in err
    assert not (tmp_path / "runs" / "chk" / "ingest").exists()  # nothing ran


def test_output_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "runs").write_text("not a folder")
    assert main(["--config", write_config(tmp_path), "--stage", "ingest"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_output_dir_not_writable(tmp_path, capsys, monkeypatch):
    (tmp_path / "ro").mkdir()
    # as root every folder is writable, so the permission is denied by stubbing the check the code makes
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(tmp_path / "ro"))
    assert main(["--config", write_config(tmp_path), "--output-dir", str(tmp_path / "ro" / "runs")]) == 2
    assert "cannot write in" in capsys.readouterr().err


def test_only_the_stages_that_run_are_checked(tmp_path, tiny_model):
    from pipeline.checks import check_run
    from pipeline.config import config_from_dict

    config = config_from_dict({"output_dir": str(tmp_path), "mine": {"model": "/no/such/model"},
                               "passages": {"tokenizer": str(tiny_model)}})  # the passages preflight loads it
    check_run(config, ["ingest", "passages"])  # mine does not run: no error


def test_a_bad_language_file_or_tokenizer_fails_before_ingest(tmp_path, capsys):
    from pipeline.languages import LANGUAGES_DIR

    bad = tmp_path / "zz.yaml"
    bad.write_text((LANGUAGES_DIR / "ita_Latn.yaml").read_text(encoding="utf-8").replace("spacy: it", "spacy: zz"))
    assert main(["--config", write_config(tmp_path, language=str(bad)), "--stage", "passages"]) == 2
    assert "spaCy has no language 'zz'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    config = write_config(tmp_path, passages={"tokenizer": str(tmp_path / "empty")})
    assert main(["--config", config, "--stage", "passages"]) == 2
    assert "cannot load tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "chk" / "ingest").exists()  # nothing ran


def test_a_hub_model_missing_from_the_cache_while_offline(tmp_path, tiny_model, capsys, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    config = write_config(tmp_path, passages={"tokenizer": str(tiny_model)},
                          filter={"round_trip": {"model": str(tiny_model)}}, mine={"model": "nobody/no-such-model"})
    assert main(["--config", config]) == 2
    err = capsys.readouterr().err
    assert "mine.model: model 'nobody/no-such-model' is a Hub id, but the Hub is offline" in err and "Fix:" in err
    assert not (tmp_path / "runs" / "chk" / "ingest").exists()


def test_a_local_llm_that_cannot_start_fails_before_ingest(tmp_path, tiny_model, capsys, monkeypatch):
    from pipeline.checks import check_run
    from pipeline.config import config_from_dict

    monkeypatch.delenv("LLM_GGUF", raising=False)
    passages = {"tokenizer": str(tiny_model)}
    generate = {"backend": "llama-server", "llamacpp": {"model_path": str(tmp_path / "no.gguf")}}
    config = write_config(tmp_path, passages=passages, generate=generate)
    assert main(["--config", config, "--stage", "generate"]) == 2
    assert "GGUF file not found" in capsys.readouterr().err
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    generate["llamacpp"] = {"model_path": str(tmp_path / "m.gguf"), "server_binary": str(tmp_path / "no-server")}
    assert main(["--config", write_config(tmp_path, passages=passages, generate=generate), "--stage", "generate"]) == 2
    assert "llama-server binary not found" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "chk" / "ingest").exists()
    # with a reply store every passage may be answered already (a fresh clone): no server needed up front
    config = config_from_dict({"output_dir": str(tmp_path / "runs"), "passages": passages,
                               "generate": {**generate, "reply_store": str(tmp_path / "replies")}})
    check_run(config, ["ingest", "passages", "generate"])


def test_a_finished_stage_is_not_checked_again(tmp_path, monkeypatch):
    from pipeline.checks import check_run
    from pipeline.config import config_from_dict
    from pipeline.stages.generate import GenerateStage

    config = config_from_dict({"output_dir": str(tmp_path / "runs"), "generate": {
        "backend": "llama-server", "llamacpp": {"model_path": str(tmp_path / "gone.gguf")}}})
    monkeypatch.setattr(GenerateStage, "is_done", lambda self: True)
    check_run(config, ["generate"])  # the GGUF it was made with may be gone: it is not needed
    with pytest.raises(ConfigError, match="GGUF file not found"):
        check_run(config, ["generate"], force=True)  # --force redoes it



@pytest.mark.parametrize(("executor", "message"), [
    ({"type": "slurm"}, "has no `sbatch`"),
    ({"type": "ray"}, "the ray package is not installed"),
])
def test_a_cluster_executor_that_cannot_start_here_fails_before_ingest(tmp_path, capsys, monkeypatch, executor,
                                                                       message):
    import importlib.util
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no Slurm client on this machine
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["--config", write_config(tmp_path, executor=executor)]) == 2
    err = capsys.readouterr().err
    assert message in err and "ingest" in err and "Fix:" in err and "Traceback" not in err
    assert not (tmp_path / "runs" / "chk" / "ingest").exists()


def test_the_executor_is_checked_only_for_the_stages_that_use_it(tmp_path):
    from pipeline.checks import executor_stages
    from pipeline.config import load_config

    config = load_config(write_config(tmp_path, executor={"type": "slurm"}))
    assert executor_stages(config, ["filter", "mine", "split", "publish"]) == []  # in-process unless sharded
    config.mine.tasks = 8
    assert executor_stages(config, ["filter", "mine", "split"]) == ["mine"]
