from __future__ import annotations

import gzip

import pytest

from pipeline.errors import InputDataError
from pipeline.steps.readers import RankFileReader, StrictJsonlReader
from tests.pipeline.conftest import write_jsonl_gz


def read_all(reader, rank=0, world_size=1):
    return list(reader.run(None, rank, world_size))


def test_reads_valid_jsonl(tmp_path):
    write_jsonl_gz(tmp_path / "a.jsonl.gz", [{"id": "1", "text": "uno"}, {"id": "2", "text": "due", "url": "u"}])
    docs = read_all(StrictJsonlReader(str(tmp_path)))
    assert [d.text for d in docs] == ["uno", "due"]
    assert docs[1].metadata["url"] == "u"


def test_not_json_names_file_and_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nthis is not json\n')
    with pytest.raises(InputDataError, match=r"bad.jsonl, line 2: not valid JSON"):
        read_all(StrictJsonlReader(str(tmp_path)))


def test_record_without_text(tmp_path):
    (tmp_path / "notext.jsonl").write_text('{"text": "ok"}\n{"body": "where is text"}\n')
    with pytest.raises(InputDataError, match=r"notext.jsonl, line 2: record has no string field 'text'"):
        read_all(StrictJsonlReader(str(tmp_path)))


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(b'{"text": "ciao"}\n' * 200)
    (tmp_path / "broken.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError, match=r"broken.jsonl.gz: corrupt or truncated"):
        read_all(StrictJsonlReader(str(tmp_path)))


def test_rank_file_reader_reads_only_its_rank(tmp_path):
    write_jsonl_gz(tmp_path / "00000.jsonl.gz", [{"id": "a", "text": "zero"}])
    write_jsonl_gz(tmp_path / "00002.jsonl.gz", [{"id": "c", "text": "two"}])
    assert [d.text for d in read_all(RankFileReader(str(tmp_path)), rank=0, world_size=3)] == ["zero"]
    assert read_all(RankFileReader(str(tmp_path)), rank=1, world_size=3) == []  # no file: nothing, not rank 2's
    assert [d.text for d in read_all(RankFileReader(str(tmp_path)), rank=2, world_size=3)] == ["two"]
