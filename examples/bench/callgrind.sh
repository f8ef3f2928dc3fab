#!/usr/bin/env bash
# Instructions (and, with CACHE=1, simulated cache misses and branch
# mispredicts) per request of a bench server, counted by callgrind: the
# one number on a shared two-core box that does not move with the load.
#
#   bash examples/bench/callgrind.sh target/release/bench_server [N1 N2]
#
# Starts BIN under valgrind on one worker thread, warms it up, then sends N1
# (200) and N2 (1,200) keep-alive requests over one connection with
# keepalive_client.py, dumping the counts after each; prints the events per
# request of the N2 run (the warm-up and start-up are not in it). BATCH=100
# sends batches of 100 calls instead of one; EXTRA passes flags to BIN
# (EXTRA=--no-stats); PORT picks the port (7411); PATH_ the URL path (/).
# BODY=FILE sends that file as each request's body instead, e.g. the 128 KiB
# echo_struct of the load benchmark at /simd:
#
#   target/release/loadbench __body struct_128k_simd >/tmp/struct.json
#   BODY=/tmp/struct.json PATH_=/simd bash examples/bench/callgrind.sh \
#     target/release/bench_server 20 120
#
# (the answer must then be a 200 with a JSON-RPC `result`, or contain
# EXPECT). GET=1 sends GETs of PATH_ instead, e.g. the JSONP call:
#
#   GET=1 PATH_='/api/echo?data=hello&jsonp=cb' bash examples/bench/callgrind.sh \
#     target/release/bench_server
# KEEP=DIR keeps the callgrind files there, for
# `callgrind_annotate --inclusive=yes DIR/cg.PID.2`.
set -euo pipefail
BIN=$1
N1=${2:-200}
N2=${3:-1200}
PORT=${PORT:-7411}
URL_PATH=${PATH_:-/}
HERE=$(cd "$(dirname "$0")" && pwd)
if [[ -n ${KEEP:-} ]]; then
  OUT=$KEEP
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi
SIM=()
[[ ${CACHE:-0} == 1 ]] && SIM=(--cache-sim=yes --branch-sim=yes)
valgrind --tool=callgrind --dump-instr=no "${SIM[@]}" --callgrind-out-file="$OUT/cg.%p" \
  "$BIN" --addr "127.0.0.1:$PORT" --threads 1 ${EXTRA:-} >/dev/null 2>"$OUT/valgrind.log" &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
client() { python3 "$HERE/keepalive_client.py" 127.0.0.1 "$PORT" "$URL_PATH" "$1"; }
client 50
callgrind_control -z "$SERVER" >/dev/null 2>&1
client "$N1"
callgrind_control -d "$SERVER" >/dev/null 2>&1
client "$N2"
callgrind_control -d "$SERVER" >/dev/null 2>&1
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
events=$(grep -h "^events:" "$OUT/cg.$SERVER.2" | head -1 | cut -d' ' -f2-)
totals=$(grep -h "^summary:\|^totals:" "$OUT/cg.$SERVER.2" | head -1 | cut -d' ' -f2-)
first=$(grep -h "^summary:\|^totals:" "$OUT/cg.$SERVER.1" | head -1 | cut -d' ' -f2 )
echo "per request, over $N2 requests ($N1 before them: $((first / N1)) Ir each):"
paste <(tr ' ' '\n' <<<"$events") <(tr ' ' '\n' <<<"$totals") |
  awk -v n="$N2" '{ printf "  %-5s %d\n", $1, $2 / n }'
