#!/usr/bin/env bash
# Installs the Debian packages the build, tests and benchmarks need, when they are missing.
# Usage: scripts/install-deps.sh [PACKAGE...]   (default: the set `make test` needs)
set -euo pipefail
want=("$@")
# wrk, nginx-light, haproxy: Tests/BenchScriptsTests runs the bench/ scripts; StackTests puts haproxy
# (TLS) in front of an upstream. Installed here so that no test waits for apt.
[ ${#want[@]} -gt 0 ] || want=(python3 python3-pip python3-venv unzip ca-certificates curl libsystemd-dev pkg-config prometheus redis-server openssl chromium zsh
                                  wrk nginx-light haproxy binutils)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
