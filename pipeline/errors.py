"""User-facing errors: each names what is wrong and how to fix it.

The CLI prints these without a traceback and exits with status 2; any other exception is a bug.
"""

from __future__ import annotations

from retrieval.errors import ConfigError as SharedConfigError
from retrieval.errors import UserError


class PipelineError(UserError):
    """Base class of the pipeline's errors caused by the user's input, config or environment (not by a bug); a
    ``retrieval.errors.UserError`` like training's and evaluation's, so every CLI catches one base class."""


class ConfigError(PipelineError, SharedConfigError):
    """The config file (or a language file) is missing, malformed or has invalid values; also a
    ``retrieval.errors.ConfigError``, the class the shared config loading (``retrieval.config``) raises."""


class InputDataError(PipelineError):
    """Input data is missing, unreadable or not in the expected shape."""


class StageError(PipelineError):
    """A stage cannot run: its upstream output is missing/empty, or the run folder was made by another config."""


class EndpointError(PipelineError):
    """The LLM endpoint is unreachable, rejects the key, or does not serve the requested model."""
