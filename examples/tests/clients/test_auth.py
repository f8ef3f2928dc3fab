"""The auth example driven by `requests` and `jsonrpcclient`: `/api` is open,
`/apiAuth` answers 401 without the right `Token` header."""

import requests
from jsonrpcclient import Ok, parse, request

TOKEN = "s3cret-for-tests"  # what conftest starts the server with


def post(server, path, method, headers=None, params=None):
    body = request(method, params=params) if params is not None else request(method)
    return requests.post(server.url(path), json=body, headers=headers or {}, timeout=10)


def test_api_is_open(auth):
    response = post(auth, "/api", "echo", params=["hi"])
    assert response.status_code == 200
    assert parse(response.json()).result == "hi"
    assert parse(post(auth, "/api", "myip").json()).result == "127.0.0.1"


def test_api_has_no_secret(auth):
    response = post(auth, "/api", "secret")
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32601


def test_api_auth_without_token_is_401(auth):
    response = post(auth, "/apiAuth", "secret")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "needs a `Token` header" in response.text
    # Not even a JSON-RPC body: the request never reached a method.
    assert "jsonrpc" not in response.text


def test_api_auth_with_a_wrong_token_is_401(auth):
    for wrong in ["nope", TOKEN + "x", TOKEN[:-1], ""]:
        response = post(auth, "/apiAuth", "secret", headers={"Token": wrong})
        assert response.status_code == 401, wrong
        assert "not the right token" in response.text


def test_api_auth_with_the_token(auth):
    response = post(auth, "/apiAuth", "secret", headers={"Token": TOKEN})
    assert response.status_code == 200
    assert parse(response.json()).result == "the launch codes"
    # Header names are case-insensitive.
    response = post(auth, "/apiAuth", "echo", headers={"token": TOKEN}, params=["x"])
    assert isinstance(parse(response.json()), Ok)


def test_a_batch_is_refused_whole(auth):
    batch = [request("echo", params=["a"]), request("secret")]
    response = requests.post(auth.url("/apiAuth"), json=batch, timeout=10)
    assert response.status_code == 401
    response = requests.post(auth.url("/apiAuth"), json=batch, headers={"Token": TOKEN}, timeout=10)
    assert [parse(item).result for item in response.json()] == ["a", "the launch codes"]


def test_localhost_is_trusted_only_with_the_switch(auth, auth_trusting_localhost):
    # The tests run on localhost: without the switch that is no pass.
    assert post(auth, "/apiAuth", "secret").status_code == 401
    response = post(auth_trusting_localhost, "/apiAuth", "secret")
    assert response.status_code == 200
    assert parse(response.json()).result == "the launch codes"
