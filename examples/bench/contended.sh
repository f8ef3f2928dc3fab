#!/usr/bin/env bash
# Small-echo latency of one bench server, idle and then while CONNS more
# connections loop on a background request, back to back in one server
# process (so both percentiles see the same box): what `loadbench`'s
# small_under_gzip and small_under_4m scenarios measure, in one minute.
#
#   bash examples/bench/contended.sh target/release/bench_server gzip 4
#   bash examples/bench/contended.sh target/release/bench_server 4m 2
#
# Server on core 1 (one worker), wrk on core 0; prints p50/p99/p99.9 in µs.
#
# wrk's probe saturates the server (32 connections, each sending again as
# soon as it is answered), so its p99 is mostly queueing, and noisy: the
# same server's idle p99 ranged from 0.6 to 3.7 ms between runs. PACED=RATE
# probes open-loop instead (`loadbench __paced`, 8 connections sending RATE
# requests a second in all, at fixed times; build loadbench first): the
# server is far from saturated and a p99 is the server's answer time. And
# FLOOR=1 sends the background load to a second server on the same core
# instead, so the probed server has no big work of its own: what is left is
# the box's share (the kernel moving megabytes over loopback on both cores),
# which no server on it can beat.
#
# NEIGHBOUR=BIN2 does the same with BIN2 as the second server (jsonrpsee,
# say): whoever does the big work next to it, the probed server's p99 is
# the same few milliseconds.
#
#   PACED=4000 bash examples/bench/contended.sh target/release/bench_server 4m 2
#   PACED=4000 FLOOR=1 bash examples/bench/contended.sh target/release/bench_server 4m 2
#   PACED=4000 NEIGHBOUR=target/release/bench_jsonrpsee \
#     bash examples/bench/contended.sh target/release/bench_server 4m 2
set -euo pipefail
BIN=$1
LOAD=${2:-gzip}
CONNS=${3:-4}
PORT=${PORT:-7418}
WORK=$(mktemp -d)
# shellcheck source=background_load.sh
source "$(dirname "$0")/background_load.sh"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/probe.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency)
  io.write(string.format("p50 %d  p99 %d  p99.9 %d  (%d req/s)\n", latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), summary.requests / (summary.duration / 1e6)))
end
LUA
background_load "$LOAD" "$WORK"
start() {
  taskset -c 1 "${2:-$BIN}" --addr "127.0.0.1:$1" --threads 1 >/dev/null 2>&1 &
  SERVERS="${SERVERS:-} $!"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && break; sleep 0.1; done
}
trap 'kill $SERVERS 2>/dev/null; rm -rf "$WORK"' EXIT
start "$PORT"
url="http://127.0.0.1:$PORT/"
background_url=$url
if [[ ${FLOOR:-0} == 1 || -n ${NEIGHBOUR:-} ]]; then
  start $((PORT + 1)) "${NEIGHBOUR:-$BIN}"
  background_url="http://127.0.0.1:$((PORT + 1))/"
fi
if [[ -n ${PACED:-} ]]; then
  LOADBENCH=${LOADBENCH:-$(dirname "$BIN")/loadbench}
  printf 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 59\r\n\r\n{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}' >"$WORK/probe.http"
  probe() {
    taskset -c 0 "$LOADBENCH" __paced "127.0.0.1:$PORT" "$PACED" 8 "$1" "$WORK/probe.http" |
      awk '/^LOADBENCH/ {printf "p50 %d  p99 %d  max %d  (%d answered)\n", $3, $4, $5, $2}'
  }
else
  probe() { taskset -c 0 wrk -t1 -c32 -d"$1"s -s "$WORK/probe.lua" "$url" | tail -1; }
fi
probe 1 >/dev/null
echo "idle:   $(probe 4)"
taskset -c 0 wrk -t1 -c"$CONNS" -d6s -s "$WORK/background.lua" "$background_url" >"$WORK/background.out" &
BACKGROUND=$!
sleep 1
echo "loaded: $(probe 4)"
wait "$BACKGROUND"
echo "background: $(awk '/Requests\/sec/ {print $2}' "$WORK/background.out") req/s"
