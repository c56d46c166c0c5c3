#!/usr/bin/env bash
# The real stack under real systemd: boots Debian 12's systemd as PID 1 in a container (systemd-nspawn),
# installs the Debian package there (`apt install ./infer_*.deb`; no Swift toolchain in the container),
# copies the real models from ./models, starts infer.target with the real daemons, and checks:
#   - the package: user infer, infer.target enabled but nothing started, the keys file root:infer 0640,
#     infer-fetch-models verifying the models offline;
#   - a chat answer and an embedding with a key made by `inferctl keys create` in the container;
#   - every daemon restarted with `systemctl restart` under a steady client: no request lost;
#   - every daemon SIGKILLed under the client: restarted by systemd (Restart=on-failure), serving again;
#   - a daemon stopped with SIGSTOP past WatchdogSec: the watchdog kills and restarts it;
#   - a daemon whose configuration is wrong exits 78 and is not restarted (RestartPreventExitStatus=78);
#   - `systemd-analyze security` of every service printed, each at most 2.0 ("OK");
#   - an upgrade to a second build with a bumped version under the client: no request lost, every
#     service restarted onto the new executables, an edited conffile and the keys kept;
#   - remove: every unit stopped, the sockets gone, the configuration kept; purge: state and
#     configuration gone.
# Root required; not part of `swift test` (.ci/run runs it after `make test`). The first run downloads a
# Debian root file system (~70 s, ~250 MB) into $W/root, which later runs copy.
# Usage: scripts/systemd-nspawn-test.sh
#   env: W (work dir, default /var/tmp/infer-nspawn: keeps the root file system across runs and reboots),
#        DEB (the package, default: `make release`, then scripts/build-deb.sh), UPGRADE_DEB (the
#        second build, default: scripts/build-deb.sh with VERSION=<DEB's version>+1), MODELS_DIR (default
#        ./models). The builds here use zstd (2 s rather than xz's 2 min; the files are the same).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-/var/tmp/infer-nspawn}; CACHE=$W/root; NS=""; T0=$(date +%s.%N); FAILED=0
MODELS_DIR=${MODELS_DIR:-$here/models}
step(){ printf '### %-62s t=%6.1fs\n' "$*" "$(echo "$(date +%s.%N)-$T0" | bc)"; }
pass(){ echo "PASS: $*"; }
fail(){ echo "FAIL: $*"; FAILED=1; }
[ "$(id -u)" -eq 0 ] || { echo "systemd-nspawn-test: run as root"; exit 2; }
mkdir -p "$W"

# 1. host tools, the two packages, the models
"$here/scripts/install-deps.sh" systemd-container debootstrap python3 bc curl
if [ -z "${DEB:-}" ]; then
  make -C "$here" release >&2
  DEB=$(OUT=$W/deb COMPRESS=zstd "$here/scripts/build-deb.sh" | sed -n 's/^build-deb: \(.*\.deb\) (.*/\1/p')
fi
VERSION=$(dpkg-deb -f "$DEB" Version)
if [ -z "${UPGRADE_DEB:-}" ]; then
  UPGRADE_DEB=$(OUT=$W/deb-upgrade COMPRESS=zstd VERSION="$VERSION+1" "$here/scripts/build-deb.sh" | sed -n 's/^build-deb: \(.*\.deb\) (.*/\1/p')
fi
UPGRADE_VERSION=$(dpkg-deb -f "$UPGRADE_DEB" Version)
for f in smollm2/SmolLM2-135M-Instruct.Q4_1.gguf minilm/model.safetensors; do
  [ -f "$MODELS_DIR/$f" ] || { echo "systemd-nspawn-test: $MODELS_DIR/$f missing (make models)"; exit 2; }
done
echo "package $DEB ($VERSION), upgrade $UPGRADE_DEB ($UPGRADE_VERSION)"
step "host packages, the package and its upgrade"

