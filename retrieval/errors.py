"""User-facing errors of training and evaluation: each names what is wrong and how to fix it.

The CLIs (``python -m training.train``, ``python -m eval.run``, ...) print these without a traceback and exit with
status 2 (``retrieval.cli``); any other exception is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """Base class for errors caused by the user's input, config or environment (not by a bug)."""


class ConfigError(UserError):
    """The config file is missing, malformed, or has unknown keys or invalid values."""


class DatasetError(UserError):
    """The dataset cannot be loaded or lacks an expected config, split or column."""


class ModelError(UserError):
    """The model path or id does not hold a loadable sentence-transformers model."""


class DeviceError(UserError):
    """The requested device (e.g. a CUDA GPU) is not available on this machine."""


class EvalSetError(UserError):
    """An evaluation set is missing, incomplete (e.g. no qrels) or malformed."""
