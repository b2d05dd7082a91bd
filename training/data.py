"""What training reads from the published dataset: triplets for training, an IR set for dev.

Loading itself (the dataset's source and version, a config's split, its columns) is retrieval/dataset.py's, shared
with evaluation. Every failure becomes a DatasetError that names the dataset, config, split, file or column at fault
and says how to fix it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from datasets import Dataset

from retrieval.dataset import FIX as _FIX
from retrieval.dataset import DatasetSource, data_file_hint, load_split, negative_columns, require_columns
from retrieval.errors import DatasetError

logger = logging.getLogger(__name__)

TRIPLET_COLUMNS = ("query", "positive", "negative_1")


def load_triplets(
    source: DatasetSource,
    split: str = "train",
    num_negatives: int | None = None,
    max_samples: int | None = None,
    seed: int = 42,
    styles: list[str] | None = None,
) -> Dataset:
    """The ``triplets`` split as a Dataset with exactly the columns query, positive, negative_1..negative_k
    (``num_negatives=0``: query and positive only; in-batch negatives remain), of the given query ``styles`` only.

    Rows with an empty or missing text are dropped (and counted in the log); ids and style are removed because
    the trainer feeds every remaining column to the loss.
    """
    ds = load_split(source, "triplets", split)
    where = data_file_hint(source, "triplets", split)
    require_columns(ds, TRIPLET_COLUMNS, where)
    if styles:
        require_columns(ds, ("style",), where)
        present = sorted(set(ds["style"]))
        ds = ds.filter(lambda row: row["style"] in styles)
        if len(ds) == 0:
            raise DatasetError(f"{where} has no query of the style(s) {styles}; its styles are {present}. Fix "
                               "data.styles.")
    negatives = [] if num_negatives == 0 else negative_columns(ds.column_names, num_negatives)
    if num_negatives and len(negatives) < num_negatives:
        logger.warning(
            "data.num_negatives is %d but %s has only %d negative columns", num_negatives, where, len(negatives)
        )
    columns = ["query", "positive", *negatives]
    ds = ds.select_columns(columns)
    before = len(ds)
    ds = ds.filter(lambda row: all(isinstance(row[c], str) and row[c].strip() for c in columns))
    if len(ds) < before:
        logger.warning("dropped %d of %d rows of %s with an empty text", before - len(ds), before, where)
    if len(ds) == 0:
        raise DatasetError(f"{where} has no usable rows (every row lacks a query, positive or negative). {_FIX}")
    if max_samples and len(ds) > max_samples:
        ds = ds.shuffle(seed=seed).select(range(max_samples))
    return ds


@dataclass
class IRData:
    """A retrieval set: query id -> text, passage id -> text, query id -> relevant passage ids."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, set[str]]


def load_ir_split(
    source: DatasetSource,
    split: str,
    max_queries: int | None = None,
    max_corpus: int | None = None,
    seed: int = 42,
) -> IRData:
    """Queries and qrels of ``split`` plus the corpus, subsampled for a fast in-training evaluation.

    The corpus keeps every passage relevant to a kept query plus a seeded random sample of the others, up to
    ``max_corpus`` passages in all.
    """
    queries_ds = load_split(source, "queries", split)
    require_columns(queries_ds, ("_id", "text"), data_file_hint(source, "queries", split))
    qrels_ds = load_split(source, "qrels", split)
    require_columns(qrels_ds, ("query-id", "corpus-id", "score"), data_file_hint(source, "qrels", split))
    corpus_ds = load_split(source, "corpus", "corpus")
    require_columns(corpus_ds, ("_id", "text"), data_file_hint(source, "corpus", "corpus"))

    relevant: dict[str, set[str]] = {}
    for qid, did, score in zip(qrels_ds["query-id"], qrels_ds["corpus-id"], qrels_ds["score"], strict=True):
        if score and score > 0:
            relevant.setdefault(str(qid), set()).add(str(did))
    queries = {
        str(q): t for q, t in zip(queries_ds["_id"], queries_ds["text"], strict=True) if str(q) in relevant and t
    }
    rng = random.Random(seed)
    if max_queries and len(queries) > max_queries:
        queries = {q: queries[q] for q in sorted(rng.sample(sorted(queries), max_queries))}
    relevant = {q: relevant[q] for q in queries}
    corpus_all = {str(d): t for d, t in zip(corpus_ds["_id"], corpus_ds["text"], strict=True) if t}
    needed = set().union(*relevant.values()) & corpus_all.keys() if relevant else set()
    others = sorted(corpus_all.keys() - needed)
    room = len(others) if not max_corpus else max(0, max_corpus - len(needed))
    keep = needed | set(rng.sample(others, min(room, len(others))))
    corpus = {d: corpus_all[d] for d in sorted(keep)}
    relevant = {q: docs & keep for q, docs in relevant.items() if docs & keep}
    queries = {q: queries[q] for q in relevant}
    return IRData(queries=queries, corpus=corpus, relevant_docs=relevant)
