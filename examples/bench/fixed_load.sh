#!/usr/bin/env bash
# Small-echo latency of one bench server, idle and then under a FIXED rate
# of 4 MiB `echo` calls, both probed open-loop (`loadbench __paced`).
#
#   bash examples/bench/fixed_load.sh target/release/bench_server [RATE]
#
# `small_under_4m` loads the server closed-loop: its two background
# connections send again as soon as they are answered, so a server that
# echoes 4 MiB faster gets more of them to do, and its small calls' p99
# under that load can rise because it got faster. Here the background is
# paced too: RATE (30) echoes of 4 MiB a second over 2 connections, which
# every server of the comparison keeps up with, so two builds (or two
# servers) are compared doing the same work. Prints the probe's
# `answered p50 p99 max` (µs) alone and loaded, and the background's.
#
# Server on core 1 (one worker); the probe (4,000 small echoes a second
# over 8 connections, at a real-time priority where allowed) and the
# background on core 0. Needs loadbench next to BIN (LOADBENCH=PATH
# otherwise) and python3.
set -euo pipefail
BIN=$1
RATE=${2:-30}
PORT=${PORT:-7466}
LOADBENCH=${LOADBENCH:-$(dirname "$BIN")/loadbench}
WORK=$(mktemp -d)
SERVER=
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
def request(body):
    head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body
text = ''.join(chr(97 + i % 26) for i in range(4 * 1024 * 1024))
big = '{"jsonrpc":"2.0","method":"echo","params":["' + text + '"],"id":1}'
small = '{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}'
open(f"{work}/background.http", "wb").write(request(big.encode()))
open(f"{work}/probe.http", "wb").write(request(small.encode()))
PY
PRIORITY=()
chrt -f 1 true 2>/dev/null && PRIORITY=(chrt -f 1)
probe() {
  "${PRIORITY[@]}" taskset -c 0 "$LOADBENCH" __paced "127.0.0.1:$PORT" 4000 8 "$1" "$WORK/probe.http"
}
taskset -c 1 "$BIN" --addr "127.0.0.1:$PORT" --threads 1 >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "probe alone:       $(probe 3)"
taskset -c 0 "$LOADBENCH" __paced "127.0.0.1:$PORT" "$RATE" 2 7 "$WORK/background.http" \
  >"$WORK/background.out" &
BACKGROUND=$!
sleep 2
echo "probe under load:  $(probe 4)"
wait $BACKGROUND
echo "background ($RATE/s): $(cat "$WORK/background.out")"
