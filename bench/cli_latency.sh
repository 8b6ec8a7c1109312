#!/usr/bin/env bash
# cli_latency.sh: what the conec binary's stdio bridge costs (issue 9), each
# figure against a baseline measured in the same run, all on loopback
# through one `conec coordinator` (relayed channels):
#   (a) latency: `echo hi | conec open echo-peer` (a `conec client --exec cat`
#       service) wall time, median of RUNS, against `echo hi | nc -N` to a
#       `socat ... EXEC:cat` echo server. Target: ratio <= 10, under 50 ms.
#   (b) bulk: `head -c BYTES /dev/zero | conec send` -> `conec recv >/dev/null`
#       (send's wall time: it exits once recv confirmed every byte) against
#       bench/relay_bulk send -> recv (the library without the CLI) through
#       the same coordinator. Target: ratio >= 0.9.
#   (c) bulk through a service: `head -c BYTES /dev/zero | conec open sink`
#       against `conec client -i sink --exec 'cat >/dev/null'`, against the
#       same through `nc -N` to `socat ... SYSTEM:'cat >/dev/null'`.
# MB/s are 10^6 bytes per second. Figures, not a pass/fail test; it exits 1
# if a run fails or the data is wrong. Needs socat and netcat-openbsd
# (apt-get install socat netcat-openbsd) and a build with benchmarks.
#   bench/cli_latency.sh [--build build] [--runs 20] [--bytes 1G]
#   bench/cli_latency.sh --quick        # --runs 5 --bytes 64M
# (BUILD=dir works too, as for bench/churn.sh.) BYTES takes head -c's
# suffixes (K, M, G: powers of 1024).
set -euo pipefail

build=${BUILD:-build}
runs=20
size=1G
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bytes) size=$2; shift 2 ;;
    --quick) runs=5; size=64M; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cli_latency.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
conec=$build/src/cli/conec
relay_bulk=$build/bench/relay_bulk
for exe in "$conec" "$relay_bulk"; do
  [[ -x $exe ]] || { echo "cli_latency.sh: $exe not built (ninja -C $build conec relay_bulk)" >&2; exit 1; }
done
for tool in socat nc numfmt python3; do
  command -v "$tool" >/dev/null || { echo "cli_latency.sh: needs $tool (apt-get install socat netcat-openbsd)" >&2; exit 1; }
done
[[ $(nc -h 2>&1 || true) == *"-N"*"Shutdown"* ]] || { echo "cli_latency.sh: nc must be netcat-openbsd (needs -N)" >&2; exit 1; }
bytes=$(numfmt --from=iec "$size")

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "cli_latency.sh: $*" >&2; exit 1; }

