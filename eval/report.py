"""Write the evaluation report: results.json, results.md (Markdown tables) and results.png (plots)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = [
    ("model", "model"),
    ("dim", "dim"),
    ("ndcg@10", "NDCG@10"),
    ("recall@10", "Recall@10"),
    ("mrr@10", "MRR@10"),
    ("ndcg@10_int8", "NDCG@10 int8"),
    ("ndcg@10_binary", "NDCG@10 binary"),
    ("passages_per_s", "passages/s"),
    ("parameters", "params (M)"),
    ("size_mb", "size (MB)"),
]


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "parameters":
        return f"{value / 1e6:.1f}"
    if key in ("passages_per_s", "size_mb"):
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if isinstance(value, float):
        return f"{100 * value:.2f}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    """One table per set: metrics (x100) per model and Matryoshka size, quantized NDCG, speed and size."""
    lines = ["# Retrieval evaluation", ""]
    quantized = "queries too" if report["settings"].get("quantize_queries") else "queries stay float32"
    lines.append(
        "Metrics x100 at cutoff 10. `dim`: embedding size (Matryoshka truncation, renormalised). "
        f"`int8` / `binary`: NDCG@10 with the corpus embeddings quantized ({quantized}; int8: 256 buckets per "
        "dimension over the corpus range; binary: sign bits). passages/s: corpus encoding speed on "
        f"{report['settings']['device']} (BM25: indexing speed). Size: weight files on disk."
    )
    for set_name, info in report["sets"].items():
        lines += ["", f"## {set_name}", ""]
        notes = "; ".join(info.get("notes") or [])
        lines.append(f"{info['queries']} queries, {info['passages']} passages, from `{info['source']}`.")
        if notes:
            lines.append(f"Note: {notes}.")
        lines += ["", "| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in (r for r in report["results"] if r["set"] == set_name):
            lines.append("| " + " | ".join(_cell(k, row.get(k)) for k, _ in COLUMNS) + " |")
    if report.get("skipped"):
        lines += ["", "## Skipped", ""]
        lines += [f"- {s['set']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Left: NDCG@10 per set and model (full size). Right: NDCG@10 against embedding size per model and set."""
    rows = report["results"]
    sets = list(report["sets"])
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        values = []
        for s in sets:
            full = [r for r in rows if r["model"] == model and r["set"] == s and r.get("full_dim", True)]
            values.append(100 * full[0]["ndcg@10"] if full else 0.0)
        left.bar([x + i * width for x in range(len(sets))], values, width, label=model)
    left.set_xticks([x + width * (len(models) - 1) / 2 for x in range(len(sets))], sets, rotation=10)
    left.set_ylabel("NDCG@10 (x100)")
    left.set_title("Retrieval quality (full embedding size)")
    left.legend(fontsize=8)
    for model in models:
        for s in sets:
            pts = sorted((r["dim"], r["ndcg@10"]) for r in rows if r["model"] == model and r["set"] == s)
            pts = [(d, v) for d, v in pts if isinstance(d, int)]
            if len(pts) > 1:
                right.plot([d for d, _ in pts], [100 * v for _, v in pts], marker="o", label=f"{model} / {s}")
    right.set_xlabel("embedding dimensions (Matryoshka truncation)")
    right.set_ylabel("NDCG@10 (x100)")
    right.set_title("Quality vs. embedding size")
    if right.lines:
        right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict[str, Any], output_dir: Path) -> dict[str, Path]:
    """Write the three files into ``output_dir``; returns their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": output_dir / "results.json",
        "md": output_dir / "results.md",
        "png": output_dir / "results.png",
    }
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths["md"].write_text(markdown(report), encoding="utf-8")
    plot(report, paths["png"])
    return paths
