#!/usr/bin/env bash
# examples.sh BUILD_DIR: installs libconec from BUILD_DIR (built) into a
# temporary prefix, builds examples/ against that install alone
# (find_package(conec)), and runs the examples against each other on
# loopback. One line per check, "examples: <check>: passed|FAILED"
# (scripts/test.sh counts them); exits non-zero if any failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: examples.sh BUILD_DIR}
work=$(mktemp -d /tmp/conec-examples.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
failed=0
check() { # check NAME COMMAND...: runs COMMAND, reports
  local name=$1
  shift
  if "$@"; then
    echo "examples: $name: passed"
  else
    echo "examples: $name: FAILED"
    failed=1
  fi
}

echo "examples: checks: 7"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || { echo "examples: install: FAILED"; exit 1; }
# Each public header compiles alone, and pulls in nothing of ngtcp2, GnuTLS,
# libuv, spdlog or fmt (nor any internal header).
headers_alone() {
  local h deps ok=0
  for h in "$work"/prefix/include/conec/*.hpp; do
    deps=$(c++ -std=c++23 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -M -I "$work/prefix/include" -x c++ "$h") ||
      { echo "  $h does not compile alone"; ok=1; continue; }
    if grep -qE 'ngtcp2|gnutls|uv\.h|/uv/|spdlog|/fmt/|src/lib' <<<"$deps"; then
      echo "  $h pulls in: $(grep -oE '[^ ]*(ngtcp2|gnutls|uv\.h|/uv/|spdlog|/fmt/|src/lib)[^ ]*' <<<"$deps" | head -n3 | tr '\n' ' ')"
      ok=1
    fi
  done
  return $ok
}
check "every public header compiles alone, without third-party headers" headers_alone
cmake -S "$root/examples" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 &&
  cmake --build "$work/build" >"$work/build.log" 2>&1
check "build against the installed package" test -x "$work/build/chat"
[[ -x "$work/build/chat" ]] || { cat "$work/configure.log" "$work/build.log"; exit 1; }
bin=$work/build

# The coordinator lets in alice, bob and echo only.
coproc COORD { exec "$bin/auth_coordinator" 0 alice bob echo 2>"$work/coord.log"; }
pids+=("$COORD_PID")
read -r -t 10 port fp <&"${COORD[0]}" || { echo "examples: coordinator did not start"; cat "$work/coord.log"; exit 1; }
c=127.0.0.1:$port
registered() { # registered ID: waits until the coordinator logged ID's registration
  for _ in $(seq 100); do
    grep -q "auth_coordinator: $1 registered" "$work/coord.log" && return 0
    sleep 0.1
  done
  return 1
}

# File sender: 5 MiB to a receiver, hashed on both ends.
head -c $((5 << 20)) /dev/urandom >"$work/file"
timeout 30 "$bin/file_sender" "$c" "$fp" bob receive >"$work/received" 2>"$work/receive.log" &
receiver=$!
pids+=("$receiver")
registered bob
timeout 30 "$bin/file_sender" "$c" "$fp" alice send bob "$work/file" 2>"$work/send.log"
sent=$?
wait "$receiver"
received=$?
same_file() { [[ $sent == 0 && $received == 0 ]] && cmp -s "$work/file" "$work/received"; }
check "file_sender: 5 MiB arrive whole (sha256 $(sha256sum <"$work/file" | cut -c1-16))" same_file

# Chat: both sides' lines reach the other, then both exit 0.
printf 'hi alice\nsee you\n' | timeout 30 "$bin/chat" "$c" "$fp" bob >"$work/bob.out" 2>"$work/bob.log" &
bob=$!
pids+=("$bob")
registered bob
printf 'hello bob\nbye' | timeout 30 "$bin/chat" "$c" "$fp" alice bob >"$work/alice.out" 2>"$work/alice.log"
alice=$?
wait "$bob"
bob_rc=$?
chat_ok() {
  [[ $alice == 0 && $bob_rc == 0 ]] && [[ "$(cat "$work/bob.out")" == $'hello bob\nbye' ]] &&
    [[ "$(cat "$work/alice.out")" == $'hi alice\nsee you' ]]
}
check "chat: each side gets the other's lines" chat_ok

# Echo service: 2,000 lines through chat come back in order.
timeout 60 "$bin/echo_service" "$c" "$fp" echo 2>"$work/echo.log" &
pids+=("$!")
registered echo
seq 1 2000 | timeout 30 "$bin/chat" "$c" "$fp" alice echo >"$work/echoed" 2>"$work/echo_chat.log"
echo_rc=$?
echo_ok() { [[ $echo_rc == 0 ]] && cmp -s <(seq 1 2000) "$work/echoed"; }
check "echo_service: 2,000 lines echoed in order" echo_ok

# The authorization callback refuses an id not on the list, saying why.
echo x | timeout 30 "$bin/chat" "$c" "$fp" mallory echo >/dev/null 2>"$work/mallory.log"
mallory=$?
refused() { [[ $mallory != 0 ]] && grep -q "not on this coordinator's list" "$work/mallory.log"; }
check "auth_coordinator: mallory is refused with the callback's reason" refused
check "auth_coordinator: the refusal is logged" grep -q "refusing mallory" "$work/coord.log"

if ((failed)); then
  for f in "$work"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
fi
exit "$failed"
