"""Datatrove PipelineSteps written for this toolkit (only what datatrove itself lacks)."""
