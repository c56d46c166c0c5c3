#!/usr/bin/env bash
# What a gateway adds to a request: the same OpenAI-shaped upstream reached three ways in one run —
# directly, through infer (a registry deployment with "engine": "openai") and through LiteLLM's proxy
# (PyPI `litellm[proxy]`, scripts/install-litellm.sh) — for two upstreams:
#   fixed  nginx answering every chat completion with the same JSON from memory (`return 200`): what is
#          left is the gateways' own cost;
#   llama  llama.cpp's server on the SmolLM2 GGUF, max_tokens tokens at temperature 0: a real model.
# wrk POSTs at one connection (added latency p50/p99: the gateway's figure less the direct one) and at N
# connections (throughput), and the report gives the ratio LiteLLM-added / infer-added (issue 17's goal:
# infer adds at least 50x less). Also the idle memory of LiteLLM's proxy and of infer's six daemons.
#   bench/run-gateway-overhead-bench.sh [duration=10s] [connections=64] [max_tokens=8]
# Every request carries its own seed, so infer's cache (and LiteLLM's, which is off anyway) never answers;
# any non-2xx answer, socket error or cache hit fails the run. INFER_BIN_DIR=DIR uses the daemons already
# built there (the tests' debug build) instead of building in release mode; INFER_ENV="VAR=VALUE ..."
# adds settings to infer's (e.g. BATCH_FLUSH_TIMEOUT_MS=0, to see what batchd's wait for company costs).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECTIONS=${2:-64}
MAX_TOKENS=${3:-8}
. bench/lib/common.sh
bench_start run-gateway-overhead-bench
bench_prepare wrk curl nginx-light
scripts/install-litellm.sh

# The fixed upstream. infer always asks its upstream for a stream (docs/modeld.md), LiteLLM and the
# direct client for one JSON answer: nginx serves the same completion both ways, the stream under /sse/.
ANSWER="The capital of France is Paris."
CHUNK='{"id":"chatcmpl-fixed","object":"chat.completion.chunk","created":1700000000,"model":"fixed","choices":'
COMPLETION='{"id":"chatcmpl-fixed","object":"chat.completion","created":1700000000,"model":"fixed","choices":[{"index":0,"message":{"role":"assistant","content":"'$ANSWER'"},"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22}}'
STREAM="data: $CHUNK"'[{"index":0,"delta":{"role":"assistant","content":"'$ANSWER'"},"finish_reason":null}]}\n\n'
STREAM+="data: $CHUNK"'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
STREAM+="data: $CHUNK"'[],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22}}\n\ndata: [DONE]\n\n'
MODELS_LIST='{"object":"list","data":[{"id":"fixed","object":"model","created":1700000000,"owned_by":"bench"}]}'
NGINX_PORT=$(free_port)
FIXED=http://127.0.0.1:$NGINX_PORT
start_nginx 1 "server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /v1/chat/completions { default_type application/json; return 200 '$COMPLETION'; }
        location = /sse/v1/chat/completions { default_type text/event-stream; return 200 '$STREAM'; }
        location ~ ^(/sse)?/v1/models\$ { default_type application/json; return 200 '$MODELS_LIST'; }
    }" "$FIXED/v1/models"

start_llama_server "$MODELS" "$OUT/overhead-llama.log"

cat > "$run/models.json" <<JSON
{"models": [
  {"name": "fixed", "kind": "chat", "engine": "openai", "url": "$FIXED/sse/v1", "upstream_model": "fixed"},
  {"name": "llama", "kind": "chat", "engine": "openai", "url": "$LLAMA/v1", "upstream_model": "smollm2"}
]}
JSON
# shellcheck disable=SC2086 # INFER_ENV is a list of words
start_infer "$BIN" "$run/models.json" "$MODELS" "$OUT/overhead-inferctl.log" ${INFER_ENV:-}

# LiteLLM's proxy: one worker, no database, its cache off, the model cost map from its own package (no
# fetch from the network at start), a master key (it refuses to start without one).
LITELLM_KEY=sk-bench-overhead
LITELLM_PORT=$(free_port)
cat > "$run/litellm.yaml" <<YAML
model_list:
  - model_name: fixed
    litellm_params: {model: openai/fixed, api_base: "$FIXED/v1", api_key: none}
  - model_name: llama
    litellm_params: {model: openai/smollm2, api_base: "$LLAMA/v1", api_key: none}
litellm_settings:
  cache: false
  telemetry: false
general_settings:
  master_key: $LITELLM_KEY
  disable_spend_logs: true
YAML
LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR .venv-litellm/bin/litellm --config "$run/litellm.yaml" \
    --host 127.0.0.1 --port "$LITELLM_PORT" --num_workers 1 > "$OUT/overhead-litellm.log" 2>&1 &
