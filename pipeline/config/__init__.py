"""The pipeline's one config object, loaded from YAML and validated with errors a user understands.

Example:
    >>> from pipeline.config import load_config
    >>> cfg = load_config("configs/demo.yaml")
    >>> cfg.passages.max_tokens
    256
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from pipeline.config.base import StrictModel, expand_env
from pipeline.config.dataset import MineConfig, PublishConfig, SplitConfig
from pipeline.config.generate import FilterConfig, GenerateConfig
from pipeline.config.ingest import ExecutorConfig, IngestConfig, PassagesConfig
from pipeline.errors import ConfigError

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

    def section_hash(self, *sections: str) -> str:
        """A short hash of the named sections (plus language and seed): what shaped a stage's output."""
        payload = {name: getattr(self, name).model_dump(mode="json") for name in sections}
        payload["language"] = self.language
        payload["seed"] = self.seed
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _describe(error: dict, model: type[StrictModel]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        parent = model
        for part in error["loc"][:-1]:
            field = parent.model_fields.get(str(part)) if isinstance(part, str) else None
            ann = getattr(field, "annotation", None) if field else None
            parent = ann if isinstance(ann, type) and issubclass(ann, StrictModel) else None
            if parent is None:
                break
        known = list(parent.model_fields) if parent else []
        hint = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known keys here: {', '.join(known)}"
        return f"unknown key '{loc}' ({fix})"
    return f"'{loc}': {error['msg']} (got {error.get('input')!r})"


def config_from_dict(data: dict, source: str = "<dict>") -> PipelineConfig:
    """Validate a config mapping; raise ConfigError naming every bad key and the fix."""
    try:
        return PipelineConfig.model_validate(expand_env(data or {}))
    except ValidationError as e:
        lines = [f"  - {_describe(err, PipelineConfig)}" for err in e.errors()]
        raise ConfigError(f"invalid config {source}:\n" + "\n".join(lines)) from None


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> PipelineConfig:
    """Load a YAML config (the demo config when ``path`` is None) and apply top-level overrides."""
    path = Path(path) if path else DEMO_CONFIG
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}. Pass an existing YAML file with --config.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys (got {type(data).__name__})")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return config_from_dict(data, source=str(path))


__all__ = ["PipelineConfig", "load_config", "config_from_dict", "DEMO_CONFIG", "REPO_ROOT"]
