"""The reply store (pipeline/generation/reply_store.py): finished batches are kept in a folder that travels with
the project; a fresh copy of the run sends only passages no stored reply covers; mismatches are clear errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.errors import ConfigError
from pipeline.generation.reply_store import ReplyStore, text_sha1
from pipeline.stages.generate import GenerateStage
from retrieval.testing.fake_openai_server import FakeOpenAIServer
from tests.pipeline.run_folders import write_passages
from tests.pipeline.test_generate import KEY_ENV, MODEL, SECRET, gen_config, italian_passages


def record(pid: str, text: str, prompt: str = "h1", model: str = "m") -> dict:
    return {"passage_id": pid, "text_sha1": text_sha1(text), "prompt_hash": prompt, "model": model,
            "doc_id": "d", "reply": {"text": "{}", "finish_reason": "stop"}}


def test_store_round_trip_and_stable_bytes(tmp_path):
    store = ReplyStore(tmp_path / "store")
    path = store.add([record("b", "testo b"), record("a", "testo a")])
    first = path.read_bytes()
    path.unlink()
    assert store.add([record("a", "testo a"), record("b", "testo b")]).read_bytes() == first  # same bytes
    found = store.load({"a": text_sha1("testo a"), "b": text_sha1("testo b"), "c": "x"}, "h1", "m")
    assert sorted(found) == ["a", "b"]


@pytest.mark.parametrize(("expect", "prompt", "model", "message"), [
    ({"a": text_sha1("altro testo")}, "h1", "m", "do not match this run's passages"),
    ({}, "h1", "m", "passages this run does not have"),
    ({"a": text_sha1("testo a")}, "h2", "m", "another prompt"),
    ({"a": text_sha1("testo a")}, "h1", "other", "another model"),
])
def test_mismatched_store_is_a_clear_error(tmp_path, expect, prompt, model, message):
    store = ReplyStore(tmp_path / "store")
    store.add([record("a", "testo a")])
    with pytest.raises(ConfigError, match=message) as info:
        store.load(expect, prompt, model)
    assert "generate.reply_store" in str(info.value)


def test_truncated_store_file_is_a_clear_error(tmp_path):
    store = ReplyStore(tmp_path / "store")
    path = store.add([record(f"p{i}", f"testo {i}") for i in range(50)])
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ConfigError, match="truncated or corrupt.*git checkout"):
        store.records()


def test_fresh_copy_sends_only_unanswered_passages(tmp_path, monkeypatch):
    """Run 1 answers 6 passages into the store; a fresh run folder (another machine) with the same store sends
    nothing and gives the same rows; raising max_passages then sends exactly the new passages."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    passages = italian_passages(10)
    store = tmp_path / "committed" / "replies"
    with FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        first = gen_config(tmp_path / "machine1", fake.url, max_passages=6, batch_passages=4, reply_store=str(store))
        write_passages(first.run_dir, passages)
        stats = GenerateStage(first).run()
        assert stats["requests_this_run"] == 6 and fake.stats()["chat_requests"] == 6
        assert len(ReplyStore(store).files()) == 2  # batches of 4 and 2, each exported when finished

        fresh = gen_config(tmp_path / "machine2", fake.url, max_passages=6, batch_passages=4, reply_store=str(store))
        write_passages(fresh.run_dir, passages)
        again = GenerateStage(fresh).run()
        assert fake.stats()["chat_requests"] == 6, "no request re-sent"
        assert again["requests_this_run"] == 0 and again["rows"] == stats["rows"]
        rows = lambda cfg: sorted(pq.read_table(cfg.run_dir / "generate" / "queries.parquet").to_pylist(),  # noqa: E731
                                  key=lambda r: r["query_id"])
        assert rows(fresh) == rows(first)

        # another grouping of documents (passages.group_key) on a third machine: the stored replies are reused and
        # every query carries the document of this run's passages, not the one stored with the reply
        regrouped = gen_config(tmp_path / "machine3", fake.url, max_passages=6, batch_passages=4,
                               reply_store=str(store))
        write_passages(regrouped.run_dir, [{**p, "doc_id": "one-source"} for p in passages])
        assert GenerateStage(regrouped).run()["requests_this_run"] == 0
        assert {r["doc_id"] for r in rows(regrouped)} == {"one-source"}

        grown = gen_config(tmp_path / "machine2", fake.url, max_passages=9, batch_passages=4, reply_store=str(store))
        more = GenerateStage(grown).run()
        assert fake.stats()["chat_requests"] == 9 and more["requests_this_run"] == 3
        assert more["replies"] == 9 and len(ReplyStore(store).files()) == 3


