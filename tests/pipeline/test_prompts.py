"""Unit tests for prompts and reply validation: styles_for, build_messages, reply_schema, prompt_hash, parse_reply."""

from __future__ import annotations

import json
import pickle

import pytest

from pipeline.generation.prompts import (
    build_messages,
    parse_reply,
    prompt_hash,
    reply_example,
    reply_schema,
    styles_for,
)
from pipeline.languages import load_language
from pipeline.stages.generate import MessageBuilder

STYLES = ["keywords", "question", "descriptive"]
PASSAGE = "Il Po è il fiume più lungo d'Italia: nasce dal Monviso e sfocia nel mare Adriatico."


@pytest.fixture(scope="module")
def prompts():
    return load_language("ita_Latn").prompts


@pytest.fixture(scope="module")
def refusals(prompts):
    return prompts.refusals


def reply(*items) -> str:
    """A reply with (style, query) or (style, query, answer) items."""
    return json.dumps({"queries": [{"style": i[0], "query": i[1], **({"answer": i[2]} if len(i) > 2 else {})}
                                   for i in items]}, ensure_ascii=False)


# ------------------------------------------------------------------------------------------- styles_for
@pytest.mark.parametrize(("n", "expected"), [
    (1, ["keywords"]),
    (3, STYLES),
    (5, [*STYLES, "keywords", "question"]),
])
def test_styles_for_cycles_the_configured_mix(n, expected):
    assert styles_for(STYLES, n) == expected


def test_styles_for_single_style():
    assert styles_for(["question"], 3) == ["question"] * 3


# ---------------------------------------------------------------------------------------- build_messages
def test_build_messages_fills_the_template(prompts):
    messages = build_messages(PASSAGE, prompts, STYLES)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]  # the worked example first
    assert messages[0]["content"] == prompts.system
    assert prompts.demo.passage in messages[1]["content"] and PASSAGE not in messages[1]["content"]
    user = messages[-1]["content"]
    assert user.replace(PASSAGE, prompts.demo.passage) == messages[1]["content"]  # one template, one prefix
    assert PASSAGE in user
    assert reply_example(prompts, STYLES) in user
    for style in STYLES:
        assert f"- {prompts.styles[style]}" in user
    assert user.index(prompts.styles["keywords"]) < user.index(prompts.styles["question"])
    assert "{passage}" not in user and "{n}" not in user and "{styles}" not in user
    assert " 3 " in user  # {n}


def test_build_messages_keeps_braces_in_the_passage(prompts):
    tricky = 'Nel codice si scrive {"chiave": 1} oppure {n} e {passage}.'
    user = build_messages(tricky, prompts, ["question"])[-1]["content"]
    assert tricky in user


def test_build_messages_rejects_unknown_style(prompts):
    with pytest.raises(ValueError, match="poesia"):
        build_messages(PASSAGE, prompts, ["keywords", "poesia"])


def test_message_builder_is_picklable(prompts):
    """datatrove sends the rollout's shared context to worker processes (spawn): it must pickle."""
    builder = MessageBuilder(prompts, STYLES)
    clone = pickle.loads(pickle.dumps(builder))
    assert clone(PASSAGE) == builder(PASSAGE) == build_messages(PASSAGE, prompts, STYLES)


# ------------------------------------------------------------------------------------------ reply_schema
def test_reply_schema_shape():
    schema = reply_schema(styles_for(STYLES, 4))
    queries = schema["properties"]["queries"]
    assert schema["required"] == ["queries"] and queries["type"] == "array"
    assert queries["minItems"] == queries["maxItems"] == 4
    items = queries["prefixItems"]  # one schema per position: the styles in the order asked
    assert [item["properties"]["style"]["enum"] for item in items] == [[s] for s in styles_for(STYLES, 4)]
    for item in items:
        assert item["required"] == ["style", "query", "answer"]
        assert item["properties"]["answer"] == item["properties"]["query"] == {"type": "string"}
    json.dumps(schema)  # sent in the request body


