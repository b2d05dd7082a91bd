"""Build datatrove executors from the config: local (default), Slurm or Ray; and read back their statistics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pipeline.config.ingest import ExecutorConfig


def make_executor(cfg: ExecutorConfig, pipeline: list, logging_dir: Path, tasks: int, job_name: str,
                  depends=None, workers: int | None = None):
    """An executor for ``pipeline`` with completion markers in ``logging_dir`` (a fixed folder: that is what
    makes datatrove skip finished tasks on rerun)."""
    workers = min(workers or cfg.workers, tasks)
    if cfg.type == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, logging_dir=str(logging_dir),
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


def all_tasks_done(executor) -> bool:
    return len(executor.get_incomplete_ranks()) == 0


def read_step_stats(logging_dir: Path) -> dict[str, Counter]:
    """Sum datatrove's per-task statistics (``stats/*.json``) by step name: {step: Counter(stat -> total)}."""
    totals: dict[str, Counter] = {}
    for path in sorted(Path(logging_dir, "stats").glob("*.json")):
        for step in json.loads(path.read_text()):
            counter = totals.setdefault(step["name"], Counter())
            for key, value in step.get("stats", {}).items():
                total = value.get("total", 0) if isinstance(value, dict) else value
                if isinstance(total, (int, float)):
                    counter[key] += total
    return totals
