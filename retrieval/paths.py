"""Where output can go: checked before slow work, without creating anything (pipeline runs, eval results, model
folders), and a folder replaced only once its new content is complete."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retrieval.errors import ConfigError


def unwritable(folder: Path) -> tuple[Path, str] | None:
    """``(path, why)`` when ``folder`` cannot be created or written: its nearest existing part is a file
    (``"is a file, not a folder"``) or a folder this user cannot write (``"is not writable"``); None when fine."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return existing, "is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return existing, "is not writable"
    return None


def check_output_folder(folder: Path, force: bool = False, option: str = "--output") -> None:
    """Raise ConfigError, before any slow work, when ``folder`` cannot be written, or holds files and ``force`` is
    not set (what it holds would be replaced)."""
    problem = unwritable(folder)
    if problem:
        raise ConfigError(f"cannot write {folder}: {problem[0]} {problem[1]}. Fix: pass an {option} folder you can "
                          "write to.")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ConfigError(f"{folder} exists and is not empty. Fix: another {option}, or --force to replace it.")


@contextmanager
def replacing(folder: Path) -> Iterator[Path]:
    """Yield a new folder beside ``folder`` to write into; when the block ends without error it takes the place of
    ``folder`` (whose old content is removed only then), otherwise it is removed and ``folder`` is left as it was.

    Example::

        with replacing(Path("runs/onnx/e5")) as tmp:   # a failed export keeps the old runs/onnx/e5
            export(model, tmp)
    """
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    if tmp.exists():  # left by a killed run that had this process id
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if folder.exists():
            old = tmp.with_name(f"{tmp.name}.old")
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
