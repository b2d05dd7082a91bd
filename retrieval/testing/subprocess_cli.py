"""Run a module's command line in a child process, as a user would: ``python -m <module> <args>``.

The child runs from the folder that holds ``retrieval/`` (the project root in a checkout), offline
(``HF_HUB_OFFLINE=1``) and with one OpenMP thread, and its output is captured.

Example::

    proc = run_module("eval.run", "--sets", "no/such/folder", "--output-dir", "/tmp/r")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr   # a one-line error, not a traceback
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m module args`` from the project root, offline and single-threaded; output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
