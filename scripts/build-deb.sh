#!/usr/bin/env bash
# Builds the Debian package of infer (`make deb`, after `make release`): the release executables and the
# Swift runtime libraries they link (so the target host needs no Swift toolchain), installed by
# scripts/install.sh into a staging root with PREFIX=/usr, plus the control files from packaging/deb/.
# Writes dist/infer_VERSION_ARCH.deb.
#
#   scripts/build-deb.sh      env: VERSION (default 0.0~gitN.HASH: N commits, HASH the commit),
#                                  OUT (output directory, default dist), BUILD_DIR (default .build/release),
#                                  COMPRESS (xz, the default: 18 MB, 2 min here; zstd: 27 MB, 2 s; gzip)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
OUT=${OUT:-$here/dist}
if [ -z "${VERSION:-}" ]; then
  VERSION="0.0~git$(git rev-list --count HEAD).$(git rev-parse --short=10 HEAD)"
  git diff --quiet HEAD -- Sources Package.swift systemd config packaging scripts docs \
    || echo "build-deb: warning: uncommitted changes; $VERSION is not exactly that commit" >&2
fi
ARCH=$(dpkg --print-architecture)
MAINTAINER=$(git log -1 --format='%an <%ae>')
BUILD_DIR=${BUILD_DIR:-$here/.build/release}
scripts/install-deps.sh dpkg-dev python3 gzip patchelf

stage=$(mktemp -d /tmp/infer-deb-XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/debian/infer           # the layout dpkg-shlibdeps expects: debian/control, debian/PACKAGE
DESTDIR=$root PREFIX=/usr SYSCONFDIR=/etc BUILD_DIR=$BUILD_DIR VERSION=$VERSION scripts/install.sh

# /usr/share/doc/infer: copyright and changelog, as Debian wants them.
install -m 0644 packaging/deb/copyright "$root/usr/share/doc/infer/copyright"
{
  echo "infer ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from $(git log -1 --format='commit %h: %s' | cut -c1-60)..."
  echo
  echo " -- $MAINTAINER  $(date -R -d "@$(git log -1 --format=%ct)")"
} | gzip -9n > "$root/usr/share/doc/infer/changelog.gz"     # a native package's changelog
install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/infer"

# Dependencies from the executables' shared libraries (libc6, libsystemd0, ...).
install -d "$root/DEBIAN"
printf 'Source: infer\n\nPackage: infer\nArchitecture: any\n' > "$stage/debian/control"
# (-l: the bundled Swift libraries are the package's own, not a dependency; their own needs count.
# --warnings=1: not the toolchain's "useless dependency" between its own libraries, which is not ours.)
depends=$(cd "$stage" && dpkg-shlibdeps -O --warnings=1 -ldebian/infer/usr/lib/infer/swift \
  debian/infer/usr/lib/infer/{frontd,limitd,cached,batchd,modeld,metricsd,inferctl} debian/infer/usr/lib/infer/swift/*.so \
  2> "$stage/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')
# (Its warnings that the Swift libraries' names carry no version are true and harmless: they are private.)
[ -n "$depends" ] || { cat "$stage/shlibdeps.log" >&2; echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat > "$root/DEBIAN/control" <<EOF
Package: infer
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends, systemd
Recommends: python3-pip, unzip, ca-certificates
Suggests: curl, jq
Section: net
Priority: optional
Description: LLM inference gateway as six small systemd-supervised daemons
 infer serves an OpenAI-compatible and a native HTTP API in front of a
 built-in CPU engine (SmolLM2-135M-Instruct for chat, all-MiniLM-L6-v2 for
 embeddings) and OpenAI-compatible upstreams. Six daemons (frontd, limitd,
 cached, batchd, modeld, metricsd) each own one concern and talk over Unix
 sockets that systemd holds, so any one of them can restart without clients
 noticing. Metrics for Prometheus on port 9464; API on port 8080.
 .
 After installing: infer-fetch-models, inferctl keys create, then
 systemctl start infer.target.
EOF
printf '/etc/infer/infer.env\n/etc/infer/models.json\n' > "$root/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort \
   | xargs md5sum > DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles" "$root/DEBIAN/control"

mkdir -p "$OUT"
deb=$OUT/infer_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Z"${COMPRESS:-xz}" --build "$root" "$deb" >/dev/null
echo "build-deb: $deb ($(du -h "$deb" | cut -f1), installed $(du -sh --exclude=DEBIAN "$root" | cut -f1))"
