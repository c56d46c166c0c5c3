#!/usr/bin/env bash
# Cache-hit path through the whole gateway (frontd → limitd → cached → reply) under wrk, against nginx
# returning the same body from memory, in one run; plus the pipeline's own latency per request (c1).
#   bench/run-gateway-bench.sh [duration=5s] [connections=64] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5s}
CONNECTIONS=${2:-64}
THREADS=${3:-2}
PORT=${GATEWAY_BENCH_PORT:-18280}
METRICS=${GATEWAY_BENCH_METRICS_PORT:-18281}
PORT_NGINX=${NGINX_BENCH_PORT:-18282}
OUT=bench/out
mkdir -p "$OUT"
scripts/install-deps.sh wrk nginx-light
swift build -c release >/dev/null

run=$(mktemp -d /tmp/infer-gw.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 1; rm -rf "$run"; }
trap cleanup EXIT

# Every request the same deterministic chat completion; the rate limit raised out of the way.
printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\n' > "$run/bench.env"
INFER_MODELS_DIR=${INFER_MODELS_DIR:-$PWD/models} .build/release/inferctl up --runtime-dir "$run/rt" \
    --bin-dir "$PWD/.build/release" --registry "$PWD/config/models.json" --port "$PORT" --metrics-port "$METRICS" \
    --env-file "$run/bench.env" > "$OUT/gateway-inferctl.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done
BODY='{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":16}'
curl -s "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$BODY" > "$OUT/gateway-reply.json"
hit=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$BODY" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
[ "$hit" = HIT ] || { echo "run-gateway-bench: second request was not a cache hit (X-Cache: $hit)" >&2; exit 1; }
cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA

measure() { # url name connections threads
    wrk -t"$4" -c"$3" -d"$DURATION" --latency -s "$run/post.lua" "$1" > "$OUT/wrk-$2.txt"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $4 }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }' "$OUT/wrk-$2.txt"
}

wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -s "$run/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
read -r g_rps g_p50 g_p99 g_bad < <(measure "http://127.0.0.1:$PORT/v1/chat/completions" gateway "$CONNECTIONS" "$THREADS")
read -r g1_rps g1_p50 g1_p99 g1_bad < <(measure "http://127.0.0.1:$PORT/v1/chat/completions" gateway-c1 1 1)
echo "gateway cache hit  ${g_rps} req/s  p50 ${g_p50} ms  p99 ${g_p99} ms  non-2xx ${g_bad}  (wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"
echo "gateway, 1 conn    ${g1_rps} req/s  p50 ${g1_p50} ms  p99 ${g1_p99} ms  (the pipeline's own latency: HTTP + limitd + cached + reply)"

reply=$(cat "$OUT/gateway-reply.json")
dir=$(mktemp -d)
cat > "$dir/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;
    server { listen 127.0.0.1:$PORT_NGINX; location / { default_type application/json; return 200 '$reply'; } }
}
CONF
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
"$NGINX" -c "$dir/nginx.conf" &
pids+=($!)
sleep 0.5
read -r n_rps n_p50 n_p99 n_bad < <(measure "http://127.0.0.1:$PORT_NGINX/" nginx "$CONNECTIONS" "$THREADS")
read -r n1_rps n1_p50 n1_p99 n1_bad < <(measure "http://127.0.0.1:$PORT_NGINX/" nginx-c1 1 1)
echo "nginx              ${n_rps} req/s  p50 ${n_p50} ms  p99 ${n_p99} ms"
echo "nginx, 1 conn      ${n1_rps} req/s  p50 ${n1_p50} ms"
awk -v g="$g_rps" -v n="$n_rps" 'BEGIN { printf "ratio gateway/nginx at c%s: %.2f (goal >= 0.50; p99 goal < 5 ms)\n", "'"$CONNECTIONS"'", g / n }'
