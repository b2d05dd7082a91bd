"""The YAML config: shipped configs validate, unknown keys and bad values are errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from training.config import TrainConfig, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["train.yaml", "train_cpu.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.model.name_or_path == "intfloat/multilingual-e5-small"
    assert cfg.model.query_prompt == "query: " and cfg.model.passage_prompt == "passage: "
    assert cfg.loss.matryoshka_dims == [384, 256, 128, 64]


def test_cpu_config_is_small() -> None:
    cpu = load_config(ROOT / "configs" / "train_cpu.yaml")
    gpu = load_config(ROOT / "configs" / "train.yaml")
    assert cpu.training.device == "cpu" and cpu.training.precision == "fp32"
    assert cpu.training.batch_size < gpu.training.batch_size
    assert 0 < cpu.training.max_steps <= 500


def test_defaults_without_file() -> None:
    assert load_config(None) == TrainConfig()


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  batch_sz: 8\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "batch_sz" in message and "training" in message and "batch_size" in message  # allowed keys listed
    assert str(path) in message


def test_unknown_section_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("optimiser: {lr: 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key 'optimiser' in the top level"):
        load_config(path)


def test_bad_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  learning_rate: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"training\.learning_rate"):
        load_config(path)


@pytest.mark.parametrize("steps", [0, -5])
def test_max_steps_is_positive_or_minus_one(steps: int) -> None:
    """transformers reads max_steps 0 (or -5) as "train for epochs": a full epoch instead of no step."""
    with pytest.raises(ConfigError, match=r"training.max_steps: must be a number of optimizer steps \(at least 1\), "
                       rf"or -1 to train for epochs \(got {steps}\)"):
        load_config(None, {"training.max_steps": steps})
    assert load_config(None, {"training.max_steps": -1}).training.max_steps == -1


def test_mini_batch_larger_than_batch(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("loss: {mini_batch_size: 64}\ntraining: {batch_size: 16}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mini_batch_size"):
        load_config(path)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_overrides_apply(tmp_path: Path) -> None:
    cfg = load_config(
        ROOT / "configs" / "train.yaml", {"training.max_steps": 7, "data.dataset": "x/y", "model.revision": None}
    )
    assert cfg.training.max_steps == 7 and cfg.data.dataset == "x/y"


def test_matryoshka_dims_sorted_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("loss: {matryoshka_dims: [64, 384, 128]}\n", encoding="utf-8")
    assert load_config(path).loss.matryoshka_dims == [384, 128, 64]
    path.write_text("loss: {matryoshka_dims: [0]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="matryoshka_dims"):
        load_config(path)
