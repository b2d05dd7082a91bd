"""python -m pipeline.adapt end to end on a folder of text files: fake LLM endpoint, tiny embedder, real queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import adapt
from retrieval.models import load_model
from retrieval.testing.fake_openai_server import FakeOpenAIServer
from retrieval.testing.tiny_topics import fixture_topics

MODEL = "fake-llm"


def write_documents(folder: Path, n: int = 48) -> list[dict]:
    """One document per fixture topic: Italian function words around two rare made-up words, which the tiny
    model's vocabulary knows (so the tiny embedder can learn to retrieve them)."""
    docs = [{"id": f"doc{i:02d}", "text": t["text"], "a": t["a"], "b": t["b"]} for i, t in
            enumerate(fixture_topics(0)[:n])]
    folder.mkdir(parents=True)
    for d in docs:
        (folder / f"{d['id']}.txt").write_text(d["text"], encoding="utf-8")
    return docs


def write_real_queries(folder: Path, docs: list[dict]) -> Path:
    """A BEIR folder with one question per document about its rare word (the stand-in for real user questions)."""
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["id"], "title": "", "text": d["text"]}, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"_id": f"q{i}", "text": f"dove si parla di {d['a']}?"}, ensure_ascii=False) + "\n")
    rows = ["query-id\tcorpus-id\tscore", *[f"q{i}\t{d['id']}\t1" for i, d in enumerate(docs)]]
    (folder / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def base_argv(tmp_path: Path, docs: Path, url: str, model: Path) -> list[str]:
    return [str(docs), "--name", "mine", "--output-dir", str(tmp_path / "runs"), "--endpoint", url,
            "--llm-model", MODEL, "--base-model", str(model), "--device", "cpu",
            "--set", "mine.relative_margin=0.01"]  # the untrained tiny model scores every passage alike


@pytest.fixture()
def endpoint(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with FakeOpenAIServer(model=MODEL, api_key="k") as fake:
        yield fake


def test_adapt_end_to_end(tmp_path, endpoint, tiny_model, capsys):
    docs = write_documents(tmp_path / "docs")
    real = write_real_queries(tmp_path / "real", docs)
    guard = write_real_queries(tmp_path / "guard", docs[:24])
    argv = base_argv(tmp_path, tmp_path / "docs", endpoint.url, tiny_model) + ["--real-queries", str(real)]
    argv += ["--guard-set", str(guard), "--eval-max-queries", "20"]
    argv += ["--learning-rate", "1e-3", "--epochs", "3"]  # enough to move the tiny model's weights
    argv += ["--train-set", "model.max_seq_length=32"]  # checkpoints keep this limit; the choices must not
    assert adapt.main(argv) == 0
    run = tmp_path / "runs" / "mine"
    report = json.loads((run / "adapt_report.json").read_text())
    assert set(report["models"]) == {"base", "best_dev", "last", "wise"}
    assert set(report["eval"]["real"]) == {"bm25", "base", "best_dev", "last", "wise"}
    assert set(report["eval"]["guard"]) == {"bm25", "base", "best_dev", "last", "wise"}
    assert json.loads((run / "eval" / "real" / "results.json").read_text())["settings"]["max_queries"] == 20
    assert "synthetic_dev" in report["eval"] and report["recommended_by"] == "real"
    assert report["recommended"] in ("base", "best_dev", "last", "wise")
    real_scores = report["eval"]["real"]
    allowed = [c for c in ("base", "best_dev", "last", "wise") if c not in report["forgetting"]]
    assert real_scores[report["recommended"]] == max(real_scores[c] for c in allowed)
    assert len({round(real_scores[m], 6) for m in ("base", "last", "wise")}) == 3  # three different models
    assert (run / "adapt.yaml").is_file() and (run / "model" / "wise_0.5" / "modules.json").is_file()
    limits = {m: load_model(report["models"][m], device="cpu").max_seq_length for m in ("best_dev", "last", "wise")}
    assert limits == dict.fromkeys(limits, load_model(str(tiny_model), device="cpu").max_seq_length)
    assert report["stages"]["ingest"]["kept"] == len(docs)  # no web-quality filter drops a curated document
    card = (Path(report["dataset"]) / "README.md").read_text()
    assert "a curated collection of documents (`docs`)" in card and "allenai/c4" not in card  # not a crawl
    md = (run / "adapt_report.md").read_text()
    assert "| real |" in md and "Recommended:" in md
    assert "Recommended:" in capsys.readouterr().out

    # the same command again (say, after a stop during the evaluation): nothing is sent or trained again
    import training.train

    sent = endpoint.stats()["chat_requests"]
    real_run = training.train.run
    training.train.run = lambda cfg: (_ for _ in ()).throw(AssertionError("trained again"))
    try:
        assert adapt.main(argv) == 0
    finally:
        training.train.run = real_run
    assert endpoint.stats()["chat_requests"] == sent
    assert json.loads((run / "adapt_report.json").read_text())["eval"]["real"] == real_scores


def test_wrong_language_is_refused_before_any_slow_step(tmp_path, endpoint, tiny_model, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.md").write_text(
            "The city council approved the new budget on Tuesday after a long debate about public transport and "
            f"the repair of bridge number {i} over the river, which the mayor promised for next summer.")
    assert adapt.main(base_argv(tmp_path, folder, endpoint.url, tiny_model)) == 2
    err = capsys.readouterr().err
    assert "ita_Latn" in err and "--language" in err
    assert not (tmp_path / "runs" / "mine").exists() and endpoint.stats()["chat_requests"] == 0


def test_documents_too_short_are_refused(tmp_path, endpoint, tiny_model, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text("Chiuso oggi.")
    assert adapt.main(base_argv(tmp_path, folder, endpoint.url, tiny_model)) == 2
    assert "shorter than 16 tokens" in capsys.readouterr().err


def test_empty_folder_and_down_endpoint(tmp_path, tiny_model, capsys):
    (tmp_path / "empty").mkdir()
    assert adapt.main(base_argv(tmp_path, tmp_path / "empty", "http://127.0.0.1:9/v1", tiny_model)) == 2
    assert "no .txt, .md" in capsys.readouterr().err
    write_documents(tmp_path / "docs", 3)
    assert adapt.main(base_argv(tmp_path, tmp_path / "docs", "http://127.0.0.1:9/v1", tiny_model)) == 2
    err = capsys.readouterr().err
    assert "cannot reach the LLM endpoint http://127.0.0.1:9/v1" in err and "Traceback" not in err


def test_a_base_model_that_cannot_load_is_named(tmp_path, endpoint, capsys):
    write_documents(tmp_path / "docs", 3)
    argv = base_argv(tmp_path, tmp_path / "docs", endpoint.url, tmp_path / "no-model")
    assert adapt.main(argv) == 2
    err = capsys.readouterr().err
    assert "--base-model" in err or "passages.tokenizer" in err
    assert "Traceback" not in err and endpoint.stats()["chat_requests"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--real-queries", "no/such/folder"], "evaluation set 'no/such/folder' is neither an existing folder"),
    (["--epochs", "-1"], "training.epochs: Input should be greater than 0"),
    (["--device", "tpu7"], "unknown device 'tpu7'"),
    (["--train-set", "loss.temprature=0.01"], "loss.temprature"),
    (["--train-set", "loss.scale=-3"], "loss.scale: Input should be greater than 0"),
])
def test_training_and_evaluation_settings_fail_before_the_dataset(tmp_path, endpoint, tiny_model, capsys, extra,
                                                                   message):
    write_documents(tmp_path / "docs", 3)
    assert adapt.main([*base_argv(tmp_path, tmp_path / "docs", endpoint.url, tiny_model), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs" / "mine").exists() and endpoint.stats()["chat_requests"] == 0


def test_a_gguf_that_does_not_exist_names_the_option(tmp_path, tiny_model, capsys):
    write_documents(tmp_path / "docs", 3)
    argv = [str(tmp_path / "docs"), "--name", "mine", "--output-dir", str(tmp_path / "runs"), "--gguf",
            str(tmp_path / "no.gguf"), "--base-model", str(tiny_model)]
    assert adapt.main(argv) == 2
    assert f"GGUF file not found: {tmp_path / 'no.gguf'}. Fix generate.llamacpp.model_path (pipeline.adapt: --gguf)" \
        in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_base_model_folder_without_a_model_names_the_option(tmp_path, endpoint, capsys):
    write_documents(tmp_path / "docs", 3)
    (tmp_path / "empty").mkdir()
    assert adapt.main(base_argv(tmp_path, tmp_path / "docs", endpoint.url, tmp_path / "empty")) == 2
    assert "error: --base-model: " in capsys.readouterr().err and endpoint.stats()["chat_requests"] == 0


def test_report_recommends_the_base_when_no_adapted_model_beats_it(tmp_path):
    report = {"run": "r", "dataset": "d", "models": {m: m for m in ("base", "best_dev", "last", "wise")},
              "eval": {"synthetic_dev": {"base": 0.90, "best_dev": 0.95, "last": 0.94, "wise": 0.93},
                       "real": {"bm25": 0.80, "base": 0.801, "best_dev": 0.75, "last": 0.74, "wise": 0.77}}}
    adapt._finish(report, tmp_path, {"eval": 1.0})
    assert report["recommended"] == "base" and report["recommended_by"] == "real"
    assert "keep the base model" in (tmp_path / "adapt_report.md").read_text()


def test_train_set_changes_the_training_config(tmp_path, tiny_model):
    from pipeline.adapt_config import adapt_train_config

    argv = ["docs", "--name", "x", "--gguf", "m.gguf", "--base-model", str(tiny_model)]
    cfg = adapt_train_config(adapt.parse_args(argv), tmp_path / "dataset", tmp_path / "model")
    assert cfg.loss.scale == 100 and cfg.loss.matryoshka_dims is None  # the recipe that did not forget on SQuAD-it
    args = adapt.parse_args([*argv, "--train-set", "loss.scale=50", "--train-set", "loss.matryoshka_dims=[64, 32]"])
    cfg = adapt_train_config(args, tmp_path / "dataset", tmp_path / "model")
    assert cfg.loss.scale == 50 and cfg.loss.matryoshka_dims == [64, 32]
    assert cfg.training.output_dir == str(tmp_path / "model")  # the rest as adapt sets it


def test_a_model_that_forgets_on_the_guard_set_is_not_recommended(tmp_path):
    report = {"run": "r", "dataset": "d", "models": {m: m for m in ("base", "best_dev", "last", "wise")},
              "eval": {"real": {"base": 0.80, "best_dev": 0.84, "last": 0.86, "wise": 0.83},
                       "guard": {"base": 0.700, "best_dev": 0.696, "last": 0.690, "wise": 0.701}}}
    adapt._finish(report, tmp_path, {"eval": 1.0}, guard_tolerance=0.5)
    assert report["forgetting"] == {"last": 1.0}  # best_dev lost 0.4 points: within the tolerance
    assert report["recommended"] == "best_dev"
    md = (tmp_path / "adapt_report.md").read_text()
    assert "Not recommended: last lost 1.00 NDCG@10 points on the guard set" in md and "| guard |" in md
    adapt._finish(report, tmp_path, {"eval": 1.0}, guard_tolerance=0.0)
    assert report["recommended"] == "wise"


@pytest.mark.parametrize("stop_after", [[], ["--stop-after", "dataset"]])
def test_a_negative_guard_tolerance_is_refused(tmp_path, endpoint, tiny_model, capsys, stop_after):
    write_documents(tmp_path / "docs", 3)
    argv = [*base_argv(tmp_path, tmp_path / "docs", endpoint.url, tiny_model), "--guard-tolerance", "-1", *stop_after]
    assert adapt.main(argv) == 2
    assert "--guard-tolerance must be 0 or more" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "mine").exists()


@pytest.mark.parametrize("epochs", [1.0, 40.0])
def test_dev_evaluations_are_spread_over_the_run(fixture_dataset, epochs):
    import math

    from pipeline.adapt_config import DEV_EVALUATIONS, eval_steps
    from retrieval.dataset import describe_dataset, load_split

    steps = math.ceil(len(load_split(describe_dataset(str(fixture_dataset)), "triplets", "train")) / 32) * epochs
    every = eval_steps(fixture_dataset, epochs)
    assert every >= 1 and math.ceil(steps / every) <= DEV_EVALUATIONS  # not one per 10 steps on a long run
    if steps >= DEV_EVALUATIONS:
        assert math.ceil(steps / every) >= DEV_EVALUATIONS - 1  # and still several, for best_dev to choose among
    assert eval_steps(fixture_dataset.parent / "not-built-yet", epochs) == 10


def _trained_folder(tmp_path: Path, best_step: int | None, last_step: int = 40, wise_ft: dict | None = None) -> Path:
    for step in (20, last_step):
        (tmp_path / f"checkpoint-{step}").mkdir(parents=True, exist_ok=True)
    best = str(tmp_path / f"checkpoint-{best_step}") if best_step else None
    (tmp_path / "final").mkdir(exist_ok=True)
    (tmp_path / "final" / "training_info.json").write_text(json.dumps({"best_checkpoint": best, "wise_ft": wise_ft}))
    return tmp_path / "final"


def test_last_is_the_best_dev_model_only_when_the_best_checkpoint_is_the_last(tmp_path):
    assert adapt._same_weights(_trained_folder(tmp_path / "a", best_step=40)) == {"last": "best_dev"}
    assert adapt._same_weights(_trained_folder(tmp_path / "b", best_step=20)) == {}
    assert adapt._same_weights(_trained_folder(tmp_path / "c", best_step=40, wise_ft={"alpha": 0.5})) == {}


def test_twin_models_are_evaluated_once_and_the_real_queries_first(tmp_path, monkeypatch):
    import eval.report
    import eval.run

    seen: list[tuple[list[str], list[str]]] = []

    def fake_run(eargs):
        seen.append((list(eargs.models), list(eargs.sets)))
        return {"results": [{"set": eargs.sets[0].split("=")[0], "model": spec.split("=")[0], "full_dim": True,
                             "ndcg@10": 0.5 + i / 10} for i, spec in enumerate(eargs.models)]}

    monkeypatch.setattr(eval.run, "run", fake_run)
    monkeypatch.setattr(eval.report, "write_report", lambda report, folder: None)
    args = adapt.parse_args(["docs", "--name", "x", "--gguf", "m.gguf", "--base-model", "b", "--real-queries", "r",
                             "--guard-set", "g"])
    models = {m: tmp_path / m for m in ("base", "best_dev", "last", "wise")}
    table = adapt._evaluate(args, models, tmp_path / "dataset", tmp_path / "eval", {"last": "best_dev"})
    assert [sets[0].split("=")[0] for _, sets in seen] == ["real", "guard", "synthetic_dev"]
    assert all(not spec.startswith("last=") for specs, _ in seen for spec in specs)
    assert table["real"] == {"base": 0.5, "best_dev": 0.6, "wise": 0.7, "last": 0.6}
