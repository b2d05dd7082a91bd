"""split and publish stream their inputs in batches: any batch size gives the same rows, files and statistics;
the near-duplicate search by sorted band keys finds the pairs the band dictionary found."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.errors import StageError
from pipeline.publishing.neardup import SignatureTable, near_duplicate_pairs
from pipeline.run_folder import TRIPLET_SCHEMA, RunFolder
from pipeline.stages.publish import PublishStage
from pipeline.stages.split import SplitStage
from tests.pipeline.tiny_st import make_run_config, write_mine_run


def _dictionary_pairs(signatures, bands, threshold):
    """The earlier implementation: buckets keyed by each band's bytes."""
    buckets = defaultdict(list)
    for i, sig in enumerate(signatures):
        if sig is not None:
            for band, values in enumerate(np.split(sig, bands)):
                buckets[(band, values.tobytes())].append(i)
    candidates = {(a, b) for members in buckets.values() if len(members) > 1
                  for k, a in enumerate(members) for b in members[k + 1:]}
    return sorted((a, b) for a, b in candidates if np.mean(signatures[a] == signatures[b]) >= threshold)


def test_sorted_band_keys_find_the_pairs_of_the_band_dictionary():
    rng = np.random.default_rng(3)
    bands, rows = 25, 5
    signatures = [rng.integers(0, 50, size=bands * rows, dtype=np.uint64) for _ in range(300)]
    for i in range(0, 300, 7):  # planted near-copies: a share of the values changed
        copy = signatures[i].copy()
        changed = rng.choice(bands * rows, size=int(rng.integers(5, 60)), replace=False)
        copy[changed] = rng.integers(1000, 2000, size=len(changed), dtype=np.uint64)
        signatures[i + 1] = copy
    signatures[5] = None  # a text without words
    expected = _dictionary_pairs(signatures, bands, 0.7)
    assert len(expected) >= 20
    assert near_duplicate_pairs(signatures, bands, 0.7) == expected
    assert near_duplicate_pairs([None, None], bands, 0.7) == [] and near_duplicate_pairs([], bands, 0.7) == []


def test_signatures_on_disk_give_the_same_pairs(tmp_path):
    rng = np.random.default_rng(4)
    signatures = [rng.integers(0, 30, size=20, dtype=np.uint64) for _ in range(50)]
    signatures[10] = signatures[3].copy()
    table = SignatureTable(50, 20, tmp_path / "signatures.npy")
    for start in range(0, 50, 7):
        table.add(signatures[start:start + 7])
    assert table.pairs(4, 0.7) == near_duplicate_pairs(signatures, 4, 0.7)
    assert (3, 10) in table.pairs(4, 0.7)


def _split_and_publish(root, batch_rows: int | None):
    config = make_run_config(root, "unused", split={"train": 0.6, "dev": 0.2, "test": 0.2})
    write_mine_run(config.run_dir)
    split, publish = SplitStage(config), PublishStage(config)
    if batch_rows:
        split.batch_rows = publish.batch_rows = batch_rows
    return config.run_dir, split.run(), publish.run()


def _contents(run_dir):
    """Every Parquet file's rows and every other file's text under split/ and publish/ (PNG plots aside)."""
    out = {}
    for stage in ("split", "publish"):
        for path in sorted((run_dir / stage).rglob("*")):
            name = str(path.relative_to(run_dir))
            if path.suffix == ".parquet":
                out[name] = pq.read_table(path).to_pylist()
            elif path.is_file() and path.suffix in (".jsonl", ".tsv", ".md"):
                out[name] = path.read_text()
    return out


def _without_timings(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in ("seconds", "folder", "readme", "exported_to")}


def test_any_batch_size_gives_the_same_split_and_dataset(tmp_path):
    whole_dir, whole_split, whole_publish = _split_and_publish(tmp_path / "whole", None)
    small_dir, small_split, small_publish = _split_and_publish(tmp_path / "small", 3)
    whole, small = _contents(whole_dir), _contents(small_dir)
    assert sorted(whole) == sorted(small) and len(whole) > 15
    for name in whole:
        assert whole[name] == small[name], name
    assert _without_timings(whole_split) == _without_timings(small_split)
    assert _without_timings(whole_publish) == _without_timings(small_publish)
    # the small batches really were batches: the split files hold several row groups
    assert pq.ParquetFile(small_dir / "split" / "train.parquet").num_row_groups > 1
    assert not (small_dir / "split" / "work").exists()  # the signatures file is removed


def test_batches_read_in_order_and_check_their_input(tmp_path):
    folder = RunFolder(tmp_path)
    rows = [{"query_id": f"q{i}", "query": "x", "passage_id": "p", "positive": "y", "doc_id": "d", "style": "s",
             "negatives": [], "positive_score": 1.0} for i in range(7)]
    with folder.writer("mine.triplets", TRIPLET_SCHEMA) as out:
        out.write(rows[:4])
        out.write(rows[4:])
    batches = list(folder.batches("mine.triplets", batch_rows=3, columns=("query_id",)))
    assert [len(b) for b in batches] == [3, 1, 3]  # at most 3 rows, within each row group (4 + 3 rows)
    assert [r["query_id"] for b in batches for r in b] == [f"q{i}" for i in range(7)]
    assert folder.num_rows("mine.triplets") == 7
    pq.write_table(pa.Table.from_pylist([], schema=TRIPLET_SCHEMA), folder.path("mine.triplets"))
    with pytest.raises(StageError, match="'mine' stage kept no rows"):
        list(folder.batches("mine.triplets"))
    folder.path("mine.triplets").unlink()
    with pytest.raises(Exception, match="is missing"):
        list(folder.batches("mine.triplets"))


