#!/usr/bin/env bash
# Measures the built-in engine and its peers in one run and prints each figure with its ratio.
#   bench/run-engine-bench.sh [--no-peers] [--smoke]
# Builds in release mode (unless INFER_BIN_DIR=DIR names a build to use) and fetches the models when
# they are missing; the peers come from bench/setup-peers.sh (llama.cpp through llama-cpp-python,
# sentence-transformers), installed into .venv-bench. --smoke runs every figure once on a few tokens,
# without the peers or the memory run (seconds: the bench test's mode; the figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
models=${INFER_MODELS_DIR:-$PWD/models}
out=bench/out
mkdir -p "$out"
peers=1
smoke=0
for arg in "$@"; do
  case "$arg" in
    --no-peers) peers=0 ;;
    --smoke) smoke=1; peers=0 ;;
    *) echo "run-engine-bench: unknown argument $arg (--no-peers, --smoke)" >&2; exit 64 ;;
  esac
done
scripts/fetch-models.sh "$models" >/dev/null
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
  swift build -c release --product engine-bench >/dev/null
  BIN=$PWD/.build/release
fi
[ -x "$BIN/engine-bench" ] || { echo "run-engine-bench: $BIN/engine-bench is not built" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== engine ($BIN)"
if [ $smoke = 1 ]; then
  timeout 300 "$BIN/engine-bench" --smoke --models "$models" --sentences bench/sentences.txt > "$out/engine.json"
  rm -f "$out/memory.json" "$out/llamacpp.json" "$out/st.json"
else
  timeout 900 "$BIN/engine-bench" --models "$models" --sentences bench/sentences.txt > "$out/engine.json"
  timeout 600 "$BIN/engine-bench" memory --models "$models" > "$out/memory.json"
fi
if [ $peers = 1 ]; then
  bench/setup-peers.sh >/dev/null
  echo "== llama.cpp peer"
  timeout 900 .venv-bench/bin/python bench/peers/llamacpp_peer.py "$models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" > "$out/llamacpp.json"
  echo "== sentence-transformers peer"
  timeout 600 .venv-bench/bin/python bench/peers/st_peer.py bench/sentences.txt > "$out/st.json"
fi
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n)
    return json.load(open(p)) if os.path.exists(p) else {}
e, m, l, s = load("engine.json"), load("memory.json"), load("llamacpp.json"), load("st.json")
def row(name, ours, peer, unit):
    ratio = f"{ours / peer:5.2f}x" if ours and peer else "   - "
    ps = f"{peer:8.1f}" if peer else "       -"
    print(f"{name:44s} {ours:8.1f} {ps}  {ratio}  {unit}")
print(f"{'figure':44s} {'infer':>8s} {'peer':>8s}  ratio")
row("decode, single stream, 1 thread", e.get("decode_1t", 0), l.get("decode_1t"), "tokens/s")
row("decode, single stream, 2 threads", e.get("decode_2t", 0), l.get("decode_2t"), "tokens/s")
for b in ["1", "2", "4", "8", "16"]:
    row(f"aggregate decode, batch {b} (2 threads)", e.get("batch", {}).get(b, 0), l.get("batch", {}).get(b), "tokens/s")
row("prefill, 256-token prompt (2 threads)", e.get("prefill_256", 0), l.get("prefill_256"), "tokens/s")
row("embeddings, batch 32, 1 thread", e.get("emb_1t", 0), s.get("emb_1t"), "sentences/s")
row("embeddings, batch 32, 2 threads", e.get("emb_2t", 0), s.get("emb_2t"), "sentences/s")
b8, single = e.get("batch", {}).get("8", 0), e.get("decode_2t", 0)
if b8 and single:
    print(f"batch 8 aggregate / own single stream (2 threads): {b8 / single:.2f}x")
if m:
    print(f"peak RSS, batch 8 x {m['positions_per_sequence']} positions: {m['peak_rss_mib']:.0f} MiB (model file {m['model_file_mib']:.0f} MiB)")
print("peers:", l.get("peer", "not run"), "|", s.get("peer", "not run"))
PY
