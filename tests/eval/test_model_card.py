"""eval.run --card: the run's tables land in the model folder's README.md, once, beside what the card held."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eval import run
from eval.model_card import BEGIN, END, with_section


def test_with_section_appends_then_replaces_and_keeps_the_rest():
    card = with_section("# e5 fine-tuned\n\nTrained on v0.6.0.\n", "## Evaluation\nold\n")
    again = with_section(card + "\n## Citation\nkeep me\n", "## Evaluation\nnew\n")
    assert again.count(BEGIN) == again.count(END) == 1
    assert "new" in again and "old" not in again
    assert again.startswith("# e5 fine-tuned\n\nTrained on v0.6.0.") and "## Citation\nkeep me" in again
    assert with_section("", "## Evaluation\nx\n").startswith(BEGIN)


def test_card_gets_the_tables_of_the_run(tiny_model: Path, toy_beir: Path, tmp_path: Path) -> None:
    model = tmp_path / "ft"
    shutil.copytree(tiny_model, model)
    (model / "README.md").write_text("# tiny fine-tuned\n\nwhat training wrote\n")
    argv = ["--models", f"base={tiny_model}", f"ft={model}", "--sets", f"toy={toy_beir}", "--output-dir",
            str(tmp_path / "r"), "--dims", "16", "--quantization", "--device", "cpu", "--card", "ft"]
    assert run.main(argv) == 0
    card = (model / "README.md").read_text()
    assert card.startswith("# tiny fine-tuned\n\nwhat training wrote")
    assert "This model is `ft`" in card and "### toy" in card
    assert "| ft | 64 |" in card and "| base | 64 |" in card and "| bm25 |" in card
    assert "python -m eval.run --models" in card and "--card ft" in card
    assert run.main(argv) == 0  # a rerun replaces the section
    assert (model / "README.md").read_text().count("### toy") == 1
    assert not (Path(tiny_model) / "README.md").exists() or BEGIN not in (Path(tiny_model) / "README.md").read_text()


@pytest.mark.parametrize(("card", "message"), [("nope", "no model of this run has that name"),
                                              ("hub", "is not a local model folder")])
def test_bad_card_fails_before_any_work(card, message, tiny_model: Path, toy_beir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "check_model_reference", lambda ref: None)  # "org/model" is not looked up here
    argv = ["--models", f"ft={tiny_model}", "hub=org/model", "--sets", f"toy={toy_beir}", "--output-dir",
            str(tmp_path / "r"), "--card", card]
    assert run.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --card") and message in err
    assert not (tmp_path / "r").exists()
