# What the bench scripts share; sourced (`. bench/lib/common.sh`) from the package root, never run.
# A script calls bench_start first: everything started here is appended to `pids`, which the script's
# exit stops, and `run` is its scratch folder, removed then.

fail() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# bench_start NAME: BENCH_NAME (for messages), OUT (bench/out), run, pids, and the cleanup at exit.
bench_start() {
    BENCH_NAME=$1
    OUT=bench/out
    mkdir -p "$OUT"
    run=$(mktemp -d "/tmp/infer-$1.XXXXXX")
    pids=()
    trap 'stop_started; rm -rf "$run"' EXIT
}

# Stops everything started so far, and waits for it.
stop_started() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}

# The Debian packages named, the models (MODELS) and llama.cpp's server in .venv-peers, then the
# binaries (BIN): INFER_BIN_DIR when set (the tests' debug build), else a release build made here.
bench_prepare() { # DEBIAN-PACKAGE...
    scripts/install-deps.sh "$@"
    MODELS=${INFER_MODELS_DIR:-$PWD/models}
    scripts/fetch-models.sh "$MODELS" >/dev/null
    scripts/install-upstream-peers.sh
    BIN=${INFER_BIN_DIR:-}
    if [ -z "$BIN" ]; then
        swift build -c release >/dev/null
        BIN=$PWD/.build/release
    fi
    local program
    for program in inferctl frontd limitd cached batchd modeld metricsd; do
        [ -x "$BIN/$program" ] || fail "$BIN/$program is not built"
    done
}

# nginx (Debian's nginx-light) in the foreground with WORKERS workers, no access log, keep-alive without
# end and the server block given; waits until URL answers.
#   start_nginx WORKERS 'server { ... }' URL
start_nginx() {
    mkdir -p "$run/nginx"
    cat > "$run/nginx/nginx.conf" <<CONF
worker_processes $1;
daemon off;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $run/nginx; proxy_temp_path $run/nginx; fastcgi_temp_path $run/nginx; uwsgi_temp_path $run/nginx; scgi_temp_path $run/nginx;
    $2
}
CONF
    "$(command -v nginx || echo /usr/sbin/nginx)" -c "$run/nginx/nginx.conf" &
    pids+=($!)
    for _ in $(seq 100); do curl -s -o /dev/null "$3" && return 0; sleep 0.05; done
    fail "nginx did not answer at $3 ($run/nginx/error.log)"
}

# A TCP port free on 127.0.0.1 now (for servers that cannot be told to pick one themselves).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# llama.cpp's server (the SmolLM2 GGUF, one thread unless LLAMA_THREADS says otherwise) on a port it
# picks and prints once it answers; stdin kept open by a fifo so it stops when the script ends.
#   start_llama_server MODELS LOG     sets LLAMA_PORT and LLAMA
start_llama_server() {
    mkfifo "$run/llama.stdin"
    .venv-peers/bin/python tests-python/llama_server.py --port 0 --quiet --exit-with-stdin \
        --threads "${LLAMA_THREADS:-1}" --model "$1/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
        < "$run/llama.stdin" > "$run/llama.port" 2> "$2" &
    local pid=$!
    pids+=("$pid")
    exec 8> "$run/llama.stdin"
    for _ in $(seq 1200); do [ -s "$run/llama.port" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    LLAMA_PORT=$(head -1 "$run/llama.port" 2>/dev/null || true)
    [ -n "$LLAMA_PORT" ] || fail "llama.cpp's server did not start ($2)"
    LLAMA=http://127.0.0.1:$LLAMA_PORT
}

# The six daemons under `inferctl up` on a free port, a key with scope infer and the rate limit out of
# the way; waits until inferctl says the stack is ready.
#   start_infer BIN REGISTRY MODELS LOG [ENV LINE...]     sets INFER_PORT, INFER and KEY
start_infer() {
    local bin=$1 registry=$2 models=$3 log=$4
    shift 4
    { printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\n'; for line in "$@"; do echo "$line"; done; } > "$run/bench.env"
    KEY=$("$bin/inferctl" keys create bench --scopes infer --rpm 1000000 --file "$run/keys.json" 2>/dev/null) \
        || fail "inferctl keys create failed"
    INFER_MODELS_DIR=$models "$bin/inferctl" up --runtime-dir "$run/rt" --bin-dir "$bin" \
        --registry "$registry" --port 0 --metrics-port 0 --keys-file "$run/keys.json" \
        --env-file "$run/bench.env" > "$log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    INFER_PORT=
    for _ in $(seq 600); do
        INFER_PORT=$(python3 -c 'import json,sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
if s.get("ready"):
    print(next(x.rsplit(":", 1)[1] for d in s["daemons"] for x in d.get("sockets", []) if x.startswith("http=")))' \
            "$run/rt/inferctl.json" 2>/dev/null || true)
        [ -n "$INFER_PORT" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$INFER_PORT" ] || fail "infer did not become ready ($log)"
    INFER=http://127.0.0.1:$INFER_PORT
}

# Resident memory of the daemons under `inferctl up` in $run/rt, one line each: "unit rss_kib pss_kib".
# RSS counts the pages every daemon shares (the Swift runtime's libraries) once per daemon; PSS splits
# them among every process on the machine that maps them (other programs' too, so its sum can fall below
# what the stack holds); infer_memory_together counts each page the daemons hold once.
infer_memory() { # BIN
    "$1/inferctl" status --runtime-dir "$run/rt" --json 2>/dev/null | python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from memory import rss_pss
for d in json.load(sys.stdin)["daemons"]:
    if d.get("pid"):
        print(d["unit"], *rss_pss([d["pid"]]))' "$PWD/bench/lib"
}

# KiB the daemons under `inferctl up` in $run/rt occupy together (each resident page once; bench/lib/memory.py
# `together`), or "nan" when this user cannot read page frame numbers.
infer_memory_together() { # BIN
    "$1/inferctl" status --runtime-dir "$run/rt" --json 2>/dev/null | python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
from memory import together
kib = together([d["pid"] for d in json.load(sys.stdin)["daemons"] if d.get("pid")])
print("nan" if kib is None else kib)' "$PWD/bench/lib"
}

# Resident memory of a process and all its descendants, in KiB: "rss_kib pss_kib".
tree_memory() { # PID
    python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
from memory import rss_pss, tree
print(*rss_pss(tree(int(sys.argv[2]))))' "$PWD/bench/lib" "$1"
}

# wrk's report → "req/s p50_ms p99_ms failed requests": failed counts non-2xx answers, socket errors
# (connect, read, write, timeout) and the lines "cache hits: N" that bench/lib/seeded-chat.lua writes.
wrk_figures() { # FILE
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        /requests in/ { n = $1 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad += $4 }
        /Socket errors/ { bad += 1 }
        /^cache hits:/ { bad += $3 }
        END { printf "%.2f %.3f %.3f %d %d\n", rps, p50, p99, bad, n }' "$1"
}

# The machine, its load now, and the date: the line every report starts with.
machine_line() {
    echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
}
