#!/usr/bin/env bash
# Runs every test target in a process of its own, one after another.
#
# In one process Swift Testing runs all suites at once on a 2-thread cooperative pool: the engine's
# tests keep both cores busy with model compute while the IPC and HTTP tests wait on sockets with
# deadlines, so those would time out for lack of a thread, not because anything is wrong. Separate
# processes keep each target's timing honest.
#   scripts/run-tests.sh [TARGET...]    (default: every Tests/*Tests folder; Tests/TestKit, TestModels and
#                                        Fixtures are what the tests use, not tests)
set -uo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests || exit 1
# Every daemon runs on any x86-64 CPU (AVX2 only in the engine's run-time-chosen kernels).
scripts/check-baseline-isa.sh .build/debug/{frontd,limitd,cached,batchd,modeld,metricsd,inferctl} || exit 1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls Tests | grep "Tests$"))
failed=()
# Logs go to INFER_TEST_LOG_DIR (default /tmp/infer-test-logs-<checkout's folder name>), so two checkouts
# testing at once keep their own.
log_dir=${INFER_TEST_LOG_DIR:-/tmp/infer-test-logs-$(basename "$PWD")}
mkdir -p "$log_dir"
# run NAME TARGET [VAR=VALUE...]: one target's tests in a process of their own, with that environment.
run() {
  local name=$1 t=$2
  shift 2
  echo "== $name"
  local start=$(date +%s)
  if env "$@" swift test --skip-build --filter "^$t\." 2>&1 | tee "$log_dir/$name.log" | grep -E '✘|Test run with|error:'; then :; fi
  local status=${PIPESTATUS[0]}
  echo "== $name: exit $status in $(( $(date +%s) - start )) s"
  [ "$status" -eq 0 ] || failed+=("$name")
}
for t in "${targets[@]}"; do
  run "$t" "$t"
  # The engine once more on its portable (x86-64 baseline) kernels, so that path is checked against
  # the reference outputs on AVX2 machines too.
  [ "$t" != EngineTests ] || run EngineTests-portable EngineTests INFER_ENGINE_KERNELS=portable
  # And on the AVX2 kernels where the CPU would take the AVX-512 ones (the same bits are expected).
  if [ "$t" = EngineTests ] && grep -qw avx512vl /proc/cpuinfo; then run EngineTests-avx2 EngineTests INFER_ENGINE_KERNELS=avx2; fi
  # The upstream client once more with URLSession carrying http:// too, so both transports pass the
  # same suite (https:// is URLSession's either way).
  [ "$t" != UpstreamTests ] || run UpstreamTests-urlsession UpstreamTests INFER_UPSTREAM_TRANSPORT=urlsession
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (full logs in $log_dir/<target>.log)"
  exit 1
fi
echo "all test targets passed: ${targets[*]}"
