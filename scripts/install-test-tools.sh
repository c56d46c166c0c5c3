#!/usr/bin/env bash
# Installs the Python test tools into a venv at the package root: the official `openai` client and
# schemathesis, and opentelemetry-proto (the OTLP receiver's decoder), with every version pinned in
# tests-python/requirements.txt (PyPI only).
#
#   scripts/install-test-tools.sh [VENV]      (default: <repo>/.venv-test; PYTHON=... picks the interpreter)
#
# A no-op when the venv already holds exactly that requirements file (a digest of it is kept in the
# venv). The tests find the tools at .venv-test/bin/{python,schemathesis} (Tests/StackTests).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo/.venv-test}"
requirements="$repo/tests-python/requirements.txt"
stamp="$venv/.requirements.sha256"

say() { printf 'install-test-tools: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f "$requirements" ] || die "$requirements is missing"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -x "$venv/bin/schemathesis" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

# Debian's interpreter by default (python3-venv provides its venv module); any python3 >= 3.9 works.
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python="$(command -v python3 || true)"; fi
fi
[ -n "$python" ] && [ -x "$(command -v "$python")" ] || die "no python3 found (apt install python3 python3-venv, or set PYTHON=...)"

if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv" || die "could not create the venv (on Debian: apt install python3-venv)"
fi
start=$(date +%s)
say "installing the pinned test tools (openai, schemathesis, opentelemetry-proto) into $venv ..."
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" \
    || die "pip install -r $requirements failed"
"$venv/bin/python" -c "import openai, schemathesis, opentelemetry.proto.collector.trace.v1.trace_service_pb2" || die "the installed tools do not import"
echo "$want" > "$stamp"
say "done in $(( $(date +%s) - start )) s: $("$venv/bin/python" -m pip --disable-pip-version-check show openai schemathesis opentelemetry-proto 2>/dev/null | grep -E '^(Name|Version)' | paste -sd' ')"
