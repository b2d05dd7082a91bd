"""Statistics plots for the card, written as PNG files next to the README (matplotlib, no display needed).

Each function draws one figure from plain lists and returns a ``Plot`` (file name and caption), or None when there
is nothing to draw.

Example::

    plot = query_styles(Path("dataset/plots"), {"train": {"keywords": 40, "question": 38}})
    plot.file       # 'plots/query_styles.png'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass
class Plot:
    file: str  # path relative to the dataset folder, as the card links it
    caption: str


def _save(fig, folder: Path, name: str, caption: str) -> Plot:
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return Plot(f"{folder.name}/{name}", caption)


def lengths(folder: Path, name: str, series: dict[str, list[int]], xlabel: str, caption: str) -> Plot | None:
    """Overlaid histograms of lengths, one series per label (e.g. per query style)."""
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for label, values in series.items():
        ax.hist(values, bins=30, alpha=0.55, label=f"{label} (n={len(values)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    return _save(fig, folder, name, caption)


def query_styles(folder: Path, per_split: dict[str, dict[str, int]]) -> Plot | None:
    """Grouped bars: queries per style in each split."""
    styles = sorted({s for counts in per_split.values() for s in counts})
    if not styles:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.4))
    width = 0.8 / max(len(per_split), 1)
    for i, (split, counts) in enumerate(per_split.items()):
        ax.bar([x + i * width for x in range(len(styles))], [counts.get(s, 0) for s in styles], width, label=split)
    ax.set_xticks([x + width * (len(per_split) - 1) / 2 for x in range(len(styles))], styles)
    ax.set_ylabel("queries")
    ax.legend(fontsize=8)
    return _save(fig, folder, "query_styles.png", "Queries per style and split.")


def scores(folder: Path, positive: list[float], negatives: dict[str, list[float]], margin: float) -> Plot | None:
    """Histograms of positive and negative similarity scores (base embedder), by negative source."""
    if not positive:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.hist(positive, bins=30, alpha=0.6, label=f"positives (n={len(positive)})")
    for source, values in negatives.items():
        if values:
            ax.hist(values, bins=30, alpha=0.5, label=f"{source} negatives (n={len(values)})")
    ax.set_xlabel("cosine similarity to the query (mining model)")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    caption = (f"Similarity of positives and of kept negatives to their query; every negative scores at most "
               f"{1 - margin:.0%} of its positive (TopK-PercPos guard).")
    return _save(fig, folder, "negative_scores.png", caption)


def drops(folder: Path, rows: list[tuple[str, str, int]]) -> Plot | None:
    """Horizontal bars: items dropped per stage and reason."""
    rows = [r for r in rows if r[2]]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    labels = [f"{stage}: {reason}" for stage, reason, _ in rows][::-1]
    counts = [n for _, _, n in rows][::-1]
    bars = ax.barh(labels, counts, color="#c0504d")
    ax.bar_label(bars, [f"{n:,}" for n in counts], padding=3, fontsize=8)
    ax.set_xscale("log")  # documents, queries and negatives differ by orders of magnitude
    ax.set_xlim(right=max(counts) * 4)
    ax.set_xlabel("dropped (log scale)")
    return _save(fig, folder, "drops.png", "What each filter dropped (documents, replies, queries or negatives).")
