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
set -euo pipefail
BIN=$1
LOAD=${2:-gzip}
CONNS=${3:-4}
PORT=${PORT:-7418}
WORK=$(mktemp -d)
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
case $LOAD in
  gzip)
    cat >"$WORK/background.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"big","id":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip"
LUA
    ;;
  4m)
    python3 -c "
text = ''.join(chr(97 + i % 26) for i in range(4 * 1024 * 1024))
open('$WORK/echo4m.json', 'w').write('{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"' + text + '\"],\"id\":1}')"
    cat >"$WORK/background.lua" <<LUA
local f = io.open("$WORK/echo4m.json", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
LUA
    ;;
  *) echo "load: gzip or 4m" >&2; exit 2 ;;
esac
taskset -c 1 "$BIN" --addr "127.0.0.1:$PORT" --threads 1 >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/"
taskset -c 0 wrk -t1 -c32 -d1s -s "$WORK/probe.lua" "$url" >/dev/null
echo "idle:   $(taskset -c 0 wrk -t1 -c32 -d4s -s "$WORK/probe.lua" "$url" | tail -1)"
taskset -c 0 wrk -t1 -c"$CONNS" -d6s -s "$WORK/background.lua" "$url" >"$WORK/background.out" &
BACKGROUND=$!
sleep 1
echo "loaded: $(taskset -c 0 wrk -t1 -c32 -d4s -s "$WORK/probe.lua" "$url" | tail -1)"
wait "$BACKGROUND"
echo "background: $(awk '/Requests\/sec/ {print $2}' "$WORK/background.out") req/s"
