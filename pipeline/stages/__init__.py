"""The pipeline's stages, in order. Each reads the previous stage's folder in the run and writes its own."""

from __future__ import annotations

from pipeline.stages.filter import FilterStage
from pipeline.stages.generate import GenerateStage
from pipeline.stages.ingest import IngestStage
from pipeline.stages.mine import MineStage
from pipeline.stages.passages import PassagesStage
from pipeline.stages.publish import PublishStage
from pipeline.stages.split import SplitStage

STAGES = {stage.name: stage for stage in (IngestStage, PassagesStage, GenerateStage, FilterStage,
                                          MineStage, SplitStage, PublishStage)}
ORDER = list(STAGES)

__all__ = ["STAGES", "ORDER"]
