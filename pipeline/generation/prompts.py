"""Prompts from the language file, the JSON schema of a reply, and validation of replies.

Example:
    >>> from pipeline.languages import load_language
    >>> lang = load_language("ita_Latn")
    >>> msgs = build_messages("Il Po è il fiume più lungo d'Italia.", lang.prompts, ["keywords", "question"])
    >>> parse_reply('{"queries": [{"style": "question", "query": "Qual è il fiume più lungo?", "answer": "il Po"}]}',
    ...             "stop", ["question"], lang.prompts.refusals).queries
    [('question', 'Qual è il fiume più lungo?', 'il Po')]
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from pipeline.languages import PromptSpec

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)


def styles_for(styles: list[str], n: int) -> list[str]:
    """The styles asked for in one request: the configured mix, cycled to n entries."""
    return [styles[i % len(styles)] for i in range(n)]


def build_messages(passage: str, prompts: PromptSpec, styles: list[str]) -> list[dict]:
    unknown = [s for s in styles if s not in prompts.styles]
    if unknown:
        raise ValueError(f"style(s) {unknown} not described in the language file's prompts.styles")
    style_lines = "\n".join(f"- {prompts.styles[s]}" for s in styles)
    example = reply_example(prompts, styles)

    def user(text: str) -> dict:
        return {"role": "user", "content": prompts.user.format(passage=text, n=len(styles), styles=style_lines,
                                                                example=example)}

    messages = [{"role": "system", "content": prompts.system}]
    if prompts.demo is not None:  # one worked example as a previous turn: the same prefix for every passage
        messages += [user(prompts.demo.passage), {"role": "assistant", "content": demo_reply(prompts, styles)}]
    return messages + [user(passage)]


def demo_reply(prompts: PromptSpec, styles: list[str]) -> str:
    """The demonstration's answer for the requested styles: the i-th request of a style takes its i-th example."""
    seen: dict[str, int] = {}
    items = []
    for style in styles:
        examples = prompts.demo.queries.get(style) or []
        if not examples:
            raise ValueError(f"prompts.demo has no example query for style '{style}': add one to the language file")
        example = examples[seen.get(style, 0) % len(examples)]
        seen[style] = seen.get(style, 0) + 1
        items.append({"style": style, "query": example.query, "answer": example.answer})
    return json.dumps({"queries": items}, ensure_ascii=False)


def reply_example(prompts: PromptSpec, styles: list[str]) -> str:
    """The reply shape shown in the prompt: the language file's ``example``, else one item per requested style
    (so a run with two styles never shows the model a third)."""
    if prompts.example:
        return prompts.example
    items = [{"style": s, "query": "...?" if s == "question" else "...", "answer": "..."} for s in styles]
    return json.dumps({"queries": items}, ensure_ascii=False)


def reply_schema(styles: list[str]) -> dict:
    """JSON schema of a reply: the requested styles in order (``prefixItems``: a constrained decoder cannot write
    two keyword queries where a question was asked), each item with the query and its evidence (``answer``)."""

    def item(style: str) -> dict:
        return {"type": "object", "properties": {"style": {"type": "string", "enum": [style]},
                                                 "query": {"type": "string"}, "answer": {"type": "string"}},
                "required": ["style", "query", "answer"]}

    queries = {"type": "array", "prefixItems": [item(s) for s in styles],
               "minItems": len(styles), "maxItems": len(styles)}
    return {"type": "object", "properties": {"queries": queries}, "required": ["queries"]}


def prompt_hash(prompts: PromptSpec, styles: list[str]) -> str:
    """Hash of everything that shapes the request except the passage (recorded with every query and stored reply):
    the messages themselves, built around a placeholder passage, and the styles asked for.

    What only the parser or other stages read (refusal phrases, the judge prompt, descriptions and examples of
    styles not requested) is left out: editing it must not make finished replies look stale.
    """
    messages = build_messages("\x00passage\x00", prompts, styles)
    payload = json.dumps({"messages": messages, "styles": styles}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class ParsedReply:
    queries: list[tuple[str, str, str]] = field(default_factory=list)  # (style, query, evidence or "")
    drop_reason: str | None = None  # the whole reply was dropped
    query_drops: dict[str, int] = field(default_factory=dict)  # single queries dropped, by reason


def parse_reply(text: str, finish_reason: str | None, styles: list[str], refusals: list[str],
                max_query_chars: int = 400) -> ParsedReply:
    """Validate one LLM reply. Never raises: a bad reply comes back with its drop reason."""
    if not text or not text.strip():
        return ParsedReply(drop_reason="empty")
    lowered = text.lower()
    if any(phrase in lowered for phrase in refusals) and "{" not in text:
        return ParsedReply(drop_reason="refusal")
    if finish_reason == "length":
        return ParsedReply(drop_reason="over_long")
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
    except json.JSONDecodeError:
        return ParsedReply(drop_reason="invalid_json")
    items = data.get("queries") if isinstance(data, dict) else data if isinstance(data, list) else None
    if not isinstance(items, list) or not items:
        return ParsedReply(drop_reason="invalid_schema")
    reply = ParsedReply()
    for item in items:
        style, query = (item.get("style"), item.get("query")) if isinstance(item, dict) else (None, item)
        evidence = item.get("answer") if isinstance(item, dict) else None
        reason = None
        if not isinstance(query, str) or not query.strip():
            reason = "empty_query"
        elif len(query) > max_query_chars:
            reason = "over_long_query"
        elif any(phrase in query.lower() for phrase in refusals):
            reason = "refusal"
        elif style not in styles:
            reason = "unknown_style"
        if reason:
            reply.query_drops[reason] = reply.query_drops.get(reason, 0) + 1
        else:
            evidence = " ".join(evidence.split()) if isinstance(evidence, str) else ""
            reply.queries.append((style, " ".join(query.split()), evidence))
    if not reply.queries:
        reply.drop_reason = "no_valid_query"
    return reply
