"""Benchmark: how close does the generate stage get to an endpoint's ideal throughput?

A fake OpenAI-compatible server (retrieval/testing/fake_openai_server.py) answers every chat request after a fixed
``--delay`` with unlimited concurrency (one thread per connection), so the ideal rate is exactly
``concurrency / delay`` requests/s. The real generate stage (openai client, datatrove InferenceRunner, request
cache, checkpoints) runs on ``--passages`` synthetic passages in a temporary run folder; the achieved rate is
measured on the server, from the first request's arrival to the last reply, and divided by the ideal.

    python benchmarks/generate.py                       # 640 passages, concurrency 64, delay 0.5 s
    python benchmarks/generate.py --concurrency 128 --passages 1280 --delay 0.25

The server runs in its own process by default (as a real endpoint would); ``--in-process`` runs it in a thread of
the benchmark's process instead (then it competes with the client for the GIL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline.config import config_from_dict  # noqa: E402
from pipeline.stages.generate import GenerateStage  # noqa: E402
from retrieval.testing.fake_openai_server import FakeOpenAIServer  # noqa: E402
from tests.pipeline.run_folders import synthetic_passages, write_passages  # noqa: E402

KEY_ENV = "GENERATE_BENCH_KEY"
MODEL = "fake-model"


@contextmanager
def fake_server(delay: float, in_process: bool, max_seconds: float):
    """Yield (base URL, a function returning the server's counters)."""
    if in_process:
        with FakeOpenAIServer(model=MODEL, delay=delay) as server:
            yield server.url, server.stats
        return
    cmd = [sys.executable, "-m", "retrieval.testing.fake_openai_server", "--delay", str(delay), "--model", MODEL,
           "--seconds", str(max_seconds)]
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://127."):
            raise RuntimeError(f"the fake server did not start (printed {url!r})")

        def stats() -> dict:
            stats_url = url.removesuffix("/v1") + "/_fake/stats"
            with urllib.request.urlopen(stats_url, timeout=10) as response:
                return json.loads(response.read())

        yield url, stats
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run(args: argparse.Namespace) -> dict:
    os.environ.setdefault(KEY_ENV, "bench-key")
    with tempfile.TemporaryDirectory(prefix="generate-bench-") as tmp, \
            fake_server(args.delay, args.in_process, max_seconds=args.timeout + 60) as (url, server_stats):
        cfg = config_from_dict({
            "run_name": "bench", "output_dir": str(Path(tmp) / "runs"),
            "executor": {"type": "local", "tasks": 1, "workers": 1},
            "generate": {"backend": "endpoint", "endpoint_url": url, "model": MODEL, "api_key_env": KEY_ENV,
                         "concurrency": args.concurrency, "request_timeout": args.timeout, "max_retries": 2,
                         "records_per_chunk": args.records_per_chunk},
        })
        write_passages(cfg.run_dir, synthetic_passages(args.passages))
        start = time.monotonic()
        stage_stats = GenerateStage(cfg).run()
        wall = time.monotonic() - start
        served = server_stats()
    window = served["last_done"] - served["first_arrival"]
    achieved = served["successes"] / window if window > 0 else float("nan")
    ideal = args.concurrency / args.delay
    return {
        "passages": args.passages, "concurrency": args.concurrency, "delay_s": args.delay,
        "server": "in-process" if args.in_process else "subprocess",
        "chat_requests": served["chat_requests"], "max_in_flight": served["max_in_flight"],
        "inference_window_s": round(window, 3), "stage_wall_s": round(wall, 3),
        "ideal_rps": round(ideal, 2), "achieved_rps": round(achieved, 2), "ratio": round(achieved / ideal, 3),
        "stage_requests_per_s": stage_stats["requests_per_s"], "rows": stage_stats["rows"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--passages", type=int, default=640)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the fake server takes per request")
    parser.add_argument("--records-per-chunk", type=int, default=50, help="generate.records_per_chunk")
    parser.add_argument("--timeout", type=float, default=120, help="request timeout (s)")
    parser.add_argument("--in-process", action="store_true", help="run the fake server in this process")
    parser.add_argument("--min-ratio", type=float, default=None, help="exit 1 when the ratio is below this")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"\ngenerate benchmark: {result['passages']} passages, concurrency {result['concurrency']}, "
              f"server delay {result['delay_s']} s ({result['server']} fake server)")
        print(f"  ideal     {result['ideal_rps']:8.2f} requests/s  (concurrency / delay)")
        print(f"  achieved  {result['achieved_rps']:8.2f} requests/s  ({result['chat_requests']} requests in "
              f"{result['inference_window_s']} s, first arrival to last reply; max {result['max_in_flight']} "
              "in flight)")
        print(f"  ratio     {result['ratio']:8.3f}")
        print(f"  whole stage: {result['stage_wall_s']} s wall (preflight, executor start, parsing included); "
              f"stage's own figure {result['stage_requests_per_s']} requests/s")
    if args.min_ratio is not None and result["ratio"] < args.min_ratio:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