KILLED_RUN = """
import sys
from pipeline.config import config_from_dict
from pipeline.stages.generate import GenerateStage
import json
GenerateStage(config_from_dict(json.loads(sys.argv[1]))).run()
"""


def test_resume_after_a_kill_inside_an_open_chunk(tmp_path, monkeypatch):
    """A run killed (SIGKILL) in the middle of a large chunk leaves the open raw chunk cut short. The rerun must
    not stop on EOFError (the fault), must not send again what was answered, and must finish every passage."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.setenv(KEY_ENV, SECRET)
    root = Path(__file__).resolve().parents[2]
    with FakeOpenAIServer(model=MODEL, api_key=SECRET, delay=0.5) as fake:  # room to stop it half-way under load
        cfg = gen_config(tmp_path, fake.url, max_passages=12, records_per_chunk=2000, concurrency=1)
        write_passages(cfg.run_dir, italian_passages(12))
        data = cfg.model_dump(mode="json")
        child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, json.dumps(data)], cwd=root,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while fake.stats()["chat_requests"] < 6 and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)  # the whole group: a helper the run forked must not outlive the test
        child.wait()
        sent_before = fake.stats()["chat_requests"]
        assert 6 <= sent_before < 12, "the run was killed half-way"
        assert list((cfg.run_dir / "generate" / "raw").rglob("*.jsonl.gz")), "an open chunk was left"
        stats = GenerateStage(cfg).run()
        assert stats["replies"] == 12 and stats["rows"] == 36
        # only requests in flight at the kill (up to 2 documents at concurrency 1) may be sent again
        assert fake.stats()["chat_requests"] <= 12 + 2


def test_a_smaller_max_passages_leaves_unneeded_batches_unsent(tmp_path, monkeypatch):
    """Stopping a long run early: lowering max_passages finishes the stage with what is answered; batches no
    longer needed are not sent, and what they hold is kept."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        cfg = gen_config(tmp_path, fake.url, max_passages=4, batch_passages=2)
        write_passages(cfg.run_dir, italian_passages(10))
        GenerateStage(cfg).run()
        # a longer run was planned: its batch files exist but were never sent
        bigger = gen_config(tmp_path, fake.url, max_passages=10, batch_passages=2)
        stage = GenerateStage(bigger)
        assert len(stage._prepare_batches()) == 3 and len(stage._batches()) == 5
        smaller = gen_config(tmp_path, fake.url, max_passages=4, batch_passages=2)
        stats = GenerateStage(smaller).run()
        assert fake.stats()["chat_requests"] == 4  # the planned batches were never sent
        assert stats["replies"] == 4


STOPPED_RUN = """
import json, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even when the tests run as a background
# job (a shell starts those with SIGINT ignored, and the child would inherit it and never see the Ctrl-C)
from pipeline.config import config_from_dict
from pipeline.stages.generate import GenerateStage
from retrieval.cli import run_cli
def main(argv):
    GenerateStage(config_from_dict(json.loads(sys.argv[1]))).run()
sys.exit(run_cli(main, sigterm=True, hard_exit=True))  # as python -m pipeline.run does
"""