def test_demo_reply_follows_the_requested_styles(prompts):
    from pipeline.generation.prompts import demo_reply

    reply = json.loads(demo_reply(prompts, ["question", "keywords", "question"]))["queries"]
    assert [r["style"] for r in reply] == ["question", "keywords", "question"]
    assert reply[0]["query"] != reply[2]["query"]  # the i-th question takes the i-th example
    for r in reply:  # the demonstration obeys its own rules: evidence copied from its passage
        assert r["answer"] in prompts.demo.passage
    with pytest.raises(ValueError, match="no example query for style 'poesia'"):
        demo_reply(prompts.model_copy(update={"styles": {**prompts.styles, "poesia": "x"}}), ["poesia"])


# ------------------------------------------------------------------------------------------- prompt_hash
def test_prompt_hash_is_stable(prompts):
    first = prompt_hash(prompts, STYLES)
    assert first == prompt_hash(load_language("ita_Latn").prompts, list(STYLES))
    assert len(first) == 12 and int(first, 16) >= 0


def test_prompt_hash_follows_what_shapes_the_request(prompts):
    base = prompt_hash(prompts, STYLES)
    assert prompt_hash(prompts, list(reversed(STYLES))) != base
    assert prompt_hash(prompts, STYLES[:2]) != base
    assert prompt_hash(prompts.model_copy(update={"system": prompts.system + " "}), STYLES) != base
    assert prompt_hash(prompts.model_copy(update={"user": prompts.user + "\n"}), STYLES) != base
    styles = {**prompts.styles, "question": "domanda diversa"}
    assert prompt_hash(prompts.model_copy(update={"styles": styles}), STYLES) != base


def test_prompt_hash_ignores_the_judge_prompt(prompts):
    if "judge" not in type(prompts).model_fields:
        pytest.skip("no judge prompt in this PromptSpec")
    judge = prompts.judge.model_copy(update={"system": "altro giudice"})
    assert prompt_hash(prompts.model_copy(update={"judge": judge}), STYLES) == prompt_hash(prompts, STYLES)


# ------------------------------------------------------------------------------------------- parse_reply
def test_parse_valid_reply(refusals):
    text = reply(("keywords", "Po fiume  lungo"), ("question", "Qual è il fiume\npiù lungo d'Italia?", " il  Po "),
                 ("descriptive", "dove nasce e dove sfocia il fiume più lungo d'Italia"))
    parsed = parse_reply(text, "stop", STYLES, refusals)
    assert parsed.drop_reason is None and parsed.query_drops == {}
    assert parsed.queries == [("keywords", "Po fiume lungo", ""), ("question", "Qual è il fiume più lungo d'Italia?",
                                                                   "il Po"),
                              ("descriptive", "dove nasce e dove sfocia il fiume più lungo d'Italia", "")]


@pytest.mark.parametrize("wrap", ["```json\n{}\n```", "```\n{}\n```", "  ```JSON\n{}```  ", "\n{}\n"])
def test_parse_accepts_fenced_json(refusals, wrap):
    text = wrap.replace("{}", reply(("question", "Qual è il fiume più lungo?")))
    assert parse_reply(text, "stop", STYLES, refusals).queries == [("question", "Qual è il fiume più lungo?", "")]


def test_parse_accepts_a_bare_list_of_items(refusals):
    text = json.dumps([{"style": "question", "query": "Dove nasce il Po?"}])
    assert parse_reply(text, "stop", STYLES, refusals).queries == [("question", "Dove nasce il Po?", "")]


@pytest.mark.parametrize(("text", "finish", "reason"), [
    ("", "stop", "empty"),
    ("   \n ", "stop", "empty"),
    (None, "stop", "empty"),
    ("Mi dispiace, non posso aiutarti con questa richiesta.", "stop", "refusal"),
    ("I'm sorry, I cannot help with that.", "stop", "refusal"),
    ('{"queries": [{"style": "question", "query": "Dove nasce', "length", "over_long"),
    ("Ecco le query: keywords = Po fiume; question = dove nasce", "stop", "invalid_json"),
    ("```json\n{\"queries\": [\n```", "stop", "invalid_json"),
    ('{"risposta": "ecco"}', "stop", "invalid_schema"),
    ('{"queries": []}', "stop", "invalid_schema"),
    ('{"queries": "Dove nasce il Po?"}', "stop", "invalid_schema"),
    ("42", "stop", "invalid_schema"),
    ("[]", "stop", "invalid_schema"),
    ('{"queries": [{"style": "question", "query": ""}, {"style": "keywords", "query": " "}]}', "stop",
     "no_valid_query"),
])
def test_parse_reply_drop_reasons(refusals, text, finish, reason):
    parsed = parse_reply(text, finish, STYLES, refusals)
    assert parsed.drop_reason == reason
    assert parsed.queries == []


