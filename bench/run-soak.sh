#!/usr/bin/env bash
# Soak: the whole stack under steady mixed load — chat, streams, embeddings, clients that vanish
# mid-stream, and hostile requests (malformed JSON, oversized and slow headers, wrong keys) — for MINUTES,
# sampling every daemon's resident memory and open descriptors every SAMPLE seconds. Prints the samples
# and fails (exit 1) when, after the first sample (warm-up), any daemon's descriptors grew by more than 8
# or its memory by more than 16 MiB + 10 %, or when a well-formed request failed.
#
#   bench/run-soak.sh [MINUTES=30] [SAMPLE_SECONDS=60]
#   env: INFER_BIN_DIR (default: a release build, made here; BIN_DIR is read too), SOAK_PORT, SOAK_METRICS_PORT, INFER_MODELS_DIR
# The suite runs it for 3 minutes with the debug build (Tests/StackTests/SoakTests.swift).
set -uo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
SAMPLE=${2:-60}
PORT=${SOAK_PORT:-18580}
METRICS=${SOAK_METRICS_PORT:-18581}
BIN_DIR=${INFER_BIN_DIR:-${BIN_DIR:-}}
if [ -z "$BIN_DIR" ]; then
    swift build -c release >/dev/null || exit 1
    BIN_DIR=$PWD/.build/release
fi
run=$(mktemp -d /tmp/infer-soak.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$run"; }
trap cleanup EXIT
trap 'exit 143' INT TERM  # so that a killed soak still stops its stack (the EXIT trap runs)
if curl -s -o /dev/null -m 2 "http://127.0.0.1:$PORT/"; then
    echo "soak: something already answers on port $PORT (a stack left running?); set SOAK_PORT"; exit 1
fi

printf 'RATE_LIMIT_RPM=1000000\nLOG_LEVEL=warn\n' > "$run/soak.env"
key=$("$BIN_DIR/inferctl" keys create soak --scopes infer,embed --rpm 1000000 --file "$run/keys.json" 2>/dev/null)
INFER_MODELS_DIR=${INFER_MODELS_DIR:-$PWD/models} "$BIN_DIR/inferctl" up --runtime-dir "$run/rt" --bin-dir "$BIN_DIR" \
    --registry "$PWD/config/models.json" --port "$PORT" --metrics-port "$METRICS" --env-file "$run/soak.env" \
    --keys-file "$run/keys.json" > "$run/inferctl.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "soak: the stack did not start"; tail -20 "$run/inferctl.log"; exit 1; }

end=$(( $(date +%s) + MINUTES * 60 ))
api="http://127.0.0.1:$PORT/v1"
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")
# Each loop appends one line per request to its log: "ok" or "FAIL <status>".
client() { # client NAME
    local i=0
    while [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        case "$1" in
            chat) s=$(curl -s -o /dev/null -w '%{http_code}' -m 60 "${auth[@]}" -d '{"model":"smollm2","messages":[{"role":"user","content":"Soak '"$i"'"}],"max_tokens":6,"temperature":0}' "$api/chat/completions") ;;
            stream) s=$(curl -s -o /dev/null -w '%{http_code}' -m 60 "${auth[@]}" -d '{"model":"smollm2","messages":[{"role":"user","content":"Soak story '"$((i % 50))"'"}],"max_tokens":16,"temperature":0,"stream":true}' "$api/chat/completions") ;;
            embed) s=$(curl -s -o /dev/null -w '%{http_code}' -m 60 "${auth[@]}" -d '{"model":"minilm","input":["soak '"$i"'","again"]}' "$api/embeddings") ;;
            vanish) curl -s -o /dev/null -m 0.4 "${auth[@]}" -d '{"model":"smollm2","messages":[{"role":"user","content":"Long '"$i"'"}],"max_tokens":64,"temperature":0.8,"stream":true}' "$api/chat/completions"; s=skip ;;
            hostile)
                case $((i % 5)) in
                    0) s=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "${auth[@]}" -d '{"model":' "$api/chat/completions"); [ "$s" = 400 ] && s=200 ;;
                    1) s=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H "Authorization: Bearer wrong" "$api/models"); [ "$s" = 401 ] && s=200 ;;
                    2) s=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$api/models"); [ "$s" = 431 ] && s=200 ;;
                    3) (exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' >&3 && sleep 1 && exec 3>&-) 2>/dev/null; s=skip ;;
                    4) s=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "${auth[@]}" -d '{"model":"smollm2","messages":[],"max_tokens":-1}' "$api/chat/completions"); [ "$s" = 422 ] && s=200 ;;
                esac ;;
        esac
        [ "$s" = skip ] && continue
        [ "$s" = 200 ] && echo ok || echo "FAIL $s"
    done >> "$run/$1.log"
}
for c in chat stream embed vanish hostile; do client "$c" & pids+=($!); done

sample() { # one line per daemon: unit pid fds rss_kib
    "$BIN_DIR/inferctl" status --runtime-dir "$run/rt" --json 2>/dev/null | python3 -c '
import json, sys, os
for d in json.load(sys.stdin)["daemons"]:
    pid = d.get("pid")
    if not pid: continue
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    except OSError:
        continue
    print(d["unit"], pid, fds, rss)'
}
echo "soak: $MINUTES min of mixed load on $BIN_DIR, a sample every $SAMPLE s"
n=0
while [ "$(date +%s)" -lt "$end" ]; do
    sleep "$SAMPLE"
    n=$((n + 1))
    sample | sed "s/^/$n /" >> "$run/samples"
    answered=$(cat "$run"/{chat,stream,embed,hostile}.log 2>/dev/null | grep -c '^ok')
    echo "minute $(( n * SAMPLE / 60 )) (sample $n): $answered requests answered; $(awk -v n=$n '$1==n {printf "%s fds %s rss %d MiB; ", $2, $4, $5/1024}' "$run/samples")"
done
for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null; done

status=0
failed=$(cat "$run"/{chat,stream,embed,hostile}.log | grep -c '^FAIL')
total=$(cat "$run"/{chat,stream,embed,hostile}.log | wc -l)
echo "requests: $total, failed: $failed"
[ "$failed" -eq 0 ] || { grep -h '^FAIL' "$run"/*.log | sort | uniq -c; status=1; }
# Flat after warm-up: the first sample against the last, per daemon (same pid: no restart).
awk -v last=$n '
    $1 == 1 { fd[$2] = $4; rss[$2] = $5; pid[$2] = $3 }
    $1 == last && ($2 in fd) && pid[$2] == $3 {
        grow_fd = $4 - fd[$2]; grow_rss = $5 - rss[$2]
        printf "%-16s fds %4d -> %4d   RSS %7d -> %7d KiB\n", $2, fd[$2], $4, rss[$2], $5
        if (grow_fd > 8 || grow_rss > 16384 + rss[$2] / 10) { print "  NOT FLAT: " $2; bad = 1 }
    }
    END { exit bad }' "$run/samples" || status=1
[ $n -ge 2 ] || { echo "soak: fewer than two samples; make MINUTES*60 at least twice SAMPLE_SECONDS"; status=1; }
[ $status -eq 0 ] && echo "soak: flat after warm-up, nothing failed" || echo "soak: FAILED"
exit $status
