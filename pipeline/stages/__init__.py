"""The pipeline's stages, in order. Each reads the previous stage's folder in the run and writes its own.

Stage classes are imported on first use: the later stages pull in torch and sentence-transformers, which a run of
``--stage ingest`` (or a datatrove worker) should not pay for.
"""

from __future__ import annotations

import importlib

from pipeline.run_folder import STAGES as _ORDER

_STAGE_CLASSES = {
    "ingest": "pipeline.stages.ingest:IngestStage",
    "passages": "pipeline.stages.passages:PassagesStage",
    "generate": "pipeline.stages.generate:GenerateStage",
    "filter": "pipeline.stages.filter:FilterStage",
    "mine": "pipeline.stages.mine:MineStage",
    "split": "pipeline.stages.split:SplitStage",
    "publish": "pipeline.stages.publish:PublishStage",
}
assert tuple(_STAGE_CLASSES) == _ORDER, "pipeline/run_folder.py's STAGES and these classes must agree"
ORDER = list(_ORDER)


def get_stage(name: str):
    """The Stage class for a stage name, e.g. ``get_stage("ingest")(config).run()``."""
    module, cls = _STAGE_CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)


class _LazyStages(dict):
    def __missing__(self, name: str):
        if name not in _STAGE_CLASSES:
            raise KeyError(name)
        self[name] = get_stage(name)
        return self[name]


STAGES = _LazyStages()

__all__ = ["STAGES", "ORDER", "get_stage"]
