"""merge_axum with `requests`, in both arrangements (conftest runs every test
against `--mode axum-outside` and `--mode rpckit-outside`): the same URLs
answer the same, from axum or from rpckit."""

import requests
from jsonrpcclient import parse, request


def call(server, method, params=None):
    body = request(method, params=params) if params is not None else request(method)
    response = requests.post(server.url("/api"), json=body, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return parse(response.json())


def test_axum_routes(merge_axum):
    page = requests.get(merge_axum.url("/"), timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Served by axum" in page.text
    assert f"mode: {merge_axum.mode}" in page.text
    health = requests.get(merge_axum.url("/health"), timeout=10)
    assert (health.status_code, health.text) == (200, "ok")


def test_rpckit_at_api(merge_axum):
    assert call(merge_axum, "mode").result == merge_axum.mode
    assert call(merge_axum, "echo", {"text": "hi"}).result == "hi"
    assert call(merge_axum, "helloworld", ["positional"]).result == "positional"
    # The caller's address reaches the handler either way round (through
    # axum's ConnectInfo when axum is outside).
    assert call(merge_axum, "myip").result == "127.0.0.1"


def test_jsonp_through_the_mount(merge_axum):
    response = requests.get(merge_axum.url("/api/echo"), params={"text": "x y", "jsonp": "cb"}, timeout=10)
    assert response.status_code == 200
    assert response.text == '/**/cb("x y");'
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"


def test_other_paths_and_methods(merge_axum):
    # Nobody's path: axum's 404 in both arrangements.
    assert requests.get(merge_axum.url("/nope"), timeout=10).status_code == 404
    # The endpoint's own path without a method is rpckit's 400 (JSONP on).
    response = requests.get(merge_axum.url("/api"), timeout=10)
    assert response.status_code == 400
    assert "GET <path>/<method>" in response.text
    # A JSON-RPC error is still HTTP 200.
    response = requests.post(merge_axum.url("/api"), json=request("nope"), timeout=10)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32601