# 2. root file system: a pristine cached copy (Debian 12 minbase with systemd), and a fresh copy per run
[ -x "$CACHE/lib/systemd/systemd" ] || debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
    bookworm "$CACHE" > "$W/debootstrap.log"
# The package's dependencies (libcurl4, ...) go into the cached root once, from the host's network: the
# container has none, so apt there resolves them from what is installed.
missing=()
for dep in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g'); do
  dpkg-query --admindir="$CACHE/var/lib/dpkg" -W -f='${Status}' "$dep" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$dep")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "root file system: installing ${missing[*]}"
  chroot "$CACHE" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends ${missing[*]} && apt-get clean" >> "$W/debootstrap.log" 2>&1 \
    || { echo "systemd-nspawn-test: could not install ${missing[*]} into $CACHE"; exit 1; }
fi
ROOT=$(mktemp -d "$W/run-XXXXXX")
cp -a "$CACHE/." "$ROOT/"
install -m 0644 "$DEB" "$UPGRADE_DEB" "$ROOT/root/"
# The models come from here: the container has no network, and the package does not fetch them.
mkdir -p "$ROOT/var/lib/infer/models"
cp -a "$MODELS_DIR/smollm2" "$MODELS_DIR/minilm" "$ROOT/var/lib/infer/models/"
step "root file system"

# 3. boot (--register=no --keep-unit: the host has no systemd/D-Bus; --private-network: ports 8080 and
#    9464 are the container's own)
setsid systemd-nspawn -q -b -D "$ROOT" --register=no --keep-unit --console=read-only --private-network \
      > "$W/console.log" 2>&1 < /dev/null &
NS=$!
cleanup(){
  touch "$W/stop"; [ -z "${CLIENT:-}" ] || kill "$CLIENT" 2>/dev/null || true
  for sig in TERM TERM KILL; do kill -0 "$NS" 2>/dev/null || break; kill -$sig "$NS"
    for _ in $(seq 100); do kill -0 "$NS" 2>/dev/null || break; sleep 0.1; done; done
  wait "$NS" 2>/dev/null || true
  for h in systemd:name=systemd unified:; do cg=$(awk -F: -v c="${h#*:}" '$2==c{print $3}' /proc/self/cgroup)
    for d in payload supervisor; do p=/sys/fs/cgroup/${h%%:*}${cg%/}/$d
      [ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} + 2>/dev/null; done; done
  [ -n "${KEEP_ROOT:-}" ] || rm -rf "$ROOT"; true; }
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

sh_in(){ "${IN[@]}" sh -c "$1"; }
show(){ "${IN[@]}" systemctl show -p "$2" --value "$1"; }
SERVICES=(infer-metricsd infer-limitd infer-cached infer-modeld@smollm2 infer-modeld@minilm infer-batchd infer-frontd)
all_active(){ local unit; for unit in "${SERVICES[@]}"; do
  [ "$("${IN[@]}" systemctl is-active "$unit.service" || true)" = active ] || return 1; done; }
wait_active(){ # seconds: until every service is active
  for _ in $(seq $(( $1 * 5 ))); do all_active && return 0; sleep 0.2; done; return 1; }

# 4. the package
if sh_in "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /root/$(basename "$DEB")" \
     > "$W/install.log" 2>&1 < /dev/null; then pass "apt install ./$(basename "$DEB")"
else fail "apt install failed"; tail -20 "$W/install.log"; exit 1; fi
[ "$(sh_in "dpkg-query -W -f='\${Status} \${Version}' infer")" = "install ok installed $VERSION" ] \
  && pass "dpkg: infer $VERSION installed" || fail "dpkg-query: $(sh_in "dpkg-query -W infer")"
enabled=$("${IN[@]}" systemctl is-enabled infer.target || true)
running=$("${IN[@]}" systemctl list-units --no-legend --plain --state=active 'infer*' | grep -c . || true)
[ "$enabled" = enabled ] && [ "$running" = 0 ] && pass "infer.target enabled, nothing started" \
  || fail "after install: infer.target $enabled, $running infer units active"
