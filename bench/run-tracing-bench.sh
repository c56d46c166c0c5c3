#!/usr/bin/env bash
# Tracing's cost per request, in one run: the same stack started three times — tracing off
# (OTEL_SDK_DISABLED=true), sampled 10 % of new traces (parentbased_traceidratio 0.1), and on (every
# span exported) — each exporting to a real OTLP/HTTP receiver (tests-python/otlp_receiver.py, which
# decodes every batch with opentelemetry-proto), measured on the cache-hit path (wrk, one connection,
# and 16) and on a short generation (8 tokens, sampled so the cache is bypassed; sequential).
#   bench/run-tracing-bench.sh [duration=5s] [generations=20]
# Any non-2xx answer fails the run. INFER_BIN_DIR=DIR uses the daemons already built there (the tests'
# debug build) instead of building in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5s}
GENERATIONS=${2:-20}
PORT=${TRACING_BENCH_PORT:-18380}
METRICS=${TRACING_BENCH_METRICS_PORT:-18381}
OUT=bench/out
mkdir -p "$OUT"
fail() { echo "run-tracing-bench: $*" >&2; exit 1; }
scripts/install-deps.sh wrk curl
scripts/install-test-tools.sh
MODELS=${INFER_MODELS_DIR:-$PWD/models}
scripts/fetch-models.sh "$MODELS" >/dev/null
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
    swift build -c release >/dev/null
    BIN=$PWD/.build/release
fi

run=$(mktemp -d /tmp/infer-tracing.XXXXXX)
pids=()
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done; pids=(); }
cleanup() { stop_all; rm -rf "$run"; }
trap cleanup EXIT

# The receiver: one for the whole run; it prints its port first.
exec 3< <(.venv-test/bin/python tests-python/otlp_receiver.py --port 0 --out "$run/spans.jsonl" < /dev/null)
read -r -u 3 RECEIVER_PORT
receiver_pid=$!

# A key of its own (auth is on whenever a keys file is), with no rate limit in the way.
KEY=$("$BIN/inferctl" keys create bench --scopes infer --rpm 1000000 --file "$run/keys.json" 2>/dev/null) || fail "inferctl keys create failed"

HIT='{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":16}'
GEN='{"model":"smollm2","messages":[{"role":"user","content":"Say something."}],"temperature":0.8,"max_tokens":8}'
cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '$HIT'
LUA

wrk_mean() { # connections name -> "req/s mean_ms p99_ms"
    wrk -t1 -c"$1" -d"$DURATION" --latency -s "$run/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" > "$OUT/tracing-wrk-$2.txt"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "Latency" && $2 ~ /^[0-9]/ { mean = ms($2) }
        /Non-2xx/ { bad = $4 }
        $1 == "99%" { p99 = ms($2) }
        END { if (bad > 0) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.3f %.3f\n", rps, mean, p99 }' "$OUT/tracing-wrk-$2.txt"
}

generations_mean() { # -> mean ms of GENERATIONS sequential short generations
    local total=0 t
    for _ in $(seq "$GENERATIONS"); do
        t=$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
            -H "Authorization: Bearer $KEY" -d "$GEN") || fail "a generation failed"
        total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
    done
    awk -v t="$total" -v n="$GENERATIONS" 'BEGIN { printf "%.2f\n", t / n * 1000 }'
}

measure_mode() { # name env-lines...
    local name=$1; shift
    printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\nOTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%s\n' "$RECEIVER_PORT" > "$run/$name.env"
    printf '%s\n' "$@" >> "$run/$name.env"
    INFER_MODELS_DIR=$MODELS "$BIN/inferctl" up --runtime-dir "$run/rt-$name" \
        --bin-dir "$BIN" --registry "$PWD/config/models.json" --port "$PORT" --metrics-port "$METRICS" \
        --keys-file "$run/keys.json" --env-file "$run/$name.env" > "$OUT/tracing-inferctl-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" \
        -d "$HIT" || fail "the stack does not answer ($name)"
    wrk -t1 -c16 -d1s -s "$run/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null   # warm-up
    local before after
    before=$(wc -l < "$run/spans.jsonl" 2>/dev/null || echo 0)
    read -r c1_rps c1_mean c1_p99 < <(wrk_mean 1 "$name-c1")
    read -r c16_rps c16_mean c16_p99 < <(wrk_mean 16 "$name-c16")
    gen=$(generations_mean)
    sleep 1   # the last batch (OTEL_BSP_SCHEDULE_DELAY) reaches the receiver
    after=$(wc -l < "$run/spans.jsonl" 2>/dev/null || echo 0)
    printf '%-12s %8s %9s %9s %9s %9s %10s %10s\n' "$name" "$c1_rps" "$c1_mean" "$c16_rps" "$c16_mean" "$c16_p99" "$gen" "$((after - before))"
    echo "$name $c1_mean $c16_rps $gen" >> "$run/results"
    stop_all
    sleep 1
}

printf '%-12s %8s %9s %9s %9s %9s %10s %10s\n' mode "c1 req/s" "c1 ms" "c16 req/s" "c16 ms" "c16 p99" "gen ms" spans
measure_mode off "OTEL_SDK_DISABLED=true"
measure_mode sampled-10% "OTEL_TRACES_SAMPLER=parentbased_traceidratio" "OTEL_TRACES_SAMPLER_ARG=0.1" "OTEL_BSP_SCHEDULE_DELAY=200"
measure_mode on "OTEL_TRACES_SAMPLER=always_on" "OTEL_BSP_SCHEDULE_DELAY=200"
kill "$receiver_pid" 2>/dev/null || true
awk '
    { mean[$1] = $2; rps[$1] = $3; gen[$1] = $4 }
    END {
        for (m in mean) if (m != "off") printf "%s vs off: cache hit %+.1f us per request at c1, c16 throughput %.2fx; short generation %+.2f ms\n",
            m, (mean[m] - mean["off"]) * 1000, rps[m] / rps["off"], gen[m] - gen["off"]
    }' "$run/results"