def test_refusal_is_checked_before_length(refusals):
    assert parse_reply("Mi dispiace, non posso", "length", STYLES, refusals).drop_reason == "refusal"


def test_json_that_mentions_a_refusal_phrase_is_parsed(refusals):
    text = reply(("question", "Perché non posso vedere il Monviso da Torino?"), ("keywords", "Po Monviso sorgente"))
    parsed = parse_reply(text, "stop", STYLES, refusals)
    assert parsed.drop_reason is None
    assert parsed.queries == [("keywords", "Po Monviso sorgente", "")]
    assert parsed.query_drops == {"refusal": 1}


def test_query_drop_reasons_are_counted(refusals):
    text = json.dumps({"queries": [
        {"style": "question", "query": "Dove nasce il Po?"},
        {"style": "keywords", "query": ""},
        {"style": "keywords", "query": 17},
        {"style": "keywords"},
        {"style": "descriptive", "query": "parola " * 100},
        {"style": "question", "query": "Mi dispiace, non posso scrivere questa query"},
        {"style": "poesia", "query": "un fiume che scorre lento"},
        {"query": "senza stile"},
        "una stringa senza stile",
    ]})
    parsed = parse_reply(text, "stop", STYLES, refusals)
    assert parsed.drop_reason is None
    assert parsed.queries == [("question", "Dove nasce il Po?", "")]
    assert parsed.query_drops == {"empty_query": 3, "over_long_query": 1, "refusal": 1, "unknown_style": 3}


def test_max_query_chars_is_a_parameter(refusals):
    text = reply(("question", "Dove nasce il fiume Po?"))
    assert parse_reply(text, "stop", STYLES, refusals, max_query_chars=10).query_drops == {"over_long_query": 1}
    assert parse_reply(text, "stop", STYLES, refusals, max_query_chars=10).drop_reason == "no_valid_query"


@pytest.mark.parametrize("text", ["{", "null", "true", '"stringa"', "[1, 2]", '{"queries": [null]}',
                                  '{"queries": {"a": 1}}', "\x00\x01", "```", "[[[[[]]]]]"])
def test_parse_reply_never_raises(refusals, text):
    parsed = parse_reply(text, "stop", STYLES, refusals)
    assert parsed.drop_reason is not None or parsed.queries


def test_reply_example_shows_only_the_requested_styles(prompts):
    example = json.loads(reply_example(prompts.model_copy(update={"example": None}), ["keywords", "question"]))
    assert [item["style"] for item in example["queries"]] == ["keywords", "question"]
    assert all(set(item) == {"style", "query", "answer"} for item in example["queries"])
    assert reply_example(prompts.model_copy(update={"example": "{fisso}"}), ["question"]) == "{fisso}"


def test_prompt_hash_ignores_what_the_request_does_not_carry(prompts):
    """Refusal phrases (parser only) and styles not requested do not change the hash; the demo does."""
    base = prompt_hash(prompts, ["question", "keywords"])
    assert prompt_hash(prompts.model_copy(update={"refusals": ["nuova frase"]}), ["question", "keywords"]) == base
    styles = {**prompts.styles, "descriptive": "un'altra descrizione"}
    assert prompt_hash(prompts.model_copy(update={"styles": styles}), ["question", "keywords"]) == base
    demo = prompts.demo.model_copy(update={"passage": prompts.demo.passage + " Fine."})
    assert prompt_hash(prompts.model_copy(update={"demo": demo}), ["question", "keywords"]) != base
