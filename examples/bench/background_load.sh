# The background loads of contended.sh and p99_trace.sh, for wrk: sourced,
# then `background_load LOAD DIR` writes DIR/background.lua (and, for 4m,
# the 4 MiB body it sends). LOAD is `gzip` (`big`, 2.1 MB of text, asked
# for gzipped) or `4m` (`echo` of a 4 MiB string).
background_load() {
  case $1 in
    gzip)
      cat >"$2/background.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"big","id":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip"
LUA
      ;;
    4m)
      python3 -c "
text = ''.join(chr(97 + i % 26) for i in range(4 * 1024 * 1024))
open('$2/echo4m.json', 'w').write('{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"' + text + '\"],\"id\":1}')"
      cat >"$2/background.lua" <<LUA
local f = io.open("$2/echo4m.json", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
LUA
      ;;
    *) echo "load: gzip or 4m" >&2; return 2 ;;
  esac
}
