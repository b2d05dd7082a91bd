"""The raw replies InferenceRunner writes (``generate/raw/<batch>/*.jsonl.gz``): reading them, and what a failed
request's error says about its cause.

Example::

    for record in raw_records(run_dir / "generate" / "raw", tolerant=True):
        reply_of(record).get("error")
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

MAX_ATTEMPTS = 3  # runs in which a passage may fail for a passing cause before its failure is final
TRANSIENT = ("timeout", "rate_limit", "server_error", "connection", "malformed_reply")  # a rerun may succeed


def raw_records(raw_dir: Path, batch: str = "*", tolerant: bool = False) -> Iterator[dict]:
    """Records of ``raw_dir/<batch>/*.jsonl.gz``. ``tolerant``: a chunk cut short by a kill (InferenceRunner rewrites
    it from its checkpoint on resume) yields what it holds instead of raising."""
    for path in sorted(Path(raw_dir).glob(f"{batch}/*.jsonl.gz")):
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)
        except (EOFError, OSError, zlib.error, json.JSONDecodeError):
            if not tolerant:
                raise


def reply_of(record: dict) -> dict:
    """The reply InferenceRunner recorded for a passage (an ``error`` entry when the request failed)."""
    return (record.get("metadata", {}).get("reply") or [{"error": "no reply"}])[0]


def error_cause(message: str) -> str:
    """The cause tag the endpoint server puts first (pipeline/generation/endpoint.py), else 'bad_request' for a
    400 and 'other'; only TRANSIENT causes are sent again."""
    head = str(message).split(":", 1)[0].strip()
    return head if head in TRANSIENT else ("bad_request" if "Error code: 400" in str(message) else "other")