litellm_pid=$!
pids+=("$litellm_pid")
LITELLM=http://127.0.0.1:$LITELLM_PORT
# It imports for tens of seconds on a loaded machine; three minutes at most.
for _ in $(seq 1800); do
    curl -sf -o /dev/null "$LITELLM/health/liveliness" && break
    kill -0 "$litellm_pid" 2>/dev/null || fail "LiteLLM's proxy exited ($OUT/overhead-litellm.log)"
    sleep 0.1
done
curl -sf -o /dev/null "$LITELLM/health/liveliness" || fail "LiteLLM's proxy did not answer in 3 minutes ($OUT/overhead-litellm.log)"

# The three ways: base URL, key ("-": none) and the model name each gives an upstream.
declare -A BASE=([direct-fixed]=$FIXED [direct-llama]=$LLAMA [infer-fixed]=$INFER [infer-llama]=$INFER
                 [litellm-fixed]=$LITELLM [litellm-llama]=$LITELLM)
declare -A AUTH=([direct]=- [infer]=$KEY [litellm]=$LITELLM_KEY)
declare -A MODEL=([direct-fixed]=fixed [direct-llama]=smollm2 [infer-fixed]=fixed [infer-llama]=llama
                  [litellm-fixed]=fixed [litellm-llama]=llama)
WAYS=(direct infer litellm)

# One request each way first: every one must answer 200, with the direct answer's text.
text() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["choices"][0]["message"]["content"])'; }
for upstream in fixed llama; do
    expected=
    for way in "${WAYS[@]}"; do
        name=$way-$upstream
        auth=(); [ "${AUTH[$way]}" = - ] || auth=(-H "Authorization: Bearer ${AUTH[$way]}")
        reply=$(curl -s -m 60 -w '\n%{http_code}' "${BASE[$name]}/v1/chat/completions" -H 'Content-Type: application/json' "${auth[@]}" \
            -d '{"model":"'"${MODEL[$name]}"'","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":'"$MAX_TOKENS"',"seed":1}')
        [ "${reply##*$'\n'}" = 200 ] || fail "$name: the first request was refused: $reply"
        answer=$(text <<< "${reply%$'\n'*}") || fail "$name: not a chat completion: $reply"
        [ -n "$expected" ] || expected=$answer
        [ "$answer" = "$expected" ] || fail "$name answered \"$answer\", directly \"$expected\""
    done
done

# Idle memory, both gateways having answered a request each (LiteLLM imports much on its first).
infer_memory "$BIN" > "$run/infer-idle"
read -r infer_rss infer_pss < <(awk '{ r += $2; p += $3 } END { print r, p }' "$run/infer-idle")
read -r litellm_rss litellm_pss < <(tree_memory "$litellm_pid")

measure() { # way upstream connections run-number → "req/s p50 p99"; fails the run on any failed request
    local name=$1-$2 threads=$(( $3 < 2 ? 1 : 2 )) file=$OUT/wrk-overhead-$1-$2-c$3.txt
    wrk -t"$threads" -c"$3" -d"$DURATION" --timeout 30s --latency -s bench/lib/seeded-chat.lua "${BASE[$name]}" \
        -- "${MODEL[$name]}" "$MAX_TOKENS" "${AUTH[$1]}" "$4" > "$file"
    local rps p50 p99 bad n
    read -r rps p50 p99 bad n < <(wrk_figures "$file")
    [ "$bad" -eq 0 ] || fail "$name, $3 connection(s): $bad request(s) refused, failed or answered from a cache ($file)"
    # llama.cpp may take longer than a short run (the bench test's) for one answer: then no figure, but
    # nothing was refused, and the requests above showed every way answers.
    [ "$n" -gt 0 ] || echo "$BENCH_NAME: $name: no request completed in $DURATION; give a longer duration for figures" >&2
    echo "$rps $p50 $p99"
}
declare -A FIG
number=0
for upstream in fixed llama; do
    for way in "${WAYS[@]}"; do
        number=$((number + 1))
        FIG[$way-$upstream-1]=$(measure "$way" "$upstream" 1 "$number")
    done
    # Paired (bench/lib/paired.py): the same request each way in turn, for as long as one wrk run; against
    # a model whose own time drifts by far more than a gateway adds, the median of the rounds' differences
    # is the figure to read. Before the N-connection runs: a gateway that does not cancel the upstream
    # calls of the clients wrk leaves at its end keeps llama.cpp busy with them for a while after.
    python3 bench/lib/paired.py "$DURATION" "$MAX_TOKENS" $(for way in "${WAYS[@]}"; do
        echo "$way ${BASE[$way-$upstream]} ${MODEL[$way-$upstream]} ${AUTH[$way]}"; done) > "$run/paired-$upstream" \
        || fail "the paired requests to the $upstream upstream failed"
    for way in "${WAYS[@]}"; do
        number=$((number + 1))
        FIG[$way-$upstream-$CONNECTIONS]=$(measure "$way" "$upstream" "$CONNECTIONS" "$number")
    done
