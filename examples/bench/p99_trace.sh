#!/usr/bin/env bash
# Where the small calls' p99 goes under a background load: runs BIN on
# core 1 (one worker), the load (as contended.sh: `gzip`, `4m` or `none`, CONNS
# connections of wrk) and the paced probe (`loadbench __paced`, 4,000
# small echoes a second over 8 connections) on core 0, records two seconds
# of system calls and scheduler switches on both cores with `perf record`,
# and hands them to p99_trace.py, which splits each probe request into
# to-server / server / back and names who held the core of a slow one.
#
#   bash examples/bench/p99_trace.sh target/release/bench_server gzip 4
#   bash examples/bench/p99_trace.sh target/release/bench_server 4m 2
#   bash examples/bench/p99_trace.sh target/release/bench_server none
#
# `none` runs the probe alone: the same numbers without a load, to divide
# by. Besides the slowest requests' parts, each part's own p50/p99 is
# printed: `server` (its read of the request to its send of the answer) is
# the server's handling alone.
#
# Needs perf and root (tracepoints); LOADBENCH=PATH if loadbench is not
# next to BIN. The probe's own p50/p99/max come first, over its 3 s.
set -euo pipefail
BIN=$1
LOAD=${2:-gzip}
CONNS=${3:-4}
PORT=${PORT:-7419}
LOADBENCH=${LOADBENCH:-$(dirname "$BIN")/loadbench}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
# shellcheck source=background_load.sh
source "$HERE/background_load.sh"
SERVER=
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
[[ $LOAD == none ]] || background_load "$LOAD" "$WORK"
printf 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 59\r\n\r\n{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}' >"$WORK/probe.http"
taskset -c 1 "$BIN" --addr "127.0.0.1:$PORT" --threads 1 >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
WORKER=$(ps -L -o tid,comm -p "$SERVER" | awk '/tokio-rt-worker/ {print $1; exit}')
# At a real-time priority where allowed, as loadbench runs it (see its
# paced.rs): the probe times the server, not its wait for wrk's core.
RT=()
chrt -f 1 true 2>/dev/null && RT=(chrt -f 1)
probe() { "${RT[@]}" taskset -c 0 "$LOADBENCH" __paced "127.0.0.1:$PORT" 4000 8 "$1" "$WORK/probe.http"; }
probe 1 >/dev/null
if [[ $LOAD == none ]]; then
  echo "Requests/sec: 0 (no load)" >"$WORK/background.out"
  sleep 6 &
else
  taskset -c 0 wrk -t1 -c"$CONNS" -d6s -s "$WORK/background.lua" "http://127.0.0.1:$PORT/" >"$WORK/background.out" &
fi
BACKGROUND=$!
sleep 1
perf record -q -a -o "$WORK/perf.data" \
  -e syscalls:sys_enter_sendto,syscalls:sys_exit_recvfrom,syscalls:sys_enter_recvfrom \
  -e sched:sched_wakeup,sched:sched_switch -- sleep 2 >/dev/null 2>&1 &
RECORDING=$!
probe 3 | awk '/^LOADBENCH/ {printf "paced probe, 3 s: p50 %d us, p99 %d us, max %d us\n", $3, $4, $5}'
wait "$RECORDING" "$BACKGROUND"
echo "background: $(awk '/Requests\/sec/ {print $2}' "$WORK/background.out") req/s"
perf script -i "$WORK/perf.data" -F comm,tid,cpu,time,event,trace 2>/dev/null >"$WORK/trace.txt"
python3 "$HERE/p99_trace.py" "$WORK/trace.txt" "$WORKER"
