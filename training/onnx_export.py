"""Export an embedder to ONNX and quantize it to int8 (``python -m training.onnx_export``).

Usage::

    python -m training.onnx_export --model runs/train/e5-small-it/final --output runs/onnx/e5-small-it

writes a copy of the sentence-transformers folder plus ``onnx/model.onnx`` (float32) and ``onnx/model_qint8.onnx``
(int8 weights, dynamic int8 activations: ``onnxruntime.quantization.quantize_dynamic``). The layout is
sentence-transformers' own (``SentenceTransformer(folder, backend="onnx", model_kwargs={"file_name":
"onnx/model_qint8.onnx"})`` loads it where optimum-onnx is installed); this project evaluates it with
``retrieval.onnx_model.OnnxEmbedder``, which needs only onnxruntime.

Why not ``sentence_transformers.backend.export_dynamic_quantized_onnx_model``: it runs through optimum-onnx, whose
only release (0.1.0) requires transformers < 4.58, and this project runs on transformers 5. The export here is the
same graph optimum writes for feature extraction (``input_ids``, ``attention_mask`` -> ``last_hidden_state``);
pooling and normalisation stay outside the graph, as in sentence-transformers' ONNX backend.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

from retrieval.cli import cli_main
from retrieval.errors import ModelError
from retrieval.models import load_model
from retrieval.paths import check_output_folder, replacing

logger = logging.getLogger("training.onnx_export")

FLOAT_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8.onnx"
CHECK_TEXTS = [
    "query: quando è stata fondata la città di Modena?",
    "passage: Il consiglio comunale ha approvato ieri sera il bilancio, con il voto contrario dell'opposizione.",
    "passage: Breve.",
]


class _LastHiddenState:
    """Wraps the transformer so that the traced graph takes only (input_ids, attention_mask)."""

    @staticmethod
    def build(auto_model):  # noqa: ANN001, ANN205 - torch types stay local to this function
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, model):  # noqa: ANN001
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask):  # noqa: ANN001, ANN201
                # token_type_ids left out: all zeros, as the tokenizer gives for single texts
                return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        return Wrapper(auto_model).eval()


def export(model_ref: str, output: Path, int8: bool = True, opset: int = 17) -> dict[str, Path]:
    """Write ``output`` (the model folder + onnx/model.onnx [+ onnx/model_qint8.onnx]); returns the ONNX files.

    Raises ModelError when the model cannot be loaded, is not a transformer with (input_ids, attention_mask) inputs,
    or when the exported graph's embeddings differ from the torch model's (checked on a few texts).
    """
    try:
        import onnxruntime  # noqa: F401
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelError(f"ONNX export needs onnx and onnxruntime ({exc}). Fix: pip install -e '.[onnx]'.") from exc
    model = load_model(model_ref, device="cpu")
    first = model[0]
    auto_model = getattr(first, "auto_model", None)
    if auto_model is None or getattr(model, "tokenizer", None) is None:
        raise ModelError(f"{model_ref!r} has no transformer module with a tokenizer first; only such models export.")
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    (output / "onnx").mkdir(exist_ok=True)
    sample = model.tokenizer(CHECK_TEXTS[:2], padding=True, return_tensors="pt")
    float_path = output / FLOAT_FILE
    logger.info("exporting %s to %s", model_ref, float_path)
    axes = {"batch": 0, "sequence": 1}
    dynamic = {name: {i: n for n, i in axes.items()} for name in ("input_ids", "attention_mask", "last_hidden_state")}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches of the attention mask
            torch.onnx.export(
                _LastHiddenState.build(auto_model),
                (sample["input_ids"], sample["attention_mask"]),
                str(float_path),
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript and more memory
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes=dynamic,
                opset_version=opset,
            )
    except Exception as exc:
        raise ModelError(f"ONNX export of {model_ref!r} failed: {type(exc).__name__}: {exc}") from exc
    files = {"float32": float_path}
    if int8:
        int8_path = output / INT8_FILE
        logger.info("quantizing to %s", int8_path)
        # per-channel int8 weights (MatMul and the embedding Gather), activations quantized at run time
        quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
        files["int8"] = int8_path
    check_against_torch(model, output, tolerance=1e-3)
    return files


def check_against_torch(model, folder: Path, tolerance: float) -> float:  # noqa: ANN001
    """Largest |cosine difference| between the torch model and the float32 ONNX graph on CHECK_TEXTS."""
    from retrieval.onnx_model import OnnxEmbedder

    expected = model.encode(CHECK_TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    got = OnnxEmbedder(folder / FLOAT_FILE).encode(CHECK_TEXTS, normalize_embeddings=True)
    worst = float(np.max(np.abs(expected - got)))
    if worst > tolerance:
        raise ModelError(
            f"the exported ONNX graph gives different embeddings from the torch model (max difference {worst:.2g} "
            f"> {tolerance}); the export is not usable. Fix: report the model type; try another --opset."
        )
    logger.info("ONNX float32 matches torch (max difference %.2g)", worst)
    return worst


@cli_main(interrupted="interrupted: --output was not left half-written", sigterm=True)
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.onnx_export", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="sentence-transformers folder or Hub id")
    p.add_argument("--output", required=True, help="folder to write (model copy + onnx/)")
    p.add_argument("--no-int8", dest="int8", action="store_false", help="write only the float32 graph")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--force", action="store_true", help="replace an existing output folder (once the export worked)")
    args = p.parse_args(argv)
    # onnxruntime's quantizer logs every tensor at INFO on the root logger: keep the root at WARNING
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    output = Path(args.output)
    check_output_folder(output, args.force)
    with replacing(output) as partial:  # a failed export leaves an existing --output as it was, even with --force
        files = export(args.model, partial, args.int8, args.opset)
    for kind, path in files.items():
        path = output / path.relative_to(partial)
        print(f"{kind}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