# wait_for FILE TEXT: until FILE contains TEXT (10 s).
wait_for() {
  local i
  for i in $(seq 1 200); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "timed out waiting for '$2' in $1: $(tail -n 3 "$1" 2>/dev/null)"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_tcp() {
  local i
  for i in $(seq 1 200); do nc -z 127.0.0.1 "$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "nothing listening on 127.0.0.1:$1"
}
now() { echo "${EPOCHREALTIME/[.,]/}"; } # microseconds, no fork
median_ms() { sort -n | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.1f", m/1000}'; }
mbps() { awk -v b="$1" -v us="$2" 'BEGIN{printf "%.1f", b/us}'; } # bytes per microsecond = MB/s
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

export CONEC_STATE_DIR=$work/state
unset CONEC_ID
"$conec" coordinator --listen 127.0.0.1:0 2>"$work/coord.err" &
pids+=($!)
wait_for "$work/coord.err" "clients connect with:"
port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$work/coord.err")
pin=$(sed -nE 's/^.*fingerprint: (sha256:[0-9a-f]+).*$/\1/p' "$work/coord.err")
[[ -n $port && -n $pin ]] || fail "no port/fingerprint from the coordinator: $(cat "$work/coord.err")"
export CONEC_COORD=127.0.0.1:$port CONEC_PIN=$pin

echo "cli_latency: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); runs $runs, bulk $size ($bytes bytes)"

# (a) latency ------------------------------------------------------------
"$conec" client -v -i echo-peer --exec cat 2>"$work/echo.err" &
pids+=($!)
wait_for "$work/echo.err" "registered as 'echo-peer'"
echo_port=$(free_port)
socat TCP-LISTEN:"$echo_port",bind=127.0.0.1,reuseaddr,fork EXEC:cat 2>"$work/socat_echo.err" &
pids+=($!)
wait_tcp "$echo_port"

conec_us=() nc_us=()
for i in $(seq 0 "$runs"); do # run 0 warms up (page cache, first certificate)
  t0=$(now)
  out=$(echo hi | "$conec" open echo-peer 2>>"$work/open.err") || fail "conec open failed: $(tail -n 3 "$work/open.err")"
  t1=$(now)
  [[ $out == hi ]] || fail "conec open echoed '$out'"
  out=$(echo hi | nc -N 127.0.0.1 "$echo_port") || fail "nc failed"
  t2=$(now)
  [[ $out == hi ]] || fail "nc echoed '$out'"
  ((i == 0)) && continue
  conec_us+=($((t1 - t0)))
  nc_us+=($((t2 - t1)))
done
conec_ms=$(printf '%s\n' "${conec_us[@]}" | median_ms)
nc_ms=$(printf '%s\n' "${nc_us[@]}" | median_ms)
echo "(a) echo hi | conec open echo-peer: median $conec_ms ms; echo hi | nc -N (socat echo): median $nc_ms ms;" \
  "ratio $(ratio "$conec_ms" "$nc_ms") (target <= 10, and < 50 ms)"

# (b) send -> recv against relay_bulk ---------------------------------------
"$conec" recv -v -i bulk-rx --stats >/dev/null 2>"$work/recv.err" &
recv_pid=$!
pids+=($recv_pid)
wait_for "$work/recv.err" "registered as 'bulk-rx'"
t0=$(now)
head -c "$bytes" /dev/zero | "$conec" send bulk-rx 2>"$work/send.err" || fail "conec send failed: $(tail -n 3 "$work/send.err")"
t1=$(now)
wait "$recv_pid" || fail "conec recv failed: $(tail -n 3 "$work/recv.err")"
send_us=$((t1 - t0))
grep -q "stats: $bytes bytes" "$work/recv.err" || fail "conec recv did not count $bytes bytes: $(tail -n 2 "$work/recv.err")"

"$relay_bulk" recv --coord "$CONEC_COORD" --pin "$pin" --id rb-rx --bytes "$bytes" >"$work/rb_rx.out" 2>"$work/rb_rx.err" &
rb_pid=$!
pids+=($rb_pid)
wait_for "$work/rb_rx.out" "registered"
t0=$(now)
"$relay_bulk" send --coord "$CONEC_COORD" --pin "$pin" --id rb-tx --peer rb-rx --bytes "$bytes" \
  >"$work/rb_tx.out" 2>"$work/rb_tx.err" || fail "relay_bulk send failed: $(cat "$work/rb_tx.err")"
t1=$(now)
wait "$rb_pid" || fail "relay_bulk recv failed: $(cat "$work/rb_rx.err")"
rb_wall_us=$((t1 - t0))
rb_goodput=$(awk '$1=="goodput_MBps"{print $2}' "$work/rb_tx.out")
rb_rx_bytes=$(awk '$1=="bytes"{print $2}' "$work/rb_rx.out")
[[ $rb_rx_bytes == "$bytes" ]] || fail "relay_bulk recv got $rb_rx_bytes bytes"
send_rate=$(mbps "$bytes" "$send_us")
rb_wall_rate=$(mbps "$bytes" "$rb_wall_us")
echo "(b) head -c $size /dev/zero | conec send -> conec recv >/dev/null: $send_rate MB/s ($((send_us / 1000)) ms, process wall);" \
  "relay_bulk: $rb_goodput MB/s stream goodput, $rb_wall_rate MB/s process wall;" \
  "ratio $(ratio "$send_rate" "$rb_goodput") to goodput, $(ratio "$send_rate" "$rb_wall_rate") wall to wall (target >= 0.9)"

# (c) bulk through a service: conec open vs socat -> nc -----------------------
"$conec" client -v -i sink --exec 'cat >/dev/null' 2>"$work/sink.err" &
pids+=($!)
wait_for "$work/sink.err" "registered as 'sink'"
sink_port=$(free_port)
socat TCP-LISTEN:"$sink_port",bind=127.0.0.1,reuseaddr,fork SYSTEM:'cat >/dev/null' 2>"$work/socat_sink.err" &
pids+=($!)
wait_tcp "$sink_port"
t0=$(now)
head -c "$bytes" /dev/zero | "$conec" open sink >/dev/null 2>"$work/open_bulk.err" ||
  fail "conec open sink failed: $(tail -n 3 "$work/open_bulk.err")"
t1=$(now)
head -c "$bytes" /dev/zero | nc -N 127.0.0.1 "$sink_port" >/dev/null || fail "nc to socat failed"
t2=$(now)
open_rate=$(mbps "$bytes" $((t1 - t0)))
nc_rate=$(mbps "$bytes" $((t2 - t1)))
echo "(c) head -c $size /dev/zero | conec open sink (client --exec 'cat >/dev/null'): $open_rate MB/s;" \
  "| nc -N to socat SYSTEM:'cat >/dev/null': $nc_rate MB/s; ratio $(ratio "$open_rate" "$nc_rate")"
