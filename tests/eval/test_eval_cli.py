"""The evaluation CLI end to end on tiny data, and its exit status 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eval import run
from retrieval.testing.subprocess_cli import run_module


def test_cli_end_to_end(
    tiny_model: Path, fixture_dataset: Path, toy_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "results" / "tiny"
    argv = ["--models", f"tiny={tiny_model}", "--sets", str(fixture_dataset), f"toy={toy_beir}", "BelebeleRetrieval"]
    argv += ["--output-dir", str(out), "--dims", "64", "32", "16", "--max-queries", "40", "--device", "cpu"]
    assert run.main(argv) == 0

    report = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(report["sets"]) == {"it-fixture", "toy"}
    assert report["sets"]["it-fixture"]["queries"] == 40
    assert report["skipped"][0]["set"] == "BelebeleRetrieval"  # mteb absent or offline: skipped, not an error
    rows = [r for r in report["results"] if r["model"] == "tiny" and r["set"] == "it-fixture"]
    assert [r["dim"] for r in rows] == [64, 32, 16]
    for r in rows:
        for key in ("ndcg@10", "recall@10", "mrr@10", "ndcg@10_int8", "ndcg@10_binary"):
            assert 0.0 <= r[key] <= 1.0
        assert r["passages_per_s"] > 0 and r["parameters"] > 0 and r["size_mb"] > 0
    bm25 = [r for r in report["results"] if r["model"] == "bm25"]
    assert len(bm25) == 2 and all(r["ndcg@10"] > 0.9 for r in bm25)  # the fixture shares rare words

    md = (out / "results.md").read_text(encoding="utf-8")
    assert "| model | dim | NDCG@10 | Recall@10 | MRR@10 | NDCG@10 int8 | NDCG@10 binary |" in md
    assert "## Skipped" in md and "BelebeleRetrieval" in md
    assert (out / "results.png").stat().st_size > 10_000
    assert "NDCG@10" in capsys.readouterr().out


def test_missing_qrels_exits_2(toy_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (toy_beir / "qrels" / "test.tsv").unlink()
    assert run.main(["--sets", str(toy_beir), "--output-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has no qrels" in err and "Traceback" not in err


def test_not_a_model_exits_2(toy_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "fake").mkdir()
    argv = ["--models", f"fake={tmp_path / 'fake'}", "--sets", str(toy_beir), "--output-dir", str(tmp_path / "r")]
    assert run.main(argv) == 2
    assert "is not a sentence-transformers model" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_gpu_requested_exits_2(
    monkeypatch: pytest.MonkeyPatch, toy_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run.main(["--sets", str(toy_beir), "--output-dir", str(tmp_path / "r"), "--device", "cuda"]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err


def test_subprocess_bad_set_no_traceback(tmp_path: Path) -> None:
    proc = run_module("eval.run", "--sets", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: evaluation set" in proc.stderr and "Traceback" not in proc.stderr


def test_unwritable_output_dir_fails_before_any_work(toy_beir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    assert run.main(["--sets", str(toy_beir), "--output-dir", str(tmp_path / "file" / "r")]) == 2
    err = capsys.readouterr().err
    assert "cannot write results to" in err and "--output-dir" in err


def test_a_rerun_reuses_finished_models(
    tiny_model: Path, toy_beir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long evaluation stopped after some models resumes: the same command evaluates only the models not done."""
    out = tmp_path / "results"
    argv = ["--models", f"a={tiny_model}", f"b={tiny_model}", "--sets", f"toy={toy_beir}", "--output-dir", str(out),
            "--dims", "32", "--device", "cpu", "--no-bm25"]
    real = run.evaluate_model
    calls: list[str] = []

    def stopped_after_a(name, *args, **kwargs):
        calls.append(name)
        if name == "b":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(run, "evaluate_model", stopped_after_a)
    assert run.main(argv) == 130
    monkeypatch.setattr(run, "evaluate_model", lambda name, *a, **k: calls.append(name) or real(name, *a, **k))
    assert run.main(argv) == 0
    assert calls == ["a", "b", "b"]  # a was not evaluated again
    first = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    assert run.main(argv) == 0 and calls == ["a", "b", "b"]  # everything reused
    assert run.main([*argv, "--max-queries", "2"]) == 0 and calls[-2:] == ["a", "b"]  # other settings: redone
    assert {r["model"] for r in first} == {"a", "b"}


@pytest.mark.parametrize("option", [["--batch-size", "0"], ["--dims", "128", "-8"], ["--max-queries", "0"]])
def test_counts_below_one_are_usage_errors(option: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        run.parse_args(["--sets", "x", "--output-dir", "r", *option])
    assert exit_.value.code == 2 and "must be a whole number of at least 1" in capsys.readouterr().err


def test_nothing_to_evaluate_exits_2(
    toy_beir: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run.main(["--sets", str(toy_beir), "--no-bm25", "--output-dir", str(tmp_path / "r")]) == 2
    assert "nothing to evaluate: no --models and --no-bm25" in capsys.readouterr().err
    argv = ["--models", f"m={tiny_model}", "--sets", "BelebeleRetrieval", "--output-dir", str(tmp_path / "r")]
    assert run.main(argv) == 2  # mteb absent or offline: the only set is skipped
    assert "no evaluation set is left to evaluate: every one was skipped" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_hub_model_missing_offline_fails_before_the_sets_load(
    toy_beir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr(run, "resolve_set", lambda *a, **k: pytest.fail("the sets load after the models' check"))
    argv = ["--models", "m=nobody/no-such-model", "--sets", str(toy_beir), "--output-dir", str(tmp_path / "r")]
    assert run.main(argv) == 2
    assert "'nobody/no-such-model' is a Hub id, but the Hub is offline" in capsys.readouterr().err
