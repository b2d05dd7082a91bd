"""Start and stop a local llama.cpp OpenAI-compatible server (llama-cpp-python[server], an optional extra)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pipeline.config.generate import LlamaCppSettings
from pipeline.errors import ConfigError, EndpointError


def resolve_gguf(cfg: LlamaCppSettings) -> str:
    """The GGUF to serve: ``model_path`` (or $LLM_GGUF), else downloaded from the Hub (hub_repo/hub_file)."""
    path = cfg.model_path or os.environ.get("LLM_GGUF")
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"GGUF file not found: {path}. Fix generate.llamacpp.model_path (or $LLM_GGUF).")
        return path
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(cfg.hub_repo, cfg.hub_file)
    except Exception as e:  # noqa: BLE001 - offline, gated, missing file: all need the same fix
        raise ConfigError(
            f"cannot download {cfg.hub_repo}/{cfg.hub_file} from the Hub ({type(e).__name__}). Set "
            "generate.llamacpp.model_path or $LLM_GGUF to a local GGUF file, or use generate.backend: endpoint."
        ) from None


@contextmanager
def llamacpp_server(cfg: LlamaCppSettings, model_alias: str, log_path: Path):
    """Run ``python -m llama_cpp.server`` for the duration of the block; yield its OpenAI base URL."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        raise ConfigError('the llamacpp backend needs llama-cpp-python: pip install "llama-cpp-python[server]" '
                          '(or pip install -e ".[llamacpp]"), or use generate.backend: endpoint') from None
    gguf = resolve_gguf(cfg)
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", model_alias,
           "--host", cfg.host, "--port", str(cfg.port), "--n_ctx", str(cfg.n_ctx)]
    if cfg.n_threads:
        cmd += ["--n_threads", str(cfg.n_threads)]
    url = f"http://{cfg.host}:{cfg.port}/v1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process, cfg.startup_timeout, log_path)
            print(f"[generate] llama.cpp server ready at {url} ({Path(gguf).name})")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(url: str, process: subprocess.Popen, timeout: float, log_path: Path) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise EndpointError(f"the llama.cpp server exited with code {process.returncode}; see {log_path} "
                                "(port already in use? change generate.llamacpp.port)")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise EndpointError(f"the llama.cpp server did not become ready within {timeout:.0f}s; see {log_path}")