def test_a_failed_write_leaves_no_file(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(RuntimeError):
        with folder.writer("mine.triplets", TRIPLET_SCHEMA) as out:
            out.write([{"query_id": "q"}])
            raise RuntimeError("killed half-way")
    assert not folder.path("mine.triplets").exists()
    assert not list(folder.path("mine.triplets").parent.glob("*.tmp"))


def test_publish_stats_count_queries_without_k_negatives(tmp_path):
    run_dir, _, stats = _split_and_publish(tmp_path, None)
    rows = {s: pq.read_table(run_dir / "split" / f"{s}.parquet").to_pylist() for s in ("train", "dev", "test")}
    assert stats["queries_without_k_negatives"] == {s: sum(len(r["negatives"]) < 3 for r in rows[s])
                                                    for s in rows}
    assert json.loads((run_dir / "publish" / "stats.json").read_text())["rows"] == stats["rows"]


def test_filter_in_small_batches_gives_the_same_outputs(tmp_path):
    """The filter streams the passages (corpus cap, decontamination, word counts, filter/passages) batch by batch."""
    from pipeline.stages.filter import FilterStage
    from retrieval.beir import write_beir
    from tests.pipeline.test_filter import EVAL_PASSAGE, EVAL_QUERIES, PASSAGES, PLANTED, make_run

    eval_set = write_beir(tmp_path / "eval", [{"_id": "e1", "title": "", "text": EVAL_PASSAGE}],
                          [{"_id": f"eq{i}", "text": t} for i, t in enumerate(EVAL_QUERIES)], [("eq0", "e1", 1)])
    extra = [{"passage_id": f"x{i}", "text": f"Passaggio di riempimento numero {i} sulla storia del porto."}
             for i in range(9)]
    outputs = []
    for name, batch_rows in (("whole", None), ("batched", 2)):
        cfg = make_run(tmp_path, PLANTED, passages=PASSAGES + extra, run_name=name, corpus_max_passages=9,
                       decontamination={"eval_sets": [str(eval_set)]}, common_word_min_passages=1)
        stage = FilterStage(cfg)
        if batch_rows:
            stage.batch_rows = batch_rows
        stats = {k: v for k, v in stage.run().items() if k != "seconds"}
        files = {f: pq.read_table(cfg.run_dir / "filter" / f).to_pylist()
                 for f in ("queries.parquet", "dropped.parquet", "passages.parquet")}
        outputs.append((stats, files))
    assert outputs[0] == outputs[1]
    stats, files = outputs[0]
    assert stats["passages_removed_contaminated"] == 1 and len(files["passages.parquet"]) == 8  # 9 minus STADIO
    assert pq.ParquetFile(tmp_path / "runs" / "batched" / "filter" / "passages.parquet").num_row_groups > 1


def test_minhash_in_tasks_gives_the_unsharded_split(tmp_path):
    """split.tasks: datatrove tasks compute the signatures of contiguous shards of the corpus; same files."""
    whole = _contents(_split_and_publish(tmp_path / "whole", None)[0])
    config = make_run_config(tmp_path / "tasks", "unused", split={"train": 0.6, "dev": 0.2, "test": 0.2, "tasks": 3},
                             executor={"type": "local", "tasks": 1, "workers": 1})
    write_mine_run(config.run_dir)
    stage = SplitStage(config)
    stage.batch_rows = 4  # the tasks read their row ranges in several batches
    stats = stage.run()
    PublishStage(config).run()
    sharded = _contents(config.run_dir)
    assert sorted(sharded) == sorted(whole)
    for name in whole:
        assert whole[name] == sharded[name], name
    shards = sorted(p.name for p in (config.run_dir / "split" / "tasks_3" / "shards").iterdir())
    assert shards == ["00000.npz", "00001.npz", "00002.npz"]
    assert stats["rows"] > 0
    one = make_run_config(tmp_path / "one", "unused", split={"train": 0.6, "dev": 0.2, "test": 0.2})
    assert SplitStage(one).config_hash() == stage.config_hash()  # the task count does not shape the output


def test_batches_read_a_row_range(tmp_path):
    folder = RunFolder(tmp_path)
    rows = [{"query_id": f"q{i}", "query": "x", "passage_id": "p", "positive": "y", "doc_id": "d", "style": "s",
             "negatives": [], "positive_score": 1.0} for i in range(10)]
    with folder.writer("mine.triplets", TRIPLET_SCHEMA) as out:
        for start in range(0, 10, 3):  # row groups of 3, 3, 3, 1
            out.write(rows[start:start + 3])
    for start, stop in [(0, 10), (2, 7), (3, 6), (9, 10), (4, 4), (0, 1)]:
        got = [r["query_id"] for b in folder.batches("mine.triplets", batch_rows=2, rows=(start, stop)) for r in b]
        assert got == [f"q{i}" for i in range(start, stop)], (start, stop)
