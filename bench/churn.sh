#!/usr/bin/env bash
# churn.sh: client churn against one coordinator (issue 7). ROUNDS times,
# COUNT clients register at once (bench/idle_clients) and are then killed:
# SIGKILL on odd rounds (the coordinator must time them out), SIGTERM on
# even ones (they close). After the idle timeout (30 s) plus a margin, the
# coordinator must hold no connection and no client, and its heap must be
# back near its start. Figures, not a test; exits 1 if connections remain.
#   BUILD=build ROUNDS=6 COUNT=300 bench/churn.sh
set -euo pipefail
build=${BUILD:-build}
rounds=${ROUNDS:-6}
count=${COUNT:-300}
work=$(mktemp -d)
trap 'kill $coord 2>/dev/null || true; rm -rf "$work"' EXIT
"$build/bench/relay_bulk" coordinator --listen 127.0.0.1:0 >"$work/coord.out" 2>"$work/coord.err" &
coord=$!
sleep 0.5
port=$(awk '/^port/{print $2}' "$work/coord.out")
pin=$(awk '/^fingerprint/{print $2}' "$work/coord.out")
stats() { kill -USR1 "$coord"; sleep 0.3; awk -v k="$1" '$1==k{v=$2} END{print v}' "$work/coord.out"; }
echo "start: heap_in_use $(stats heap_in_use) B"
for r in $(seq 1 "$rounds"); do
  "$build/bench/idle_clients" --coord "127.0.0.1:$port" --pin "$pin" --count "$count" --prefix "r${r}c" \
    --identities "$work/ids" >"$work/ic$r.out" 2>"$work/ic$r.err" &
  ic=$!
  for _ in $(seq 1 300); do grep -q '^ready' "$work/ic$r.out" && break; sleep 0.2; done
  grep -q '^ready' "$work/ic$r.out" || { echo "round $r: clients did not register"; exit 1; }
  sig=TERM; ((r % 2)) && sig=KILL
  kill -"$sig" "$ic"; wait "$ic" 2>/dev/null || true
  echo "round $r: $count registered in $(awk '$1=="seconds"{print $2}' "$work/ic$r.out") s, SIG$sig; coordinator connections $(stats connections)"
done
sleep 45
left=$(stats connections)
echo "after 45 s: connections $left, clients $(stats clients), heap_in_use $(stats heap_in_use) B"
[[ $left == 0 ]]
