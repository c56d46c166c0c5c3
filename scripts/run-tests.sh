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
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls Tests | grep "Tests$"))
failed=()
for t in "${targets[@]}"; do
  echo "== $t"
  start=$(date +%s)
  if swift test --skip-build --filter "^$t\." 2>&1 | tee "/tmp/infer-test-$t.log" | grep -E '✘|Test run with|error:'; then :; fi
  status=${PIPESTATUS[0]}
  echo "== $t: exit $status in $(( $(date +%s) - start )) s"
  [ "$status" -eq 0 ] || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (full logs in /tmp/infer-test-<target>.log)"
  exit 1
fi
echo "all test targets passed: ${targets[*]}"
