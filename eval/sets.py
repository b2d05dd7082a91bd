"""Retrieval sets: BEIR-style folders, the published dataset (its ``beir/test`` or its configs), MTEB tasks.

A BEIR-style folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``)
and qrels as ``qrels/<split>.tsv`` or ``qrels.tsv`` (header ``query-id  corpus-id  score``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from eval.errors import EvalSetError
from eval.mteb_sets import MTEB_SETS, load_mteb_set, parse_mteb_spec
from eval.retrieval_set import RetrievalSet, finish_set, passage_text
from retrieval.beir import BEIR_HELP, find_qrels, read_jsonl, read_qrels

logger = logging.getLogger(__name__)



def load_beir_folder(
    folder: Path, split: str = "test", name: str | None = None, use_title: bool = True
) -> RetrievalSet:
    """Load a BEIR-style folder (see the module docstring)."""
    folder = Path(folder)
    for needed in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / needed).is_file():
            raise EvalSetError(f"{folder} has no {needed}. {BEIR_HELP}")
    qrels = read_qrels(find_qrels(folder, split))
    corpus = {
        str(r["_id"]): passage_text(r.get("title"), r["text"], use_title)
        for r in read_jsonl(folder / "corpus.jsonl", ("_id", "text"))
    }
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl", ("_id", "text"))}
    return finish_set(name or default_set_name(folder), str(folder), corpus, queries, qrels, split)


def load_dataset_configs(
    root: Path, split: str = "test", name: str | None = None, use_title: bool = True
) -> RetrievalSet:
    """Load a published dataset folder without ``beir/`` through its ``corpus``/``queries``/``qrels`` configs."""
    from retrieval.dataset import describe_dataset, load_split, require_columns
    from retrieval.errors import DatasetError

    source = describe_dataset(str(root))
    try:
        corpus_ds = load_split(source, "corpus", "corpus")
        queries_ds = load_split(source, "queries", split)
        qrels_ds = load_split(source, "qrels", split)
        require_columns(corpus_ds, ("_id", "text"), f"{root} [corpus]")
        require_columns(queries_ds, ("_id", "text"), f"{root} [queries/{split}]")
        require_columns(qrels_ds, ("query-id", "corpus-id", "score"), f"{root} [qrels/{split}]")
    except DatasetError as exc:
        raise EvalSetError(str(exc)) from exc
    titles = corpus_ds["title"] if "title" in corpus_ds.column_names else [None] * len(corpus_ds)
    corpus = {
        str(d): passage_text(t, x, use_title)
        for d, t, x in zip(corpus_ds["_id"], titles, corpus_ds["text"], strict=True)
    }
    queries = {str(q): t for q, t in zip(queries_ds["_id"], queries_ds["text"], strict=True)}
    qrels: dict[str, dict[str, int]] = {}
    for q, d, s in zip(qrels_ds["query-id"], qrels_ds["corpus-id"], qrels_ds["score"], strict=True):
        qrels.setdefault(str(q), {})[str(d)] = int(s)
    return finish_set(name or default_set_name(root), str(root), corpus, queries, qrels, split)


_GENERIC = {"dataset", "publish", "beir", "test", "dev", "train"}


def default_set_name(folder: Path) -> str:
    """The first folder name on the way up that is not generic (``runs/demo/publish/dataset/beir/test`` -> demo)."""
    folder = Path(folder).resolve()
    for part in (folder, *folder.parents):
        if part.name and part.name not in _GENERIC:
            return part.name
    return folder.name or "set"


def resolve_set(spec: str, split: str = "test", use_title: bool = True) -> RetrievalSet:
    """Load a set given as ``[NAME=]PATH`` (BEIR folder or published dataset root) or an MTEB task name.

    Raises:
        EvalSetError: the folder is missing or incomplete, or the spec is neither a folder nor a known task.
        SetUnavailable: an MTEB task that cannot be loaded here (mteb missing, Hub offline).
    """
    name, _, target = spec.partition("=") if "=" in spec else ("", "", spec)
    task = parse_mteb_spec(target)
    if task is not None:
        return load_mteb_set(*task, name=name or None, use_title=use_title)
    folder = Path(target).expanduser()
    if not folder.exists():
        raise EvalSetError(
            f"evaluation set {target!r} is neither an existing folder nor a known MTEB task "
            f"({', '.join(MTEB_SETS)}; or mteb:<Task>:<subset>). Fix: pass a BEIR-style folder or a dataset root."
        )
    if (folder / "corpus.jsonl").is_file():
        return load_beir_folder(folder, split, name or None, use_title)
    if (folder / "README.md").is_file() and (folder / "corpus").is_dir():  # a published dataset root
        from retrieval.dataset import check_schema, read_card_metadata

        check_schema(read_card_metadata(folder), f"dataset {str(folder)!r}")
    beir = folder / "beir" / split
    if (beir / "corpus.jsonl").is_file():
        return load_beir_folder(beir, split, name or default_set_name(folder), use_title)
    if (folder / "README.md").is_file() and (folder / "corpus").is_dir():
        return load_dataset_configs(folder, split, name or None, use_title)
    raise EvalSetError(f"{folder} has no corpus.jsonl, beir/{split}/corpus.jsonl or dataset configs. {BEIR_HELP}")
