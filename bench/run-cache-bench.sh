#!/usr/bin/env bash
# Cache benchmark, in one run (release build): a redis-server of its own (Debian's, loopback, nothing
# persisted), three cached instances — CACHE_BACKEND=memory, tiered and redis — and bench/cache-bench
# against their sockets: exact-hit latency and hits per second per backend, then semantic lookup time
# against the number of entries in a group (on the memory instance). Prints two Markdown tables.
#   bench/run-cache-bench.sh [seconds-per-figure=2] [sizes=1000,5000,10000,20000,50000,100000]
# INFER_BIN_DIR=DIR uses cached and cache-bench already built there (the tests' debug build) instead of
# building them in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-2}
SIZES=${2:-1000,5000,10000,20000,50000,100000}
REDIS_PORT=${CACHE_BENCH_REDIS_PORT:-16390}

scripts/install-deps.sh redis-server
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
    swift build -c release --product cached >/dev/null
    swift build -c release --product cache-bench >/dev/null
    BIN=$PWD/.build/release
fi

work=$(mktemp -d /tmp/cache-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$REDIS_PORT") 2>/dev/null && break; sleep 0.05; done

largest=${SIZES##*,}
for backend in memory tiered redis; do
    mkdir -p "$work/$backend"
    INFER_RUNTIME_DIR="$work/$backend" CACHE_BACKEND=$backend REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        CACHE_REDIS_PREFIX="bench-$backend:" CACHE_MAX_SIZE=$((largest + 10000)) CACHE_MAX_BYTES=1GiB \
        SEMANTIC_CACHE_MAX_ENTRIES=$((largest + 10000)) LOG_LEVEL=warn \
        "$BIN/cached" 2> "$work/$backend.log" &
    pids+=($!)
done
for backend in memory tiered redis; do
    for _ in $(seq 200); do [ -S "$work/$backend/cached.sock" ] && break; sleep 0.05; done
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
"$BIN/cache-bench" "$SECONDS_PER" "$work/memory/cached.sock" "$SIZES" \
    memory="$work/memory/cached.sock" tiered="$work/tiered/cached.sock" redis="$work/redis/cached.sock"
