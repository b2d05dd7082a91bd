"""One run at a time per run folder: an exclusive lock that names its holder and dies with it.

Two runs on one folder would both do all the work (double LLM cost) or, with different configs, mix their
statistics. ``RunLock`` takes an exclusive ``flock`` on ``<run_dir>/.lock`` and writes the holder's PID, host and
start time into it; a second run is refused with a message naming the first. The kernel releases the lock when the
holder exits, however it exits, so a killed run never leaves a stale lock behind (and there is no window in which
two runs can both take it).

Example::

    with RunLock(Path("runs/demo")):   # or RunFolder("runs/demo").lock()
        run_stages(config, stages)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path

from pipeline.errors import ConfigError

LOCK_NAME = ".lock"


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._file = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
        except OSError as e:
            raise ConfigError(f"cannot create the run folder {self.path.parent} ({e.strerror}): choose a writable "
                              "output_dir (or --output-dir)") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}")
            except ValueError:
                holder = {}
            handle.close()
            where = "" if holder.get("host") in (None, socket.gethostname()) else f" on host {holder.get('host')}"
            raise ConfigError(
                f"another run is using {self.path.parent}: PID {holder.get('pid', '?')}{where}, started "
                f"{holder.get('started', '?')}. Wait for it to finish, or stop it; two runs on one folder would do "
                "the work twice.") from None
        handle.seek(0)
        handle.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": dt.datetime.now().isoformat(timespec="seconds")}, handle)
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock; the file stays (removing it would race a new run)
            self._file = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
