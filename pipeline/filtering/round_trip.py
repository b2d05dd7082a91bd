"""Round-trip consistency: a query is kept only if the base embedder ranks its own passage in the top k.

Passage embeddings are cached in the run folder in chunks, so a killed run resumes where it stopped and a rerun
(or the mine stage, with the same model) does not encode the corpus again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm


def cached_embeddings(model, model_name: str, texts: list[str], prompt: str, cache_dir: Path, batch_size: int = 64,
                      chunk: int = 2048, desc: str = "encoding") -> np.ndarray:
    """Normalized embeddings of ``texts``, computed chunk by chunk and cached under ``cache_dir``.

    The cache key covers the model, the prompt and the exact texts, so a changed corpus never reuses stale vectors.
    """
    key = hashlib.sha256()
    key.update(f"{model_name}|{prompt}".encode())
    for text in texts:
        key.update(text.encode())
        key.update(b"\0")
    folder = Path(cache_dir) / key.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in tqdm(range(0, len(texts), chunk), desc=desc, unit="chunk", disable=len(texts) <= chunk):
        path = folder / f"{start:08d}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        vectors = model.encode(texts[start : start + chunk], prompt=prompt, batch_size=batch_size,
                               normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors.astype(np.float32))
        tmp.replace(path)
        parts.append(vectors)
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def positive_ranks(query_vecs: np.ndarray, passage_vecs: np.ndarray, positive_index: np.ndarray,
                   block: int = 1024) -> np.ndarray:
    """1-based rank of each query's positive among all passages (ties count against the positive)."""
    ranks = np.empty(len(query_vecs), dtype=np.int64)
    for start in range(0, len(query_vecs), block):
        scores = query_vecs[start : start + block] @ passage_vecs.T
        own = scores[np.arange(len(scores)), positive_index[start : start + block]]
        ranks[start : start + block] = (scores >= own[:, None]).sum(axis=1)
    return ranks
