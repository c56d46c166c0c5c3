#!/usr/bin/env bash
# infer on three hosts: three network namespaces, each running the whole stack (inferctl up, the real
# daemons and models), one redis-server they share (the cache's tiered backend and limitd's Redis
# backend), and nginx in front as the load balancer. Checks, and prints counts for:
#   1. an answer computed on one host is a cache hit on the other two (the shared Redis tier);
#   2. a per-key rate limit holds cluster-wide (requests spread over the hosts, one combined limit);
#   3. one host SIGKILLed under a steady client: nginx and the other hosts keep serving, and no request
#      is lost but what that host held at the moment it died.
# Needs root (ip netns), iproute2, nginx, redis-server (installed here with scripts/install-deps.sh).
#
#   scripts/three-hosts-test.sh [BIN_DIR]     (default .build/debug; models from INFER_MODELS_DIR or ./models)
# Exit 0 when every check holds, 1 when one fails, 77 when this machine cannot make namespaces.
# docs/OPERATIONS.md "Several hosts" explains each part's configuration.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=$(cd "${1:-.build/debug}" && pwd)
models=${INFER_MODELS_DIR:-$repo/models}
say() { printf 'three-hosts: %s\n' "$*"; }
fail=0
check() { # check NAME CONDITION-RESULT(0/1) DETAIL
    if [ "$2" -eq 0 ]; then say "ok   $1 ($3)"; else say "FAIL $1 ($3)"; fail=1; fi
}

[ "$(id -u)" -eq 0 ] || { say "skipped: needs root for ip netns"; exit 77; }
scripts/install-deps.sh iproute2 nginx-light redis-server curl >/dev/null || { say "could not install iproute2, nginx, redis-server"; exit 1; }
tag=i$$
if ! ip netns add "${tag}probe" 2>/dev/null; then say "skipped: this machine does not allow network namespaces"; exit 77; fi
ip netns del "${tag}probe"

work=$(mktemp -d /tmp/infer-3h.XXXXXX)
net=10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).
bridge=${tag}br
lb_port=${THREE_HOSTS_LB_PORT:-18480}
pids=()
cleanup() {
    for h in 1 2 3; do
        for pid in $(ip netns pids "${tag}h$h" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    done
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 2
    for h in 1 2 3; do
        for pid in $(ip netns pids "${tag}h$h" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "${tag}h$h" 2>/dev/null
    done
    ip link del "$bridge" 2>/dev/null
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# The network: a bridge in this namespace (${net}1, where redis and nginx listen) and one veth per host.
ip link add "$bridge" type bridge && ip addr add "${net}1/24" dev "$bridge" && ip link set "$bridge" up || exit 1
for h in 1 2 3; do
    ns=${tag}h$h
    ip netns add "$ns"
    ip link add "${tag}v$h" type veth peer name eth0 netns "$ns"
    ip link set "${tag}v$h" master "$bridge" up
    ip -n "$ns" addr add "${net}1$h/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
done

# One redis-server for the cluster: no persistence, bound to the bridge, with a password (Redis refuses
# clients from other addresses than loopback without one: protected mode).
redis_password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
redis-server --bind "${net}1" --port 6390 --save "" --appendonly no --daemonize no \
    --requirepass "$redis_password" --logfile "$work/redis.log" &
pids+=($!)

# One keys file for every host: an unlimited key, and a key limited to 6 requests a minute.
"$bin/inferctl" keys create ops --scopes infer,embed,admin --rpm 1000000 --file "$work/keys.json" > "$work/ops.key" 2>/dev/null || exit 1
"$bin/inferctl" keys create limited --scopes infer --rpm 6 --file "$work/keys.json" > "$work/limited.key" 2>/dev/null || exit 1
ops=$(cat "$work/ops.key"); limited=$(cat "$work/limited.key")

cat > "$work/infer.env" <<EOF
LOG_LEVEL=warn
CACHE_BACKEND=${THREE_HOSTS_CACHE_BACKEND:-tiered}
LIMITS_BACKEND=redis
REDIS_URL=redis://:${redis_password}@${net}1:6390/0
EOF
for h in 1 2 3; do
    mkdir -p "$work/h$h"
    ip netns exec "${tag}h$h" env INFER_MODELS_DIR="$models" "$bin/inferctl" up --runtime-dir "$work/h$h/run" \
        --bin-dir "$bin" --registry "$repo/config/models.json" --port 8080 --metrics-port 9464 \
        --env-file "$work/infer.env" --keys-file "$work/keys.json" > "$work/h$h/stdout" 2> "$work/h$h/stderr" &
done

# nginx in front: round robin; a host that refuses or resets is skipped for the next (passive checks).
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    upstream infer {
        server ${net}11:8080 max_fails=1 fail_timeout=5s;
        server ${net}12:8080 max_fails=1 fail_timeout=5s;
        server ${net}13:8080 max_fails=1 fail_timeout=5s;
        # No keepalive to the hosts: a POST written on an idle connection to a host that has just died
        # is answered 502 (nginx does not resend a non-idempotent request it sent); a fresh connection
        # to a dead host is refused, and nginx moves on to the next.
    }
    server {
        listen 127.0.0.1:$lb_port;
        location / {
            proxy_pass http://infer;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
        }
    }
}
EOF
nginx -c "$work/nginx.conf" -g "daemon off;" &
pids+=($!)

for h in 1 2 3; do
    ready=1
    for _ in $(seq 600); do
        if curl -sf "http://${net}1$h:8080/ready" >/dev/null 2>&1; then ready=0; break; fi
        sleep 0.2
    done
    check "host $h ready" $ready "http://${net}1$h:8080/ready"
    [ $ready -eq 0 ] || { tail -20 "$work/h$h/stderr"; exit 1; }
done

chat='{"model":"smollm2","messages":[{"role":"user","content":"Name three rivers."}],"max_tokens":12,"temperature":0}'
post() { # post URL KEY BODY -> "STATUS X-CACHE"
    curl -s -o /dev/null -D - -m 120 -H "Authorization: Bearer $2" -H "Content-Type: application/json" -d "$3" "$1" \
        | awk 'BEGIN{s="000";c="-"} /^HTTP/{s=$2} tolower($1)=="x-cache:"{c=$2} END{gsub("\r","",c); print s, c}'
}

# 1. The shared tier: computed once through the balancer, a hit on each host directly.
first=$(post "http://127.0.0.1:$lb_port/v1/chat/completions" "$ops" "$chat")
check "first answer through nginx" "$([ "$first" = "200 MISS" ] && echo 0 || echo 1)" "$first"
hits=0
for h in 1 2 3; do
    r=$(post "http://${net}1$h:8080/v1/chat/completions" "$ops" "$chat")
    [ "$r" = "200 HIT" ] && hits=$((hits + 1))
    say "     host $h answers the same request: $r"
done
check "an answer made on one host is a hit on every host" "$([ $hits -eq 3 ] && echo 0 || echo 1)" "$hits of 3 hosts"

# 2. One rate limit for the cluster: 12 requests spread over the hosts by nginx, 6 admitted.
ok=0; limited_count=0
for i in $(seq 12); do
    r=$(post "http://127.0.0.1:$lb_port/v1/chat/completions" "$limited" \
        '{"model":"smollm2","messages":[{"role":"user","content":"Say '"$i"'."}],"max_tokens":2,"temperature":0}')
    case "${r%% *}" in 200) ok=$((ok + 1));; 429) limited_count=$((limited_count + 1));; esac
