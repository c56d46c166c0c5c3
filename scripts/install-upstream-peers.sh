#!/usr/bin/env bash
# Installs the real upstream peer of infer's gateway tests into a venv at the package root:
# llama.cpp's OpenAI-compatible server, PyPI's `llama-cpp-python[server]`, with every version pinned in
# tests-python/requirements-peers.txt (PyPI only). tests-python/llama_server.py runs it.
#
#   scripts/install-upstream-peers.sh [VENV]      (default: <repo>/.venv-peers; PYTHON=... picks the interpreter)
#
# A no-op when the venv already holds exactly that requirements file built with these CMake flags (a
# digest of both is kept in the venv). Concurrent runs wait for each other (flock on the venv).
#
# The compile (measured 2026-12 on the 2-core x86-64 machine, gcc 12, Python 3.11; see
# docs/peers/llama-server.md for the figures):
# - llama-cpp-python 0.3.36 has no Linux wheel on PyPI: pip downloads the 77 MB sdist and compiles
#   llama.cpp (cmake and ninja come as wheels into pip's build environment; only g++ is needed).
# - Its own defaults build llama.cpp's `common` library (+ cpp-httplib) and the `mtmd` multimodal
#   library, neither of which the server uses for a text model. CMAKE_ARGS below turns both off:
#   LLAVA_BUILD=OFF drops mtmd; llama-cpp-python forces LLAMA_BUILD_COMMON ON, so
#   scripts/llama-cpp-no-common.cmake, included right after llama.cpp's project() call, turns it off
#   again. That leaves 74 of the 178 objects of the default build (ggml + libllama only).
#   LLAMA_BUILD_{TESTS,EXAMPLES,TOOLS,SERVER} are already off when llama.cpp is a subproject; they are
#   passed anyway so a newer pin cannot switch them on. GGML_NATIVE=ON (-march=native, the default) is
#   kept: the wheel only ever runs on the machine that built it.
# - Cold (empty pip cache, as on a new machine): 280 s of CPU (user+sys) with those flags against 668 s
#   for the default build (178 objects). An idle 2-core machine needs about half that as wall time, so
#   about 2.5 to 3 min in all here; measured while other builds shared the 2 cores (load 10 to 20), the
#   script took 749 s of wall time, the default build 1619 s.
# - pip caches the built wheel in ~/.cache/pip/wheels (PIP_CACHE_DIR), keyed by the sdist's URL (not by
#   CMAKE_ARGS): a later venv on the same machine installs in about 30 s (loaded machine). The cache is in
#   root's home, so it is kept for the session's machine and so for CI (which runs on the submitting
#   session's machine), but not on a new machine, where the first run compiles again.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo/.venv-peers}"
requirements="$repo/tests-python/requirements-peers.txt"
no_common="$repo/scripts/llama-cpp-no-common.cmake"
stamp="$venv/.requirements.sha256"
cmake_args="-DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$no_common -DGGML_NATIVE=ON"
cmake_args+=" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"

say() { printf 'install-upstream-peers: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f "$requirements" ] || die "$requirements is missing"
[ -f "$no_common" ] || die "$no_common is missing"
want="$( { cat "$requirements"; echo "CMAKE_ARGS=${cmake_args//$repo/}"; } | sha256sum | cut -d' ' -f1)"
ready() { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }
ready && exit 0

command -v g++ >/dev/null || die "no g++ to compile llama.cpp with (apt install g++)"
# Debian's interpreter by default (python3-venv provides its venv module); any python3 >= 3.9 works.
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi
fi
[ -n "$python" ] && [ -x "$(command -v "$python")" ] || die "no python3 found (apt install python3 python3-venv, or set PYTHON=...)"

mkdir -p "$venv"
exec 9>"$venv/.install.lock"
if ! flock -n 9; then
    say "another install into $venv is running; waiting for it"
    flock 9
fi
ready && exit 0   # the other run did it

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv" || die "could not create the venv (on Debian: apt install python3-venv)"
fi
start=$(date +%s)
say "installing the pinned llama-cpp-python[server] into $venv (compiles llama.cpp unless pip has the wheel cached: minutes) ..."
CMAKE_ARGS="$cmake_args" "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" \
    || die "pip install -r $requirements failed"
"$venv/bin/python" -c "import llama_cpp, llama_cpp.server.app" || die "the installed server does not import"
echo "$want" > "$stamp"
say "done in $(( $(date +%s) - start )) s: llama-cpp-python $("$venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)')"
