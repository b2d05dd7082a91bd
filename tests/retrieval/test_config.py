"""The shared config mechanism (retrieval/config.py): strict sections, env expansion, YAML files, overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from retrieval.config import (
    StrictModel,
    apply_overrides,
    expand_env,
    load_config_file,
    parse_overrides,
    validate_config,
)
from retrieval.errors import ConfigError


class Judge(StrictModel):
    name: str
    model: str = "bm25"


class Loss(StrictModel):
    scale: float = Field(20.0, gt=0)
    mini_batch_size: int = 32


class Toy(StrictModel):
    loss: Loss = Field(default_factory=Loss)
    judges: list[Judge] = Field(default_factory=list)
    model: str = "intfloat/multilingual-e5-small"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_names_the_section_and_suggests_the_fix() -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(Toy, {"loss": {"scael": 1}, "modle": "x"}, "config toy.yaml")
    message = str(err.value)
    assert message.startswith("config toy.yaml is invalid:")
    assert "unknown key 'loss.scael' in section 'loss' (did you mean 'scale'?)" in message
    assert "unknown key 'modle' in the top level (did you mean 'model'?)" in message


def test_unknown_key_without_a_close_match_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(Toy, {"loss": {"zzz": 1}}, "config toy.yaml")
    assert "unknown key 'loss.zzz' in section 'loss' (allowed: scale, mini_batch_size)" in str(err.value)


def test_unknown_key_inside_a_list_of_sections() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'judges.0.modl' .*did you mean 'model'"):
        validate_config(Toy, {"judges": [{"name": "a", "modl": "x"}]}, "config toy.yaml")


def test_wrong_type_names_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        validate_config(Toy, {"loss": {"mini_batch_size": "many", "scale": -1}}, "config toy.yaml")
    message = str(err.value)
    assert "loss.mini_batch_size: Input should be a valid integer" in message and "(got 'many')" in message
    assert "loss.scale: Input should be greater than 0 (got -1)" in message


def test_env_expansion_with_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOY_MODEL", "/models/e5")
    monkeypatch.delenv("TOY_UNSET", raising=False)
    monkeypatch.setenv("TOY_EMPTY", "")
    assert expand_env({"a": "${TOY_MODEL:-x}", "b": ["${TOY_UNSET:-fallback}", "${TOY_EMPTY}"], "c": 3}) == {
        "a": "/models/e5", "b": ["fallback", ""], "c": 3}
    path = write(tmp_path, "model: ${TOY_UNSET:-intfloat/e5}\nloss: {scale: '${TOY_UNSET:-10}'}\n")
    cfg = load_config_file(Toy, path, fix="pass --config.")
    assert cfg.model == "intfloat/e5" and cfg.loss.scale == 10.0


def test_a_variable_used_without_default_and_not_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It used to become '' silently: a model path '' then failed as "'.' is not a sentence-transformers model"."""
    monkeypatch.delenv("TOY_UNSET", raising=False)
    with pytest.raises(ConfigError, match=r"config file .*toy.yaml uses \$\{TOY_UNSET\}, which is not set in the "
                       r"environment. Fix: export TOY_UNSET=..., or write \$\{TOY_UNSET:-DEFAULT\}"):
        load_config_file(Toy, write(tmp_path, "model: ${TOY_UNSET}\n"), fix="-")


def test_bad_yaml_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.yaml does not exist. Fix: pass --config toy.yaml"):
        load_config_file(Toy, tmp_path / "nope.yaml", fix="pass --config toy.yaml.")
    with pytest.raises(ConfigError, match=r"config file .*toy.yaml is not valid YAML"):
        load_config_file(Toy, write(tmp_path, "loss: [unclosed\n"), fix="-")
    with pytest.raises(ConfigError, match=r"must hold a mapping of keys .*not a list"):
        load_config_file(Toy, write(tmp_path, "- a\n- b\n"), fix="-")
    assert load_config_file(Toy, write(tmp_path, ""), fix="-") == Toy()


def test_a_yaml_error_says_where_and_the_usual_cause(tmp_path: Path) -> None:
    """An unquoted ${VAR} inside {...} is a YAML syntax error: the message gives the line and how to quote it."""
    with pytest.raises(ConfigError) as err:
        load_config_file(Toy, write(tmp_path, "loss: {scale: 2}\nmodel: {name: ${E5_MODEL}}\n"), fix="-")
    assert "Fix: correct line 2, column 16; quote a value holding ${VAR}" in str(err.value)


def test_a_folder_or_a_binary_file_as_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .* is a folder, not a YAML file. Fix: pass --config"):
        load_config_file(Toy, tmp_path, fix="pass --config toy.yaml.")
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ConfigError, match=r"model.bin is not a text file \(not UTF-8\). Fix: pass --config"):
        load_config_file(Toy, binary, fix="pass --config toy.yaml.")


def test_a_validator_message_that_quotes_the_value_is_not_repeated() -> None:
    from pydantic import field_validator

    class Alphas(StrictModel):
        alphas: list[float] = []

        @field_validator("alphas")
        @classmethod
        def _in_range(cls, alphas: list[float]) -> list[float]:
            raise ValueError(f"weights must lie in [0, 1]; got {alphas}")

    with pytest.raises(ConfigError) as err:
        validate_config(Alphas, {"alphas": [1.5]}, "config toy.yaml")
    assert str(err.value).endswith("alphas: weights must lie in [0, 1]; got [1.5]")


def test_override_of_a_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, "loss: {scale: 5}\n")
    cfg = load_config_file(Toy, path, {"loss.mini_batch_size": 8, "loss.scale": None, "model": "m"}, fix="-")
    assert cfg.loss.mini_batch_size == 8 and cfg.loss.scale == 5.0 and cfg.model == "m"  # None: not given
    assert load_config_file(Toy, None, {"loss.scale": 2}, fix="-").loss.scale == 2.0  # None path: defaults


def test_override_errors() -> None:
    with pytest.raises(ConfigError, match="cannot set model.name: 'model' is not a section"):
        apply_overrides({"model": "m"}, {"model.name": "x"})
    with pytest.raises(ConfigError, match="write SECTION.KEY=VALUE"):
        parse_overrides(["loss.scale"])
    assert parse_overrides(["loss.scale=2.5", "judges=[]", "model=null"]) == {
        "loss.scale": 2.5, "judges": [], "model": None}


def test_error_class_can_be_a_subclass() -> None:
    class PipelineConfigError(ConfigError):
        pass

    with pytest.raises(PipelineConfigError, match="unknown key"):
        validate_config(Toy, {"x": 1}, "config <dict>", error=PipelineConfigError)
