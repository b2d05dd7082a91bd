"""One run per run folder (pipeline/run_lock.py): a second run is refused with the first one's PID and start time,
a killed run's lock does not block, and the CLI holds the lock for the whole invocation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.errors import ConfigError
from pipeline.run import main
from pipeline.run_lock import RunLock


def test_second_run_on_a_folder_is_refused_naming_the_first(tmp_path):
    with RunLock(tmp_path / "run") as first:
        holder = json.loads(first.path.read_text())
        with pytest.raises(ConfigError, match=rf"PID {holder['pid']}.*started {holder['started']}"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):  # released on exit: free again
        pass


def test_lock_of_a_killed_run_does_not_block(tmp_path):
    """A run killed with SIGKILL (no cleanup) leaves the lock file; the next run takes it."""
    import time

    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from pathlib import Path; "
            "from pipeline.run_lock import RunLock; lock = RunLock(Path(sys.argv[1])); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)")
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "run"), root], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ConfigError, match=f"PID {holder.pid}"):
        RunLock(tmp_path / "run").acquire()
    holder.kill()
    holder.wait()
    time.sleep(0.1)
    with RunLock(tmp_path / "run") as taken:
        assert json.loads(taken.path.read_text())["pid"] != holder.pid


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
