"""Shared pieces for config models: strict models and env-var interpolation."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict

_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class StrictModel(BaseModel):
    """A config section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def expand_env(value):
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of a loaded YAML tree.

    Example:
        >>> os.environ["E5"] = "/models/e5"
        >>> expand_env({"model": "${E5:-intfloat/multilingual-e5-small}"})
        {'model': '/models/e5'}
    """
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, str):
        return _ENV_PATTERN.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    return value
