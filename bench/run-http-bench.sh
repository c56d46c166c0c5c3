#!/usr/bin/env bash
# Raw HTTP benchmark: the HTTP target (bench/http-bench, release build) against nginx answering the same
# ~300-byte JSON body, both measured by wrk in the same run on loopback. Prints req/s, p50/p99 and the
# ratio. Usage: bench/run-http-bench.sh [duration=5s] [connections=64] [threads=2]
# INFER_BIN_DIR=DIR uses the http-bench already built there (the tests' debug build) instead of building
# it in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5s}
CONNECTIONS=${2:-64}
THREADS=${3:-2}
PORT_SWIFT=${HTTP_BENCH_PORT:-18180}
PORT_NGINX=${NGINX_BENCH_PORT:-18181}
OUT=bench/out
mkdir -p "$OUT"

scripts/install-deps.sh wrk nginx-light
BIN=${INFER_BIN_DIR:-}
if [ -z "$BIN" ]; then
    swift build -c release --product http-bench >/dev/null
    BIN=$PWD/.build/release
fi

BODY='{"id":"cmpl-7a1c0e5b9f3d4c2a","object":"text_completion","created":1732350000,"model":"smollm2-135m","choices":[{"index":0,"text":"The capital of France is Paris.","finish_reason":"stop","logprobs":null}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20},"cached":true,"latency_ms":0}'

pids=()
dir=
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; [ -z "$dir" ] || rm -rf "$dir"; }
trap cleanup EXIT

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "run-http-bench: nothing listens on port $1" >&2
    return 1
}

# wrk's summary → "req/s p50 p99" (latencies in ms)
measure() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$1/v1/completions" > "$OUT/wrk-$2.txt"
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' "$OUT/wrk-$2.txt"
}

"$BIN/http-bench" "$PORT_SWIFT" > "$OUT/http-bench.log" &
pids+=($!)
wait_port "$PORT_SWIFT"
wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$PORT_SWIFT/" >/dev/null  # warm-up
read -r swift_rps swift_p50 swift_p99 < <(measure "$PORT_SWIFT" swift)
kill "${pids[0]}"
echo "http-bench  ${swift_rps} req/s  p50 ${swift_p50} ms  p99 ${swift_p99} ms  (wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"

if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
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
    server {
        listen 127.0.0.1:$PORT_NGINX;
        location / { default_type application/json; return 200 '$BODY'; }
    }
}
CONF
    "$NGINX" -c "$dir/nginx.conf" &
    pids+=($!)
    wait_port "$PORT_NGINX"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$PORT_NGINX/" >/dev/null
    read -r nginx_rps nginx_p50 nginx_p99 < <(measure "$PORT_NGINX" nginx)
    echo "nginx       ${nginx_rps} req/s  p50 ${nginx_p50} ms  p99 ${nginx_p99} ms"
    awk -v s="$swift_rps" -v n="$nginx_rps" 'BEGIN { printf "ratio http-bench/nginx: %.2f (goal >= 0.50)\n", s / n }'
else
    echo "nginx not installed (apt-get install -y nginx-light): no ratio"
fi
