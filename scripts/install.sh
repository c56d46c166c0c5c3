#!/usr/bin/env bash
# Installs infer from a release build: the daemons and inferctl with the Swift runtime libraries they
# link, the units, sysusers and tmpfiles entries, the default configuration (never over an existing
# file), infer-fetch-models, man pages built from docs/ and the operator's documentation. `make install` and `make deb` (into the package's root,
# PREFIX=/usr) both use it, so the package and a hand installation are the same files.
#
#   scripts/install.sh            env: BUILD_DIR (the release executables, required), VERSION (for the
#                                 man pages), DESTDIR (staging root, default none), PREFIX (/usr/local),
#                                 SYSCONFDIR (/etc)
#
# Layout (PREFIX=/usr, as the package has it):
#   /usr/lib/infer/{frontd,limitd,cached,batchd,modeld,metricsd,inferctl}   the executables; the daemons
#       are not on PATH (generic names, and only systemd runs them); inferctl finds them beside itself
#   /usr/lib/infer/swift/*.so   the Swift runtime, Foundation and Dispatch libraries from the toolchain,
#       found through the executables' RUNPATH $ORIGIN/swift, so the host needs no Swift toolchain
#   /usr/bin/inferctl -> ../lib/infer/inferctl,  /usr/sbin/infer-fetch-models
#   /usr/lib/systemd/system/infer*.{socket,service,target}, /usr/lib/sysusers.d/infer.conf,
#   /usr/lib/tmpfiles.d/infer.conf, /etc/infer/{infer.env,models.json},
#   /usr/share/man/man{1,8}/*.gz, /usr/share/doc/infer/*.md, /usr/share/infer/monitoring (rules, dashboard)
# The units name /usr/lib/infer and /usr/share/doc/infer; another PREFIX rewrites those paths.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD_DIR:?BUILD_DIR: the directory of the release executables}"
VERSION=${VERSION:-$(cd "$here" && git describe --always --dirty 2>/dev/null || echo unknown)}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
libexec=$PREFIX/lib/infer
doc=$PREFIX/share/doc/infer
daemons=(frontd limitd cached batchd modeld metricsd)
root=$DESTDIR

for program in "${daemons[@]}" inferctl; do
  [ -x "$BUILD_DIR/$program" ] || { echo "install: $BUILD_DIR/$program missing (build in release mode first)" >&2; exit 1; }
done

command -v patchelf >/dev/null || "$here/scripts/install-deps.sh" patchelf
install -d "$root$libexec/swift" "$root$PREFIX/bin" "$root$PREFIX/sbin"
for program in "${daemons[@]}" inferctl; do
  install -m 0755 "$BUILD_DIR/$program" "$root$libexec/$program"
done
# The Swift runtime: every library the executables load from the toolchain's directory (the one
# libswiftCore.so is in), copied once for all seven; RUNPATH $ORIGIN/swift replaces the toolchain's path.
toolchain=$(dirname "$(ldd "$BUILD_DIR/inferctl" | awk '/libswiftCore\.so/ {print $3}')")
[ "$toolchain" != . ] || { echo "install: $BUILD_DIR/inferctl does not link libswiftCore.so" >&2; exit 1; }
for program in "${daemons[@]}" inferctl; do ldd "$BUILD_DIR/$program"; done \
  | awk -v dir="$toolchain/" 'index($3, dir) == 1 {print $3}' | sort -u \
  | while read -r library; do install -m 0644 "$library" "$root$libexec/swift/"; done
for program in "${daemons[@]}" inferctl; do
  patchelf --set-rpath '$ORIGIN/swift' "$root$libexec/$program"
done
for library in "$root$libexec"/swift/*.so; do patchelf --set-rpath '$ORIGIN' "$library"; done
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root$libexec"/{frontd,limitd,cached,batchd,modeld,metricsd,inferctl} "$root$libexec"/swift/*.so
ln -sfn "../lib/infer/inferctl" "$root$PREFIX/bin/inferctl"
sed "s|^default_dir=./models .*|default_dir=/var/lib/infer/models|" "$here/scripts/fetch-models.sh" > "$root$PREFIX/sbin/infer-fetch-models"
chmod 0755 "$root$PREFIX/sbin/infer-fetch-models"

# Units, with this installation's paths.
install -d "$root$PREFIX/lib/systemd/system"
for unit in "$here"/systemd/*.socket "$here"/systemd/*.service "$here"/systemd/infer.target; do
  sed -e "s|/usr/lib/infer/|$libexec/|g" -e "s|/usr/share/doc/infer/|$doc/|g" "$unit" \
    > "$root$PREFIX/lib/systemd/system/$(basename "$unit")"
  chmod 0644 "$root$PREFIX/lib/systemd/system/$(basename "$unit")"
done
install -D -m 0644 "$here/systemd/infer.sysusers" "$root$PREFIX/lib/sysusers.d/infer.conf"
install -D -m 0644 "$here/systemd/infer.tmpfiles" "$root$PREFIX/lib/tmpfiles.d/infer.conf"

# Configuration: the operator's once installed, so never replaced here (the package's conffiles are
# dpkg's to merge).
install -d -m 0755 "$root$SYSCONFDIR/infer"
[ -e "$root$SYSCONFDIR/infer/infer.env" ] || install -m 0640 "$here/config/infer.env" "$root$SYSCONFDIR/infer/infer.env"
[ -e "$root$SYSCONFDIR/infer/models.json" ] || install -m 0644 "$here/config/models.json" "$root$SYSCONFDIR/infer/models.json"

# Man pages from docs/: the daemons' with an ENVIRONMENT section from their own settings table.
man=$(mktemp -d)
trap 'rm -rf "$man"' EXIT
install -d "$root$PREFIX/share/man/man1" "$root$PREFIX/share/man/man8"
for program in "${daemons[@]}"; do
  "$BUILD_DIR/$program" --help=markdown > "$man/$program.env.md"
  python3 "$here/scripts/md2man.py" "$here/docs/$program.md" "$VERSION" "$man/$program.env.md" > "$man/$program.8"
done
python3 "$here/scripts/md2man.py" "$here/docs/inferctl.md" "$VERSION" > "$man/inferctl.1"
python3 "$here/scripts/md2man.py" "$here/docs/infer-fetch-models.md" "$VERSION" > "$man/infer-fetch-models.8"
for page in "$man"/*.[18]; do
  section=${page##*.}
  gzip -9n < "$page" > "$root$PREFIX/share/man/man$section/$(basename "$page").gz"
  chmod 0644 "$root$PREFIX/share/man/man$section/$(basename "$page").gz"
done

# The operator's documentation (the units' Documentation= names OPERATIONS.md).
install -d "$root$doc"
for page in OPERATIONS.md ARCHITECTURE.md HTTP.md PROTOCOL.md webhooks.md openapi.yaml; do
  install -m 0644 "$here/docs/$page" "$root$doc/$page"
done
install -m 0644 "$here/README.md" "$root$doc/README.md"
# Prometheus rules and scrape configuration, the Grafana dashboard: for the operator to copy in.
for file in README.md prometheus/alert-rules.yml prometheus/recording-rules.yml prometheus/prometheus.yml \
            grafana/infer-dashboard.json; do
  install -D -m 0644 "$here/monitoring/$file" "$root$PREFIX/share/infer/monitoring/$file"
done
echo "install: infer $VERSION into ${DESTDIR:-/}${DESTDIR:+ }(PREFIX=$PREFIX)"
