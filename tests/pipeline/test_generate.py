"""The generate stage end to end against a real OpenAI-compatible HTTP server (retrieval.testing.fake_openai_server).

The real openai client and datatrove's InferenceRunner talk to the fake server over loopback HTTP; replies are
chosen by markers planted in the passages, so the rows and the drop counts per reason are known in advance.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.errors import EndpointError
from pipeline.run_folder import SUCCESS, read_marker
from pipeline.stages.generate import GenerateStage
from retrieval.testing.fake_openai_server import FakeOpenAIServer, closed_port_url
from tests.pipeline.run_folders import ITALIAN_PASSAGES, QUERY_COLUMNS, grep_run_folder, write_passages

KEY_ENV = "RDT_TEST_LLM_KEY"
SECRET = f"sk-test-{uuid.uuid4().hex}"
MODEL = "fake-model"

# marker -> (rows it yields, reply drop reason, query drops)
MARKERS: dict[str, tuple[int, str | None, dict[str, int]]] = {
    "": (3, None, {}),
    "[[FENCED]]": (3, None, {}),
    "[[ENGLISH]]": (3, None, {}),
    "[[429]]": (3, None, {}),
    "[[500]]": (3, None, {}),
    "[[SLOW]]": (3, None, {}),
    "[[BADQUERIES]]": (1, None, {"empty_query": 1, "over_long_query": 1, "refusal": 1, "unknown_style": 1}),
    "[[MALFORMED]]": (0, "invalid_json", {}),
    "[[SCHEMA]]": (0, "invalid_schema", {}),
    "[[REFUSE]]": (0, "refusal", {}),
    "[[EMPTY]]": (0, "empty", {}),
    "[[LONG]]": (0, "over_long", {}),
    "[[NOVALID]]": (0, "no_valid_query", {"empty_query": 3}),
    "[[400]]": (0, "request_error", {}),
}


def gen_config(tmp_path: Path, url: str, run_name: str = "gen", **generate):
    """A config for the endpoint backend against ``url`` (one in-process datatrove worker)."""
    section = {"backend": "endpoint", "endpoint_url": url, "model": MODEL, "api_key_env": KEY_ENV,
               "concurrency": 4, "max_retries": 3, "request_timeout": 20, "records_per_chunk": 4,
               "temperature": 0.0, **generate}
    return config_from_dict({"run_name": run_name, "output_dir": str(tmp_path / "runs"), "seed": 7,
                             "executor": {"type": "local", "tasks": 1, "workers": 1}, "generate": section})


def italian_passages(n: int) -> list[dict]:
    return [{"passage_id": f"p{i:02d}", "doc_id": f"d{i // 2}", "text": ITALIAN_PASSAGES[i]} for i in range(n)]


def marker_passages() -> list[dict]:
    """One passage per marker (three plain ones), each with its own text so its queries are its own."""
    markers = ["", "", "", *[m for m in MARKERS if m]]
    return [{"passage_id": f"m{i:02d}", "doc_id": f"d{i}", "text": f"{m} {ITALIAN_PASSAGES[i]}".strip()}
            for i, m in enumerate(markers)]


def marker_of(text: str) -> str:
    return next((m for m in MARKERS if m and m in text), "")


def read_rows(run_dir: Path) -> list[dict]:
    return pq.read_table(run_dir / "generate" / "queries.parquet").to_pylist()


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        yield fake


# --------------------------------------------------------------------------------------- planted markers
@pytest.fixture(scope="module")
def marker_run(tmp_path_factory):
    """One generate run over a passage per marker; returns (stats, run_dir, server, passages)."""
    tmp_path = tmp_path_factory.mktemp("markers")
    passages = marker_passages()
    with pytest.MonkeyPatch.context() as mp, FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        mp.setenv(KEY_ENV, SECRET)
        cfg = gen_config(tmp_path, fake.url)
        write_passages(cfg.run_dir, passages)
        stats = GenerateStage(cfg).run()
        counts = fake.stats()
        again = GenerateStage(cfg).run()  # finished: skipped, nothing sent
        counts_after = fake.stats()
    fake.rerun = (again, counts, counts_after)
    return stats, cfg.run_dir, fake, passages


def test_rows_match_planted_markers(marker_run):
    stats, run_dir, _, passages = marker_run
    rows = read_rows(run_dir)
    assert pq.read_schema(run_dir / "generate" / "queries.parquet").names == QUERY_COLUMNS
    expected = {p["passage_id"]: MARKERS[marker_of(p["text"])][0] for p in passages}
    got: dict[str, int] = {}
    for row in rows:
        got[row["passage_id"]] = got.get(row["passage_id"], 0) + 1
    assert got == {pid: n for pid, n in expected.items() if n}
    assert stats["rows"] == len(rows) == sum(expected.values())
    assert stats["replies"] == stats["passages_in"] == len(passages)
    doc_of = {p["passage_id"]: p["doc_id"] for p in passages}
    assert all(row["doc_id"] == doc_of[row["passage_id"]] for row in rows)
    assert {row["model"] for row in rows} == {MODEL}
    assert {row["prompt_hash"] for row in rows} == {stats["prompt_hash"]}
    assert len({row["query_id"] for row in rows}) == len(rows)
    assert all(row["query"] == " ".join(row["query"].split()) and row["query"] for row in rows)
    plain = next(p for p in passages if not marker_of(p["text"]))
    assert sorted(r["style"] for r in rows if r["passage_id"] == plain["passage_id"]) == [
        "keywords", "question", "question"]  # the default styles, cycled to 3


def test_drop_counts_per_reason(marker_run):
    stats, run_dir, _, _ = marker_run
    reply_drops: dict[str, int] = {}
    query_drops: dict[str, int] = {}
    for _, reason, per_query in MARKERS.values():
        if reason:
            reply_drops[reason] = reply_drops.get(reason, 0) + 1
        for key, n in per_query.items():
            query_drops[key] = query_drops.get(key, 0) + n
    assert stats["replies_dropped"] == reply_drops
    assert stats["queries_dropped"] == query_drops
    dropped = pq.read_table(run_dir / "generate" / "dropped.parquet").to_pylist()
    assert sorted(d["reason"] for d in dropped) == sorted(reply_drops)
    by_reason = {d["reason"]: d for d in dropped}
    assert "context length" in by_reason["request_error"]["raw"]  # the endpoint's own message is kept
    assert by_reason["invalid_json"]["raw"].startswith("Ecco le query")
    on_disk = json.loads((run_dir / "generate" / "stats.json").read_text())
    assert on_disk["replies_dropped"] == reply_drops and on_disk["queries_dropped"] == query_drops


def test_usage_and_request_counts(marker_run):
    stats, run_dir, fake, passages = marker_run
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0
    assert stats["requests_this_run"] == len(passages)
    marker = read_marker(run_dir / "generate")
    assert marker["stats"]["rows"] == stats["rows"] and marker["upstream"] == "passages-handmade"
    # 429 and 500 answered once with an error, then retried by the client: two requests, one success
    for p in passages:
        m = marker_of(p["text"])
        want = 2 if m in ("[[429]]", "[[500]]") else 1
        assert fake.requests[p["text"]] == want, (m, fake.requests[p["text"]])
        assert fake.successes[p["text"]] == (0 if m in ("[[400]]",) else 1)
    assert fake.models_requests >= 1  # the preflight listed the models


def test_finished_run_is_skipped(marker_run):
    stats, _, fake, _ = marker_run
    again, counts, counts_after = fake.rerun
    assert again == stats and counts_after == counts


def test_api_key_never_written(marker_run):
    _, run_dir, _, _ = marker_run
    assert grep_run_folder(run_dir, SECRET) == []
    assert list((run_dir / "generate" / "logs").rglob("*.log")), "datatrove's task log should exist"


# ---------------------------------------------------------------------------------------- endpoint errors
def test_unreachable_endpoint_fails_fast_with_url(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    url = closed_port_url()
    cfg = gen_config(tmp_path, url)
    write_passages(cfg.run_dir, italian_passages(3))
    start = time.monotonic()
    with pytest.raises(EndpointError) as info:
        GenerateStage(cfg).run()
    assert time.monotonic() - start < 15
    assert url in str(info.value)
    assert SECRET not in str(info.value)
    assert not (cfg.run_dir / "generate" / SUCCESS).exists()


def test_a_base_url_without_v1_is_named_before_any_request(tmp_path, server):
    url = server.url.removesuffix("/v1")
    cfg = gen_config(tmp_path, url)
    write_passages(cfg.run_dir, italian_passages(3))
    with pytest.raises(EndpointError) as info:
        GenerateStage(cfg).run()
    assert f"the URL lacks /v1. Fix: set generate.endpoint_url (pipeline.adapt: --endpoint) to {url}/v1" in str(
        info.value)
    assert server.chat_requests == 0


def test_wrong_model_lists_served_models(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeOpenAIServer(model=MODEL, api_key=SECRET, served_models=[MODEL, "other-model"]) as fake:
        cfg = gen_config(tmp_path, fake.url, model="no-such-model")
        write_passages(cfg.run_dir, italian_passages(3))
        with pytest.raises(EndpointError) as info:
            GenerateStage(cfg).run()
        assert fake.chat_requests == 0
    message = str(info.value)
    assert "no-such-model" in message and MODEL in message and "other-model" in message
    assert "generate.model" in message


@pytest.mark.parametrize("key", ["sk-wrong-key-123", None])
def test_bad_key_names_env_var(tmp_path, monkeypatch, key):
    with FakeOpenAIServer(model=MODEL, api_key=SECRET) as fake:
        if key is None:
            monkeypatch.delenv(KEY_ENV, raising=False)
        else:
            monkeypatch.setenv(KEY_ENV, key)
        cfg = gen_config(tmp_path, fake.url)
        write_passages(cfg.run_dir, italian_passages(3))
        with pytest.raises(EndpointError) as info:
            GenerateStage(cfg).run()
        assert fake.chat_requests == 0
    message = str(info.value)
    assert KEY_ENV in message and fake.url in message
    assert SECRET not in message and (key is None or key not in message)


# ----------------------------------------------------------------------------------------------- resume
def _sorted_rows(run_dir: Path) -> list[dict]:
    return sorted(read_rows(run_dir), key=lambda r: r["query_id"])


def test_resume_after_key_revoked_mid_run(tmp_path, server, capfd):
    """Killed by a 401 after 5 passages, then rerun: the same rows as a run never interrupted, nothing twice."""
    passages = italian_passages(11)
    straight = gen_config(tmp_path, server.url, run_name="straight", concurrency=1, records_per_chunk=3)
    write_passages(straight.run_dir, passages)
    GenerateStage(straight).run()
    expected = _sorted_rows(straight.run_dir)
    server.reset_counters()

    cfg = gen_config(tmp_path, server.url, run_name="resumed", concurrency=1, records_per_chunk=3)
    write_passages(cfg.run_dir, passages)
    server.revoke_key_after(5)
    with pytest.raises(EndpointError) as info:
        GenerateStage(cfg).run()
    message = str(info.value)
    assert "401" in message and KEY_ENV in message and "rerun" in message
    assert "Payload" not in message and SECRET not in message
    assert sum(server.successes.values()) == 5
    gen_dir = cfg.run_dir / "generate"
    assert (gen_dir / "_STARTED.json").is_file() and not (gen_dir / SUCCESS).exists()

    server.restore_key()
    stats = GenerateStage(cfg).run()
    rows = _sorted_rows(cfg.run_dir)
    assert rows == expected
    assert len({r["query_id"] for r in rows}) == len(rows) == 3 * len(passages)
    assert stats["replies"] == len(passages) and stats["requests_this_run"] == len(passages) - 5
    assert server.requested_after_success() == []
    assert all(server.successes[p["text"]] == 1 for p in passages)
    refused = [text for text, status in server.log if status != 200]
    assert all(status == 401 for _, status in server.log if status != 200)
    # the request answered 401, and at most the next passage's (already waiting for the slot), are the only repeats
    assert 1 <= len(refused) <= 2 and server.chat_requests == len(passages) + len(refused)

    out, err = capfd.readouterr()
    assert SECRET not in out and SECRET not in err
    assert grep_run_folder(tmp_path, SECRET) == []


def test_resume_with_concurrency_gives_same_rows(tmp_path, server):
    """With several requests in flight when the key is revoked, the resumed run still has every row once."""
    passages = italian_passages(12)
    cfg = gen_config(tmp_path, server.url, concurrency=3, records_per_chunk=4)
    write_passages(cfg.run_dir, passages)
    server.revoke_key_after(6)
    with pytest.raises(EndpointError):
        GenerateStage(cfg).run()
    server.restore_key()
    GenerateStage(cfg).run()
    rows = read_rows(cfg.run_dir)
    assert len(rows) == len({r["query_id"] for r in rows}) == 3 * len(passages)
    assert {r["passage_id"] for r in rows} == {p["passage_id"] for p in passages}
    records = []
    for path in (cfg.run_dir / "generate" / "raw").rglob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            records += [json.loads(line)["id"] for line in f if line.strip()]
    assert sorted(records) == sorted(p["passage_id"] for p in passages)  # no record written twice


def test_growing_max_passages_sends_only_new_passages(tmp_path, server):
    passages = italian_passages(9)
    small = gen_config(tmp_path, server.url, max_passages=4)
    write_passages(small.run_dir, passages)
    first = GenerateStage(small).run()
    assert first["replies"] == 4 and server.chat_requests == 4
    sent_first = {text for text, n in server.requests.items() if n}

    larger = gen_config(tmp_path, server.url, max_passages=7)
    assert GenerateStage(larger).config_hash() == GenerateStage(small).config_hash()
    second = GenerateStage(larger).run()
    assert server.chat_requests == 7
    assert all(n == 1 for n in server.requests.values()) and len(server.requests) == 7
    assert sent_first <= set(server.requests)
    assert second["replies"] == second["passages_in"] == 7 and second["requests_this_run"] == 3
    assert len(read_rows(larger.run_dir)) == 3 * 7
    assert sorted(p.name for p in (larger.run_dir / "generate" / "input").iterdir()) == [
        "batch_000.jsonl.gz", "batch_001.jsonl.gz"]

    again = GenerateStage(larger).run()  # done: nothing sent
    assert again["replies"] == 7 and server.chat_requests == 7
    smaller = GenerateStage(gen_config(tmp_path, server.url, max_passages=2)).run()  # never shrinks
    assert smaller["replies"] == 7 and server.chat_requests == 7


# ------------------------------------------------------------------------- glitches and failed requests
def test_glitch_is_retried_and_failed_passages_are_sent_again_on_rerun(tmp_path, server):
    """A 200 without choices is retried (not lost); a passage whose every attempt fails is recorded with its
    cause, the stage is not marked done, and the rerun sends exactly that passage (fault: lost for good)."""
    passages = italian_passages(4)
    passages[1]["text"] = "[[GLITCH]] " + passages[1]["text"]
    passages[2]["text"] = "[[DOWN]] " + passages[2]["text"]
    cfg = gen_config(tmp_path, server.url, max_retries=2)
    write_passages(cfg.run_dir, passages)
    first = GenerateStage(cfg).run()
    assert first["replies_dropped"] == {"request_error": 1}
    assert first["request_errors_by_cause"] == {"server_error": 1}
    assert server.requests[passages[1]["text"]] == 2  # the glitch, then a good reply
    assert server.requests[passages[2]["text"]] == 3  # one policy: 1 + max_retries attempts, no more
    assert read_marker(cfg.run_dir / "generate") is not None
    assert not GenerateStage(cfg).is_done()  # a failed request leaves work to do
    server.down = False
    before = dict(server.requests)
    again = GenerateStage(cfg).run()
    sent = {text: n - before.get(text, 0) for text, n in server.requests.items() if n - before.get(text, 0)}
    assert sent == {passages[2]["text"]: 1}  # exactly the failed passage
    assert again["replies_dropped"] == {} and again["rows"] == 12
    assert GenerateStage(cfg).is_done()


def test_api_key_echoed_by_the_endpoint_is_redacted(tmp_path, server):
    passages = italian_passages(2)
    passages[0]["text"] = "[[ECHOKEY]] " + passages[0]["text"]
    cfg = gen_config(tmp_path, server.url)
    write_passages(cfg.run_dir, passages)
    stats = GenerateStage(cfg).run()
    assert stats["replies_dropped"] == {"request_error": 1}
    assert grep_run_folder(cfg.run_dir, SECRET) == []
    dropped = pq.read_table(cfg.run_dir / "generate" / "dropped.parquet").to_pylist()
    assert "[REDACTED]" in dropped[0]["raw"]


def test_a_passage_that_keeps_failing_becomes_final(tmp_path, server):
    """Sent again on reruns, but after MAX_ATTEMPTS failed runs its failure is final: the stage finishes."""
    from pipeline.generation.raw_replies import MAX_ATTEMPTS

    passages = italian_passages(5)
    passages[0]["text"] = "[[DOWN]] " + passages[0]["text"]
    cfg = gen_config(tmp_path, server.url, max_retries=0)
    write_passages(cfg.run_dir, passages)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        stats = GenerateStage(cfg).run()
        assert server.requests[passages[0]["text"]] == attempt
        assert GenerateStage(cfg).is_done() == (attempt == MAX_ATTEMPTS)
    assert stats["retryable_failures"] == 0 and stats["replies_dropped"] == {"request_error": 1}


def test_a_dead_endpoint_stops_the_run_instead_of_failing_every_passage(tmp_path, server):
    passages = italian_passages(8)
    for p in passages:
        p["text"] = "[[DOWN]] " + p["text"]
    cfg = gen_config(tmp_path, server.url, max_retries=0, batch_passages=4, max_passages=8)
    write_passages(cfg.run_dir, passages)
    with pytest.raises(EndpointError, match="4 of 4 requests of batch_000.* looks down"):
        GenerateStage(cfg).run()
    assert server.stats()["chat_requests"] == 4  # the second batch was never sent
    server.down = False
    assert GenerateStage(cfg).run()["rows"] == 24  # the rerun sends the failed and the unsent passages
