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

Output under ``runs/<name>/split/``: ``{train,dev,test}.parquet`` (mine's triplet schema plus ``group_id``),
``documents.parquet`` (doc_id, group_id, split), ``beir/test/{corpus.jsonl,queries.jsonl,qrels/test.tsv}``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from pipeline.errors import StageError
from pipeline.publishing.beir import qrels_for
from pipeline.publishing.neardup import MinHasher, document_groups, near_duplicate_pairs
from pipeline.publishing.splits import assign_splits, leak_sets
from pipeline.run_folder import SPLIT_TRIPLET_SCHEMA, SPLITS
from pipeline.stages.base import Stage
from retrieval.beir import write_beir


class SplitStage(Stage):
    name = "split"
    config_sections = ("split",)

    def process(self) -> dict[str, Any]:
        cfg = self.config.split
        rows = self.folder.read("mine.triplets").to_pylist()
        passages = self.folder.read("filter.passages", columns=("passage_id", "doc_id", "text")).to_pylist()
        hasher = MinHasher(self.language.datatrove_language, cfg.shingle_words, cfg.num_hashes,
                           cfg.near_duplicate_threshold, seed=self.config.seed)
        print(f"[split] MinHash over {len(passages)} passages")
        pairs = near_duplicate_pairs(hasher.signatures([p["text"] for p in passages]), hasher.bands,
                                     cfg.near_duplicate_threshold)
        doc_of = [p["doc_id"] for p in passages] + [r["doc_id"] for r in rows]  # queries' docs too, to be safe
        group_of = document_groups(doc_of, pairs)
        fractions = {"train": cfg.train, "dev": cfg.dev, "test": cfg.test}
        split_of_group = assign_splits(sorted(set(group_of.values())), fractions, self.config.seed,
                                       with_queries={group_of[r["doc_id"]] for r in rows})
        near = defaultdict(set)
        for a, b in pairs:
            near[passages[a]["passage_id"]].add(passages[b]["passage_id"])
            near[passages[b]["passage_id"]].add(passages[a]["passage_id"])
        by_split = {s: [] for s in SPLITS}
        eligible = self._eval_eligible()
        not_eligible = Counter()
        for row in rows:
            row["group_id"] = group_of[row["doc_id"]]
            split = split_of_group[row["group_id"]]
            if split != "train" and not eligible.get(row["query_id"], True):
                not_eligible[split] += 1
                continue
            by_split[split].append(row)
        if not by_split["train"]:
            raise StageError("every query landed outside the train split (too few documents for these fractions). "
                             "Generate queries for more passages, or raise split.train.")
        leaks = leak_sets({s: {r["passage_id"] for r in by_split[s]} for s in SPLITS}, near)
        stats = {"splits": {}, "near_duplicate_pairs": len(pairs),
                 "queries_dropped_not_eligible": dict(not_eligible)}
        for split in SPLITS:
            dropped = _drop_leaks(by_split[split], leaks[split])
            self._write(split, by_split[split])
            stats["splits"][split] = _split_stats(by_split[split], self.config.mine.num_negatives, dropped)
        self._write_documents(group_of, split_of_group, rows)
        stats["beir_corpus"] = self._write_beir(by_split["test"], passages, group_of, split_of_group)
        sizes = Counter(group_of.values())
        stats.update(rows=len(rows), documents=len(group_of), groups=len(sizes),
                     groups_with_near_duplicates=sum(1 for n in sizes.values() if n > 1),
                     documents_in_shared_groups=sum(n for n in sizes.values() if n > 1),
                     negatives_dropped_leak=sum(s["negatives_dropped_leak"] for s in stats["splits"].values()))
        return stats

    def _eval_eligible(self) -> dict[str, bool]:
        """query_id -> whether the panel keeps it without the base model (all True with eval_queries: all)."""
        if self.config.split.eval_queries == "all":
            return {}
        table = self.folder.read("filter.queries")
        if "eval_eligible" not in table.column_names:
            return {}  # round-trip off: no judge favours the base
        return dict(zip(table.column("query_id").to_pylist(), table.column("eval_eligible").to_pylist()))

    def _write(self, split: str, rows: list[dict]) -> None:
        self.folder.write("split.triplets", rows, SPLIT_TRIPLET_SCHEMA, split=split)

    def _write_documents(self, group_of: dict[str, str], split_of_group: dict[str, str], rows: list[dict]) -> None:
        queries = Counter(r["doc_id"] for r in rows)
        docs = [{"doc_id": d, "group_id": g, "split": split_of_group[g], "queries": queries.get(d, 0)}
                for d, g in sorted(group_of.items())]
        self.folder.write("split.documents", docs)

    def _write_beir(self, test: list[dict], passages: list[dict], group_of: dict[str, str],
                    split_of_group: dict[str, str]) -> dict:
        keep_all = self.config.split.beir_corpus == "all"
        corpus = [{"_id": p["passage_id"], "title": "", "text": p["text"]} for p in passages
                  if keep_all or split_of_group[group_of[p["doc_id"]]] != "train"]
        ids_of_text = defaultdict(list)
        for p in corpus:
            ids_of_text[p["text"]].append(p["_id"])
        queries = [{"_id": r["query_id"], "text": r["query"]} for r in test]
        write_beir(self.folder.path("split.beir") / "test", corpus, queries, qrels_for(test, ids_of_text))
        return {"passages": len(corpus), "queries": len(queries), "kind": self.config.split.beir_corpus}

    def summary(self, stats: dict[str, Any]) -> str:
        parts = ", ".join(f"{s} {v['queries']} queries/{v['documents']} docs" for s, v in stats["splits"].items())
        return (f"{parts}; {stats['groups_with_near_duplicates']} near-duplicate groups; "
                f"{stats['negatives_dropped_leak']} leaking negatives dropped")


def _drop_leaks(rows: list[dict], forbidden: set[str]) -> int:
    dropped = 0
    for row in rows:
        kept = [n for n in row["negatives"] if n["passage_id"] not in forbidden]
        dropped += len(row["negatives"]) - len(kept)
        row["negatives"] = kept
    return dropped


def _split_stats(rows: list[dict], k: int, dropped: int) -> dict:
    return {"queries": len(rows), "documents": len({r["doc_id"] for r in rows}),
            "groups": len({r["group_id"] for r in rows}),
            "queries_with_k_negatives": sum(len(r["negatives"]) >= k for r in rows),
            "negatives_dropped_leak": dropped, "styles": dict(Counter(r["style"] for r in rows))}
