"""One run at a time per run folder: a lock file that names its holder, and is taken over when its holder is dead.

Two runs on one folder would both do all the work (double LLM cost) or, with different configs, mix their
statistics. ``RunLock`` creates ``<run_dir>/.lock`` atomically (``O_CREAT | O_EXCL``) with the holder's PID, host
and start time, and removes it on exit. A second run is refused with a message naming the first. A lock left by a
killed run (its PID is gone on this host) does not block: it is replaced. On another host the PID cannot be
checked, so the message says how to remove the lock by hand.

Example:
    >>> with RunLock(Path("runs/demo")):
    ...     run_stages(config, stages)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from pathlib import Path

from pipeline.errors import ConfigError

LOCK_NAME = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.held = False

    def _write(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": dt.datetime.now().isoformat(timespec="seconds")}, f)
        return True

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot create the run folder {self.path.parent} ({e.strerror}): choose a writable "
                              "output_dir (or --output-dir)") from None
        for _ in range(3):
            if self._write():
                self.held = True
                return
            holder = self._holder()
            if holder is None:  # unreadable or vanished between the two calls: try again
                self.path.unlink(missing_ok=True)
                continue
            same_host = holder.get("host") == socket.gethostname()
            if same_host and not _alive(int(holder.get("pid", -1))):
                self.path.unlink(missing_ok=True)  # stale: its run was killed
                continue
            where = "" if same_host else f" on host {holder.get('host')}"
            raise ConfigError(
                f"another run is using {self.path.parent}: PID {holder.get('pid')}{where}, started "
                f"{holder.get('started')}. Wait for it to finish, or stop it; two runs on one folder would do the "
                f"work twice. If that run is gone, delete {self.path}.")
        raise ConfigError(f"could not take the lock {self.path}; delete it if no run is using the folder")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
