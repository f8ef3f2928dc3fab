"""The `restart` example with `requests`: `restart` is answered, then the
server stops gracefully and comes back on the same port."""

import time

import requests


def call(server, method, params=None):
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    # A fresh connection each time: the old server's are closed by a restart.
    response = requests.post(server.url("/api"), json=body, timeout=10,
                             headers={"Connection": "close"})
    assert response.status_code == 200
    return response.json()["result"]


def eventually(server, method, expected, deadline=10.0):
    """Calls until the answer is `expected`, while the port may refuse
    connections for the moment of the restart; fails after `deadline`."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            last = call(server, method)
            if last == expected:
                return
        except requests.ConnectionError as err:
            last = err
        time.sleep(0.05)
    raise AssertionError(f"{method} never answered {expected!r}; last: {last!r}")


def test_restart_comes_back_on_the_same_port(restart_server):
    assert call(restart_server, "restarts") == 0
    # The answer to `restart` arrives before the server stops.
    assert call(restart_server, "restart") == "restarting"
    eventually(restart_server, "restarts", 1)
    assert call(restart_server, "echo", ["after"]) == "after"
    assert call(restart_server, "restart") == "restarting"
    eventually(restart_server, "restarts", 2)
    # The process is still the same one.
    assert restart_server.proc.poll() is None
