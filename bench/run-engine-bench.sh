#!/usr/bin/env bash
# Measures the built-in engine and its peers in one run and prints each figure with its ratio.
#   bench/run-engine-bench.sh [--no-peers] [--smoke] [--rounds N]
# The engine and the peers run in turn, N rounds (default 3): each figure is the median of its rounds,
# printed with the lowest and highest, so one slow round of either side (a 2-core machine swings ~20%
# run to run) does not decide the ratio.
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
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-peers) peers=0 ;;
    --smoke) smoke=1; peers=0; rounds=1 ;;
    --rounds)
      shift
      [[ "${1:-}" =~ ^[1-9][0-9]?$ ]] || { echo "run-engine-bench: --rounds takes a whole number from 1 to 99" >&2; exit 64; }
      rounds=$1 ;;
    *) echo "run-engine-bench: unknown argument $1 (--no-peers, --smoke, --rounds N)" >&2; exit 64 ;;
  esac
  shift
done
scripts/fetch-models.sh "$models" >/dev/null
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
  swift build -c release --product engine-bench >/dev/null
  BIN=$PWD/.build/release
fi
[ -x "$BIN/engine-bench" ] || { echo "run-engine-bench: $BIN/engine-bench is not built" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$out"/engine-*.json "$out"/llamacpp-*.json "$out"/st-*.json "$out/memory.json"
if [ $peers = 1 ]; then bench/setup-peers.sh >/dev/null; fi
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds: engine ($BIN)"
  if [ $smoke = 1 ]; then
    timeout 300 "$BIN/engine-bench" --smoke --models "$models" --sentences bench/sentences.txt > "$out/engine-$round.json"
  else
    timeout 900 "$BIN/engine-bench" --models "$models" --sentences bench/sentences.txt > "$out/engine-$round.json"
  fi
  if [ $peers = 1 ]; then
    echo "== round $round of $rounds: llama.cpp peer"
    timeout 900 .venv-bench/bin/python bench/peers/llamacpp_peer.py "$models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" > "$out/llamacpp-$round.json"
    echo "== round $round of $rounds: sentence-transformers peer"
    timeout 600 .venv-bench/bin/python bench/peers/st_peer.py bench/sentences.txt > "$out/st-$round.json"
  fi
done
if [ $smoke = 0 ]; then timeout 600 "$BIN/engine-bench" memory --models "$models" > "$out/memory.json"; fi
python3 - "$out" "$rounds" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(n):
    p = os.path.join(out, n)
    return json.load(open(p)) if os.path.exists(p) else {}
def merged(prefix):
    """Every round's figures, each number replaced by its median across the rounds; spread[path] = (lo, hi)."""
    runs = [r for r in (load(f"{prefix}-{i}.json") for i in range(1, rounds + 1)) if r]
    if not runs: return {}, {}
    spread = {}
    def combine(values, path):
        first = values[0]
        if isinstance(first, dict):
            return {k: combine([v[k] for v in values if isinstance(v, dict) and k in v], path + (k,)) for k in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            numbers = [v for v in values if isinstance(v, (int, float))]
            spread[path] = (min(numbers), max(numbers))
            return statistics.median(numbers)
        return first
    return combine(runs, ()), spread
(e, es), (l, ls), (s, ss) = merged("engine"), merged("llamacpp"), merged("st")
m = load("memory.json")
print(f"each figure: the median of {rounds} round(s), engine and peers in turn; [lowest-highest] when more than one")
def span(spread, path):
    lo_hi = spread.get(path)
    return f"[{lo_hi[0]:.0f}-{lo_hi[1]:.0f}]" if lo_hi and rounds > 1 else ""
def row(name, ours, peer, unit, path=()):
    ratio = f"{ours / peer:5.2f}x" if ours and peer else "   - "
    ps = f"{peer:8.1f}" if peer else "       -"
    peer_spread = ls if path and path[0] in ("decode_1t", "decode_2t", "batch", "prefill_256") else ss
    print(f"{name:44s} {ours:8.1f} {ps}  {ratio}  {unit} {span(es, path)} {span(peer_spread, path)}".rstrip())
print(f"{'figure':44s} {'infer':>8s} {'peer':>8s}  ratio")
row("decode, single stream, 1 thread", e.get("decode_1t", 0), l.get("decode_1t"), "tokens/s", ("decode_1t",))
row("decode, single stream, 2 threads", e.get("decode_2t", 0), l.get("decode_2t"), "tokens/s", ("decode_2t",))
for b in ["1", "2", "4", "8", "16"]:
    row(f"aggregate decode, batch {b} (2 threads)", e.get("batch", {}).get(b, 0), l.get("batch", {}).get(b), "tokens/s", ("batch", b))
row("prefill, 256-token prompt (2 threads)", e.get("prefill_256", 0), l.get("prefill_256"), "tokens/s", ("prefill_256",))
row("embeddings, batch 32, 1 thread", e.get("emb_1t", 0), s.get("emb_1t"), "sentences/s", ("emb_1t",))
row("embeddings, batch 32, 2 threads", e.get("emb_2t", 0), s.get("emb_2t"), "sentences/s", ("emb_2t",))
b8, single = e.get("batch", {}).get("8", 0), e.get("decode_2t", 0)
if b8 and single:
    print(f"batch 8 aggregate / own single stream (2 threads): {b8 / single:.2f}x")
if m:
    print(f"peak RSS, batch 8 x {m['positions_per_sequence']} positions: {m['peak_rss_mib']:.0f} MiB (model file {m['model_file_mib']:.0f} MiB)")
print("peers:", l.get("peer", "not run"), "|", s.get("peer", "not run"))
PY
