#!/usr/bin/env bash
# test.sh: the one command that builds and tests conec the way CI does.
#   1. scripts/install-deps.sh
#   2. build/      RelWithDebInfo (-O2 -g1), warnings as errors, then ctest, including
#                  the NAT lab (tests/netlab/: needs root, as CI runs)
#   2b. examples: libconec installed to a temporary prefix, examples/ built
#                  against it and run (scripts/examples.sh)
#   3. build-asan/ Debug with ASan+UBSan, warnings as errors, no benchmarks,
#                  no NAT lab (it tests paths through NATs, not memory safety:
#                  once is enough), then ctest (skipped when CONEC_SKIP_ASAN=1)
#   4. build-fuzz/ clang libFuzzer targets, ASan+UBSan, 15 s each
#                  (scripts/fuzz.sh; skipped when CONEC_SKIP_FUZZ=1)
# Exits non-zero if any step fails; the last line sums up the tests run.
# Debug rather than -O1 for the sanitizer pass: g++ 12 with -O1 and
# -fsanitize=address reports a false -Wmaybe-uninitialized inside <regex>
# (pulled in by catch.hpp), which -Werror turns into a build failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

total_passed=0
total_failed=0
step="start"
details=()

finish() {
  local rc=$?
  for line in "${details[@]}"; do echo "test.sh: $line"; done
  if ((rc == 0)); then
    echo "test.sh: all steps passed"
  else
    echo "test.sh: FAILED at step: $step (exit $rc)"
  fi
  echo "summary: $total_passed passed, $total_failed failed"
}
trap finish EXIT

# run_pass NAME BUILD_DIR CMAKE_ARGS...: configure, build and ctest one tree.
run_pass() {
  local name=$1 dir=$2
  shift 2
  step="$name: configure"
  echo "==> $step"
  cmake -S . -B "$dir" -G Ninja "$@"
  step="$name: build"
  echo "==> $step"
  cmake --build "$dir"
  step="$name: ctest"
  echo "==> $step"
  local log="$dir/ctest.log" rc=0
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 2>&1 | tee "$log" || rc=$?
  # "100% tests passed, 0 tests failed out of 57"
  local line failed=0 total=0
  line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$log" | tail -n1 || true)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=${BASH_REMATCH[1]}
    total=${BASH_REMATCH[2]}
  fi
  total_passed=$((total_passed + total - failed))
  total_failed=$((total_failed + failed))
  details+=("$name: $((total - failed))/$total tests passed")
  return "$rc"
}

# run_counted NAME UNIT DEFAULT COMMAND...: runs a script that prints
# "NAME: UNIT: <count>" and one "NAME: <item>: passed|FAILED ..." line per
# item; each item counts as one test (DEFAULT items if it never said how many).
run_counted() {
  local name=$1 unit=$2 default=$3 log rc=0 count passed
  shift 3
  step="$name"
  echo "==> $step"
  log=$(mktemp)
  "$@" 2>&1 | tee "$log" || rc=$?
  count=$(sed -nE "s/^$name: $unit: ([0-9]+)\$/\\1/p" "$log" | tail -n1)
  passed=$(grep -cE "^$name: .+: passed( |\$)" "$log" || true)
  count=${count:-$default}
  rm -f "$log"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + count - passed))
  details+=("$name: $passed/$count $unit passed")
  return "$rc"
}

step="install-deps"
echo "==> $step"
scripts/install-deps.sh

# Tests and benchmarks explicitly ON: build/ may hold a cache from the
# README's run-only set-up command (-DCONEC_TESTS=OFF -DCONEC_BENCH=OFF).
# -g1: line tables (enough for backtraces) compile a third faster than -g.
run_pass "release" build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DCONEC_WERROR=ON -DCONEC_TESTS=ON -DCONEC_BENCH=ON -DCONEC_NETLAB=ON

# The library as other programs get it: installed, examples/ built against
# the install and run against each other (scripts/examples.sh).
run_counted examples checks 7 scripts/examples.sh build

if [[ "${CONEC_SKIP_ASAN:-0}" == 1 ]]; then
  details+=("asan: skipped (CONEC_SKIP_ASAN=1)")
else
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # -g1: line tables are all a sanitizer report needs, and build faster.
  run_pass "asan" build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCONEC_SANITIZE=ON -DCONEC_WERROR=ON -DCONEC_TESTS=ON -DCONEC_BENCH=OFF -DCONEC_NETLAB=OFF
fi

# Each fuzz target counts as one test: passed if it ran its time without a
# crash, leak, hang or OOM. If the build fails, every target counts as failed.
if [[ "${CONEC_SKIP_FUZZ:-0}" == 1 ]]; then
  details+=("fuzz: skipped (CONEC_SKIP_FUZZ=1)")
else
  run_counted fuzz targets 5 scripts/fuzz.sh "${CONEC_FUZZ_SECONDS:-15}"
fi
step="done"
