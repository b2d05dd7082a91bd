"""Optional LLM judge: ask the generate stage's endpoint whether a mined negative actually answers the query.

The question is the language file's ``prompts.judge`` (yes/no, in the target language). Verdicts are cached in
``mine/judge_cache.jsonl`` so a rerun never asks twice. With a local ``generate.backend`` the server is
started for the duration of the mining, as the generate stage does.

Example::

    with open_judge(config, language, run_dir / "mine") as judge:
        judge.answers("alluvione Modena 2014", "Nel 2014 il Secchia ha allagato Modena...")   # True
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError, EndpointError
from pipeline.languages import JudgePromptSpec, LanguageSpec


def parse_verdict(reply: str, prompt: JudgePromptSpec) -> bool | None:
    """True for yes, False for no, None when the first word is neither.

    >>> parse_verdict("Sì, il passaggio...", JudgePromptSpec())
    True
    """
    words = reply.strip().lower().split()
    first = words[0].strip(" .,:;!?\"'*`«»") if words else ""
    if first in {w.lower() for w in prompt.yes}:
        return True
    if first in {w.lower() for w in prompt.no}:
        return False
    return None


class LLMJudge:
    """Yes/no verdicts from an OpenAI-compatible chat endpoint, cached on disk (thread-safe)."""

    def __init__(self, client, model: str, prompt: JudgePromptSpec, cache_path: Path):
        self.client, self.model, self.prompt = client, model, prompt
        self.cache_path = Path(cache_path)
        self._lock = threading.Lock()
        self._cache: dict[str, bool | None] = {}
        if self.cache_path.is_file():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self._cache[record["key"]] = record["verdict"]

    def _key(self, query: str, passage: str) -> str:
        return hashlib.sha256(json.dumps([self.model, self.prompt.user, query, passage]).encode()).hexdigest()

    def answers(self, query: str, passage: str) -> bool | None:
        key = self._key(query, passage)
        if key in self._cache:
            return self._cache[key]
        messages = [{"role": "system", "content": self.prompt.system},
                    {"role": "user", "content": self.prompt.user.format(query=query, passage=passage)}]
        try:
            reply = self.client.chat.completions.create(model=self.model, messages=messages, max_tokens=4,
                                                        temperature=0)
        except Exception as e:  # noqa: BLE001 - any client error: stop with its message, cached verdicts stay
            raise EndpointError(f"the LLM judge request failed ({type(e).__name__}: {str(e)[:300]}). Verdicts so "
                                f"far are kept in {self.cache_path}; fix the endpoint or set mine.llm_judge: "
                                "false, then rerun.") from None
        verdict = parse_verdict(reply.choices[0].message.content or "", self.prompt)
        with self._lock:
            self._cache[key] = verdict
            with open(self.cache_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "verdict": verdict}) + "\n")
        return verdict


@contextmanager
def open_judge(config: PipelineConfig, language: LanguageSpec, stage_dir: Path):
    """Yield an LLMJudge on the generate stage's endpoint (starting the local llama.cpp server if configured)."""
    import openai

    from pipeline.generation.endpoint import api_key_from_env, preflight

    gen = config.generate
    if gen.backend == "vllm":
        raise ConfigError("mine.llm_judge needs an OpenAI-compatible endpoint: set generate.backend to 'endpoint' "
                          "(with generate.endpoint_url), 'llama-server' or 'llamacpp', or set mine.llm_judge: false")
    key = api_key_from_env(gen.api_key_env)
    with _endpoint_url(gen, stage_dir) as url:
        preflight(url, key, gen.model, gen.api_key_env)
        client = openai.OpenAI(api_key=key or "no-key", base_url=url, timeout=gen.request_timeout,
                               max_retries=gen.max_retries)
        yield LLMJudge(client, gen.model, language.prompts.judge, stage_dir / "judge_cache.jsonl")


@contextmanager
def _endpoint_url(gen, stage_dir: Path):
    """The configured endpoint URL, or a local llama.cpp server's for the duration of the block."""
    from pipeline.generation.llamacpp import LOCAL_BACKENDS, local_server

    if gen.backend in LOCAL_BACKENDS:
        with local_server(gen.backend, gen.llamacpp, gen.model, stage_dir / f"{gen.backend}.log") as url:
            yield url
    else:
        yield gen.endpoint_url
