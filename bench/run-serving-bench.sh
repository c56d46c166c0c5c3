#!/usr/bin/env bash
# `inferctl bench` against infer (the whole stack: frontd → limitd → cached → batchd → modeld, SmolLM2 on
# the built-in engine) and against llama.cpp's OpenAI-compatible server (PyPI llama-cpp-python[server],
# run by tests-python/llama_server.py) serving the same GGUF file: the same prompts (bench/chat-prompts.txt),
# streamed chat completions, greedy, the same max_tokens, at concurrency 1 and C; then the two side by side.
# The servers run one after the other, never together, so neither takes CPU from the other.
#
#   bench/run-serving-bench.sh [duration=20s] [concurrency=4] [max_tokens=64]
#
# INFER_BIN_DIR=DIR uses the daemons and inferctl already built there (the tests' debug build) instead of
# building in release mode. LLAMA_THREADS=2: llama.cpp's threads (infer's engine uses both cores).
# OUT=bench/out: where the saved runs (serving-{infer,llama}-c{1,C}.json, .txt) and the comparisons
# (serving-compare-c{1,C}.txt) go. Every run is bounded: each bench by its duration (plus at most 60 s for
# requests in flight), each server's start by 300 s. A bench without one successful request fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
CONCURRENCY=${2:-4}
MAX_TOKENS=${3:-64}
LLAMA_THREADS=${LLAMA_THREADS:-2}
OUT=${OUT:-bench/out}
PROMPTS=bench/chat-prompts.txt
mkdir -p "$OUT"
say() { printf 'run-serving-bench: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

MODELS=${INFER_MODELS_DIR:-$PWD/models}
scripts/fetch-models.sh "$MODELS" >/dev/null
scripts/install-upstream-peers.sh
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
    swift build -c release >/dev/null
    BIN=$PWD/.build/release
fi
for program in inferctl frontd limitd cached batchd modeld metricsd; do
    [ -x "$BIN/$program" ] || fail "$BIN/$program is not built"
done
INFERCTL=$BIN/inferctl

run=$(mktemp -d /tmp/infer-serving.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

# Waits (at most 300 s) until `$1` prints something, checking every 0.2 s that process $2 still runs.
await() {
    for _ in $(seq 1500); do
        out=$(eval "$1" 2>/dev/null || true)
        [ -n "$out" ] && { echo "$out"; return 0; }
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# The same bench against one server: a short warm-up (not kept), then concurrency 1 and C.
measure() { # name url [inferctl options...]
    local name=$1 url=$2; shift 2
    "$INFERCTL" bench --url "$url" --model smollm2 --requests 1 --concurrency 1 --max-tokens 2 "$@" >/dev/null
    for c in 1 "$CONCURRENCY"; do
        say "$name, concurrency $c, $DURATION"
        "$INFERCTL" bench --url "$url" --model smollm2 --stream --concurrency "$c" --duration "$DURATION" \
            --max-tokens "$MAX_TOKENS" --temperature 0 --prompts "$PROMPTS" --out "$OUT/serving-$name-c$c.json" "$@" \
            > "$OUT/serving-$name-c$c.txt"
    done
}

# infer, on free ports (read back from inferctl's state file).
printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\n' > "$run/bench.env"
KEY=$("$INFERCTL" keys create bench --scopes infer --file "$run/keys.json" 2>/dev/null)
INFER_MODELS_DIR=$MODELS BIND_ADDRESS=127.0.0.1 "$INFERCTL" up --runtime-dir "$run/rt" \
    --bin-dir "$BIN" --registry "$PWD/config/models.json" --port 0 --metrics-port 0 --keys-file "$run/keys.json" \
    --env-file "$run/bench.env" > "$OUT/serving-inferctl.log" 2>&1 &
infer=$!
pids+=($infer)
port=$(await "python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s[\"ready\"]; print([x.rsplit(\":\",1)[1] for d in s[\"daemons\"] for x in d[\"sockets\"] if x.startswith(\"http=\")][0])' $run/rt/inferctl.json" "$infer") \
    || fail "infer did not become ready (see $OUT/serving-inferctl.log)"
say "infer ready on port $port"
INFER_API_KEY=$KEY measure infer "http://127.0.0.1:$port/v1"
kill "$infer"; wait "$infer" 2>/dev/null || true

# llama.cpp's server, on a free port it prints once it answers.
.venv-peers/bin/python tests-python/llama_server.py --port 0 --quiet --threads "$LLAMA_THREADS" \
    --model "$MODELS/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" > "$run/llama.port" 2> "$OUT/serving-llama.log" &
llama=$!
pids+=($llama)
lport=$(await "cat $run/llama.port" "$llama") || fail "llama.cpp's server did not start (see $OUT/serving-llama.log)"
say "llama.cpp's server ready on port $lport ($LLAMA_THREADS threads)"
measure llama "http://127.0.0.1:$lport/v1"
kill "$llama"; wait "$llama" 2>/dev/null || true

for c in 1 "$CONCURRENCY"; do
    echo "== concurrency $c: A = infer, B = llama.cpp's server"
    "$INFERCTL" bench compare "$OUT/serving-infer-c$c.json" "$OUT/serving-llama-c$c.json" | tee "$OUT/serving-compare-c$c.txt"
done
