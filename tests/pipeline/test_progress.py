"""The generation progress line counts finished and open chunks of the run folder."""

from __future__ import annotations

import gzip
import json
import time

from pipeline.generation.progress import GenerationProgress


def test_counts_finished_and_open_chunks(tmp_path):
    stage = tmp_path / "generate"
    (stage / "raw" / "batch_000").mkdir(parents=True)
    with gzip.open(stage / "raw" / "batch_000" / "00000_chunk_0.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps({"id": i}) for i in range(25)) + "\n")
    (stage / "checkpoints" / "batch_001" / "00000").mkdir(parents=True)
    (stage / "checkpoints" / "batch_001" / "00000" / "chunk_00000.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    progress = GenerationProgress(stage, total=100, already=10)
    assert progress.count() == 27
    line = progress.line(start_count=17, started=time.time() - 3600)
    assert line.startswith("[generate] 37/100 passages answered; 10/hour this run, about 6.3 h left")


def test_prints_every_interval_and_stops(tmp_path, capsys):
    with GenerationProgress(tmp_path, total=5, interval=0.05):
        time.sleep(0.2)
    lines = [x for x in capsys.readouterr().out.splitlines() if x]
    assert lines and all(x == "[generate] 0/5 passages answered" for x in lines)
