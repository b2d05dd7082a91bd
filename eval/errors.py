"""Errors of the evaluation CLI; all are UserErrors, printed without a traceback (exit status 2)."""

from __future__ import annotations

from retrieval.errors import DeviceError, ModelError, UserError


class EvalSetError(UserError):
    """An evaluation set is missing, incomplete (e.g. no qrels) or malformed."""


class SetUnavailable(Exception):
    """An optional set (an MTEB task) cannot be loaded here: mteb missing or the Hub offline. Skipped, not fatal."""


__all__ = ["DeviceError", "EvalSetError", "ModelError", "SetUnavailable", "UserError"]
