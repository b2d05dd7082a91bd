"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks (what it writes: fake_replies.py).

The server (stdlib ``ThreadingHTTPServer``, one thread per connection, bound to 127.0.0.1 on an ephemeral port)
answers ``GET /v1/models`` and ``POST /v1/chat/completions``. Replies are deterministic and chosen by markers in
the passage text found in the user message:

====================  ==========================================================================
marker                reply
====================  ==========================================================================
(none)                valid JSON with one query per requested style, built from the passage's words
``[[FENCED]]``        the same JSON inside a ```json fence
``[[MALFORMED]]``     text that is not JSON
``[[SCHEMA]]``        JSON without a ``queries`` list
``[[REFUSE]]``        an Italian refusal sentence
``[[EMPTY]]``         empty content
``[[LONG]]``          truncated JSON with ``finish_reason: "length"``
``[[ENGLISH]]``       valid JSON with English queries
``[[BADQUERIES]]``    one valid query plus an empty, an over-long, a refusing and an unknown-style one
``[[NOVALID]]``       JSON whose queries are all empty
``[[400]]``           HTTP 400 (a bad request: never retried)
``[[429]]``           HTTP 429 with ``retry-after-ms: 10`` the first time, then a valid reply
``[[500]]``           HTTP 500 the first time, then a valid reply
``[[SLOW]]``          a valid reply after 0.3 s
``[[ECHOKEY]]``       HTTP 400 whose error message repeats the request's API key (a careless endpoint)
``[[GLITCH]]``        HTTP 200 with a body without ``choices`` the first time, then a valid reply
``[[DOWN]]``          HTTP 503 while ``server.down`` is True (the default), then valid replies
====================  ==========================================================================

Every reply carries ``usage``. The server counts requests and successes per passage (``requests``, ``successes``,
keyed by passage text) and keeps an ordered ``log`` of (passage, status). ``revoke_key_after(n)`` answers 401 to
every request once ``n`` chat requests have been received (a key revoked mid-run); ``delay`` answers every chat
request after a fixed delay (benchmarks). ``GET /_fake/stats`` returns the counters as JSON (for a server run in
another process: ``python -m retrieval.testing.fake_openai_server --delay 0.5``).

Example:
    >>> import json, urllib.request
    >>> with FakeOpenAIServer(model="fake-model") as server:
    ...     with urllib.request.urlopen(server.url + "/models", timeout=10) as response:
    ...         [m["id"] for m in json.loads(response.read())["data"]]
    ['fake-model']
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from retrieval.testing.fake_replies import passage_of, reply_content, styles_requested


class FakeOpenAIServer:
    """Deterministic OpenAI-compatible chat server on 127.0.0.1 (use as a context manager)."""

    def __init__(self, model: str = "fake-model", api_key: str | None = None, delay: float = 0.0,
                 served_models: list[str] | None = None, host: str = "127.0.0.1", port: int = 0):
        if not host.startswith("127."):
            raise ValueError("the fake server binds loopback addresses only")
        self.model, self.api_key, self.delay = model, api_key, delay
        self.served_models = served_models or [model]
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # chat requests per passage (any status)
        self.successes: Counter[str] = Counter()  # 200 replies per passage
        self.log: list[tuple[str, int]] = []  # (passage, status) in arrival order
        self.chat_requests = 0
        self.models_requests = 0
        self.in_flight = self.max_in_flight = 0
        self.first_arrival: float | None = None
        self.last_done: float | None = None
        self._failed_once: set[tuple[str, str]] = set()
        self.down = True  # [[DOWN]] passages fail with 503 until a test sets this to False
        self._revoke_after: int | None = None
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The OpenAI-style base URL (ends in /v1)."""
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --------------------------------------------------------------- controls
    def revoke_key_after(self, n: int) -> None:
        """Answer 401 to every request once ``n`` chat requests have been received (request n+1 on)."""
        with self.lock:
            self._revoke_after = n

    def restore_key(self) -> None:
        with self.lock:
            self._revoke_after = None

    def reset_counters(self) -> None:
        with self.lock:
            self.requests.clear()
            self.successes.clear()
            self.log.clear()
            self.chat_requests = self.models_requests = 0
            self.first_arrival = self.last_done = None
            self.max_in_flight = 0

    def requested_after_success(self) -> list[str]:
        """Passages requested again after a 200 reply (a resumed run must not do that)."""
        done, again = set(), []
        for passage, status in self.log:
            if passage in done:
                again.append(passage)
            if status == 200:
                done.add(passage)
        return again

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"chat_requests": self.chat_requests, "models_requests": self.models_requests,
                    "successes": sum(self.successes.values()), "max_in_flight": self.max_in_flight,
                    "first_arrival": self.first_arrival, "last_done": self.last_done}

    # ---------------------------------------------------------------- replies
    def _revoked(self, count: int) -> bool:
        return self._revoke_after is not None and count > self._revoke_after

    def _authorized(self, header: str | None) -> bool:
        return self.api_key is None or header == f"Bearer {self.api_key}"

    def chat(self, body: dict, authorization: str | None) -> tuple[int, dict, dict[str, str]]:
        """(status, JSON body, extra headers) for one chat completion request."""
        messages = body.get("messages") or []
        user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        passage = passage_of(user if isinstance(user, str) else json.dumps(user))
        with self.lock:
            self.chat_requests += 1
            count = self.chat_requests
            self.requests[passage] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.first_arrival is None:
                self.first_arrival = time.monotonic()
            revoked = self._revoked(count)
        try:
            status, reply, headers = self._chat_reply(body, passage, user, authorization, revoked)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.last_done = time.monotonic()
                self.log.append((passage, status))
                if status == 200:
                    self.successes[passage] += 1
        return status, reply, headers

    def _once(self, passage: str, marker: str) -> bool:
        """True the first time ``marker`` is seen for ``passage``."""
        with self.lock:
            if (passage, marker) in self._failed_once:
                return False
            self._failed_once.add((passage, marker))
            return True

    def _chat_reply(self, body: dict, passage: str, user: str, authorization: str | None,
                    revoked: bool) -> tuple[int, dict, dict[str, str]]:
        if revoked or not self._authorized(authorization):
            return 401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"), {}
        if body.get("model") not in self.served_models:
            return 404, _error(f"The model `{body.get('model')}` does not exist.", "invalid_request_error",
                               "model_not_found"), {}
        if self.delay:
            time.sleep(self.delay)
        if "[[400]]" in passage:
            return 400, _error("This model's maximum context length was exceeded.", "invalid_request_error",
                               "context_length_exceeded"), {}
        if "[[429]]" in passage and self._once(passage, "429"):
            return 429, _error("Rate limit reached, retry shortly.", "requests", "rate_limit_exceeded"), {
                "retry-after-ms": "10"}
        if "[[500]]" in passage and self._once(passage, "500"):
            return 500, _error("The server had an error while processing your request.", "server_error", None), {}
        if "[[ECHOKEY]]" in passage:
            key = (authorization or "").removeprefix("Bearer ")
            return 400, _error(f"Invalid request for API key {key}: unsupported parameter.",
                               "invalid_request_error", None), {}
        if "[[GLITCH]]" in passage and self._once(passage, "glitch"):
            return 200, {"object": "chat.completion", "model": body["model"]}, {}
        if "[[DOWN]]" in passage and self.down:
            return 503, _error("The server is overloaded.", "server_error", None), {}
        if "[[SLOW]]" in passage:
            time.sleep(0.3)
        content, finish = reply_content(passage, styles_requested(body))
        usage = {"prompt_tokens": max(1, len(user) // 4), "completion_tokens": max(1, len(content) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        digest = hashlib.sha1(passage.encode()).hexdigest()[:12]
        return 200, {
            "id": f"chatcmpl-{digest}", "object": "chat.completion", "created": 1700000000, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                         "finish_reason": finish}],
            "usage": usage,
        }, {}

    def models(self, authorization: str | None) -> tuple[int, dict]:
        with self.lock:
            self.models_requests += 1
            revoked = self._revoke_after is not None and self.chat_requests >= self._revoke_after
        if revoked or not self._authorized(authorization):
            return 401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return 200, {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                                 "owned_by": "tests"} for m in self.served_models]}


def _error(message: str, kind: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many clients connect at once (benchmark): do not drop SYNs
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = 10  # an idle keep-alive connection's thread ends by itself
    # TCP_NODELAY, as uvicorn, llama.cpp and vLLM set it: with Nagle on, the reply's body (a second write after
    # the headers) waits for the client's delayed ACK, adding ~40-60 ms to every request on keep-alive connections
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        fake = self.server.fake
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/models":
            self._send(*fake.models(self.headers.get("Authorization")))
        elif path == "/_fake/stats":
            self._send(200, fake.stats())
        else:
            self._send(404, _error(f"unknown path {self.path}", "invalid_request_error", None))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._send(404, _error(f"unknown path {self.path}", "invalid_request_error", None))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, _error("request body is not JSON", "invalid_request_error", None))
            return
        status, payload, headers = self.server.fake.chat(body, self.headers.get("Authorization"))
        self._send(status, payload, headers)


def closed_port_url() -> str:
    """An OpenAI-style URL on 127.0.0.1 where nothing listens (a port just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def main(argv: list[str] | None = None) -> int:
    """Serve until killed (or for --seconds); print the base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering each chat request")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    parser.add_argument("--seconds", type=float, default=3600, help="stop by itself after this long")
    args = parser.parse_args(argv)
    with FakeOpenAIServer(model=args.model, delay=args.delay, host=args.host, port=args.port) as server:
        print(server.url, flush=True)
        deadline = time.monotonic() + args.seconds
        try:
            while time.monotonic() < deadline and not sys.stdin.closed:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
