#!/usr/bin/env bash
# Boots Debian's systemd as PID 1 in a container (systemd-nspawn) with the project's units from systemd/
# and stand-in daemons (daemon-standin copied under each daemon's name), then checks what the units
# promise under real systemd:
#   - infer.target brings up every socket and service; each service reaches READY=1 (Type=notify) as user
#     infer, with its hardening, and answers on its socket;
#   - every daemon restarted three times and SIGKILLed once under load loses none of the client's
#     connections (they wait in the socket's backlog), and the SIGKILL is restarted (Restart=on-failure);
#   - a daemon exiting 78 is not restarted (RestartPreventExitStatus=78);
#   - a daemon that stops pinging the watchdog is restarted;
#   - stopping infer.target stops everything and removes the socket files.
# Root required; not part of `swift test`: the first run downloads a Debian root file system (~65 s,
# ~240 MB, kept in $W/root for later runs).
# Usage: scripts/systemd-nspawn-test.sh     env: W (work dir, default /tmp/infer-nspawn),
#        STANDIN (the daemon-standin executable, default .build/debug/daemon-standin, built if missing)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-/tmp/infer-nspawn}; CACHE=$W/root; ROOT=$W/run-root; NS=""; T0=$(date +%s.%N); FAILED=0
step(){ printf '### %-58s t=%6.1fs\n' "$*" "$(echo "$(date +%s.%N)-$T0" | bc)"; }
pass(){ echo "PASS: $*"; }
fail(){ echo "FAIL: $*"; FAILED=1; }
[ "$(id -u)" -eq 0 ] || { echo "systemd-nspawn-test: run as root"; exit 2; }
mkdir -p "$W"

# 1. host tools
"$here/scripts/install-deps.sh" systemd-container debootstrap python3 bc
step "host packages"

# 2. root file system: a pristine cached copy, and a fresh run copy so every run starts from a clean boot
[ -x "$CACHE/lib/systemd/systemd" ] || debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
    bookworm "$CACHE" > "$W/debootstrap.log"
rm -rf "$ROOT"; cp -a "$CACHE" "$ROOT"
step "root file system"

# 3. payload: the stand-in under every daemon's name, the units, the user, the registry
STANDIN=${STANDIN:-$here/.build/debug/daemon-standin}
[ -x "$STANDIN" ] || (cd "$here" && swift build --product daemon-standin)
# The stand-in links the Swift runtime from the toolchain; the container sees it read-only at the same path.
SWIFT_LIBS=$(dirname "$(ldd "$STANDIN" | awk '/libswiftCore/ {print $3}')")
for daemon in frontd limitd cached batchd modeld metricsd; do
  install -m 0755 "$STANDIN" "$ROOT/usr/local/bin/$daemon"
