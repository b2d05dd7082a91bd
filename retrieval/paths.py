"""Where output can go: checked before slow work, without creating anything (pipeline runs and eval results)."""

from __future__ import annotations

import os
from pathlib import Path


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
