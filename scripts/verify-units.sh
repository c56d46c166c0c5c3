#!/usr/bin/env bash
# Checks every unit in systemd/ with `systemd-analyze verify`, on a machine whose PID 1 need not be
# systemd: the units, stub executables and the host's own system units (sysinit.target, sockets.target,
# ...) are copied into a temporary root, and the template is checked through the instances infer.target
# names. The man pages the units name (Documentation=man:...) are built from docs/ for `man` to find.
# Any line of output (an unknown key, a bad value, a missing executable or man page) is a failure.
# Usage: scripts/verify-units.sh [UNIT_DIR]        (default: the repository's systemd/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
units=${1:-$here/systemd}
command -v systemd-analyze >/dev/null || "$here/scripts/install-deps.sh" systemd
system_units=/usr/lib/systemd/system
[ -e "$system_units/sysinit.target" ] || { echo "verify-units: $system_units/sysinit.target missing (install Debian's systemd)"; exit 2; }

root=$(mktemp -d /tmp/infer-units-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/infer" "$root/usr/lib/systemd"
cp -a "$system_units" "$root/usr/lib/systemd/"
cp "$units"/*.socket "$units"/*.service "$units"/*.target "$root/etc/systemd/system/"
for daemon in frontd limitd cached batchd modeld metricsd; do
  printf '#!/bin/sh\nexec sleep infinity\n' > "$root/usr/lib/infer/$daemon"
  chmod 0755 "$root/usr/lib/infer/$daemon"
done

# Documentation=man:X(N): systemd-analyze runs `man X(N)`; the pages come from docs/X.md (scripts/md2man.py).
for page in $(grep -ho 'man:[a-z0-9_-]*([0-9])' "$units"/* | sort -u); do
  name=${page#man:}; section=${name#*(}; section=${section%)}; name=${name%(*}
  mkdir -p "$root/man/man$section"
  python3 "$here/scripts/md2man.py" "$here/docs/$name.md" verify > "$root/man/man$section/$name.$section"
done
export MANPATH=$root/man

list=()
for path in "$root"/etc/systemd/system/*; do
  name=$(basename "$path")
  case "$name" in
    *@.*) ;;                                   # templates: verified through their instances below
    *) list+=("/etc/systemd/system/$name") ;;
  esac
done
# The instances infer.target wants (infer-modeld@smollm2.socket, ...), resolved from the template.
for instance in $(grep -ho 'infer-modeld@[a-z0-9_-]*\.\(socket\|service\)' "$units/infer.target" | sort -u); do
  list+=("/etc/systemd/system/$instance")
done

out=$(cd "$root" && systemd-analyze verify --root="$root" "${list[@]}" 2>&1) && rc=0 || rc=$?
# Paths in the messages are the temporary root's; show them as the repository's.
out=${out//$root\/etc\/systemd\/system/$units}
echo "verify-units: checked ${#list[@]} units with $(systemd-analyze --version | head -1)"
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  printf '%s\n' "$out"
  echo "verify-units: FAILED (exit $rc)"
  exit 1
fi
echo "verify-units: no warnings"
