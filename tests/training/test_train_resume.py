"""A killed training run resumes from its last complete checkpoint, and only when it is the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer

from retrieval.errors import ConfigError
from training import train
from training.config import load_config
from training.resume import FINGERPRINT_FILE, checkpoints, resume_checkpoint, run_fingerprint


def _checkpoint(folder: Path, step: int, complete: bool = True) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / "trainer_state.json").write_text("{}", encoding="utf-8")
    return path


FINGERPRINT = run_fingerprint({"training": {"learning_rate": 1e-5}, "hub": {"repo_id": None}}, "1.0.0", None)


def test_a_new_run_starts_from_the_beginning_and_leaves_its_fingerprint(tmp_path: Path) -> None:
    assert resume_checkpoint(tmp_path / "run", FINGERPRINT) is None
    assert json.loads((tmp_path / "run" / FINGERPRINT_FILE).read_text(encoding="utf-8")) == FINGERPRINT


def test_the_last_complete_checkpoint_is_chosen_not_a_half_written_one(tmp_path: Path) -> None:
    resume_checkpoint(tmp_path, FINGERPRINT)
    _checkpoint(tmp_path, 4)
    _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, complete=False)  # killed while saving: no trainer_state.json yet
    assert [step for step, _ in checkpoints(tmp_path)] == [4, 10]
    assert resume_checkpoint(tmp_path, FINGERPRINT) == str(tmp_path / "checkpoint-10")


def test_checkpoints_of_another_run_are_refused_and_named(tmp_path: Path) -> None:
    resume_checkpoint(tmp_path, FINGERPRINT)
    _checkpoint(tmp_path, 4)
    other = run_fingerprint({"training": {"learning_rate": 2e-5}, "hub": {"repo_id": None}}, "1.0.0", None)
    with pytest.raises(ConfigError, match=r"training.learning_rate: 1e-05 then, 2e-05 now.*--fresh"):
        resume_checkpoint(tmp_path, other)
    assert (tmp_path / "checkpoint-4").is_dir()  # nothing deleted by the refusal
    newer_data = run_fingerprint({"training": {"learning_rate": 1e-5}}, "1.1.0", None)
    with pytest.raises(ConfigError, match="dataset_version: '1.0.0' then, '1.1.0' now"):
        resume_checkpoint(tmp_path, newer_data)
    # a push target is not part of the run: it may change between the kill and the resume
    pushed = run_fingerprint({"training": {"learning_rate": 1e-5}, "hub": {"repo_id": "me/x"}}, "1.0.0", None)
    assert resume_checkpoint(tmp_path, pushed) == str(tmp_path / "checkpoint-4")


def test_fresh_deletes_the_old_checkpoints(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 4)  # no fingerprint: written before this module existed, or by hand
    with pytest.raises(ConfigError, match="no run_fingerprint.json"):
        resume_checkpoint(tmp_path, FINGERPRINT)
    assert resume_checkpoint(tmp_path, FINGERPRINT, fresh=True) is None
    assert not (tmp_path / "checkpoint-4").exists()


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return SentenceTransformer(str(folder), device="cpu").state_dict()


def test_a_killed_training_resumes_to_the_same_weights(
    tiny_model: Path, fixture_dataset: Path, tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def config(out: Path):
        overrides = {"data.dataset": str(fixture_dataset), "model.name_or_path": str(tiny_model),
                     "training.output_dir": str(out), "training.max_steps": 6}
        return load_config(tiny_config, overrides, {"training.eval_steps": 2, "training.save_total_limit": 3})

    whole = train.run(config(tmp_path / "whole"))

    steps = []
    step = SentenceTransformerTrainer.training_step

    def killed_at_step_5(self, *args, **kwargs):
        if len(steps) == 4:
            raise KeyboardInterrupt  # as a session's end or Ctrl-C would
        steps.append(1)
        return step(self, *args, **kwargs)

    def counted(self, *args, **kwargs):
        steps.append(1)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformerTrainer, "training_step", killed_at_step_5)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train.run(config(out))
    assert [s for s, _ in checkpoints(out)] == [2, 4] and not (out / "final").exists()

    steps.clear()
    monkeypatch.setattr(SentenceTransformerTrainer, "training_step", counted)
    resumed = train.run(config(out))
    assert len(steps) == 2  # steps 5 and 6 only: 1-4 came from checkpoint-4
    info = json.loads((resumed / "training_info.json").read_text(encoding="utf-8"))
    assert info["global_steps"] == 6
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)

    # the same command once more: nothing to train (transformers alone would take a 7th step: 6 ends mid-epoch)
    steps.clear()
    again = train.run(config(out))
    assert steps == [] and json.loads((again / "training_info.json").read_text(encoding="utf-8"))["global_steps"] == 6
    c = _weights(again)
    for name in a:
        torch.testing.assert_close(a[name], c[name], rtol=0, atol=1e-6, msg=name)
