"""The quickstart server driven by `jsonrpcclient` over `requests`, and by curl."""

import json
import subprocess

import requests
from jsonrpcclient import Error, Ok, notification, parse, request


def call(server, path, method, params=None):
    body = request(method, params=params) if params is not None else request(method)
    response = requests.post(server.url(path), json=body, timeout=10)
    assert response.status_code == 200
    return parse(response.json())


def test_echo_and_its_alias(quickstart):
    assert call(quickstart, "/api", "echo", ["hi"]).result == "hi"
    assert call(quickstart, "/api", "echo", {"data": "named"}).result == "named"
    assert call(quickstart, "/api", "echo").result == "Hello world!"
    assert call(quickstart, "/api", "helloworld", [[1, 2]]).result == [1, 2]


def test_random_on_two_paths(quickstart):
    value = call(quickstart, "/api", "random").result
    assert isinstance(value, int) and 0 <= value < 65536
    value = call(quickstart, "/api2", "random").result
    assert isinstance(value, float) and 0.0 <= value < 1.0 and round(value, 1) == value


def test_myip_is_the_callers(quickstart):
    assert call(quickstart, "/api", "myip").result == "127.0.0.1"


def test_setcookie_sets_a_real_cookie(quickstart):
    response = requests.post(quickstart.url("/api"), json=request("setcookie"), timeout=10)
    assert isinstance(parse(response.json()), Ok)
    assert response.cookies.get("myTestCookie") == "Your IP is 127.0.0.1"
    assert "HttpOnly" in response.headers["Set-Cookie"]


def test_big(quickstart):
    assert len(call(quickstart, "/api", "big").result) == 600_000


def test_unknown_method_is_an_error(quickstart):
    result = call(quickstart, "/api", "nope")
    assert isinstance(result, Error) and result.code == -32601


def test_notification_gets_an_empty_success(quickstart):
    response = requests.post(quickstart.url("/api"), json=notification("echo"), timeout=10)
    assert response.ok and response.content == b""


def test_curl(quickstart):
    out = subprocess.run(
        ["curl", "-sS", "-i", quickstart.url("/api"), "-H", "Content-Type: application/json",
         "-d", '{"jsonrpc":"2.0","method":"echo","params":["curl"],"id":7}'],
        check=True, capture_output=True, timeout=30,
    ).stdout.decode()
    head, body = out.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200")
    assert "content-type: application/json" in head.lower()
    assert json.loads(body) == {"jsonrpc": "2.0", "result": "curl", "id": 7}
    # HTTP/2 with prior knowledge on the same port.
    out = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version}",
         quickstart.url("/api"), "-H", "Content-Type: application/json",
         "-d", '{"jsonrpc":"2.0","method":"echo","id":1}'],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    assert out == "2"
