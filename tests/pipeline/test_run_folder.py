"""The run folder's layout owner: declared inputs, checked reads, atomic writes, and no stage naming files itself."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.errors import InputDataError, StageError
from pipeline.run_folder import ARTIFACTS, INPUTS, SPLITS, STAGES, RunFolder, upstream_of
from pipeline.stages import ORDER

ROOT = Path(__file__).resolve().parents[2]


def test_every_stage_reads_only_artifacts_of_earlier_stages():
    assert ORDER == list(STAGES)
    for stage, keys in INPUTS.items():
        for key in keys:
            producer = ARTIFACTS[key].stage
            assert STAGES.index(producer) < STAGES.index(stage), (stage, key)
    assert [upstream_of(s) for s in STAGES] == [None, *STAGES[:-1]]


def test_a_stage_cannot_reach_for_an_undeclared_file(tmp_path):
    folder = RunFolder(tmp_path, reader="mine")
    assert folder.path("filter.queries") == tmp_path / "filter" / "queries.parquet"
    assert folder.path("mine.triplets") == tmp_path / "mine" / "triplets.parquet"  # its own output
    with pytest.raises(RuntimeError, match="does not declare"):
        folder.path("passages.passages")


def test_split_artifacts_need_a_split(tmp_path):
    folder = RunFolder(tmp_path)
    assert [folder.path("split.triplets", split=s).name for s in SPLITS] == ["train.parquet", "dev.parquet",
                                                                               "test.parquet"]
    with pytest.raises(KeyError, match="needs a split"):
        folder.path("split.triplets")


def test_reads_are_checked_and_writes_are_atomic(tmp_path):
    folder = RunFolder(tmp_path)
    with pytest.raises(InputDataError, match=r"filter/queries.parquet is missing.*--stage filter --force"):
        folder.read("filter.queries")
    path = folder.write("filter.queries", [{"query_id": "q1", "passage_id": "p1"}])
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(InputDataError, match=r"lacks the column\(s\) \['doc_id', 'style', 'query'\]"):
        folder.read("filter.queries")
    folder.write("filter.queries", pa.table({c: pa.array([], pa.string()) for c in ARTIFACTS["filter.queries"]
                                             .columns}))
    with pytest.raises(StageError, match="is empty"):
        folder.read("filter.queries")
    assert folder.read("filter.queries", allow_empty=True).num_rows == 0
    path.write_text("not parquet")
    with pytest.raises(InputDataError, match="not readable Parquet"):
        folder.read("filter.queries")


def test_stages_name_no_run_folder_file_themselves():
    """Every file of the run folder is named in pipeline/run_folder.py; a stage joining a literal name onto a run or
    stage folder (``self.dir / "queries.parquet"``, ``run_dir / "filter"``) would bypass the layout and its declared
    inputs. Only ``logs`` (datatrove's task logs, private to each stage) may be spelled out."""
    join = re.compile(r"""(?:\bself\.dir|\brun_dir|upstream_dir)\s*/\s*f?["']([^"']+)["']""")
    offenders = []
    for path in sorted((ROOT / "pipeline" / "stages").glob("*.py")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            offenders += [f"{path.name}:{lineno}: {line.strip()}" for name in join.findall(line) if name != "logs"]
    assert not offenders, "\n".join(offenders)
