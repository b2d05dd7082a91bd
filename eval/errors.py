"""Errors of the evaluation CLI; all are UserErrors, printed without a traceback (exit status 2)."""

from __future__ import annotations

from retrieval.errors import DeviceError, EvalSetError, ModelError, UserError


class SetUnavailable(Exception):
    """An optional set (an MTEB task) cannot be loaded here: mteb missing or the Hub offline. Skipped, not fatal."""


__all__ = ["DeviceError", "EvalSetError", "ModelError", "SetUnavailable", "UserError"]
