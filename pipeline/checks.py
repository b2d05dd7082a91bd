"""Checks of a whole run before its first stage: a mistake in a later stage's settings must not surface only after
hours of LLM generation (model paths of filter and mine were once checked after every request was sent).

Each check names the setting and the fix; ``check_run`` raises the first ``ConfigError`` it finds.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from pipeline.languages import load_language
from pipeline.stages import get_stage
from retrieval.errors import ModelError
from retrieval.models import check_model_reference, is_local_reference
from retrieval.paths import unwritable


def model_settings(config: PipelineConfig, stages: list[str]) -> dict[str, str]:
    """setting -> model reference, for the stages about to run."""
    refs: dict[str, str] = {}
    if "passages" in stages:
        refs["passages.tokenizer"] = config.passages.tokenizer
    if "filter" in stages and config.filter.round_trip.enabled:
        refs["filter.round_trip.model"] = config.filter.round_trip.model
        for i, judge in enumerate(config.filter.round_trip.judges):
            refs[f"filter.round_trip.judges[{i}].model"] = judge.model
    if "mine" in stages:
        refs["mine.model"] = config.mine.model
    return refs


def check_output_dir(config: PipelineConfig) -> None:
    out = Path(config.output_dir)
    problem = unwritable(out)
    if problem and problem[1] == "is not writable":
        raise ConfigError(f"cannot write in {problem[0]} (output_dir {out}). Fix: choose a folder you can write to "
                          "with --output-dir, or change its permissions.")
    if problem:
        raise ConfigError(f"output_dir {out}: {problem[0]} {problem[1]}. Fix: set output_dir (or --output-dir) to a "
                          "folder.")


def executor_stages(config: PipelineConfig, stages: list[str]) -> list[str]:
    """The stages about to run that hand work to the configured executor (the sharded ones only when sharded)."""
    sharded = {"filter": config.filter.round_trip.enabled and config.filter.round_trip.tasks > 1,
               "mine": config.mine.tasks > 1}
    return [s for s in stages if s in ("ingest", "passages", "generate") or sharded.get(s, False)]


def check_executor(config: PipelineConfig, stages: list[str]) -> None:
    """A cluster executor that cannot start here fails now, not after the stages before it: Slurm needs ``sbatch``
    on this machine (a login node), Ray needs the ``ray`` package."""
    import importlib.util
    import shutil

    users = executor_stages(config, stages)
    if not users or config.executor.type == "local":
        return
    if config.executor.type == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError(f"executor.type is slurm (used by {', '.join(users)}) but this machine has no `sbatch`. "
                          "Fix: run the command on the cluster's login node, or set executor.type: local.")
    if config.executor.type == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError(f"executor.type is ray (used by {', '.join(users)}) but the ray package is not installed. "
                          "Fix: pip install 'ray[default]' (and start the cluster with `ray start`), or set "
                          "executor.type: local.")


def check_run(config: PipelineConfig, stages: list[str], force: bool = False) -> None:
    """Everything the named stages will need that can be checked without running them; ``force``: the last stage
    is redone even if finished."""
    check_output_dir(config)
    check_executor(config, stages)
    load_language(config.language)  # an unknown language, or a language file with bad values, fails before ingest
    models = model_settings(config, stages)
    for setting, ref in models.items():
        if is_local_reference(ref) and not Path(ref).expanduser().is_dir():
            raise ConfigError(
                f"{setting} is {ref!r}, which is not a folder here. Fix: point it at a local model folder (offline: "
                "../shared/tools/get-e5-small prints one) or at a Hub id such as intfloat/multilingual-e5-small."
            )
    if "filter" in stages:
        for folder in config.filter.decontamination.eval_sets:
            if not (Path(folder) / "corpus.jsonl").is_file():
                raise ConfigError(f"filter.decontamination.eval_sets lists {folder}, which has no corpus.jsonl. Fix: "
                                  "name BEIR-style folders (corpus.jsonl, queries.jsonl), or remove it.")
    for setting, ref in models.items():  # a folder that holds no model; a Hub id the offline cache lacks
        if setting != "passages.tokenizer":  # a tokenizer needs no model: the passages preflight loads it
            try:
                check_model_reference(ref)
            except ModelError as exc:
                raise ConfigError(f"{setting}: {exc}") from None
    for name in stages:  # each stage's own preflight (inputs, tokenizer, local LLM), unless it will be skipped
        stage = get_stage(name)(config)
        if (force and name == stages[-1]) or not stage.is_done():
            stage.preflight()
