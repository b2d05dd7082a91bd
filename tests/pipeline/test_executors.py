"""Local executor: a run killed with SIGKILL leaves no helper process behind (datatrove's manager, pool workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.executors import read_step_stats

SLEEPY_STEP = """
import sys, time

def sleepy(data, rank=0, world_size=1):
    open(f"{sys.argv[1]}/started_{rank}", "w").close()
    time.sleep(60)
    yield from data
"""
SLEEPY_RUN = """
import sys
from pipeline.config.ingest import ExecutorConfig
from pipeline.executors import make_executor
from sleepy_step import sleepy  # a module, so that spawned workers can unpickle the step

make_executor(ExecutorConfig(workers=int(sys.argv[2])), [sleepy], sys.argv[1] + "/logs", int(sys.argv[2]),
              "sleepy").run()
"""


def _session_processes(sid: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,sid,stat,cmd"], capture_output=True, text=True).stdout.splitlines()[1:]
    return [line for line in out if line.split()[1] == str(sid) and not line.split()[2].startswith("Z")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize("workers", [1, 2])
def test_helpers_die_with_a_killed_run(tmp_path, workers):
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "sleepy_step.py").write_text(SLEEPY_STEP)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    child = subprocess.Popen([sys.executable, "-c", SLEEPY_RUN, str(tmp_path), str(workers)], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 90
        while len(list(tmp_path.glob("started_*"))) < workers and time.time() < deadline and child.poll() is None:
            time.sleep(0.1)
        assert len(list(tmp_path.glob("started_*"))) == workers, "the tasks never started"
        assert len(_session_processes(child.pid)) > 1, "expected helper processes (manager, workers)"
        os.kill(child.pid, signal.SIGKILL)  # the run only, as `kill -9 <pid>` does
        child.wait()
        deadline = time.time() + 10
        while _session_processes(child.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert _session_processes(child.pid) == []
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_step_stats_are_summed_over_tasks(tmp_path):
    from datatrove.utils.stats import PipelineStats, Stats

    stats = tmp_path / "stats"
    stats.mkdir()
    for rank, (total, dropped) in enumerate([(10, 2), (5, 1)]):
        reader, kept = Stats("reader"), Stats("filter")
        reader["documents"].update(total)
        kept["total"].update(total)
        kept["dropped"].update(dropped)
        (stats / f"{rank:05d}.json").write_text(PipelineStats([reader, kept]).to_json())
    totals = read_step_stats(tmp_path)
    assert totals["reader"]["documents"] == 15
    assert totals["filter"]["total"] == 15 and totals["filter"]["dropped"] == 3
    assert read_step_stats(tmp_path / "missing") == {}