done
check "a 6-per-minute key gets 6 of 12 requests across three hosts" \
    "$([ $ok -eq 6 ] && [ $limited_count -eq 6 ] && echo 0 || echo 1)" "$ok admitted, $limited_count refused with 429"

# 3. Host 2 dies under a steady client: count what is answered.
answered=0; lost=0; total=40
for i in $(seq $total); do
    if [ "$i" -eq 10 ]; then
        for pid in $(ip netns pids "${tag}h2"); do kill -KILL "$pid" 2>/dev/null; done
        # SIGKILL is delivered, not yet done: until the processes are gone their listening socket still
        # completes a connection, which then resets. Wait until the namespace is empty (at most 5 s).
        for _ in $(seq 50); do [ -z "$(ip netns pids "${tag}h2")" ] && break; sleep 0.1; done
        say "     host 2 SIGKILLed (every process in its namespace) before request $i"
    fi
    r=$(post "http://127.0.0.1:$lb_port/v1/chat/completions" "$ops" \
        '{"model":"smollm2","messages":[{"role":"user","content":"Word '"$i"'."}],"max_tokens":2,"temperature":0}')
    if [ "${r%% *}" = "200" ]; then answered=$((answered + 1)); else lost=$((lost + 1)); say "     request $i: $r"; fi
done
# The client is sequential, so host 2 held no request when it died: nothing may be lost.
check "one host killed: the others serve every request" "$([ $lost -eq 0 ] && echo 0 || echo 1)" "$answered of $total answered"
for h in 1 3; do
    r=$(curl -s -o /dev/null -w '%{http_code}' "http://${net}1$h:8080/ready")
    check "host $h still ready" "$([ "$r" = 200 ] && echo 0 || echo 1)" "$r"
done

[ $fail -eq 0 ] && say "every check held" || say "some checks failed; logs kept in $work (KEEP_WORK=1 keeps them always)"
[ $fail -eq 0 ] || KEEP_WORK=1
exit $fail
