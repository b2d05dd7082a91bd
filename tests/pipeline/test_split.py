"""split stage: documents and near-duplicate groups never in two splits, no leaking negatives, BEIR test set."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from pipeline.errors import StageError
from pipeline.publishing.neardup import MinHasher, document_groups, near_duplicate_pairs
from pipeline.publishing.splits import assign_splits
from pipeline.stages.split import SplitStage
from tests.pipeline.tiny_st import NEAR_COPY_ID, NEAR_COPY_OF, fixture_passages, make_run_config, write_mine_run

FRACTIONS = {"train": 0.6, "dev": 0.2, "test": 0.2}


@pytest.fixture(scope="module")
def split_run(tmp_path_factory):
    config = make_run_config(tmp_path_factory.mktemp("split"), "unused", split=FRACTIONS)
    write_mine_run(config.run_dir)
    stats = SplitStage(config).run()
    rows = {s: pq.read_table(config.run_dir / "split" / f"{s}.parquet").to_pylist() for s in FRACTIONS}
    return config, stats, rows


def test_no_document_or_group_in_two_splits(split_run):
    config, stats, rows = split_run
    assert all(rows[s] for s in FRACTIONS)
    for key in ("doc_id", "group_id"):
        seen = {}
        for split, split_rows in rows.items():
            for row in split_rows:
                assert seen.setdefault(row[key], split) == split, f"{key} {row[key]} in {seen[row[key]]} and {split}"
    docs = {d["doc_id"]: d for d in pq.read_table(config.run_dir / "split" / "documents.parquet").to_pylist()}
    # the planted near-duplicate document is tied to the document it copies
    assert docs["dup"]["group_id"] == docs["doc00"]["group_id"] and docs["dup"]["split"] == docs["doc00"]["split"]
    assert stats["groups_with_near_duplicates"] == 1 and stats["documents"] == 17


def test_held_out_positives_never_appear_in_train(split_run):
    _, stats, rows = split_run
    held_out = {r["passage_id"] for s in ("dev", "test") for r in rows[s]}
    if "doc00-p0" in held_out:
        held_out.add(NEAR_COPY_ID)  # a near-duplicate of a held-out positive is held out too
    train_passages = {r["passage_id"] for r in rows["train"]}
    train_passages |= {n["passage_id"] for r in rows["train"] for n in r["negatives"]}
    assert not held_out & train_passages
    test_positives = {r["passage_id"] for r in rows["test"]}
    assert not test_positives & {n["passage_id"] for r in rows["dev"] for n in r["negatives"]}
    assert stats["negatives_dropped_leak"] > 0  # the fixture's negatives point at held-out positives
    assert stats["negatives_dropped_leak"] == sum(v["negatives_dropped_leak"] for v in stats["splits"].values())


def test_beir_test_folder(split_run):
    config, stats, rows = split_run
    folder = config.run_dir / "split" / "beir" / "test"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    with open(folder / "qrels" / "test.tsv") as f:
        reader = csv.reader(f, delimiter="\t")
        assert next(reader) == ["query-id", "corpus-id", "score"]
        qrels = list(reader)
    assert set(corpus[0]) == {"_id", "title", "text"} and len(corpus) == len(fixture_passages())
    assert {q["_id"] for q in queries} == {r["query_id"] for r in rows["test"]}
    assert {q for q, _, _ in qrels} == {q["_id"] for q in queries}
    assert {c for _, c, _ in qrels} <= {p["_id"] for p in corpus}
    assert stats["beir_corpus"] == {"passages": len(corpus), "queries": len(queries), "kind": "all"}


def test_non_train_beir_corpus(tmp_path):
    config = make_run_config(tmp_path, "unused", split={**FRACTIONS, "beir_corpus": "non_train"})
    write_mine_run(config.run_dir)
    SplitStage(config).run()
    docs = {d["doc_id"]: d["split"] for d in pq.read_table(config.run_dir / "split" / "documents.parquet").to_pylist()}
    corpus_file = config.run_dir / "split" / "beir" / "test" / "corpus.jsonl"
    ids = {json.loads(line)["_id"] for line in corpus_file.read_text().splitlines()}
    doc_of = {p["passage_id"]: p["doc_id"] for p in fixture_passages()}
    assert ids and all(docs[doc_of[i]] != "train" for i in ids)


def test_near_duplicates_found_and_grouped():
    texts = {p["passage_id"]: p["text"] for p in fixture_passages()}
    ids = [NEAR_COPY_OF, "doc01-p0", NEAR_COPY_ID, "doc02-p1"]
    hasher = MinHasher("ita_Latn", shingle_words=5, num_hashes=128, threshold=0.7)
    pairs = near_duplicate_pairs(hasher.signatures([texts[i] for i in ids]), hasher.bands, 0.7)
    assert pairs == [(0, 2)]
    groups = document_groups(["doc00", "doc01", "dup", "doc02"], pairs)
    assert groups == {"doc00": "doc00", "dup": "doc00", "doc01": "doc01", "doc02": "doc02"}


@pytest.mark.parametrize("precision", [64, 32])
def test_batched_signatures_equal_datatrove_per_text(monkeypatch, precision):
    """signature_arrays hashes many texts in one numpy pass: the same values as datatrove's get_signature per text,
    including texts shorter than a shingle and texts without words, across batch boundaries."""
    import numpy as np

    from pipeline.publishing import neardup
    from pipeline.publishing.neardup import signature_arrays

    monkeypatch.setattr(neardup, "SIGNATURE_BATCH", 3)
    hasher = MinHasher("ita_Latn", shingle_words=5, num_hashes=128, threshold=0.7)
    if precision == 32:
        from datatrove.utils.hashing import HashConfig

        hasher._step.config.hash_config = HashConfig(precision=32)
        hasher._step._hash_func = neardup.MinhashDedupSignature(
            "/tmp", config=hasher._step.config, language="ita_Latn")._hash_func
    texts = [p["text"] for p in fixture_passages()][:7] + ["", "   ", "due parole", "città è così!"]
    values, valid = hasher.signature_arrays(texts)
    expected_values, expected_valid = signature_arrays(hasher.signatures(texts), hasher.num_values)
    assert valid.tolist() == expected_valid.tolist() == [True] * 7 + [False, False, True, True]
    assert np.array_equal(values, expected_values)
    assert len(set(map(tuple, values[valid].tolist()))) == valid.sum()  # distinct texts, distinct signatures


def test_assignment_is_stable_when_data_grows():
    fractions = {"train": 0.8, "dev": 0.1, "test": 0.1}
    small = assign_splits([f"d{i}" for i in range(200)], fractions, seed=7)
    large = assign_splits([f"d{i}" for i in range(2000)], fractions, seed=7)
    assert all(large[g] == split for g, split in small.items())
    share = sum(s == "test" for s in large.values()) / len(large)
    assert 0.07 < share < 0.13


def test_small_runs_still_get_dev_and_test():
    out = assign_splits(["a", "b", "c"], {"train": 0.98, "dev": 0.01, "test": 0.01}, seed=1)
    assert sorted(out.values()) == ["dev", "test", "train"]


def test_empty_mine_output_is_a_clear_error(tmp_path):
    config = make_run_config(tmp_path, "unused")
    write_mine_run(config.run_dir)
    table = pq.read_table(config.run_dir / "mine" / "triplets.parquet")
    pq.write_table(table.slice(0, 0), config.run_dir / "mine" / "triplets.parquet")
    with pytest.raises(StageError, match="'mine' stage kept no rows"):
        SplitStage(config).run()


def test_dev_and_test_hold_only_queries_eligible_without_the_base_model(tmp_path):
    """A query kept by the round-trip panel only because the base model ranks it high stays out of dev/test."""
    import pyarrow as pa

    config = make_run_config(tmp_path, "unused", split=FRACTIONS)
    write_mine_run(config.run_dir)
    path = config.run_dir / "filter" / "queries.parquet"
    queries = pq.read_table(path).to_pylist()
    for i, q in enumerate(queries):
        q["eval_eligible"] = i % 2 == 0
    pq.write_table(pa.Table.from_pylist(queries), path)
    stats = SplitStage(config).run()
    eligible = {q["query_id"]: q["eval_eligible"] for q in queries}
    held_out = [r for s in ("dev", "test") for r in pq.read_table(config.run_dir / "split" / f"{s}.parquet")
                .to_pylist()]
    train = pq.read_table(config.run_dir / "split" / "train.parquet").to_pylist()
    assert held_out and all(eligible[r["query_id"]] for r in held_out)
    assert any(not eligible[r["query_id"]] for r in train)  # train keeps them: they are what it learns from
    dropped = stats["queries_dropped_not_eligible"]
    assert sum(dropped.values()) == sum(not eligible[q["query_id"]] for q in queries) - sum(
        not eligible[r["query_id"]] for r in train)
