"""split: train / dev / test by source document, near-duplicate documents kept together, negatives leak-free.

1. Near-duplicate passages (MinHash Jaccard >= ``split.near_duplicate_threshold`` over word shingles) tie their
   documents into groups (pipeline.publishing.neardup); every document of the corpus belongs to one group.
2. Groups go to splits by a seeded hash of their id (stable when the data grows; pipeline.publishing.splits).
3. Negatives may come from any document, except that train triplets never use a dev/test positive (or a
   near-duplicate of one) as a negative, and dev triplets never use a test one; such negatives are dropped and
   counted (``negatives_dropped_leak``). Positives cannot leak: their documents are in their own split.
4. dev and test hold only queries that the round-trip panel keeps *without* the base model (``eval_eligible``,
   pipeline/filtering/judges.py; ``eval_queries: unbiased``): a query kept only because the base model ranks its
   passage high would make the benchmark favour the base by construction. The others are dropped from dev/test
   (their documents stay there, so they cannot move to train) and counted (``queries_dropped_not_eligible``).
5. The test split is also written BEIR-style. Its corpus is the whole corpus by default (``beir_corpus: all``),
   like MS MARCO / BEIR: one collection for every split, the hardest and most realistic setting, and the same
   collection as the published ``corpus`` config, so both evaluation routes agree. Nothing leaks through it,
   since test positives never appear in training triplets. ``beir_corpus: non_train`` keeps only passages of
   dev/test documents (smaller, never seen in training in any role).

Every input is read in batches (``RunFolder.batches``) and every output written in row groups: memory holds the
passage and document ids, the MinHash band keys (signatures go to a memory-mapped file in ``split/work/``) and one
batch of rows, never the whole run (issue "C4 scale").

Output under ``runs/<name>/split/``: ``{train,dev,test}.parquet`` (mine's triplet schema plus ``group_id``),
``documents.parquet`` (doc_id, group_id, split), ``beir/test/{corpus.jsonl,queries.jsonl,qrels/test.tsv}``.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from typing import Any

from pipeline.errors import StageError
from pipeline.publishing.beir import SameTextIndex, qrels_for
from pipeline.publishing.neardup import MinHasher, SignatureTable, document_groups
from pipeline.publishing.splits import assign_splits, leak_sets
from pipeline.run_folder import BATCH_ROWS, SPLIT_TRIPLET_SCHEMA, SPLITS
from pipeline.stages.base import Stage
from retrieval.beir import write_beir

_IDS = ("query_id", "doc_id", "passage_id")


class SplitStage(Stage):
    name = "split"
    config_sections = ("split",)
    batch_rows = BATCH_ROWS  # rows per read batch and written row group

    def process(self) -> dict[str, Any]:
        cfg = self.config.split
        passage_ids, passage_docs, pairs, same_text = self._near_duplicates()
        near = defaultdict(set)
        for a, b in pairs:
            near[passage_ids[a]].add(passage_ids[b])
            near[passage_ids[b]].add(passage_ids[a])
        queries_of_doc = Counter(r["doc_id"] for batch in self._id_batches() for r in batch)
        known = set(passage_docs)
        doc_of = passage_docs + [d for d in queries_of_doc if d not in known]  # queries' docs too, to be safe
        group_of = document_groups(doc_of, pairs)
        split_of_group = assign_splits(sorted(set(group_of.values())), {s: getattr(cfg, s) for s in SPLITS},
                                       self.config.seed, with_queries={group_of[d] for d in queries_of_doc})
        eligible = self._eval_eligible()

        def split_of(row: dict) -> tuple[str, bool]:
            """The row's split, and whether it stays there (not: a dev/test query kept only through the base)."""
            split = split_of_group[group_of[row["doc_id"]]]
            return split, split == "train" or eligible.get(row["query_id"], True)

        held_out: dict[str, set[str]] = {"dev": set(), "test": set()}
        in_train = 0
        for batch in self._id_batches():
            for row in batch:
                split, kept = split_of(row)
                in_train += split == "train"
                if kept and split in held_out:
                    held_out[split].add(row["passage_id"])
        if not in_train:
            raise StageError("every query landed outside the train split (too few documents for these fractions). "
                             "Generate queries for more passages, or raise split.train.")
        leaks = leak_sets(held_out, near)
        stats = {"splits": {}, "near_duplicate_pairs": len(pairs)}
        stats["queries_dropped_not_eligible"], stats["splits"] = self._write_splits(split_of, group_of, leaks)
        self._write_documents(group_of, split_of_group, queries_of_doc)
        kept_ids = None  # beir_corpus: all
        if cfg.beir_corpus == "non_train":
            kept_ids = {pid for pid, d in zip(passage_ids, passage_docs) if split_of_group[group_of[d]] != "train"}
        stats["beir_corpus"] = self._write_beir(same_text, kept_ids)
        sizes = Counter(group_of.values())
        stats.update(rows=sum(queries_of_doc.values()), documents=len(group_of), groups=len(sizes),
                     groups_with_near_duplicates=sum(1 for n in sizes.values() if n > 1),
                     documents_in_shared_groups=sum(n for n in sizes.values() if n > 1),
                     negatives_dropped_leak=sum(s["negatives_dropped_leak"] for s in stats["splits"].values()))
        return stats

    def config_hash(self) -> str:
        # split.tasks only shards the MinHash work: it never shapes the output (and runs made before it existed
        # keep their hash)
        return self.config.section_hash("split", exclude={"split": {"tasks"}})

    def minhasher(self) -> MinHasher:
        cfg = self.config.split
        return MinHasher(self.language.datatrove_language, cfg.shingle_words, cfg.num_hashes,
                         cfg.near_duplicate_threshold, seed=self.config.seed)

    def _near_duplicates(self) -> tuple[list[str], list[str], list[tuple[int, int]], SameTextIndex]:
        """One pass over the corpus: passage ids, their documents, near-duplicate index pairs, same-text ids. The
        signatures are computed on the way, or beforehand by ``split.tasks`` tasks (pipeline/publishing/
        minhash_shards.py)."""
        cfg = self.config.split
        hasher = self.minhasher()
        total = self.folder.num_rows("filter.passages")
        tasks = min(cfg.tasks, max(total, 1))
        print(f"[split] MinHash over {total} passages" + (f" in {tasks} tasks" if tasks > 1 else ""))
        work = self.folder.path("split.work")
        work.mkdir(parents=True, exist_ok=True)
        table = SignatureTable(total, hasher.num_values, work / "signatures.npy")
        if tasks > 1:
            for values, valid in self._signatures_in_tasks(total, tasks):
                table.add_array(values, valid)
        passage_ids, passage_docs, same_text = [], [], SameTextIndex()
        for batch in self.folder.batches("filter.passages", columns=("passage_id", "doc_id", "text"),
                                         batch_rows=self.batch_rows):
            if tasks <= 1:
                table.add_array(*hasher.signature_arrays([p["text"] for p in batch]))
            same_text.add(batch)
            passage_ids.extend(p["passage_id"] for p in batch)
            passage_docs.extend(p["doc_id"] for p in batch)
        pairs = table.pairs(hasher.bands, cfg.near_duplicate_threshold)
        del table
        shutil.rmtree(work, ignore_errors=True)
        return passage_ids, passage_docs, pairs, same_text

    def _signatures_in_tasks(self, total: int, tasks: int):
        """MinHash in ``tasks`` shards of the corpus on the run's executor; the shards' arrays in corpus order."""
        from pipeline.executors import run_sharded
        from pipeline.publishing.minhash_shards import SignatureShard, read_signature_shards

        folder = self.folder.path("split.tasks", tasks=str(tasks))
        step = SignatureShard(self.config.model_dump(mode="json"), str(folder / "shards"), total)
        run_sharded(self.config.executor, step, folder, tasks, "split_minhash", "split MinHash")
        return read_signature_shards(folder / "shards", tasks)

    def _id_batches(self):
        return self.folder.batches("mine.triplets", columns=_IDS, batch_rows=self.batch_rows)

    def _write_splits(self, split_of, group_of: dict[str, str], leaks: dict[str, set[str]]) -> tuple[dict, dict]:
        """Stream the triplets into their split files; (dev/test queries dropped as not eligible, stats per split)."""
        k = self.config.mine.num_negatives
        not_eligible: Counter = Counter()
        seen = {s: {"queries": 0, "documents": set(), "groups": set(), "queries_with_k_negatives": 0,
                    "negatives_dropped_leak": 0, "styles": Counter()} for s in SPLITS}
        with self.folder.writer("split.triplets", SPLIT_TRIPLET_SCHEMA, split="train") as train, \
                self.folder.writer("split.triplets", SPLIT_TRIPLET_SCHEMA, split="dev") as dev, \
                self.folder.writer("split.triplets", SPLIT_TRIPLET_SCHEMA, split="test") as test:
            writers = {"train": train, "dev": dev, "test": test}
            for batch in self.folder.batches("mine.triplets", batch_rows=self.batch_rows):
                out = {s: [] for s in SPLITS}
                for row in batch:
                    split, kept = split_of(row)
                    if not kept:
                        not_eligible[split] += 1
                        continue
                    row["group_id"] = group_of[row["doc_id"]]
                    s = seen[split]
                    s["negatives_dropped_leak"] += _drop_leaks(row, leaks[split])
                    s["queries"] += 1
                    s["documents"].add(row["doc_id"])
                    s["groups"].add(row["group_id"])
                    s["queries_with_k_negatives"] += len(row["negatives"]) >= k
                    s["styles"][row["style"]] += 1
                    out[split].append(row)
                for split, rows in out.items():
                    writers[split].write(rows)
        stats = {split: {**s, "documents": len(s["documents"]), "groups": len(s["groups"]),
                         "styles": dict(s["styles"])} for split, s in seen.items()}
        return dict(not_eligible), stats

    def _eval_eligible(self) -> dict[str, bool]:
        """query_id -> whether the panel keeps it without the base model (empty with eval_queries: all). Only the
        queries it does not keep are held: with round-trip on, they are the minority."""
        if self.config.split.eval_queries == "all":
            return {}
        if "eval_eligible" not in self.folder.schema("filter.queries").names:
            return {}  # round-trip off: no judge favours the base
        return {r["query_id"]: False
                for batch in self.folder.batches("filter.queries", columns=("query_id", "eval_eligible"),
                                                 batch_rows=self.batch_rows)
                for r in batch if not r["eval_eligible"]}

    def _write_documents(self, group_of: dict[str, str], split_of_group: dict[str, str],
                         queries_of_doc: Counter) -> None:
        docs = [{"doc_id": d, "group_id": g, "split": split_of_group[g], "queries": queries_of_doc.get(d, 0)}
                for d, g in sorted(group_of.items())]
        self.folder.write("split.documents", docs)

    def _write_beir(self, same_text: SameTextIndex, kept_ids: set[str] | None) -> dict:
        """The test split as a BEIR folder, streamed: corpus from the passages (``kept_ids`` only, when given),
        queries and qrels from the test rows."""
        copies = same_text.groups(kept_ids)
        counts = Counter()

        def corpus():
            for batch in self.folder.batches("filter.passages", columns=("passage_id", "text"),
                                             batch_rows=self.batch_rows):
                for p in batch:
                    if kept_ids is None or p["passage_id"] in kept_ids:
                        counts["passages"] += 1
                        yield {"_id": p["passage_id"], "title": "", "text": p["text"]}

        def test_rows(columns):
            for batch in self.folder.batches("split.triplets", split="test", columns=columns,
                                             batch_rows=self.batch_rows, allow_empty=True):
                yield from batch

        def queries():
            for r in test_rows(("query_id", "query")):
                counts["queries"] += 1
                yield {"_id": r["query_id"], "text": r["query"]}

        write_beir(self.folder.path("split.beir") / "test", corpus(), queries(),
                   qrels_for(test_rows(("query_id", "passage_id", "positive")), copies))
        return {"passages": counts["passages"], "queries": counts["queries"], "kind": self.config.split.beir_corpus}

    def summary(self, stats: dict[str, Any]) -> str:
        parts = ", ".join(f"{s} {v['queries']} queries/{v['documents']} docs" for s, v in stats["splits"].items())
        return (f"{parts}; {stats['groups_with_near_duplicates']} near-duplicate groups; "
                f"{stats['negatives_dropped_leak']} leaking negatives dropped")


def _drop_leaks(row: dict, forbidden: set[str]) -> int:
    """Remove the row's negatives that are in ``forbidden``; how many were removed."""
    kept = [n for n in row["negatives"] if n["passage_id"] not in forbidden]
    dropped = len(row["negatives"]) - len(kept)
    row["negatives"] = kept
    return dropped
