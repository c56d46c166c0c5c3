#!/usr/bin/env bash
# infer in front of llama.cpp's OpenAI-compatible server against the same client talking to that server
# directly, in one run: wrk POSTs a chat completion (temperature 0, a few tokens) at one connection (the
# latency infer adds per request) and at N connections (throughput; the server answers one request at a
# time, so the two should match), and prints requests/s, p50/p99, the added latency and the ratio.
#   bench/run-upstream-bench.sh [duration=10s] [connections=4] [max_tokens=8]
# Every request carries a different seed: with temperature 0 the answer is the same, but infer's cache
# key differs, so every request through infer goes to the upstream (no cache hit). A refused request
# (any non-2xx) fails the run.
# INFER_BIN_DIR=DIR uses the daemons already built there (the tests' debug build) instead of building
# in release mode; the llama.cpp server comes from scripts/install-upstream-peers.sh (.venv-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECTIONS=${2:-4}
MAX_TOKENS=${3:-8}
. bench/lib/common.sh
bench_start run-upstream-bench
bench_prepare wrk curl

# llama.cpp's server (the same SmolLM2 GGUF as infer's built-in engine), and infer with one upstream
# deployment, that server: no built-in model, so no engine competes for the CPU.
start_llama_server "$MODELS" "$OUT/upstream-llama.log"
cat > "$run/models.json" <<JSON
{"models": [{"name": "llama", "kind": "chat", "engine": "openai", "url": "$LLAMA/v1", "upstream_model": "smollm2"}]}
JSON
start_infer "$BIN" "$run/models.json" "$MODELS" "$OUT/upstream-inferctl.log"

# One request each way first: both must answer 200 with the same text.
body='{"model":"%s","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":'$MAX_TOKENS',"seed":1}'
direct=$(curl -s -w '\n%{http_code}' "$LLAMA/v1/chat/completions" -H 'Content-Type: application/json' -d "$(printf "$body" smollm2)")
relayed=$(curl -s -w '\n%{http_code}' "$INFER/v1/chat/completions" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $KEY" -d "$(printf "$body" llama)")
[ "${direct##*$'\n'}" = 200 ] || fail "llama.cpp's server refused the request: $direct"
[ "${relayed##*$'\n'}" = 200 ] || fail "infer refused the request: $relayed"
text() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["choices"][0]["message"]["content"])'; }
[ "$(text <<< "${direct%$'\n'*}")" = "$(text <<< "${relayed%$'\n'*}")" ] || fail "infer's answer differs from the server's"

measure() { # name url connections model key run-number → "req/s p50 p99 failed requests"
    local threads=$(( $3 < 2 ? 1 : 2 ))
    wrk -t"$threads" -c"$3" -d"$DURATION" --timeout 30s --latency -s bench/lib/seeded-chat.lua "$2" -- "$4" "$MAX_TOKENS" "$5" "$6" \
        > "$OUT/wrk-upstream-$1.txt"
    wrk_figures "$OUT/wrk-upstream-$1.txt"
}
check() { # name non2xx requests
    [ "$2" -eq 0 ] || fail "$1: $2 request(s) refused, failed or answered from the cache (bench/out/wrk-upstream-$1.txt)"
    # The server may take longer than a short run (the bench test's 1 s) for one answer: no figure then,
    # but nothing was refused; the requests before the measurements showed both sides answer.
    [ "$3" -gt 0 ] || echo "run-upstream-bench: $1: no request completed in $DURATION; give a longer duration for figures" >&2
}

read -r d1_rps d1_p50 d1_p99 d1_bad d1_n < <(measure direct-c1 "$LLAMA" 1 smollm2 - 1)
check direct-c1 "$d1_bad" "$d1_n"
read -r i1_rps i1_p50 i1_p99 i1_bad i1_n < <(measure infer-c1 "$INFER" 1 llama "$KEY" 2)
check infer-c1 "$i1_bad" "$i1_n"
read -r dn_rps dn_p50 dn_p99 dn_bad dn_n < <(measure direct-c"$CONNECTIONS" "$LLAMA" "$CONNECTIONS" smollm2 - 3)
check direct-c"$CONNECTIONS" "$dn_bad" "$dn_n"
read -r in_rps in_p50 in_p99 in_bad in_n < <(measure infer-c"$CONNECTIONS" "$INFER" "$CONNECTIONS" llama "$KEY" 4)
check infer-c"$CONNECTIONS" "$in_bad" "$in_n"

# Paired (bench/lib/paired.py): the same request to llama.cpp and through infer in turn, for as long as
# one wrk run: the median of the pairs' differences is the steadiest figure of what infer adds.
python3 bench/lib/paired.py "$DURATION" "$MAX_TOKENS" direct "$LLAMA" smollm2 - infer "$INFER" llama "$KEY" > "$run/paired" \
    || fail "the paired requests failed"
read -r _ pairs paired_direct _ < <(grep '^direct ' "$run/paired")
read -r _ _ paired_infer paired_added < <(grep '^infer ' "$run/paired")

machine_line
echo "== chat completion, max_tokens $MAX_TOKENS, temperature 0, wrk -d$DURATION (binaries: $BIN)"
printf '%-32s %9s %10s %10s\n' "" "req/s" "p50 ms" "p99 ms"
printf '%-32s %9s %10s %10s\n' "llama.cpp directly, 1 conn" "$d1_rps" "$d1_p50" "$d1_p99"
printf '%-32s %9s %10s %10s\n' "infer -> llama.cpp, 1 conn" "$i1_rps" "$i1_p50" "$i1_p99"
printf '%-32s %9s %10s %10s\n' "llama.cpp directly, $CONNECTIONS conn" "$dn_rps" "$dn_p50" "$dn_p99"
printf '%-32s %9s %10s %10s\n' "infer -> llama.cpp, $CONNECTIONS conn" "$in_rps" "$in_p50" "$in_p99"
echo "paired, $pairs pairs: llama.cpp median $paired_direct ms, through infer $paired_infer ms; added per request (median of the pairs' differences): $paired_added ms"
awk -v a="$i1_p50" -v b="$d1_p50" -v c="$i1_p99" -v d="$d1_p99" -v x="$in_rps" -v y="$dn_rps" -v n="$CONNECTIONS" 'BEGIN {
    printf "added latency per request (1 conn): p50 %+.2f ms, p99 %+.2f ms\n", a - b, c - d
    printf "throughput infer/direct at %d connections: %.3fx\n", n, (y > 0 ? x / y : 0)
}'