done
read -r infer_rss_load infer_pss_load < <(infer_memory "$BIN" | awk '{ r += $2; p += $3 } END { print r, p }')
read -r litellm_rss_load litellm_pss_load < <(tree_memory "$litellm_pid")

{
machine_line
echo "== chat completion, max_tokens $MAX_TOKENS, temperature 0, a seed per request; wrk -d$DURATION; binaries: $BIN${INFER_ENV:+ with $INFER_ENV}; LiteLLM $(.venv-litellm/bin/python -c 'import importlib.metadata as m; print(m.version("litellm"))'), 1 worker"
for upstream in fixed llama; do
    [ $upstream = fixed ] && echo "-- upstream: nginx returning a fixed completion" || echo "-- upstream: llama.cpp's server (llama-cpp-python, 1 thread)"
    printf '%-10s %12s %10s %10s %14s %14s %12s\n' "" "c1 req/s" "c1 p50 ms" "c1 p99 ms" "added p50 ms" "added p99 ms" "c$CONNECTIONS req/s"
    read -r _ d50 d99 <<< "${FIG[direct-$upstream-1]}"
    for way in "${WAYS[@]}"; do
        read -r r1 p50 p99 <<< "${FIG[$way-$upstream-1]}"
        read -r rn _ _ <<< "${FIG[$way-$upstream-$CONNECTIONS]}"
        awk -v w="$way" -v r1="$r1" -v p50="$p50" -v p99="$p99" -v d50="$d50" -v d99="$d99" -v rn="$rn" 'BEGIN {
            if (w == "direct") printf "%-10s %12.1f %10.3f %10.3f %14s %14s %12.1f\n", w, r1, p50, p99, "-", "-", rn
            else printf "%-10s %12.1f %10.3f %10.3f %+14.3f %+14.3f %12.1f\n", w, r1, p50, p99, p50 - d50, p99 - d99, rn }'
    done
    read -r _ rounds pd _ < <(grep '^direct ' "$run/paired-$upstream")
    read -r _ _ pi ia < <(grep '^infer ' "$run/paired-$upstream")
    read -r _ _ pl la < <(grep '^litellm ' "$run/paired-$upstream")
    awk -v n="$rounds" -v pd="$pd" -v pi="$pi" -v pl="$pl" -v ia="$ia" -v la="$la" 'BEGIN {
        printf "paired, %d rounds: medians direct %.3f, infer %.3f, LiteLLM %.3f ms; added (median of the differences): infer %+.3f ms, LiteLLM %+.3f ms, ratio %s\n",
            n, pd, pi, pl, ia, la, (ia > 0 ? sprintf("%.1fx", la / ia) : "n/a") }'
    read -r _ i50 i99 <<< "${FIG[infer-$upstream-1]}"
    read -r _ l50 l99 <<< "${FIG[litellm-$upstream-1]}"
    awk -v u="$upstream" -v d50="$d50" -v d99="$d99" -v i50="$i50" -v i99="$i99" -v l50="$l50" -v l99="$l99" 'BEGIN {
        ia = i50 - d50; la = l50 - d50; ib = i99 - d99; lb = l99 - d99
        printf "ratio LiteLLM-added / infer-added (%s): p50 %s, p99 %s (goal: >= 50x)\n", u,
            (ia > 0 ? sprintf("%.1fx", la / ia) : "n/a (infer added nothing measurable)"),
            (ib > 0 ? sprintf("%.1fx", lb / ib) : "n/a (infer added nothing measurable)") }'
done
echo "-- memory (KiB to MiB; RSS counts shared libraries once per process, PSS splits them)"
awk -v r="$infer_rss" -v p="$infer_pss" -v rl="$infer_rss_load" -v pl="$infer_pss_load" 'BEGIN {
    printf "infer, six daemons: idle RSS %.1f MiB (PSS %.1f), after the load RSS %.1f MiB (PSS %.1f)\n", r / 1024, p / 1024, rl / 1024, pl / 1024 }'
awk '{ printf "  %s %.1f", $1, $2 / 1024 } END { print " (RSS MiB, idle)" }' "$run/infer-idle"
awk -v r="$litellm_rss" -v p="$litellm_pss" -v rl="$litellm_rss_load" -v pl="$litellm_pss_load" 'BEGIN {
    printf "LiteLLM proxy: idle RSS %.1f MiB (PSS %.1f), after the load RSS %.1f MiB (PSS %.1f)\n", r / 1024, p / 1024, rl / 1024, pl / 1024 }'
} | tee "$OUT/overhead-summary.txt"
