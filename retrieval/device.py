"""Pick the torch device and the training precision, with a clear error when a GPU is asked for but absent."""

from __future__ import annotations

from typing import Literal

import torch

from retrieval.errors import ConfigError, DeviceError

Precision = Literal["bf16", "fp16", "fp32"]


def resolve_device(requested: str = "auto") -> str:
    """Return the device to use: ``auto`` picks CUDA, then Apple MPS, then CPU.

    Raises:
        DeviceError: ``cuda``/``cuda:N``/``mps`` was requested but is not available.
    """
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cpu":
        return "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise DeviceError(
                f"device {requested!r} was requested, but PyTorch {torch.__version__} ({build}) sees no CUDA GPU. "
                "Fix: use `device: auto` (or `--device auto`) to fall back to the CPU, or run on a machine with an "
                "NVIDIA GPU and a CUDA build of torch."
            )
        index = requested.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise DeviceError(
                f"device {requested!r} was requested, but only {torch.cuda.device_count()} CUDA device(s) exist. "
                "Fix: use `cuda` or `cuda:0`."
            )
        return requested
    if requested == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise DeviceError("device 'mps' was requested, but Apple MPS is not available. Fix: use `device: auto`.")
        return "mps"
    raise DeviceError(f"unknown device {requested!r}. Fix: use one of auto, cpu, cuda, cuda:N, mps.")


def resolve_precision(requested: str, device: str) -> Precision:
    """Return the mixed-precision mode: ``auto`` is bf16 on a GPU that supports it (else fp16), fp32 elsewhere.

    Raises:
        ConfigError: bf16/fp16 was requested on a device that is not a CUDA GPU.
    """
    requested = (requested or "auto").lower()
    on_cuda = device.startswith("cuda")
    if requested == "auto":
        if not on_cuda:
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested in ("bf16", "fp16") and not on_cuda:
        raise ConfigError(
            f"training.precision is {requested!r}, but the device is {device!r}: mixed precision is used on CUDA "
            "GPUs only. Fix: set `precision: auto` or `precision: fp32`."
        )
    if requested not in ("bf16", "fp16", "fp32"):
        raise ConfigError(f"training.precision {requested!r} is not one of auto, bf16, fp16, fp32.")
    return requested  # type: ignore[return-value]
