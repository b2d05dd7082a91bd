"""From raw replies to query rows: one reply per passage (a usable one wins over a failed request), parsed and
validated by the prompt's rules, with every drop counted by reason.

Kept apart from the generate stage, which sends the requests: reading replies never needs the endpoint.

Example::

    collected = collect_queries(records, styles=["question", "keywords"], refusals=prompts.refusals,
                                prompt_hash=phash, model="qwen2.5", doc_of={"p1": "d1"})
    collected.rows[0]   # {"query_id", "passage_id", "doc_id", "style", "query", "evidence", "model", "prompt_hash"}
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.generation.prompts import parse_reply
from pipeline.generation.raw_replies import error_cause, reply_of


@dataclass
class CollectedQueries:
    rows: list[dict] = field(default_factory=list)  # valid queries (GENERATED_QUERIES)
    dropped: list[dict] = field(default_factory=list)  # dropped replies with the raw text (GENERATE_DROPPED)
    replies_dropped: Counter = field(default_factory=Counter)  # reason -> replies
    queries_dropped: Counter = field(default_factory=Counter)  # reason -> queries
    error_causes: Counter = field(default_factory=Counter)  # failed request cause -> passages
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    passages: int = 0  # passages with a reply or a failed request


def query_id(passage_id: str, style: str, query: str) -> str:
    return hashlib.sha1(f"{passage_id}|{style}|{query}".encode()).hexdigest()[:16]


def collect_queries(records: Iterable[dict], styles: list[str], refusals, prompt_hash: str, model: str,
                    doc_of: dict[str, str]) -> CollectedQueries:
    """Parse every passage's reply (``records``: InferenceRunner records, stored replies first). ``doc_of``: a
    passage's document as this run's passages stage has it (a stored reply may come from a run that grouped
    documents otherwise)."""
    chosen: dict[str, dict] = {}  # one record per passage: a usable reply wins over a failed request
    for record in records:
        earlier = chosen.get(record["id"])
        if earlier is None or ("error" in reply_of(earlier) and "error" not in reply_of(record)):
            chosen[record["id"]] = record
    out = CollectedQueries(passages=len(chosen))
    # by passage id, not in the order the replies finished: with concurrent requests that order changes from run to
    # run, and it carried through to the published train split (and mine's encoding batches)
    for record in (chosen[pid] for pid in sorted(chosen)):
        reply = reply_of(record)
        for key in out.usage:
            out.usage[key] += (reply.get("usage") or {}).get(key, 0) or 0
        if "error" in reply:
            reason, parsed = "request_error", None
            out.error_causes[error_cause(reply["error"])] += 1
        else:
            parsed = parse_reply(reply.get("text", ""), reply.get("finish_reason"), styles, refusals)
            reason = parsed.drop_reason
            out.queries_dropped.update(parsed.query_drops)
        if reason:
            out.replies_dropped[reason] += 1
            out.dropped.append({"passage_id": record["id"], "reason": reason,
                                "raw": (reply.get("text") or reply.get("error") or "")[:2000]})
            continue
        in_reply = set()
        for style, query, evidence in parsed.queries:
            qid = query_id(record["id"], style, query)
            if qid in in_reply:  # the same query twice in one reply (a style asked twice)
                out.queries_dropped["repeated_in_reply"] += 1
                continue
            in_reply.add(qid)
            out.rows.append({"query_id": qid, "passage_id": record["id"],
                             "doc_id": doc_of.get(record["id"], record.get("metadata", {}).get("doc_id", "")),
                             "style": style, "query": query, "evidence": evidence, "model": model,
                             "prompt_hash": prompt_hash})
    return out
