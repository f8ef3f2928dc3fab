"""`msgpack` and `cbor2` over length-prefixed TCP (a 4-byte big-endian
length, then the message) against `tcp_server --framing length`: calls,
batches, notifications, malformed messages, pipelining, and a frame over
the limit. The framing is done here by hand with `struct`, the encoding by
the real libraries."""

import socket
import struct

import cbor2
import msgpack
import pytest

CODECS = {
    "msgpack": (lambda value: msgpack.packb(value), lambda data: msgpack.unpackb(data, raw=False)),
    "cbor": (cbor2.dumps, cbor2.loads),
}


class Conn:
    def __init__(self, server, codec):
        self.sock = socket.create_connection((server.host, server.port), timeout=20)
        self.encode, self.decode = CODECS[codec]
        self.buffer = b""

    def send_raw(self, body):
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def send(self, message):
        self.send_raw(self.encode(message))

    def _take(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        taken, self.buffer = self.buffer[:n], self.buffer[n:]
        return taken

    def recv(self):
        """The next reply, decoded; None at the end of the stream."""
        prefix = self._take(4)
        if prefix is None:
            return None
        (length,) = struct.unpack(">I", prefix)
        body = self._take(length)
        assert body is not None, "the stream ended inside a frame"
        return self.decode(body)

    def call(self, message):
        self.send(message)
        return self.recv()

    def close(self):
        self.sock.close()


def request(method, params, id):
    return {"jsonrpc": "2.0", "method": method, "params": params, "id": id}


@pytest.fixture(params=sorted(CODECS))
def conn(request, tcp_server):
    codec = request.param
    server = tcp_server("--framing", "length", "--codec", codec)
    connection = Conn(server, codec)
    yield connection
    connection.close()


def test_calls_named_and_positional(conn):
    assert conn.call(request("subtract", [42, 23], 1)) == {"jsonrpc": "2.0", "result": 19, "id": 1}
    reply = conn.call(request("subtract", {"minuend": 42, "subtrahend": 23}, "a"))
    assert reply == {"jsonrpc": "2.0", "result": 19, "id": "a"}
    reply = conn.call(request("echo", {"data": {"nested": [1, 2.5, None, True, "ü"]}}, 2))
    assert reply["result"] == {"nested": [1, 2.5, None, True, "ü"]}


def test_errors_carry_codes_and_ids(conn):
    assert conn.call(request("foobar", [], 3))["error"]["code"] == -32601
    reply = conn.call(request("subtract", [1], 4))
    assert (reply["error"]["code"], reply["id"]) == (-32602, 4)
    reply = conn.call({"jsonrpc": "2.0", "method": 1, "params": "bar"})
    assert (reply["error"]["code"], reply["id"]) == (-32600, None)


def test_batches_answer_requests_and_skip_notifications(conn):
    batch = [
        request("sum", [1, 2, 4], "1"),
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        request("get_data", [], "9"),
    ]
    replies = conn.call(batch)
    assert [(r["id"], r["result"]) for r in replies] == [("1", 7), ("9", ["hello", 5])]


def test_notifications_write_nothing(conn):
    conn.send({"jsonrpc": "2.0", "method": "update", "params": [1, 2]})
    conn.send([{"jsonrpc": "2.0", "method": "notify_sum", "params": [1]}])
    # The only reply is the request's, and then the stream ends.
    conn.send(request("echo", ["last"], 5))
    conn.sock.shutdown(socket.SHUT_WR)
    assert conn.recv() == {"jsonrpc": "2.0", "result": "last", "id": 5}
    assert conn.recv() is None


def test_a_malformed_message_gets_a_parse_error_and_the_connection_goes_on(conn):
    conn.send_raw(b"\x85\xa7jsonrpc")  # a map cut short, in either format
    reply = conn.recv()
    assert (reply["error"]["code"], reply["id"]) == (-32700, None)
    assert conn.call(request("echo", ["still here"], 6))["result"] == "still here"


def test_pipelined_requests_are_each_answered_once(conn):
    count = 2000
    conn.sock.sendall(
        b"".join(
            struct.pack(">I", len(body)) + body
            for body in (conn.encode(request("subtract", [i, 1], i)) for i in range(count))
        )
    )
    seen = {}
    for _ in range(count):
        reply = conn.recv()
        assert reply["result"] == reply["id"] - 1
        seen[reply["id"]] = seen.get(reply["id"], 0) + 1
    assert sorted(seen) == list(range(count))
    assert set(seen.values()) == {1}


def test_a_frame_over_the_limit_is_refused_and_the_connection_closed(conn):
    # A declared length of 1 GiB (the default limit is 8 MiB), no body.
    conn.sock.sendall(struct.pack(">I", 1 << 30))
    reply = conn.recv()
    assert (reply["error"]["code"], reply["id"]) == (-32600, None)
    assert "8388608" in reply["error"]["message"]
    assert conn.recv() is None