keys=$(sh_in "stat -c '%U:%G %a' /etc/infer/keys.json" || true)
[ "$keys" = "root:infer 640" ] && sh_in "id infer" >/dev/null && pass "user infer; /etc/infer/keys.json $keys" \
  || fail "user or keys file: $keys"
sh_in "infer-fetch-models" | tail -1
sh_in "infer-fetch-models" >/dev/null && pass "infer-fetch-models verifies the copied models (offline)" || fail "infer-fetch-models"
# No Swift toolchain in the container: every library resolves, Swift's from the package's own directory.
unresolved=$(sh_in "for f in /usr/lib/infer/*; do [ -f \"\$f\" ] && ldd \"\$f\"; done" | grep -c 'not found' || true)
swift=$(sh_in "ldd /usr/lib/infer/modeld" | awk '/libswiftCore/ {print $3}')
[ "$unresolved" = 0 ] && [ "$swift" = /usr/lib/infer/swift/libswiftCore.so ] \
  && pass "no Swift toolchain needed: every library resolves; libswiftCore.so from $swift" \
  || fail "libraries: $unresolved not found, libswiftCore.so from '$swift'"
step "package installed"

# 5. a key, the stack, a chat answer and an embedding
KEY=$(sh_in "inferctl keys create ci --scopes infer,embed --rpm 1000000")
[ "${KEY#sk-infer-}" != "$KEY" ] && pass "inferctl keys create: a key" || fail "inferctl keys create: '$KEY'"
"${IN[@]}" systemctl start infer.target
wait_active 180 && pass "infer.target: every service active" \
  || { fail "services not active"; "${IN[@]}" systemctl --no-pager status 'infer-*' | tail -40; exit 1; }
for s in "${SERVICES[@]}"; do printf '  %-24s %-8s user=%s status=%s\n' "$s" "$(show "$s" MainPID)" \
  "$(show "$s" User)" "$(show "$s" StatusText)"; done
