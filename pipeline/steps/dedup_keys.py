"""Content key for exact dedup. No `from __future__ import annotations` here: datatrove reads the return
annotation of the getter at runtime to choose its hash function, so it must be the real `str` type."""

import re

_SPACES = re.compile(r"\s+")


def normalized_text(doc) -> str:
    """Text with case and whitespace folded, so trivially re-formatted copies count as exact duplicates."""
    return _SPACES.sub(" ", doc.text).strip().lower()
