"""One embedding store per run: normalized embeddings kept by text, per model and prompt, in append-only shards.

The filter's judges and the mine stage embed largely the same passages with the same model. Keyed by the whole
list of texts (as the earlier per-stage caches were), a corpus that grows by one passage was embedded again from
scratch: on a CPU the costliest step of republishing a growing dataset. Here every text is looked up by its hash,
only the texts never embedded are encoded, and each batch of new embeddings is saved as its own shard, so a run
killed while encoding resumes shard by shard and memory stays bounded by the shard size while encoding.

Layout: ``<root>/<model-key>/<prompt-key>/shard-<writer>-NNNNN.npy`` (float32 rows) beside ``...keys`` (one text
hash per row, written after the ``.npy``: a shard counts only when both exist). ``<writer>`` is new for every
``embed`` call that encodes, so processes writing to one store at once (datatrove tasks on a cluster) never take
the same shard name; a text two writers both encoded is kept once (the first shard by name).

Example:
    >>> import numpy as np, tempfile
    >>> class Model:  # anything with encode(texts, prompt=..., ...) -> array
    ...     calls = 0
    ...     def encode(self, texts, **kwargs):
    ...         Model.calls += len(texts)
    ...         return np.array([[len(t), 1.0] for t in texts], dtype="float32")
    >>> store = EmbeddingStore(tempfile.mkdtemp(), "tiny-model", "passage: ")
    >>> store.embed(Model(), ["uno", "due", "uno"]).shape
    (3, 2)
    >>> _ = store.embed(Model(), ["due", "tre"])
    >>> Model.calls  # "uno" and "due" once, then only "tre"
    3
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pipeline.atomic import atomic_path
from pipeline.mining.embeddings import model_key

PROGRESS_MIN_TEXTS = 1000  # fewer texts encode in seconds: no bar
PROGRESS_STEP = 256  # texts per encode call, so the bar moves within a shard


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingStore:
    """Embeddings of texts for one model (``model_id``: its Hub id or folder) and one prompt."""

    def __init__(self, root: str | Path, model_id: str, prompt: str | None, shard_size: int = 4096):
        prompt_key = hashlib.sha256((prompt or "").encode()).hexdigest()[:12]
        self.folder = Path(root) / model_key(model_id) / f"prompt-{prompt_key}"
        self.prompt = prompt or None
        self.shard_size = shard_size
        self._where: dict[str, tuple[str, int]] | None = None  # text hash -> (shard name, row)

    def _shards(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("shard-*.keys") if (p.with_suffix(".npy")).is_file())

    def _index(self) -> dict[str, tuple[str, int]]:
        if self._where is None:
            self._where = {}
            for shard in self._shards():
                keys = (self.folder / f"{shard}.keys").read_text().split()
                for row, key in enumerate(keys):
                    self._where.setdefault(key, (shard, row))
        return self._where

    def __len__(self) -> int:
        return len(self._index())

    def embed(self, model, texts: list[str], batch_size: int = 64, desc: str = "encoding") -> np.ndarray:
        """Embeddings of ``texts`` in order (normalized by the model's encode); only unseen texts are encoded."""
        where = self._index()
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in where:
                missing.setdefault(key, text)
        if missing:
            self._encode(model, list(missing.items()), batch_size, desc)
        return self._gather([where[k] for k in keys])

    def _encode(self, model, items: list[tuple[str, str]], batch_size: int, desc: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        writer = uuid.uuid4().hex[:12]
        # progress in texts, not shards: one shard of a small corpus takes minutes on a laptop CPU
        bar = tqdm(total=len(items), desc=desc, unit="text", disable=len(items) < PROGRESS_MIN_TEXTS)
        for number, start in enumerate(range(0, len(items), self.shard_size)):
            part = items[start : start + self.shard_size]
            pieces = []
            for at in range(0, len(part), PROGRESS_STEP):
                texts = [t for _, t in part[at : at + PROGRESS_STEP]]
                pieces.append(model.encode(texts, prompt=self.prompt, batch_size=batch_size,
                                           normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False))
                bar.update(len(texts))
            vectors = np.concatenate(pieces)
            shard = f"shard-{writer}-{number:05d}"
            name = self.folder / shard
            with atomic_path(name.with_suffix(".npy")) as tmp, open(tmp, "wb") as f:
                np.save(f, np.asarray(vectors, dtype=np.float32))
            with atomic_path(name.with_suffix(".keys")) as tmp:  # the shard counts from here on
                tmp.write_text("\n".join(k for k, _ in part) + "\n")
            for row, (key, _) in enumerate(part):
                self._index().setdefault(key, (shard, row))
        bar.close()

    def _gather(self, places: list[tuple[str, int]]) -> np.ndarray:
        if not places:
            return np.zeros((0, 0), dtype=np.float32)
        by_shard: dict[str, list[int]] = {}
        for i, (shard, _) in enumerate(places):
            by_shard.setdefault(shard, []).append(i)
        out = None
        for shard, positions in by_shard.items():
            matrix = np.load(self.folder / f"{shard}.npy", mmap_mode="r")
            if out is None:
                out = np.empty((len(places), matrix.shape[1]), dtype=np.float32)
            out[positions] = matrix[[places[i][1] for i in positions]]
        return out
