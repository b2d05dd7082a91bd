"""Talking to an OpenAI-compatible endpoint through datatrove's InferenceRunner.

datatrove's EndpointServer sends raw HTTP to localhost URLs (where 429 and 5xx are not retried and the URL must
lack the ``/v1`` that OpenAI base URLs carry) and the openai client elsewhere. Users point us at base URLs in the
OpenAI convention (``http://host:port/v1``) on any host, so this server always uses the openai client: the same
behaviour for a local llama.cpp server, vLLM or a hosted API. Concurrency, retries with back-off, the request
cache and resume stay InferenceRunner's.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from datatrove.pipeline.inference.checkpointing import CheckpointManager
from datatrove.pipeline.inference.run_inference import InferenceRunner
from datatrove.pipeline.inference.servers import EndpointServer, InferenceServer
from datatrove.pipeline.inference.types import InferenceError

from pipeline.atomic import atomic_path
from pipeline.errors import EndpointError

FATAL_ERRORS = ("AuthenticationError", "PermissionDeniedError", "NotFoundError", "Error code: 401",
                "Error code: 403", "Error code: 404")


class OpenAICompatibleServer(EndpointServer):
    """EndpointServer that always uses the openai client, with one retry policy: ``generate.max_retries``.

    The openai client retries connection errors, timeouts, 429 and 5xx ``max_retries`` times with its back-off; a
    200 whose body is empty, not JSON or without ``choices`` (a proxy or server glitch) is retried here as many
    times. When the retries are spent the request fails for this passage with its cause (``timeout``,
    ``connection``, ``rate_limit``, ``server_error``, ``malformed_reply``) as an InferenceError, which the rollout
    records; it never reaches InferenceRunner's own retry loop, whose 6 tries would multiply the client's (up to
    ~6.5 minutes per failing passage, holding a request slot). A rerun sends the failed passages again.
    """

    def __init__(self, config, rank: int, client_max_retries: int = 5, api_key_env: str | None = None):
        InferenceServer.__init__(self, config, rank)
        from openai import AsyncOpenAI

        self.endpoint_url = config.endpoint_url
        self.max_retries = client_max_retries
        api_key = config.api_key or (api_key_from_env(api_key_env) if api_key_env else None)
        self.client = AsyncOpenAI(api_key=api_key or "no-key", base_url=config.endpoint_url,
                                  timeout=config.request_timeout, max_retries=client_max_retries)

    async def _make_request(self, payload: dict) -> dict:
        """POST the payload as it is and return the reply as a plain dict (datatrove's shape).

        EndpointServer goes through ``chat.completions.create``, which walks every message through the openai
        client's type transform and builds pydantic models of the reply: about a quarter of the event loop's time
        per request, which at 64 requests in flight saturates the one core the loop runs on
        (``benchmarks/generate.py``). The client's low-level ``post`` keeps its retries, back-off, timeouts and
        error classes. The payload is copied: the same dict may be sent again.
        """
        import openai

        path = "/chat/completions" if self.config.use_chat else "/completions"
        for attempt in range(self.max_retries + 1):
            try:
                reply = await self.client.post(path, body=dict(payload), cast_to=dict)
            except (openai.AuthenticationError, openai.BadRequestError, openai.NotFoundError,
                    openai.PermissionDeniedError) as e:  # no retry can fix these
                raise InferenceError(None, str(e), payload=payload) from e
            except (openai.APITimeoutError, asyncio.TimeoutError) as e:  # the client's retries are spent
                raise InferenceError(None, f"timeout: {e}", payload=payload) from e
            except openai.RateLimitError as e:
                raise InferenceError(None, f"rate_limit: {e}", payload=payload) from e
            except openai.InternalServerError as e:
                raise InferenceError(None, f"server_error: {e}", payload=payload) from e
            except openai.APIConnectionError as e:
                raise InferenceError(None, f"connection: {e.__cause__ or e}", payload=payload) from e
            except (json.JSONDecodeError, openai.APIResponseValidationError) as e:  # a 200 with a garbled body
                reply, problem = None, f"malformed_reply: {e}"
            except Exception as e:  # noqa: BLE001 - anything else: a per-passage error with the message
                raise InferenceError(None, str(e), payload=payload) from e
            else:
                problem = None if isinstance(reply, dict) and reply.get("choices") else \
                    f"malformed_reply: no choices in {str(reply)[:200]}"
            if problem is None:
                reply["usage"] = reply.get("usage") or {}  # some servers send null; InferenceRunner reads a dict
                return reply
            if attempt < self.max_retries:
                await asyncio.sleep(min(0.5 * 2**attempt, 8.0))
        raise InferenceError(None, f"{problem} (after {self.max_retries + 1} attempts)", payload=payload)

    async def is_ready(self) -> bool:
        from openai import APIConnectionError, APITimeoutError

        try:
            await self.client.models.list()
        except (APIConnectionError, APITimeoutError):
            return False
        except Exception:  # noqa: BLE001 - auth errors etc. surface on the first request, with their message
            return True
        return True


class QueryInferenceRunner(InferenceRunner):
    """InferenceRunner whose ``endpoint`` server is :class:`OpenAICompatibleServer` (vllm etc. unchanged).

    The API key is read from the environment variable ``api_key_env`` when the server starts, not kept in the
    InferenceConfig: datatrove writes the whole pipeline, config included, to ``logs/.../executor.json``.
    """

    def __init__(self, *args, client_max_retries: int = 5, api_key_env: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.client_max_retries = client_max_retries
        self.api_key_env = api_key_env
        manager = self.checkpoint_manager
        self.checkpoint_manager = CompletionFirstCheckpointManager(
            manager.checkpoints_local_dir, manager.records_per_chunk, request_cache=manager.request_cache)

    def _init_server(self, rank: int):
        if self.config.server_type == "endpoint":
            return OpenAICompatibleServer(self.config, rank, self.client_max_retries, self.api_key_env)
        return super()._init_server(rank)


class CompletionFirstCheckpointManager(CheckpointManager):
    """datatrove's CheckpointManager with a finished chunk recorded before its checkpoint file is removed.

    datatrove (0.10) removes the chunk's file, awaits the request cache, then writes ``last_chunk``: a run stopped
    at that await (a fatal error in another request, Ctrl-C, a killed session) loses the finished chunk, and the
    rerun sends its passages again although their replies are on disk. Here ``last_chunk`` is written first
    (atomically, no await before it); the file and the cache entries go after, and a leftover file of a chunk at or
    below ``last_chunk`` is skipped by datatrove's resume.
    """

    async def update_last_chunk_index(self, rank: int) -> None:
        async with self.checkpoint_file_lock:
            while self.last_chunk_index + 1 in self.new_completed_chunks:
                chunk_index = self.last_chunk_index + 1
                marker = Path(self.checkpoints_local_dir, "last_chunk", f"{rank:05d}.txt")
                with atomic_path(marker) as tmp:
                    tmp.write_text(str(chunk_index))
                self.last_chunk_index = chunk_index
                self.new_completed_chunks.discard(chunk_index)
                self.file_locks.pop(chunk_index, None)
                self.per_chunk_counts.pop(chunk_index, None)
                chunk_file = Path(self.checkpoints_local_dir, f"{rank:05d}", f"chunk_{chunk_index:05d}.jsonl")
                chunk_file.unlink(missing_ok=True)
                if self.request_cache is not None:
                    await self.request_cache.drop_chunk(chunk_index)


async def query_rollout(document, generate, *, messages_for, request_params: dict, api_key_env: str | None = None):
    """One request per passage. Returns the raw reply (parsed later, so replies can be re-validated offline).

    Per-passage failures (a 400 for an over-long prompt, retries exhausted) are recorded, not raised; failures
    that no retry can fix (bad key, unknown model) stop the run with the endpoint's message. The API key is
    redacted from anything recorded (an endpoint may echo it in an error body or a reply).
    """
    secret = api_key_from_env(api_key_env) if api_key_env else None
    payload = {"messages": messages_for(document.text), **request_params}
    try:
        result = await generate(payload)
    except InferenceError as e:
        message = redact(str(e.error if hasattr(e, "error") else e), secret)
        if any(marker in message for marker in FATAL_ERRORS):
            raise InferenceError(None, message) from None
        return {"error": message[:500]}
    return {"text": redact(result.text, secret), "finish_reason": result.finish_reason, "usage": result.usage}


def redact(text: str | None, secret: str | None) -> str | None:
    """``text`` with every occurrence of ``secret`` replaced (secrets shorter than 8 characters are left alone:
    they would blank ordinary words)."""
    if not text or not secret or len(secret) < 8:
        return text
    return text.replace(secret, "[REDACTED]")


def preflight(endpoint_url: str, api_key: str | None, model: str, api_key_env: str, timeout: float = 30) -> None:
    """Fail fast, with the cause, when the endpoint is unreachable, rejects the key or lacks the model."""
    import openai

    client = openai.OpenAI(api_key=api_key or "no-key", base_url=endpoint_url, timeout=timeout, max_retries=2)
    try:
        served = [m.id for m in client.models.list().data]
    except openai.APIConnectionError as e:
        raise EndpointError(f"cannot reach the LLM endpoint {endpoint_url} ({e.__cause__ or e}). Is the server "
                            "running and the URL right (OpenAI style, usually ending in /v1)?") from None
    except openai.AuthenticationError:
        raise EndpointError(f"the LLM endpoint {endpoint_url} rejected the API key: set a valid key in the "
                            f"environment variable {api_key_env} (generate.api_key_env)") from None
    except openai.NotFoundError:
        if _answers_with_v1(endpoint_url, api_key, timeout):
            raise EndpointError(f"the LLM endpoint {endpoint_url} answers 404 (not found), but "
                                f"{endpoint_url.rstrip('/')}/v1 answers: the URL lacks /v1. Fix: set "
                                f"generate.endpoint_url (pipeline.adapt: --endpoint) to {endpoint_url.rstrip('/')}/v1"
                                ) from None
        return  # some servers do not list models; the first request will tell
    except openai.APIStatusError as e:
        raise EndpointError(f"the LLM endpoint {endpoint_url} answered /models with HTTP {e.status_code}: "
                            f"{e.message}") from None
    if served and model not in served:
        raise EndpointError(f"the LLM endpoint {endpoint_url} does not serve model '{model}'. It serves: "
                            f"{', '.join(served[:20])}. Set generate.model to one of them.")


def _answers_with_v1(endpoint_url: str, api_key: str | None, timeout: float) -> bool:
    """Whether ``endpoint_url`` + ``/v1`` lists models (the usual mistake: the base URL without /v1)."""
    import openai

    if endpoint_url.rstrip("/").endswith("/v1"):
        return False
    client = openai.OpenAI(api_key=api_key or "no-key", base_url=endpoint_url.rstrip("/") + "/v1", timeout=timeout,
                           max_retries=0)
    try:
        client.models.list()
    except openai.OpenAIError:
        return False
    return True


def api_key_from_env(name: str) -> str | None:
    return os.environ.get(name) or None
