"""Whole-run checks before the first stage (pipeline/checks.py): later stages' settings fail before ingest."""

from __future__ import annotations

import os

import pytest

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


def test_only_the_stages_that_run_are_checked(tmp_path):
    from pipeline.checks import check_run
    from pipeline.config import config_from_dict

    config = config_from_dict({"output_dir": str(tmp_path), "mine": {"model": "/no/such/model"}})
    check_run(config, ["ingest", "passages"])  # mine does not run: no error
