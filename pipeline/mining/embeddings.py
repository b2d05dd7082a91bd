"""Embeddings cached in the run folder, shared with ``mine_hard_negatives``.

``mine_hard_negatives`` cannot take precomputed embeddings as arguments, but it does take a ``cache_folder``: it
loads ``query_embeddings_<hash>.npy`` / ``corpus_embeddings_<hash>.npy`` from it when they exist, with ``<hash>``
the SHA-256 of ``repr((model.model_card_data.base_model or "", prompt, prompt_name, texts))`` (see
sentence_transformers/util/hard_negatives.py). We need the same embeddings too (dense scores of BM25 candidates
for the false-negative guard, positive scores), so this module computes them once under exactly those file names:
the library then loads them instead of encoding again, and a rerun loads them from disk. That hash does not cover
the model when it is a local folder (base_model is then empty), so each model gets its own sub-folder,
``mine/embeddings/<model-key>/``: the cache is keyed by model (folder) and by texts and prompt (file name).

If a future sentence-transformers changes its naming, the library simply encodes again (slower, still correct).

Example::

    cache = EmbeddingCache(model, "intfloat/multilingual-e5-small", run_dir / "mine" / "embeddings")
    q = cache.encode("query", ["alluvione Modena"], "query: ", batch_size=64)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.atomic import atomic_path

Kind = Literal["query", "corpus"]


def model_key(model_id: str) -> str:
    """A folder name for a model: readable tail of its id or path plus a hash of the full (resolved) name."""
    path = Path(model_id).expanduser()
    full = str(path.resolve()) if path.exists() else model_id
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", full.rstrip("/").split("/")[-1])[-48:]
    return f"{tail}-{hashlib.sha256(full.encode()).hexdigest()[:10]}"


class EmbeddingCache:
    """Load-or-encode normalized embeddings, stored where ``mine_hard_negatives(cache_folder=...)`` looks."""

    def __init__(self, model, model_id: str, root: Path):
        self.model = model
        self.folder = Path(root) / model_key(model_id)
        self.hits: list[str] = []  # kinds loaded from disk (for stats and tests)

    def file_for(self, kind: Kind, prompt: str | None, texts: list[str]) -> Path:
        # Same recipe as sentence_transformers.util.hard_negatives (prompt_name is always None here).
        model_name = self.model.model_card_data.base_model or ""
        digest = hashlib.sha256(repr((model_name, prompt, None, texts)).encode(), usedforsecurity=False).hexdigest()
        return self.folder / f"{kind}_embeddings_{digest}.npy"

    def encode(self, kind: Kind, texts: list[str], prompt: str | None, batch_size: int,
               reuse: Callable[[], np.ndarray | None] | None = None) -> np.ndarray:
        """Embeddings of ``texts`` (unique, in order), L2-normalized: from this cache, else from ``reuse()`` (the
        run's embedding store, which encodes only what no stage embedded yet), else computed; saved either way."""
        path = self.file_for(kind, prompt, texts)
        if path.is_file():
            self.hits.append(kind)
            return np.load(path)
        embeddings = reuse() if reuse else None
        if embeddings is not None and embeddings.shape[0] == len(texts):
            self.hits.append(f"{kind} (from the run's embedding store)")
        else:
            encode = self.model.encode_query if kind == "query" else self.model.encode_document
            embeddings = encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=len(texts) > batch_size, prompt=prompt)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # never half a file under the name the library trusts
            np.save(f, embeddings)
        return embeddings
