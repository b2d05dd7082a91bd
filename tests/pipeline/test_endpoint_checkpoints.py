"""A finished chunk survives a run stopped while datatrove drops the chunk's request cache (the flake that re-sent
three answered passages on a loaded machine)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from datatrove.pipeline.inference.checkpointing import CheckpointManager, RequestCache

from pipeline.generation.endpoint import CompletionFirstCheckpointManager


class StoppedCache(RequestCache):
    """A request cache whose drop is where the run gets stopped."""

    async def drop_chunk(self, chunk_index: int) -> None:
        raise asyncio.CancelledError


def _stop_after_chunk_zero(manager_class: type[CheckpointManager], folder: Path) -> CheckpointManager:
    manager = manager_class(str(folder), records_per_chunk=3, request_cache=StoppedCache(None))
    chunk = folder / "00000" / "chunk_00000.jsonl"
    chunk.parent.mkdir(parents=True)
    chunk.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n')
    manager.new_completed_chunks.add(0)
    manager.per_chunk_counts[0] = 3
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(manager.update_last_chunk_index(0))
    return manager


def test_chunk_is_recorded_finished_before_its_file_goes(tmp_path):
    manager = _stop_after_chunk_zero(CompletionFirstCheckpointManager, tmp_path)
    assert (tmp_path / "last_chunk" / "00000.txt").read_text() == "0"
    assert manager.last_chunk_index == 0
    assert not (tmp_path / "00000" / "chunk_00000.jsonl").exists()
    assert not list((tmp_path / "last_chunk").glob("*.tmp"))


def test_datatrove_alone_loses_the_chunk(tmp_path):
    """What the subclass exists for: if this starts failing, datatrove fixed the order and the subclass can go."""
    _stop_after_chunk_zero(CheckpointManager, tmp_path)
    assert not (tmp_path / "00000" / "chunk_00000.jsonl").exists()
    assert not (tmp_path / "last_chunk" / "00000.txt").exists()

