"""Replies -> query rows: one reply per passage, drops counted by reason, usage summed."""

from __future__ import annotations

from pipeline.generation.collect import collect_queries, query_id
from pipeline.languages import load_language
from retrieval.testing.fake_replies import reply_content

STYLES = ["question", "keywords"]
PASSAGE = "Il fiume Po attraversa la pianura padana e sfocia nel mare Adriatico vicino a Rovigo."


def _record(pid: str, text: str | None = None, error: str | None = None, finish: str = "stop") -> dict:
    reply = {"error": error} if error else {"text": text, "finish_reason": finish,
                                            "usage": {"prompt_tokens": 100, "completion_tokens": 20}}
    return {"id": pid, "metadata": {"doc_id": "from-reply", "reply": [reply]}}


def test_usable_reply_wins_and_drops_are_counted() -> None:
    refusals = load_language("ita_Latn").prompts.refusals
    good, _ = reply_content(PASSAGE, STYLES)
    records = [
        _record("p1", error="timeout: read timed out"),  # failed first, answered on a rerun
        _record("p1", good),
        _record("p2", "Mi dispiace, non posso aiutarti con questa richiesta."),
        _record("p3", error="server_error: 500"),
        _record("p4", good[: len(good) // 2], finish="length"),
    ]
    got = collect_queries(records, STYLES, refusals, "hash", "m", doc_of={"p1": "doc-1"})
    assert got.passages == 4
    assert {r["passage_id"] for r in got.rows} == {"p1"} and len(got.rows) == 2
    assert all(r["doc_id"] == "doc-1" and r["prompt_hash"] == "hash" and r["model"] == "m" for r in got.rows)
    assert got.rows[0]["query_id"] == query_id("p1", got.rows[0]["style"], got.rows[0]["query"])
    assert dict(got.replies_dropped) == {"refusal": 1, "request_error": 1, "over_long": 1}
    assert dict(got.error_causes) == {"server_error": 1}
    assert got.usage == {"prompt_tokens": 300, "completion_tokens": 60}
    assert {d["reason"] for d in got.dropped} == {"refusal", "request_error", "over_long"}


def test_the_same_query_twice_in_one_reply_is_kept_once() -> None:
    import json

    refusals = load_language("ita_Latn").prompts.refusals
    good = json.loads(reply_content(PASSAGE, ["keywords"])[0])["queries"][0]
    text = json.dumps({"queries": [good, good]}, ensure_ascii=False)
    got = collect_queries([_record("p1", text)], ["keywords", "keywords"], refusals, "h", "m", doc_of={})
    assert len(got.rows) == 1 and got.queries_dropped["repeated_in_reply"] == 1
    assert got.rows[0]["doc_id"] == "from-reply"  # not in this run's passages: the reply's own


def test_rows_do_not_depend_on_the_order_replies_finished() -> None:
    refusals = load_language("ita_Latn").prompts.refusals
    records = [_record(f"p{i}", reply_content(f"{PASSAGE} numero {i}", STYLES)[0]) for i in range(6)]
    first = collect_queries(records, STYLES, refusals, "h", "m", doc_of={})
    again = collect_queries(records[::-1], STYLES, refusals, "h", "m", doc_of={})
    assert [r["query_id"] for r in first.rows] == [r["query_id"] for r in again.rows]
    assert [r["passage_id"] for r in first.rows][::2] == [f"p{i}" for i in range(6)]
