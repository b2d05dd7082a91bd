"""A progress line for long generation runs: passages answered, rate and time left, every ``interval`` seconds.

datatrove's inference runner reports request metrics in its task log; on the terminal (kept quiet, see
pipeline/executors.py) the user sees this line instead. It counts what the run folder holds: replies of finished
chunks (``raw/<batch>/*.jsonl.gz``) plus those of open chunks (``checkpoints/<batch>/*/chunk_*.jsonl``).

Example::

    with GenerationProgress(run_dir / "generate", total=3000, already=256):
        run_the_batches()
"""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path


class GenerationProgress:
    def __init__(self, stage_dir: Path, total: int, already: int = 0, interval: float = 60.0) -> None:
        self.stage_dir = Path(stage_dir)
        self.total = total
        self.already = already  # answered before the files this counts (e.g. served by the reply store)
        self.interval = interval
        self._finished_chunks: dict[Path, tuple[int, int]] = {}  # path -> (size, lines): gzip read once per size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self) -> int:
        """Replies in the run folder now (finished and open chunks)."""
        done = 0
        for path in (self.stage_dir / "raw").glob("*/*.jsonl.gz"):
            size = path.stat().st_size
            cached = self._finished_chunks.get(path)
            if cached is None or cached[0] != size:
                try:
                    with gzip.open(path, "rt", encoding="utf-8") as f:
                        cached = (size, sum(1 for line in f if line.strip()))
                except (OSError, EOFError):  # being written: count it next time
                    continue
                self._finished_chunks[path] = cached
            done += cached[1]
        for path in (self.stage_dir / "checkpoints").glob("*/*/chunk_*.jsonl"):
            try:
                with open(path, encoding="utf-8") as f:
                    done += sum(1 for line in f if line.strip())
            except OSError:
                continue
        return done

    def line(self, start_count: int, started: float) -> str:
        done = self.already + self.count()
        new = done - self.already - start_count
        elapsed = time.time() - started
        text = f"[generate] {min(done, self.total)}/{self.total} passages answered"
        if new > 0 and elapsed > 0:
            rate = new / elapsed
            left = max(self.total - done, 0) / rate
            text += f"; {rate * 3600:.0f}/hour this run, about {_duration(left)} left"
        return text

    def _loop(self, start_count: int, started: float) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(start_count, started), flush=True)

    def __enter__(self) -> GenerationProgress:
        start_count, started = self.count(), time.time()
        self._thread = threading.Thread(target=self._loop, args=(start_count, started), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
