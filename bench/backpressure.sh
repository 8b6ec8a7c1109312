#!/usr/bin/env bash
# Backpressure end to end: SIZE (default 10G) from a fast producer through
# `conec send` -> coordinator relay -> `conec recv` into a consumer that reads
# at most ~250 MB/s; prints the time and the peak RSS of send, recv and the
# coordinator (all must stay small). Usage: BUILD=build SIZE=10G bench/backpressure.sh
set -u
BUILD=${BUILD:-build}; SIZE=${SIZE:-10G}; C=$BUILD/src/cli/conec; D=$(mktemp -d); export CONEC_STATE_DIR=$D
$C coordinator --listen 127.0.0.1:${PORT:-17491} 2> $D/c.err & CP=$!; sleep 0.5
PIN=$(grep -o 'sha256:[0-9a-f]*' $D/c.err | head -1); A="-c 127.0.0.1:${PORT:-17491} --pin $PIN"
( $C recv $A -i bob -v 2> $D/r.err | python3 -c '
import sys,time
n=0
while True:
    b=sys.stdin.buffer.read(1<<20)
    if not b: break
    n+=len(b); time.sleep(0.004)
print("consumed",n)' ) & RP=$!
sleep 1
START=$(date +%s.%N)
( head -c $SIZE /dev/zero | $C send $A bob --no-progress ) & SP=$!
peak() { awk '/VmRSS/{print $2}' /proc/$1/status 2>/dev/null; }
PS=0; PR=0; PC=0
while kill -0 $SP 2>/dev/null; do
  for p in $(pgrep -f "conec send $A"); do v=$(peak $p); [ -n "$v" ] && [ $v -gt $PS ] && PS=$v; done
  for p in $(pgrep -f "conec recv $A"); do v=$(peak $p); [ -n "$v" ] && [ $v -gt $PR ] && PR=$v; done
  v=$(peak $CP); [ -n "$v" ] && [ $v -gt $PC ] && PC=$v
  sleep 1
done
wait $SP; echo "send exit $?"; END=$(date +%s.%N)
wait $RP
echo "seconds $(awk "BEGIN{print $END - $START}")  peak RSS KiB: send $PS recv $PR coordinator $PC"
kill $CP
