"""The reading sheet draws reproducible random pairs and negatives from a published dataset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from datasets import load_dataset

from dataset_card import review as R
from retrieval.errors import ConfigError


def test_the_sheet_holds_the_drawn_pairs_and_negatives_with_verdict_lines(fixture_dataset: Path) -> None:
    sheet = R.review(str(fixture_dataset), split="train", pairs=3, negatives=4, seed=1, chars=0)
    assert sheet == R.review(str(fixture_dataset), split="train", pairs=3, negatives=4, seed=1, chars=0)  # seeded
    pairs = load_dataset(str(fixture_dataset), "pairs", split="train")
    triplets = load_dataset(str(fixture_dataset), "triplets", split="train")
    assert len(re.findall(r"^### P\d+ ", sheet, re.M)) == 3 and len(re.findall(r"^### N\d+ ", sheet, re.M)) == 4
    assert sheet.count(R.VERDICT) == 7
    by_query = {row["query"]: row for row in pairs}
    for query in re.findall(r"^### P\d+ .*\n\n\*\*query:\*\* (.*)", sheet, re.M):
        assert " ".join(by_query[query]["passage"].split()) in sheet  # each drawn query with its own passage
    negatives = {(r["query"], " ".join(r[f"negative_{k}"].split())) for r in triplets for k in range(1, 5)
                 if r.get(f"negative_{k}")}
    drawn = re.findall(r"\*\*query:\*\* (.*)\n\npositive: .*\n\n\*\*negative:\*\* (.*)", sheet)
    assert len(drawn) == 4 and set(drawn) <= negatives
    assert R.review(str(fixture_dataset), split="train", pairs=3, negatives=4, seed=2, chars=0) != sheet


def test_long_passages_are_cut_at_a_word() -> None:
    assert R.clip("uno due  tre\nquattro", 0) == "uno due tre quattro"
    assert R.clip("uno due tre quattro", 9) == "uno due …"


def test_nothing_to_draw_is_a_clear_error(fixture_dataset: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ConfigError, match="nothing to draw"):
        R.review(str(fixture_dataset), pairs=0, negatives=0)
    assert R.main([str(fixture_dataset / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_command_writes_the_sheet_to_a_file(fixture_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    assert R.main([str(fixture_dataset), "--pairs", "2", "--negatives", "1", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").count(R.VERDICT) == 3
