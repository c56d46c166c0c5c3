#!/usr/bin/env bash
# How cost grows, as pictures (issue 17, item 5): four sweeps, each drawn as an SVG with gnuplot next to
# the peer's curve measured in the same run where one exists:
#   connections.svg  the cache-hit path (frontd -> limitd -> cached -> reply) under wrk at 1 to 1024
#                    connections: requests/s and p99, against nginx returning the same body from memory;
#   memory.svg       the six daemons' memory idle and after each of those loads: summed RSS, summed PSS
#                    and what they occupy together (each resident page once, bench/lib/memory.py);
#   prefill.svg      prompt processing (tokens/s) at 16 to 2048 prompt tokens, the built-in engine
#                    (`engine-bench prefill`) against llama.cpp (bench/peers/llamacpp_peer.py);
#   decode.svg       aggregate decode (tokens/s) at batch 1 to 32 (`engine-bench decode --batch N`)
#                    against llama.cpp's batched decode.
# Both engines run GROWTH_THREADS threads (default 2; 1 with --quick). On a machine other work keeps busy, 1 is the
# figure to trust: both engines' threads wait for each other at every step, and llama.cpp's spin at
# those barriers, so a preempted thread stalls the other (its batch-1 decode fell to ~1 tok/s at load 12).
#   bench/run-growth-curves.sh [--quick] [--memory]
# Full run: the SVGs and their data (.tsv) go to docs/perf/ (docs/PERFORMANCE.md shows them); 7 to 15
# minutes on the 2-core machine. --quick (the bench test): two points per curve, a second or two each,
# drawn under bench/out/perf/ (never committed). --memory: only the stack's part, memory.svg and its data
# (the cache-hit load at each level without nginx; its figures are printed, connections.svg is left as
# it is), 1 to 2 minutes. Any refused request or failed measurement fails the run.
# INFER_BIN_DIR=DIR uses the binaries already built there (the tests' debug build) instead of building in
# release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0 MEMORY_ONLY=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        --memory) MEMORY_ONLY=1 ;;
        *) echo "usage: $0 [--quick] [--memory]" >&2; exit 2 ;;
    esac
done
if [ $QUICK = 1 ]; then
    THREADS=${GROWTH_THREADS:-1}
    PERF=bench/out/perf
    CONNS=(1 16); DURATION=1s; PROMPTS=16,64; BATCHES=1,2; TOKENS=4; REPS=1
else
    THREADS=${GROWTH_THREADS:-2}
    PERF=docs/perf
    CONNS=(1 4 16 64 256 1024); DURATION=5s; PROMPTS=16,32,64,128,256,512,1024,2048; BATCHES=1,2,4,8,16,32; TOKENS=32; REPS=2
fi
. bench/lib/common.sh
bench_start run-growth-curves
mkdir -p "$PERF"
bench_prepare wrk curl nginx-light gnuplot-nox
[ $MEMORY_ONLY = 1 ] || [ -x "$BIN/engine-bench" ] || fail "$BIN/engine-bench is not built"
# 1024 connections for wrk, as many for frontd and nginx to accept, and their own descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || fail "the descriptor limit is $(ulimit -n); 1024 connections need more"
machine_line > "$run/machine"

