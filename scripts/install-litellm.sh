#!/usr/bin/env bash
# Installs LiteLLM's proxy, the peer of bench/run-gateway-overhead-bench.sh, into a venv at the package
# root, with every version pinned in tests-python/requirements-litellm.txt (PyPI only).
#
#   scripts/install-litellm.sh [VENV]      (default: <repo>/.venv-litellm; PYTHON=... picks the interpreter)
#
# A no-op when the venv already holds exactly that requirements file (a digest of it is kept in the
# venv); concurrent runs wait for each other (flock on the venv). All wheels, nothing to compile: about
# two minutes and some 700 MB on the 2-core machine, most of it the proxy extra's dependencies.
# The pin is 1.82.6, the last release before the two of 2026-03 that carried a credential stealer
# (1.82.7 and 1.82.8, since withdrawn from PyPI); `litellm[proxy]` of the newest release (1.110.2) does
# not install from PyPI at all (it asks for a `litellm-proxy` release PyPI does not have;
# docs/peers/llama-server.md). The install is checked for a `.pth` file of litellm's own, the way
# the stealer ran.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo/.venv-litellm}"
requirements="$repo/tests-python/requirements-litellm.txt"
stamp="$venv/.requirements.sha256"

say() { printf 'install-litellm: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f "$requirements" ] || die "$requirements is missing"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
ready() { [ -x "$venv/bin/litellm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }
ready && exit 0

python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi
fi
[ -n "$python" ] && [ -x "$(command -v "$python")" ] || die "no python3 found (apt install python3 python3-venv, or set PYTHON=...)"
mkdir -p "$venv"
exec 9>"$venv/.install.lock"
flock -n 9 || { say "another install into $venv is running; waiting for it"; flock 9; }
ready && exit 0   # the other run did it
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || die "could not create the venv (on Debian: apt install python3-venv)"
start=$(date +%s)
say "installing the pinned litellm[proxy] into $venv ..."
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" || die "pip install -r $requirements failed"
pth=$(find "$venv/lib" -name '*litellm*.pth' | head -1)
[ -z "$pth" ] || die "$pth: a litellm .pth file runs code at every Python start; not using this install"
LITELLM_LOCAL_MODEL_COST_MAP=True "$venv/bin/python" -c "import litellm.proxy.proxy_server" || die "the proxy does not import"
echo "$want" > "$stamp"
say "done in $(( $(date +%s) - start )) s: litellm $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
