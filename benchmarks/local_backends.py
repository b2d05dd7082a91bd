"""Benchmark: the two local llama.cpp backends on the same GGUF, prompts and passages, in one run.

Each configuration starts its server the way the generate stage does (pipeline/generation/llamacpp.py), sends the
same passages with the stage's own messages and request parameters, and is timed from the first request to the
last reply (server start-up excluded). It prints passages/s, the share of replies that parse, queries per passage
that pass the grounding rules, and the ratio of each configuration to the first one:

    python benchmarks/local_backends.py --gguf "$LLM_GGUF" --run runs/it_corpus --passages 30
    python benchmarks/local_backends.py --configs llama-server:2:schema llama-server:2:none llamacpp:1:object

A configuration is ``backend:concurrency:format[:server flags]``: format ``schema`` (json_schema, llama-server),
``object`` (json_object with a schema, llama-cpp-python's form) or ``none`` (no constraint: what the schema costs);
the optional fourth part is more server flags, comma-separated (``generate.llamacpp.extra_args``), e.g. n-gram
speculative decoding, which drafts tokens by looking up the text generated so far in the prompt (queries copy words
and evidence from the passage):

    python benchmarks/local_backends.py --gguf "$LLM_GGUF" --configs llama-server:1:schema \
        llama-server:1:schema:--spec-type,ngram-simple,--spec-ngram-simple-size-n,3,--spec-ngram-simple-size-m,12

Measured on 2 CPU cores (Qwen2.5-Coder-1.5B Q4_K_M, 16 it_corpus passages, 3 queries each): without speculation
0.107 passages/s (21 generated tokens/s); with the n-gram drafts above only 18-23% of drafted tokens were accepted
and generation fell to ~8 tokens/s, so it stays off (on a GPU, where verifying a draft costs little, it may pay).
``--dump FILE`` writes every reply with its grounding verdicts (JSONL) for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.filtering.grounding import GroundingRules  # noqa: E402
from pipeline.generation.llamacpp import local_server  # noqa: E402
from pipeline.generation.prompts import build_messages, parse_reply, reply_schema, styles_for  # noqa: E402
from pipeline.languages import load_language  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402


def request_params(fmt: str, styles: list[str], max_tokens: int, temperature: float) -> dict:
    params = {"max_tokens": max_tokens, "temperature": temperature}
    if fmt == "schema":
        params["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "queries", "schema": reply_schema(styles)}}
    elif fmt == "object":
        params["response_format"] = {"type": "json_object", "schema": reply_schema(styles)}
    return params


def run_config(spec: str, passages: list[dict], args, language, styles, rules, log_dir: Path) -> dict:
    import openai

    backend, concurrency, fmt, *flags = spec.split(":", 3)
    cfg = config_from_dict({"generate": {"backend": backend, "llamacpp": {
        "model_path": args.gguf, "n_threads": args.threads, "parallel": int(concurrency), "port": args.port,
        "extra_args": flags[0].split(",") if flags else []}}})
    params = request_params(fmt, styles, args.max_tokens, args.temperature)
    with local_server(backend, cfg.generate.llamacpp, "bench", log_dir / f"{backend}.log") as url:
        client = openai.OpenAI(api_key="none", base_url=url, timeout=600, max_retries=0)

        def ask(p: dict) -> dict:
            t0 = time.time()
            reply = client.chat.completions.create(model="bench", messages=build_messages(p["text"],
                                                   language.prompts, styles), **params)
            choice = reply.choices[0]
            return {"passage_id": p["passage_id"], "text": choice.message.content or "",
                    "finish_reason": choice.finish_reason, "seconds": time.time() - t0,
                    "completion_tokens": reply.usage.completion_tokens if reply.usage else 0}

        ask(passages[0])  # warm-up (not timed): the first request also fills the shared-prefix cache
        start = time.time()
        with ThreadPoolExecutor(int(concurrency)) as pool:
            replies = list(pool.map(ask, passages))
        elapsed = time.time() - start
    text_of = {p["passage_id"]: p["text"] for p in passages}
    valid = grounded = queries = 0
    for r in replies:
        parsed = parse_reply(r["text"], r["finish_reason"], styles, language.prompts.refusals)
        r["queries"] = []
        if parsed.drop_reason:
            r["drop"] = parsed.drop_reason
            continue
        valid += 1
        for style, query, evidence in parsed.queries:
            verdict = rules.check(query, evidence, text_of[r["passage_id"]], min_content_share=args.share[style],
                                  needs_evidence=style == "question")
            queries += 1
            grounded += verdict is None
            r["queries"].append({"style": style, "query": query, "evidence": evidence, "verdict": verdict})
    tokens = sum(r["completion_tokens"] for r in replies)
    return {"config": spec, "passages": len(passages), "seconds": round(elapsed, 1),
            "passages_per_s": round(len(passages) / elapsed, 4), "valid_replies": valid, "queries": queries,
            "grounded_queries": grounded, "completion_tokens_per_s": round(tokens / elapsed, 1),
            "median_latency_s": round(float(np.median([r["seconds"] for r in replies])), 1), "replies": replies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--run", default="runs/it_corpus", help="run folder whose passages are sent")
    parser.add_argument("--passages", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", nargs="+", default=["llama-server:2:schema", "llamacpp:1:object"])
    parser.add_argument("--styles", nargs="+", default=["keywords", "question"])
    parser.add_argument("--queries-per-passage", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--language", default="ita_Latn")
    parser.add_argument("--dump", help="write every reply with its grounding verdicts here (JSONL)")
    args = parser.parse_args()
    args.share = {"keywords": 0.75, "question": 0.5, "descriptive": 0.5}

    language = load_language(args.language)
    styles = styles_for(args.styles, args.queries_per_passage)
    rules = GroundingRules(set(language.stop_words))
    table = RunFolder(args.run).read("passages.passages")
    pick = np.random.default_rng(args.seed).choice(table.num_rows, size=min(args.passages, table.num_rows),
                                                   replace=False)
    passages = table.take(pick).select(["passage_id", "text"]).to_pylist()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.configs:
            print(f"[bench] {spec}: {len(passages)} passages ...", flush=True)
            results.append(run_config(spec, passages, args, language, styles, rules, Path(tmp)))
            r = results[-1]
            print(f"[bench] {spec}: {r['passages_per_s']} passages/s ({r['seconds']} s), valid replies "
                  f"{r['valid_replies']}/{r['passages']}, grounded queries {r['grounded_queries']}/{r['queries']}, "
                  f"{r['completion_tokens_per_s']} completion tokens/s, median latency {r['median_latency_s']} s",
                  flush=True)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for r in results:
                for reply in r["replies"]:
                    f.write(json.dumps({"config": r["config"], **reply}, ensure_ascii=False) + "\n")
    base = results[0]["passages_per_s"]
    width = max(27, *(len(r["config"]) for r in results))
    print(f"\n{'config':<{width}} passages/s   ratio to first")
    for r in results:
        print(f"{r['config']:<{width}} {r['passages_per_s']:>10.4f}   {r['passages_per_s'] / base:>6.2f}")


if __name__ == "__main__":
    main()