# -- the cache-hit path and memory: the stack with the built-in models, as deployed.
start_infer "$BIN" "$PWD/config/models.json" "$MODELS" "$OUT/growth-inferctl.log" HTTP_MAX_CONNECTIONS_PER_CLIENT=0
BODY='{"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],"temperature":0,"max_tokens":16}'
post() { curl -s -m 120 -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" -d "$BODY" "$@" "$INFER/v1/chat/completions"; }
status=$(post -o "$run/reply.json" -w '%{http_code}')
[ "$status" = 200 ] || fail "the first request was refused ($status): $(cat "$run/reply.json")"
hit=$(post -D - -o /dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
[ "$hit" = HIT ] || fail "the second request was not a cache hit (X-Cache: ${hit:-none})"
sleep 1
infer_memory "$BIN" > "$run/idle"
idle_together=$(infer_memory_together "$BIN")
# KiB → MiB; "nan" (this user cannot read page frame numbers, memory.py) → NaN, which gnuplot leaves out.
mib() { awk -v k="$1" 'BEGIN { if (k == "nan") print "NaN"; else printf "%.1f\n", k / 1024 }'; }
cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
wrk.body = '$BODY'
LUA

NGINX_PORT=$(free_port)
[ $MEMORY_ONLY = 1 ] || start_nginx "$(nproc)" "server { listen 127.0.0.1:$NGINX_PORT; location / { default_type application/json; return 200 '$(cat "$run/reply.json")'; } }" \
    "http://127.0.0.1:$NGINX_PORT/"

sweep_point() { # name url connections → "req/s p50 p99"
    local threads=$(( $3 < 2 ? 1 : 2 )) file=$OUT/wrk-growth-$1-c$3.txt
    wrk -t"$threads" -c"$3" -d"$DURATION" --timeout 10s --latency -s "$run/post.lua" "$2" > "$file"
    local rps p50 p99 bad n
    read -r rps p50 p99 bad n < <(wrk_figures "$file")
    [ "$bad" -eq 0 ] || fail "$1 at $3 connections: $bad request(s) refused or failed ($file)"
    # Nothing answered in the whole run is a finding for the curve (a point at 0), said loudly, not a
    # reason to lose the other points; anything refused or failed still stops the run above.
    [ "$n" -gt 0 ] || echo "$BENCH_NAME: $1 at $3 connections: NO REQUEST ANSWERED in $DURATION ($file)" | tee -a "$run/unanswered" >&2
    echo "$rps $p50 $p99"
}
# --memory keeps the committed connections figures: its cache-hit figures go to the run's folder.
CONNECTIONS=$PERF/connections.tsv
[ $MEMORY_ONLY = 0 ] || CONNECTIONS=$run/connections.tsv
printf '# connections\tinfer_rps\tinfer_p50_ms\tinfer_p99_ms\tnginx_rps\tnginx_p50_ms\tnginx_p99_ms\n' > "$CONNECTIONS"
printf '# connections\trss_mib\tpss_mib\ttogether_mib\n' > "$PERF/memory.tsv"
for c in "${CONNS[@]}"; do
    read -r irps ip50 ip99 < <(sweep_point infer "$INFER/v1/chat/completions" "$c")
    read -r rss pss < <(infer_memory "$BIN" | awk '{ r += $2; p += $3 } END { print r, p }')
    together=$(infer_memory_together "$BIN")
    nrps=0 np50=0 np99=0
    [ $MEMORY_ONLY = 1 ] || read -r nrps np50 np99 < <(sweep_point nginx "http://127.0.0.1:$NGINX_PORT/" "$c")
    printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$irps" "$ip50" "$ip99" "$nrps" "$np50" "$np99" >> "$CONNECTIONS"
    awk -v c="$c" -v r="$rss" -v p="$pss" -v t="$(mib "$together")" 'BEGIN { printf "%d\t%.1f\t%.1f\t%s\n", c, r / 1024, p / 1024, t }' >> "$PERF/memory.tsv"
    echo "connections $c: infer $irps req/s p99 $ip99 ms, nginx $nrps req/s p99 $np99 ms; six daemons RSS $((rss / 1024)) MiB, together $(mib "$together") MiB" >&2
done
read -r idle_rss idle_pss < <(awk '{ r += $2; p += $3 } END { print r / 1024, p / 1024 }' "$run/idle")
# Idle again after the last load: each daemon gives its free heap back at its first quiet five seconds
# (DaemonRuntime's IdleHeapTrimmer; docs/RUNTIME.md), so this is what a stack holds once a burst is over.
# Not with --quick (its budget is seconds).
rested=
if [ $QUICK = 0 ]; then
    sleep 12
    infer_memory "$BIN" > "$run/rested"
    rested=$(infer_memory_together "$BIN")
fi
idle_together_mib=$(mib "$idle_together")
stop_started

if [ $MEMORY_ONLY = 0 ]; then
# -- the engine: prefill and batched decode, ours then llama.cpp's, one after the other.
"$BIN/engine-bench" prefill --models "$MODELS" --tokens "$PROMPTS" --repeat "$REPS" --threads "$THREADS" > "$run/engine-prefill.json" \
    || fail "engine-bench prefill failed"
printf '# batch\tinfer_tok_s\n' > "$run/engine-decode.tsv"
for b in ${BATCHES//,/ }; do
    "$BIN/engine-bench" decode --models "$MODELS" --batch "$b" --tokens "$TOKENS" --repeat "$REPS" --threads "$THREADS" > "$run/decode.txt" \
        || fail "engine-bench decode --batch $b failed"
    awk -v b="$b" '$1 == "batch" && $3 + 0 > best { best = $3 + 0 } END { if (best > 0) printf "%d\t%.1f\n", b, best; else exit 1 }' \
        "$run/decode.txt" >> "$run/engine-decode.tsv" || fail "engine-bench decode --batch $b printed no rate"
done
quick_peer=(); [ $QUICK = 1 ] && quick_peer=(--quick)
# The peer waits for a quiet machine only within its budget; on a shared machine it reports which
# figures no quiet repetition backs ("contaminated").
.venv-peers/bin/python bench/peers/llamacpp_peer.py "$MODELS/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "${quick_peer[@]}" \
    --reps "$REPS" --wait-idle 0 --max-seconds 0 --prefill-sizes "$PROMPTS" --batch-sizes "$BATCHES" --tokens "$TOKENS" --threads "$THREADS" \
    > "$run/peer.json" 2> "$OUT/growth-peer.log" || fail "the llama.cpp peer failed ($OUT/growth-peer.log)"
python3 - "$run/engine-prefill.json" "$run/engine-decode.tsv" "$run/peer.json" "$PERF" <<'PY' || fail "the engine figures are incomplete"
import json, sys
prefill, decode, peer, perf = json.load(open(sys.argv[1]))["prefill"], sys.argv[2], json.load(open(sys.argv[3])), sys.argv[4]
ours = dict(line.split("\t") for line in open(decode).read().splitlines()[1:])
with open(f"{perf}/prefill.tsv", "w") as f:
    f.write("# prompt_tokens\tinfer_tok_s\tllamacpp_tok_s\n")
    for n in sorted(prefill, key=int):
        f.write(f"{n}\t{prefill[n]:.1f}\t{peer['prefill'][n]}\n")
with open(f"{perf}/decode.tsv", "w") as f:
    f.write("# batch\tinfer_tok_s\tllamacpp_tok_s\n")
    for b in sorted(ours, key=int):
        f.write(f"{b}\t{ours[b]}\t{peer['batch'][b]}\n")
if peer["contaminated"]:
    print("llama.cpp peer: no quiet repetition for " + ", ".join(peer["contaminated"]), file=sys.stderr)
PY
fi

# -- the pictures.
machine=$(sed 's/^== machine: //' "$run/machine")
plot() { # name title xlabel ylabel plot-commands...
    local name=$1 title=$2 xlabel=$3 ylabel=$4
    shift 4
    gnuplot <<GP || fail "gnuplot could not draw $name"
set terminal svg size 760,440 dynamic font "sans,12" background "#ffffff"
set output "$PERF/$name.svg"
set title "$title\n{/*0.75 $machine}"
set xlabel "$xlabel"; set ylabel "$ylabel"
set logscale x 2
set grid; set key top left
set datafile separator "\t"
$(printf '%s\n' "$@")
GP
}
[ $MEMORY_ONLY = 1 ] || plot connections "The cache-hit path against connections (wrk -d$DURATION)" "connections" "requests/s" \
    "set logscale y; set y2label 'p99 latency, ms'; set y2tics; set logscale y2; set key top right" \
    "plot '$PERF/connections.tsv' using 1:2 with linespoints lw 2 title 'infer, req/s', '' using 1:5 with linespoints lw 2 title 'nginx, req/s', '' using 1:4 axes x1y2 with linespoints dt 2 title 'infer, p99 (right)', '' using 1:7 axes x1y2 with linespoints dt 2 title 'nginx, p99 (right)'"
plot memory "The six daemons' memory, idle and after the cache-hit load at each level" "connections of the load before" "MiB" \
    "set yrange [0:*]; set key bottom right" \
    "plot '$PERF/memory.tsv' using 1:2 with linespoints lw 2 title 'RSS, sum of the six', '' using 1:3 with linespoints lw 2 title 'PSS (shared pages split)', '' using 1:4 with linespoints lw 2 title 'together (each page once)', $idle_rss with lines dt 3 title 'idle, summed RSS', $idle_together_mib with lines dt 3 title 'idle, together', 300 with lines dt 2 lc rgb '#c00000' title '300 MiB goal'"
[ $MEMORY_ONLY = 1 ] || plot prefill "Prompt processing against prompt length ($THREADS thread(s) each)" "prompt tokens" "tokens/s" \
    "set yrange [0:*]; set key bottom left" \
    "plot '$PERF/prefill.tsv' using 1:2 with linespoints lw 2 title 'infer (built-in engine)', '' using 1:3 with linespoints lw 2 title 'llama.cpp'"
[ $MEMORY_ONLY = 1 ] || plot decode "Aggregate decode against batch size ($THREADS thread(s) each, $TOKENS tokens a sequence)" "sequences in the batch" "tokens/s" \
    "set yrange [0:*]" \
    "plot '$PERF/decode.tsv' using 1:2 with linespoints lw 2 title 'infer (built-in engine)', '' using 1:3 with linespoints lw 2 title 'llama.cpp'"

{
cat "$run/machine"
echo "== bench/run-growth-curves.sh $*  (GROWTH_THREADS=$THREADS; binaries: $BIN; pictures and data in $PERF)"
echo "-- cache-hit path (wrk -d$DURATION) and the six daemons' memory after each load"
printf '%-12s %12s %10s %10s %12s %10s %10s %10s %10s %12s\n' connections "infer req/s" "p50 ms" "p99 ms" "nginx req/s" "p50 ms" "p99 ms" "ratio" "RSS MiB" "together MiB"
paste "$CONNECTIONS" "$PERF/memory.tsv" | awk -F'\t' 'NR > 1 {
    printf "%-12s %12.0f %10.3f %10.3f %12.0f %10.3f %10.3f %9.2fx %10.1f %12.1f\n", $1, $2, $3, $4, $5, $6, $7, ($5 > 0 ? $2 / $5 : 0), $9, $11 }'
[ ! -s "$run/unanswered" ] || sed 's/^/!! /' "$run/unanswered"
# Summed RSS counts every shared page (the Swift runtime's libraries, a model file two instances map) once
# per daemon; "together" counts each resident page once: the memory the six really hold.
awk -v r="$idle_rss" -v p="$idle_pss" -v t="$idle_together_mib" 'function goal(v) { return v < 300 ? "under 300 MiB" : "NOT under 300 MiB" }
    BEGIN { printf "six daemons idle: together %s MiB (%s); summed RSS %.1f MiB (%s); summed PSS %.1f MiB\n", t, (t == "NaN" ? "not measured" : goal(t)), r, goal(r), p }'
awk '{ printf "  %s %.1f/%.1f", $1, $2 / 1024, $3 / 1024 } END { print " (RSS/PSS MiB, idle)" }' "$run/idle"
if [ -n "$rested" ]; then
    awk -v t="$(mib "$rested")" '{ r += $2; p += $3 } END { printf "idle again 12 s after the last load: together %s MiB; summed RSS %.1f MiB; summed PSS %.1f MiB\n", t, r / 1024, p / 1024 }' "$run/rested"
    awk '{ printf "  %s %.1f/%.1f", $1, $2 / 1024, $3 / 1024 } END { print " (RSS/PSS MiB, idle again)" }' "$run/rested"
fi
if [ $MEMORY_ONLY = 0 ]; then
echo "-- prefill (tokens/s, $THREADS thread(s))"
awk -F'\t' 'NR > 1 { printf "%6d tokens: infer %8.1f  llama.cpp %8.1f  %.2fx\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0) }' "$PERF/prefill.tsv"
echo "-- aggregate decode (tokens/s, $THREADS thread(s), $TOKENS tokens each)"
awk -F'\t' 'NR > 1 { printf "batch %3d: infer %8.1f  llama.cpp %8.1f  %.2fx\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0) }' "$PERF/decode.tsv"
fi
} | tee "$OUT/growth-summary.txt"
