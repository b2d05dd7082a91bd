"""Build datatrove executors from the config: local (default), Slurm or Ray; and read back their statistics.

The terminal stays quiet: datatrove logs every task's pipeline, per-step statistics and metrics at INFO on stderr
(hundreds of lines for the demo), which drowns the stage summaries. Local tasks log in full to their files
(``<stage>/logs/<step>/logs/task_*.log``) and only warnings without a traceback reach the terminal; the error
itself reaches the user as the stage's one clear message. ``PIPELINE_LOG_LEVEL=INFO`` brings datatrove's
terminal logs back.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.utils.stats import PipelineStats
from loguru import logger

from pipeline.config.ingest import ExecutorConfig

_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | <level>{level: <8}</level> | {name}:{function}:{line} - {message}"


def terminal_level() -> str:
    return os.environ.get("PIPELINE_LOG_LEVEL", "WARNING").upper()


def _no_traceback(record) -> bool:
    """Terminal filter: a record carrying an exception is in the task log; the user gets the stage's message."""
    return record["exception"] is None or terminal_level() in ("DEBUG", "INFO")


def quiet_terminal_logs() -> None:
    """datatrove's (loguru) terminal sink at ``terminal_level()``, without tracebacks."""
    logger.remove()
    logger.add(sys.stderr, level=terminal_level(), filter=_no_traceback, format=_FORMAT, colorize=False)


def _task_logger(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    """datatrove.utils.logging.add_task_logger with a quiet terminal sink (datatrove's adds stderr at INFO and
    offers no setting for it): the task's log file still gets everything at DEBUG."""
    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    if local_rank == 0:
        logger.add(sys.stderr, level=terminal_level(), filter=_no_traceback, format=_FORMAT, colorize=False)
    logger.add(logfile, level="DEBUG", format=_FORMAT, colorize=False)
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


def _close_task_logger(logfile) -> None:
    logger.complete()
    quiet_terminal_logs()
    logfile.close()


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; a no-op elsewhere).

    datatrove's local executor starts helper processes: a ``multiprocess.Manager`` server on every run (even with
    one worker) and a pool of spawned workers when ``workers > 1``. When the run itself is killed with SIGKILL
    (``kill -9``, the OOM killer) nothing tells them: the manager lingered idle, and a worker would go on sending LLM
    requests and writing into the run folder beside the rerun. Each of them calls this first.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _manager_dying_with_parent():
    """``multiprocess.Manager()`` whose server process dies with the run (see die_with_parent)."""
    from multiprocess.managers import SyncManager

    manager = SyncManager()
    manager.start(die_with_parent)
    return manager


class QuietLocalExecutor(LocalPipelineExecutor):
    """LocalPipelineExecutor whose tasks log quietly to the terminal (see the module docstring) and whose helper
    processes die with the run (die_with_parent). Defined at module level: the spawned worker processes unpickle it
    by name."""

    def run(self):
        import datatrove.executor.local as local

        saved = local.multiprocess.Manager
        local.multiprocess.Manager = _manager_dying_with_parent
        try:
            return super().run()
        finally:
            local.multiprocess.Manager = saved

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        import datatrove.executor.base as base
        import multiprocess

        if multiprocess.parent_process() is not None:  # a pool worker, not the run itself (workers == 1)
            die_with_parent()

        saved = base.add_task_logger, base.close_task_logger
        base.add_task_logger, base.close_task_logger = _task_logger, _close_task_logger
        try:
            return super()._run_for_rank(rank, local_rank, node_rank)
        finally:
            base.add_task_logger, base.close_task_logger = saved


def make_executor(cfg: ExecutorConfig, pipeline: list, logging_dir: Path, tasks: int, job_name: str,
                  depends=None, workers: int | None = None):
    """An executor for ``pipeline`` with completion markers in ``logging_dir`` (a fixed folder: that is what
    makes datatrove skip finished tasks on rerun)."""
    workers = min(workers or cfg.workers, tasks)
    if cfg.type == "local":
        quiet_terminal_logs()
        return QuietLocalExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir),
                                     depends=depends, start_method="spawn")
    if cfg.type == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        s = cfg.slurm
        return SlurmPipelineExecutor(
            pipeline=pipeline, tasks=tasks, time=s.time, partition=s.partition, cpus_per_task=s.cpus_per_task,
            mem_per_cpu_gb=s.mem_per_cpu_gb, job_name=job_name, qos=s.qos or "normal", env_command=s.env_command,
            sbatch_args=s.sbatch_args or None, logging_dir=str(logging_dir), depends=depends,
        )
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir),
                               depends=depends, cpus_per_task=cfg.ray.cpus_per_task,
                               mem_per_cpu_gb=cfg.ray.mem_per_cpu_gb)


def shard_bounds(n_rows: int, rank: int, world_size: int) -> tuple[int, int]:
    """The [start, end) rows of task ``rank`` of ``world_size``: contiguous, sizes differing by at most one, in
    order, so shards joined by rank are the rows unsharded.

    Example:
        >>> [shard_bounds(10, rank, 3) for rank in range(3)]
        [(0, 3), (3, 6), (6, 10)]
    """
    return n_rows * rank // world_size, n_rows * (rank + 1) // world_size


def run_sharded(cfg: ExecutorConfig, step, folder: Path, tasks: int, job_name: str, what: str) -> None:
    """Run ``step`` as ``tasks`` datatrove tasks with their completion markers in ``folder/logs`` (finished tasks
    are skipped on rerun); a StageError when some have not finished (Slurm: submitted, the rerun joins them)."""
    from pipeline.errors import StageError

    executor = make_executor(cfg, [step], folder / "logs", tasks, job_name, workers=cfg.workers)
    executor.run()
    if not all_tasks_done(executor):
        raise StageError(f"{what}: {len(executor.get_incomplete_ranks())} of {tasks} tasks have not finished (logs "
                         f"in {folder / 'logs'}): rerun the same command when they have")


def all_tasks_done(executor) -> bool:
    return len(executor.get_incomplete_ranks()) == 0


def read_step_stats(logging_dir: Path) -> dict[str, Counter]:
    """Sum datatrove's per-task statistics (``stats/*.json``) with datatrove's own ``PipelineStats`` (as its
    ``merge_stats`` tool does), by step name: {step: Counter(stat -> total)}."""
    merged = PipelineStats()
    for path in sorted(Path(logging_dir, "stats").glob("*.json")):
        merged += PipelineStats.from_json(json.loads(path.read_text()))
    totals: dict[str, Counter] = {}
    for step in merged.stats:
        counter = totals.setdefault(step.name, Counter())
        for key, metric in step.stats.items():
            # from_json keeps a single task's values as read (an int, or a dict with "total"); sums are MetricStats
            total = metric.get("total", 0) if isinstance(metric, dict) else getattr(metric, "total", metric)
            if isinstance(total, (int, float)):
                counter[key] += total
    return totals
