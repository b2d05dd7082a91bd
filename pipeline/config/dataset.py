"""Config sections for hard-negative mining (mine), splitting (split) and publishing (publish)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import StrictModel


class MineConfig(StrictModel):
    model: str = "intfloat/multilingual-e5-small"
    query_prompt: str = "query: "
    corpus_prompt: str = "passage: "
    method: Literal["dense", "bm25", "hybrid"] = "hybrid"
    num_negatives: int = Field(4, ge=1)
    range_min: int = Field(0, ge=0, description="skip the top range_min candidates")
    range_max: int = Field(50, ge=1, description="consider candidates up to this rank")
    relative_margin: float = Field(0.05, ge=0, lt=1, description="TopK-PercPos: negative <= (1-margin)*positive")
    batch_size: int = 64
    use_faiss: bool = True
    llm_judge: bool = Field(False, description="ask the generate endpoint whether a negative answers the query")


class SplitConfig(StrictModel):
    train: float = Field(0.8, ge=0)
    dev: float = Field(0.1, ge=0)
    test: float = Field(0.1, ge=0)
    near_duplicate_threshold: float = Field(0.7, gt=0, le=1, description="MinHash Jaccard that ties documents")

    @model_validator(mode="after")
    def _sums_to_one(self):
        total = self.train + self.dev + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must add up to 1 (train+dev+test = {total:g})")
        return self


class PublishConfig(StrictModel):
    repo_id: str | None = Field(None, description="<user>/<name> on the Hub (needed for --push)")
    version: str = "1.0.0"
    pretty_name: str = "Italian synthetic retrieval triplets"
    license: str = "cc-by-4.0"
    private: bool = False
