"""Benchmark: encoding speed and size of an embedder as torch float32, ONNX float32 and ONNX int8, in one run.

Encodes the same passages (a seeded sample of a BEIR corpus, e5's ``passage: `` prompt) with each form, the same
batch size and thread count, after a warm-up batch; prints passages/s, the ratio to torch float32, the size on disk,
and the cosine between each form's embeddings and torch's (how much int8 moves them). The folder comes from
``python -m training.onnx_export``; retrieval quality of the same forms is ``python -m eval.run`` with
``--models int8=<folder>/onnx/model_qint8.onnx``.

    python benchmarks/onnx_int8.py --model runs/onnx/e5-small --corpus ../shared/eval/squad_it_test --passages 256
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def sample_passages(corpus: Path, n: int, seed: int) -> list[str]:
    with open(corpus / "corpus.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    return random.Random(seed).sample(texts, min(n, len(texts)))


def timed(encode, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    encode(texts[:batch_size])  # warm-up: graph optimisation, allocator
    start = time.perf_counter()
    emb = encode(texts)
    return emb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="folder written by python -m training.onnx_export")
    p.add_argument("--corpus", required=True, help="BEIR folder whose corpus.jsonl gives the passages")
    p.add_argument("--passages", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import torch

    from retrieval.models import load_model
    from retrieval.onnx_model import OnnxEmbedder
    from training.onnx_export import FLOAT_FILE, INT8_FILE

    torch.set_num_threads(args.threads)
    folder = Path(args.model)
    texts = sample_passages(Path(args.corpus), args.passages, args.seed)
    torch_model = load_model(str(folder), device="cpu")
    forms = {
        "torch float32": (lambda t: torch_model.encode(t, prompt="passage: ", batch_size=args.batch_size,
                                                       convert_to_numpy=True, normalize_embeddings=True),
                          sum(f.stat().st_size for f in folder.glob("*.safetensors"))),
    }
    for name, file in (("onnx float32", FLOAT_FILE), ("onnx int8", INT8_FILE)):
        model = OnnxEmbedder(folder / file, threads=args.threads)
        forms[name] = (lambda t, m=model: m.encode(t, prompt="passage: ", batch_size=args.batch_size,
                                                    normalize_embeddings=True), (folder / file).stat().st_size)
    print(f"{len(texts)} passages, batch {args.batch_size}, {args.threads} threads")
    print(f"{'form':<14} {'passages/s':>10} {'vs torch':>9} {'size MB':>8} {'min cos':>8} {'mean cos':>9}")
    reference, base_speed = None, None
    for name, (encode, size) in forms.items():
        emb, seconds = timed(encode, texts, args.batch_size)
        speed = len(texts) / seconds
        reference = emb if reference is None else reference
        base_speed = base_speed or speed
        cos = (emb * reference).sum(axis=1)
        print(f"{name:<14} {speed:>10.1f} {speed / base_speed:>8.2f}x {size / 1e6:>8.1f} {cos.min():>8.4f} "
              f"{cos.mean():>9.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
