"""Sends N small `echo` calls (or, with BATCH=K, batches of K) over one
keep-alive HTTP/1.1 connection and checks each answer; the load of
callgrind.sh. Usage: keepalive_client.py HOST PORT PATH N

GET=1 sends `GET PATH` with no body instead (PATH with its query, e.g.
the JSONP call `/api/echo?data=hello&jsonp=cb`).

BODY=FILE sends the bytes of FILE instead (e.g. a load benchmark body from
`loadbench __body struct_128k_simd`); its answers must then be a 200 with a
JSON-RPC `result` (or contain EXPECT, when set). Without BODY, answers must
contain `hello` (or EXPECT)."""
import json
import os
import socket
import sys

host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
batch = int(os.environ.get("BATCH", "0"))
body_file = os.environ.get("BODY")
if body_file:
    with open(body_file, "rb") as f:
        body = f.read()
    expect = os.environ.get("EXPECT", '"result":').encode()
else:
    call = {"jsonrpc": "2.0", "method": "echo", "params": ["hello"], "id": 1}
    body = json.dumps([dict(call, id=i) for i in range(batch)] if batch else call).encode()
    expect = os.environ.get("EXPECT", "hello").encode()
if os.environ.get("GET"):
    # A GET of PATH as given (the JSONP call: /api/echo?data=hello&jsonp=cb).
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
else:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
with socket.create_connection((host, port)) as conn:
    answers = conn.makefile("rb")
    for _ in range(count):
        conn.sendall(request)
        status = answers.readline()
        if not status.startswith(b"HTTP/1.1 200 "):
            sys.exit(f"unexpected status: {status!r}")
        length = None
        while (line := answers.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if length is None:
            sys.exit("an answer without Content-Length")
        answer = answers.read(length)
        if expect not in answer:
            sys.exit(f"unexpected answer: {answer[:200]!r}")
