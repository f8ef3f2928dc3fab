"""The `multiple` example with `requests`: three servers in one process,
two sharing a router (and its state), one with its own."""

import requests


def call(base, method, params=None):
    body = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    response = requests.post(base + "/api", json=body, timeout=10)
    assert response.status_code == 200
    return response.json()["result"]


def test_three_servers_answer(multiple):
    assert len(multiple.bases) == 3
    assert len(set(multiple.bases)) == 3
    for base in multiple.bases:
        assert call(base, "echo", ["hi"]) == "hi"


def test_the_first_two_share_their_router(multiple):
    first, second, third = multiple.bases
    assert call(first, "router") == call(second, "router") == "shared"
    assert call(third, "router") == "own"
    a = call(first, "hits")
    b = call(second, "hits")
    c = call(first, "hits")
    assert (b, c) == (a + 1, a + 2)
    own = call(third, "hits")
    assert call(third, "hits") == own + 1
    # The third's count did not move the shared one.
    assert call(second, "hits") == a + 3
