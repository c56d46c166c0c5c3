#!/usr/bin/env bash
# Cache-hit path through the whole gateway (frontd → limitd → cached → reply) under wrk, against nginx
# returning the same body from memory, in one run; plus the pipeline's own latency per request (c1), and
# the CPU time frontd, limitd and cached spent per request (from /proc, so a figure that a machine shared
# with other work disturbs far less than requests/s: compare builds by it).
#   bench/run-gateway-bench.sh [duration=5s] [connections=64] [threads=2]
# The requests carry a key made with `inferctl keys create`; a refused request (any non-2xx), or a second
# request that is not a cache hit, fails the run. INFER_BIN_DIR=DIR uses the daemons already built there
# (the tests' debug build) instead of building in release mode.
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
fail() { echo "run-gateway-bench: $*" >&2; exit 1; }
scripts/install-deps.sh wrk nginx-light curl
MODELS=${INFER_MODELS_DIR:-$PWD/models}
scripts/fetch-models.sh "$MODELS" >/dev/null
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
    swift build -c release >/dev/null
    BIN=$PWD/.build/release
fi

run=$(mktemp -d /tmp/infer-gw.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 1; rm -rf "$run"; }
trap cleanup EXIT

# Every request the same deterministic chat completion; the rate limit raised out of the way.
printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\n' > "$run/bench.env"
KEY=$("$BIN/inferctl" keys create bench --scopes infer --rpm 1000000 --file "$run/keys.json" 2>/dev/null) || fail "inferctl keys create failed"
INFER_MODELS_DIR=$MODELS "$BIN/inferctl" up --runtime-dir "$run/rt" \
    --bin-dir "$BIN" --registry "$PWD/config/models.json" --port "$PORT" --metrics-port "$METRICS" \
    --keys-file "$run/keys.json" --env-file "$run/bench.env" > "$OUT/gateway-inferctl.log" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
[ $ready = 1 ] || fail "the stack did not become ready on port $PORT (bench/out/gateway-inferctl.log)"
BODY='{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":16}'
post() { curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" -d "$BODY" "$@" "http://127.0.0.1:$PORT/v1/chat/completions"; }
status=$(post -o "$OUT/gateway-reply.json" -w '%{http_code}')
[ "$status" = 200 ] || fail "the first request was refused ($status): $(cat "$OUT/gateway-reply.json")"
hit=$(post -D - -o /dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
[ "$hit" = HIT ] || fail "second request was not a cache hit (X-Cache: ${hit:-none})"
cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '$BODY'
LUA

# CPU clock ticks spent so far by the stack's frontd, limitd and cached (children of `inferctl up`), in
# that order.
ticks() {
    local f=0 l=0 c=0 child t
    for child in $(pgrep -P "${pids[0]}"); do
        t=$(awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || echo 0)
        case "$(cat "/proc/$child/comm" 2>/dev/null)" in
            frontd) f=$(( f + t ));;
            limitd) l=$(( l + t ));;
            cached) c=$(( c + t ));;
        esac
    done
    echo "$f $l $c"
}
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
CPU_PER_REQUEST=0
CPU_SPLIT=
measure() { # url name connections threads
    local before after requests
    read -r -a before <<< "$(ticks)"
    wrk -t"$4" -c"$3" -d"$DURATION" --latency -s "$run/post.lua" "$1" > "$OUT/wrk-$2.txt"
    read -r -a after <<< "$(ticks)"
    requests=$(awk '/requests in/ { print $1 }' "$OUT/wrk-$2.txt")
    requests=$(( ${requests:-0} > 0 ? requests : 1 ))
    local f=$(( (after[0] - before[0]) * TICK_US / requests )) l=$(( (after[1] - before[1]) * TICK_US / requests ))
    local c=$(( (after[2] - before[2]) * TICK_US / requests ))
    CPU_PER_REQUEST=$(( (after[0] + after[1] + after[2] - before[0] - before[1] - before[2]) * TICK_US / requests ))
    CPU_SPLIT="frontd $f, limitd $l, cached $c"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $4 }
        /Socket errors/ { bad += 1 }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }' "$OUT/wrk-$2.txt"
}
# Any refused request makes the figures meaningless: stop there.
check() { [ "$2" -eq 0 ] || fail "$1: $2 request(s) refused or failed (bench/out/wrk-$1.txt)"; }

wrk -t"$THREADS" -c"$CONNECTIONS" -d1s -s "$run/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
measure "http://127.0.0.1:$PORT/v1/chat/completions" gateway "$CONNECTIONS" "$THREADS" > "$run/figures"
read -r g_rps g_p50 g_p99 g_bad < "$run/figures"
g_cpu=$CPU_PER_REQUEST
g_split=$CPU_SPLIT
check gateway "$g_bad"
measure "http://127.0.0.1:$PORT/v1/chat/completions" gateway-c1 1 1 > "$run/figures"
read -r g1_rps g1_p50 g1_p99 g1_bad < "$run/figures"
g1_cpu=$CPU_PER_REQUEST
g1_split=$CPU_SPLIT
check gateway-c1 "$g1_bad"
echo "gateway cache hit  ${g_rps} req/s  p50 ${g_p50} ms  p99 ${g_p99} ms  non-2xx ${g_bad}  cpu ${g_cpu} us/request  (wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"
echo "gateway, 1 conn    ${g1_rps} req/s  p50 ${g1_p50} ms  p99 ${g1_p99} ms  cpu ${g1_cpu} us/request  (the pipeline's own latency: HTTP + limitd + cached + reply)"
echo "                   (cpu: frontd + limitd + cached, user + system, per request: c$CONNECTIONS $g_split; c1 $g1_split; load average $(cut -d' ' -f1-3 /proc/loadavg))"

reply=$(cat "$OUT/gateway-reply.json")
dir=$run/nginx
mkdir -p "$dir"
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
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT_NGINX/" && break; sleep 0.05; done
read -r n_rps n_p50 n_p99 n_bad < <(measure "http://127.0.0.1:$PORT_NGINX/" nginx "$CONNECTIONS" "$THREADS")
check nginx "$n_bad"
read -r n1_rps n1_p50 n1_p99 n1_bad < <(measure "http://127.0.0.1:$PORT_NGINX/" nginx-c1 1 1)
echo "nginx              ${n_rps} req/s  p50 ${n_p50} ms  p99 ${n_p99} ms"
echo "nginx, 1 conn      ${n1_rps} req/s  p50 ${n1_p50} ms"
awk -v g="$g_rps" -v n="$n_rps" 'BEGIN { printf "ratio gateway/nginx at c%s: %.2f (goal >= 0.50; p99 goal < 5 ms)\n", "'"$CONNECTIONS"'", g / n }'
