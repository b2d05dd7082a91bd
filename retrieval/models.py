"""Load a sentence-transformers model from a local folder or a Hub id, with clear errors for bad paths."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sentence_transformers import SentenceTransformer

from retrieval.errors import ModelError

logger = logging.getLogger(__name__)

_FIX = (
    "Fix: pass a folder written by `SentenceTransformer.save()` (it has modules.json; `python -m training.train` "
    "writes one to <output_dir>/final) or a Hub id such as intfloat/multilingual-e5-small."
)


def is_local_reference(name: str) -> bool:
    """True when ``name`` exists on disk or is written like a path rather than a ``user/repo`` Hub id."""
    if Path(name).expanduser().exists():
        return True
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def check_model_folder(folder: Path) -> None:
    """Raise ModelError unless ``folder`` looks like a sentence-transformers (or plain transformers) model."""
    if folder.suffix == ".onnx":
        if not folder.is_file():
            raise ModelError(
                f"ONNX file {str(folder)!r} does not exist. Fix: write it with "
                "`python -m training.onnx_export --model MODEL --output DIR` (DIR/onnx/model_qint8.onnx)."
            )
        return
    if not folder.exists():
        raise ModelError(f"model folder {str(folder)!r} does not exist. {_FIX}")
    if not folder.is_dir():
        raise ModelError(f"model path {str(folder)!r} is a file, not a model folder. {_FIX}")
    if (folder / "modules.json").is_file():
        return
    config = folder / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError) as exc:
            raise ModelError(f"{config} is not valid JSON ({exc}). {_FIX}") from exc
        if model_type:
            logger.warning(
                "%s has no modules.json: loading it as a plain transformers %r model with mean pooling.",
                folder,
                model_type,
            )
            return
    raise ModelError(f"{str(folder)!r} is not a sentence-transformers model: it has no modules.json. {_FIX}")


def hub_is_offline() -> bool:
    """Whether the Hugging Face Hub is switched off here (``HF_HUB_OFFLINE=1``): only cached models load."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def check_model_reference(name_or_path: str) -> None:
    """Raise ModelError, before any slow work, when ``name_or_path`` cannot load here: a local path that is no
    model folder (``check_model_folder``), or a Hub id missing from the local cache while the Hub is offline."""
    if is_local_reference(name_or_path) or name_or_path.endswith(".onnx"):
        check_model_folder(Path(name_or_path).expanduser())
        return
    if hub_is_offline() and not _in_hub_cache(name_or_path):
        raise ModelError(
            f"model {name_or_path!r} is a Hub id, but the Hub is offline here (HF_HUB_OFFLINE=1) and the model is "
            "not in the local cache. Fix: pass a local sentence-transformers folder (offline: "
            "../shared/tools/get-e5-small prints one), or download it once with the Hub reachable."
        )


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return any(isinstance(try_to_load_from_cache(repo_id, name), str)
                   for name in ("modules.json", "config.json", "tokenizer_config.json"))
    except Exception:  # noqa: BLE001 - a malformed id: loading it will say what is wrong
        return True


def embedding_dimension(model: SentenceTransformer) -> int | None:
    """The model's output size (``get_embedding_dimension`` in sentence-transformers >= 6.1, older name before)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def load_embedder(name_or_path: str) -> SentenceTransformer:
    """The embedder for the pipeline's round-trip judges and mining: ``load_model`` on the best device here (CUDA,
    then MPS, then CPU)."""
    from retrieval.device import resolve_device

    return load_model(name_or_path, device=resolve_device("auto"))


def load_model(
    name_or_path: str,
    device: str | None = None,
    revision: str | None = None,
    **kwargs: Any,
) -> SentenceTransformer:
    """Load a SentenceTransformer, turning every loading failure into a ModelError that names the model.

    Args:
        name_or_path: local folder, Hub id, or an ``.onnx`` file written by ``python -m training.onnx_export``
            (returns an ``OnnxEmbedder``, which encodes like a SentenceTransformer but cannot be trained).
        device: torch device (``cpu``, ``cuda``...); None lets sentence-transformers choose.
        revision: Hub revision (branch, tag or commit); ignored for local folders.
        **kwargs: passed on to ``SentenceTransformer`` (e.g. ``model_card_data``).
    """
    if name_or_path.endswith(".onnx"):  # an exported graph: encoded with onnxruntime (retrieval/onnx_model.py)
        from retrieval.onnx_model import OnnxEmbedder

        return OnnxEmbedder(name_or_path)
    if is_local_reference(name_or_path):
        folder = Path(name_or_path).expanduser()
        check_model_folder(folder)
        try:
            return SentenceTransformer(str(folder), device=device, local_files_only=True, **kwargs)
        except Exception as exc:  # any failure inside the folder's files
            raise ModelError(
                f"could not load the model in {str(folder)!r}: {type(exc).__name__}: {exc}. {_FIX}"
            ) from exc
    try:
        return SentenceTransformer(name_or_path, device=device, revision=revision, **kwargs)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelError(
            f"could not load model {name_or_path!r} from the Hugging Face Hub ({type(exc).__name__}: {first}). "
            "Fix: check the id, your network and HF_TOKEN, or pass a local sentence-transformers folder."
        ) from exc
