"""Resume a killed training run from its last complete checkpoint, only when it is the same run.

A CPU training run takes hours and a session that ends kills it; transformers' Trainer can continue from a checkpoint
(optimizer, scheduler, RNG and data position included), but it does not know whether the checkpoints in the output
folder were written by the same config and dataset, and its ``get_last_checkpoint`` takes the highest-numbered
folder even when the kill came while that folder was half written. This module adds those two checks: the run's
fingerprint (config and dataset version) is written into the output folder before training, and only a checkpoint
whose ``trainer_state.json`` exists (the Trainer writes it last) is resumed from.

Example::

    checkpoint = resume_checkpoint(Path("runs/proof/longer"), fingerprint, fresh=False)   # None: start anew
    trainer.train(resume_from_checkpoint=checkpoint)
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerState

from retrieval.errors import ConfigError

logger = logging.getLogger("training")

FINGERPRINT_FILE = "run_fingerprint.json"
STATE_FILE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME, written last in every checkpoint
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# settings that change nothing in the trained weights: a run may resume with other values of these
_NOT_TRAINING = ("hub", "card")


def run_fingerprint(config: dict[str, Any], dataset_version: str | None, dataset_revision: str | None) -> dict:
    """What makes two training runs the same run: every setting that shapes the weights, and the dataset version."""
    settings = {k: v for k, v in config.items() if k not in _NOT_TRAINING}
    return json.loads(json.dumps({"config": settings, "dataset_version": dataset_version,
                                  "dataset_revision": dataset_revision}, default=str))


def checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints in ``output_dir`` (those with trainer_state.json), by step."""
    found = []
    for path in output_dir.glob("checkpoint-*") if output_dir.is_dir() else []:
        match = _CHECKPOINT.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]}: {old!r} then, {new!r} now"]


def resume_checkpoint(output_dir: Path, fingerprint: dict, fresh: bool = False) -> str | None:
    """Return the checkpoint to resume from (None: train from the start), after writing ``fingerprint``.

    Raises ConfigError when ``output_dir`` holds checkpoints of another run (other settings or dataset version),
    naming what differs; ``fresh`` removes the old checkpoints instead and starts again.
    """
    found = checkpoints(output_dir)
    stale = [p for p in output_dir.glob("checkpoint-*") if p.is_dir()] if output_dir.is_dir() else []
    marker = output_dir / FINGERPRINT_FILE
    if fresh or not stale:
        for path in stale:
            shutil.rmtree(path)
    else:
        old = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
        if old != fingerprint:
            what = "; ".join(_differences(old, fingerprint)[:5]) if old else "no run_fingerprint.json beside them"
            raise ConfigError(
                f"{output_dir} holds checkpoints of another training run ({what}). "
                "Fix: another --output-dir, or --fresh to delete those checkpoints and train from the start."
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(fingerprint, indent=2, sort_keys=True), encoding="utf-8")
    if fresh or not found:
        if stale and not fresh:
            logger.warning("%s holds only incomplete checkpoints: training from the start", output_dir)
        return None
    step, path = found[-1]
    logger.info("resuming from %s (step %d); --fresh trains from the start instead", path, step)
    return str(path)


def finished_state(checkpoint: str | None) -> TrainerState | None:
    """The Trainer state of ``checkpoint`` when its training loop had reached the last step (None otherwise).

    A run killed after its last checkpoint (while choosing the WiSE-FT weight or saving ``final``), or run again
    once finished, must not train again: resumed from the last step of a ``max_steps`` run that ends mid-epoch,
    transformers takes one step more before it checks the limit.
    """
    if checkpoint is None:
        return None
    state = TrainerState.load_from_json(str(Path(checkpoint) / STATE_FILE))
    return state if state.max_steps and state.global_step >= state.max_steps else None