@pytest.mark.parametrize("stop", ["sigterm", "ctrl_c"])
def test_a_stopped_run_keeps_its_finished_chunks_in_the_store(tmp_path, monkeypatch, capsys, stop):
    """A run stopped half-way through a batch, by SIGTERM (as at the end of a session) or by Ctrl-C (SIGINT to the
    whole foreground process group: the run and the helper processes datatrove started), exports the chunks it
    finished: a fresh run folder with the same store sends only the passages they do not cover."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.setenv(KEY_ENV, SECRET)
    root = Path(__file__).resolve().parents[2]
    store = tmp_path / "committed" / "replies"
    with FakeOpenAIServer(model=MODEL, api_key=SECRET, delay=0.5) as fake:  # room to stop it half-way under load
        cfg = gen_config(tmp_path / "machine1", fake.url, max_passages=12, batch_passages=12, records_per_chunk=2,
                         concurrency=1, reply_store=str(store))
        write_passages(cfg.run_dir, italian_passages(12))
        child = subprocess.Popen([sys.executable, "-c", STOPPED_RUN, json.dumps(cfg.model_dump(mode="json"))],
                                 cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
        deadline = time.time() + 60
        while fake.stats()["chat_requests"] < 7 and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        if stop == "sigterm":
            child.send_signal(signal.SIGTERM)
        else:
            os.killpg(child.pid, signal.SIGINT)
        assert child.wait(timeout=60) == 130
        err = child.stderr.read()
        assert "Traceback" not in err and "interrupted" in err, err
        kept = len(ReplyStore(store).records())
        assert 4 <= kept < 12, kept  # whole chunks of 2 finished before the stop
        sent_before = fake.stats()["chat_requests"]

        fresh = gen_config(tmp_path / "machine2", fake.url, max_passages=12, batch_passages=12, records_per_chunk=2,
                           concurrency=1, reply_store=str(store))
        write_passages(fresh.run_dir, italian_passages(12))
        stats = GenerateStage(fresh).run()
        assert stats["replies"] == 12 and stats["requests_this_run"] == 12 - kept
        assert fake.stats()["chat_requests"] == sent_before + 12 - kept
        assert len(ReplyStore(store).records()) == 12  # no passage stored twice

        sent = fake.stats()["chat_requests"]
        resumed = GenerateStage(cfg).run()  # machine 1 again: its own replies are in the store too
        assert resumed["replies"] == 12 and fake.stats()["chat_requests"] == sent
    assert "12 already done" in capsys.readouterr().out  # counted once, not once per place they are kept


def test_a_batch_failing_as_the_server_dies_still_keeps_its_finished_chunks(tmp_path, monkeypatch):
    """A stop that kills the local LLM server first surfaces as an error (a broken pipe), not as an interrupt: the
    chunks the batch finished still go to the store before the error propagates."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    store = tmp_path / "replies"
    original = GenerateStage._run_inference

    def dies_after_the_chunks(self, batch, url):
        original(self, batch, url)
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(GenerateStage, "_run_inference", dies_after_the_chunks)
    with FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        cfg = gen_config(tmp_path, fake.url, max_passages=4, batch_passages=4, records_per_chunk=2,
                         reply_store=str(store))
        write_passages(cfg.run_dir, italian_passages(4))
        with pytest.raises(BrokenPipeError):
            GenerateStage(cfg).run()
    assert len(ReplyStore(store).records()) == 4


def test_a_run_on_part_of_the_collection_uses_the_replies_it_has(tmp_path, capsys):
    store = ReplyStore(tmp_path / "store")
    store.add([record("a", "testo a"), record("b", "testo b")])
    assert sorted(store.load({"a": text_sha1("testo a")}, "h1", "m")) == ["a"]  # b's reply: not this run's
    assert "1 stored replies" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="made for other text"):  # a changed passage is still an error
        store.load({"a": text_sha1("testo a"), "b": text_sha1("altro testo")}, "h1", "m")
