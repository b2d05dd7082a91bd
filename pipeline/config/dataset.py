"""Config sections for hard-negative mining (mine), splitting (split) and publishing (publish).

Example:
    >>> MineConfig(method="dense", num_negatives=3).range_max
    50
    >>> PublishConfig(version="v1.2.0").tag
    'v1.2.0'
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config.generate import DenseIndexConfig
from retrieval.config import StrictModel

_SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


class MineConfig(StrictModel):
    model: str = Field("intfloat/multilingual-e5-small", description="embedder: a Hub id or a local folder")
    query_prompt: str = "query: "
    corpus_prompt: str = "passage: "
    method: Literal["dense", "bm25", "hybrid"] = Field("hybrid", description="hybrid: interleave dense and BM25")
    num_negatives: int = Field(4, ge=1, description="negatives per published triplet (k)")
    spare_negatives: int = Field(2, ge=0, description="extra negatives kept in rank order, so that the split can "
                                 "drop leaking ones and still publish k")
    range_min: int = Field(0, ge=0, description="skip the top range_min candidates")
    range_max: int = Field(50, ge=1, description="consider candidates up to this rank")
    relative_margin: float = Field(0.05, ge=0, lt=1, description="TopK-PercPos: negative <= (1-margin)*positive")
    batch_size: int = Field(64, ge=1)
    use_faiss: bool = True
    index: DenseIndexConfig = Field(default_factory=DenseIndexConfig, description="from index.exact_below passages "
                                    "on, dense candidates come from this approximate index instead of exact search")
    tasks: int = Field(1, ge=1, description="mine the queries in this many shards, as tasks on the run's executor "
                       "(local workers, Slurm, Ray; a killed stage resumes task by task); 1: in this process")
    llm_judge: bool = Field(False, description="ask the generate endpoint whether a negative answers the query")
    judge_extra: int = Field(2, ge=0, description="with llm_judge: extra candidates to judge per query beyond k")

    @model_validator(mode="after")
    def _rank_window(self):
        if self.range_min >= self.range_max:
            raise ValueError(f"mine.range_min ({self.range_min}) must be smaller than mine.range_max "
                             f"({self.range_max})")
        if self.num_negatives > self.range_max - self.range_min:
            raise ValueError(f"mine.num_negatives ({self.num_negatives}) does not fit in the rank window "
                             f"[{self.range_min}, {self.range_max}): raise range_max or lower num_negatives")
        return self


class SplitConfig(StrictModel):
    train: float = Field(0.8, ge=0)
    dev: float = Field(0.1, ge=0)
    test: float = Field(0.1, ge=0)
    near_duplicate_threshold: float = Field(0.7, gt=0, le=1, description="MinHash Jaccard that ties documents")
    shingle_words: int = Field(5, ge=1, description="word n-gram size of the MinHash shingles")
    num_hashes: int = Field(128, ge=16, le=1024, description="MinHash signature length")
    eval_queries: Literal["unbiased", "all"] = Field(
        "unbiased", description="dev/test queries: only those the round-trip panel keeps without the base model "
        "(unbiased: the benchmark does not favour the base by construction), or all kept queries")
    beir_corpus: Literal["all", "non_train"] = Field(
        "all", description="BEIR test corpus: the whole corpus (default) or passages of non-train documents only")
    tasks: int = Field(1, ge=1, description="compute the MinHash signatures in this many shards of the corpus, as "
                       "tasks on the run's executor (local workers, Slurm, Ray); the output does not depend on it")

    @model_validator(mode="after")
    def _sums_to_one(self):
        total = self.train + self.dev + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must add up to 1 (train+dev+test = {total:g})")
        if self.train <= 0:
            raise ValueError("split.train must be above 0: the dataset needs a training split")
        return self


class PublishConfig(StrictModel):
    repo_id: str | None = Field(None, description="<user>/<name> on the Hub (used by --push when it names none)")
    version: str = Field("1.0.0", description="dataset version (semver); the pushed commit is tagged v<version>")
    pretty_name: str = "Italian synthetic retrieval triplets"
    license: str = "cc-by-4.0"
    private: bool = False
    source_datasets: list[str] | None = Field(
        None, description="card metadata; None: the ingest source (hub dataset, else allenai/c4)")
    source_description: str | None = Field(
        None, description="what the passages are excerpts of, for the card, when it is not web text (e.g. 'our "
        "product manuals'): the card then describes a curated collection, not a crawl, and names no source dataset")
    tags: list[str] = Field(default_factory=lambda: ["sentence-transformers", "hard-negatives", "synthetic",
                                                     "retrieval", "datatrove"])
    citation_key: str = "retrieval_triplets"
    export_dir: str | None = Field(
        None, description="also copy the finished dataset folder here (e.g. a folder of your project committed to "
        "git, so the dataset outlives the run folder); exactly what --push uploads")

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        value = value[1:] if value.startswith("v") else value
        if not _SEMVER.match(value):
            raise ValueError(f"publish.version must look like 1.0.0 (semantic version), got {value!r}")
        return value

    @property
    def tag(self) -> str:
        """The git tag a push puts on the commit: ``v<version>``."""
        return f"v{self.version}"
