"""Encode with an exported ONNX graph through onnxruntime alone, the way a CPU deployment would.

``OnnxEmbedder`` reads a folder written by ``python -m training.onnx_export`` (a sentence-transformers folder with
``onnx/*.onnx``): the tokenizer and ``max_seq_length`` from the folder, the pooling from its ``Pooling`` module
config, normalisation if the folder lists a ``Normalize`` module. It offers the part of ``SentenceTransformer``'s
interface that evaluation uses (``encode``, ``get_embedding_dimension``), so ``eval.run`` can rank with it.
sentence-transformers' own ONNX backend would need optimum-onnx, which does not install beside transformers 5.

Example::

    model = OnnxEmbedder("runs/onnx/e5-small-it/onnx/model_qint8.onnx")
    model.encode(["query: chi ha vinto?"], batch_size=32).shape      # (1, 384)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from retrieval.errors import ModelError

POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "lasttoken")


def model_folder_of(onnx_file: Path) -> Path:
    """The sentence-transformers folder holding ``onnx_file`` (the parent of its ``onnx/`` folder)."""
    return onnx_file.parent.parent if onnx_file.parent.name == "onnx" else onnx_file.parent


class OnnxEmbedder:
    """A sentence embedder backed by one ``.onnx`` file (inputs input_ids + attention_mask -> last_hidden_state)."""

    def __init__(self, onnx_file: str | Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"ONNX models need onnxruntime ({exc}). Fix: pip install -e '.[onnx]'.") from exc
        self.path = Path(onnx_file).expanduser()
        if not self.path.is_file():
            raise ModelError(
                f"ONNX file {str(self.path)!r} does not exist. Fix: write it with "
                "`python -m training.onnx_export --model MODEL --output DIR`, then pass DIR/onnx/model_qint8.onnx."
            )
        folder = model_folder_of(self.path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:
            raise ModelError(f"no tokenizer beside {self.path} in {folder} ({type(exc).__name__}: {exc}).") from exc
        self.pooling, self.normalize = _read_modules(folder)
        self.max_seq_length = _max_seq_length(folder, self.tokenizer)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"onnxruntime cannot load {self.path} ({type(exc).__name__}: {exc}).") from exc
        self.input_names = {i.name for i in self.session.get_inputs()}
        self._dimension: int | None = None

    def encode(
        self,
        sentences: list[str] | str,
        prompt: str | None = None,
        batch_size: int = 32,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        normalize_embeddings: bool = False,
    ) -> np.ndarray:
        """Embeddings of ``sentences`` (float32, one row each), ``prompt`` prepended; batches sorted by length."""
        del convert_to_numpy, show_progress_bar  # always numpy; no progress bar
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if prompt:
            texts = [prompt + t for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        out: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask") if k in self.input_names}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
            hidden = self.session.run(None, feeds)[0]
            pooled = _pool(hidden, batch["attention_mask"], self.pooling)
            if self.normalize or normalize_embeddings:
                pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(idx):
                out[i] = pooled[row]
        result = np.vstack(out).astype(np.float32) if out else np.zeros((0, self.get_embedding_dimension() or 0))
        return result[0] if single else result

    def get_embedding_dimension(self) -> int | None:
        if self._dimension is None:
            shape = self.session.get_outputs()[0].shape
            self._dimension = shape[-1] if isinstance(shape[-1], int) else self.encode(["x"]).shape[1]
        return self._dimension

    get_sentence_embedding_dimension = get_embedding_dimension

    def size(self) -> dict[str, float | str]:
        """Parameters stored in the graph and megabytes on disk (the .onnx file and any external data file)."""
        import onnx

        graph = onnx.load(str(self.path), load_external_data=False).graph
        params = sum(int(np.prod(t.dims)) for t in graph.initializer if len(t.dims) > 0)
        files = [self.path, *self.path.parent.glob(self.path.name + ".data")]  # weights > 2 GB go to a .data file
        return {"parameters": params, "size_mb": sum(f.stat().st_size for f in files) / 1e6, "size_of": "disk"}


def _read_modules(folder: Path) -> tuple[str, bool]:
    """(pooling mode, normalize?) from the folder's modules.json; mean pooling when it has none."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return "mean_tokens", False
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    pooling, normalize = "mean_tokens", False
    for module in modules:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            config = json.loads((folder / module["path"] / "config.json").read_text(encoding="utf-8"))
            if "pooling_mode" in config:  # sentence-transformers >= 6 writes {"pooling_mode": "mean"}
                named = {"mean": "mean_tokens", "cls": "cls_token", "max": "max_tokens", "lasttoken": "lasttoken"}
                modes = [named.get(config["pooling_mode"], str(config["pooling_mode"]))]
                modes = [m for m in modes if m in POOLING_MODES] or [f"unsupported {config['pooling_mode']!r}"]
            else:  # older files: one boolean per mode
                modes = [m for m in POOLING_MODES if config.get(f"pooling_mode_{m}")]
            if len(modes) != 1 or modes[0] not in POOLING_MODES:
                raise ModelError(
                    f"{folder} uses pooling {modes or 'none'}; ONNX evaluation supports one of {POOLING_MODES}."
                )
            pooling = modes[0]
        elif kind.endswith("Normalize"):
            normalize = True
        elif not kind.endswith("Transformer"):
            raise ModelError(
                f"{folder} has a {kind} module; ONNX evaluation supports Transformer, Pooling, Normalize."
            )
    return pooling, normalize


def _max_seq_length(folder: Path, tokenizer) -> int:  # noqa: ANN001
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    return min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls_token":
        return hidden[:, 0]
    if mode == "lasttoken":
        last = mask.sum(axis=1) - 1
        return hidden[np.arange(hidden.shape[0]), last]
    m = mask[..., None].astype(hidden.dtype)
    if mode == "max_tokens":
        return np.where(m > 0, hidden, -1e9).max(axis=1)
    return (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