done
install -m 0644 "$here"/systemd/*.socket "$here"/systemd/*.service "$here"/systemd/infer.target "$ROOT/etc/systemd/system/"
install -D -m 0644 "$here/systemd/infer.sysusers" "$ROOT/usr/lib/sysusers.d/infer.conf"
install -D -m 0644 "$here/config/models.json" "$ROOT/etc/infer/models.json"
install -d "$ROOT/var/lib/infer/models"
printf 'LOG_LEVEL=info\n' > "$ROOT/etc/infer/infer.env"
systemctl --root="$ROOT" enable infer.target >/dev/null 2>&1
step "payload"

# 4. boot (--register=no --keep-unit: the host has no systemd/D-Bus; --private-network: ports 8080 and
#    9464 are the container's own)
setsid systemd-nspawn -q -b -D "$ROOT" --register=no --keep-unit --console=read-only --private-network \
      --bind-ro="$SWIFT_LIBS" > "$W/console.log" 2>&1 < /dev/null &
NS=$!
cleanup(){
  for sig in TERM TERM KILL; do kill -0 "$NS" 2>/dev/null || break; kill -$sig "$NS"
    for _ in $(seq 100); do kill -0 "$NS" 2>/dev/null || break; sleep 0.1; done; done
  wait "$NS" 2>/dev/null || true
  for h in systemd:name=systemd unified:; do cg=$(awk -F: -v c="${h#*:}" '$2==c{print $3}' /proc/self/cgroup)
    for d in payload supervisor; do p=/sys/fs/cgroup/${h%%:*}${cg%/}/$d
      [ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null; done; done; true; }
trap cleanup EXIT
L=""; for _ in $(seq 100); do
  L=$(ps -o pid= --ppid "$NS" | tr -d ' ' | head -1) || true
  [ -n "$L" ] && [ "$(cat /proc/$L/comm 2>/dev/null)" = systemd ] && break; sleep 0.1; done
IN=(nsenter -t "$L" -a)
ST=""; for _ in $(seq 300); do
  ST=$("${IN[@]}" systemctl is-system-running --wait 2>/dev/null) || true; [ -n "$ST" ] && break; sleep 0.1; done
echo "container PID1=$L state=$ST"; [ -n "$ST" ] || { echo "boot failed"; tail "$W/console.log"; exit 1; }
"${IN[@]}" systemctl --failed --no-legend
step "booted"

RUNDIR=/proc/$L/root/run/infer
cat > "$W/client.py" <<'EOF'
# Connects to each target again and again for SECONDS; every connection must get a stand-in's reply.
# Targets: unix:PATH or tcp:PORT (127.0.0.1). Prints one line per target; exits 1 on any failure.
import socket, sys, time, collections, threading
seconds = float(sys.argv[1]); results = {}
def hammer(target):
    ok = 0; bad = collections.Counter(); pids = set(); end = time.time() + seconds
    kind, _, where = target.partition(":")
    while time.time() < end:
        s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET); s.settimeout(10)
        try:
            s.connect(where if kind == "unix" else ("127.0.0.1", int(where)))
            if kind == "tcp": s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
            line = data.decode(errors="replace").strip().splitlines()[-1] if data else ""
            if " pid " in line: ok += 1; pids.add(line.split()[-1])
            else: bad["bad reply %r" % line[:40]] += 1
        except OSError as e: bad[str(e)] += 1
        finally: s.close()
    results[target] = (ok, bad, pids)
threads = [threading.Thread(target=hammer, args=(t,)) for t in sys.argv[2:]]
for t in threads: t.start()
for t in threads: t.join()
failed = 0
for target, (ok, bad, pids) in results.items():
    print(f"  {target}: ok={ok} failed={sum(bad.values())} {dict(bad)} processes={len(pids)}")
    failed += sum(bad.values()) + (ok == 0)
sys.exit(1 if failed else 0)
EOF
client(){ local seconds=$1; shift; nsenter -t "$L" -n python3 "$W/client.py" "$seconds" "$@"; }
targets(){ case $1 in
  frontd) echo tcp:8080 ;;
  metricsd) echo "unix:$RUNDIR/metricsd.sock tcp:9464" ;;
  modeld@*) echo "unix:$RUNDIR/modeld-${1#modeld@}.sock" ;;
  *) echo "unix:$RUNDIR/$1.sock" ;;
esac; }
DAEMONS=(metricsd limitd cached modeld@smollm2 modeld@minilm batchd frontd)

# 5. everything up, as user infer, answering on its sockets
for d in "${DAEMONS[@]}"; do
  state=$("${IN[@]}" systemctl is-active "infer-$d.service" || true)
  user=$("${IN[@]}" systemctl show -p User --value "infer-$d.service")
  status=$("${IN[@]}" systemctl show -p StatusText --value "infer-$d.service")
  [ "$state" = active ] && [ "$user" = infer ] && [ "$status" = "serving (stand-in)" ] \
    && pass "infer-$d.service active as $user: $status" || fail "infer-$d.service: $state user=$user status=$status"
done
"${IN[@]}" ls -l /run/infer
client 0.5 $(for d in "${DAEMONS[@]}"; do targets "$d"; done) && pass "every socket answers" || fail "a socket does not answer"
step "stack up"

# 6. restarts under load: 3 × systemctl restart per daemon, no connection may fail; then a SIGKILL,
#    after which systemd restarts it (a connection the killed process had already accepted is lost with
#    it; those still in the backlog are served by the next process)
for d in "${DAEMONS[@]}"; do
  client 3 $(targets "$d") > "$W/load-$d.out" & C=$!
  sleep 0.4
  for _ in 1 2 3; do "${IN[@]}" systemctl restart "infer-$d.service"; sleep 0.5; done
  if wait $C; then pass "infer-$d.service: 3 restarts under load, no connection lost"
  else fail "infer-$d.service lost connections under restart"; fi
  cat "$W/load-$d.out"
  before=$("${IN[@]}" systemctl show -p NRestarts --value "infer-$d.service")
  client 2 $(targets "$d") > "$W/kill-$d.out" & C=$!
  sleep 0.4
  "${IN[@]}" systemctl kill --kill-who=main --signal=SIGKILL "infer-$d.service"
  wait $C || true
  lost=$(grep -o 'failed=[0-9]*' "$W/kill-$d.out" | cut -d= -f2 | paste -sd+ | bc)
  after=$("${IN[@]}" systemctl show -p NRestarts --value "infer-$d.service")
  [ "$after" -gt "$before" ] && [ "$lost" -le 2 ] \
    && pass "infer-$d.service restarted after SIGKILL under load (NRestarts $before -> $after, $lost in-flight lost)" \
    || fail "infer-$d.service after SIGKILL: NRestarts $before -> $after, $lost connections lost"
  cat "$W/kill-$d.out"
  [ "$("${IN[@]}" systemctl is-active "infer-$d.service" || true)" = active ] || fail "infer-$d.service not active after the load"
done
step "restarts under load"

# 7. exit 78 is not restarted
drop=/proc/$L/root/etc/systemd/system/infer-cached.service.d
mkdir -p "$drop"; printf '[Service]\nEnvironment=STANDIN_CACHED_EXIT=78\n' > "$drop/test.conf"
"${IN[@]}" systemctl daemon-reload
# (a manual restart resets NRestarts to 0; an automatic restart after the failure would raise it)
"${IN[@]}" systemctl restart infer-cached.service 2>/dev/null || true; sleep 1.5
result=$("${IN[@]}" systemctl show -p Result --value infer-cached.service)
status=$("${IN[@]}" systemctl show -p ExecMainStatus --value infer-cached.service)
restarts=$("${IN[@]}" systemctl show -p NRestarts --value infer-cached.service)
state=$("${IN[@]}" systemctl is-active infer-cached.service || true)
[ "$result" = exit-code ] && [ "$status" = 78 ] && [ "$restarts" = 0 ] && [ "$state" = failed ] \
  && pass "exit 78: $state, Result=$result ExecMainStatus=$status, not restarted" \
  || fail "exit 78: $state, Result=$result ExecMainStatus=$status NRestarts=$restarts"
echo "  infer-cached.socket after the failure: $("${IN[@]}" systemctl is-active infer-cached.socket || true)"
rm -r "$drop"; "${IN[@]}" systemctl daemon-reload; "${IN[@]}" systemctl reset-failed infer-cached.service infer-cached.socket
"${IN[@]}" systemctl start infer-cached.socket infer-cached.service
[ "$("${IN[@]}" systemctl is-active infer-cached.service || true)" = active ] && pass "cached back after the fix" || fail "cached not back"
step "exit 78"

# 8. a daemon that stops pinging the watchdog is restarted
drop=/proc/$L/root/etc/systemd/system/infer-limitd.service.d
mkdir -p "$drop"; printf '[Service]\nEnvironment=STANDIN_LIMITD_HEALTHY=false\nWatchdogSec=2s\n' > "$drop/test.conf"
"${IN[@]}" systemctl daemon-reload; "${IN[@]}" systemctl restart infer-limitd.service
before=$("${IN[@]}" systemctl show -p NRestarts --value infer-limitd.service)
sleep 9
after=$("${IN[@]}" systemctl show -p NRestarts --value infer-limitd.service)
"${IN[@]}" journalctl -b -u infer-limitd --no-pager | grep -i watchdog | tail -2 || true
[ "$after" -gt "$before" ] && pass "watchdog: limitd restarted (NRestarts $before -> $after)" || fail "watchdog: limitd not restarted"
rm -r "$drop"; "${IN[@]}" systemctl daemon-reload; "${IN[@]}" systemctl restart infer-limitd.service
step "watchdog"

# 9. stopping infer.target stops everything and removes the sockets
"${IN[@]}" systemctl stop infer.target
sleep 0.5
active=$("${IN[@]}" systemctl list-units --no-legend --plain --state=active 'infer-*' 'infer.*')
left=$(printf '%s' "$active" | grep -c . || true)
socks=$(ls "$RUNDIR" 2>/dev/null | grep -c '\.sock$' || true)
[ "$left" = 0 ] && [ "$socks" = 0 ] && pass "infer.target stopped: no unit active, no socket left" \
  || { fail "after stopping infer.target: $left units active, $socks sockets"; printf '%s\n' "$active"; }
"${IN[@]}" journalctl -b -u infer-frontd --no-pager -o cat | tail -2
step "stopped"

[ "$FAILED" = 0 ] && echo "systemd-nspawn-test: PASS" || { echo "systemd-nspawn-test: FAIL"; exit 1; }
