"""MTEB retrieval tasks as evaluation sets, through the optional ``mteb`` package (``pip install 'mteb>=2'``).

Only the data comes from MTEB; scoring is this package's own, so MTEB tasks and local folders are measured the
same way. Without ``mteb`` or without the Hugging Face Hub (and no cached copy), a task raises SetUnavailable,
which the CLI reports as "skipped", not as an error.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from eval.errors import SetUnavailable

if TYPE_CHECKING:
    from eval.retrieval_set import RetrievalSet

logger = logging.getLogger(__name__)

# Task name -> its Italian subset.
MTEB_SETS: dict[str, str] = {
    "BelebeleRetrieval": "ita_Latn-ita_Latn",
    "WikipediaRetrievalMultilingual": "it",
}


def parse_mteb_spec(spec: str) -> tuple[str, str] | None:
    """``BelebeleRetrieval`` or ``mteb:<Task>[:<subset>]`` -> (task, subset); None if not an MTEB spec."""
    if spec in MTEB_SETS:
        return spec, MTEB_SETS[spec]
    if not spec.startswith("mteb:"):
        return None
    task, _, subset = spec[len("mteb:") :].partition(":")
    return task, subset or MTEB_SETS.get(task, "default")


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if huggingface.co accepts a TCP connection (a quick check before slow download retries)."""
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_mode() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def load_mteb_set(task_name: str, subset: str, name: str | None = None, use_title: bool = True) -> RetrievalSet:
    """Download (or read from cache) one MTEB retrieval task's test split for ``subset``.

    Raises:
        SetUnavailable: mteb is not installed, the Hub is unreachable, or the task cannot be loaded.
    """
    from eval.retrieval_set import finish_set, passage_text

    label = f"{task_name} ({subset})"
    try:
        import mteb
    except ImportError:
        raise SetUnavailable(
            f"{label} skipped: the optional package mteb is not installed. Fix: pip install 'mteb>=2'."
        ) from None
    if not _offline_mode() and not hub_reachable():
        raise SetUnavailable(f"{label} skipped: the Hugging Face Hub is unreachable (offline?).")
    try:
        task = mteb.get_task(task_name, hf_subsets=[subset])
        task.load_data()
        split = task.metadata.eval_splits[0]
        data = task.dataset[subset][split]
        corpus_ds, queries_ds, relevant = data["corpus"], data["queries"], data["relevant_docs"]
    except Exception as exc:  # network, cache miss in offline mode, API changes between mteb versions
        raise SetUnavailable(f"{label} skipped: could not load it with mteb ({type(exc).__name__}: {exc}).") from exc
    titles = corpus_ds["title"] if "title" in corpus_ds.column_names else [None] * len(corpus_ds)
    corpus = {
        str(i): passage_text(t, x, use_title)
        for i, t, x in zip(corpus_ds["id"], titles, corpus_ds["text"], strict=True)
    }
    queries = {str(i): t for i, t in zip(queries_ds["id"], queries_ds["text"], strict=True)}
    qrels = {str(q): {str(d): int(s) for d, s in docs.items()} for q, docs in relevant.items()}
    result: RetrievalSet = finish_set(name or task_name, f"mteb:{task_name}:{subset}", corpus, queries, qrels, split)
    return result
