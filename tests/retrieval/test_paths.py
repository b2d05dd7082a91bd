"""Output folders (retrieval/paths.py): refused before slow work, and replaced only once the new content is whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from retrieval.paths import check_output_folder, replacing


def test_an_output_that_is_a_file_or_holds_files(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"file is a file, not a folder. Fix: pass an --output folder"):
        check_output_folder(tmp_path / "file" / "model")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty. Fix: another --output, or --force"):
        check_output_folder(tmp_path / "full")
    check_output_folder(tmp_path / "full", force=True)
    check_output_folder(tmp_path / "new" / "model")  # nothing there yet: fine, and nothing is created
    assert not (tmp_path / "new").exists()


def test_a_failed_write_keeps_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(RuntimeError), replacing(out) as partial:
        (partial / "half.bin").write_text("half")
        raise RuntimeError("export failed")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and (out / "keep.txt").read_text() == "mine"


def test_a_finished_write_replaces_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with replacing(out) as partial:
        (partial / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in out.iterdir()] == ["new.txt"]
    with replacing(tmp_path / "fresh" / "model") as partial:  # parents are created
        (partial / "a.txt").write_text("a")
    assert (tmp_path / "fresh" / "model" / "a.txt").is_file()
