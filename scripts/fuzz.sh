#!/usr/bin/env bash
# fuzz.sh [SECONDS_PER_TARGET]: builds the libFuzzer targets (fuzz/, clang,
# ASan+UBSan) in build-fuzz/ and runs each for SECONDS_PER_TARGET (default
# 60) on a copy of its seed corpus, so nothing the fuzzer finds is written
# into the repository. Exits non-zero if any target crashed, leaked, hung or
# ran out of memory, naming it and the reproducer. One line per target:
#   fuzz: <target>: passed|FAILED ...
# (scripts/test.sh counts these lines.)
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
targets=(fuzz_endpoint_server fuzz_endpoint_client fuzz_control fuzz_framing fuzz_relay)
echo "fuzz: targets: ${#targets[@]}"

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCONEC_FUZZ=ON \
  -DCONEC_TESTS=OFF -DCONEC_BENCH=OFF -DCONEC_SANITIZE=ON "${launcher[@]}" >/dev/null
cmake --build build-fuzz --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
for t in "${targets[@]}"; do
  work=build-fuzz/fuzz-runs/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp fuzz/corpus/"$t"/* "$work/corpus/"
  rc=0
  # -timeout: one input taking 20 s is a hang. -max_len: endpoint inputs
  # hold several full-size datagrams.
  "build-fuzz/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1 || rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' || echo "?")
  speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$work/log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -n1 || true)
  artifacts=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if ((rc == 0)) && [[ -z $artifacts ]]; then
    echo "fuzz: $t: passed ($execs runs, $speed exec/s, $cov)"
  else
    failed=1
    echo "fuzz: $t: FAILED (exit $rc); log: $work/log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$work/log" | head -n5 | sed 's/^/    /' || true
    for a in $artifacts; do echo "    reproducer: $a (rerun: build-fuzz/fuzz/$t $a)"; done
  fi
done
exit "$failed"
