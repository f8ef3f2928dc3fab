"""The `restart` example with `requests`: `restart` is answered, then the
server restarts in place on the same socket; a keep-alive client sees no
error across it."""

import http.client
import json
import time

import requests


def call(session, server, method, params=None):
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    # Any connection error fails the test: a restart refuses no
    # connection and answers the keep-alive connection's next request
    # with `Connection: close`, so `requests` reconnects by itself.
    response = session.post(server.url("/api"), json=body, timeout=10)
    assert response.status_code == 200
    return response.json()["result"]


def eventually(session, server, method, expected, deadline=10.0):
    """Calls until the answer is `expected` (the restart happens after
    `restart` is answered); fails after `deadline`."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = call(session, server, method)
        if last == expected:
            return
        time.sleep(0.01)
    raise AssertionError(f"{method} never answered {expected!r}; last: {last!r}")


def test_restart_comes_back_on_the_same_port(restart_server):
    session = requests.Session()
    assert call(session, restart_server, "restarts") == 0
    # The answer to `restart` arrives before the server restarts.
    assert call(session, restart_server, "restart") == "restarting"
    eventually(session, restart_server, "restarts", 1)
    assert call(session, restart_server, "echo", ["after"]) == "after"
    assert call(session, restart_server, "restart") == "restarting"
    eventually(session, restart_server, "restarts", 2)
    # The process is still the same one.
    assert restart_server.proc.poll() is None


def test_a_keep_alive_connection_sees_no_error_across_restarts(restart_server):
    """`requests` quietly resends on a pooled connection the server
    closed; `http.client` does not, so here a connection closed under the
    client would fail the test. It reopens only when an answer says
    `Connection: close`, as the old server's last answer does."""
    connection = http.client.HTTPConnection(restart_server.host, restart_server.port, timeout=10)

    def rpc(method, params=None):
        body = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            body["params"] = params
        connection.request("POST", "/api", json.dumps(body),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())["result"]

    answered = 0
    for round in range(3):
        assert rpc("restart") == "restarting"
        # Echo until this restart is counted, then on for a while.
        while rpc("restarts") < round + 1:
            assert rpc("echo", [str(answered)]) == str(answered)
            answered += 1
        for _ in range(50):
            assert rpc("echo", [str(answered)]) == str(answered)
            answered += 1
    assert rpc("restarts") == 3
