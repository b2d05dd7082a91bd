"""The pipeline's one config object, loaded from YAML and validated with errors a user understands.

Example:
    >>> from pipeline.config import DEMO_CONFIG, load_config
    >>> cfg = load_config(DEMO_CONFIG)
    >>> cfg.passages.max_tokens
    256
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from pipeline.config.dataset import MineConfig, PublishConfig, SplitConfig
from pipeline.config.generate import FilterConfig, GenerateConfig
from pipeline.config.ingest import ExecutorConfig, IngestConfig, PassagesConfig
from pipeline.errors import ConfigError
from retrieval.config import StrictModel, expand_env, load_config_file, validate_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"


class PipelineConfig(StrictModel):
    run_name: str = "demo"
    output_dir: str = "runs"
    language: str = Field("ita_Latn", description="a bundled language code (pipeline/languages/) or a YAML path")
    seed: int = 42
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    passages: PassagesConfig = Field(default_factory=PassagesConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    mine: MineConfig = Field(default_factory=MineConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)

    @field_validator("run_name")
    @classmethod
    def _plain_folder_name(cls, name: str) -> str:
        """The run folder is <output_dir>/<run_name>: a name with a path in it would write outside output_dir."""
        if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"{name!r} must be a plain folder name (no '/', not '.' or '..'): the run "
                             "folder is <output_dir>/<run_name>; put the parent folder in output_dir (--output-dir)")
        return name

    @model_validator(mode="after")
    def _unbiased_split_needs_a_panel(self):
        """dev/test drawn 'without the base model' needs a judge besides it and a panel the base does not rule."""
        rt = self.filter.round_trip
        if self.split.eval_queries != "unbiased" or not rt.enabled:
            return self
        others = (1 if rt.bm25_top_k else 0) + len(rt.judges)
        if others == 0:
            raise ValueError("split.eval_queries is 'unbiased' but the round-trip panel has no judge besides the base "
                             "model: set filter.round_trip.bm25_top_k (or add filter.round_trip.judges), or set "
                             "split.eval_queries: all")
        if rt.agree == "all" or (isinstance(rt.agree, int) and rt.agree >= others + 1):
            raise ValueError(f"filter.round_trip.agree={rt.agree!r} makes the base model approve every kept query, "
                             "so no test split can be unbiased: use agree: any (or a number below the judge count), "
                             "or set split.eval_queries: all")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.run_name

    def section_hash(self, *sections: str, exclude: dict | None = None) -> str:
        """A short hash of the named sections (plus language and seed): what shaped a stage's output. ``exclude``
        leaves out keys of a section (``{"filter": {"round_trip": {"index"}}}``), as pydantic's model_dump does."""
        payload = {name: getattr(self, name).model_dump(mode="json", exclude=(exclude or {}).get(name))
                   for name in sections}
        payload["language"] = self.language
        payload["seed"] = self.seed
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def config_from_dict(data: dict, source: str = "<dict>") -> PipelineConfig:
    """Validate a config mapping (``${VAR:-default}`` expanded); raise ConfigError naming every bad key and the fix."""
    return validate_config(PipelineConfig, expand_env(data or {}, f"config {source}", ConfigError), f"config {source}",
                           error=ConfigError)


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> PipelineConfig:
    """Load a YAML config (the demo config when ``path`` is None) and apply ``overrides`` (None values: not given)."""
    return load_config_file(PipelineConfig, Path(path) if path else DEMO_CONFIG, overrides, error=ConfigError,
                            fix="pass an existing YAML file with --config (e.g. configs/demo.yaml).")


__all__ = ["PipelineConfig", "load_config", "config_from_dict", "DEMO_CONFIG", "REPO_ROOT"]
