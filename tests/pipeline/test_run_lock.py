"""One run per run folder (pipeline/run_lock.py): a second run is refused with the first one's PID and start time,
a stale lock from a killed run does not block, and the CLI holds the lock for the whole invocation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.errors import ConfigError
from pipeline.run import main
from pipeline.run_lock import LOCK_NAME, RunLock


def test_second_run_on_a_folder_is_refused_naming_the_first(tmp_path):
    with RunLock(tmp_path / "run") as first:
        holder = json.loads(first.path.read_text())
        with pytest.raises(ConfigError, match=rf"PID {holder['pid']}.*started {holder['started']}"):
            RunLock(tmp_path / "run").acquire()
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # released on exit
    with RunLock(tmp_path / "run"):  # and free again
        pass


def test_stale_lock_of_a_killed_run_does_not_block(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "run" / LOCK_NAME
    lock.parent.mkdir()
    import socket

    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00"}))
    with RunLock(tmp_path / "run") as taken:
        assert json.loads(taken.path.read_text())["pid"] != dead.pid


def test_cli_refuses_a_folder_in_use(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"run_name: busy\noutput_dir: {tmp_path / 'runs'}\n")
    with RunLock(tmp_path / "runs" / "busy"):
        assert main(["--stage", "ingest", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: another run is using") and "Traceback" not in err


def test_cli_max_passages_must_be_positive(capsys):
    assert main(["--max-passages", "0"]) == 2
    assert "--max-passages must be at least 1" in capsys.readouterr().err
