"""End to end: ingest + passages on a tiny corpus, the reasons documents are dropped, and resume after a crash."""

from __future__ import annotations

import gzip
import json

import pyarrow.parquet as pq
import pytest

from pipeline.errors import InputDataError
from pipeline.run import run_stages
from pipeline.stages.ingest import IngestStage
from tests.pipeline.conftest import make_config


def output_ids(run_dir) -> list[str]:
    ids = []
    for path in sorted((run_dir / "ingest" / "output").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            ids += [json.loads(line)["id"] for line in f]
    return ids


def removed_ids(run_dir, reason: str) -> set[str]:
    ids = set()
    for path in (run_dir / "ingest" / "removed" / reason).glob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            ids |= {json.loads(line)["id"] for line in f}
    return ids


def test_ingest_and_passages_end_to_end(tmp_path, tiny_corpus, tiny_model_dir, italian_docs):
    cfg = make_config(tmp_path, tiny_corpus["folder"], tiny_model_dir)
    results = run_stages(cfg, ["ingest", "passages"])
    run_dir = cfg.run_dir
    kept = set(output_ids(run_dir))
    assert kept == {d["id"] for d in italian_docs}
    assert removed_ids(run_dir, "language") == {"english"}
    assert removed_ids(run_dir, "exact_duplicate") | removed_ids(run_dir, "near_duplicate") == {
        "exact-copy", "near-copy"}
    dropped_by_quality = set().union(*(removed_ids(run_dir, r) for r in
                                       ("gopher_repetition", "fineweb_quality", "gopher_quality")))
    assert dropped_by_quality == {"boilerplate"}
    stats = results["ingest"]
    assert stats["documents_in"] == len(tiny_corpus["records"]) and stats["kept"] == len(italian_docs)
    assert stats["dropped"]["language"] == 1
    assert sum(stats["dropped"].values()) == stats["documents_in"] - stats["kept"]
    passages = pq.read_table(run_dir / "passages" / "data").to_pylist()
    assert {p["doc_id"] for p in passages} == kept
    assert len({p["passage_id"] for p in passages}) == len(passages)
    assert all(8 <= p["n_tokens"] <= 64 for p in passages)
    assert json.loads((run_dir / "passages" / "stats.json").read_text())["rows"] == len(passages)


def test_finished_stage_is_skipped(tmp_path, tiny_corpus, capsys):
    cfg = make_config(tmp_path, tiny_corpus["folder"])
    IngestStage(cfg).run()
    capsys.readouterr()
    IngestStage(cfg).run()
    assert "already done" in capsys.readouterr().out


def test_resume_after_crash_gives_identical_rows(tmp_path, tiny_corpus, monkeypatch):
    reference = make_config(tmp_path / "ref", tiny_corpus["folder"])
    IngestStage(reference).run()

    from pipeline.steps import cleanup

    original = cleanup.TrailingMarksFormatter.format
    calls = {"n": 0}

    def crash_midway(self, text):
        calls["n"] += 1
        if calls["n"] == 9:  # inside the second task: the first task has finished and is kept
            raise RuntimeError("simulated crash")
        return original(self, text)

    cfg = make_config(tmp_path / "crash", tiny_corpus["folder"])
    monkeypatch.setattr(cleanup.TrailingMarksFormatter, "format", crash_midway)
    with pytest.raises(RuntimeError, match="simulated crash"):
        IngestStage(cfg).run()
    assert (cfg.run_dir / "ingest" / "_STARTED.json").exists()
    assert not (cfg.run_dir / "ingest" / "_SUCCESS.json").exists()
    monkeypatch.setattr(cleanup.TrailingMarksFormatter, "format", original)
    IngestStage(cfg).run()
    resumed = output_ids(cfg.run_dir)
    assert len(resumed) == len(set(resumed))
    assert sorted(resumed) == sorted(output_ids(reference.run_dir))


def test_changed_config_is_refused(tmp_path, tiny_corpus):
    from pipeline.errors import StageError

    IngestStage(make_config(tmp_path, tiny_corpus["folder"])).run()
    changed = make_config(tmp_path, tiny_corpus["folder"], ingest={"pii": False})
    with pytest.raises(StageError, match="different config.*--force"):
        IngestStage(changed).run()
    IngestStage(changed).run(force=True)


def test_missing_input_path(tmp_path):
    cfg = make_config(tmp_path, tmp_path / "does-not-exist")
    with pytest.raises(InputDataError, match="input path not found"):
        IngestStage(cfg).run()


def test_empty_input_files_are_refused_before_the_stage_starts(tmp_path):
    """An empty input would finish with no document, and a rerun after filling it would skip the finished tasks."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.jsonl.gz").write_bytes(b"")
    (tmp_path / "docs" / "b.jsonl.gz").write_bytes(b"")
    cfg = make_config(tmp_path, tmp_path / "docs")
    with pytest.raises(InputDataError, match=r"no documents to read: 2 files under .*docs are all empty. Fix"):
        IngestStage(cfg).run()
    assert not (cfg.run_dir / "ingest").exists()


def test_bad_jsonl_stops_with_file_and_line(tmp_path, tiny_corpus):
    (tiny_corpus["folder"] / "part-2.jsonl.gz").write_bytes(gzip.compress(b'{"text": "ok"}\nnot json\n'))
    with pytest.raises(InputDataError, match=r"part-2.jsonl.gz, line 2: not valid JSON"):
        IngestStage(make_config(tmp_path, tiny_corpus["folder"])).run()


def test_another_language_needs_only_its_language_file(tmp_path):
    """spa_Latn.yaml + a config: the Spanish documents pass, the Italian intruder is dropped by language ID."""
    from tests.pipeline.conftest import ROOT

    cfg = make_config(tmp_path, ROOT / "pipeline" / "data" / "sample_es", language="spa_Latn",
                      executor={"tasks": 1})
    stats = IngestStage(cfg).run()
    assert stats["kept"] == 6 and stats["dropped"] == {"language": 1}
    assert removed_ids(cfg.run_dir, "language") == {"it-intruder"}


def test_a_tokenizer_that_does_not_load_leaves_nothing_to_refuse(tmp_path, tiny_corpus, tiny_model_dir):
    """Fixing passages.tokenizer after a failed load must just work (no 'different config' refusal)."""
    from pipeline.errors import ConfigError
    from pipeline.stages.passages import PassagesStage

    IngestStage(make_config(tmp_path, tiny_corpus["folder"])).run()
    with pytest.raises(ConfigError, match="cannot load tokenizer"):
        PassagesStage(make_config(tmp_path, tiny_corpus["folder"], tmp_path / "no-such-model")).run()
    assert PassagesStage(make_config(tmp_path, tiny_corpus["folder"], tiny_model_dir)).run()["rows"] > 0
