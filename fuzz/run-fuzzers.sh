#!/usr/bin/env bash
# Builds the fuzzer (libFuzzer + AddressSanitizer) and runs each target for SECONDS.
#   fuzz/run-fuzzers.sh [SECONDS] [TARGET...]      (make fuzz FUZZ_SECONDS=N; default 60 s, every target)
# Each target starts from its seed corpus (fuzz/corpus/TARGET, read only) plus what earlier runs on this
# machine found (fuzz/.build/work/TARGET). An input that crashes, trips the sanitizer or runs past 10 s
# is written to fuzz/.build/crashes/ and the run fails: fix the parser, then keep the input as
# fuzz/regressions/TARGET/NAME, which FuzzRegressionTests feeds to the same code in `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http frames messages json gguf safetensors keys registry envfile upstream)
flags=(--package-path fuzz -Xswiftc -sanitize=fuzzer,address)
mkdir -p fuzz/.build
# (gold warns once per ASan symbol it cannot export: noise, left out)
swift build "${flags[@]}" > fuzz/.build/build.log 2>&1
built=$?
grep -v "Cannot export local symbol" fuzz/.build/build.log | grep -E "error|Build complete" | head -20
[ $built -eq 0 ] || { echo "fuzz: the fuzzer did not build (fuzz/.build/build.log)"; exit 1; }
bin="$(swift build "${flags[@]}" --show-bin-path)/infer-fuzz"
failed=()
for t in "${targets[@]}"; do
  work=fuzz/.build/work/$t crashes=fuzz/.build/crashes
  mkdir -p "$work" "$crashes"
  FUZZ_TARGET=$t timeout $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/$t-" "$work" "fuzz/corpus/$t" \
    > "fuzz/.build/$t.log" 2>&1
  status=$?
  runs=$(grep -m1 -oE "stat::number_of_executed_units: *[0-9]+" "fuzz/.build/$t.log" | grep -oE "[0-9]+$")
  echo "fuzz $t: exit $status, ${runs:-?} inputs in ${seconds} s"
  if [ $status -ne 0 ]; then
    failed+=("$t")
    grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "fuzz/.build/$t.log" | head -8
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED ${failed[*]} (logs fuzz/.build/TARGET.log, inputs in fuzz/.build/crashes/)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash in ${seconds} s each"