net(){ nsenter -t "$L" -n "$@"; }
api(){ net curl -sS --max-time 120 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
answer=$(api http://127.0.0.1:8080/v1/chat/completions \
  -d '{"model": "smollm2", "max_tokens": 16, "temperature": 0, "messages": [{"role": "user", "content": "What is the capital of France?"}]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])' 2>&1 || true)
echo "  chat: $answer"
[[ "$answer" == *Paris* ]] && pass "chat answer names Paris" || fail "chat answer: $answer"
dims=$(api http://127.0.0.1:8080/v1/embeddings -d '{"model": "minilm", "input": "hello world"}' \
  | python3 -c 'import json,sys; v=json.load(sys.stdin)["data"][0]["embedding"]; print(len(v), round(sum(x*x for x in v), 3))' 2>&1 || true)
[ "$dims" = "384 1.0" ] && pass "embedding: 384 dimensions, unit length" || fail "embedding: $dims"
step "chat and embedding"

# The steady client (scripts/nspawn-load-client.py) from the host, in the container's network.
CLIENT=""
client_start(){ rm -f "$W/stop"; net python3 "$here/scripts/nspawn-load-client.py" "$KEY" "$W/stop" 2 300 > "$W/$1.client" 2>&1 & CLIENT=$!
  sleep 2; }
client_stop(){ sleep 2; touch "$W/stop"; local rc=0; wait "$CLIENT" || rc=$?; cat "$W/$1.client"; return $rc; }

# 6. restarts under load: none may lose a request
for s in "${SERVICES[@]}"; do
  before=$(show "$s" MainPID)
  client_start "restart-$s"
  "${IN[@]}" systemctl restart "$s.service"
  wait_active 120 || true
  if client_stop "restart-$s" > "$W/restart-$s.out"; then
    pass "$s restarted (pid $before -> $(show "$s" MainPID)) under load: $(tail -1 "$W/restart-$s.out")"
  else fail "$s restart lost requests"; cat "$W/restart-$s.out"; fi
done
step "systemctl restart of each daemon under load"

# 7. SIGKILL under load: systemd restarts it; requests the killed process held may be lost (counted)
for s in "${SERVICES[@]}"; do
  before=$(show "$s" NRestarts); pid=$(show "$s" MainPID)
  client_start "kill-$s"
  "${IN[@]}" systemctl kill --kill-who=main --signal=SIGKILL "$s.service"
  wait_active 120 || true
  client_stop "kill-$s" > "$W/kill-$s.out" || true
  after=$(show "$s" NRestarts)
  lost=$(tail -1 "$W/kill-$s.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])' 2>/dev/null || echo "?")
  [ "$after" -gt "$before" ] && [ "$(show "$s" ActiveState)" = active ] && [ "$lost" != "?" ] \
    && pass "$s SIGKILLed (pid $pid) and restarted (NRestarts $before -> $after); $lost requests lost in flight" \
    || { fail "$s after SIGKILL: NRestarts $before -> $after, $(show "$s" ActiveState)"; cat "$W/kill-$s.out"; }
done
step "SIGKILL of each daemon under load"

# 8. the watchdog: limitd stopped (SIGSTOP) past WatchdogSec=10s is aborted and restarted; meanwhile
#    frontd admits requests without it (LIMITD_FAIL_OPEN=true), so the client loses nothing
s=infer-limitd; before=$(show "$s" NRestarts); pid=$(show "$s" MainPID)
client_start watchdog
sh_in "kill -STOP $pid"
for _ in $(seq 300); do [ "$(show "$s" NRestarts)" -gt "$before" ] && break; sleep 0.1; done
wait_active 60 || true
client_stop watchdog > "$W/watchdog.out" && lost=0 || lost=$(tail -1 "$W/watchdog.out")
"${IN[@]}" journalctl -b -u "$s" --no-pager -o cat | grep -i 'watchdog' | tail -2 | sed 's/^/  /'
[ "$(show "$s" NRestarts)" -gt "$before" ] && [ "$(show "$s" MainPID)" != "$pid" ] && [ "$(show "$s" ActiveState)" = active ] \
  && pass "watchdog: stopped limitd (pid $pid) restarted as $(show "$s" MainPID); client lost $lost: $(tail -1 "$W/watchdog.out")" \
  || fail "watchdog: limitd NRestarts $before -> $(show "$s" NRestarts), pid $pid -> $(show "$s" MainPID)"
step "watchdog"

# 9. exit 78 (a wrong setting) is not restarted; fixed, the daemon serves again
drop=/etc/systemd/system/infer-cached.service.d
sh_in "mkdir -p $drop && printf '[Service]\nEnvironment=CACHE_MAX_SIZE=lots\n' > $drop/test.conf && systemctl daemon-reload"
"${IN[@]}" systemctl restart infer-cached.service 2>/dev/null || true
sleep 1.5
result=$(show infer-cached Result); status=$(show infer-cached ExecMainStatus); restarts=$(show infer-cached NRestarts)
[ "$result" = exit-code ] && [ "$status" = 78 ] && [ "$restarts" = 0 ] \
  && pass "exit 78: Result=$result, not restarted; $("${IN[@]}" journalctl -b -u infer-cached -o cat --no-pager | grep -m1 'CACHE_MAX_SIZE=lots' | cut -c1-110)" \
  || fail "exit 78: Result=$result ExecMainStatus=$status NRestarts=$restarts"
sh_in "rm -r $drop && systemctl daemon-reload && systemctl reset-failed infer-cached.service infer-cached.socket && systemctl start infer-cached.socket && systemctl start infer-cached.service"
wait_active 60 && pass "cached back after the fix" || fail "cached not back"
step "exit 78"

# 10. systemd-analyze security: every service at most 2.0
for s in "${SERVICES[@]}"; do
  "${IN[@]}" systemd-analyze security --no-pager "$s.service" > "$W/security-$s.txt" 2>&1 || true
  line=$(grep 'Overall exposure level' "$W/security-$s.txt" || echo "no rating for $s")
  score=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
  echo "  $line"
  [ -n "$score" ] && [ "$(echo "$score <= 2.0" | bc)" = 1 ] || fail "systemd-analyze security $s: $line"
done
grep -h '✗' "$W/security-infer-frontd.txt" | sed 's/  */ /g; s/^/  frontd: /' | cut -c1-110
pass "systemd-analyze security printed for every service (full tables in $W/security-*.txt)"
step "systemd-analyze security"

# 11. upgrade under load: apt install of the second build while the client runs
sh_in "printf '# edited by the operator\nLOG_LEVEL=info\n' >> /etc/infer/infer.env"
declare -A pids; for s in "${SERVICES[@]}"; do pids[$s]=$(show "$s" MainPID); done
client_start upgrade
if sh_in "DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends /root/$(basename "$UPGRADE_DEB")" \
     > "$W/upgrade.log" 2>&1 < /dev/null; then pass "apt install ./$(basename "$UPGRADE_DEB") (upgrade)"
else fail "upgrade failed"; tail -20 "$W/upgrade.log"; fi
wait_active 120 || true
if client_stop upgrade > "$W/upgrade.out"; then pass "upgrade under load: no request lost: $(tail -1 "$W/upgrade.out")"
else fail "upgrade lost requests"; cat "$W/upgrade.out"; fi
[ "$(sh_in "dpkg-query -W -f='\${Version}' infer")" = "$UPGRADE_VERSION" ] && pass "dpkg: infer $UPGRADE_VERSION" || fail "version after upgrade"
same=0; for s in "${SERVICES[@]}"; do [ "$(show "$s" MainPID)" = "${pids[$s]}" ] && { same=1; echo "  $s not restarted"; }; done
[ "$same" = 0 ] && all_active && pass "every service restarted onto the new executables and active" || fail "services after upgrade"
sh_in "grep -q 'edited by the operator' /etc/infer/infer.env" && pass "edited conffile /etc/infer/infer.env kept" || fail "conffile lost"
grep -i 'conffile\|Configuration file' "$W/upgrade.log" | sed 's/^/  /' || true
step "upgrade under load"

# 12. remove keeps the configuration; purge removes it and the state
sh_in "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q infer" > "$W/remove.log" 2>&1 < /dev/null || fail "apt remove"
active=$("${IN[@]}" systemctl list-units --no-legend --plain --state=active 'infer*' | grep -c . || true)
socks=$(sh_in "ls /run/infer 2>/dev/null | grep -c sock" || true)
[ "$active" = 0 ] && [ "$socks" = 0 ] && sh_in "test -f /etc/infer/infer.env && test -f /etc/infer/keys.json && test -d /var/lib/infer/models" \
  && pass "apt remove: no unit active, no socket left, configuration and models kept" \
  || fail "after remove: $active units active, $socks sockets; $(sh_in 'ls /etc/infer /var/lib/infer' 2>&1 | tr '\n' ' ')"
sh_in "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q infer" > "$W/purge.log" 2>&1 < /dev/null || fail "apt purge"
sh_in "test ! -e /etc/infer && test ! -e /var/lib/infer" && pass "apt purge: /etc/infer and /var/lib/infer gone (user infer kept)" \
  || fail "after purge: $(sh_in 'ls -la /etc/infer /var/lib/infer' 2>&1 | tr '\n' ' ')"
step "remove and purge"

[ "$FAILED" = 0 ] && echo "systemd-nspawn-test: PASS" || { echo "systemd-nspawn-test: FAIL"; exit 1; }
