"""Files and folders appear under their name only when complete (pipeline/atomic.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.atomic import atomic_path
from pipeline.run_folder import ParquetRowWriter


def test_a_folder_replaces_the_old_one_only_when_complete(tmp_path):
    target = tmp_path / "bm25" / "index"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "old.json").write_text("1")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.json").write_text("2")
        raise RuntimeError("killed mid-write")
    assert [p.name for p in target.iterdir()] == ["old.json"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["index"]
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.json").write_text("2")
    assert [p.name for p in target.iterdir()] == ["new.json"]


def test_a_leftover_temporary_file_from_a_killed_run_is_overwritten(tmp_path):
    (tmp_path / "00000.npz.tmp").write_bytes(b"half a file")
    with atomic_path(tmp_path / "00000.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, ranks=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.npz"]
    assert np.load(tmp_path / "00000.npz")["ranks"].tolist() == [0, 1, 2]


def test_row_writer_keeps_an_empty_file_only_when_asked(tmp_path):
    schema = pa.schema([("text", pa.string())])
    kept, skipped = ParquetRowWriter(tmp_path / "a.parquet", schema), ParquetRowWriter(tmp_path / "b.parquet", schema,
                                                                                         keep_empty=False)
    for writer in (kept, skipped):
        writer.write([])
    assert kept.close() is True and skipped.close() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]
    assert pq.read_table(tmp_path / "a.parquet").schema.names == ["text"]
