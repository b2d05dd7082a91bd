"""Bad input to training: GPU requested without one, a folder that is not a model, a bad dataset -> exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from retrieval.device import resolve_device, resolve_precision
from retrieval.errors import ConfigError, DeviceError, ModelError
from retrieval.models import load_model
from retrieval.testing.subprocess_cli import run_module
from training import train


def test_cuda_requested_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="sees no CUDA GPU.*device: auto"):
        resolve_device("cuda")
    assert resolve_device("auto") in ("cpu", "mps")


def test_precision_rules() -> None:
    assert resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("bf16", "cpu")


def test_not_a_model_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(ModelError, match="no modules.json"):
        load_model(str(tmp_path))
    with pytest.raises(ModelError, match="does not exist"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(ModelError, match="is a file"):
        load_model(str(tmp_path / "notes.txt"))


def test_cli_gpu_request_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, fixture_dataset: Path, tiny_model: Path
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["--dataset", str(fixture_dataset), "--model", str(tiny_model), "--device", "cuda"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda'") and "Traceback" not in err


def test_cli_bad_model_exits_2(capsys: pytest.CaptureFixture, fixture_dataset: Path, tmp_path: Path) -> None:
    argv = [
        "--dataset",
        str(fixture_dataset),
        "--model",
        str(tmp_path),
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path),
    ]
    assert train.main(argv) == 2
    assert "is not a sentence-transformers model" in capsys.readouterr().err


def test_cli_output_dir_that_is_a_file_exits_2(
    capsys: pytest.CaptureFixture, fixture_dataset: Path, tiny_model: Path, tmp_path: Path
) -> None:
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")
    argv = ["--dataset", str(fixture_dataset), "--model", str(tiny_model), "--output-dir", str(tmp_path / "out")]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert "out is a file, not a folder. Fix: pass an --output-dir (training.output_dir) folder" in err
    assert (tmp_path / "out").read_text(encoding="utf-8") == "not a folder"


def test_cli_uncached_hub_model_offline_exits_2_before_the_dataset_loads(
    capsys: pytest.CaptureFixture, fixture_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr(train, "describe_dataset", lambda *a: pytest.fail("the dataset loads after the model check"))
    assert train.main(["--dataset", str(fixture_dataset), "--model", "nobody/no-such-model", "--device", "cpu"]) == 2
    assert "'nobody/no-such-model' is a Hub id, but the Hub is offline" in capsys.readouterr().err


def test_cli_subprocess_bad_dataset_no_traceback(tmp_path: Path, tiny_model: Path) -> None:
    (tmp_path / "README.md").write_text("# empty\n", encoding="utf-8")
    proc = run_module("training.train", "--dataset", str(tmp_path), "--model", str(tiny_model), "--device", "cpu")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: cannot load config 'triplets'" in proc.stderr and "Traceback" not in proc.stderr


def test_matryoshka_dims_larger_than_model(tiny_model: Path) -> None:
    from training.config import TrainConfig

    model = load_model(str(tiny_model), device="cpu")
    with pytest.raises(ConfigError, match=r"larger than the model's embedding size 64"):
        train.build_loss(model, TrainConfig())  # default dims 384..64 on a 64-dim model
